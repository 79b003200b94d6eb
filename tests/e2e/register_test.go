package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestDynamicRegistration: an application finds the registration
// endpoint in the RFC 8414 metadata, registers itself with plain JSON (RFC
// 7591) under the approval policy, is refused at the authorization
// endpoint until an administrator approves it through the admin API, then
// runs the code flow with golang.org/x/oauth2 as any client would: a
// confidential client (client_secret_basic, PKCE, refresh) and a public one
// (none, PKCE), each capped by the policy's ceiling.
func TestDynamicRegistration(t *testing.T) {
	p := startProvider(t, nil)
	ctx := context.Background()
	p.createUser("alice", "plum tractor velvet orbit", []string{"REPO_ADMIN"})
	p.admin("PUT", "/admin/client-registration", map[string]any{
		"metadata_documents":   map[string]any{"mode": "off", "trusted_hosts": []string{}, "scopes": []string{"PUBLIC_REPOS"}},
		"dynamic_registration": map[string]any{"mode": "approval", "scopes": []string{"REPO_WRITE"}, "idle_days": 30},
	}, 200, nil)

	var md struct {
		RegistrationEndpoint string `json:"registration_endpoint"`
		AuthorizationURL     string `json:"authorization_endpoint"`
		TokenURL             string `json:"token_endpoint"`
	}
	getJSON(t, p.client, p.issuer+"/.well-known/oauth-authorization-server", &md)
	if md.RegistrationEndpoint != p.issuer+"/oauth2/register" {
		t.Fatalf("registration_endpoint %q", md.RegistrationEndpoint)
	}

	for _, tc := range []struct {
		name, method string
		style        oauth2.AuthStyle
	}{
		{"confidential", "client_secret_basic", oauth2.AuthStyleInHeader},
		{"public", "none", oauth2.AuthStyleInParams},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, _ := json.Marshal(map[string]any{
				"client_name": "Agent " + tc.name, "redirect_uris": []string{callbackURL},
				"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
				"token_endpoint_auth_method": tc.method, "scope": "openid REPO_ADMIN", "software_version": "1.0",
			})
			resp, err := p.client.Post(md.RegistrationEndpoint, "application/json", strings.NewReader(string(body)))
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("register: %d %s", resp.StatusCode, data)
			}
			var reg struct {
				ClientID     string `json:"client_id"`
				ClientSecret string `json:"client_secret"`
				Scope        string `json:"scope"`
			}
			if err := json.Unmarshal(data, &reg); err != nil {
				t.Fatal(err)
			}
			if reg.Scope != "openid REPO_WRITE" || (reg.ClientSecret == "") != (tc.method == "none") {
				t.Fatalf("registration answer: %s", data)
			}
			conf := &oauth2.Config{ClientID: reg.ClientID, ClientSecret: reg.ClientSecret, RedirectURL: callbackURL,
				Scopes:   []string{"REPO_WRITE"},
				Endpoint: oauth2.Endpoint{AuthURL: md.AuthorizationURL, TokenURL: md.TokenURL, AuthStyle: tc.style}}
			verifier := oauth2.GenerateVerifier()
			authURL := conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier))

			// Pending: the authorization endpoint refuses it, with a page.
			if pg := newBrowser(t, callbackURL).get(authURL); pg.status != http.StatusBadRequest {
				t.Fatalf("pending link at the authorization endpoint: %d, want 400", pg.status)
			}
			var pending struct {
				Links []struct {
					ID       string `json:"id"`
					ClientID string `json:"client_id"`
				} `json:"links"`
			}
			p.admin("GET", "/admin/links?origin=dynamic&status=pending", nil, 200, &pending)
			id := ""
			for _, l := range pending.Links {
				if l.ClientID == reg.ClientID {
					id = l.ID
				}
			}
			if id == "" {
				t.Fatalf("the registration is not among the pending links: %+v", pending)
			}
			p.admin("POST", "/admin/links/"+id+"/approve", nil, 200, nil)

			cb := newBrowser(t, callbackURL).authorize(authURL, "alice", "plum tractor velvet orbit", "approve")
			tok, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if tok.Extra("scope") != "REPO_WRITE" || tok.RefreshToken == "" {
				t.Fatalf("token: scope %v, refresh token %v", tok.Extra("scope"), tok.RefreshToken != "")
			}
			if c := p.claims(tok.AccessToken); c["client_id"] != reg.ClientID {
				t.Fatalf("claims: %v", c)
			}
			tok.Expiry = time.Now().Add(-time.Minute) // make the source refresh
			fresh, err := conf.TokenSource(ctx, tok).Token()
			if err != nil || fresh.AccessToken == tok.AccessToken {
				t.Fatalf("refresh: %v", err)
			}
		})
	}
}

// getJSON GETs u and decodes its JSON answer into out.
func getJSON(t *testing.T, c *http.Client, u string, out any) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}
