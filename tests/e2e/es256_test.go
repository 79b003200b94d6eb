package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestOpenIDConnectES256: against the local runner on DynamoDB Local, an
// unmodified coreos/go-oidc relying party signs a user in through a link
// that asks for ES256 ID tokens (id_token_signed_response_alg) and
// verifies the ID token against the discovered JWK Set, with its default
// configuration (it takes the algorithms discovery lists) and when set to
// ES256; one set to RS256 alone refuses it. Then each ID token, ES256 and that of an
// RS256 link, is the id_token_hint of an RP-initiated logout that the
// provider honours.
func TestOpenIDConnectES256(t *testing.T) {
	ctx := context.Background()
	p := startProvider(t, nil)
	const pw = "plum tractor velvet orbit"
	p.createUser("ada", pw, []string{"REPO_READ"})
	const signedOut = "http://127.0.0.1:9/signed-out" // never contacted either
	newLink := func(name, alg string) link {
		var l link
		var got struct {
			Alg string `json:"id_token_signed_response_alg"`
		}
		body := map[string]any{"name": name, "redirect_uris": []string{callbackURL}, "post_logout_redirect_uris": []string{signedOut},
			"scopes": []string{"REPO_READ"}, "id_token_signed_response_alg": alg}
		p.admin("POST", "/admin/links", body, 201, &l)
		p.admin("GET", "/admin/links/"+l.ID, nil, 200, &got)
		if got.Alg != alg {
			t.Fatalf("link %s: got id_token_signed_response_alg %q, want %s", name, got.Alg, alg)
		}
		return l
	}
	es, rs := newLink("Go service", "ES256"), newLink("Legacy service", "RS256")

	op, err := oidc.NewProvider(ctx, p.issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var disc struct {
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := op.Claims(&disc); err != nil || !slices.Equal(disc.Algs, []string{"RS256", "ES256"}) {
		t.Errorf("id_token_signing_alg_values_supported: got %v (%v), want [RS256 ES256]", disc.Algs, err)
	}

	signIn := func(l link, b *browser) (*oauth2.Token, string) {
		conf := &oauth2.Config{ClientID: l.ClientID, ClientSecret: l.ClientSecret, RedirectURL: callbackURL,
			Endpoint: op.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "profile"}}
		pkce := oauth2.GenerateVerifier()
		cb := b.authorize(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(pkce), oidc.Nonce("n-"+l.ClientID)), "ada", pw, "approve")
		tok, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(pkce))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		raw, _ := tok.Extra("id_token").(string)
		if raw == "" {
			t.Fatal("no id_token")
		}
		return tok, raw
	}

	// The browsers stop at the application's port, never contacted.
	const app = "http://127.0.0.1:9/"
	b := newBrowser(t, app)
	tok, esID := signIn(es, b)
	if alg := jwsAlg(t, esID); alg != "ES256" {
		t.Errorf("ID token of the ES256 link: got alg %s, want ES256", alg)
	}
	if alg := jwsAlg(t, tok.AccessToken); alg != "RS256" {
		t.Errorf("access token: got alg %s, want RS256 (the deployment's access-token algorithm)", alg)
	}
	// go-oidc's provider takes the algorithms discovery lists when the RP
	// names none, so both its default and an RP set to ES256 verify it.
	for name, algs := range map[string][]string{"default": nil, "set to ES256": {oidc.ES256}} {
		idt, err := op.Verifier(&oidc.Config{ClientID: es.ClientID, SupportedSigningAlgs: algs}).Verify(ctx, esID)
		if err != nil {
			t.Fatalf("go-oidc %s: %v", name, err)
		}
		if idt.Nonce != "n-"+es.ClientID || idt.VerifyAccessToken(tok.AccessToken) != nil {
			t.Errorf("go-oidc %s: nonce %q, at_hash check %v", name, idt.Nonce, idt.VerifyAccessToken(tok.AccessToken))
		}
	}
	if _, err := op.Verifier(&oidc.Config{ClientID: es.ClientID, SupportedSigningAlgs: []string{oidc.RS256}}).Verify(ctx, esID); err == nil {
		t.Error("go-oidc set to RS256 alone accepted an ES256 ID token")
	}

	logout := func(b *browser, l link, hint, alg string) {
		t.Helper()
		q := url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {signedOut}, "state": {"bye-" + alg}}
		confirm := b.get(p.issuer + "/oauth2/logout?" + q.Encode())
		if confirm.status != http.StatusOK || !strings.Contains(confirm.body, "asks to sign you out") {
			t.Fatalf("logout with the %s hint: got %d:\n%.500s", alg, confirm.status, confirm.body)
		}
		done := b.submit(confirm, parseForm(t, confirm), nil)
		if to := done.header.Get("Location"); done.status != http.StatusSeeOther || to != signedOut+"?state=bye-"+alg {
			t.Errorf("logout with the %s hint: got %d to %q, want 303 to %s?state=bye-%s", alg, done.status, to, signedOut, alg)
		}
	}
	logout(b, es, esID, "ES256")

	b2 := newBrowser(t, app)
	_, rsID := signIn(rs, b2)
	if alg := jwsAlg(t, rsID); alg != "RS256" {
		t.Errorf("ID token of the RS256 link: got alg %s, want RS256", alg)
	}
	if _, err := op.Verifier(&oidc.Config{ClientID: rs.ClientID}).Verify(ctx, rsID); err != nil {
		t.Errorf("go-oidc (default RS256): %v", err)
	}
	logout(b2, rs, rsID, "RS256")
}

// jwsAlg is the alg of a compact JWS's header.
func jwsAlg(t *testing.T, tok string) string {
	t.Helper()
	head, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	var h struct {
		Alg string `json:"alg"`
	}
	if err == nil {
		err = json.Unmarshal(head, &h)
	}
	if err != nil {
		t.Fatalf("JWS header: %v", err)
	}
	return h.Alg
}
