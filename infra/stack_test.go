package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/applinks/applinks/shared/store/table"
)

// The offline settings of ENGINES.md (JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION
// and the CDK_* variables) are exported by the Makefile: jsii starts its
// runtime in package init, before TestMain could set them.

func TestMain(m *testing.M) {
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// noPanic runs f and turns a panic (how assertions failures surface through
// jsii) into a test failure.
func noPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%s: %v", what, r)
		}
	}()
	f()
}

// assets is a directory with a dummy bootstrap per function.
func assets(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, fn := range Functions {
		if err := os.MkdirAll(filepath.Join(dir, fn), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fn, "bootstrap"), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// synth declares the stack with props (AssetDir defaulted to dummies) and
// returns its template, both as assertions.Template and as parsed JSON.
func synth(t *testing.T, props ProviderStackProps) (assertions.Template, tmpl) {
	t.Helper()
	if props.AssetDir == "" {
		props.AssetDir = assets(t)
	}
	var tpl assertions.Template
	var doc tmpl
	noPanic(t, "synth", func() {
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
		s, err := NewProviderStack(app, "test", props)
		if err != nil {
			t.Fatalf("NewProviderStack: %v", err)
		}
		tpl = assertions.Template_FromStack(s.Stack, nil)
		b, err := json.Marshal(tpl.ToJSON())
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
	})
	return tpl, doc
}

// tmpl is a CloudFormation template.
type tmpl struct {
	Resources map[string]resource
	Outputs   map[string]map[string]any
}

type resource struct {
	Type                string
	Properties          map[string]any
	DependsOn           any
	DeletionPolicy      string
	UpdateReplacePolicy string
}

// ofType returns the logical ids of the resources of type typ, sorted.
func (d tmpl) ofType(typ string) []string {
	var ids []string
	for id, r := range d.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// function returns the logical id of the function named name ("token").
func (d tmpl) function(t *testing.T, name string) string {
	t.Helper()
	for _, id := range d.ofType("AWS::Lambda::Function") {
		if strings.HasPrefix(id, title(name)+"Function") {
			return id
		}
	}
	t.Fatalf("no function %s among %v", name, d.ofType("AWS::Lambda::Function"))
	return ""
}

// refs returns every logical id v references through Ref or Fn::GetAtt.
func refs(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			switch k {
			case "Ref":
				if s, ok := e.(string); ok && !strings.HasPrefix(s, "AWS::") {
					out = append(out, s)
				}
			case "Fn::GetAtt":
				if l, ok := e.([]any); ok && len(l) > 0 {
					out = append(out, fmt.Sprint(l[0]))
				}
			default:
				out = append(out, refs(e)...)
			}
		}
	case []any:
		for _, e := range x {
			out = append(out, refs(e)...)
		}
	}
	return out
}

func TestTable(t *testing.T) {
	tpl, doc := synth(t, ProviderStackProps{})
	noPanic(t, "table", func() {
		tpl.ResourceCountIs(jsii.String("AWS::DynamoDB::Table"), jsii.Number(1))
		tpl.HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), map[string]any{
			"BillingMode": "PAY_PER_REQUEST",
			"PointInTimeRecoverySpecification": map[string]any{
				"PointInTimeRecoveryEnabled": true,
			},
			"TimeToLiveSpecification": map[string]any{
				"AttributeName": table.TTLAttribute,
				"Enabled":       true,
			},
			// SSEEnabled without a key: KMS with the AWS managed key
			// aws/dynamodb.
			"SSESpecification":          map[string]any{"SSEEnabled": true},
			"DeletionProtectionEnabled": true,
		})
		tpl.HasResource(jsii.String("AWS::DynamoDB::Table"), map[string]any{
			"DeletionPolicy":      "Retain",
			"UpdateReplacePolicy": "Retain",
		})
	})

	props := doc.Resources[doc.ofType("AWS::DynamoDB::Table")[0]].Properties
	sse := props["SSESpecification"].(map[string]any)
	if _, ok := sse["KMSMasterKeyId"]; ok || (sse["SSEType"] != nil && sse["SSEType"] != "KMS") {
		t.Errorf("SSESpecification: got %v, want KMS with the AWS managed key", sse)
	}
	keySchema := func(pk, sk string) []any {
		return []any{
			map[string]any{"AttributeName": pk, "KeyType": "HASH"},
			map[string]any{"AttributeName": sk, "KeyType": "RANGE"},
		}
	}
	if got, want := props["KeySchema"], keySchema(table.PartitionKey, table.SortKey); !reflect.DeepEqual(got, want) {
		t.Errorf("KeySchema: got %v, want %v", got, want)
	}
	var wantGSIs []any
	wantAttrs := map[string]string{table.PartitionKey: "S", table.SortKey: "S"}
	for _, g := range table.GSIs {
		wantGSIs = append(wantGSIs, map[string]any{
			"IndexName":  g.Name,
			"KeySchema":  keySchema(g.PartitionKey, g.SortKey),
			"Projection": map[string]any{"ProjectionType": "ALL"},
		})
		wantAttrs[g.PartitionKey], wantAttrs[g.SortKey] = "S", "S"
	}
	if got := props["GlobalSecondaryIndexes"]; !reflect.DeepEqual(got, wantGSIs) {
		t.Errorf("GlobalSecondaryIndexes: got %v, want %v", got, wantGSIs)
	}
	gotAttrs := map[string]string{}
	for _, a := range props["AttributeDefinitions"].([]any) {
		m := a.(map[string]any)
		gotAttrs[m["AttributeName"].(string)] = m["AttributeType"].(string)
	}
	if !reflect.DeepEqual(gotAttrs, wantAttrs) {
		t.Errorf("AttributeDefinitions: got %v, want %v", gotAttrs, wantAttrs)
	}
}

