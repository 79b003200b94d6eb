package main

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// env returns the environment variables of the function fn.
func (d tmpl) env(t *testing.T, fn string) map[string]any {
	t.Helper()
	return d.Resources[d.function(t, fn)].Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
}

// role returns the logical id of fn's role.
func (d tmpl) role(t *testing.T, fn string) string {
	t.Helper()
	r := refs(d.Resources[d.function(t, fn)].Properties["Role"])
	if len(r) != 1 {
		t.Fatalf("%s: role %v", fn, r)
	}
	return r[0]
}

// statements returns fn's policy statements by Sid.
func (d tmpl) statements(t *testing.T, fn string) map[string]statement {
	t.Helper()
	out := map[string]statement{}
	for _, st := range d.policy(t, fn) {
		out[st.Sid] = st
	}
	return out
}

// roleArn is the value CDK gives a role's ARN.
func roleArn(id string) any { return map[string]any{"Fn::GetAtt": []any{id, "Arn"}} }

// joined is Fn::Join with "," of parts (CDK writes one part as itself).
func joined(parts ...any) any {
	if len(parts) == 1 {
		return parts[0]
	}
	return map[string]any{"Fn::Join": []any{",", parts}}
}

// TestSecretPrincipals: the functions that create the link secrets and the
// signing-key secret are told (LINK_SECRET_PRINCIPALS,
// SIGNING_KEY_PRINCIPALS) to leave them to exactly the roles that have IAM
// access to them, so that the policy locks none of the functions out, and
// to the operator roles.
func TestSecretPrincipals(t *testing.T) {
	const operator = "arn:aws:iam::111111111111:role/ops/applinks-operator"
	for name, props := range map[string]ProviderStackProps{
		"without operator": {},
		"with operator":    {OperatorRoleArns: []string{operator}},
	} {
		t.Run(name, func(t *testing.T) {
			_, doc := synth(t, props)
			// Who has IAM access to each kind of secret, from the policies.
			access := map[string][]any{}
			for _, fn := range Functions {
				for sid := range doc.statements(t, fn) {
					if sid == "LinkSecrets" || sid == "SigningKeys" || sid == "IdentityProviderSecrets" {
						access[sid] = append(access[sid], roleArn(doc.role(t, fn)))
					}
				}
			}
			for _, sid := range []string{"LinkSecrets", "SigningKeys", "IdentityProviderSecrets"} {
				if len(props.OperatorRoleArns) > 0 {
					access[sid] = append(access[sid], operator)
				}
			}
			want := map[string]map[string]any{
				"token":     {"SIGNING_KEY_PRINCIPALS": joined(access["SigningKeys"]...)},
				"authorize": {},
				"admin": {
					"LINK_SECRET_PRINCIPALS": joined(access["LinkSecrets"]...),
					"SIGNING_KEY_PRINCIPALS": joined(access["SigningKeys"]...),
					// The admin function creates the identity providers'
					// secrets, which it and the authorize function read.
					"IDP_SECRET_PRINCIPALS": joined(access["IdentityProviderSecrets"]...),
				},
			}
			for _, fn := range Functions {
				vars := doc.env(t, fn)
				for _, k := range []string{"LINK_SECRET_PRINCIPALS", "SIGNING_KEY_PRINCIPALS", "IDP_SECRET_PRINCIPALS"} {
					if got, w := vars[k], want[fn][k]; !reflect.DeepEqual(got, w) {
						t.Errorf("%s %s:\n got %v\nwant %v", fn, k, got, w)
					}
				}
			}
			// The functions' own roles: the admin function for the links;
			// the token and admin functions for the signing keys.
			if got, w := access["LinkSecrets"][0], roleArn(doc.role(t, "admin")); !reflect.DeepEqual(got, w) {
				t.Errorf("link secrets: got %v first, want the admin role", got)
			}
			if len(access["SigningKeys"]) < 2 {
				t.Errorf("signing keys: got %v, want the token and admin roles", access["SigningKeys"])
			}
			if want := []any{roleArn(doc.role(t, "authorize")), roleArn(doc.role(t, "admin"))}; !reflect.DeepEqual(access["IdentityProviderSecrets"][:2], want) {
				t.Errorf("identity provider secrets: got %v, want the authorize and admin roles first", access["IdentityProviderSecrets"])
			}
			// And each of them may attach that policy, on those secrets only.
			for _, fn := range []string{"token", "admin"} {
				for sid, st := range doc.statements(t, fn) {
					if sid != "LinkSecrets" && sid != "SigningKeys" && (sid != "IdentityProviderSecrets" || fn != "admin") {
						continue
					}
					if !slices.Contains(list(st.Action), any("secretsmanager:PutResourcePolicy")) {
						t.Errorf("%s %s: actions %v lack secretsmanager:PutResourcePolicy", fn, sid, st.Action)
					}
				}
			}
		})
	}
}

