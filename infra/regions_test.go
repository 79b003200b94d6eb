package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/applinks/applinks/shared/store/table"
)

// usRegions are three regions of multi-Region strong consistency's US set.
var usRegions = []string{"us-east-1", "us-east-2", "us-west-2"}

// multiRegionProps is a deployment to usRegions with a custom domain in a
// Route 53 zone and one certificate per region.
func multiRegionProps() ProviderStackProps {
	var certs []string
	for i, r := range usRegions {
		certs = append(certs, fmt.Sprintf("arn:aws:acm:%s:000000000000:certificate/1111111%d-2222-3333-4444-555555555555", r, i))
	}
	return ProviderStackProps{
		StackProps:     awscdk.StackProps{Env: &awscdk.Environment{Account: jsii.String("000000000000"), Region: jsii.String("us-east-1")}},
		Regions:        usRegions,
		DomainName:     "auth.example.com",
		CertificateArn: strings.Join(certs, ","),
		HostedZoneID:   "Z0123456789ABCDEFGHIJ",
		HostedZoneName: "example.com",
	}
}

// synthRegions declares NewProvider's stacks for props and returns their
// templates (parsed) by stack name, and the cloud assembly's directory.
func synthRegions(t *testing.T, props ProviderStackProps) (map[string]tmpl, string) {
	t.Helper()
	if props.AssetDir == "" {
		props.AssetDir = assets(t)
	}
	out := map[string]tmpl{}
	var dir string
	noPanic(t, "synth", func() {
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
		stacks, err := NewProvider(app, "applinks-dev", props)
		if err != nil {
			t.Fatalf("NewProvider: %v", err)
		}
		asm := app.Synth(nil)
		dir = *asm.Directory()
		for _, s := range stacks {
			b, err := os.ReadFile(filepath.Join(dir, *s.TemplateFile()))
			if err != nil {
				t.Fatal(err)
			}
			var doc tmpl
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			out[*s.StackName()] = doc
		}
	})
	return out, dir
}

// TestOneRegionUnchanged: with no region, or one region that is the
// environment's, NewProvider declares exactly NewProviderStack's template
// (every resource, property, output), in the default and custom-domain
// variants.
func TestOneRegionUnchanged(t *testing.T) {
	dir := assets(t)
	for name, base := range map[string]ProviderStackProps{"default": variants["default"], "custom domain": variants["custom domain"]} {
		t.Run(name, func(t *testing.T) {
			base.AssetDir = dir
			base.Env = &awscdk.Environment{Account: jsii.String("000000000000"), Region: jsii.String("us-east-1")}
			var want map[string]any
			noPanic(t, "synth", func() {
				app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
				s, err := NewProviderStack(app, "applinks-dev", base)
				if err != nil {
					t.Fatal(err)
				}
				want = *assertions.Template_FromStack(s.Stack, nil).ToJSON()
			})
			for _, regions := range [][]string{nil, {"us-east-1"}, {" us-east-1 ", ""}} {
				p := base
				p.Regions = regions
				var got map[string]any
				noPanic(t, "synth", func() {
					app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
					stacks, err := NewProvider(app, "applinks-dev", p)
					if err != nil {
						t.Fatal(err)
					}
					if len(stacks) != 1 || *stacks[0].StackName() != "applinks-dev" {
						t.Fatalf("regions %q: %d stacks, want applinks-dev alone", regions, len(stacks))
					}
					got = *assertions.Template_FromStack(stacks[0].Stack, nil).ToJSON()
				})
				if !reflect.DeepEqual(got, want) {
					gb, _ := json.MarshalIndent(got, "", " ")
					wb, _ := json.MarshalIndent(want, "", " ")
					t.Errorf("regions %q: the template differs from the single-region stack's:\n%s\nwant\n%s", regions, gb, wb)
				}
			}
		})
	}
}

// statements returns the policy statements of fn's role's default policy.
func (d tmpl) regionStatements(t *testing.T, fn string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, id := range d.ofType("AWS::IAM::Policy") {
		if !strings.HasPrefix(id, title(fn)+"FunctionServiceRoleDefaultPolicy") {
			continue
		}
		doc := d.Resources[id].Properties["PolicyDocument"].(map[string]any)
		for _, s := range doc["Statement"].([]any) {
			out = append(out, s.(map[string]any))
		}
	}
	if out == nil {
		t.Fatalf("no policy of %s", fn)
	}
	return out
}

