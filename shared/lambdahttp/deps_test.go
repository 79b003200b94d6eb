package lambdahttp

import (
	"os/exec"
	"strings"
	"testing"
)

// forbidden are packages that must not be linked into a Lambda binary, by
// import path prefix, with the reason.
var forbidden = []struct{ prefix, why string }{
	{"text/template", "template packages call methods by name through reflect, so the linker keeps every exported method (megabytes)"},
	{"html/template", "same as text/template"},
	{"github.com/aws/aws-sdk-go-v2/config", "the SDK's default chain (SSO, STS, IMDS, processes): store.Open reads the environment"},
	{"github.com/aws/aws-sdk-go-v2/service/sts", "pulled in by the default chain"},
	{"github.com/aws/aws-sdk-go-v2/service/sso", "pulled in by the default chain"},
	{"github.com/aws/aws-sdk-go-v2/feature/ec2/imds", "pulled in by the default chain"},
	{"github.com/sivchari/kumo", "the emulator is for tests and the local runner"},
	{"github.com/aws/aws-sdk-go-v2/service/dynamodb/schemas", "schema-based serde (service/dynamodb v1.69.0 and later) builds every shape of the API in package init: about 3 ms more cold start, measured (BENCHMARKS.md); go.mod keeps v1.68.0 until that is re-measured"},
	{"github.com/aws/aws-sdk-go-v2/service/secretsmanager/schemas", "schema-based serde (service/secretsmanager v1.50.0 and later), as for DynamoDB: go.mod keeps v1.49.0"},
	{"testing", "test code"},
	{"net/http/httptest", "test code"},
	{"github.com/applinks/applinks/shared/clocktest", "test code"},
	{"github.com/applinks/applinks/shared/logtest", "test code"},
	{"github.com/applinks/applinks/shared/permissions/permissionstest", "test code"},
}

// TestLambdaDependencies lists what each function's bootstrap links (as
// make build builds it) and refuses the packages that made the binaries
// outgrow their 10 MB budget.
func TestLambdaDependencies(t *testing.T) {
	for _, fn := range []string{"admin", "authorize", "token"} {
		t.Run(fn, func(t *testing.T) {
			cmd := exec.Command("go", "list", "-deps", "-tags", "lambda.norpc", "github.com/applinks/applinks/functions/"+fn+"/lambda")
			cmd.Env = append(cmd.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list: %v", err)
			}
			deps := strings.Fields(string(out))
			if len(deps) < 50 {
				t.Fatalf("got %d dependencies, want the full list", len(deps))
			}
			for _, d := range deps {
				for _, f := range forbidden {
					if d == f.prefix || strings.HasPrefix(d, f.prefix+"/") {
						t.Errorf("got %s among the dependencies, want none: %s", d, f.why)
					}
				}
			}
		})
	}
}
