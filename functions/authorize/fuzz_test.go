package authorize

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/password"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
)

// fzPaths are the endpoints FuzzAuthorizeHandler drives, chosen by the input's
// first byte.
var fzPaths = []string{
	"/oauth2/authorize", "/rest/oauth2/latest/authorize", "/oauth2/login", "/oauth2/consent",
	"/oauth2/logout", "/account/authorizations", "/account/authorizations/fz-client/revoke",
}

var fzMethods = []string{"GET", "POST", "PUT", "HEAD"}

// FuzzAuthorizeHandler sends arbitrary query strings, form bodies and cookies to
// every endpoint of the authorize handler, on a real store (kumo) seeded
// with a link, a user and a signed-in session, and asserts that the handler
// never panics, never answers 5xx, and never redirects off-site before the
// redirect URI is validated (a redirect goes to the registered URI or
// stays on the provider).
func FuzzAuthorizeHandler(f *testing.F) {
	st := storetest.Kumo(f)
	ctx := context.Background()
	now := time.Now()
	cfg, err := config.FromEnv(func(k string) string {
		return map[string]string{"ISSUER_URL": "https://issuer.example"}[k]
	})
	if err != nil {
		f.Fatal(err)
	}
	h, err := New(Options{Config: cfg, Store: st})
	if err != nil {
		f.Fatal(err)
	}
	const (
		id      = "fz-client"
		cb      = "https://app.example/cb"
		session = "fzsession0123456789abcdefghijklmnopqrstuvw" // 43 characters, like shared.NewToken
		csrf    = "fzcsrf00000123456789abcdefghijklmnopqrstuvw"
	)
	if _, _, err := st.CreateLink(ctx, store.NewLink{ID: "fz-link", ClientID: id, Secret: "fz-secret", Name: "fuzz",
		ClientType: store.Confidential, Enabled: true, RedirectURIs: []string{cb}, Scopes: []string{"REPO_WRITE"}}, now); err != nil {
		f.Fatal(err)
	}
	hash, err := password.Hash("fz password 1", rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	if err := st.CreateUser(ctx, store.User{ID: "fzaliceAAAAAAAAAAAAAAA", Username: "alice", PasswordHash: hash, Permissions: []string{"REPO_WRITE"},
		CreatedAt: now, UpdatedAt: now}); err != nil {
		f.Fatal(err)
	}
	if err := st.CreateSession(ctx, store.Session{ID: shared.HashToken(session), UserID: "fzaliceAAAAAAAAAAAAAAA", CSRF: csrf,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		f.Fatal(err)
	}
	auth := url.Values{"response_type": {"code"}, "client_id": {id}, "redirect_uri": {cb}, "state": {"s"},
		"scope": {"REPO_READ"}, "code_challenge": {shared.S256Challenge(strings.Repeat("v", 43))}, "code_challenge_method": {"S256"}}
	consent := url.Values{"csrf": {csrf}, "decision": {"approve"}}
	for k, v := range auth {
		consent[k] = v
	}
	sess := "session=" + session
	for _, s := range []struct {
		path, method        byte
		query, body, cookie string
	}{
		{0, 0, auth.Encode(), "", ""},
		{0, 0, auth.Encode(), "", sess},
		{1, 0, auth.Encode() + "&prompt=none", "", ""},
		{0, 0, "client_id=" + id + "&redirect_uri=https%3A%2F%2Fevil.example%2F", "", ""},
		{0, 0, "client_id=" + id + "&client_id=x", "", sess},
		{0, 0, "%zz", "", ""},
		{2, 1, "", url.Values{"return_to": {"/oauth2/authorize?" + auth.Encode()}, "username": {"alice"}, "password": {"fz password 1"}, "csrf": {csrf}}.Encode(), "login_csrf=" + csrf},
		{2, 1, "", "return_to=https%3A%2F%2Fevil.example&username=alice&password=x&csrf=x", "login_csrf=x"},
		{3, 1, "", consent.Encode(), sess},
		{3, 1, "", consent.Encode() + "&decision=deny", sess},
		{3, 1, "", "decision=approve&csrf=" + csrf + "&client_id=" + id + "&redirect_uri=", sess},
		{4, 1, "", "csrf=" + csrf, sess},
		{5, 0, "revoked=" + id, "", sess},
		{6, 1, "", "csrf=" + csrf, sess},
		{6, 1, "", "csrf=\xff", "session=\xff; login_csrf=" + strings.Repeat("a", 43)},
	} {
		f.Add(s.path, s.method, s.query, s.body, s.cookie)
	}
	f.Fuzz(func(t *testing.T, path, method byte, query, body, cookie string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.Method = fzMethods[int(method)%len(fzMethods)]
		req.URL = &url.URL{Path: fzPaths[int(path)%len(fzPaths)], RawQuery: query}
		req.Body = http.NoBody
		if body != "" {
			req.Body = fzBody{strings.NewReader(body)}
			req.ContentLength = int64(len(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s?%q body %q: got status %d, want no 5xx:\n%s", req.Method, req.URL.Path, query, body, w.Code, w.Body)
		}
		if loc := w.Header().Get("Location"); loc != "" && !local(loc) && !strings.HasPrefix(loc, cb+"?") {
			t.Fatalf("%s %s?%q body %q: redirected to %q, want the registered redirect URI or a local path", req.Method, req.URL.Path, query, body, loc)
		}
	})
}

// local reports whether loc is a path on the provider (not a
// protocol-relative URL such as //evil.example).
func local(loc string) bool {
	return strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//") && !strings.HasPrefix(loc, "/\\")
}

type fzBody struct{ *strings.Reader }

func (fzBody) Close() error { return nil }