// statement returns fn's statement with sid (nil when none).
func (d tmpl) regionStatement(t *testing.T, fn, sid string) map[string]any {
	t.Helper()
	for _, s := range d.regionStatements(t, fn) {
		if s["Sid"] == sid {
			return s
		}
	}
	return nil
}

// flat renders v as compact JSON, for matching ARNs built with Fn::Join.
func flat(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestMultiRegion: three US regions give three stacks; the primary's
// (us-east-1) holds the global table (multi-Region strong consistency, a
// replica in each other region, the GSIs, no TTL), the others none; every
// region's functions have the same issuer, the table's name and the
// secrets' primary and replica regions; each region's API has the issuer's
// custom domain and its own admin host, with Route 53's health check, the
// issuer's latency record and the admin record.
func TestMultiRegion(t *testing.T) {
	docs, _ := synthRegions(t, multiRegionProps())
	if len(docs) != 3 {
		t.Fatalf("%d stacks, want 3", len(docs))
	}
	for i, r := range usRegions {
		name := "applinks-dev-" + r
		d, ok := docs[name]
		if !ok {
			t.Fatalf("no stack %s among %v", name, keysOf(docs))
		}
		tables := d.ofType("AWS::DynamoDB::GlobalTable")
		if i == 0 {
			if len(tables) != 1 {
				t.Fatalf("%s: global tables %v, want one", name, tables)
			}
			p := d.Resources[tables[0]].Properties
			if p["MultiRegionConsistency"] != "STRONG" || p["TableName"] != "applinks-dev" || p["BillingMode"] != "PAY_PER_REQUEST" {
				t.Errorf("%s: table %v", name, p)
			}
			if _, ttl := p["TimeToLiveSpecification"]; ttl {
				t.Errorf("%s: TTL on a table with multi-Region strong consistency, which has none", name)
			}
			var replicas []string
			for _, rep := range p["Replicas"].([]any) {
				m := rep.(map[string]any)
				replicas = append(replicas, m["Region"].(string))
				if flat(m["PointInTimeRecoverySpecification"]) != `{"PointInTimeRecoveryEnabled":true}` || m["DeletionProtectionEnabled"] != true {
					t.Errorf("%s: replica %v without PITR or deletion protection", name, m)
				}
			}
			slices.Sort(replicas)
			if want := slices.Sorted(slices.Values(usRegions)); !slices.Equal(replicas, want) {
				t.Errorf("%s: replicas %v, want %v", name, replicas, want)
			}
			var gsis []string
			for _, g := range p["GlobalSecondaryIndexes"].([]any) {
				gsis = append(gsis, g.(map[string]any)["IndexName"].(string))
			}
			if len(gsis) != len(table.GSIs) {
				t.Errorf("%s: GSIs %v, want %d", name, gsis, len(table.GSIs))
			}
			if r := d.Resources[tables[0]]; r.DeletionPolicy != "Retain" {
				t.Errorf("%s: table deletion policy %q, want Retain", name, r.DeletionPolicy)
			}
		} else if len(tables) != 0 || len(d.ofType("AWS::DynamoDB::Table")) != 0 {
			t.Errorf("%s: tables %v; only the primary's stack declares the table", name, tables)
		}
		if n := len(d.ofType("AWS::DynamoDB::Table")); n != 0 {
			t.Errorf("%s: %d AWS::DynamoDB::Table, want none", name, n)
		}

		replicasOf := strings.Join(usRegions[1:], ",")
		// The primary names its table by Ref (so that the functions come
		// after it), the others by its name.
		tableName, tableArn := `"applinks-dev"`, ":dynamodb:"+r+":000000000000:table/applinks-dev"
		if i == 0 {
			tableName, tableArn = `{"Ref":"`+tables[0]+`"}`, `{"Fn::GetAtt":["`+tables[0]+`","Arn"]}`
		}
		for _, fn := range Functions {
			env := d.env(t, fn)
			if got := flat(env["TABLE_NAME"]); got != tableName {
				t.Errorf("%s %s: TABLE_NAME = %s, want %s", name, fn, got, tableName)
			}
			for k, want := range map[string]string{
				"ISSUER_URL": "https://auth.example.com", "SECRET_PREFIX": "applinks-dev",
				"SECRET_PRIMARY_REGION": "us-east-1", "SECRET_REPLICA_REGIONS": replicasOf,
				// The table refuses transactions (MRSC).
				"STORE_TRANSACTIONS": "off",
			} {
				if env[k] != want {
					t.Errorf("%s %s: %s = %v, want %s", name, fn, k, env[k], want)
				}
			}
			// Least privilege per region: this region's replica, writes
			// under the function's prefixes.
			tbl := d.regionStatement(t, fn, "Table")
			if tbl == nil || !strings.Contains(flat(tbl["Resource"]), tableArn) {
				t.Errorf("%s %s: Table statement %v, want this region's replica", name, fn, tbl)
			}
			if w := Accesses[fn].WritePrefixes; len(w) > 0 {
				s := d.regionStatement(t, fn, "TableWrites")
				if s == nil || !strings.Contains(flat(s["Condition"]), `"dynamodb:LeadingKeys"`) ||
					!strings.Contains(flat(s["Resource"]), tableArn) {
					t.Errorf("%s %s: TableWrites %v, want the LeadingKeys condition on this region's replica", name, fn, s)
				}
			}
		}
		// The secrets: in the primary region, replicated and removed from
		// replication by those who create and delete them; the key sets
		// also read from this region's replica.
		keys := d.regionStatement(t, "token", "SigningKeys")
		if keys == nil || !strings.Contains(flat(keys["Resource"]), ":secretsmanager:us-east-1:000000000000:secret:applinks-dev/signing-keys-??????") ||
			!slices.Contains(actions(keys), "secretsmanager:ReplicateSecretToRegions") {
			t.Errorf("%s token: SigningKeys %v, want the primary region's, with ReplicateSecretToRegions", name, keys)
		}
		replica := d.regionStatement(t, "token", "SigningKeysReplica")
		if i == 0 && replica != nil {
			t.Errorf("%s token: SigningKeysReplica %v in the primary region", name, replica)
		}
		if i > 0 && (replica == nil || !slices.Equal(actions(replica), []string{"secretsmanager:GetSecretValue"}) ||
			!strings.Contains(flat(replica["Resource"]), ":secretsmanager:"+r+":000000000000:secret:applinks-dev/signing-keys-??????")) {
			t.Errorf("%s token: SigningKeysReplica %v, want GetSecretValue on this region's replica", name, replica)
		}
		links := d.regionStatement(t, "admin", "LinkSecrets")
		if links == nil || !strings.Contains(flat(links["Resource"]), ":secretsmanager:us-east-1:000000000000:secret:applinks-dev/links/*") ||
			!slices.Contains(actions(links), "secretsmanager:ReplicateSecretToRegions") ||
			!slices.Contains(actions(links), "secretsmanager:RemoveRegionsFromReplication") {
			t.Errorf("%s admin: LinkSecrets %v", name, links)
		}
		for _, fn := range Functions {
			for _, s := range d.regionStatements(t, fn) {
				if res := flat(s["Resource"]); strings.Contains(res, `"*"`) || res == `"*"` {
					t.Errorf("%s %s: statement %v on *", name, fn, s)
				}
			}
		}

		// The idle-link clean-up runs once a day, from the primary.
		if rules, want := len(d.ofType("AWS::Events::Rule")), map[bool]int{true: 1, false: 0}[i == 0]; rules != want {
			t.Errorf("%s: %d EventBridge rules, want %d", name, rules, want)
		}

		// The API: the issuer's host and the region's admin host.
		var domains []string
		for _, id := range d.ofType("AWS::ApiGatewayV2::DomainName") {
			domains = append(domains, d.Resources[id].Properties["DomainName"].(string))
			if cert := flat(d.Resources[id].Properties["DomainNameConfigurations"]); !strings.Contains(cert, "arn:aws:acm:"+r+":") {
				t.Errorf("%s: domain %s with certificate %s, want this region's", name, id, cert)
			}
		}
		slices.Sort(domains)
		if want := []string{"auth.example.com", r + ".auth.example.com"}; !slices.Equal(domains, want) {
			t.Errorf("%s: domains %v, want %v", name, domains, want)
		}
		if n := len(d.ofType("AWS::ApiGatewayV2::ApiMapping")); n != 2 {
			t.Errorf("%s: %d API mappings, want 2", name, n)
		}
		checks := d.ofType("AWS::Route53::HealthCheck")
		if len(checks) != 1 {
			t.Fatalf("%s: health checks %v, want one", name, checks)
		}
		hc := d.Resources[checks[0]].Properties["HealthCheckConfig"].(map[string]any)
		if hc["Type"] != "HTTPS" || hc["FullyQualifiedDomainName"] != r+".auth.example.com" || hc["ResourcePath"] != healthPath {
			t.Errorf("%s: health check %v", name, hc)
		}
		var issuer, admin map[string]any
		for _, id := range d.ofType("AWS::Route53::RecordSet") {
			p := d.Resources[id].Properties
			switch p["Name"] {
			case "auth.example.com.":
				issuer = p
			case r + ".auth.example.com.":
				admin = p
			default:
				t.Errorf("%s: record %v", name, p)
			}
		}
		if issuer == nil || issuer["Region"] != r || issuer["SetIdentifier"] != r || issuer["Type"] != "A" ||
			issuer["HostedZoneId"] != "Z0123456789ABCDEFGHIJ" || !strings.Contains(flat(issuer["HealthCheckId"]), checks[0]) ||
			flat(issuer["AliasTarget"].(map[string]any)["EvaluateTargetHealth"]) != "true" {
			t.Errorf("%s: issuer record %v, want a latency alias for %s with the health check", name, issuer, r)
		}
		if admin == nil || admin["Region"] != nil || admin["Type"] != "A" {
			t.Errorf("%s: admin record %v, want a simple alias", name, admin)
		}
		if got := flat(d.Outputs["ApiUrl"]["Value"]); got != `"https://`+r+`.auth.example.com"` {
			t.Errorf("%s: ApiUrl %s", name, got)
		}
	}
}

// actions is a statement's Action as a list.
func actions(s map[string]any) []string {
	switch a := s["Action"].(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, x := range a {
			out = append(out, x.(string))
		}
		return out
	}
	return nil
}

func keysOf(m map[string]tmpl) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestMultiRegionEventual: with consistency=eventual, two regions (any)
// give a global table without MultiRegionConsistency (DynamoDB's default,
// eventual) and with its TTL.
func TestMultiRegionEventual(t *testing.T) {
	p := multiRegionProps()
	p.Regions = []string{"us-east-1", "eu-west-1"}
	p.CertificateArn = "arn:aws:acm:us-east-1:000000000000:certificate/a,arn:aws:acm:eu-west-1:000000000000:certificate/b"
	p.Consistency = "eventual"
	docs, _ := synthRegions(t, p)
	d := docs["applinks-dev-us-east-1"]
	tables := d.ofType("AWS::DynamoDB::GlobalTable")
	if len(tables) != 1 {
		t.Fatalf("global tables %v", tables)
	}
	tp := d.Resources[tables[0]].Properties
	if _, ok := tp["MultiRegionConsistency"]; ok {
		t.Errorf("MultiRegionConsistency %v, want DynamoDB's default (eventual)", tp["MultiRegionConsistency"])
	}
	if flat(tp["TimeToLiveSpecification"]) != `{"AttributeName":"`+table.TTLAttribute+`","Enabled":true}` {
		t.Errorf("TTL %v", tp["TimeToLiveSpecification"])
	}
	if env := docs["applinks-dev-eu-west-1"].env(t, "token"); env["SECRET_PRIMARY_REGION"] != "us-east-1" || env["SECRET_REPLICA_REGIONS"] != "eu-west-1" ||
		env["STORE_TRANSACTIONS"] != nil {
		t.Errorf("eu-west-1 token env %v", env)
	}
}

// TestMultiRegionErrors: what several regions cannot be is refused at
// synth, with the reason.
func TestMultiRegionErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(*ProviderStackProps)
		want   string
	}{
		{"two regions, strong", func(p *ProviderStackProps) { p.Regions = usRegions[:2] }, "2 regions; multi-Region strong consistency needs exactly three regions of one region set (AP: "},
		{"two region sets", func(p *ProviderStackProps) { p.Regions = []string{"us-east-1", "us-east-2", "eu-west-1"} }, "eu-west-1 is not in the US region set of us-east-1"},
		{"no region set", func(p *ProviderStackProps) { p.Regions = []string{"sa-east-1", "us-east-2", "us-west-2"} }, "sa-east-1 is in no region set"},
		{"not a region", func(p *ProviderStackProps) { p.Regions = []string{"us-east-1", "USEAST2"} }, `"USEAST2" is not a region name`},
		{"twice", func(p *ProviderStackProps) { p.Regions = []string{"us-east-1", "us-east-1"} }, "us-east-1 is listed twice"},
		{"bad consistency", func(p *ProviderStackProps) { p.Consistency = "quorum" }, `consistency: "quorum" is neither strong nor eventual`},
		{"no domain", func(p *ProviderStackProps) { p.DomainName, p.CertificateArn = "", "" }, "several regions need domainName"},
		{"no zone", func(p *ProviderStackProps) { p.HostedZoneID = "" }, "several regions need hostedZoneId and hostedZoneName"},
		{"domain outside the zone", func(p *ProviderStackProps) { p.HostedZoneName = "example.org" }, "domain name auth.example.com is not in the hosted zone example.org"},
		{"a certificate missing", func(p *ProviderStackProps) { p.CertificateArn = strings.SplitN(p.CertificateArn, ",", 2)[1] }, "certificate ARNs: none in us-east-1"},
		{"KMS key", func(p *ProviderStackProps) { p.CreateKMSKey = true }, "kmsKey is not supported yet"},
		{"front door", func(p *ProviderStackProps) {
			p.FrontDomainName, p.FrontCertificateArn = "front.example.com", "arn:aws:acm:us-east-1:000000000000:certificate/x"
		}, "the front door (frontDomainName) is not supported"},
		{"one region with a zone", func(p *ProviderStackProps) { p.Regions = usRegions[:1] }, "apply to several regions only"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := multiRegionProps()
			p.AssetDir = "unused"
			c.change(&p)
			noPanic(t, "NewProvider", func() {
				app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
				_, err := NewProvider(app, "applinks-dev", p)
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("got %v, want an error with %q", err, c.want)
				}
			})
		})
	}
}

