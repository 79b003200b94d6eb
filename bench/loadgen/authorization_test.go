package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
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
)

// fakeAuthServer is an authorization server whose signed-in browsers carry
// the cookie sid=<one of sessions>: GET /auth redirects to /login (the
// server's login and consent app), which redirects to /auth/resume, which
// redirects to the callback with a code bound to the request's PKCE
// challenge and redirect URI. /token redeems a code once.
type fakeAuthServer struct {
	clientID, secret, redirectURI string
	sessions                      map[string]bool

	mu       sync.Mutex
	codes    map[string]fakeCode
	redeemed int
	seenSID  map[string]int // sid -> authorizations
}

type fakeCode struct{ challenge, redirectURI string }

func (f *fakeAuthServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := r.URL.Query()
	switch r.URL.Path {
	case "/auth":
		c, err := r.Cookie("sid")
		if err != nil || !f.sessions[c.Value] {
			_, _ = io.WriteString(w, "<html>sign in</html>")
			return
		}
		f.seenSID[c.Value]++
		if q.Get("client_id") != f.clientID || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" ||
			q.Get("scope") != "bench" || q.Get("resource") != "https://rs.example/" {
			http.Error(w, "bad request "+q.Encode(), http.StatusBadRequest)
			return
		}
		// A cookie set during the flow comes back on the next hop.
		http.SetCookie(w, &http.Cookie{Name: "csrf", Value: q.Get("state"), Path: "/"})
		http.Redirect(w, r, "/login?"+q.Encode(), http.StatusFound)
	case "/login":
		if c, err := r.Cookie("csrf"); err != nil || c.Value != q.Get("state") {
			http.Error(w, "csrf", http.StatusForbidden)
			return
		}
		http.Redirect(w, r, "/auth/resume?"+q.Encode(), http.StatusSeeOther)
	case "/auth/resume":
		code := fmt.Sprintf("code-%d", len(f.codes))
		f.codes[code] = fakeCode{q.Get("code_challenge"), q.Get("redirect_uri")}
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusSeeOther)
	case "/token":
		id, secret, _ := r.BasicAuth()
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		_ = r.ParseForm()
		code, ok := f.codes[r.PostForm.Get("code")]
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if id != f.clientID || secret != f.secret || !ok || r.PostForm.Get("grant_type") != "authorization_code" ||
			code.redirectURI != r.PostForm.Get("redirect_uri") || code.challenge != base64.RawURLEncoding.EncodeToString(sum[:]) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"invalid_grant"}`)
			return
		}
		delete(f.codes, r.PostForm.Get("code"))
		f.redeemed++
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"at","token_type":"Bearer","refresh_token":"rt"}`)
	default:
		http.NotFound(w, r)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestExternalAuthorization drives the authorization operation against a
