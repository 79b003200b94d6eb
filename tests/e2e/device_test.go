package e2e

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"golang.org/x/oauth2"

	"github.com/applinks/applinks/shared/config"
	chrome "github.com/applinks/applinks/tests/testkit/browser"
)

const grantDevice = "urn:ietf:params:oauth:grant-type:device_code"

// deviceProvider starts the provider with a 1-second poll interval, so that
// x/oauth2's DeviceAccessToken, which waits the interval before each poll,
// keeps the test short; alice exists.
func deviceProvider(t *testing.T) *provider {
	t.Helper()
	p := startProviderWith(t, map[string]string{"PROVIDER_NAME": "Example Corp"}, func(c *config.Config) {
		c.DevicePollInterval = time.Second
	})
	p.createUser("alice", "plum tractor velvet orbit", []string{"REPO_WRITE"})
	return p
}

// deviceLink creates a link allowing the device grant and returns it.
func (p *provider) deviceLink(body map[string]any) link {
	p.t.Helper()
	var l link
	p.admin("POST", "/admin/links", body, 201, &l)
	return l
}

// result is what DeviceAccessToken returned.
type result struct {
	tok *oauth2.Token
	err error
}

// poll runs x/oauth2's DeviceAccessToken in the background, as a CLI
// waiting for its user does.
func poll(ctx context.Context, conf *oauth2.Config, da *oauth2.DeviceAuthResponse, opts ...oauth2.AuthCodeOption) <-chan result {
	ch := make(chan result, 1)
	go func() {
		tok, err := conf.DeviceAccessToken(ctx, da, opts...)
		ch <- result{tok, err}
	}()
	return ch
}

// wait returns what the poller returned, within limit.
func wait(t *testing.T, ch <-chan result, limit time.Duration) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(limit):
		t.Fatalf("DeviceAccessToken did not return within %s", limit)
		return result{}
	}
}

// TestDeviceFlowInBrowser: unmodified golang.org/x/oauth2 as a
// command-line tool (a public link that only allows the device grant):
// DeviceAuth, then DeviceAccessToken polling while a person, in headless
// Chromium, opens verification_uri_complete, confirms the code, signs in
// and allows access on the consent page (which shows the code); the
// library then gets tokens (a refresh token, an ID token), and polling the
// same device code again is invalid_grant. Each page is checked at 375 px
// and captured at 375 and 1280 px.
func TestDeviceFlowInBrowser(t *testing.T) {
	p := deviceProvider(t)
	l := p.deviceLink(map[string]any{"name": "Deploy CLI", "client_type": "public", "scopes": []string{"REPO_WRITE"},
		"grant_types": []string{"refresh_token", grantDevice}})
	conf := &oauth2.Config{
		ClientID: l.ClientID,
		Scopes:   []string{"REPO_READ", "openid"},
		Endpoint: oauth2.Endpoint{
			DeviceAuthURL: p.issuer + "/oauth2/device_authorization",
			TokenURL:      p.issuer + "/oauth2/token",
			AuthStyle:     oauth2.AuthStyleInParams,
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	da, err := conf.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("DeviceAuth: %v", err)
	}
	if da.VerificationURI != p.issuer+"/device" || da.VerificationURIComplete != p.issuer+"/device?user_code="+da.UserCode ||
		da.Interval != 1 || len(da.UserCode) != 9 || da.UserCode[4] != '-' || da.Expiry.IsZero() {
		t.Errorf("device authorization %+v", da)
	}
	polled := poll(ctx, conf, da)

	b := chrome.New(t)
	alice := b.User("alice")
	look := func(name string, wants ...string) {
		t.Helper()
		text := alice.BodyText()
		for _, w := range wants {
			if !strings.Contains(text, w) {
				t.Errorf("%s: page lacks %q; it says:\n%s", name, w, text)
			}
		}
		if alice.HorizontalOverflow(375) {
			t.Errorf("%s: the page scrolls sideways at 375 px", name)
		}
		alice.Screenshot(name)
		alice.CheckConsole()
	}

	// The code form, first typed wrong by hand: the message, the field
	// marked invalid and focused.
	if st := alice.Navigate(da.VerificationURI); st != 200 {
		t.Fatalf("code form: %d", st)
	}
	if got := alice.Focused(); got != "input#user_code" {
		t.Errorf("code form: focus on %q, want input#user_code", got)
	}
	look("device-code", "Connect a device to your Example Corp account", "Code")
	alice.Type("#user_code", "bcdf ghjk")
	alice.Press(kb.Enter, true)
	look("device-code-wrong", "That code is not right")
	if !alice.Exists(`#user_code[aria-invalid="true"]`) {
		t.Error("wrong code: the field is not marked invalid")
	}

	// The link of verification_uri_complete fills the form; the person
	// confirms it with the keyboard.
	alice.Navigate(da.VerificationURIComplete)
	if got := chrome.Must(alice, chromedp.Value(chromedp.CSS("#user_code"))); got != da.UserCode {
		t.Errorf("pre-filled code %q, want %q", got, da.UserCode)
	}
	look("device-code-prefilled", "Check that the code below is the one")
	if got := alice.TabKey(); got != `button "Continue"` {
		t.Errorf("code form: Tab focuses %q, want Continue", got)
	}
	if !alice.FocusRingVisible() {
		t.Error("code form: Continue has no visible focus ring")
	}
	if st := alice.Press(kb.Enter, true); st != 200 {
		t.Fatalf("continue: %d", st)
	}
	look("device-login", "Sign in to Example Corp", "to continue to Deploy CLI")
	alice.Type("#username", "alice")
	alice.Type("#password", "plum tractor velvet orbit")
	if st := alice.Press(kb.Enter, true); st != 200 {
		t.Fatalf("sign-in: %d", st)
	}
	look("device-consent", "Deploy CLI wants to access your Example Corp account from a device", da.UserCode,
		"Only allow access if you started signing in", "Signed in as alice", "View projects and repositories")
	select {
	case r := <-polled:
		t.Fatalf("DeviceAccessToken returned before the user decided: %+v", r)
	default:
	}
	if st := alice.Submit("button[name=decision][value=approve]"); st != 200 {
		t.Fatalf("allow: %d", st)
	}
	look("device-done", "Your device is connected", "go back to your device")

	r := wait(t, polled, time.Minute)
	if r.err != nil {
		t.Fatalf("DeviceAccessToken: %v", r.err)
	}
	if r.tok.AccessToken == "" || r.tok.RefreshToken == "" || r.tok.Extra("id_token") == nil || r.tok.Extra("scope") != "REPO_READ openid" {
		t.Errorf("token %+v (scope %v, id_token %t)", r.tok, r.tok.Extra("scope"), r.tok.Extra("id_token") != nil)
	}
	c := p.claims(r.tok.AccessToken)
	if c["client_id"] != l.ClientID || c["username"] != "alice" || c["scope"] != "REPO_READ openid" {
		t.Errorf("access token claims %v", c)
	}
	// Once: the same device code again is invalid_grant.
	again := wait(t, poll(ctx, conf, da), time.Minute)
	var re *oauth2.RetrieveError
	if !errors.As(again.err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("second DeviceAccessToken: %v, want invalid_grant", again.err)
	}
	// The refresh token works through the library too.
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: r.tok.RefreshToken}).Token(); err != nil {
		t.Errorf("refresh: %v", err)
	}
}