// TestCfnLintMultiRegion: cfn-lint on each region's template of the
// multi-region synth: no error, only the warnings allowed for a stack.
func TestCfnLintMultiRegion(t *testing.T) {
	lint, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Fatal("cfn-lint not found on PATH (cfn-lint 1.51.0 is needed): run `make tools`")
	}
	_, dir := synthRegions(t, multiRegionProps())
	for _, r := range usRegions {
		t.Run(r, func(t *testing.T) {
			lintFile(t, lint, filepath.Join(dir, "applinks-dev-"+r+".template.json"), "stack")
		})
	}
}

// TestCdkNagMultiRegion: cdk-nag's AwsSolutions pack finds nothing
// unsuppressed in any region's stack.
func TestCdkNagMultiRegion(t *testing.T) {
	props := multiRegionProps()
	props.AssetDir = assets(t)
	var out []string
	noPanic(t, "nag", func() {
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
		awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
		stacks, err := NewProvider(app, "applinks-dev", props)
		if err != nil {
			t.Fatalf("NewProvider: %v", err)
		}
		for _, s := range stacks {
			ann := assertions.Annotations_FromStack(s.Stack)
			match := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-"))
			for _, find := range []func(*string, any) *[]*cxapi.SynthesisMessage{ann.FindError, ann.FindWarning} {
				for _, m := range *find(jsii.String("*"), match) {
					out = append(out, fmt.Sprintf("%s %s: %v", *s.StackName(), *m.Id, m.Entry.Data))
				}
			}
		}
	})
	for _, f := range out {
		t.Errorf("cdk-nag: %s", f)
	}
}
