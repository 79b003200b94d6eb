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

// synthFile synthesizes the stack with props into a cloud assembly, as
// `make synth` does (fake account and region), and returns the path of its
// template.
func synthFile(t *testing.T, props ProviderStackProps) string {
	t.Helper()
	if props.AssetDir == "" {
		props.AssetDir = assets(t)
	}
	if props.Env == nil {
		props.Env = &awscdk.Environment{Account: jsii.String("000000000000"), Region: jsii.String("us-east-1")}
	}
	var path string
	noPanic(t, "synth", func() {
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
		if _, err := NewProviderStack(app, "applinks-dev", props); err != nil {
			t.Fatalf("NewProviderStack: %v", err)
		}
		asm := app.Synth(nil)
		path = filepath.Join(*asm.Directory(), "applinks-dev.template.json")
	})
	return path
}

// variants are the stacks the lint and nag tests check: the default one,
// the custom-domain one (which adds the domain and its API mapping), and
// the one without the API that make localstack-deploy puts into moto.
var variants = map[string]ProviderStackProps{
	"default":     {},
	"without API": {WithoutAPI: true},
	"custom domain": {
		DomainName:     "auth.example.com",
		CertificateArn: "arn:aws:acm:us-east-1:000000000000:certificate/11111111-2222-3333-4444-555555555555",
	},
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
	// per is how many times each variant reports it.
	per int
}

var allowedWarnings = []allowedWarning{
	// awslambda.Function adds a DependsOn on its service role (with the
	// one on the role's default policy, which is needed) although Role's
	// GetAtt already orders the two. The order CloudFormation follows is
	// the same; overriding DependsOn by hand would also drop whatever
	// dependency CDK adds there later.
	{"W3005", regexp.MustCompile(`^Resources/(Token|Authorize|Admin)Function[0-9A-F]{8}/DependsOn/\d+: '(Token|Authorize|Admin)FunctionServiceRole[0-9A-F]{8}' dependency already enforced`), 3},
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
		t.Run(name, func(t *testing.T) {
			path := synthFile(t, props)
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
				if seen[i] != a.per {
					t.Errorf("allowed %s warning %s: reported %d times, want %d (update allowedWarnings and infra/README.md)", a.rule, a.at, seen[i], a.per)
				}
			}
		})
	}
}
