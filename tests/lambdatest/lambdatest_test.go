//go:build unix

package lambdatest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/applinks/applinks/shared/store/storetest"
	"github.com/applinks/applinks/tests/testkit/oauthflow"
)

const issuer = "https://auth.example.com"

func TestMain(m *testing.M) {
	code := storetest.Main(m)
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binDir    string
	bins      map[string]string
	buildErr  error
)

// bootstraps builds the three functions once per test binary.
func bootstraps(t *testing.T) map[string]string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "lambdatest-")
		if buildErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		bins, buildErr = Build(ctx, binDir)
	})
	if buildErr != nil {
		t.Fatalf("build the functions: %v", buildErr)
	}
	return bins
}

// deployment is the three functions under the emulator on one fresh table,
// as one stack would run them.
type deployment map[string]*Emulator

func deploy(t *testing.T, fns ...string) deployment {
	t.Helper()
	b := bootstraps(t)
	rie, err := RIEPath()
	if err != nil {
		t.Fatal(err)
	}
	env := append(storetest.DynamoLocalEnv(t).Environ(), "ISSUER_URL="+issuer)
	d := deployment{}
	for _, fn := range fns {
		d[fn] = Start(t, rie, b[fn], env)
	}
	return d
}

// invoke calls fn with ev and fails the test on a function or emulator
// error.
func (d deployment) invoke(t *testing.T, fn string, ev events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	resp, err := d[fn].Invoke(ev)
	if err != nil {
		t.Fatalf("%s %s %s: %v", fn, ev.RequestContext.HTTP.Method, ev.RawPath, err)
	}
	return resp
}

// body returns the response body, decoded when the adapter sent it base64.
func body(t *testing.T, r events.APIGatewayV2HTTPResponse) string {
	t.Helper()
	if !r.IsBase64Encoded {
		return r.Body
	}
	b, err := base64.StdEncoding.DecodeString(r.Body)
	if err != nil {
		t.Fatalf("response body is not base64: %v", err)
	}
	return string(b)
}

// header returns a response header by case-insensitive name.
func header(r events.APIGatewayV2HTTPResponse, name string) string {
	for k, v := range r.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	for k, v := range r.MultiValueHeaders {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return strings.Join(v, ", ")
		}
	}
	return ""
}

func decodeJSON(t *testing.T, r events.APIGatewayV2HTTPResponse, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body(t, r)), v); err != nil {
		t.Fatalf("response body %q: %v", body(t, r), err)
	}
}

const formType = "application/x-www-form-urlencoded"

func TestTokenMetadata(t *testing.T) {
	d := deploy(t, "token")
	resp := d.invoke(t, "token", Event("GET", "/.well-known/oauth-authorization-server", nil, ""))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status: got %d, want 200; body %s", resp.StatusCode, body(t, resp))
	}
	var md struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
		JWKSURI       string `json:"jwks_uri"`
	}
	decodeJSON(t, resp, &md)
	if md.Issuer != issuer {
		t.Errorf("issuer: got %q, want %q (ISSUER_URL, never the Host)", md.Issuer, issuer)
	}
	if want := issuer + "/oauth2/token"; md.TokenEndpoint != want {
		t.Errorf("token_endpoint: got %q, want %q", md.TokenEndpoint, want)
	}

	jwks := d.invoke(t, "token", Event("GET", "/.well-known/jwks.json", nil, ""))
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	decodeJSON(t, jwks, &set)
	if jwks.StatusCode != http.StatusOK || len(set.Keys) == 0 {
		t.Errorf("jwks: got status %d with %d keys, want 200 with the key created at the first start", jwks.StatusCode, len(set.Keys))
	}

	// The first invocation initialised the environment (a cold start), the
	// second reused it.
	reports := d["token"].WaitReports(2, 5*time.Second)
	if len(reports) != 2 {
		t.Fatalf("got %d REPORT lines, want 2:\n%s", len(reports), d["token"].Output())
	}
	if reports[0].InitDuration <= 0 || reports[1].InitDuration != 0 {
		t.Errorf("init durations: got %v then %v, want a cold start then a warm one", reports[0].InitDuration, reports[1].InitDuration)
	}
	t.Logf("token: init %v, first %v, second %v", reports[0].InitDuration, reports[0].Duration, reports[1].Duration)

	// Every line the function wrote is JSON (SPEC "Errors and logs"),
	// including the audit line of the signing key created at start-up.
	lines := functionLines(d["token"].Output())
	var sawKey bool
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Errorf("log line is not JSON: %q", l)
			continue
		}
		if m["audit"] == true {
			sawKey = true
		}
	}
	if len(lines) < 3 || !sawKey {
		t.Errorf("got %d log lines (audit line of the new signing key: %v), want the start-up audit line and one line per request", len(lines), sawKey)
	}
}