func TestOperatorRoleErrors(t *testing.T) {
	for _, arn := range []string{"arn:aws:iam::111111111111:role/*", "ops", "arn:aws:sts::111111111111:assumed-role/ops/me"} {
		if _, err := withDefaults(ProviderStackProps{OperatorRoleArns: []string{arn}}); err == nil || !strings.Contains(err.Error(), "LINK_SECRET_PRINCIPALS") {
			t.Errorf("operator %q: got %v, want an error", arn, err)
		}
	}
}

// TestKMSKey: with a customer managed key, the table and the secrets the
// functions create use it, it rotates, and each role may use it only
// through DynamoDB and Secrets Manager, for what it does there.
func TestKMSKey(t *testing.T) {
	tpl, doc := synth(t, ProviderStackProps{CreateKMSKey: true})
	keys := doc.ofType("AWS::KMS::Key")
	if len(keys) != 1 {
		t.Fatalf("got keys %v, want one", keys)
	}
	keyArn := map[string]any{"Fn::GetAtt": []any{keys[0], "Arn"}}
	noPanic(t, "key", func() {
		tpl.HasResource(jsii.String("AWS::KMS::Key"), map[string]any{
			"Properties":     map[string]any{"EnableKeyRotation": true},
			"DeletionPolicy": "Retain",
		})
		tpl.HasResourceProperties(jsii.String("AWS::KMS::Alias"), map[string]any{"AliasName": "alias/applinks-dev"})
		tpl.HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), map[string]any{
			"SSESpecification": map[string]any{"SSEEnabled": true, "SSEType": "KMS", "KMSMasterKeyId": keyArn},
		})
	})
	via := func(service string) any {
		return map[string]any{"StringEquals": map[string]any{"kms:ViaService": map[string]any{"Fn::Join": []any{"", []any{
			service + ".", map[string]any{"Ref": "AWS::Region"}, ".amazonaws.com",
		}}}}}
	}
	want := map[string]map[string][]any{ // function → Sid → actions
		"token": {"TableKey": {"kms:Decrypt"}, "SecretsKey": {"kms:Decrypt", "kms:GenerateDataKey"}},
		// authorize reads the identity providers' client secrets.
		"authorize": {"TableKey": {"kms:Decrypt"}, "SecretsKey": {"kms:Decrypt"}},
		"admin":     {"TableKey": {"kms:Decrypt"}, "SecretsKey": {"kms:Decrypt", "kms:GenerateDataKey"}},
	}
	for _, fn := range Functions {
		got := map[string][]any{}
		for sid, st := range doc.statements(t, fn) {
			if !strings.HasSuffix(sid, "Key") {
				continue
			}
			got[sid] = list(st.Action)
			if !reflect.DeepEqual(list(st.Resource), []any{keyArn}) {
				t.Errorf("%s %s: Resource %v, want the key", fn, sid, st.Resource)
			}
			service := map[string]string{"TableKey": "dynamodb", "SecretsKey": "secretsmanager"}[sid]
			if !reflect.DeepEqual(st.Condition, via(service)) {
				t.Errorf("%s %s: Condition %v, want kms:ViaService %s", fn, sid, st.Condition, service)
			}
		}
		if !reflect.DeepEqual(got, want[fn]) {
			t.Errorf("%s: KMS statements %v, want %v", fn, got, want[fn])
		}
		_, has := doc.env(t, fn)["SECRET_KMS_KEY"]
		if creates := fn != "authorize"; has != creates {
			t.Errorf("%s: SECRET_KMS_KEY set %v, want %v (only where secrets are created)", fn, has, creates)
		} else if has && !reflect.DeepEqual(doc.env(t, fn)["SECRET_KMS_KEY"], keyArn) {
			t.Errorf("%s: SECRET_KMS_KEY %v, want the key's ARN", fn, doc.env(t, fn)["SECRET_KMS_KEY"])
		}
	}

	// An existing key by ARN: nothing declared, the same use.
	const arn = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	_, doc = synth(t, ProviderStackProps{KMSKeyArn: arn})
	if got := doc.ofType("AWS::KMS::Key"); len(got) != 0 {
		t.Errorf("with a key ARN: got keys %v, want none declared", got)
	}
	sse := doc.Resources[doc.ofType("AWS::DynamoDB::Table")[0]].Properties["SSESpecification"].(map[string]any)
	if sse["KMSMasterKeyId"] != arn || doc.env(t, "admin")["SECRET_KMS_KEY"] != arn {
		t.Errorf("with a key ARN: table %v, SECRET_KMS_KEY %v; want %s", sse, doc.env(t, "admin")["SECRET_KMS_KEY"], arn)
	}
	if st := doc.statements(t, "token")["TableKey"]; !reflect.DeepEqual(list(st.Resource), []any{arn}) {
		t.Errorf("with a key ARN: TableKey on %v, want %s", st.Resource, arn)
	}

	for name, props := range map[string]ProviderStackProps{
		"both":      {CreateKMSKey: true, KMSKeyArn: arn},
		"an alias":  {KMSKeyArn: "arn:aws:kms:us-east-1:111111111111:alias/applinks"},
		"not a key": {KMSKeyArn: "arn:aws:s3:::bucket"},
	} {
		if _, err := withDefaults(props); err == nil {
			t.Errorf("%s: got no error", name)
		}
	}
}

