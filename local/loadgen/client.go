package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"
)

// callbackURI is the redirect URI of the link loadgen registers. Nothing
// listens there: loadgen reads the code from the 303's Location header. A
// loopback http URI is allowed by SPEC, with any port (RFC 8252 §7.3).
const callbackURI = "http://127.0.0.1/loadgen/callback"

// Scopes of the fixtures: the link's ceiling, the user's permissions and
// what the flow requests (capped to REPO_READ).
var (
	linkScopes = []string{"REPO_ADMIN"}
	userPerms  = []string{"REPO_WRITE"}
)

const requestScope = "REPO_READ"

// maxBody bounds what loadgen reads of any answer.
const maxBody = 1 << 20

// client talks to the provider. It is safe for concurrent use; each browser
// flow uses its own cookie jar.
type client struct {
	issuer     string
	adminToken string
	transport  *http.Transport
	timeout    time.Duration

	// The endpoints posted to with the client's credentials: this
	// project's, under issuer, or another server's (external).
	tokenEP, introspectEP endpoint
	// external: another server (-token-url), which gets clientAuth and
	// scope and whose token responses are checked by RFC 6749 §5.1 alone.
	external   bool
	clientAuth string
	scope      string
}

// endpoint is where a form is posted, and its name in error messages.
type endpoint struct{ url, name string }

func newClient(issuer, adminToken string, concurrency int, timeout time.Duration) *client {
	return &client{
		issuer: issuer, adminToken: adminToken, transport: newTransport(concurrency), timeout: timeout,
		tokenEP:      endpoint{issuer + "/oauth2/token", "/oauth2/token"},
		introspectEP: endpoint{issuer + "/oauth2/introspect", "/oauth2/introspect"},
		clientAuth:   authBasic,
	}
}

// newExternalClient is the client of another server (-token-url).
func newExternalClient(o options) *client {
	return &client{
		transport: newTransport(o.concurrency), timeout: o.timeout,
		tokenEP:      endpoint{o.tokenURL, o.tokenURL},
		introspectEP: endpoint{o.introspectURL, o.introspectURL},
		external:     true, clientAuth: o.clientAuth, scope: o.scope,
	}
}

// newTransport dials loopback addresses only (dialLoopback) and keeps
// enough idle connections for concurrency clients.
func newTransport(concurrency int) *http.Transport {
	return &http.Transport{
		DialContext:         dialLoopback,
		MaxIdleConns:        2 * concurrency,
		MaxIdleConnsPerHost: 2 * concurrency,
		IdleConnTimeout:     30 * time.Second,
		ForceAttemptHTTP2:   false,
	}
}

