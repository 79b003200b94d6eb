package e2e

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/applinks/applinks/local/server"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store/storetest"
	"github.com/applinks/applinks/shared/web"
)

// TestHSTSEverywhere: with an https issuer every response of the three
// functions (success, error, 404, 405, HEAD) carries
// Strict-Transport-Security: max-age=63072000; with the local runner's
// http issuer none does (issue 13).
func TestHSTSEverywhere(t *testing.T) {
	st := storetest.Kumo(t)
	requests := []struct{ fn, method, path, auth string }{
		{"token", "GET", "/.well-known/oauth-authorization-server", ""},
		{"token", "GET", "/.well-known/jwks.json", ""},
		{"token", "HEAD", "/.well-known/jwks.json", ""},
		{"token", "POST", "/oauth2/token", ""},
		{"token", "GET", "/oauth2/token", ""},
		{"token", "POST", "/oauth2/introspect", ""},
		{"authorize", "GET", "/oauth2/authorize?client_id=nope", ""},
		{"authorize", "GET", "/account/authorizations", ""},
		{"authorize", "POST", "/oauth2/login", ""},
		{"admin", "GET", "/admin/links", "Bearer " + adminToken},
		{"admin", "GET", "/admin/links", ""},
		{"admin", "POST", "/admin/links", "Bearer " + adminToken},
		{"mux", "GET", "/no/such/path", ""},
	}
	for _, tt := range []struct{ issuer, want string }{
		{"https://auth.example.com", "max-age=63072000"},
		{"http://127.0.0.1:8080", ""},
	} {
		cfg, err := config.FromEnv(func(k string) string {
			return map[string]string{"ISSUER_URL": tt.issuer, "ADMIN_TOKEN": adminToken}[k]
		})
		if err != nil {
			t.Fatal(err)
		}
		h, err := server.New(context.Background(), cfg, st, slog.New(slog.NewJSONHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range requests {
			req := httptest.NewRequest(r.method, tt.issuer+r.path, strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if r.auth != "" {
				req.Header.Set("Authorization", r.auth)
				req.Header.Set("Content-Type", "application/json")
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if got := w.Header().Get("Strict-Transport-Security"); got != tt.want {
				t.Errorf("issuer %s, %s %s %s: status %d, Strict-Transport-Security %q, want %q",
					tt.issuer, r.fn, r.method, r.path, w.Code, got, tt.want)
			}
		}
	}
	if web.HSTSValue != "max-age=63072000" {
		t.Errorf("HSTSValue = %q, want max-age=63072000 (two years, no includeSubDomains)", web.HSTSValue)
	}
}