// TestNoFrontDoorWithoutContext: without frontDomainName there is no
// CloudFront, no web ACL, no bucket, no origin secret, no edge stack, and
// the functions do not check an origin header.
func TestNoFrontDoorWithoutContext(t *testing.T) {
	for name, props := range map[string]ProviderStackProps{
		"default":       {},
		"custom domain": {DomainName: "auth.example.com", CertificateArn: "arn:aws:acm:us-east-1:111111111111:certificate/abc"},
		"KMS key":       {CreateKMSKey: true},
	} {
		t.Run(name, func(t *testing.T) {
			props.AssetDir = assets(t)
			noPanic(t, "synth", func() {
				app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
				s, err := NewProviderStack(app, "test", props)
				if err != nil {
					t.Fatal(err)
				}
				if s.Edge != nil || s.FrontDoor != nil {
					t.Errorf("got an edge stack or a distribution")
				}
				if n := len(*app.Node().Children()); n != 1 {
					t.Errorf("the app has %d stacks, want 1", n)
				}
				tpl := assertions.Template_FromStack(s.Stack, nil)
				for _, typ := range []string{"AWS::CloudFront::Distribution", "AWS::WAFv2::WebACL", "AWS::S3::Bucket",
					"AWS::SecretsManager::Secret", "Custom::CrossRegionExportReader"} {
					tpl.ResourceCountIs(jsii.String(typ), jsii.Number(0))
				}
				var doc tmpl
				b, _ := json.Marshal(tpl.ToJSON())
				_ = json.Unmarshal(b, &doc)
				for _, fn := range Functions {
					for _, k := range []string{"ORIGIN_VERIFY_SECRET", "TRUST_CLOUDFRONT_VIEWER_ADDRESS"} {
						if v, ok := doc.env(t, fn)[k]; ok {
							t.Errorf("%s: %s %v, want none (the API is reachable directly)", fn, k, v)
						}
					}
					if _, ok := doc.statements(t, fn)["OriginVerify"]; ok {
						t.Errorf("%s: an OriginVerify statement without a front door", fn)
					}
				}
			})
		})
	}
}

// TestExecuteApiEndpoint: the execute-api endpoint is disabled whenever a
// custom domain is configured (it would be a way around the domain and the
// front door), and stays without one (it is then the issuer).
func TestExecuteApiEndpoint(t *testing.T) {
	_, doc := synth(t, ProviderStackProps{})
	if got := doc.Resources[doc.ofType("AWS::ApiGatewayV2::Api")[0]].Properties["DisableExecuteApiEndpoint"]; got != nil && got != false {
		t.Errorf("without a custom domain: DisableExecuteApiEndpoint %v, want false", got)
	}
	_, doc = synth(t, ProviderStackProps{DomainName: "auth.example.com", CertificateArn: "arn:aws:acm:us-east-1:111111111111:certificate/abc"})
	if got := doc.Resources[doc.ofType("AWS::ApiGatewayV2::Api")[0]].Properties["DisableExecuteApiEndpoint"]; got != true {
		t.Errorf("with a custom domain: DisableExecuteApiEndpoint %v, want true", got)
	}
	if got := doc.Outputs["ApiUrl"]["Value"]; got != "https://auth.example.com" {
		t.Errorf("with a custom domain: ApiUrl %v, want https://auth.example.com", got)
	}
}