// httpClient returns a client that never follows redirects (the flow reads
// every Location itself), with jar (nil: no cookies).
func (c *client) httpClient(jar http.CookieJar) *http.Client {
	return &http.Client{
		Transport: c.transport,
		Jar:       jar,
		Timeout:   c.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// fixtures are what setup created.
type fixtures struct {
	username     string
	password     string
	linkID       string
	clientID     string
	clientSecret string
}

// randomString returns n random bytes, base64url without padding.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never returns an error since Go 1.24
	return base64.RawURLEncoding.EncodeToString(b)
}

// setup creates one user and one confidential link through the admin API.
func (c *client) setup(ctx context.Context) (*fixtures, error) {
	run := strings.ToLower(randomString(6))
	run = strings.NewReplacer("-", "x", "_", "y").Replace(run)
	fx := &fixtures{username: "loadgen-" + run, password: randomString(18)}
	var user struct{}
	if err := c.admin(ctx, http.MethodPost, "/admin/users", map[string]any{
		"username": fx.username, "password": fx.password, "permissions": userPerms,
	}, http.StatusCreated, &user); err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	var link struct {
		ID           string `json:"id"`
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := c.admin(ctx, http.MethodPost, "/admin/links", map[string]any{
		"name": "loadgen " + run, "redirect_uris": []string{callbackURI}, "scopes": linkScopes,
		"client_type": "confidential", "enabled": true,
	}, http.StatusCreated, &link); err != nil {
		_ = c.admin(ctx, http.MethodDelete, "/admin/users/"+url.PathEscape(fx.username), nil, http.StatusNoContent, nil)
		return nil, fmt.Errorf("create link: %w", err)
	}
	if link.ID == "" || link.ClientID == "" || link.ClientSecret == "" {
		return nil, errors.New("create link: the answer lacks id, client_id or client_secret")
	}
	fx.linkID, fx.clientID, fx.clientSecret = link.ID, link.ClientID, link.ClientSecret
	return fx, nil
}

// teardown deletes the link (which revokes its grants and tokens) and the
// user.
func (c *client) teardown(ctx context.Context, fx *fixtures) error {
	return errors.Join(
		c.admin(ctx, http.MethodDelete, "/admin/links/"+url.PathEscape(fx.linkID), nil, http.StatusNoContent, nil),
		c.admin(ctx, http.MethodDelete, "/admin/users/"+url.PathEscape(fx.username), nil, http.StatusNoContent, nil),
	)
}

// admin calls the admin API with a JSON body (nil: none) and decodes the
// answer into out (nil: discarded) when its status is want.
func (c *client) admin(ctx context.Context, method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.issuer+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.adminToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.httpClient(nil).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: got status %d, want %d: %s", method, path, resp.StatusCode, want, snippet(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// tokens is a token response (RFC 6749 §5.1).
type tokens struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
}

// basicAuth sets client_secret_basic credentials: client id and secret are
// form-urlencoded before Base64 (RFC 6749 §2.3.1).
func basicAuth(req *http.Request, id, secret string) {
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
}

// postForm posts form to ep with the client's credentials
// (client_secret_basic, or client_secret_post with -client-auth post) and
// returns the body when the status is 200.
func (c *client) postForm(ctx context.Context, fx *fixtures, ep endpoint, form url.Values) ([]byte, error) {
	if c.clientAuth == authPost {
		form = maps.Clone(form)
		form.Set("client_id", fx.clientID)
		form.Set("client_secret", fx.clientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.url, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.clientAuth != authPost {
		basicAuth(req, fx.clientID, fx.clientSecret)
	}
	resp, err := c.httpClient(nil).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("POST %s: read answer: %w", ep.name, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("POST %s: got status %d, want 200: %s", ep.name, resp.StatusCode, snippet(data))
	}
	return data, nil
}

// token calls the token endpoint and checks the response's shape.
func (c *client) token(ctx context.Context, fx *fixtures, form url.Values) (tokens, error) {
	data, err := c.postForm(ctx, fx, c.tokenEP, form)
	if err != nil {
		return tokens{}, err
	}
	if c.external {
		return externalTokens(data)
	}
	var t tokens
	if err := json.Unmarshal(data, &t); err != nil {
		return tokens{}, fmt.Errorf("decode token response: %w", err)
	}
	if t.AccessToken == "" || t.RefreshToken == "" || !strings.EqualFold(t.TokenType, "bearer") || t.ExpiresIn <= 0 {
		return tokens{}, errors.New("token response lacks access_token, refresh_token, a Bearer token_type or expires_in")
	}
	return t, nil
}

// externalTokens reads another server's token response by RFC 6749 §5.1
// alone: access_token and a Bearer token_type are required; refresh_token
// is optional (a non-rotating server omits it) and expires_in, only
// RECOMMENDED, is not read.
func externalTokens(data []byte) (tokens, error) {
	var v struct {
		AccessToken  string `json:"access_token"`
		TokenType    string `json:"token_type"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return tokens{}, fmt.Errorf("decode token response: %w", err)
	}
	if v.AccessToken == "" || !strings.EqualFold(v.TokenType, "bearer") {
		return tokens{}, errors.New("token response lacks access_token or a Bearer token_type")
	}
	return tokens{AccessToken: v.AccessToken, TokenType: v.TokenType, RefreshToken: v.RefreshToken}, nil
}

// refresh redeems a refresh token (RFC 6749 §6), with -scope when given.
// From another server, the answer's RefreshToken is empty when the server
// does not rotate.
func (c *client) refresh(ctx context.Context, fx *fixtures, refreshToken string) (tokens, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	if c.scope != "" {
		form.Set("scope", c.scope)
	}
	return c.token(ctx, fx, form)
}

// introspect asks whether accessToken is active (RFC 7662 §2.1) and fails
// unless it is.
func (c *client) introspect(ctx context.Context, fx *fixtures, accessToken string) error {
	data, err := c.postForm(ctx, fx, c.introspectEP, url.Values{
		"token": {accessToken}, "token_type_hint": {"access_token"},
	})
	if err != nil {
		return err
	}
	var v struct {
		Active bool `json:"active"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("decode introspection response: %w", err)
	}
	if !v.Active {
		return errors.New("introspection: got active false, want true")
	}
	return nil
}

// Steps of the code flow, each timed alone.
const (
	stepAuthorize = "authorize"         // GET /oauth2/authorize, no session: login page
	stepLogin     = "login"             // POST the login form: 303 back
	stepSession   = "authorize-session" // GET /oauth2/authorize with a session: consent page
	stepConsent   = "consent"           // POST the consent form: 303 with the code
	stepExchange  = "token-code"        // POST /oauth2/token, authorization_code
)

var flowSteps = []string{stepAuthorize, stepLogin, stepSession, stepConsent, stepExchange}

// flowTimes are the durations of one code flow's steps.
type flowTimes map[string]time.Duration

// codeFlow runs the browser flow of RFC 6749 §4.1 with PKCE S256 (RFC
// 7636 §4) in a fresh cookie jar, and returns the tokens and the time of
// each step. prompt=consent asks for the consent page even though earlier
// runs granted the same scope, so every flow is the full one.
func (c *client) codeFlow(ctx context.Context, fx *fixtures) (tokens, flowTimes, error) {
	times := flowTimes{}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return tokens{}, times, err
	}
	hc := c.httpClient(jar)
	verifier := randomString(32)
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	state := randomString(12)
	q := url.Values{
		"response_type": {"code"}, "client_id": {fx.clientID}, "redirect_uri": {callbackURI},
		"scope": {requestScope}, "state": {state}, "prompt": {"consent"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
	authURL := c.issuer + "/oauth2/authorize?" + q.Encode()

	// 1. The login page.
	start := time.Now()
	page, pageURL, err := c.getPage(ctx, hc, authURL)
	times[stepAuthorize] = time.Since(start)
	if err != nil {
		return tokens{}, times, fmt.Errorf("authorize: %w", err)
	}
	login, err := parseForm(page, pageURL)
	if err != nil {
		return tokens{}, times, fmt.Errorf("login page: %w", err)
	}
	if !login.has("username") || !login.has("password") {
		return tokens{}, times, errors.New("login page: the form lacks username or password")
	}
	login.values.Set("username", fx.username)
	login.values.Set("password", fx.password)

	// 2. Sign in: 303 back to the pending authorization request.
	start = time.Now()
	next, err := c.submit(ctx, hc, login)
	times[stepLogin] = time.Since(start)
	if err != nil {
		return tokens{}, times, fmt.Errorf("login: %w", err)
	}

	// 3. The consent page (the session cookie is in the jar).
	start = time.Now()
	page, pageURL, err = c.getPage(ctx, hc, next.String())
	times[stepSession] = time.Since(start)
	if err != nil {
		return tokens{}, times, fmt.Errorf("authorize with a session: %w", err)
	}
	consent, err := parseForm(page, pageURL)
	if err != nil {
		return tokens{}, times, fmt.Errorf("consent page: %w", err)
	}
	if !consent.hasButton("decision", "approve") {
		return tokens{}, times, errors.New(`consent page: no button name="decision" value="approve"`)
	}
	consent.values.Set("decision", "approve")

	// 4. Approve: 303 to the redirect URI with code, state and iss.
	start = time.Now()
	back, err := c.submit(ctx, hc, consent)
	times[stepConsent] = time.Since(start)
	if err != nil {
		return tokens{}, times, fmt.Errorf("consent: %w", err)
	}
	code, err := c.checkCallback(back, state)
	if err != nil {
		return tokens{}, times, err
	}

	// 5. Exchange the code (RFC 6749 §4.1.3, RFC 7636 §4.5).
	start = time.Now()
	t, err := c.token(ctx, fx, url.Values{
		"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {callbackURI}, "code_verifier": {verifier},
	})
	times[stepExchange] = time.Since(start)
	if err != nil {
		return tokens{}, times, fmt.Errorf("code exchange: %w", err)
	}
	return t, times, nil
}

// checkCallback reads the code from the redirect to the client and checks
// state and iss (RFC 9207 §2.4).
func (c *client) checkCallback(back *url.URL, state string) (string, error) {
	if !strings.HasPrefix(back.String(), callbackURI+"?") {
		return "", fmt.Errorf("consent: redirected to %q, want the callback", back.Redacted())
	}
	p := back.Query()
	switch {
	case p.Get("error") != "":
		return "", fmt.Errorf("consent: the callback got error=%s", p.Get("error"))
	case p.Get("state") != state:
		return "", errors.New("consent: the callback's state differs from the request's")
	case p.Get("iss") != c.issuer:
		return "", fmt.Errorf("consent: the callback's iss is %q, want %q", p.Get("iss"), c.issuer)
	case p.Get("code") == "":
		return "", errors.New("consent: the callback has no code")
	}
	return p.Get("code"), nil
}

// getPage GETs an HTML page that must answer 200.
func (c *client) getPage(ctx context.Context, hc *http.Client, u string) ([]byte, *url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "text/html")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, nil, fmt.Errorf("read page: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("got status %d, want 200: %s", resp.StatusCode, snippet(data))
	}
	return data, req.URL, nil
}

// submit posts a form as a browser would (with Origin) and returns the
// Location of the 303 that must answer it.
func (c *client) submit(ctx context.Context, hc *http.Client, f *form) (*url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.action.String(), strings.NewReader(f.values.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.issuer)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("got status %d, want 303: %s", resp.StatusCode, snippet(data))
	}
	loc, err := resp.Location()
	if err != nil {
		return nil, fmt.Errorf("303 without a usable Location: %w", err)
	}
	return loc, nil
}

// snippet is the start of an answer for error messages: the visible text
// of an HTML page, or the first line of anything else, at most 200 bytes.
// The provider's error answers carry no secrets.
func snippet(b []byte) string {
	s := string(b)
	if t := strings.TrimSpace(s); strings.HasPrefix(strings.ToLower(t), "<!doctype html") || strings.HasPrefix(t, "<html") {
		s = pageText(b)
	} else if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
