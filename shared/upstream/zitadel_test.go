package upstream

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/applinks/applinks/shared/upstream/upstreamtest"
)

// The redirect URI the tests register at the example OP; nothing listens
// there: the test's browser stops at it.
const testRedirect = "http://127.0.0.1:1/oauth2/upstream/callback"

func startZitadel(t *testing.T) string {
	return upstreamtest.StartZitadel(t, map[string]string{"app": testRedirect, "other": testRedirect})
}

// signInAt signs in at the example OP from authURL and returns the query
// of its redirect back (code, state).
func signInAt(t *testing.T, authURL, username, password string) url.Values {
	return upstreamtest.ZitadelLogin(t, upstreamtest.NewBrowser(), authURL, username, password).Query()
}

func settings(issuer, clientID string) Settings {
	return Settings{Issuer: issuer, ClientID: clientID, ClientSecret: "secret", Scopes: []string{"openid", "profile", "email"},
		RedirectURL: testRedirect, UsernameClaim: "preferred_username"}
}

// TestZitadelSignIn signs in through zitadel/oidc's example OP: Begin sends
// PKCE S256, state and nonce; Finish redeems the code, verifies the ID
// token with go-oidc, and takes the username and email from UserInfo (the
// example OP puts no profile claims in its ID token); auth_time is the
// OP's.
func TestZitadelSignIn(t *testing.T) {
	ctx := context.Background()
	issuer := startZitadel(t)
	c := New(Options{})
	if err := c.Check(ctx, issuer); err != nil {
		t.Fatalf("Check: %v", err)
	}
	s := settings(issuer, "app")
	before := time.Now().Add(-time.Second)
	st, err := c.Begin(ctx, s, "", true, 300)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(st.URL)
	q := u.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") != oauth2.S256ChallengeFromVerifier(st.Verifier) ||
		q.Get("state") != st.State || q.Get("nonce") != st.Nonce || q.Get("prompt") != "login" || q.Get("max_age") != "300" ||
		q.Get("client_id") != "app" || q.Get("redirect_uri") != testRedirect || !strings.Contains(q.Get("scope"), "openid") {
		t.Fatalf("authorization request: %v", q)
	}
	back := signInAt(t, st.URL, "test-user@localhost", "verysecure")
	if back.Get("state") != st.State || back.Get("code") == "" {
		t.Fatalf("the OP's answer: %v", back)
	}
	id, err := c.Finish(ctx, s, back.Get("code"), st.Verifier, st.Nonce)
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if id.Issuer != issuer || id.Subject != "id1" || id.Username != "test-user@localhost" || id.Email != "test-user@zitadel.ch" ||
		!id.EmailVerified || id.Name != "Test User" {
		t.Errorf("identity: %+v", id)
	}
	if id.AuthTime.Before(before.Truncate(time.Second)) || id.AuthTime.After(time.Now().Add(time.Second)) {
		t.Errorf("auth_time %v, want the sign-in (after %v)", id.AuthTime, before)
	}
	if err := CheckAuthTime(id, before, true, 300, time.Now()); err != nil {
		t.Errorf("CheckAuthTime of a fresh sign-in: %v", err)
	}
	// The code is single use at the OP: redeeming it again is refused.
	if _, err := c.Finish(ctx, s, back.Get("code"), st.Verifier, st.Nonce); KindOf(err) != KindRejected {
		t.Errorf("a code redeemed twice: got %v, want rejected", err)
	}
}

// TestZitadelRefusals: what a real OP's answer must not get past. A wrong
// nonce; the wrong PKCE verifier (the OP refuses the code); an ID token
// issued to another client (aud); the ID token of another issuer.
func TestZitadelRefusals(t *testing.T) {
	ctx := context.Background()
	issuer := startZitadel(t)
	c := New(Options{})
	s := settings(issuer, "app")

	st, err := c.Begin(ctx, s, "", false, -1)
	if err != nil {
		t.Fatal(err)
	}
	back := signInAt(t, st.URL, "test-user2", "verysecure")
	if _, err := c.Finish(ctx, s, back.Get("code"), st.Verifier, "another-nonce"); KindOf(err) != KindRejected || !strings.Contains(err.Error(), "nonce") {
		t.Errorf("a wrong nonce: got %v, want rejected for the nonce", err)
	}

	st, _ = c.Begin(ctx, s, "", false, -1)
	back = signInAt(t, st.URL, "test-user2", "verysecure")
	if _, err := c.Finish(ctx, s, back.Get("code"), oauth2.GenerateVerifier(), st.Nonce); KindOf(err) != KindRejected {
		t.Errorf("a wrong verifier: got %v, want rejected", err)
	}

	// A genuine ID token of this OP, issued to the client "other".
	other := settings(issuer, "other")
	st, _ = c.Begin(ctx, other, "", false, -1)
	back = signInAt(t, st.URL, "test-user2", "verysecure")
	p, err := c.provider(ctx, issuer, false)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.config(p, other).Exchange(c.ctx(ctx), back.Get("code"), oauth2.VerifierOption(st.Verifier))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if _, _, err := c.verifyIDToken(c.ctx(ctx), p, "other", raw, st.Nonce); err != nil {
		t.Fatalf("the token for its own client: %v", err)
	}
	if _, _, err := c.verifyIDToken(c.ctx(ctx), p, "app", raw, st.Nonce); KindOf(err) != KindRejected || !strings.Contains(err.Error(), "audience") {
		t.Errorf("an ID token for another audience: got %v, want rejected for its audience", err)
	}

	// The same token presented as another issuer's (a second OP).
	issuer2 := startZitadel(t)
	p2, err := c.provider(ctx, issuer2, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.verifyIDToken(c.ctx(ctx), p2, "other", raw, st.Nonce); KindOf(err) != KindRejected {
		t.Errorf("an ID token of another issuer: got %v, want rejected", err)
	}
}

// TestUnavailable: an upstream that does not answer is KindUnavailable at
// Begin (discovery), and Check says so in one sentence.
func TestUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	c := New(Options{})
	if _, err := c.Begin(context.Background(), settings(issuer, "app"), "", false, -1); KindOf(err) != KindUnavailable {
		t.Errorf("Begin at a closed port: got %v, want unavailable", err)
	}
	err = c.Check(context.Background(), issuer)
	if err == nil || !strings.Contains(err.Error(), "could not be reached") || strings.Contains(err.Error(), "\n") {
		t.Errorf("Check at a closed port: got %v", err)
	}
	if err := c.Check(context.Background(), "http://auth.example.com"); !errors.Is(err, ErrScheme) {
		t.Errorf("Check of a plain http issuer: got %v, want ErrScheme", err)
	}
}