// TestDeviceFlowConfidentialDenied: a confidential link with the code flow
// and the device grant authenticates its device authorization request
// (client_secret_post through oauth2.SetAuthURLParam) and its polls (Basic);
// the user, played by a plain HTTP client through the pages' forms, denies:
// DeviceAccessToken returns access_denied.
func TestDeviceFlowConfidentialDenied(t *testing.T) {
	p := deviceProvider(t)
	l := p.deviceLink(map[string]any{"name": "Build agent", "redirect_uris": []string{p.issuer + "/local/callback"},
		"scopes": []string{"REPO_READ"}, "grant_types": []string{"authorization_code", "refresh_token", grantDevice}})
	conf := &oauth2.Config{
		ClientID: l.ClientID, ClientSecret: l.ClientSecret,
		Endpoint: oauth2.Endpoint{
			DeviceAuthURL: p.issuer + "/oauth2/device_authorization",
			TokenURL:      p.issuer + "/oauth2/token",
			AuthStyle:     oauth2.AuthStyleInHeader,
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Without its secret, a confidential link is refused.
	var re *oauth2.RetrieveError
	if _, err := conf.DeviceAuth(ctx); !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
		t.Fatalf("DeviceAuth without the secret: %v, want invalid_client", err)
	}
	da, err := conf.DeviceAuth(ctx, oauth2.SetAuthURLParam("client_secret", l.ClientSecret))
	if err != nil {
		t.Fatalf("DeviceAuth: %v", err)
	}
	polled := poll(ctx, conf, da)

	br := newBrowser(t, "\x00")
	pg := br.get(da.VerificationURI)
	f := parseForm(t, pg)
	// Typed in lower case, without the dash.
	pg = br.submit(pg, f, url.Values{"user_code": {strings.ToLower(strings.ReplaceAll(da.UserCode, "-", ""))}})
	if pg.status != 200 || !strings.Contains(pg.body, `name="password"`) {
		t.Fatalf("after the code: %d, want the sign-in page", pg.status)
	}
	pg = br.submit(pg, parseForm(t, pg), url.Values{"username": {"alice"}, "password": {"plum tractor velvet orbit"}})
	if pg.status != 200 || !strings.Contains(pg.body, da.UserCode) {
		t.Fatalf("after sign-in: %d, want the consent page with the code", pg.status)
	}
	f = parseForm(t, pg)
	if !f.HasButton("decision", "approve") || !f.HasButton("decision", "deny") {
		t.Fatalf("consent buttons %v", f.Buttons)
	}
	pg = br.submit(pg, f, url.Values{"decision": {"deny"}})
	if pg.status != http.StatusOK || !strings.Contains(pg.body, "Access denied") {
		t.Fatalf("deny: %d", pg.status)
	}
	r := wait(t, polled, time.Minute)
	if !errors.As(r.err, &re) || re.ErrorCode != "access_denied" {
		t.Errorf("DeviceAccessToken after the denial: %v, want access_denied", r.err)
	}
}
