package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/applinks/applinks/tests/testkit/oauthflow"
)

// writeTokens writes lines to a file of the test's temporary directory and
// returns its path.
func writeTokens(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens.txt")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// externalReport is the JSON report of a run against another server.
type externalReport struct {
	Issuer        *string  `json:"issuer"`
	TokenURL      string   `json:"token_url"`
	IntrospectURL string   `json:"introspect_url"`
	Clients       int      `json:"clients"`
	Results       []result `json:"results"`
}

func decodeExternalReport(t *testing.T, out []byte) (externalReport, map[string]result) {
	t.Helper()
	var rep externalReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("decode report: %v\n%s", err, out)
	}
	byOp := map[string]result{}
	for _, r := range rep.Results {
		byOp[r.Op] = r
	}
	return rep, byOp
}

func TestExternalFlags(t *testing.T) {
	three := writeTokens(t, "rt-1", "rt-2", "rt-3")
	spaced := writeTokens(t, "", "  rt-a  ", "", "rt-b\r", "rt-c", "")
	dup := writeTokens(t, "rt-1", "rt-2", "rt-1")
	empty := writeTokens(t)
	const tokenURL = "http://127.0.0.1:9096/token"
	ext := func(extra ...string) []string {
		return append([]string{"-token-url", tokenURL, "-client-id", "app", "-client-secret", "s3cret",
			"-refresh-tokens", three, "-c", "3"}, extra...)
	}
	tests := []struct {
		name string
		args []string
		want string // substring of the error, "" for none
	}{
		{"minimal", ext(), ""},
		{"with introspection, post and scope", ext("-introspect-url", "http://[::1]:9096/oauth/introspect?x=1", "-client-auth", "post", "-scope", "read write"), ""},
		{"fewer clients than tokens", ext("-c", "2"), ""},
		{"no client id", ext("-client-id", ""), "-client-id: required"},
		{"no client secret", ext("-client-secret", ""), "-client-secret: required"},
		{"no refresh tokens", []string{"-token-url", tokenURL, "-client-id", "app", "-client-secret", "s"}, "-refresh-tokens: required"},
		{"too few refresh tokens", ext("-c", "4"), "holds 3 refresh tokens, fewer than the 4 clients of -c"},
		{"empty token file", ext("-refresh-tokens", empty, "-c", "1"), "holds 0 refresh tokens"},
		{"missing token file", ext("-refresh-tokens", filepath.Join(t.TempDir(), "nope")), "-refresh-tokens"},
		{"duplicate refresh tokens", ext("-refresh-tokens", dup), "lines 1 and 3 hold the same refresh token"},
		{"non-loopback token URL", ext("-token-url", "http://192.0.2.1:9096/token"), "not a loopback address"},
		{"token URL by name", ext("-token-url", "https://auth.example.com/token"), "not a loopback address"},
		{"localhost look-alike", ext("-token-url", "http://localhost.example.com/token"), "not a loopback address"},
		{"empty token URL", ext("-token-url", ""), "-token-url"},
		{"non-loopback introspection URL", ext("-introspect-url", "http://10.0.0.1/introspect"), "-introspect-url: target \"10.0.0.1\" is not a loopback address"},
		{"token URL with userinfo", ext("-token-url", "http://app:secret@127.0.0.1/token"), "userinfo"},
		{"token URL with a fragment", ext("-token-url", tokenURL+"#x"), "fragment"},
		{"codeflow", ext("-op", "codeflow"), "codeflow is not available with -token-url"},
		{"codeflow among others", ext("-introspect-url", "http://127.0.0.1:9096/introspect", "-op", "refresh,codeflow"), "codeflow is not available"},
		{"introspect without its URL", ext("-op", "introspect"), "introspect needs -introspect-url"},
		{"unknown client auth", ext("-client-auth", "client_secret_jwt"), "-client-auth"},
		{"issuer with token URL", ext("-issuer", "http://127.0.0.1:8080"), "-issuer: not with -token-url"},
		{"admin token with token URL", ext("-admin-token", "x"), "-admin-token: not with -token-url"},
		{"bounds still apply", ext("-duration", "24h"), "-duration"},
		{"client id without token URL", []string{"-admin-token", "x", "-client-id", "app"}, "-client-id: only with -token-url"},
		{"refresh tokens without token URL", []string{"-admin-token", "x", "-refresh-tokens", three}, "-refresh-tokens: only with -token-url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseFlags(tc.args, noEnv, io.Discard)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}

	// What the flags give.
	o, err := parseFlags(ext(), noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !o.external() || o.clientAuth != authBasic || !slices.Equal(o.ops, []string{opRefresh}) ||
		!slices.Equal(o.refreshTokens, []string{"rt-1", "rt-2", "rt-3"}) || o.issuer != "" {
		t.Errorf("got %+v; want external mode, basic, refresh only, the file's three tokens, no issuer", o)
	}
	o, err = parseFlags(ext("-introspect-url", "http://localhost:9096/introspect", "-refresh-tokens", spaced, "-c", "2"), noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.ops, []string{opRefresh, opIntrospect}) || !slices.Equal(o.refreshTokens, []string{"rt-a", "rt-b"}) {
		t.Errorf("got ops %v and tokens %q; want refresh and introspect, and rt-a, rt-b (blank lines skipped)", o.ops, o.refreshTokens)
	}

	// The secret may come from the environment; ISSUER_URL and ADMIN_TOKEN
	// in the environment (as `make run` leaves them) are ignored.
	env := map[string]string{"LOADGEN_CLIENT_SECRET": "from-env", "ISSUER_URL": "http://192.0.2.1", "ADMIN_TOKEN": "adm"}
	o, err = parseFlags([]string{"-token-url", tokenURL, "-client-id", "app", "-refresh-tokens", three, "-c", "1"},
		func(k string) string { return env[k] }, io.Discard)
	if err != nil || o.clientSecret != "from-env" || o.adminToken != "" {
		t.Errorf("got secret %q, admin token %q, %v; want the environment's secret and no admin token", o.clientSecret, o.adminToken, err)
	}
	// ... while this project's mode does not take the secret.
	o, err = parseFlags([]string{"-admin-token", "x"}, func(k string) string { return env[k] }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Errorf("this project's mode with ISSUER_URL=192.0.2.1: got %+v, %v; want the issuer refused", o, err)
	}
}

// TestExternalRefusesBeforeContact checks that run refuses a non-loopback
// endpoint before sending anything, and that the external client dials
// through the loopback check too.
func TestExternalRefusesBeforeContact(t *testing.T) {
	tokens := writeTokens(t, "rt-1")
	for _, args := range [][]string{
		{"-token-url", "http://192.0.2.1:9096/token", "-client-id", "a", "-client-secret", "s", "-refresh-tokens", tokens, "-c", "1"},
		{"-token-url", "http://127.0.0.1:9/token", "-introspect-url", "http://[2001:db8::1]/introspect",
			"-client-id", "a", "-client-secret", "s", "-refresh-tokens", tokens, "-c", "1"},
	} {
		err := run(context.Background(), args, io.Discard, noEnv)
		if err == nil || !strings.Contains(err.Error(), "not a loopback address") {
			t.Errorf("run %q: got %v, want a not-a-loopback-address error", args, err)
		}
	}
	c := newExternalClient(options{tokenURL: "http://localhost/token", concurrency: 1, timeout: time.Second, clientAuth: authBasic})
	if _, err := c.transport.DialContext(context.Background(), "tcp", "192.0.2.1:80"); err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Errorf("external client dialing 192.0.2.1: got %v, want a not-a-loopback-address error", err)
	}
}

// providerTokens obtains n refresh tokens from this project's provider the
// way this project's mode does (admin API, then the browser flow), and
// returns the link's credentials; the link and user are deleted at the
// test's end.
func providerTokens(t *testing.T, issuer string, n int) (*oauthflow.Fixtures, []string) {
	t.Helper()
	ctx := context.Background()
	c := newClient(issuer, testAdminToken, n, 30*time.Second)
	fx, err := c.flow.Setup(ctx)
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	t.Cleanup(func() {
		if err := c.flow.Teardown(context.Background(), fx); err != nil {
			t.Errorf("teardown: %v", err)
		}
	})
	return fx, moreProviderTokens(t, c, fx, n)
}

func moreProviderTokens(t *testing.T, c *client, fx *oauthflow.Fixtures, n int) []string {
	t.Helper()
	var toks []string
	for range n {
		tok, _, err := c.codeFlow(context.Background(), fx)
		if err != nil {
			t.Fatalf("code flow: %v", err)
		}
		toks = append(toks, tok.RefreshToken)
	}
	return toks
}

// TestExternalAgainstProvider drives this project's provider as if it were
// another server: only its token and introspection endpoints, a client and
// refresh tokens given on the command line.
func TestExternalAgainstProvider(t *testing.T) {
	issuer := startProvider(t)
	const clients, n = 3, 9
	fx, toks := providerTokens(t, issuer, clients)
	file := writeTokens(t, toks...)
	ext := func(file string, extra ...string) []string {
		return append([]string{"-token-url", issuer + "/oauth2/token", "-introspect-url", issuer + "/oauth2/introspect",
			"-client-id", fx.ClientID, "-client-secret", fx.ClientSecret, "-refresh-tokens", file,
			"-c", fmt.Sprint(clients), "-duration", "60s"}, extra...)
	}

	// client_secret_basic, -op all, -scope: refresh and introspect, each
	// exactly n times without errors.
	var out bytes.Buffer
	if err := run(context.Background(), ext(file, "-n", fmt.Sprint(n), "-scope", "REPO_READ", "-json"), &out, noEnv); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	rep, got := decodeExternalReport(t, out.Bytes())
	if rep.TokenURL != issuer+"/oauth2/token" || rep.IntrospectURL != issuer+"/oauth2/introspect" || rep.Issuer != nil || rep.Clients != clients {
		t.Errorf("report head: got token_url %q, introspect_url %q, issuer %v, clients %d; want the endpoints, no issuer, %d clients",
			rep.TokenURL, rep.IntrospectURL, rep.Issuer, rep.Clients, clients)
	}
	if len(rep.Results) != 2 {
		t.Errorf("got %d results, want 2 (refresh, introspect; no codeflow)", len(rep.Results))
	}
	for _, op := range []string{opRefresh, opIntrospect} {
		r, ok := got[op]
		switch {
		case !ok:
			t.Errorf("%s: missing from the report", op)
		case r.OK != n || r.Errors != 0 || r.Cut != 0:
			t.Errorf("%s: got %d ok, %d errors (%s), %d cut; want %d ok, no errors", op, r.OK, r.Errors, r.FirstError, r.Cut, n)
		case r.P50 <= 0 || r.P50 > r.P95 || r.P95 > r.P99 || r.P99 > r.Max || r.Throughput <= 0:
			t.Errorf("%s: got p50 %s, p95 %s, p99 %s, max %s, %.1f/s; want ordered percentiles and a throughput", op, r.P50, r.P95, r.P99, r.Max, r.Throughput)
		}
	}

	// client_secret_post with fresh tokens (the provider rotated the first
	// ones), introspect alone, the table report.
	c := newClient(issuer, testAdminToken, clients, 30*time.Second)
	fresh := writeTokens(t, moreProviderTokens(t, c, fx, clients)...)
	out.Reset()
	if err := run(context.Background(), ext(fresh, "-n", "4", "-client-auth", "post", "-op", "introspect"), &out, noEnv); err != nil {
		t.Fatalf("run (post, table): %v\n%s", err, out.String())
	}
	t.Logf("table output:\n%s", out.String())
	table := out.String()
	if !strings.Contains(table, "loadgen: token "+issuer+"/oauth2/token, introspect "+issuer+"/oauth2/introspect, 3 clients") ||
		!strings.Contains(table, "introspect") || !strings.Contains(table, "p99") || strings.Contains(table, "refresh ") {
		t.Errorf("table output lacks the endpoints, the introspect row or the p99 column, or has a refresh row:\n%s", table)
	}

	// The first file's tokens were rotated away: each client fails once and
	// stops (it cannot get a new family), and run fails.
	out.Reset()
	err := run(context.Background(), ext(file, "-n", "50", "-op", "refresh", "-json"), &out, noEnv)
	if err == nil || !strings.Contains(err.Error(), "operations failed") {
		t.Fatalf("run with spent tokens: got %v, want operations failed\n%s", err, out.String())
	}
	_, got = decodeExternalReport(t, out.Bytes())
	if r := got[opRefresh]; r.OK != 0 || r.Errors != clients || !strings.Contains(r.FirstError, "400") {
		t.Errorf("refresh with spent tokens: got %d ok, %d errors (%s); want 0 ok and one 400 per client (%d)", r.OK, r.Errors, r.FirstError, clients)
	}
}

// fakeServer is a token and introspection endpoint that never rotates
// refresh tokens: refreshes return a new access token and no refresh token.
type fakeServer struct {
	clientID, secret     string
	post                 bool   // client_secret_post instead of client_secret_basic
	scope                string // the scope every refresh must carry ("" none)
	refreshTokens        map[string]bool
	mu                   sync.Mutex
	issued               map[string]bool // access tokens
	used                 map[string]int  // refresh token -> refreshes
	authFailures, misses int
	inactive             bool          // introspection always answers active false
	rotate               bool          // refreshes replace the refresh token
	delay                time.Duration // of every refresh
}

func newFakeServer(id, secret string, refreshTokens ...string) *fakeServer {
	f := &fakeServer{clientID: id, secret: secret, refreshTokens: map[string]bool{},
		issued: map[string]bool{}, used: map[string]int{}}
	for _, rt := range refreshTokens {
		f.refreshTokens[rt] = true
	}
	return f
}

// authenticate checks the client's credentials as the server's method
// wants them; for client_secret_basic, the header must be exactly
// Base64(form-urlencoded id ":" form-urlencoded secret).
func (f *fakeServer) authenticate(r *http.Request) bool {
	if f.post {
		return r.Header.Get("Authorization") == "" && r.PostForm.Get("client_id") == f.clientID && r.PostForm.Get("client_secret") == f.secret
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(f.clientID)+":"+url.QueryEscape(f.secret)))
	if r.Header.Get("Authorization") != want || r.PostForm.Has("client_secret") {
		return false
	}
	// And it decodes back the way RFC 6749 §2.3.1 says.
	id, secret, ok := r.BasicAuth()
	id, err1 := url.QueryUnescape(id)
	secret, err2 := url.QueryUnescape(secret)
	return ok && err1 == nil && err2 == nil && id == f.clientID && secret == f.secret
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !f.authenticate(r) {
		f.authFailures++
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":"invalid_client"}`)
		return
	}
	switch r.URL.Path {
	case "/token":
		rt := r.PostForm.Get("refresh_token")
		if r.PostForm.Get("grant_type") != "refresh_token" || !f.refreshTokens[rt] || r.PostForm.Get("scope") != f.scope {
			f.misses++
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"invalid_grant"}`)
			return
		}
		f.used[rt]++
		at := fmt.Sprintf("at-%s-%d", rt, f.used[rt])
		f.issued[at] = true
		if f.rotate {
			delete(f.refreshTokens, rt)
			next := rt + "+"
			f.refreshTokens[next] = true
			f.mu.Unlock()
			time.Sleep(f.delay) // after the rotation, as a server commits it
			f.mu.Lock()
			_, _ = fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":60,"refresh_token":%q}`, at, next)
			return
		}
		// No refresh_token, and no expires_in (only RECOMMENDED).
		_, _ = fmt.Fprintf(w, `{"access_token":%q,"token_type":"bearer"}`, at)
	case "/introspect":
		active := f.issued[r.PostForm.Get("token")] && !f.inactive
		_, _ = fmt.Fprintf(w, `{"active":%t}`, active)
	default:
		http.NotFound(w, r)
	}
}