func TestTableDestroyForThrowAwayStacks(t *testing.T) {
	_, doc := synth(t, ProviderStackProps{RemovalPolicy: awscdk.RemovalPolicy_DESTROY})
	r := doc.Resources[doc.ofType("AWS::DynamoDB::Table")[0]]
	if r.DeletionPolicy != "Delete" || r.Properties["DeletionProtectionEnabled"] != false {
		t.Errorf("got DeletionPolicy %q, DeletionProtectionEnabled %v; want Delete, false",
			r.DeletionPolicy, r.Properties["DeletionProtectionEnabled"])
	}
}

func TestFunctions(t *testing.T) {
	_, doc := synth(t, ProviderStackProps{})
	tests := []struct {
		name     string
		memoryMB float64
	}{
		{"token", 256},
		{"authorize", 512},
		{"admin", 256},
	}
	if got := len(doc.ofType("AWS::Lambda::Function")); got != len(tests) {
		t.Fatalf("got %d functions, want %d", got, len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := doc.Resources[doc.function(t, tc.name)].Properties
			for _, c := range []struct {
				prop string
				want any
			}{
				{"Architectures", []any{"arm64"}},
				{"Runtime", "provided.al2023"},
				{"Handler", "bootstrap"},
				{"MemorySize", tc.memoryMB},
				{"Timeout", 10.0},
				{"LoggingConfig", map[string]any{
					"LogFormat": "JSON",
					"LogGroup":  map[string]any{"Ref": title(tc.name) + "Logs" + logSuffix(t, doc, title(tc.name)+"Logs")},
				}},
			} {
				if got := p[c.prop]; !reflect.DeepEqual(got, c.want) {
					t.Errorf("%s: got %v, want %v", c.prop, got, c.want)
				}
			}
			if _, ok := p["Code"].(map[string]any)["S3Key"]; !ok {
				t.Errorf("Code: got %v, want an S3 asset", p["Code"])
			}
			vars := p["Environment"].(map[string]any)["Variables"].(map[string]any)
			var keys []string
			for k := range vars {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			want := map[string][]string{ // beyond ISSUER_URL, SECRET_PREFIX, TABLE_NAME
				"token":     {"SIGNING_KEY_PRINCIPALS"},
				"authorize": nil,
				"admin":     {"IDP_SECRET_PRINCIPALS", "LINK_SECRET_PRINCIPALS", "SIGNING_KEY_PRINCIPALS"},
			}[tc.name]
			want = append(want, "ISSUER_URL", "SECRET_PREFIX", "TABLE_NAME")
			sort.Strings(want)
			if !slices.Equal(keys, want) {
				t.Errorf("environment: got %v, want %v (the others unset: config defaults)", keys, want)
			}
			if got, want := vars["SECRET_PREFIX"], "applinks-dev"; got != want {
				t.Errorf("SECRET_PREFIX: got %v, want %v", got, want)
			}
			if got, want := vars["TABLE_NAME"], map[string]any{"Ref": doc.ofType("AWS::DynamoDB::Table")[0]}; !reflect.DeepEqual(got, want) {
				t.Errorf("TABLE_NAME: got %v, want %v", got, want)
			}
			if got := refs(vars["ISSUER_URL"]); !slices.Equal(got, doc.ofType("AWS::ApiGatewayV2::Api")) {
				t.Errorf("ISSUER_URL references %v, want the API", got)
			}
		})
	}
	for _, id := range doc.ofType("AWS::Logs::LogGroup") {
		if got := doc.Resources[id].Properties["RetentionInDays"]; got != 30.0 {
			t.Errorf("log group %s: RetentionInDays got %v, want 30", id, got)
		}
	}
	if got := len(doc.ofType("AWS::Logs::LogGroup")); got != 4 {
		t.Errorf("got %d log groups, want 4 (one per function, and the API's access logs)", got)
	}
	// LogRetention custom resources would mean retention set out of band.
	if got := doc.ofType("Custom::LogRetention"); len(got) != 0 {
		t.Errorf("got Custom::LogRetention %v, want none", got)
	}
}

