package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// TestZitadelRelyingParty signs a user in with the unmodified relying party
// of github.com/zitadel/oidc/v3 (pkg/client/rp) in its default OIDC mode
// against the local runner on DynamoDB Local. The relying party runs as a
// real application would: an httptest server with rp.AuthURLHandler at
// /login and rp.CodeExchangeHandler (wrapped in rp.UserinfoCallback) at its
// redirect URI, its state and PKCE verifier in the library's encrypted
// cookies (rp.WithPKCE with an httphelper cookie handler; WithUnsecure only
// because the test's origin is http). The test's browser keeps one cookie
// jar for the application and the provider, so the state and PKCE cookies
// set by /login come back to the callback.
//
// Options are the defaults: discovery from the issuer, ID tokens RS256 only,
// no nonce (the library then requires none in the ID token), at_hash checked
// when present, client authentication auto-detected for the code exchange
// and client_secret_post for the refresh.
//
// It asserts what the library hands the application: the ID token's sub is
// the user's id from POST /admin/users, aud and azp the client, name,
// preferred_username, email and email_verified, an at_hash (so the library
// checked it), auth_time at the sign-in; UserInfo (through the callback and
// rp.Userinfo) with the same sub and the email; rp.RefreshTokens returns a
// fresh ID token that verifies, keeps sub and auth_time, carries no nonce and
// is issued later, with rotated access and refresh tokens.
func TestZitadelRelyingParty(t *testing.T) {
	ctx := context.Background()
	p := startProvider(t, nil)
	const pw = "plum tractor velvet orbit"
	var u struct {
		ID string `json:"id"`
	}
	p.admin("POST", "/admin/users", map[string]any{"username": "ada", "password": pw, "permissions": []string{"REPO_WRITE"},
		"name": "Ada Lovelace", "email": "ada@example.com", "email_verified": true}, 201, &u)
	if u.ID == "" {
		t.Fatal("POST /admin/users returned no id")
	}

	// The application: its handlers are registered once the relying party
	// exists (it needs the link's credentials, the link needs the app's URL).
	mux := http.NewServeMux()
	app := httptest.NewServer(mux)
	t.Cleanup(app.Close)
	redirectURI := app.URL + "/auth/callback"
	l := p.createLink("Zitadel app", redirectURI, []string{"REPO_READ"}, "confidential")

	key := make([]byte, 32)
	_, _ = rand.Read(key)
	cookies := httphelper.NewCookieHandler(key, key, httphelper.WithUnsecure())
	scopes := []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, "REPO_READ"}
	relying, err := rp.NewRelyingPartyOIDC(ctx, p.issuer, l.ClientID, l.ClientSecret, redirectURI, scopes, rp.WithPKCE(cookies))
	if err != nil {
		t.Fatalf("discovery (rp.NewRelyingPartyOIDC): %v", err)
	}
	if got := relying.OAuthConfig().Endpoint; got.AuthURL != p.issuer+"/oauth2/authorize" || got.TokenURL != p.issuer+"/oauth2/token" ||
		relying.UserinfoEndpoint() != p.issuer+"/oauth2/userinfo" || !relying.IsPKCE() || relying.IsOAuth2Only() {
		t.Errorf("relying party from discovery: endpoints %+v, userinfo %q, PKCE %v, OAuth2 only %v",
			got, relying.UserinfoEndpoint(), relying.IsPKCE(), relying.IsOAuth2Only())
	}

	authRedirects := make(chan string, 1)
	login := rp.AuthURLHandler(func() string { return rand.Text() }, relying)
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		login(w, r)
		authRedirects <- w.Header().Get("Location")
	})
	type signIn struct {
		tokens *oidc.Tokens[*oidc.IDTokenClaims]
		info   *oidc.UserInfo
	}
	signIns := make(chan signIn, 1)
	mux.Handle("/auth/callback", rp.CodeExchangeHandler(rp.UserinfoCallback(
		func(w http.ResponseWriter, r *http.Request, tokens *oidc.Tokens[*oidc.IDTokenClaims], state string, _ rp.RelyingParty, info *oidc.UserInfo) {
			signIns <- signIn{tokens, info}
			_, _ = w.Write([]byte("signed in"))
		}), relying))

	b := newBrowser(t, redirectURI)
	cb := b.authorize(app.URL+"/login", "ada", pw, "approve")
	signedIn := time.Now()

	// What AuthURLHandler sent the browser to: PKCE S256, the default
	// scopes, no nonce.
	authURL, err := url.Parse(<-authRedirects)
	if err != nil {
		t.Fatal(err)
	}
	if q := authURL.Query(); q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256" || q.Get("nonce") != "" ||
		q.Get("scope") != "openid profile email REPO_READ" || q.Get("state") == "" || q.Get("redirect_uri") != redirectURI {
		t.Errorf("authorization request from rp.AuthURLHandler: %v", q)
	}
	if q := cb.Query(); q.Get("code") == "" || q.Get("state") != authURL.Query().Get("state") || q.Get("iss") != p.issuer {
		t.Fatalf("redirect to the application: %v, want code, the state and iss", cb)
	}

	// The browser follows the redirect to the application, with the state
	// and PKCE cookies: CodeExchangeHandler checks the state, exchanges the
	// code with the verifier, verifies the ID token and calls UserInfo.
	page := b.get(cb.String())
	if page.status != http.StatusOK || page.body != "signed in" {
		t.Fatalf("callback (rp.CodeExchangeHandler): status %d: %s", page.status, page.body)
	}
	var si signIn
	select {
	case si = <-signIns:
	default:
		t.Fatal("the callback answered 200 but the application's callback was not called")
	}
	tok, info := si.tokens, si.info
	c := tok.IDTokenClaims
	if tok.IDToken == "" || c == nil {
		t.Fatalf("code exchange: no ID token in %+v", tok.Token)
	}
	if got := tok.Extra("scope"); got != "REPO_READ openid profile email" {
		t.Errorf("scope: got %v, want REPO_READ openid profile email", got)
	}
	if tok.RefreshToken == "" {
		t.Error("code exchange: no refresh token")
	}
	if c.Subject != u.ID || c.Issuer != p.issuer || !slices.Contains(c.Audience, l.ClientID) || (c.AuthorizedParty != "" && c.AuthorizedParty != l.ClientID) ||
		c.Nonce != "" || c.SignatureAlg != "RS256" {
		t.Errorf("ID token: sub %q iss %q aud %v azp %q nonce %q alg %s; want sub %s, iss %s, aud and azp %s, no nonce, RS256",
			c.Subject, c.Issuer, c.Audience, c.AuthorizedParty, c.Nonce, c.SignatureAlg, u.ID, p.issuer, l.ClientID)
	}
	if c.Name != "Ada Lovelace" || c.PreferredUsername != "ada" || c.Email != "ada@example.com" || !bool(c.EmailVerified) {
		t.Errorf("ID token claims: name %q preferred_username %q email %q email_verified %v, want ada's",
			c.Name, c.PreferredUsername, c.Email, c.EmailVerified)
	}
	if c.AccessTokenHash == "" {
		t.Error("ID token has no at_hash, so the library checked nothing against the access token")
	} else if want, err := oidc.ClaimHash(tok.AccessToken, c.SignatureAlg); err != nil || want != c.AccessTokenHash {
		t.Errorf("at_hash %q, want %q (%v)", c.AccessTokenHash, want, err)
	}
	if at := c.GetAuthTime(); at.IsZero() || at.After(signedIn.Add(time.Second)) || signedIn.Sub(at) > time.Minute {
		t.Errorf("auth_time %v, want the sign-in, about %v", at, signedIn)
	}
	if info == nil || info.Subject != u.ID || info.Email != "ada@example.com" || !bool(info.EmailVerified) || info.Name != "Ada Lovelace" {
		t.Errorf("UserInfo through rp.UserinfoCallback: %+v, want ada's sub %s, email, name", info, u.ID)
	}

	// rp.RefreshTokens: a fresh ID token that verifies, keeping sub and
	// auth_time, no nonce, a later iat; access and refresh tokens rotated.
	time.Sleep(1100 * time.Millisecond) // a later iat
	fresh, err := rp.RefreshTokens[*oidc.IDTokenClaims](ctx, relying, tok.RefreshToken, "", "")
	if err != nil {
		t.Fatalf("rp.RefreshTokens: %v", err)
	}
	if fresh.IDToken == "" || fresh.IDTokenClaims == nil {
		t.Fatalf("rp.RefreshTokens: no ID token (the library tolerates its absence; SPEC promises a fresh one), scope %v", fresh.Extra("scope"))
	}
	c2 := fresh.IDTokenClaims
	if c2.Subject != u.ID || !slices.Contains(c2.Audience, l.ClientID) || c2.Nonce != "" || c2.AuthTime != c.AuthTime ||
		!c2.GetIssuedAt().After(c.GetIssuedAt()) || c2.AccessTokenHash == "" || fresh.IDToken == tok.IDToken {
		t.Errorf("refreshed ID token: sub %q aud %v nonce %q auth_time %v iat %v at_hash %q; want sub %s, auth_time %v, no nonce, iat after %v, an at_hash",
			c2.Subject, c2.Audience, c2.Nonce, c2.GetAuthTime(), c2.GetIssuedAt(), c2.AccessTokenHash, u.ID, c.GetAuthTime(), c.GetIssuedAt())
	}
	if c2.Email != "ada@example.com" || c2.Name != "Ada Lovelace" {
		t.Errorf("refreshed ID token claims: email %q name %q, want ada's", c2.Email, c2.Name)
	}
	if fresh.AccessToken == "" || fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == "" || fresh.RefreshToken == tok.RefreshToken {
		t.Error("rp.RefreshTokens: want a new access token and a rotated refresh token")
	}
	if got := fresh.Extra("scope"); got != "REPO_READ openid profile email" {
		t.Errorf("refreshed scope: got %v, want REPO_READ openid profile email", got)
	}

	// rp.Userinfo with the refreshed access token: the library checks that
	// its sub is the ID token's.
	info2, err := rp.Userinfo[*oidc.UserInfo](ctx, fresh.AccessToken, fresh.TokenType, c2.Subject, relying)
	if err != nil {
		t.Fatalf("rp.Userinfo: %v", err)
	}
	if info2.Subject != u.ID || info2.Email != "ada@example.com" || !bool(info2.EmailVerified) || info2.PreferredUsername != "ada" {
		t.Errorf("rp.Userinfo: %+v, want ada's sub %s, email, username", info2, u.ID)
	}

	// RP-Initiated Logout with rp.EndSession: the application posts the
	// request from its server (id_token_hint, client_id, its registered
	// post-logout redirect, state) and sends the browser to the Location it
	// gets back; the provider asks the person, ends the session and sends
	// the browser back to the application with the state.
	if got := relying.GetEndSessionEndpoint(); got != p.issuer+"/oauth2/logout" {
		t.Errorf("end_session_endpoint from discovery: %q, want %s/oauth2/logout", got, p.issuer)
	}
	signedOutURI := app.URL + "/signed-out"
	p.admin("PATCH", "/admin/links/"+l.ID, map[string]any{"post_logout_redirect_uris": []string{signedOutURI}}, 200, nil)
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		to, err := rp.EndSession(r.Context(), relying, fresh.IDToken, signedOutURI, "bye-state", "", nil)
		if err != nil || to == nil {
			http.Error(w, fmt.Sprintf("rp.EndSession: %v (location %v)", err, to), http.StatusBadGateway)
			return
		}
		http.Redirect(w, r, to.String(), http.StatusFound)
	})
	mux.HandleFunc("/signed-out", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("signed out, state " + r.URL.Query().Get("state")))
	})
	confirm := b.get(app.URL + "/logout")
	if confirm.status != http.StatusOK || confirm.url.Path != "/oauth2/logout" || !strings.Contains(confirm.body, "Zitadel app</strong> asks to sign you out") {
		t.Fatalf("logout through rp.EndSession: got %d at %s, want the provider's confirmation page:\n%.600s", confirm.status, confirm.url, confirm.body)
	}
	done := b.submit(confirm, parseForm(t, confirm), nil)
	if done.status != http.StatusOK || done.url.String() != signedOutURI+"?state=bye-state" || done.body != "signed out, state bye-state" {
		t.Errorf("after confirming: got %d at %s (%q), want the application's signed-out page with the state", done.status, done.url, done.body)
	}
	if acct := b.get(p.issuer + "/account/authorizations"); !strings.Contains(acct.body, `name="password"`) {
		t.Errorf("the provider session survived the logout: the account page is not the sign-in form")
	}
}
