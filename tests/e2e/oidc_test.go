package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestOpenIDConnect signs a user in with unmodified github.com/coreos/go-oidc
// and golang.org/x/oauth2 against the local runner on DynamoDB Local:
// discovery, the code flow with PKCE and a nonce, ID token verification
// (signature by the JWKS, iss, aud, exp, nonce), the claims of profile and
// email, UserInfo, and a refresh that returns a fresh ID token keeping
// auth_time. A request without openid gets no ID token (Bitbucket clients
// see no change).
func TestOpenIDConnect(t *testing.T) {
	ctx := context.Background()
	p := startProvider(t, nil)
	const pw = "plum tractor velvet orbit"
	var u struct {
		ID string `json:"id"`
	}
	p.admin("POST", "/admin/users", map[string]any{"username": "grace", "password": pw, "permissions": []string{"REPO_WRITE"},
		"name": "Grace Hopper", "email": "grace@example.com", "email_verified": true}, 201, &u)
	l := p.createLink("Grafana", callbackURL, []string{"REPO_READ"}, "confidential")

	op, err := oidc.NewProvider(ctx, p.issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var disc struct {
		Issuer     string `json:"issuer"`
		UserInfo   string `json:"userinfo_endpoint"`
		EndSession string `json:"end_session_endpoint"`
	}
	if err := op.Claims(&disc); err != nil || disc.Issuer != p.issuer || disc.UserInfo != p.issuer+"/oauth2/userinfo" ||
		disc.EndSession != p.issuer+"/oauth2/logout" {
		t.Errorf("discovery document: %+v (%v), want issuer %s and its userinfo and end-session endpoints", disc, err, p.issuer)
	}
	conf := &oauth2.Config{ClientID: l.ClientID, ClientSecret: l.ClientSecret, RedirectURL: callbackURL,
		Endpoint: op.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}
	verifier := op.Verifier(&oidc.Config{ClientID: l.ClientID})

	pkce := oauth2.GenerateVerifier()
	const nonce = "n-0S6_WzA2Mj"
	cb := newBrowser(t, callbackURL).authorize(
		conf.AuthCodeURL("st-oidc", oauth2.S256ChallengeOption(pkce), oidc.Nonce(nonce)), "grace", pw, "approve")
	signedIn := time.Now()
	tok, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatalf("no id_token in the token response (scope %v)", tok.Extra("scope"))
	}
	if got := tok.Extra("scope"); got != "REPO_READ openid profile email" {
		t.Errorf("scope: got %v, want REPO_READ openid profile email", got)
	}
	id, err := verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("ID token verification: %v", err)
	}
	if err := id.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	var claims struct {
		Sub               string `json:"sub"`
		Azp               string `json:"azp"`
		Nonce             string `json:"nonce"`
		AuthTime          int64  `json:"auth_time"`
		Name              string `json:"name"`
		PreferredUsername string `json:"preferred_username"`
		Email             string `json:"email"`
		EmailVerified     bool   `json:"email_verified"`
	}
	if err := id.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.Sub != u.ID || id.Subject != u.ID || claims.Azp != l.ClientID || claims.Nonce != nonce ||
		claims.Name != "Grace Hopper" || claims.PreferredUsername != "grace" || claims.Email != "grace@example.com" || !claims.EmailVerified {
		t.Errorf("ID token claims %+v, want sub %s, azp %s, nonce, name, username, verified email", claims, u.ID, l.ClientID)
	}
	if at := time.Unix(claims.AuthTime, 0); at.After(signedIn.Add(time.Second)) || signedIn.Sub(at) > time.Minute {
		t.Errorf("auth_time %v, want the sign-in, about %v", at, signedIn)
	}

	info, err := op.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("UserInfo: %v", err)
	}
	var ic struct {
		Name string `json:"name"`
	}
	if err := info.Claims(&ic); err != nil || info.Subject != u.ID || info.Email != "grace@example.com" || !info.EmailVerified || ic.Name != "Grace Hopper" {
		t.Errorf("UserInfo: sub %s email %s verified %v name %q (%v), want grace's", info.Subject, info.Email, info.EmailVerified, ic.Name, err)
	}

	// UserInfo by POST, the token in the header and in the form body
	// (RFC 6750 §2.1, §2.2); no token: 401 with a bare Bearer challenge.
	userinfo := p.issuer + "/oauth2/userinfo"
	for name, mk := range map[string]func() *http.Request{
		"POST header": func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, userinfo, nil)
			r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			return r
		},
		"POST body": func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, userinfo, strings.NewReader(url.Values{"access_token": {tok.AccessToken}}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		},
	} {
		resp, err := http.DefaultClient.Do(mk())
		if err != nil {
			t.Fatalf("UserInfo %s: %v", name, err)
		}
		var got struct {
			Sub   string `json:"sub"`
			Email string `json:"email"`
		}
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil || got.Sub != u.ID || got.Email != "grace@example.com" {
			t.Errorf("UserInfo %s: status %d, %+v (%v), want grace's claims", name, resp.StatusCode, got, err)
		}
	}
	if resp, err := http.Post(userinfo, "application/x-www-form-urlencoded", nil); err != nil {
		t.Fatalf("UserInfo without a token: %v", err)
	} else {
		resp.Body.Close()
		if ch := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(ch, "Bearer") || strings.Contains(ch, "error=") {
			t.Errorf("UserInfo without a token: status %d, WWW-Authenticate %q; want 401 and a Bearer challenge without error (RFC 6750 §3.1)", resp.StatusCode, ch)
		}
	}
	// A malformed request is 400 invalid_request (RFC 6750 §3.1): the
	// token both in the header and in the body (§2), or a body with a
	// repeated field.
	for name, body := range map[string]string{
		"token twice":    url.Values{"access_token": {tok.AccessToken}}.Encode(),
		"repeated field": "a=1&a=2",
	} {
		r, _ := http.NewRequest(http.MethodPost, userinfo, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatalf("UserInfo %s: %v", name, err)
		}
		resp.Body.Close()
		if ch := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != http.StatusBadRequest || !strings.Contains(ch, `error="invalid_request"`) {
			t.Errorf("UserInfo %s: status %d, WWW-Authenticate %q; want 400 invalid_request", name, resp.StatusCode, ch)
		}
	}

	// A refresh: a fresh ID token, the same sub and auth_time, no nonce.
	old := *tok
	old.Expiry = time.Now().Add(-time.Minute)
	time.Sleep(1100 * time.Millisecond) // a later iat
	refreshed, err := conf.TokenSource(ctx, &old).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	raw2, _ := refreshed.Extra("id_token").(string)
	id2, err := verifier.Verify(ctx, raw2)
	if err != nil {
		t.Fatalf("refreshed ID token: %v", err)
	}
	var c2 struct {
		AuthTime int64  `json:"auth_time"`
		Nonce    string `json:"nonce"`
	}
	if err := id2.Claims(&c2); err != nil || id2.Subject != u.ID || c2.AuthTime != claims.AuthTime || c2.Nonce != "" || !id2.IssuedAt.After(id.IssuedAt) {
		t.Errorf("refreshed ID token: sub %s auth_time %d nonce %q iat %v (%v), want sub %s, auth_time %d, no nonce, a later iat",
			id2.Subject, c2.AuthTime, c2.Nonce, id2.IssuedAt, err, u.ID, claims.AuthTime)
	}

	// Without openid: exactly the OAuth answer, no ID token.
	plain := oauthConfig(p, l, "/oauth2", oauth2.AuthStyleInHeader, "REPO_READ")
	pkce = oauth2.GenerateVerifier()
	cb = newBrowser(t, callbackURL).authorize(plain.AuthCodeURL("st-plain", oauth2.S256ChallengeOption(pkce)), "grace", pw, "approve")
	t2, err := plain.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatalf("plain exchange: %v", err)
	}
	if t2.Extra("id_token") != nil || t2.Extra("scope") != "REPO_READ" {
		t.Errorf("without openid: id_token %v, scope %v; want none and REPO_READ", t2.Extra("id_token"), t2.Extra("scope"))
	}
	// UserInfo refuses a token without openid.
	if _, err := op.UserInfo(ctx, oauth2.StaticTokenSource(t2)); err == nil {
		t.Error("UserInfo with a token without openid: got claims, want an error")
	}

	// An application approved for permissions alone must ask before it
	// learns the user's profile or email: the remembered consent does not
	// cover protocol scopes it never had (the consent page is shown, and
	// denying it gives access_denied, not a code).
	other := p.createLink("Other app", callbackURL, []string{"REPO_READ"}, "confidential")
	oplain := oauthConfig(p, other, "/oauth2", oauth2.AuthStyleInHeader, "REPO_READ")
	pkce = oauth2.GenerateVerifier()
	if cb := newBrowser(t, callbackURL).authorize(oplain.AuthCodeURL("s-o1", oauth2.S256ChallengeOption(pkce)), "grace", pw, "approve"); cb.Query().Get("code") == "" {
		t.Fatalf("plain approval of the other app: %v", cb)
	}
	ooidc := oauthConfig(p, other, "/oauth2", oauth2.AuthStyleInHeader, "REPO_READ", "openid", "email")
	cb = newBrowser(t, callbackURL).authorize(ooidc.AuthCodeURL("s-o2", oauth2.S256ChallengeOption(pkce)), "grace", pw, "deny")
	if q := cb.Query(); q.Get("code") != "" || q.Get("error") != "access_denied" {
		t.Errorf("openid email after a plain approval: got %v, want the consent page (denied: access_denied), not a code", q)
	}
}
