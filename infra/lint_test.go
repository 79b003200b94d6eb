package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// synthFiles synthesizes the stack with props into a cloud assembly, as
// `make synth` does (fake account and region), and returns the paths of
// its templates: the stack's, and the edge stack's with a front door.
func synthFiles(t *testing.T, props ProviderStackProps) []string {
	t.Helper()
	if props.AssetDir == "" {
		props.AssetDir = assets(t)
	}
	if props.Env == nil {
		props.Env = &awscdk.Environment{Account: jsii.String("000000000000"), Region: jsii.String("us-east-1")}
	}
	var paths []string
	noPanic(t, "synth", func() {
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
		s, err := NewProviderStack(app, "applinks-dev", props)
		if err != nil {
			t.Fatalf("NewProviderStack: %v", err)
		}
		asm := app.Synth(nil)
		paths = append(paths, filepath.Join(*asm.Directory(), "applinks-dev.template.json"))
		if s.Edge != nil {
			paths = append(paths, filepath.Join(*asm.Directory(), *s.Edge.TemplateFile()))
		}
	})
	return paths
}

// frontDoorProps is the variant with every option of the security
// settings: the CloudFront front door (web ACL in us-east-1, the stack in
// eu-west-1, so the reference crosses regions), a customer managed KMS
// key and an operator role.
var frontDoorProps = ProviderStackProps{
	StackProps: awscdk.StackProps{Env: &awscdk.Environment{
		Account: jsii.String("000000000000"), Region: jsii.String("eu-west-1"),
	}},
	DomainName:          "origin.auth.example.com",
	CertificateArn:      "arn:aws:acm:eu-west-1:000000000000:certificate/11111111-2222-3333-4444-555555555555",
	FrontDomainName:     "auth.example.com",
	FrontCertificateArn: "arn:aws:acm:us-east-1:000000000000:certificate/66666666-7777-8888-9999-000000000000",
	CreateKMSKey:        true,
	OperatorRoleArns:    []string{"arn:aws:iam::000000000000:role/ops/applinks-operator"},
}

// variants are the stacks the lint and nag tests check: the default one,
// the custom-domain one (which adds the domain and its API mapping), the
// one without the API that make localstack-deploy puts into moto, and the
// front door with a KMS key.
var variants = map[string]ProviderStackProps{
	"default":     {},
	"without API": {WithoutAPI: true},
	"custom domain": {
		DomainName:     "auth.example.com",
		CertificateArn: "arn:aws:acm:us-east-1:000000000000:certificate/11111111-2222-3333-4444-555555555555",
	},
	"front door and KMS key": frontDoorProps,
}

// lintFinding is one finding of cfn-lint's JSON output.
type lintFinding struct {
	Rule struct {
		ID string `json:"Id"`
	} `json:"Rule"`
	Level    string `json:"Level"`
	Message  string `json:"Message"`
	Location struct {
		Path []any `json:"Path"`
	} `json:"Location"`
}

func (f lintFinding) String() string {
	var p []string
	for _, e := range f.Location.Path {
		p = append(p, fmt.Sprint(e))
	}
	return fmt.Sprintf("%s %s at %s: %s", f.Level, f.Rule.ID, strings.Join(p, "/"), strings.TrimSpace(f.Message))
}

// allowedWarning is a cfn-lint warning that is known, harmless and listed
// with its reason in infra/README.md ("cfn-lint").
type allowedWarning struct {
	rule string
	// at matches the finding's location and message.
	at *regexp.Regexp
	// per is how many times each kind of template reports it: "stack"
	// (the provider's), "front" (the provider's with the front door),
	// "edge" (the front door's web ACL stack).
	per map[string]int
}

var allowedWarnings = []allowedWarning{
	// awslambda.Function adds a DependsOn on its service role (with the
	// one on the role's default policy, which is needed) although Role's
	// GetAtt already orders the two. The order CloudFormation follows is
	// the same; overriding DependsOn by hand would also drop whatever
	// dependency CDK adds there later. cfn-lint reports it once per GetAtt
	// of the function's own role: its Role, and its role's ARN in
	// LINK_SECRET_PRINCIPALS, SIGNING_KEY_PRINCIPALS and
	// IDP_SECRET_PRINCIPALS (admin 4, token 2, authorize 1).
	{"W3005", regexp.MustCompile(`^Resources/(Token|Authorize|Admin)Function[0-9A-F]{8}/DependsOn/\d+: '(Token|Authorize|Admin)FunctionServiceRole[0-9A-F]{8}' dependency already enforced`),
		map[string]int{"stack": 7, "front": 7}},
	// The same in CDK's own custom resource providers of the front door's
	// cross-region reference (the web ACL's ARN, written to an SSM
	// parameter in us-east-1 and read in the provider's region).
	{"W3005", regexp.MustCompile(`^Resources/CustomCrossRegionExport(Reader|Writer)CustomResourceProviderHandler[0-9A-F]{8}/DependsOn/0: 'CustomCrossRegionExport(Reader|Writer)CustomResourceProviderRole[0-9A-F]{8}' dependency already enforced`),
		map[string]int{"front": 1, "edge": 1}},
}

// TestCfnLint: the synthesized templates pass cfn-lint with no error, and
// every warning is one of allowedWarnings. cfn-lint's exit status is a set
// of bits (2 error, 4 warning, 8 informational); anything else is a
// failure of cfn-lint itself.
func TestCfnLint(t *testing.T) {
	lint, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Fatal("cfn-lint not found on PATH (cfn-lint 1.51.0 is needed): run `make tools`")
	}
	for name, props := range variants {
		for i, path := range synthFiles(t, props) {
			kind := "stack"
			switch {
			case i > 0:
				kind = "edge"
			case props.FrontDomainName != "":
				kind = "front"
			}
			t.Run(name+"/"+filepath.Base(path), func(t *testing.T) {
				lintFile(t, lint, path, kind)
			})
		}
	}
}

// lintFile runs cfn-lint on one template of kind (allowedWarning.per) for
// TestCfnLint.
func lintFile(t *testing.T, lint, path, kind string) {
	t.Helper()
	var out, stderr bytes.Buffer
	cmd := exec.Command(lint, "--format", "json", "--", path)
	cmd.Stdout, cmd.Stderr = &out, &stderr
	code := 0
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("cfn-lint: %v", err)
		}
		code = ee.ExitCode()
	}
	if code&^(4|8) != 0 {
		t.Errorf("cfn-lint exit status %d (2 = error): %s%s", code, out.String(), stderr.String())
	}
	var findings []lintFinding
	if err := json.Unmarshal(out.Bytes(), &findings); err != nil {
		t.Fatalf("cfn-lint output: %v: %s%s", err, out.String(), stderr.String())
	}
	seen := make([]int, len(allowedWarnings))
next:
	for _, f := range findings {
		if f.Level != "Error" {
			for i, a := range allowedWarnings {
				if f.Rule.ID == a.rule && a.at.MatchString(strings.TrimPrefix(f.String(), f.Level+" "+f.Rule.ID+" at ")) {
					seen[i]++
					continue next
				}
			}
		}
		t.Errorf("cfn-lint: %s (fix it, or list it with its reason in allowedWarnings and infra/README.md)", f)
	}
	for i, a := range allowedWarnings {
		if want := a.per[kind]; seen[i] != want {
			t.Errorf("allowed %s warning %s: reported %d times, want %d (update allowedWarnings and infra/README.md)", a.rule, a.at, seen[i], a.per[kind])
		}
	}
}
