package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/applinks/applinks/docs/permissionservice"
)

// teamService is the team's permission service: the documented example
// endpoint (docs/permission-service.md), which verifies every request's
// JWT against the provider's permissions-jwks.json, over a directory the
// test changes while it runs.
type teamService struct {
	url string
	h   atomic.Pointer[http.Handler]

	mu    sync.Mutex
	perms map[string][]string // by sub
	down  bool
	asked int
}

func newTeamService(t *testing.T) *teamService {
	s := &teamService{perms: map[string][]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := s.h.Load()
		if h == nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		(*h).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL + "/permissions"
	return s
}

// serve starts answering for the provider at issuer.
func (s *teamService) serve(issuer string) {
	h := permissionservice.Handler(issuer, s.url, func(_ context.Context, r permissionservice.Request) ([]string, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.asked++
		if s.down {
			return nil, errors.New("directory down")
		}
		return s.perms[r.Sub], nil
	})
	s.h.Store(&h)
}

func (s *teamService) set(sub string, down bool, perms ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.perms[sub], s.down = perms, down
}

func (s *teamService) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.asked
}

// TestPermissionServiceEndToEnd: PERMISSION_SOURCE=service through the
// local runner on DynamoDB Local, with an unmodified golang.org/x/oauth2
// client and the documented example endpoint as the team's service (so
// every request's JWT verifies against the provider's
// permissions-jwks.json, which the token JWK Set does not overlap). The
// stored permissions count for nothing; the service's answer caps the
// consent, the exchange and each refresh; lowering shows at the next
// refresh, raising never goes beyond what alice approved; while the
// service fails, the consent page is 503 and the token endpoint 503
// temporarily_unavailable, and the same code and refresh token work once
// it is back.
func TestPermissionServiceEndToEnd(t *testing.T) {
	svc := newTeamService(t)
	p := startProvider(t, map[string]string{"PERMISSION_SOURCE": "service", "PERMISSIONS_URL": svc.url,
		"PERMISSIONS_CACHE": "0"})
	svc.serve(p.issuer)
	ctx := context.Background()

	aliceID := p.createUser("alice", "plum tractor velvet orbit", []string{"SYSTEM_ADMIN"})
	svc.set(aliceID, false, "REPO_WRITE")
	l := p.createLink("Demo app", callbackURL, []string{"REPO_ADMIN"}, "confidential")
	conf := oauthConfig(p, l, "/oauth2", oauth2.AuthStyleInHeader, "REPO_ADMIN")
	b := newBrowser(t, callbackURL)
	verifier := oauth2.GenerateVerifier()
	cb := b.authorize(conf.AuthCodeURL("s1", oauth2.S256ChallengeOption(verifier)), "alice", "plum tractor velvet orbit", "approve")
	tok, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if got := tok.Extra("scope"); got != "REPO_WRITE" {
		t.Errorf("exchange: got scope %v, want REPO_WRITE (the service's answer, not the stored SYSTEM_ADMIN)", got)
	}
	if n := svc.count(); n != 3 {
		t.Errorf("got %d requests to the service (consent page, approval, exchange), want 3", n)
	}

	refresh := func(tk *oauth2.Token) (*oauth2.Token, error) {
		old := *tk
		old.Expiry = time.Now().Add(-time.Minute)
		return conf.TokenSource(ctx, &old).Token()
	}
	unavailable := func(what string, err error) {
		t.Helper()
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "temporarily_unavailable" || re.Response.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s: got %v, want 503 temporarily_unavailable", what, err)
		}
	}
	for _, step := range []struct {
		perms []string
		want  string
	}{
		{[]string{"REPO_READ"}, "REPO_READ"},
		{[]string{"SYSTEM_ADMIN"}, "REPO_WRITE"}, // never beyond the approval
		{[]string{}, "PUBLIC_REPOS"},
	} {
		svc.set(aliceID, false, step.perms...)
		next, err := refresh(tok)
		if err != nil {
			t.Fatalf("refresh with %v: %v", step.perms, err)
		}
		if got := next.Extra("scope"); got != step.want {
			t.Errorf("refresh with %v: got scope %v, want %s", step.perms, got, step.want)
		}
		tok = next
	}

	svc.set(aliceID, true)
	_, err = refresh(tok)
	unavailable("refresh while the service is down", err)
	// The consent page says so, and nothing reaches the application.
	page := b.get(conf.AuthCodeURL("s2", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "consent")))
	if page.status != http.StatusServiceUnavailable || !strings.Contains(page.body, "Your permissions cannot be confirmed right now") {
		t.Errorf("consent while the service is down: got %d, want 503 and the page saying so", page.status)
	}
	// A code issued while the service answered (a remembered consent),
	// then exchanged while it fails: refused, then redeemed once it is
	// back.
	svc.set(aliceID, false, "REPO_WRITE")
	verifier = oauth2.GenerateVerifier()
	remembered := b.get(conf.AuthCodeURL("s3", oauth2.S256ChallengeOption(verifier)))
	if remembered.status != http.StatusFound {
		t.Fatalf("remembered consent: got %d, want 302 with a code", remembered.status)
	}
	cb = redirectTarget(t, remembered)
	svc.set(aliceID, true)
	_, err = conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(verifier))
	unavailable("exchange while the service is down", err)
	svc.set(aliceID, false, "REPO_WRITE")
	if _, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Errorf("exchange of the same code once the service is back: %v", err)
	}
	next, err := refresh(tok)
	if err != nil || next.Extra("scope") != "REPO_WRITE" {
		t.Errorf("refresh with the unspent token once the service is back: got %v, %v; want REPO_WRITE", next, err)
	}

	// The two key sets do not overlap.
	kids := func(path string) []string {
		resp, err := p.client.Get(p.issuer + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var set jose.JSONWebKeySet
		if err := json.NewDecoder(resp.Body).Decode(&set); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, err)
		}
		var out []string
		for _, k := range set.Keys {
			out = append(out, k.KeyID)
		}
		return out
	}
	perm, tokens := kids("/.well-known/permissions-jwks.json"), kids("/.well-known/jwks.json")
	if len(perm) != 1 || slices.Contains(tokens, perm[0]) {
		t.Errorf("permissions-jwks.json %v, jwks.json %v: want one key of its own", perm, tokens)
	}
}
