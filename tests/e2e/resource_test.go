package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/applinks/applinks/docs/resourceserver"
	"github.com/applinks/applinks/tests/testkit/oauthflow"
)

// apiServer is a team's resource server: the README's example
// (docs/resourceserver) in front of an endpoint that answers the token's
// subject and scope.
type apiServer struct {
	srv      *httptest.Server
	resource string
	link     link
}

// startAPI starts a resource server whose resource is its URL + path,
// registers it as a resource_server link with scopes, and serves the
// example for the provider.
func startAPI(t *testing.T, p *provider, name, path string, scopes []string) *apiServer {
	t.Helper()
	a := &apiServer{}
	var h http.Handler = http.NotFoundHandler()
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(a.srv.Close)
	a.resource = a.srv.URL + path
	p.admin("POST", "/admin/links", map[string]any{"name": name, "client_type": "resource_server", "scopes": scopes,
		"resource_uris": []string{a.resource}}, 201, &a.link)
	h = resourceserver.Handler(p.issuer, a.resource, scopes, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := resourceserver.ClaimsFrom(r.Context())
		_, _ = io.WriteString(w, c.Subject+" "+c.Scope)
	}))
	return a
}

// call GETs path of the resource server with the bearer token tok and
// returns the status, the body and the challenge.
func (a *apiServer) call(t *testing.T, path, tok string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+path, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header.Get("WWW-Authenticate")
}

// TestResourceIndicatorsEndToEnd: RFC 8707 and RFC 9728 through the local
// runner on DynamoDB Local, with an unmodified golang.org/x/oauth2 client
// and the README's resource server. The client reads the resource's
// metadata (RFC 9728) to find the provider, asks for a token for the
// resource (oauth2.SetAuthURLParam("resource", ...)) and gets one whose
// aud is the resource and whose scope is capped by the resource server's
// scopes; the resource server accepts it, before and after a refresh; it
// refuses a token asked for without the resource and one for another
// resource server, whose introspection also says inactive.
func TestResourceIndicatorsEndToEnd(t *testing.T) {
	p := startProvider(t, nil)
	ctx := context.Background()
	aliceID := p.createUser("alice", "plum tractor velvet orbit", []string{"REPO_WRITE"})
	repos := startAPI(t, p, "Repos API", "/mcp", []string{"REPO_READ"})
	other := startAPI(t, p, "Other API", "/v1", []string{"REPO_WRITE"})
	l := p.createLink("MCP client", callbackURL, []string{"REPO_ADMIN"}, "confidential")
	conf := oauthConfig(p, l, "/oauth2", oauth2.AuthStyleInHeader, "REPO_WRITE")

	// A client that only knows the resource's URL: its 401 names the
	// metadata, which names the provider.
	status, _, challenge := repos.call(t, "/mcp/tools", "")
	metaURL, ok := strings.CutPrefix(challenge, `Bearer resource_metadata="`)
	if status != http.StatusUnauthorized || !ok {
		t.Fatalf("without a token: %d %q, want 401 naming the metadata", status, challenge)
	}
	resp, err := http.Get(strings.TrimSuffix(metaURL, `"`))
	if err != nil {
		t.Fatal(err)
	}
	var md struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
	}
	err = json.NewDecoder(resp.Body).Decode(&md)
	resp.Body.Close()
	if err != nil || md.Resource != repos.resource || len(md.AuthorizationServers) != 1 || md.AuthorizationServers[0] != p.issuer {
		t.Fatalf("metadata %+v (%v), want the resource and the provider", md, err)
	}

	b := newBrowser(t, callbackURL)
	verifier := oauth2.GenerateVerifier()
	res := oauth2.SetAuthURLParam("resource", md.Resource)
	cb := b.authorize(conf.AuthCodeURL("s1", oauth2.S256ChallengeOption(verifier), res), "alice", "plum tractor velvet orbit", "approve")
	tok, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(verifier), res)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if got := tok.Extra("scope"); got != "REPO_READ" {
		t.Errorf("scope %v, want REPO_READ (alice's REPO_WRITE capped by the resource server)", got)
	}
	if c := p.claims(tok.AccessToken); c["aud"] != repos.resource {
		t.Errorf("aud %v, want %q", c["aud"], repos.resource)
	}
	if status, body, _ := repos.call(t, "/mcp/tools", tok.AccessToken); status != 200 || body != aliceID+" REPO_READ" {
		t.Errorf("the resource server with its token: %d %q, want 200 and alice's claims", status, body)
	}
	if status, _, _ := other.call(t, "/v1/x", tok.AccessToken); status != http.StatusUnauthorized {
		t.Errorf("another resource server with the token: %d, want 401", status)
	}
	introspect := func(a *apiServer, at string) bool {
		req, _ := http.NewRequest("POST", p.issuer+"/oauth2/introspect", strings.NewReader(url.Values{"token": {at}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		oauthflow.BasicAuth(req, a.link.ClientID, a.link.ClientSecret)
		resp, err := p.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m["active"] == true
	}
	if !introspect(repos, tok.AccessToken) || introspect(other, tok.AccessToken) {
		t.Error("introspection: want active to its resource server, inactive to the other")
	}

	// A refresh (the library sends no resource): still for the resource.
	old := *tok
	old.Expiry = time.Now().Add(-time.Minute)
	next, err := conf.TokenSource(ctx, &old).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if status, _, _ := repos.call(t, "/mcp/tools", next.AccessToken); status != 200 || next.AccessToken == tok.AccessToken {
		t.Errorf("the resource server with the refreshed token: %d, want 200", status)
	}
	// A refresh naming the other resource: invalid_target, and the token
	// stays usable.
	_, err = conf.Exchange(ctx, "", oauth2.SetAuthURLParam("grant_type", "refresh_token"),
		oauth2.SetAuthURLParam("refresh_token", next.RefreshToken), oauth2.SetAuthURLParam("resource", other.resource))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_target" {
		t.Errorf("refresh for another resource: %v, want invalid_target", err)
	}

	// Without a resource: a token for AUDIENCE, which the resource
	// server refuses.
	verifier = oauth2.GenerateVerifier()
	cb = b.authorize(conf.AuthCodeURL("s2", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "consent")),
		"alice", "plum tractor velvet orbit", "approve")
	plain, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange without a resource: %v", err)
	}
	if c := p.claims(plain.AccessToken); c["aud"] != p.issuer || plain.Extra("scope") != "REPO_WRITE" {
		t.Errorf("without a resource: aud %v scope %v, want the issuer and REPO_WRITE", c["aud"], plain.Extra("scope"))
	}
	if status, _, _ := repos.call(t, "/mcp/tools", plain.AccessToken); status != http.StatusUnauthorized {
		t.Errorf("the resource server with a token for AUDIENCE: %d, want 401", status)
	}
}
