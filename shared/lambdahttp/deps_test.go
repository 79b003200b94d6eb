package lambdahttp

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// forbidden are packages that must not be linked into a Lambda binary, by
// import path prefix, with the reason. html/template and text/template may
// be linked (templ's runtime imports them) as long as no template is
// executed: TestNoReflectMethod checks what executing one costs.
var forbidden = []struct{ prefix, why string }{
	{"github.com/aws/aws-sdk-go-v2/config", "the SDK's default chain (SSO, STS, IMDS, processes): store.Open reads the environment"},
	{"github.com/aws/aws-sdk-go-v2/service/sts", "pulled in by the default chain"},
	{"github.com/aws/aws-sdk-go-v2/service/sso", "pulled in by the default chain"},
	{"github.com/aws/aws-sdk-go-v2/feature/ec2/imds", "pulled in by the default chain"},
	{"github.com/sivchari/kumo", "the emulator is for tests and the local runner"},
	{"github.com/aws/aws-sdk-go-v2/service/dynamodb/schemas", "schema-based serde (service/dynamodb v1.69.0 and later) builds every shape of the API in package init: about 3 ms more cold start, measured (BENCHMARKS.md); go.mod keeps v1.68.0 until that is re-measured"},
	{"github.com/aws/aws-sdk-go-v2/service/secretsmanager/schemas", "schema-based serde (service/secretsmanager v1.50.0 and later), as for DynamoDB: go.mod keeps v1.49.0"},
	{"testing", "test code"},
	{"net/http/httptest", "test code"},
	{"github.com/applinks/applinks/local", "the local runner"},
	{"github.com/applinks/applinks/tests", "the suites and their test kit"},
	{"github.com/applinks/applinks/bench", "the benchmarks and load tools"},
}

// module is the import path of this module.
const module = "github.com/applinks/applinks"

// testSupport reports whether the package at import path p is test support:
// a package of this module named for it, as the standard library names
// net/http/httptest (shared/clocktest, shared/logtest,
// shared/store/storetest, ...), or located under tests/ (the suites and
// tests/testkit) or bench/ (benchmarks and load tools). No Lambda binary
// may link one.
func testSupport(p string) bool {
	if !strings.HasPrefix(p, module+"/") {
		return false
	}
	rel := strings.TrimPrefix(p, module+"/")
	return strings.HasSuffix(path.Base(p), "test") ||
		strings.HasPrefix(rel, "tests/") || strings.HasPrefix(rel, "bench/")
}

// TestTestSupportByName: the test-support packages are named or located
// as testSupport recognises them, so that TestLambdaDependencies keeps them
// out of the Lambda binaries; a package renamed or moved away from the
// convention fails here.
func TestTestSupportByName(t *testing.T) {
	out, err := exec.Command("go", "list", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := strings.Fields(string(out))
	for _, want := range []string{"shared/clocktest", "shared/logtest", "shared/store/storetest", "shared/permissions/permissionstest", "shared/upstream/upstreamtest",
		"tests/testkit/browser", "tests/testkit/oauthflow", "tests/testkit/htmlform", "tests/testkit/testca"} {
		p := module + "/" + want
		if !slices.Contains(pkgs, p) {
			t.Errorf("got no package %s, want the test support there (or this list updated)", p)
		} else if !testSupport(p) {
			t.Errorf("testSupport(%q) = false, want true", p)
		}
	}
	for _, p := range []string{module + "/shared/store", module + "/shared/web", module + "/functions/token", module + "/local/server", module + "/testsuite", "net/http/httptest"} {
		if testSupport(p) {
			t.Errorf("testSupport(%q) = true, want false", p)
		}
	}
}

// TestLambdaDependencies lists what each function's bootstrap links (as
// make build builds it) and refuses the packages that made the binaries
// outgrow their 10 MB budget, test code and the local runner's packages.
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
				if testSupport(d) {
					t.Errorf("got %s among the dependencies, want none: test code", d)
				}
				for _, f := range forbidden {
					if d == f.prefix || strings.HasPrefix(d, f.prefix+"/") {
						t.Errorf("got %s among the dependencies, want none: %s", d, f.why)
					}
				}
			}
		})
	}
}

