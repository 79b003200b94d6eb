package lambdahttp

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
	"github.com/applinks/applinks/shared/web"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		serveChild()
		return
	}
	os.Exit(storetest.Main(m))
}

// clearAWSEnv removes every AWS variable store.Open reads, and restores
// slog's default logger after the test.
func clearAWSEnv(t *testing.T) {
	t.Helper()
	for _, v := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SECRETS_MANAGER"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	prev := slog.Default()
	t.Cleanup(func() { slog.SetDefault(prev) })
}

// TestSetup: the handler is built once from the environment's configuration
// and store, and serves through the API Gateway adapter with the API
// Gateway request id in its JSON log lines, which slog's default logger
// also writes.
func TestSetup(t *testing.T) {
	clearAWSEnv(t)
	b := storetest.KumoBackend(t)
	env := map[string]string{
		"ISSUER_URL":       "https://auth.example.com",
		"TABLE_NAME":       b.Options.TableName,
		"AWS_ENDPOINT_URL": b.DynamoDBEndpoint,
	}
	var logs bytes.Buffer
	calls := 0
	h, err := setup(context.Background(), func(k string) string { return env[k] }, &logs,
		func(_ context.Context, cfg config.Config, st *store.Store) (http.Handler, error) {
			calls++
			if cfg.Issuer != env["ISSUER_URL"] || st.TableName() != env["TABLE_NAME"] {
				t.Errorf("build got issuer %q, table %q; want %q, %q", cfg.Issuer, st.TableName(), env["ISSUER_URL"], env["TABLE_NAME"])
			}
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				web.Logger(r.Context()).Info("inside")
				w.WriteHeader(http.StatusTeapot)
			}), nil
		})
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	if calls != 1 {
		t.Errorf("build called %d times, want 1", calls)
	}
	resp, err := httpadapter.NewV2(h).ProxyWithContext(context.Background(), events.APIGatewayV2HTTPRequest{
		Version: "2.0", RawPath: "/x", Headers: map[string]string{},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: "req-42",
			HTTP:      events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodGet, Path: "/x"},
		},
	})
	if err != nil {
		t.Fatalf("ProxyWithContext: %v", err)
	}
	if resp.StatusCode != http.StatusTeapot {
		t.Errorf("got status %d, want %d", resp.StatusCode, http.StatusTeapot)
	}
	// An https issuer: every response of a function carries HSTS.
	if got := resp.Headers["Strict-Transport-Security"]; got != web.HSTSValue {
		t.Errorf("got Strict-Transport-Security %q (headers %v), want %q", got, resp.Headers, web.HSTSValue)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d log lines, want 2 (the handler's and the request's):\n%s", len(lines), logs.String())
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "{") || !strings.Contains(l, `"request_id":"req-42"`) {
			t.Errorf("got log line %s, want JSON with the API Gateway request id", l)
		}
	}
	slog.Info("default")
	if !strings.Contains(logs.String(), `"msg":"default"`) {
		t.Errorf("got logs %s, want slog's default logger writing JSON to them", logs.String())
	}
}

func TestSetupErrors(t *testing.T) {
	errBuild := errors.New("build failed")
	cases := []struct {
		name    string
		env     map[string]string // read by config.FromEnv
		process map[string]string // read by store.Open
		build   error
		want    string
		builds  bool
		wantErr error
	}{
		{"invalid configuration", map[string]string{"ISSUER_URL": "ftp://x"}, nil, nil, "ISSUER_URL: ", false, nil},
		{"no credentials", nil, map[string]string{"AWS_REGION": "eu-west-1"}, nil, "open store: ", false, nil},
		{"build fails", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:1"}, nil, errBuild, "build failed", true, errBuild},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clearAWSEnv(t)
			for k, v := range c.process {
				t.Setenv(k, v)
			}
			built := false
			_, err := setup(context.Background(), func(k string) string { return c.env[k] }, &bytes.Buffer{},
				func(context.Context, config.Config, *store.Store) (http.Handler, error) {
					built = true
					return nil, c.build
				})
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("got error %v, want one starting %q", err, c.want)
			}
			if c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Errorf("got error %v, want it to wrap %v", err, c.wantErr)
			}
			if built != c.builds {
				t.Errorf("build called: got %v, want %v", built, c.builds)
			}
		})
	}
}

// childEnv makes the test binary run Serve with an invalid configuration
// (TestServeFails).
const childEnv = "LAMBDAHTTP_TEST_SERVE_CHILD"

func serveChild() {
	os.Setenv("ISSUER_URL", "ftp://x")
	Serve("fn", func(context.Context, config.Config, *store.Store) (http.Handler, error) {
		return http.NotFoundHandler(), nil
	})
	os.Exit(0) // unreachable: Serve exits on the invalid configuration
}

// TestServeFails: a set-up failure is one stderr line naming the function
// and the cause, and exit status 1.
func TestServeFails(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("got %v, want exit status 1", err)
	}
	got := stderr.String()
	if !strings.HasPrefix(got, "fn: ISSUER_URL: ") || strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "\n") {
		t.Errorf("got stderr %q, want one line starting %q", got, "fn: ISSUER_URL: ")
	}
	if stdout.Len() != 0 {
		t.Errorf("got stdout %q, want nothing", stdout.String())
	}
}

// TestServing: Serving reads the channel Serve puts in Build's context,
// and is nil in any other context (work need not wait there).
func TestServing(t *testing.T) {
	if ch := Serving(context.Background()); ch != nil {
		t.Errorf("Serving outside Serve: got %v, want nil", ch)
	}
	ch := make(chan struct{})
	if got := Serving(context.WithValue(context.Background(), servingKey{}, ch)); got != (<-chan struct{})(ch) {
		t.Errorf("Serving in Serve's context: got %v, want its channel", got)
	}
}