// synthFront declares the front-door variant (frontDoorProps, with
// changes) and returns the provider stack's and the edge stack's
// templates, and the edge stack's region.
func synthFront(t *testing.T, change func(*ProviderStackProps)) (main, edge tmpl, edgeRegion string) {
	t.Helper()
	props := frontDoorProps
	props.AssetDir = assets(t)
	if change != nil {
		change(&props)
	}
	noPanic(t, "synth", func() {
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
		s, err := NewProviderStack(app, "applinks-dev", props)
		if err != nil {
			t.Fatalf("NewProviderStack: %v", err)
		}
		if s.Edge == nil {
			t.Fatal("no edge stack")
		}
		for _, x := range []struct {
			st  awscdk.Stack
			dst *tmpl
		}{{s.Stack, &main}, {s.Edge, &edge}} {
			b, _ := json.Marshal(assertions.Template_FromStack(x.st, nil).ToJSON())
			if err := json.Unmarshal(b, x.dst); err != nil {
				t.Fatal(err)
			}
		}
		edgeRegion = *s.Edge.Region()
	})
	return main, edge, edgeRegion
}

// TestFrontDoor: the distribution serves the front door's name with its
// us-east-1 certificate (TLS 1.2 at least), forwards everything uncached to
// the API's custom domain over TLS 1.2 with the X-Origin-Verify header
// from the generated secret (a dynamic reference: the template holds no
// value), is behind the edge stack's web ACL, logs to a private bucket
// kept 30 days; the functions get the secret's ARN (not its value) and
// read access to it; the issuer is the front door's name.
func TestFrontDoor(t *testing.T) {
	doc, _, region := synthFront(t, nil)
	if region != "us-east-1" {
		t.Errorf("edge stack region %s, want us-east-1", region)
	}
	dists := doc.ofType("AWS::CloudFront::Distribution")
	if len(dists) != 1 {
		t.Fatalf("distributions %v, want one", dists)
	}
	cfg := doc.Resources[dists[0]].Properties["DistributionConfig"].(map[string]any)
	if got := cfg["Aliases"]; !reflect.DeepEqual(got, []any{"auth.example.com"}) {
		t.Errorf("Aliases %v", got)
	}
	if got, want := cfg["ViewerCertificate"], map[string]any{
		"AcmCertificateArn":      frontDoorProps.FrontCertificateArn,
		"MinimumProtocolVersion": "TLSv1.2_2021",
		"SslSupportMethod":       "sni-only",
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("ViewerCertificate %v, want %v", got, want)
	}
	secrets := doc.ofType("AWS::SecretsManager::Secret")
	if len(secrets) != 1 {
		t.Fatalf("secrets %v, want the origin-verify one", secrets)
	}
	sec := doc.Resources[secrets[0]].Properties
	if g := sec["GenerateSecretString"].(map[string]any); g["PasswordLength"] != 64.0 || g["ExcludePunctuation"] != true {
		t.Errorf("origin secret generation %v, want 64 letters and digits", g)
	}
	if _, ok := sec["SecretString"]; ok {
		t.Errorf("origin secret has a value in the template")
	}
	if !slices.Equal(refs(sec["KmsKeyId"]), doc.ofType("AWS::KMS::Key")) {
		t.Errorf("origin secret KmsKeyId %v, want the stack's key", sec["KmsKeyId"])
	}
	origins := cfg["Origins"].([]any)
	if len(origins) != 1 {
		t.Fatalf("origins %v, want one", origins)
	}
	o := origins[0].(map[string]any)
	if o["DomainName"] != "origin.auth.example.com" {
		t.Errorf("origin %v, want the API's custom domain", o["DomainName"])
	}
	if got, want := o["CustomOriginConfig"], map[string]any{"OriginProtocolPolicy": "https-only", "OriginSSLProtocols": []any{"TLSv1.2"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("CustomOriginConfig %v, want %v", got, want)
	}
	wantHeader := []any{map[string]any{
		"HeaderName": "X-Origin-Verify",
		"HeaderValue": map[string]any{"Fn::Join": []any{"", []any{
			"{{resolve:secretsmanager:", map[string]any{"Ref": secrets[0]}, ":SecretString:::}}",
		}}},
	}}
	if got := o["OriginCustomHeaders"]; !reflect.DeepEqual(got, wantHeader) {
		t.Errorf("OriginCustomHeaders %v, want %v", got, wantHeader)
	}
	beh := cfg["DefaultCacheBehavior"].(map[string]any)
	for k, want := range map[string]any{
		"ViewerProtocolPolicy":  "https-only",
		"CachePolicyId":         "4135ea2d-6df8-44a3-9df3-4b5a84be39ad", // Managed-CachingDisabled
		"OriginRequestPolicyId": "b689b0a8-53d0-40ab-baf2-68738e2966ac", // Managed-AllViewerExceptHostHeader
		"TargetOriginId":        o["Id"],
	} {
		if beh[k] != want {
			t.Errorf("default behavior %s: %v, want %v", k, beh[k], want)
		}
	}
	if m := beh["AllowedMethods"].([]any); !slices.Contains(m, any("POST")) || !slices.Contains(m, any("GET")) {
		t.Errorf("AllowedMethods %v, want every method", m)
	}
	if _, ok := cfg["CacheBehaviors"]; ok {
		t.Errorf("CacheBehaviors %v, want only the default (the web ACL blocks /admin/*)", cfg["CacheBehaviors"])
	}
	readers := doc.ofType("Custom::CrossRegionExportReader")
	if len(readers) != 1 || !slices.Equal(refs(cfg["WebACLId"]), readers) {
		t.Errorf("WebACLId %v, want the edge stack's web ACL through the cross-region reader %v", cfg["WebACLId"], readers)
	}
	if imports := doc.Resources[readers[0]].Properties["ReaderProps"].(map[string]any)["imports"]; !strings.Contains(what(imports), "WebAcl") {
		t.Errorf("cross-region reader imports %v, want the web ACL's ARN", imports)
	}
	buckets := doc.ofType("AWS::S3::Bucket")
	logging := cfg["Logging"].(map[string]any)
	if len(buckets) != 1 || !slices.Equal(refs(logging["Bucket"]), buckets) {
		t.Fatalf("Logging %v, want the stack's bucket %v", logging, buckets)
	}
	b := doc.Resources[buckets[0]]
	if got, want := b.Properties["PublicAccessBlockConfiguration"], map[string]any{
		"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("log bucket PublicAccessBlockConfiguration %v", got)
	}
	if rules := b.Properties["LifecycleConfiguration"].(map[string]any)["Rules"].([]any); len(rules) != 1 || rules[0].(map[string]any)["ExpirationInDays"] != 30.0 {
		t.Errorf("log bucket lifecycle %v, want expiry after 30 days", rules)
	}
	if b.DeletionPolicy != "Retain" {
		t.Errorf("log bucket DeletionPolicy %s, want Retain", b.DeletionPolicy)
	}
	policies := doc.ofType("AWS::S3::BucketPolicy")
	if len(policies) != 1 || !strings.Contains(what(doc.Resources[policies[0]].Properties), `"aws:SecureTransport":"false"`) {
		t.Errorf("log bucket policy %v, want TLS enforced", policies)
	}

	for _, fn := range Functions {
		vars := doc.env(t, fn)
		if got, want := vars["ORIGIN_VERIFY_SECRET"], map[string]any{"Ref": secrets[0]}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s ORIGIN_VERIFY_SECRET %v, want the secret's ARN %v", fn, got, want)
		}
		if vars["ISSUER_URL"] != "https://auth.example.com" {
			t.Errorf("%s ISSUER_URL %v, want the front door", fn, vars["ISSUER_URL"])
		}
		// Only CloudFront reaches the public routes: the sign-in limits
		// count the viewer's address it reports.
		if vars["TRUST_CLOUDFRONT_VIEWER_ADDRESS"] != "true" {
			t.Errorf("%s TRUST_CLOUDFRONT_VIEWER_ADDRESS %v, want true", fn, vars["TRUST_CLOUDFRONT_VIEWER_ADDRESS"])
		}
		st, ok := doc.statements(t, fn)["OriginVerify"]
		if !ok || !reflect.DeepEqual(list(st.Action), []any{"secretsmanager:GetSecretValue"}) ||
			!reflect.DeepEqual(list(st.Resource), []any{map[string]any{"Ref": secrets[0]}}) {
			t.Errorf("%s OriginVerify statement %+v, want GetSecretValue on the origin secret only", fn, st)
		}
	}
	// authorize reads the origin secret: Decrypt through Secrets Manager,
	// and nothing more.
	if st := doc.statements(t, "authorize")["SecretsKey"]; !reflect.DeepEqual(list(st.Action), []any{"kms:Decrypt"}) {
		t.Errorf("authorize SecretsKey %v, want kms:Decrypt", st.Action)
	}
	api := doc.Resources[doc.ofType("AWS::ApiGatewayV2::Api")[0]].Properties
	if api["DisableExecuteApiEndpoint"] != true {
		t.Errorf("DisableExecuteApiEndpoint %v, want true", api["DisableExecuteApiEndpoint"])
	}
	for name, want := range map[string]any{
		"IssuerUrl":       "https://auth.example.com",
		"ApiUrl":          "https://origin.auth.example.com",
		"FrontDoorTarget": map[string]any{"Fn::GetAtt": []any{dists[0], "DomainName"}},
	} {
		if got := doc.Outputs[name]["Value"]; !reflect.DeepEqual(got, want) {
			t.Errorf("output %s: %v, want %v", name, got, want)
		}
	}
}

