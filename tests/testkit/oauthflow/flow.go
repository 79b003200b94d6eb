package oauthflow

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"
)

// Steps of the code flow, in order, as CodeFlow reports their times.
const (
	StepAuthorize = "authorize"         // GET /oauth2/authorize, no session: login page
	StepLogin     = "login"             // POST the login form: 303 back
	StepSession   = "authorize-session" // GET /oauth2/authorize with a session: consent page
	StepConsent   = "consent"           // POST the consent form: 303 with the code
	StepExchange  = "token-code"        // POST /oauth2/token, authorization_code
)

// Steps lists the steps of the code flow in order.
var Steps = []string{StepAuthorize, StepLogin, StepSession, StepConsent, StepExchange}

// CodeFlow runs the browser flow of RFC 6749 §4.1 with PKCE S256 (RFC
// 7636 §4) in a fresh cookie jar as fx's user and client, and returns the
// tokens of the code exchange. prompt=consent asks for the consent page
// even though earlier runs granted the same scope, so every flow is the
// full one. The forms must be SPEC's (one post form with hidden inputs;
// username and password on the login page; a decision=approve button on
// the consent page) and the callback must carry the request's state and
// the issuer (RFC 9207 §2.4).
//
// timed (nil: none) is called after each step that was attempted, with
// the step's name (StepAuthorize ... StepExchange) and the time its
// request took, the failing step included; parsing and checks between the
// requests are not timed.
func (c *Client) CodeFlow(ctx context.Context, fx *Fixtures, timed func(step string, d time.Duration)) (Tokens, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return Tokens{}, err
	}
	return c.CodeFlowIn(ctx, jar, fx, timed)
}

// CodeFlowIn is CodeFlow in the browser whose cookies jar holds: it must
// not be signed in (the flow starts at the login page). Afterwards jar
// holds the session, and the consent is remembered for later requests of
// the same scope without prompt=consent.
func (c *Client) CodeFlowIn(ctx context.Context, jar http.CookieJar, fx *Fixtures, timed func(step string, d time.Duration)) (Tokens, error) {
	if timed == nil {
		timed = func(string, time.Duration) {}
	}
	b := &Browser{HTTP: c.HTTPClient(jar), Origin: c.Issuer, Accept: "text/html", MaxBody: maxBody}
	verifier, challenge := PKCE()
	state := State()
	q := url.Values{
		"response_type": {"code"}, "client_id": {fx.ClientID}, "redirect_uri": {c.RedirectURI},
		"scope": {requestScope}, "state": {state}, "prompt": {"consent"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
	authURL := c.Issuer + "/oauth2/authorize?" + q.Encode()

	// 1. The login page.
	start := time.Now()
	page, err := getPage(ctx, b, authURL)
	timed(StepAuthorize, time.Since(start))
	if err != nil {
		return Tokens{}, fmt.Errorf("authorize: %w", err)
	}
	login, err := parseForm([]byte(page.Body), page.URL)
	if err != nil {
		return Tokens{}, fmt.Errorf("login page: %w", err)
	}
	if !login.has("username") || !login.has("password") {
		return Tokens{}, errors.New("login page: the form lacks username or password")
	}

	// 2. Sign in: 303 back to the pending authorization request.
	start = time.Now()
	next, err := submit(ctx, b, page, login, url.Values{"username": {fx.Username}, "password": {fx.Password}})
	timed(StepLogin, time.Since(start))
	if err != nil {
		return Tokens{}, fmt.Errorf("login: %w", err)
	}

	// 3. The consent page (the session cookie is in the jar).
	start = time.Now()
	page, err = getPage(ctx, b, next.String())
	timed(StepSession, time.Since(start))
	if err != nil {
		return Tokens{}, fmt.Errorf("authorize with a session: %w", err)
	}
	consent, err := parseForm([]byte(page.Body), page.URL)
	if err != nil {
		return Tokens{}, fmt.Errorf("consent page: %w", err)
	}
	if !consent.hasButton("decision", "approve") {
		return Tokens{}, errors.New(`consent page: no button name="decision" value="approve"`)
	}

	// 4. Approve: 303 to the redirect URI with code, state and iss.
	start = time.Now()
	back, err := submit(ctx, b, page, consent, url.Values{"decision": {"approve"}})
	timed(StepConsent, time.Since(start))
	if err != nil {
		return Tokens{}, fmt.Errorf("consent: %w", err)
	}
	code, err := c.checkCallback(back, state)
	if err != nil {
		return Tokens{}, err
	}

	// 5. Exchange the code (RFC 6749 §4.1.3, RFC 7636 §4.5).
	start = time.Now()
	t, err := c.exchange(ctx, fx, code, verifier)
	timed(StepExchange, time.Since(start))
	if err != nil {
		return Tokens{}, fmt.Errorf("code exchange: %w", err)
	}
	return t, nil
}

// exchange redeems code at the token endpoint with client_secret_basic.
func (c *Client) exchange(ctx context.Context, fx *Fixtures, code, verifier string) (Tokens, error) {
	data, err := c.PostForm(ctx, c.Issuer+"/oauth2/token", "/oauth2/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {c.RedirectURI}, "code_verifier": {verifier},
	}, fx.ClientID, fx.ClientSecret, ClientSecretBasic)
	if err != nil {
		return Tokens{}, err
	}
	return DecodeTokens(data)
}

// checkCallback reads the code from the redirect to the client and checks
// state and iss (RFC 9207 §2.4).
func (c *Client) checkCallback(back *url.URL, state string) (string, error) {
	if !strings.HasPrefix(back.String(), c.RedirectURI+"?") {
		return "", fmt.Errorf("consent: redirected to %q, want the callback", back.Redacted())
	}
	p := back.Query()
	switch {
	case p.Get("error") != "":
		return "", fmt.Errorf("consent: the callback got error=%s", p.Get("error"))
	case p.Get("state") != state:
		return "", errors.New("consent: the callback's state differs from the request's")
	case p.Get("iss") != c.Issuer:
		return "", fmt.Errorf("consent: the callback's iss is %q, want %q", p.Get("iss"), c.Issuer)
	case p.Get("code") == "":
		return "", errors.New("consent: the callback has no code")
	}
	return p.Get("code"), nil
}

// getPage GETs an HTML page that must answer 200.
func getPage(ctx context.Context, b *Browser, u string) (Page, error) {
	p, err := b.Get(ctx, u)
	if err != nil {
		return Page{}, err
	}
	if p.Status != http.StatusOK {
		return Page{}, fmt.Errorf("got status %d, want 200: %s", p.Status, snippet([]byte(p.Body)))
	}
	return p, nil
}

// submit posts f of the page from with set (Browser.Submit) and returns
// the Location of the 303 that must answer it.
func submit(ctx context.Context, b *Browser, from Page, f *form, set url.Values) (*url.URL, error) {
	r, err := b.Submit(ctx, from, f.Form, set)
	if err != nil {
		return nil, err
	}
	if r.Status != http.StatusSeeOther {
		return nil, fmt.Errorf("got status %d, want 303: %s", r.Status, snippet([]byte(r.Body)))
	}
	loc, err := r.Location()
	if err != nil {
		return nil, fmt.Errorf("303 without a usable Location: %w", err)
	}
	return loc, nil
}
