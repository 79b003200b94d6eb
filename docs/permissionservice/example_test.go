package permissionservice

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/permissions"
	"github.com/applinks/applinks/shared/permissions/permissionstest"
	"github.com/applinks/applinks/shared/signing"
)

// TestDocumentShowsThisFile: docs/permission-service.md shows example.go
// whole, so the document cannot drift from the code this test runs.
func TestDocumentShowsThisFile(t *testing.T) {
	doc, err := os.ReadFile("../permission-service.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("example.go")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```go\n"+string(src)+"```\n") {
		t.Error("docs/permission-service.md does not show docs/permissionservice/example.go whole in a go block; copy the file into it")
	}
}

// provider stands for the provider's side: its permission-request key set
// published at /.well-known/permissions-jwks.json of issuer, and its client.
type provider struct {
	issuer string
	signer *signing.RequestSigner
}

func newProvider(t *testing.T, signer *signing.RequestSigner) *provider {
	p := &provider{signer: signer}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/permissions-jwks.json" {
			http.NotFound(w, r)
			return
		}
		doc, err := p.signer.JWKS(r.Context())
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	}))
	t.Cleanup(srv.Close)
	p.issuer = srv.URL
	return p
}

// client is the provider's own permission client asking url, signing as
// signer, with the clock now.
func (p *provider) client(t *testing.T, url string, signer permissions.Signer, now func() time.Time) *permissions.Client {
	t.Helper()
	c, err := permissions.New(permissions.Options{Issuer: p.issuer, URL: url, Timeout: 5 * time.Second,
		MaxCache: time.Minute, Catalog: shared.DefaultCatalog(), Signer: signer, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// retyped signs with the provider's key but another typ: a token of the
// provider that is not a permission request.
type retyped struct{ s *signing.RequestSigner }

func (r retyped) Sign(ctx context.Context, _ string, claims any) (string, error) {
	return r.s.Sign(ctx, "JWT", claims)
}

// TestExample runs the example endpoint against the provider's client: a
// valid request is answered (and the answer kept for its max-age); an
// expired one, one addressed to another endpoint, one with another typ,
// one signed by a key not in permissions-jwks.json are refused, which the
// provider sees as the service failing (nothing granted).
func TestExample(t *testing.T) {
	p := newProvider(t, permissionstest.Signer(t))
	var mu sync.Mutex
	var seen []Request
	lookup := func(_ context.Context, r Request) ([]string, error) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r)
		if r.Sub == "down" {
			return nil, errors.New("directory unavailable")
		}
		return []string{"REPO_WRITE", "NOT_A_SCOPE"}, nil
	}
	mux := http.NewServeMux()
	svc := httptest.NewServer(mux)
	defer svc.Close()
	endpoint := svc.URL + "/permissions"
	mux.Handle("/permissions", Handler(p.issuer, endpoint, lookup))
	mux.Handle("/other", Handler(p.issuer, svc.URL+"/other-audience", lookup))

	ctx := context.Background()
	alice := permissions.Request{Sub: "uid-alice", ClientID: "c1", Scopes: []string{"REPO_ADMIN"}, Username: "alice",
		Email: "alice@example.com", EmailVerified: true}
	got, err := p.client(t, endpoint, p.signer, time.Now).Permissions(ctx, alice)
	if err != nil || !slices.Equal(got, []string{"REPO_WRITE"}) {
		t.Fatalf("valid request: got %v, %v; want [REPO_WRITE]", got, err)
	}
	mu.Lock()
	if len(seen) != 1 || seen[0].Sub != "uid-alice" || seen[0].ClientID != "c1" || seen[0].Email != "alice@example.com" ||
		!slices.Equal(seen[0].Scopes, []string{"REPO_ADMIN"}) || seen[0].Upstream != nil {
		t.Errorf("the lookup saw %+v, want alice's request", seen)
	}
	mu.Unlock()

	other, err := signing.NewRequestSigner(ctx, &permissionstest.MemSource{}, signing.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*permissions.Client{
		"expired":          p.client(t, endpoint, p.signer, func() time.Time { return time.Now().Add(-2 * time.Minute) }),
		"issued ahead":     p.client(t, endpoint, p.signer, func() time.Time { return time.Now().Add(2 * time.Minute) }),
		"another audience": p.client(t, svc.URL+"/other", p.signer, time.Now),
		"another typ":      p.client(t, endpoint, retyped{p.signer}, time.Now),
		"another key":      p.client(t, endpoint, other, time.Now),
	} {
		if got, err := c.Permissions(ctx, alice); !errors.Is(err, shared.ErrUnavailable) || !strings.Contains(err.Error(), "status 401") {
			t.Errorf("%s: got %v, %v; want the service's 401, a failure", name, got, err)
		}
	}
	down := alice
	down.Sub = "down"
	if _, err := p.client(t, endpoint, p.signer, time.Now).Permissions(ctx, down); err == nil || !strings.Contains(err.Error(), "status 503") {
		t.Errorf("lookup failing: got %v, want the service's 503", err)
	}
	// The body's sub must be the JWT's: a request whose body names someone
	// else is refused.
	req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(`{"sub":"uid-mallory","client_id":"c1"}`))
	tok, err := p.signer.Sign(ctx, permissions.TokenType, map[string]any{"iss": p.issuer, "aud": endpoint, "sub": "uid-alice",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix(), "jti": "j"})
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("body for another sub: got %d, want 400", resp.StatusCode)
	}
	// The answer says how long to keep it.
	req, _ = http.NewRequest(http.MethodPost, endpoint, strings.NewReader(`{"sub":"uid-alice","client_id":"c1"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "max-age=30" {
		t.Errorf("answer: got %d with Cache-Control %q, want 200 max-age=30", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
}
