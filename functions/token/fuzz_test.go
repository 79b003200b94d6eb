package token

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
)

// fzPaths are the endpoints FuzzTokenHandler drives, chosen by the input's
// first byte.
var fzPaths = []string{
	"/oauth2/token", "/rest/oauth2/latest/token", "/oauth2/revoke", "/oauth2/introspect",
	"/.well-known/oauth-authorization-server", "/.well-known/jwks.json",
}

var fzMethods = []string{"POST", "GET", "PUT", "HEAD", "DELETE"}

// FuzzTokenHandler sends arbitrary query strings, form bodies, content types and
// Authorization headers to every endpoint of the token handler, on a real
// store (kumo) seeded with a link, a user, a code and a refresh token, and
// asserts that the handler never panics and never answers 5xx: hostile
// input is the client's error.
func FuzzTokenHandler(f *testing.F) {
	st := storetest.Kumo(f)
	ctx := context.Background()
	now := time.Now()
	cfg, err := config.FromEnv(func(k string) string {
		return map[string]string{"ISSUER_URL": "https://issuer.example"}[k]
	})
	if err != nil {
		f.Fatal(err)
	}
	keys, err := signing.New(ctx, st, signing.Options{})
	if err != nil {
		f.Fatal(err)
	}
	h, err := New(Options{Config: cfg, Store: st, Keys: keys})
	if err != nil {
		f.Fatal(err)
	}
	const (
		id, secret = "fz-client", "fz-secret-0123456789"
		code       = "fz-code-0123456789abcdefghijklmnopqrstuvwxy"
		refresh    = "fz-refresh-0123456789abcdefghijklmnopqrstuv"
		cb         = "https://app.example/cb"
	)
	if _, _, err := st.CreateLink(ctx, store.NewLink{ID: "fz-link", ClientID: id, Secret: secret, Name: "fuzz",
		ClientType: store.Confidential, Enabled: true, RedirectURIs: []string{cb}, Scopes: []string{"REPO_WRITE"}}, now); err != nil {
		f.Fatal(err)
	}
	if err := st.CreateUser(ctx, store.User{ID: "fz-alice", Username: "alice", PasswordHash: "unused", Permissions: []string{"REPO_WRITE"},
		CreatedAt: now.Add(-time.Minute), UpdatedAt: now.Add(-time.Minute)}); err != nil {
		f.Fatal(err)
	}
	g, err := st.ApproveGrant(ctx, store.Grant{ID: "fz-grant", UserID: "fz-alice", Username: "alice", ClientID: id,
		Scope: []string{"REPO_READ"}}, func(a, _ []string) []string { return a }, now)
	if err != nil {
		f.Fatal(err)
	}
	verifier := strings.Repeat("v", 43)
	if err := st.CreateCode(ctx, store.Code{Hash: shared.HashToken(code), ClientID: id, RedirectURI: cb,
		Challenge: shared.S256Challenge(verifier), UserID: "fz-alice", GrantID: g.ID, Scope: []string{"REPO_READ"},
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		f.Fatal(err)
	}
	// A grant with an active refresh token, redeemed from a second code.
	if err := st.CreateCode(ctx, store.Code{Hash: shared.HashToken("fz-other-code"), ClientID: id, UserID: "fz-alice",
		GrantID: g.ID, Scope: []string{"REPO_READ"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		f.Fatal(err)
	}
	if err := st.RedeemCode(ctx, shared.HashToken("fz-other-code"), &store.RefreshToken{Hash: shared.HashToken(refresh),
		GrantID: g.ID, ClientID: id, UserID: "fz-alice", Scope: []string{"REPO_READ"}, Status: store.RefreshActive,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, now); err != nil {
		f.Fatal(err)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
	form := "application/x-www-form-urlencoded"
	for _, s := range []struct {
		path         byte
		method       byte
		query, body  string
		ctype, authz string
	}{
		{0, 0, "", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {cb}, "code_verifier": {verifier}}.Encode(), form, basic},
		{1, 0, "", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {id}, "client_secret": {secret}}.Encode(), form, ""},
		{0, 0, "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "scope": {"REPO_READ"}}.Encode(), form, basic},
		{0, 0, "", "grant_type=refresh_token&refresh_token=" + refresh + "&refresh_token=x", form, basic},
		{0, 0, "client_secret=" + secret, "grant_type=client_credentials", form, ""},
		{0, 1, "grant_type=authorization_code", "", "", basic},
		{0, 0, "", "grant_type=authorization_code&code=%zz", form, "Basic !!!"},
		{0, 0, "", `{"grant_type":"authorization_code"}`, "application/json", "Bearer x"},
		{2, 0, "", "token=" + refresh + "&token_type_hint=refresh_token", form, basic},
		{2, 0, "", "token=a.b.c", form, basic},
		{3, 0, "", "token=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", form, basic},
		{3, 0, "", "token=" + refresh, form, "Basic " + base64.StdEncoding.EncodeToString([]byte("fz%2Dclient:"+secret))},
		{4, 1, "", "", "", ""},
		{5, 1, "x=1", "", "", ""},
		{5, 0, "", "\xff\xfe", form, "Basic \xff"},
	} {
		f.Add(s.path, s.method, s.query, s.body, s.ctype, s.authz)
	}
	f.Fuzz(func(t *testing.T, path, method byte, query, body, ctype, authz string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.Method = fzMethods[int(method)%len(fzMethods)]
		req.URL = &url.URL{Path: fzPaths[int(path)%len(fzPaths)], RawQuery: query}
		req.Body = http.NoBody
		if body != "" {
			req.Body = ioNopCloser(body)
			req.ContentLength = int64(len(body))
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s?%q body %q: got status %d (%s), want no 5xx", req.Method, req.URL.Path, query, body, w.Code, w.Body)
		}
	})
}

type fzBody struct{ *strings.Reader }

func (fzBody) Close() error { return nil }

func ioNopCloser(s string) fzBody { return fzBody{strings.NewReader(s)} }