// logSuffix returns the hash suffix CDK appended to the logical id prefix.
func logSuffix(t *testing.T, doc tmpl, prefix string) string {
	t.Helper()
	for _, id := range doc.ofType("AWS::Logs::LogGroup") {
		if strings.HasPrefix(id, prefix) {
			return strings.TrimPrefix(id, prefix)
		}
	}
	t.Fatalf("no log group %s*", prefix)
	return ""
}

func TestEnvironmentFromProps(t *testing.T) {
	_, doc := synth(t, ProviderStackProps{
		Stage:             "prod",
		DomainName:        "auth.example.com",
		CertificateArn:    "arn:aws:acm:us-east-1:111111111111:certificate/abc",
		AuthCodeTTL:       "120s",
		AccessTokenTTL:    "15m",
		RefreshTokenTTL:   "720h",
		RefreshReuseGrace: "10s",
		RequirePKCE:       true,
		Audience:          "https://api.example.com",
		ProviderName:      "Example Corp",
		SupportContact:    "Call the service desk on ext. 4357.",
		AdminMFA:          "required",
	})
	want := map[string]any{
		"ISSUER_URL":          "https://auth.example.com",
		"SECRET_PREFIX":       "applinks-prod",
		"AUTH_CODE_TTL":       "120s",
		"ACCESS_TOKEN_TTL":    "15m",
		"REFRESH_TOKEN_TTL":   "720h",
		"REFRESH_REUSE_GRACE": "10s",
		"REQUIRE_PKCE":        "true",
		"AUDIENCE":            "https://api.example.com",
		"PROVIDER_NAME":       "Example Corp",
		"SUPPORT_CONTACT":     "Call the service desk on ext. 4357.",
		"ADMIN_MFA":           "required",
	}
	for _, fn := range Functions {
		vars := doc.Resources[doc.function(t, fn)].Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
		for k, v := range want {
			if vars[k] != v {
				t.Errorf("%s: %s got %v, want %v", fn, k, vars[k], v)
			}
		}
	}
	if got, want := doc.Outputs["IssuerUrl"]["Value"], "https://auth.example.com"; got != want {
		t.Errorf("IssuerUrl output: got %v, want %v", got, want)
	}
	domains := doc.ofType("AWS::ApiGatewayV2::DomainName")
	if len(domains) != 1 {
		t.Fatalf("got domain names %v, want one", domains)
	}
	d := doc.Resources[domains[0]].Properties
	if d["DomainName"] != "auth.example.com" {
		t.Errorf("DomainName: got %v, want auth.example.com", d["DomainName"])
	}
	cfg := d["DomainNameConfigurations"].([]any)[0].(map[string]any)
	if cfg["CertificateArn"] != "arn:aws:acm:us-east-1:111111111111:certificate/abc" || cfg["SecurityPolicy"] != "TLS_1_2" {
		t.Errorf("DomainNameConfigurations: got %v, want the certificate and TLS_1_2", cfg)
	}
	mappings := doc.ofType("AWS::ApiGatewayV2::ApiMapping")
	if len(mappings) != 1 {
		t.Fatalf("got API mappings %v, want one", mappings)
	}
	if strings.Contains(mappings[0], "undefined") {
		t.Errorf("API mapping logical id %s: want one without \"undefined\"", mappings[0])
	}
	m := doc.Resources[mappings[0]].Properties
	stages := doc.ofType("AWS::ApiGatewayV2::Stage")
	if m["Stage"] != "$default" || !slices.Equal(refs(m["DomainName"]), domains) ||
		!slices.Equal(refs(m["ApiId"]), doc.ofType("AWS::ApiGatewayV2::Api")) {
		t.Errorf("API mapping %v: want the API's $default stage on the domain %v", m, domains)
	}
	// The stage is named, not referenced: the mapping must wait for it.
	if dep := fmt.Sprint(doc.Resources[mappings[0]].DependsOn); len(stages) != 1 || !strings.Contains(dep, stages[0]) {
		t.Errorf("API mapping DependsOn %s: want the stage %v", dep, stages)
	}
	if _, ok := m["ApiMappingKey"]; ok {
		t.Errorf("API mapping key %v: want none (the issuer has no path)", m["ApiMappingKey"])
	}
	if _, ok := doc.Outputs["DomainTarget"]; !ok {
		t.Errorf("no DomainTarget output")
	}
}