// makeBuildGCFlags is make build's -gcflags: the admin function's own
// package without inlining (Makefile, "build").
const makeBuildGCFlags = "-gcflags=github.com/applinks/applinks/functions/admin=-l"

// budgets are the size limits make build enforces on the bootstraps
// (Makefile MAX_FN_BYTES and MAX_FN_BYTES_admin), for the log.
var budgets = map[string]int64{"admin": 12 << 20, "authorize": 10 << 20, "token": 10 << 20}

// TestNoReflectMethod builds each function's bootstrap as make build does
// and reads the linker's reachability graph (-dumpdep): no reachable
// function may call a method by a name known only at run time
// (reflect.Value.MethodByName and the like, which the linker marks
// <ReflectMethod>), because then the linker keeps every exported method of
// every reachable type: executing an html/template or text/template
// template did that and cost about 2.4 MB. It also fails a bootstrap over
// its size budget, as make build does. The positive control,
// testdata/reflectmethod (a program that executes a template), must be
// marked, so that a change in the linker's output cannot make this test
// pass by seeing nothing.
func TestNoReflectMethod(t *testing.T) {
	// The sizes are make build's only if the bootstraps are built as it
	// builds them: its build line carries the same -gcflags.
	if mk, err := os.ReadFile("../../Makefile"); err != nil {
		t.Fatal(err)
	} else if !strings.Contains(string(mk), "-ldflags='-s -w' "+makeBuildGCFlags+" ") {
		t.Fatalf("the Makefile's build line lacks %q, which this test builds with", makeBuildGCFlags)
	}
	dir := t.TempDir()
	link := func(t *testing.T, pkg, out string) (marked []string, size int64) {
		t.Helper()
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w -dumpdep",
			makeBuildGCFlags, "-o", out, pkg) // as make build
		cmd.Env = append(cmd.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, stderr.Bytes())
		}
		edges := 0
		sc := bufio.NewScanner(&stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			from, _, ok := strings.Cut(sc.Text(), " -> ")
			if !ok {
				continue
			}
			edges++
			if name, ok := strings.CutSuffix(from, " <ReflectMethod>"); ok && !slices.Contains(marked, name) {
				marked = append(marked, name)
			}
		}
		if edges < 1000 {
			t.Fatalf("go build %s -dumpdep: got %d edges, want the linker's whole graph", pkg, edges)
		}
		fi, err := os.Stat(out)
		if err != nil {
			t.Fatal(err)
		}
		return marked, fi.Size()
	}
	t.Run("control", func(t *testing.T) {
		if marked, _ := link(t, "./testdata/reflectmethod", filepath.Join(dir, "control")); len(marked) == 0 {
			t.Errorf("got no <ReflectMethod> function in a program that executes a template: the check sees nothing")
		}
	})
	for _, fn := range []string{"admin", "authorize", "token"} {
		t.Run(fn, func(t *testing.T) {
			marked, size := link(t, "github.com/applinks/applinks/functions/"+fn+"/lambda", filepath.Join(dir, fn))
			if len(marked) > 0 {
				t.Errorf("got functions that call methods by name, so the linker keeps every exported method: %s", strings.Join(marked, ", "))
			}
			// The budgets make build enforces, enforced here too, since
			// make test does not build the zips.
			t.Logf("%s bootstrap: %d bytes (budget %d)", fn, size, budgets[fn])
			if size > budgets[fn] {
				t.Errorf("%s bootstrap: %d bytes, over its budget of %d (the Makefile's MAX_FN_BYTES)", fn, size, budgets[fn])
			}
		})
	}
}
