package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
)

var fzMethods = []string{"GET", "POST", "PATCH", "DELETE", "PUT"}

// FuzzAdminHandler sends arbitrary methods, paths under /admin/, query strings,
// JSON bodies and Idempotency-Key headers to the admin handler (local mode,
// with the right admin token), on a real store (kumo) seeded with a link
// and a user, and asserts that it never panics, never answers 5xx, and
// always answers JSON.
func FuzzAdminHandler(f *testing.F) {
	st := storetest.Kumo(f)
	ctx := context.Background()
	now := time.Now()
	cfg, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		f.Fatal(err)
	}
	keys, err := signing.New(ctx, st, signing.Options{})
	if err != nil {
		f.Fatal(err)
	}
	const token = "fz-admin-token"
	h, err := New(Options{Config: cfg, Store: st, Keys: keys, Auth: BearerToken(token)})
	if err != nil {
		f.Fatal(err)
	}
	if _, _, err := st.CreateLink(ctx, store.NewLink{ID: "fz-link", ClientID: "fz-client", Secret: "fz-secret", Name: "fuzz",
		ClientType: store.Confidential, Enabled: true, RedirectURIs: []string{"https://app.example/cb"}, Scopes: []string{"REPO_WRITE"}}, now); err != nil {
		f.Fatal(err)
	}
	if err := st.CreateUser(ctx, store.User{ID: "fz-alice", Username: "alice", PasswordHash: "unused", Permissions: []string{"REPO_WRITE"},
		CreatedAt: now, UpdatedAt: now}); err != nil {
		f.Fatal(err)
	}
	for _, s := range []struct {
		method           byte
		path, query      string
		body, idempotent string
	}{
		{1, "links", "", `{"name":"App","redirect_uris":["https://app.example/cb"],"scopes":["REPO_READ"],"client_type":"confidential","enabled":true}`, "k1"},
		{1, "links", "", `{"name":"Native","redirect_uris":["com.example.app:/cb","http://127.0.0.1/cb"],"client_type":"public"}`, ""},
		{1, "links", "", `{"name":"RS","client_type":"resource_server"}`, ""},
		{1, "links", "", `{"name":"\u202eevil","redirect_uris":["https://*.example/cb"]}`, ""},
		{0, "links", "limit=1&cursor=abc", "", ""},
		{0, "links/fz-link", "", "", ""},
		{2, "links/fz-link", "", `{"name":"Renamed","enabled":false,"redirect_uris":["https://app.example/cb2"]}`, ""},
		{0, "links/fz-link/credentials", "", "", ""},
		{1, "links/fz-link/credentials/rotate", "", `{"overlap_seconds":60}`, ""},
		{1, "links/fz-link/credentials/rotate", "", `{"overlap_seconds":-1}`, ""},
		{0, "links/fz-link/grants", "limit=100", "", ""},
		{3, "links/fz-link", "", "", ""},
		{1, "users", "", `{"username":"bob","password":"long enough password","permissions":["REPO_READ"]}`, ""},
		{2, "users/alice", "", `{"permissions":["PROJECT_ADMIN"],"disabled":true}`, ""},
		{0, "users/alice", "", "", ""},
		{2, "users/alice", "", `{"admin":true}`, ""},
		{4, "users/alice/admin", "", `{"admin":true}`, ""},
		{4, "users/alice/admin/password", "", `{"password":"long enough password"}`, ""},
		{3, "users/alice", "", "", ""},
		{4, "users/alice/admin", "", `{"admin":false}`, ""},
		{3, "users/alice", "", "", ""},
		{1, "signing-keys/rotate", "", `{}`, ""},
		{1, "links", "", `{"name": }`, "\xff"},
		{4, "links/%2e%2e/users", "", "[]", ""},
	} {
		f.Add(s.method, s.path, s.query, s.body, s.idempotent)
	}
	f.Fuzz(func(t *testing.T, method byte, path, query, body, idempotent string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.Method = fzMethods[int(method)%len(fzMethods)]
		req.URL = &url.URL{Path: "/admin/" + path, RawQuery: query}
		req.Body = http.NoBody
		if body != "" {
			req.Body = fzBody{strings.NewReader(body)}
			req.ContentLength = int64(len(body))
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		if idempotent != "" {
			req.Header.Set("Idempotency-Key", idempotent)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s?%q body %q: got status %d (%s), want no 5xx", req.Method, req.URL.Path, query, body, w.Code, w.Body)
		}
		if ct := w.Header().Get("Content-Type"); w.Code != http.StatusNoContent && ct != "application/json" {
			t.Fatalf("%s %s: got Content-Type %q, want application/json", req.Method, req.URL.Path, ct)
		}
	})
}

type fzBody struct{ *strings.Reader }

func (fzBody) Close() error { return nil }