func TestPropsErrors(t *testing.T) {
	tests := []struct {
		name  string
		props ProviderStackProps
		want  string
	}{
		{"domain without certificate", ProviderStackProps{DomainName: "auth.example.com"}, "set both or neither"},
		{"certificate without domain", ProviderStackProps{CertificateArn: "arn:aws:acm:us-east-1:1:certificate/x"}, "set both or neither"},
		{"domain with scheme", ProviderStackProps{DomainName: "https://a.example.com", CertificateArn: "arn:x"}, "host name only"},
		{"bad stage", ProviderStackProps{Stage: "Prod_1"}, "stage"},
		{"bad duration", ProviderStackProps{AccessTokenTTL: "an hour"}, "ACCESS_TOKEN_TTL"},
		{"code TTL above 600s", ProviderStackProps{AuthCodeTTL: "900s"}, "AUTH_CODE_TTL"},
		{"provider name too long", ProviderStackProps{ProviderName: strings.Repeat("x", 65)}, "PROVIDER_NAME"},
		{"grace above 60s", ProviderStackProps{RefreshReuseGrace: "5m"}, "REFRESH_REUSE_GRACE"},
		{"unknown admin MFA", ProviderStackProps{AdminMFA: "always"}, "ADMIN_MFA"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := withDefaults(tc.props)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	tpl, doc := synth(t, ProviderStackProps{})
	want := map[string]string{ // route key → function
		"POST /oauth2/token":                              "token",
		"POST /rest/oauth2/latest/token":                  "token",
		"POST /oauth2/revoke":                             "token",
		"POST /oauth2/introspect":                         "token",
		"GET /.well-known/oauth-authorization-server":     "token",
		"GET /.well-known/jwks.json":                      "token",
		"GET /.well-known/permissions-jwks.json":          "token",
		"GET /.well-known/openid-configuration":           "token",
		"GET /oauth2/userinfo":                            "token",
		"POST /oauth2/userinfo":                           "token",
		"POST /oauth2/device_authorization":               "token",
		"GET /oauth2/authorize":                           "authorize",
		"POST /oauth2/authorize":                          "authorize",
		"GET /rest/oauth2/latest/authorize":               "authorize",
		"POST /rest/oauth2/latest/authorize":              "authorize",
		"GET /oauth2/login":                               "authorize",
		"POST /oauth2/login":                              "authorize",
		"POST /oauth2/consent":                            "authorize",
		"GET /oauth2/logout":                              "authorize",
		"POST /oauth2/logout":                             "authorize",
		"GET /account/authorizations":                     "authorize",
		"POST /account/authorizations/{client_id}/revoke": "authorize",
		"GET /oauth2/upstream/start":                      "authorize",
		"GET /oauth2/upstream/callback":                   "authorize",
		"GET /device":                                     "authorize",
		"POST /device":                                    "authorize",
		"ANY /admin/{proxy+}":                             "admin",
		"ANY /console":                                    "admin",
		"ANY /console/{proxy+}":                           "admin",
		"POST /oauth2/register":                           "admin",
	}
	for k, fn := range want {
		if p, ok := strings.CutPrefix(k, "GET "); ok {
			want["HEAD "+p] = fn // HEAD is answered wherever GET is
		}
	}
	fnOf := map[string]string{} // function logical id → name
	for _, fn := range Functions {
		fnOf[doc.function(t, fn)] = fn
	}
	got := map[string]string{}
	authOf := map[string]string{} // route key → AuthorizationType
	for _, id := range doc.ofType("AWS::ApiGatewayV2::Route") {
		p := doc.Resources[id].Properties
		key := p["RouteKey"].(string)
		// Target is integrations/<integration>; the integration's URI is
		// the function's ARN.
		integ := refs(p["Target"])
		if len(integ) != 1 {
			t.Fatalf("route %s: target %v", key, p["Target"])
		}
		ip := doc.Resources[integ[0]].Properties
		if ip["PayloadFormatVersion"] != "2.0" || ip["IntegrationType"] != "AWS_PROXY" {
			t.Errorf("route %s: integration %v, want AWS_PROXY with payload format 2.0", key, ip)
		}
		fns := refs(ip["IntegrationUri"])
		if len(fns) != 1 {
			t.Fatalf("route %s: integration URI %v", key, ip["IntegrationUri"])
		}
		got[key] = fnOf[fns[0]]

		admin := strings.Contains(key, " /admin/")
		auth, _ := p["AuthorizationType"].(string)
		authOf[key] = auth
		if admin && auth != "AWS_IAM" {
			t.Errorf("route %s: AuthorizationType got %q, want AWS_IAM", key, auth)
		}
		if !admin && auth != "" && auth != "NONE" {
			t.Errorf("route %s: AuthorizationType got %q, want none", key, auth)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("routes: got %v, want %v", got, want)
	}
	// The console reaches the admin function without IAM (the sign-in
	// session authenticates there); the JSON API stays under IAM.
	for key, wantAuth := range map[string]string{"ANY /console": "", "ANY /console/{proxy+}": "", "POST /oauth2/register": "", "ANY /admin/{proxy+}": "AWS_IAM"} {
		if got := authOf[key]; got != wantAuth && !(wantAuth == "" && got == "NONE") {
			t.Errorf("route %s: AuthorizationType got %q, want %q", key, got, wantAuth)
		}
	}
	noPanic(t, "api", func() {
		tpl.ResourceCountIs(jsii.String("AWS::ApiGatewayV2::Api"), jsii.Number(1))
		tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Api"), map[string]any{
			"ProtocolType": "HTTP",
		})
		tpl.ResourceCountIs(jsii.String("AWS::ApiGatewayV2::Stage"), jsii.Number(1))
		tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Stage"), map[string]any{
			"StageName":  "$default",
			"AutoDeploy": true,
			"DefaultRouteSettings": map[string]any{
				"ThrottlingRateLimit":  100,
				"ThrottlingBurstLimit": 200,
			},
		})
	})
	// API Gateway may invoke each function only from this API (the one
	// other invoker, the clean-up's schedule, is TestIdleCleanupSchedule's).
	for _, id := range doc.ofType("AWS::Lambda::Permission") {
		p := doc.Resources[id].Properties
		if p["Principal"] == "events.amazonaws.com" {
			continue
		}
		if p["Principal"] != "apigateway.amazonaws.com" || !slices.Contains(refs(p["SourceArn"]), doc.ofType("AWS::ApiGatewayV2::Api")[0]) {
			t.Errorf("permission %s: got %v, want apigateway.amazonaws.com from the API", id, p)
		}
	}
}