func TestExternalNonRotatingServer(t *testing.T) {
	// An id and a secret that form-urlencoding changes: ':' would split
	// them, '%', '+', ' ' and non-ASCII would be read wrong unencoded.
	const id, secret = "app:1 %x+y", "s3:cr%t/+é "
	for _, post := range []bool{false, true} {
		t.Run(map[bool]string{false: "basic", true: "post"}[post], func(t *testing.T) {
			fake := newFakeServer(id, secret, "rt-one", "rt-two", "rt-unused")
			fake.post, fake.scope = post, "read write"
			srv := httptest.NewServer(fake)
			t.Cleanup(srv.Close)
			file := writeTokens(t, "rt-one", "rt-two", "rt-unused")
			const n = 10
			args := []string{"-token-url", srv.URL + "/token", "-introspect-url", srv.URL + "/introspect",
				"-client-id", id, "-client-secret", secret, "-refresh-tokens", file, "-scope", "read write",
				"-c", "2", "-n", fmt.Sprint(n), "-duration", "60s", "-json"}
			if post {
				args = append(args, "-client-auth", "post")
			}
			var out bytes.Buffer
			if err := run(context.Background(), args, &out, noEnv); err != nil {
				t.Fatalf("run: %v\n%s", err, out.String())
			}
			_, got := decodeExternalReport(t, out.Bytes())
			for _, op := range []string{opRefresh, opIntrospect} {
				if r := got[op]; r.OK != n || r.Errors != 0 {
					t.Errorf("%s: got %d ok, %d errors (%s); want %d ok, no errors", op, r.OK, r.Errors, r.FirstError, n)
				}
			}
			fake.mu.Lock()
			defer fake.mu.Unlock()
			if fake.authFailures != 0 || fake.misses != 0 {
				t.Errorf("the server refused %d authentications and %d grants, want none", fake.authFailures, fake.misses)
			}
			// Each client kept its own refresh token: n timed refreshes
			// plus one untimed per client before introspect, from the
			// file's first two lines only.
			if fake.used["rt-one"] == 0 || fake.used["rt-two"] == 0 || fake.used["rt-unused"] != 0 ||
				fake.used["rt-one"]+fake.used["rt-two"] != n+2 || len(fake.used) != 2 {
				t.Errorf("refreshes by token: got %v; want rt-one and rt-two only, %d in all", fake.used, n+2)
			}
		})
	}
}