// what is v as compact JSON.
func what(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestWebACL: the edge stack holds the web ACL for CloudFront: it blocks
// the admin API's paths, limits password posts and all requests per IP
// address, and runs AWS's IP reputation, common and known-bad-inputs rule
// groups (the common set's remote-file-inclusion rules only counting, for
// loopback redirect URIs); everything else is allowed.
func TestWebACL(t *testing.T) {
	_, edge, _ := synthFront(t, func(p *ProviderStackProps) { p.WAFRateLimit, p.WAFSignInRateLimit = 2000, 50 })
	acls := edge.ofType("AWS::WAFv2::WebACL")
	if len(acls) != 1 {
		t.Fatalf("web ACLs %v, want one", acls)
	}
	acl := edge.Resources[acls[0]].Properties
	if acl["Scope"] != "CLOUDFRONT" || !reflect.DeepEqual(acl["DefaultAction"], map[string]any{"Allow": map[string]any{}}) {
		t.Errorf("Scope %v, DefaultAction %v; want CLOUDFRONT, Allow", acl["Scope"], acl["DefaultAction"])
	}
	rules := map[string]map[string]any{}
	var names []string
	for _, r := range acl["Rules"].([]any) {
		m := r.(map[string]any)
		rules[m["Name"].(string)] = m
		names = append(names, m["Name"].(string))
		if int(m["Priority"].(float64)) != len(names)-1 {
			t.Errorf("rule %s: priority %v, want %d", m["Name"], m["Priority"], len(names)-1)
		}
		if v := m["VisibilityConfig"].(map[string]any); v["CloudWatchMetricsEnabled"] != true || v["SampledRequestsEnabled"] != true {
			t.Errorf("rule %s: VisibilityConfig %v", m["Name"], v)
		}
	}
	if !slices.Equal(names, WebACLRules) {
		t.Errorf("rules %v, want %v", names, WebACLRules)
	}
	block := map[string]any{"Block": map[string]any{}}
	pathMatch := func(position, s string) any {
		return map[string]any{"ByteMatchStatement": map[string]any{
			"FieldToMatch":         map[string]any{"UriPath": map[string]any{}},
			"PositionalConstraint": position,
			"SearchString":         s,
			"TextTransformations": []any{
				map[string]any{"Priority": 0.0, "Type": "URL_DECODE"},
				map[string]any{"Priority": 1.0, "Type": "NORMALIZE_PATH"},
				map[string]any{"Priority": 2.0, "Type": "LOWERCASE"},
			},
		}}
	}
	or := func(sts ...any) any { return map[string]any{"OrStatement": map[string]any{"Statements": sts}} }
	want := map[string]map[string]any{
		"BlockAdminApi": {"Action": block, "Statement": or(pathMatch("EXACTLY", "/admin"), pathMatch("STARTS_WITH", "/admin/"))},
		"SignInRateLimit": {"Action": block, "Statement": map[string]any{"RateBasedStatement": map[string]any{
			"AggregateKeyType": "IP", "Limit": 50.0, "EvaluationWindowSec": 300.0,
			"ScopeDownStatement": map[string]any{"AndStatement": map[string]any{"Statements": []any{
				map[string]any{"ByteMatchStatement": map[string]any{
					"FieldToMatch":         map[string]any{"Method": map[string]any{}},
					"PositionalConstraint": "EXACTLY", "SearchString": "POST",
					"TextTransformations": []any{map[string]any{"Priority": 0.0, "Type": "NONE"}},
				}},
				or(pathMatch("EXACTLY", "/oauth2/login"), pathMatch("EXACTLY", "/console/confirm")),
			}}},
		}}},
		"RateLimit": {"Action": block, "Statement": map[string]any{"RateBasedStatement": map[string]any{
			"AggregateKeyType": "IP", "Limit": 2000.0, "EvaluationWindowSec": 300.0,
		}}},
	}
	for name, w := range want {
		for k, v := range w {
			if got := rules[name][k]; !reflect.DeepEqual(got, v) {
				t.Errorf("rule %s %s:\n got %s\nwant %s", name, k, what(got), what(v))
			}
		}
	}
	for _, name := range WebACLRules[3:] {
		r := rules[name]
		if !reflect.DeepEqual(r["OverrideAction"], map[string]any{"None": map[string]any{}}) {
			t.Errorf("rule %s: OverrideAction %v, want None (the group's own actions)", name, r["OverrideAction"])
		}
		g := r["Statement"].(map[string]any)["ManagedRuleGroupStatement"].(map[string]any)
		if g["VendorName"] != "AWS" || g["Name"] != name {
			t.Errorf("rule %s: group %v", name, g)
		}
		var counted []string
		if o, ok := g["RuleActionOverrides"].([]any); ok {
			for _, x := range o {
				m := x.(map[string]any)
				if !reflect.DeepEqual(m["ActionToUse"], map[string]any{"Count": map[string]any{}}) {
					t.Errorf("rule %s: override %v, want Count", name, m)
				}
				counted = append(counted, m["Name"].(string))
			}
		}
		sort.Strings(counted)
		var wantCounted []string
		if name == "AWSManagedRulesCommonRuleSet" {
			wantCounted = []string{"GenericRFI_BODY", "GenericRFI_QUERYARGUMENTS"}
		}
		if !slices.Equal(counted, wantCounted) {
			t.Errorf("rule %s: counted %v, want %v", name, counted, wantCounted)
		}
	}
	// The reference the distribution reads comes from here.
	if got := edge.ofType("Custom::CrossRegionExportWriter"); len(got) != 1 || !strings.Contains(what(edge.Resources[got[0]].Properties), acls[0]) {
		t.Errorf("cross-region writer %v, want one exporting the web ACL's ARN", got)
	}
}

func TestFrontDoorPropsErrors(t *testing.T) {
	tests := []struct {
		name   string
		change func(*ProviderStackProps)
		want   string
	}{
		{"domain without certificate", func(p *ProviderStackProps) { p.FrontCertificateArn = "" }, "set both or neither"},
		{"certificate outside us-east-1", func(p *ProviderStackProps) {
			p.FrontCertificateArn = "arn:aws:acm:eu-west-1:000000000000:certificate/abc"
		}, "us-east-1"},
		{"no origin domain", func(p *ProviderStackProps) { p.DomainName, p.CertificateArn = "", "" }, "custom domain"},
		{"same name as the origin", func(p *ProviderStackProps) { p.DomainName = "AUTH.example.com" }, "name of its own"},
		{"without the API", func(p *ProviderStackProps) { p.WithoutAPI = true }, "withoutApi"},
		{"no account or region", func(p *ProviderStackProps) { p.Env = nil }, "account and region"},
		{"a scheme", func(p *ProviderStackProps) { p.FrontDomainName = "https://auth.example.com" }, "host name only"},
		{"rate limit below 10", func(p *ProviderStackProps) { p.WAFSignInRateLimit = 5 }, "rate limit"},
		{"fractional rate limit", func(p *ProviderStackProps) { p.WAFRateLimit = 100.5 }, "rate limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := frontDoorProps
			tc.change(&p)
			_, err := withDefaults(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestFrontDoorNoDependencyCycle: the front-door variant's template (the
// functions' environment naming roles, the secret, the key) is acyclic too.
func TestFrontDoorNoDependencyCycle(t *testing.T) {
	doc, edge, _ := synthFront(t, nil)
	checkAcyclic(t, doc)
	checkAcyclic(t, edge)
}