func TestTokenUnknownClient(t *testing.T) {
	d := deploy(t, "token")
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {"abc"},
		"client_id": {"unknown"}, "client_secret": {"wrong"},
	}
	resp := d.invoke(t, "token", Event("POST", "/oauth2/token", map[string]string{"Content-Type": formType}, form.Encode()))
	var e struct {
		Error string `json:"error"`
	}
	decodeJSON(t, resp, &e)
	if resp.StatusCode != http.StatusUnauthorized || e.Error != "invalid_client" {
		t.Errorf("got %d %q, want 401 invalid_client", resp.StatusCode, e.Error)
	}
	if header(resp, "WWW-Authenticate") == "" {
		t.Errorf("no WWW-Authenticate header on invalid_client (RFC 6749 §5.2); headers %v", resp.Headers)
	}
	if got := header(resp, "Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control: got %q, want no-store", got)
	}
}

func TestAuthorizeErrorPage(t *testing.T) {
	d := deploy(t, "authorize")
	resp := d.invoke(t, "authorize", Event("GET",
		"/oauth2/authorize?response_type=code&client_id=unknown&state=xyz", nil, ""))
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status: got %d, want 400", resp.StatusCode)
	}
	if got := header(resp, "Content-Type"); !strings.HasPrefix(got, "text/html") {
		t.Errorf("Content-Type: got %q, want text/html", got)
	}
	if got := header(resp, "Location"); got != "" {
		t.Errorf("Location: got %q, want none (an unknown client is never redirected to)", got)
	}
	if b := body(t, resp); !strings.Contains(b, "<html") {
		t.Errorf("body: got %q, want an HTML page", b)
	}
}

func TestAdminNeedsIAMPrincipal(t *testing.T) {
	d := deploy(t, "admin")
	user := `{"username":"alice","password":"plum tractor velvet orbit","permissions":["REPO_READ"]}`
	jsonType := map[string]string{"Content-Type": "application/json"}

	resp := d.invoke(t, "admin", Event("POST", "/admin/users", jsonType, user))
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("without an IAM principal: got %d, want 403; body %s", resp.StatusCode, body(t, resp))
	}
	// An authorizer of another kind is no IAM principal either.
	ev := Event("POST", "/admin/users", jsonType, user)
	ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		Lambda: map[string]any{"principal": "someone"},
	}
	if resp := d.invoke(t, "admin", ev); resp.StatusCode != http.StatusForbidden {
		t.Errorf("with a Lambda authorizer context: got %d, want 403", resp.StatusCode)
	}

	const arn = "arn:aws:iam::123456789012:user/ops"
	resp = d.invoke(t, "admin", WithIAM(Event("POST", "/admin/users", jsonType, user), arn))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create user with an IAM principal: got %d, want 201; body %s", resp.StatusCode, body(t, resp))
	}
	resp = d.invoke(t, "admin", WithIAM(Event("GET", "/admin/users/alice", nil, ""), arn))
	var u struct {
		Username    string   `json:"username"`
		Permissions []string `json:"permissions"`
	}
	decodeJSON(t, resp, &u)
	if resp.StatusCode != http.StatusOK || u.Username != "alice" {
		t.Errorf("get user: got %d %+v, want 200 alice", resp.StatusCode, u)
	}
	if strings.Contains(body(t, resp), "correct horse") || strings.Contains(body(t, resp), "argon2") {
		t.Errorf("get user shows the password or its hash: %s", body(t, resp))
	}
	// The audit line names the IAM principal and the request id is API
	// Gateway's.
	if out := d["admin"].Output(); !strings.Contains(out, arn) || !strings.Contains(out, `"request_id":"req-`) {
		t.Errorf("logs: want the IAM principal and API Gateway's request id in the JSON lines:\n%s", out)
	}
}