// TestExternalFailures checks that failures of another server count as
// errors and fail the run: introspection answering active false, and
// refresh tokens the server does not know (each client stops after its
// first failure, since its token may be gone).
func TestExternalFailures(t *testing.T) {
	fake := newFakeServer("app", "secret", "rt-one", "rt-two")
	fake.inactive = true
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	base := []string{"-token-url", srv.URL + "/token", "-introspect-url", srv.URL + "/introspect",
		"-client-id", "app", "-client-secret", "secret", "-c", "2", "-n", "6", "-duration", "60s", "-json"}

	var out bytes.Buffer
	err := run(context.Background(), append(base, "-refresh-tokens", writeTokens(t, "rt-one", "rt-two"), "-op", "introspect"), &out, noEnv)
	if err == nil || !strings.Contains(err.Error(), "6 operations failed") {
		t.Errorf("introspection inactive: got %v, want 6 operations failed\n%s", err, out.String())
	}
	_, got := decodeExternalReport(t, out.Bytes())
	if r := got[opIntrospect]; r.OK != 0 || r.Errors != 6 || !strings.Contains(r.FirstError, "active false") {
		t.Errorf("introspection inactive: got %d ok, %d errors (%s); want 6 errors about active false", r.OK, r.Errors, r.FirstError)
	}

	out.Reset()
	err = run(context.Background(), append(base, "-refresh-tokens", writeTokens(t, "rt-x", "rt-y"), "-op", "refresh"), &out, noEnv)
	if err == nil || !strings.Contains(err.Error(), "2 operations failed") {
		t.Errorf("unknown refresh tokens: got %v, want 2 operations failed\n%s", err, out.String())
	}
	_, got = decodeExternalReport(t, out.Bytes())
	if r := got[opRefresh]; r.OK != 0 || r.Errors != 2 || !strings.Contains(r.FirstError, "invalid_grant") {
		t.Errorf("unknown refresh tokens: got %d ok, %d errors (%s); want one invalid_grant per client", r.OK, r.Errors, r.FirstError)
	}

	// A wrong secret stops the untimed refresh before introspect.
	err = run(context.Background(), []string{"-token-url", srv.URL + "/token", "-introspect-url", srv.URL + "/introspect",
		"-client-id", "app", "-client-secret", "wrong", "-refresh-tokens", writeTokens(t, "rt-one"), "-c", "1", "-op", "introspect"}, io.Discard, noEnv)
	if err == nil || !strings.Contains(err.Error(), "prepare tokens: client 1") || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong secret: got %v, want prepare tokens to fail with 401", err)
	}
}