func TestThrottleFromProps(t *testing.T) {
	tpl, _ := synth(t, ProviderStackProps{ThrottleRate: 7, ThrottleBurst: 9})
	noPanic(t, "stage", func() {
		tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Stage"), map[string]any{
			"DefaultRouteSettings": map[string]any{
				"ThrottlingRateLimit":  7,
				"ThrottlingBurstLimit": 9,
			},
		})
	})
}

func TestAlarms(t *testing.T) {
	_, doc := synth(t, ProviderStackProps{AlarmTopicArn: "arn:aws:sns:us-east-1:111111111111:ops"})
	type alarm struct{ namespace, metric, target string }
	want := map[alarm]bool{
		{"AWS/ApiGateway", "5xx", doc.ofType("AWS::ApiGatewayV2::Api")[0]}: true,
	}
	for _, fn := range Functions {
		id := doc.function(t, fn)
		want[alarm{"AWS/Lambda", "Errors", id}] = true
		want[alarm{"AWS/Lambda", "Throttles", id}] = true
	}
	got := map[alarm]bool{}
	for _, id := range doc.ofType("AWS::CloudWatch::Alarm") {
		p := doc.Resources[id].Properties
		var target []string
		for _, d := range p["Dimensions"].([]any) {
			target = append(target, refs(d)...)
		}
		if len(target) != 1 {
			t.Fatalf("alarm %s: dimensions %v", id, p["Dimensions"])
		}
		got[alarm{p["Namespace"].(string), p["MetricName"].(string), target[0]}] = true
		if p["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" || p["Threshold"] != 1.0 || p["Statistic"] != "Sum" {
			t.Errorf("alarm %s: got %v %v %v, want Sum >= 1", id, p["Statistic"], p["ComparisonOperator"], p["Threshold"])
		}
		if got, want := p["AlarmActions"], []any{"arn:aws:sns:us-east-1:111111111111:ops"}; !reflect.DeepEqual(got, want) {
			t.Errorf("alarm %s: AlarmActions got %v, want %v", id, got, want)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("alarms: got %v, want %v", got, want)
	}
}

// TestIdleCleanupSchedule: one EventBridge rule runs daily with the admin
// function as its only target (retried, bounded in age), and the function
// lets events.amazonaws.com invoke it for that rule alone.
func TestIdleCleanupSchedule(t *testing.T) {
	_, doc := synth(t, ProviderStackProps{})
	rules := doc.ofType("AWS::Events::Rule")
	if len(rules) != 1 {
		t.Fatalf("rules %v, want one", rules)
	}
	p := doc.Resources[rules[0]].Properties
	if p["ScheduleExpression"] != "cron(17 3 * * ? *)" || p["State"] != "ENABLED" {
		t.Errorf("rule: schedule %v, state %v", p["ScheduleExpression"], p["State"])
	}
	targets := p["Targets"].([]any)
	admin := doc.function(t, "admin")
	if len(targets) != 1 || !slices.Equal(refs(targets[0].(map[string]any)["Arn"]), []string{admin}) {
		t.Fatalf("targets %v, want the admin function alone", targets)
	}
	if rp := targets[0].(map[string]any)["RetryPolicy"]; !reflect.DeepEqual(rp, map[string]any{"MaximumRetryAttempts": 2.0, "MaximumEventAgeInSeconds": 21600.0}) {
		t.Errorf("retry policy %v", rp)
	}
	var perms int
	for _, id := range doc.ofType("AWS::Lambda::Permission") {
		pp := doc.Resources[id].Properties
		if pp["Principal"] != "events.amazonaws.com" {
			continue
		}
		perms++
		if !slices.Equal(refs(pp["FunctionName"]), []string{admin}) || !slices.Equal(refs(pp["SourceArn"]), []string{rules[0]}) {
			t.Errorf("permission %s: function %v, source %v", id, pp["FunctionName"], pp["SourceArn"])
		}
	}
	if perms != 1 {
		t.Errorf("%d invoke permissions for EventBridge, want 1", perms)
	}
}

func TestOutputs(t *testing.T) {
	_, doc := synth(t, ProviderStackProps{})
	for _, name := range []string{"IssuerUrl", "ApiUrl", "TableName"} {
		if _, ok := doc.Outputs[name]; !ok {
			t.Errorf("no output %s", name)
		}
	}
	if got, want := doc.Outputs["IssuerUrl"]["Value"], doc.Outputs["ApiUrl"]["Value"]; !reflect.DeepEqual(got, want) {
		t.Errorf("IssuerUrl without a custom domain: got %v, want the API URL %v", got, want)
	}
	if got, want := doc.Outputs["TableName"]["Value"], map[string]any{"Ref": doc.ofType("AWS::DynamoDB::Table")[0]}; !reflect.DeepEqual(got, want) {
		t.Errorf("TableName: got %v, want %v", got, want)
	}
}

// statement is an IAM policy statement as synthesized.
type statement struct {
	Sid       string
	Effect    string
	Action    any
	Resource  any
	Condition any
}

func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// policy returns the statements of the inline policies of fn's role.
func (d tmpl) policy(t *testing.T, fn string) []statement {
	t.Helper()
	role := refs(d.Resources[d.function(t, fn)].Properties["Role"])
	var out []statement
	for _, id := range d.ofType("AWS::IAM::Policy") {
		p := d.Resources[id].Properties
		if !slices.Contains(refs(p["Roles"]), role[0]) {
			continue
		}
		b, _ := json.Marshal(p["PolicyDocument"].(map[string]any)["Statement"])
		var st []statement
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		out = append(out, st...)
	}
	return out
}

func TestIAMLeastPrivilege(t *testing.T) {
	_, doc := synth(t, ProviderStackProps{})
	tableID := doc.ofType("AWS::DynamoDB::Table")[0]
	tableArn := map[string]any{"Fn::GetAtt": []any{tableID, "Arn"}}
	indexArn := map[string]any{"Fn::Join": []any{"", []any{tableArn, "/index/*"}}}
	secret := func(name string) any {
		return map[string]any{"Fn::Join": []any{"", []any{
			"arn:", map[string]any{"Ref": "AWS::Partition"},
			":secretsmanager:", map[string]any{"Ref": "AWS::Region"},
			":", map[string]any{"Ref": "AWS::AccountId"},
			":secret:applinks-dev/" + name,
		}}}
	}
	tests := []struct {
		fn   string
		want map[string][]string // Sid → actions, sorted
	}{
		{"token", map[string][]string{
			"Table":       {"dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:GetItem"},
			"TableWrites": {"dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
			"SigningKeys": {"secretsmanager:CreateSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutResourcePolicy"},
		}},
		{"authorize", map[string][]string{
			"Table":       {"dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:Query"},
			"TableWrites": {"dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
			// The identity providers' client secrets, read to redeem an
			// upstream's code.
			"IdentityProviderSecrets": {"secretsmanager:GetSecretValue"},
		}},
		{"admin", map[string][]string{
			"Table":   {"dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"},
			"Indexes": {"dynamodb:Query"},
			"LinkSecrets": {"secretsmanager:CreateSecret", "secretsmanager:DeleteSecret",
				"secretsmanager:GetSecretValue", "secretsmanager:PutResourcePolicy", "secretsmanager:PutSecretValue"},
			"SigningKeys": {"secretsmanager:CreateSecret", "secretsmanager:GetSecretValue",
				"secretsmanager:PutResourcePolicy", "secretsmanager:PutSecretValue"},
			"IdentityProviderSecrets": {"secretsmanager:CreateSecret", "secretsmanager:DeleteSecret",
				"secretsmanager:GetSecretValue", "secretsmanager:PutResourcePolicy", "secretsmanager:PutSecretValue"},
		}},
	}
	wantResources := map[string][]any{
		"Table":       {tableArn},
		"TableWrites": {tableArn},
		"Indexes":     {indexArn},
		"LinkSecrets": {secret("links/*")},
		"SigningKeys": {secret("signing-keys-??????")},

		"IdentityProviderSecrets": {secret("identity-providers/*")},
	}
	for _, tc := range tests {
		t.Run(tc.fn, func(t *testing.T) {
			got := map[string][]string{}
			for _, st := range doc.policy(t, tc.fn) {
				if st.Effect != "Allow" {
					t.Errorf("statement %s: Effect %s", st.Sid, st.Effect)
				}
				var actions []string
				for _, a := range list(st.Action) {
					actions = append(actions, a.(string))
				}
				sort.Strings(actions)
				if _, dup := got[st.Sid]; dup {
					t.Errorf("statement %s twice", st.Sid)
				}
				got[st.Sid] = actions
				if want := wantResources[st.Sid]; !reflect.DeepEqual(list(st.Resource), want) {
					t.Errorf("statement %s: Resource got %v, want %v", st.Sid, st.Resource, want)
				}
				// Writes of token and authorize only under their own key
				// prefixes (issue 13: a compromised function cannot create
				// a link or a user); every other statement unconditioned.
				var wantCond any
				if st.Sid == "TableWrites" {
					var keys []any
					for _, p := range table.WritePrefixes[tc.fn] {
						keys = append(keys, p+"*")
					}
					wantCond = map[string]any{"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": keys}}
				}
				if !reflect.DeepEqual(st.Condition, wantCond) {
					t.Errorf("statement %s: Condition got %v, want %v", st.Sid, st.Condition, wantCond)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("actions: got %v, want %v", got, tc.want)
			}
		})
	}
	// Across the whole template: no DynamoDB or Secrets Manager action on
	// "*", and nothing for authorize in Secrets Manager.
	for _, id := range doc.ofType("AWS::IAM::Policy") {
		b, _ := json.Marshal(doc.Resources[id].Properties["PolicyDocument"].(map[string]any)["Statement"])
		var sts []statement
		_ = json.Unmarshal(b, &sts)
		for _, st := range sts {
			for _, a := range list(st.Action) {
				s := a.(string)
				if !strings.HasPrefix(s, "dynamodb:") && !strings.HasPrefix(s, "secretsmanager:") {
					continue
				}
				if strings.Contains(s, "*") {
					t.Errorf("policy %s: wildcard action %s", id, s)
				}
				for _, r := range list(st.Resource) {
					if r == "*" {
						t.Errorf("policy %s: %s on *", id, s)
					}
				}
			}
		}
	}
	// authorize reads the identity providers' client secrets and no other.
	for _, st := range doc.policy(t, "authorize") {
		for _, a := range list(st.Action) {
			if strings.HasPrefix(a.(string), "secretsmanager:") && (st.Sid != "IdentityProviderSecrets" || a != "secretsmanager:GetSecretValue") {
				t.Errorf("authorize: got %s in %s, want only GetSecretValue on the identity providers' secrets", a, st.Sid)
			}
		}
	}
}

// TestNoDependencyCycle checks that passing the API's endpoint to the
// functions (ISSUER_URL) leaves the template's dependency graph acyclic,
// as CloudFormation requires.
func TestNoDependencyCycle(t *testing.T) {
	_, doc := synth(t, ProviderStackProps{})
	deps := checkAcyclic(t, doc)
	// And the edge this is about exists: a function depends on the API.
	if !slices.Contains(deps[doc.function(t, "token")], doc.ofType("AWS::ApiGatewayV2::Api")[0]) {
		t.Errorf("token function does not reference the API; the issuer test above proves nothing")
	}
	// The functions' environment names other functions' roles
	// (SIGNING_KEY_PRINCIPALS): the token function depends on the admin
	// function's role, and that is no cycle either.
	if !slices.Contains(deps[doc.function(t, "token")], doc.role(t, "admin")) {
		t.Errorf("token function does not reference the admin role; the principals test above proves nothing")
	}
}

// checkAcyclic fails t when the template's dependency graph (every Ref,
// Fn::GetAtt and DependsOn between its resources) has a cycle, and returns
// the graph.
func checkAcyclic(t *testing.T, doc tmpl) map[string][]string {
	t.Helper()
	deps := map[string][]string{}
	for id, r := range doc.Resources {
		ds := refs(r.Properties)
		for _, d := range list(r.DependsOn) {
			if s, ok := d.(string); ok {
				ds = append(ds, s)
			}
		}
		for _, d := range ds {
			if _, ok := doc.Resources[d]; ok {
				deps[id] = append(deps[id], d)
			}
		}
	}
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(id string) bool
	visit = func(id string) bool {
		switch state[id] {
		case visiting:
			t.Errorf("dependency cycle: %s -> %s", strings.Join(path, " -> "), id)
			return false
		case done:
			return true
		}
		state[id] = visiting
		path = append(path, id)
		for _, d := range deps[id] {
			if !visit(d) {
				return false
			}
		}
		path = path[:len(path)-1]
		state[id] = done
		return true
	}
	ids := make([]string, 0, len(doc.Resources))
	for id := range doc.Resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if !visit(id) {
			break
		}
	}
	return deps
}

// TestWithoutAPI: the variant for emulators without API Gateway v2 has no
// API resource and nothing that refers to one (moto's CloudFormation
// fails a stack on a GetAtt of a resource it skipped), and keeps the rest.
func TestWithoutAPI(t *testing.T) {
	_, doc := synth(t, ProviderStackProps{WithoutAPI: true})
	var apiRes []string
	for id, r := range doc.Resources {
		if strings.HasPrefix(r.Type, "AWS::ApiGatewayV2::") {
			apiRes = append(apiRes, id)
		}
		for _, ref := range refs(r.Properties) {
			if _, ok := doc.Resources[ref]; !ok {
				t.Errorf("%s refers to %s, which is not in the template", id, ref)
			}
		}
	}
	if len(apiRes) != 0 {
		t.Errorf("API Gateway resources %v, want none", apiRes)
	}
	for _, typ := range []string{"AWS::Lambda::Function", "AWS::DynamoDB::Table", "AWS::CloudWatch::Alarm", "AWS::Logs::LogGroup"} {
		want := map[string]int{"AWS::Lambda::Function": 3, "AWS::DynamoDB::Table": 1, "AWS::CloudWatch::Alarm": 6, "AWS::Logs::LogGroup": 3}[typ]
		if got := len(doc.ofType(typ)); got != want {
			t.Errorf("%s: got %d, want %d", typ, got, want)
		}
	}
	for _, fn := range Functions {
		vars := doc.Resources[doc.function(t, fn)].Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
		if vars["ISSUER_URL"] != "http://localhost" {
			t.Errorf("%s ISSUER_URL: got %v, want http://localhost", fn, vars["ISSUER_URL"])
		}
	}
	if _, ok := doc.Outputs["ApiUrl"]; ok {
		t.Errorf("ApiUrl output without an API")
	}
}