// TestTokenRequestBodies sends token requests whose bodies only parse if
// the adapter and the handler agree on them: form-encoded, base64-encoded
// (isBase64Encoded, as API Gateway sends bodies it considers binary), and
// with client_secret_basic. A refresh token that does not exist, from a real
// client, is invalid_grant: the body was read and the client authenticated.
func TestTokenRequestBodies(t *testing.T) {
	d := deploy(t, "admin", "token")
	link := `{"name":"CI app","redirect_uris":["https://app.example.com/callback"],` +
		`"scopes":["REPO_READ"],"client_type":"confidential","enabled":true}`
	resp := d.invoke(t, "admin", WithIAM(Event("POST", "/admin/links",
		map[string]string{"Content-Type": "application/json"}, link), "arn:aws:iam::123456789012:user/ops"))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create link: got %d, want 201; body %s", resp.StatusCode, body(t, resp))
	}
	var l struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	decodeJSON(t, resp, &l)
	if l.ClientID == "" || l.ClientSecret == "" {
		t.Fatalf("create link: got %s, want client_id and client_secret", body(t, resp))
	}

	post := url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {"no-such-refresh-token"},
		"client_id": {l.ClientID}, "client_secret": {l.ClientSecret},
	}.Encode()
	basicForm := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"no-such-refresh-token"}}.Encode()
	basic := oauthflow.Basic(l.ClientID, l.ClientSecret)
	wrongBasic := oauthflow.Basic(l.ClientID, "wrong")

	tests := []struct {
		name       string
		headers    map[string]string
		body       string
		base64     bool
		wantStatus int
		wantError  string
	}{
		{"form, client_secret_post", map[string]string{"Content-Type": formType}, post, false, 400, "invalid_grant"},
		{"base64 form, client_secret_post", map[string]string{"Content-Type": formType}, post, true, 400, "invalid_grant"},
		{"base64 form, client_secret_basic", map[string]string{"Content-Type": formType, "Authorization": basic}, basicForm, true, 400, "invalid_grant"},
		{"form, wrong secret", map[string]string{"Content-Type": formType, "Authorization": wrongBasic}, basicForm, false, 401, "invalid_client"},
		{"form with charset", map[string]string{"Content-Type": formType + "; charset=UTF-8"}, post, false, 400, "invalid_grant"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := Event("POST", "/oauth2/token", tc.headers, tc.body)
			if tc.base64 {
				ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString([]byte(tc.body)), true
			}
			resp := d.invoke(t, "token", ev)
			var e struct {
				Error string `json:"error"`
			}
			decodeJSON(t, resp, &e)
			if resp.StatusCode != tc.wantStatus || e.Error != tc.wantError {
				t.Errorf("got %d %q, want %d %q; body %s", resp.StatusCode, e.Error, tc.wantStatus, tc.wantError, body(t, resp))
			}
		})
	}
	// The alias path of Bitbucket Data Center reaches the same endpoint.
	ev := Event("POST", "/rest/oauth2/latest/token", map[string]string{"Content-Type": formType}, post)
	resp = d.invoke(t, "token", ev)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("alias path: got %d, want 400; body %s", resp.StatusCode, body(t, resp))
	}
	// No secret, code or token in any log line.
	for _, fn := range []string{"admin", "token"} {
		out := d[fn].Output()
		for _, secret := range []string{l.ClientSecret, "no-such-refresh-token"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s logs contain a secret or token", fn)
			}
		}
	}
}