func TestWorkerUpdate(t *testing.T) {
	w := &worker{tok: oauthflow.Tokens{RefreshToken: "rt-0"}}
	w.update(oauthflow.Tokens{AccessToken: "at-1"})
	if w.tok.RefreshToken != "rt-0" || w.tok.AccessToken != "at-1" || !w.keeps {
		t.Errorf("no refresh_token in the answer: got %+v, keeps %v; want rt-0 kept", w.tok, w.keeps)
	}
	w.update(oauthflow.Tokens{AccessToken: "at-2", RefreshToken: "rt-1"})
	if w.tok.RefreshToken != "rt-1" || w.tok.AccessToken != "at-2" || w.keeps {
		t.Errorf("a new refresh_token: got %+v, keeps %v; want rt-1, rotating", w.tok, w.keeps)
	}
	w.update(oauthflow.Tokens{AccessToken: "at-3", RefreshToken: "rt-1"})
	if w.tok.RefreshToken != "rt-1" || !w.keeps {
		t.Errorf("the same refresh_token again: got %+v, keeps %v; want rt-1, not rotating", w.tok, w.keeps)
	}
}

// TestExternalRefreshAtDeadline checks that a refresh in flight at the end
// of -duration is let finish on another server: it counts as cut, and the
// rotated refresh token it brings serves the next operation.
func TestExternalRefreshAtDeadline(t *testing.T) {
	fake := newFakeServer("app", "secret", "rt-one")
	fake.rotate, fake.delay = true, 400*time.Millisecond
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	args := []string{"-token-url", srv.URL + "/token", "-introspect-url", srv.URL + "/introspect",
		"-client-id", "app", "-client-secret", "secret", "-refresh-tokens", writeTokens(t, "rt-one"),
		"-c", "1", "-n", "100", "-duration", "100ms", "-op", "refresh,introspect", "-json"}
	var out bytes.Buffer
	if err := run(context.Background(), args, &out, noEnv); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	_, got := decodeExternalReport(t, out.Bytes())
	if r := got[opRefresh]; r.OK != 0 || r.Cut != 1 || r.Errors != 0 || r.Elapsed > 100*time.Millisecond {
		t.Errorf("refresh: got %d ok, %d cut, %d errors, %s; want the one refresh cut, no errors, at most 100ms", r.OK, r.Cut, r.Errors, r.Elapsed)
	}
	if r := got[opIntrospect]; r.OK == 0 || r.Errors != 0 {
		t.Errorf("introspect: got %d ok, %d errors (%s); want some ok and no errors", r.OK, r.Errors, r.FirstError)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	// The cut refresh and the one before introspect, each with the token
	// the previous one returned.
	if fake.misses != 0 || fake.used["rt-one"] != 1 || fake.used["rt-one+"] != 1 {
		t.Errorf("the server saw %d unknown grants and refreshes %v; want rt-one then rt-one+, once each", fake.misses, fake.used)
	}
}

// TestExternalStopsAtDuration runs a time-bound refresh then introspect
// against this project's provider (which rotates refresh tokens): the
// refreshes cut by the end of -duration leave every client a token.
func TestExternalStopsAtDuration(t *testing.T) {
	issuer := startProvider(t)
	fx, toks := providerTokens(t, issuer, 2)
	const n = 100_000_000
	args := []string{"-token-url", issuer + "/oauth2/token", "-introspect-url", issuer + "/oauth2/introspect",
		"-client-id", fx.ClientID, "-client-secret", fx.ClientSecret, "-refresh-tokens", writeTokens(t, toks...),
		"-c", "2", "-n", fmt.Sprint(n), "-duration", "1s", "-json"}
	var out bytes.Buffer
	if err := run(context.Background(), args, &out, noEnv); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	_, got := decodeExternalReport(t, out.Bytes())
	for _, op := range []string{opRefresh, opIntrospect} {
		r := got[op]
		if r.OK == 0 || r.OK+r.Cut >= n || r.Errors != 0 || r.Elapsed > time.Second+100*time.Millisecond {
			t.Errorf("%s: got %d ok, %d cut, %d errors (%s) in %s; want some ok, fewer than %d in all, no errors, about 1s",
				op, r.OK, r.Cut, r.Errors, r.FirstError, r.Elapsed, n)
		}
	}
}
