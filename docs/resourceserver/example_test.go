package resourceserver

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/signing"
)

// TestREADMEShowsThisFile: the README's "Resource indicators" shows
// example.go whole, so the README cannot drift from the code these tests
// run.
func TestREADMEShowsThisFile(t *testing.T) {
	doc, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("example.go")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```go\n"+string(src)+"```\n") {
		t.Error("README.md does not show docs/resourceserver/example.go whole in a go block; copy the file into it")
	}
}

// memSource keeps a signing-key set in memory.
type memSource struct {
	mu  sync.Mutex
	doc []byte
}

func (m *memSource) GetSigningKeys(context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.doc == nil {
		return nil, shared.ErrNotFound
	}
	return m.doc, nil
}

func (m *memSource) CreateSigningKeys(_ context.Context, doc []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.doc != nil {
		return shared.ErrConflict
	}
	m.doc = doc
	return nil
}

func (m *memSource) PutSigningKeys(_ context.Context, doc []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.doc = doc
	return nil
}

// issuerOf serves keys' JWK Set at /.well-known/jwks.json of a test
// server, the provider's issuer.
func issuerOf(t *testing.T, keys *signing.Keyring) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/jwks.json" {
			http.NotFound(w, r)
			return
		}
		doc, err := keys.JWKS(r.Context())
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		_, _ = w.Write(doc)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestExample: the resource server publishes its metadata and accepts the
// provider's access token for its resource only: not one for AUDIENCE or
// for another resource, not an expired one, not one of another issuer or
// key, not an ID token, and not none. Its 401 names the metadata.
func TestExample(t *testing.T) {
	ctx := context.Background()
	provider, err := signing.New(ctx, &memSource{}, signing.Options{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := signing.New(ctx, &memSource{}, signing.Options{})
	if err != nil {
		t.Fatal(err)
	}
	issuer := issuerOf(t, provider)
	const resource = "https://api.example.com/mcp"
	h := Handler(issuer, resource, []string{"REPO_READ"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := ClaimsFrom(r.Context())
		_, _ = io.WriteString(w, c.Subject+" "+c.Scope)
	}))
	now := time.Now()
	access := func(keys *signing.Keyring, iss, aud string, exp time.Time) string {
		tok, err := keys.Sign(ctx, signing.AccessClaims{Issuer: iss, Subject: "u1", Audience: aud, ClientID: "c1",
			Scope: "REPO_READ", JTI: "j1", IssuedAt: exp.Add(-time.Hour), ExpiresAt: exp})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	idToken, err := provider.SignIDToken(ctx, signing.RS256, signing.IDClaims{Issuer: issuer, Subject: "u1", Audience: resource,
		IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, token string
		ok          bool
	}{
		{"for this resource", access(provider, issuer, resource, now.Add(time.Hour)), true},
		{"for AUDIENCE", access(provider, issuer, issuer, now.Add(time.Hour)), false},
		{"for another resource", access(provider, issuer, "https://api.example.com/other", now.Add(time.Hour)), false},
		{"for the resource with a slash", access(provider, issuer, resource+"/", now.Add(time.Hour)), false},
		{"expired", access(provider, issuer, resource, now.Add(-time.Minute)), false},
		{"another issuer", access(provider, "https://other.example.com", resource, now.Add(time.Hour)), false},
		{"another key", access(other, issuer, resource, now.Add(time.Hour)), false},
		{"an ID token", idToken, false},
		{"none", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "https://api.example.com/mcp/tools", nil)
			if tc.token != "" {
				r.Header.Set("Authorization", "Bearer "+tc.token)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			switch {
			case tc.ok && (w.Code != 200 || w.Body.String() != "u1 REPO_READ"):
				t.Errorf("got %d %q, want 200 with the token's claims", w.Code, w.Body)
			case !tc.ok && w.Code != http.StatusUnauthorized:
				t.Errorf("got %d, want 401", w.Code)
			case !tc.ok && w.Header().Get("WWW-Authenticate") != `Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp"`:
				t.Errorf("WWW-Authenticate %q, want the metadata URL", w.Header().Get("WWW-Authenticate"))
			}
		})
	}
	// The metadata, at RFC 9728 §3.1's path for a resource with a path.
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "https://api.example.com/.well-known/oauth-protected-resource/mcp", nil))
	var md struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
		ScopesSupported      []string `json:"scopes_supported"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &md); err != nil || w.Code != 200 || md.Resource != resource ||
		len(md.AuthorizationServers) != 1 || md.AuthorizationServers[0] != issuer || len(md.ScopesSupported) != 1 {
		t.Errorf("metadata: %d %s (%v), want the resource, the issuer and the scopes", w.Code, w.Body, err)
	}
}

func TestMetadataPath(t *testing.T) {
	for resource, want := range map[string]string{
		"https://api.example.com":           "/.well-known/oauth-protected-resource",
		"https://api.example.com/":          "/.well-known/oauth-protected-resource",
		"https://api.example.com/mcp":       "/.well-known/oauth-protected-resource/mcp",
		"http://127.0.0.1:9000/v1/repos/":   "/.well-known/oauth-protected-resource/v1/repos",
		"https://api.example.com/a%20b?x=1": "/.well-known/oauth-protected-resource/a%20b",
	} {
		if got := MetadataPath(resource); got != want {
			t.Errorf("MetadataPath(%q) = %q, want %q", resource, got, want)
		}
	}
}