// server whose flow passes through a login app: every authorization of
// each client follows the redirects with its own session (and the cookies
// set on the way) to the callback, whose code, with the PKCE verifier,
// the token endpoint redeems. A client without a session meets a page and
// fails.
func TestExternalAuthorization(t *testing.T) {
	const cb = "http://127.0.0.1/compare/callback"
	fake := &fakeAuthServer{clientID: "app", secret: "s3cret", redirectURI: cb,
		sessions: map[string]bool{"one": true, "two": true}, codes: map[string]fakeCode{}, seenSID: map[string]int{}}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	args := func(sessions string, n int) []string {
		return []string{"-token-url", srv.URL + "/token", "-authorize-url", srv.URL + "/auth", "-redirect-uri", cb,
			"-authorize-params", "scope=bench&resource=https%3A%2F%2Frs.example%2F",
			"-client-id", "app", "-client-secret", "s3cret", "-sessions", writeFile(t, "sessions", sessions),
			"-op", "authorization", "-c", "2", "-n", fmt.Sprint(n), "-duration", "60s", "-json"}
	}
	var out bytes.Buffer
	if err := run(context.Background(), args("sid=one; theme=dark\nsid=two\n", 10), &out, noEnv); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	_, got := decodeExternalReport(t, out.Bytes())
	if r := got[opAuthorization]; r.OK != 10 || r.Errors != 0 || r.Throughput <= 0 {
		t.Errorf("authorization: got %+v; want 10 ok, no errors", r)
	}
	for _, step := range authorizationSteps {
		if r := got[opAuthorization+"/"+step]; r.OK != 10 || r.P50 <= 0 {
			t.Errorf("step %s: got %+v; want 10 timed", step, r)
		}
	}
	fake.mu.Lock()
	if fake.redeemed != 10 || fake.seenSID["one"] == 0 || fake.seenSID["two"] == 0 || len(fake.codes) != 0 {
		t.Errorf("got %d codes redeemed, sessions seen %v, %d codes left; want 10, both sessions, none left", fake.redeemed, fake.seenSID, len(fake.codes))
	}
	fake.mu.Unlock()

	out.Reset()
	err := run(context.Background(), args("sid=one\nsid=nobody\n", 4), &out, noEnv)
	if err == nil || !strings.Contains(err.Error(), "operations failed") {
		t.Fatalf("a session the server does not know: got %v, want failed operations\n%s", err, out.String())
	}
	_, got = decodeExternalReport(t, out.Bytes())
	if r := got[opAuthorization]; r.Errors == 0 || !strings.Contains(r.FirstError, "not a redirect") {
		t.Errorf("a session the server does not know: got %+v; want errors about a page instead of a redirect", r)
	}
}

func TestAuthorizationFlags(t *testing.T) {
	sessions := writeFile(t, "sessions", "a=1\nb=2; c=3\n")
	const tok = "http://127.0.0.1:9/token"
	base := []string{"-token-url", tok, "-client-id", "app", "-client-secret", "s", "-c", "2"}
	auth := slices.Concat(base, []string{"-authorize-url", "http://127.0.0.1:9/auth", "-redirect-uri", "http://127.0.0.1/cb"})
	with := func(args []string, extra ...string) []string { return slices.Concat(args, extra) }
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"authorization alone needs no refresh tokens", with(auth, "-op", "authorization", "-sessions", sessions), ""},
		{"all needs refresh tokens too", with(auth, "-sessions", sessions), "-refresh-tokens: required"},
		{"no sessions", with(auth, "-op", "authorization"), "-sessions: required"},
		{"too few sessions", with(auth, "-op", "authorization", "-sessions", sessions, "-c", "3"), "holds 2 sessions, fewer than the 3 clients"},
		{"not cookies", with(auth, "-op", "authorization", "-sessions", writeFile(t, "bad", "a=1\n;;=\n")), "session 2: not a Cookie header value"},
		{"without its URL", with(base, "-op", "authorization", "-sessions", sessions), "-sessions: only with -authorize-url"},
		{"op without its URL", with(base, "-op", "authorization"), "authorization needs -authorize-url"},
		{"non-loopback endpoint", with(base, "-authorize-url", "http://192.0.2.1/auth", "-redirect-uri", "http://x/cb", "-op", "authorization"), "not a loopback address"},
		{"redirect URI with a query", with(auth, "-redirect-uri", "http://127.0.0.1/cb?x=1", "-op", "authorization", "-sessions", sessions), "-redirect-uri"},
		{"no redirect URI", with(base, "-authorize-url", "http://127.0.0.1:9/auth", "-op", "authorization", "-sessions", sessions), "-redirect-uri"},
		{"params loadgen sets", with(auth, "-authorize-params", "scope=a&state=x", "-op", "authorization", "-sessions", sessions), "state is set by loadgen"},
		{"a param twice", with(auth, "-authorize-params", "scope=a&scope=b", "-op", "authorization", "-sessions", sessions), "scope is given 2 times"},
		{"not in this project's mode", []string{"-admin-token", "x", "-op", "authorization"}, "authorization is for another server"},
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
}