// TestBadConfigStopsStartup runs each bootstrap directly (not under the
// emulator, so no runtime API is reached) with an invalid variable: it must
// exit 1 with one line naming the function and the variable.
func TestBadConfigStopsStartup(t *testing.T) {
	b := bootstraps(t)
	tests := []struct {
		variable, value string
	}{
		{"AUTH_CODE_TTL", "9999s"},
		{"ISSUER_URL", "https://auth.example.com/some/path"},
		{"REFRESH_REUSE_GRACE", "5m"},
	}
	for _, fn := range Functions {
		for _, tc := range tests {
			t.Run(fn+"/"+tc.variable, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, b[fn])
				cmd.Env = []string{
					"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
					"ISSUER_URL=" + issuer, "AWS_REGION=us-east-1",
					tc.variable + "=" + tc.value,
				}
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err := cmd.Run()
				exit, ok := err.(*exec.ExitError)
				if !ok || exit.ExitCode() != 1 {
					t.Fatalf("got %v, want exit status 1", err)
				}
				lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
				if len(lines) != 1 || !strings.HasPrefix(lines[0], fn+": "+tc.variable+": ") {
					t.Errorf("stderr: got %q, want one line starting %q", stderr.String(), fn+": "+tc.variable+": ")
				}
				if stdout.Len() != 0 {
					t.Errorf("stdout: got %q, want nothing", stdout.String())
				}
			})
		}
	}
}

func TestParseReports(t *testing.T) {
	out := "START RequestId: a Version: $LATEST\n" +
		"28 Nov 2026 15:52:48,095 [INFO] (rapid) INIT REPORT(durationMs: 85.342000)\n" +
		"END RequestId: a\n" +
		"REPORT RequestId: a\tInit Duration: 0.04 ms\tDuration: 88.37 ms\tBilled Duration: 89 ms\tMemory Size: 3008 MB\tMax Memory Used: 3008 MB\t\n" +
		"REPORT RequestId: b\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 3008 MB\tMax Memory Used: 3008 MB\n"
	got := ParseReports(out)
	want := []Report{
		{RequestID: "a", InitDuration: 85342 * time.Microsecond, Duration: 88370 * time.Microsecond,
			ReportedInit: 40 * time.Microsecond, HasReportedInit: true},
		{RequestID: "b", Duration: time.Millisecond},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d reports, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("report %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

// functionLines returns the lines the function wrote (not the emulator's
// own START, END, REPORT and "(rapid)" lines).
func functionLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		switch {
		case l == "", strings.Contains(l, "(rapid)"),
			strings.HasPrefix(l, "START RequestId:"), strings.HasPrefix(l, "END RequestId:"),
			strings.HasPrefix(l, "REPORT RequestId:"):
			continue
		}
		lines = append(lines, l)
	}
	return lines
}

// TestBuildFlagsAreMakeBuilds: the binaries under test are built with the
// flags `make build` uses for the deployed ones.
func TestBuildFlagsAreMakeBuilds(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	want := "go build -tags lambda.norpc -trimpath -ldflags='-s -w' " + noInlineAdmin
	got := "go build " + strings.Join(buildFlags, " ")
	if got != strings.Replace(want, "'-s -w'", "-s -w", 1) || !strings.Contains(string(mk), want) {
		t.Errorf("got %q here and the Makefile's build line %s %q, want them equal", got, map[bool]string{true: "contains", false: "lacks"}[strings.Contains(string(mk), want)], want)
	}
}
