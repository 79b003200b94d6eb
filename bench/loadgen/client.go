package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"github.com/applinks/applinks/local/loopback"
	"github.com/applinks/applinks/tests/testkit/oauthflow"
)

// callbackURI is the redirect URI of the link loadgen registers. Nothing
// listens there: loadgen reads the code from the 303's Location header. A
// loopback http URI is allowed by SPEC, with any port (RFC 8252 §7.3).
const callbackURI = "http://127.0.0.1/loadgen/callback"

// client talks to the provider. It is safe for concurrent use; each browser
// flow uses its own cookie jar.
type client struct {
	// flow signs in to this project's provider (fixtures, code flow) and
	// sends every request, through transport.
	flow      *oauthflow.Client
	transport *http.Transport

	// The endpoints posted to with the client's credentials: this
	// project's, under issuer, or another server's (external).
	tokenEP, introspectEP endpoint
	// external: another server (-token-url), which gets clientAuth and
	// scope and whose token responses are checked by RFC 6749 §5.1 alone.
	external   bool
	clientAuth string
	scope      string
	// The external mode's authorization (-authorize-url).
	authorizeURL    string
	redirectURI     string
	authorizeParams url.Values
}

// endpoint is where a form is posted, and its name in error messages.
type endpoint struct{ url, name string }

func newClient(issuer, adminToken string, concurrency int, timeout time.Duration) *client {
	t := newTransport(concurrency)
	return &client{
		flow: &oauthflow.Client{
			Issuer: issuer, AdminToken: adminToken, Name: "loadgen", RedirectURI: callbackURI,
			Transport: t, Timeout: timeout,
		},
		transport:    t,
		tokenEP:      endpoint{issuer + "/oauth2/token", "/oauth2/token"},
		introspectEP: endpoint{issuer + "/oauth2/introspect", "/oauth2/introspect"},
		clientAuth:   authBasic,
	}
}

// newExternalClient is the client of another server (-token-url).
func newExternalClient(o options) *client {
	t := newTransport(o.concurrency)
	return &client{
		flow:         &oauthflow.Client{Transport: t, Timeout: o.timeout},
		transport:    t,
		tokenEP:      endpoint{o.tokenURL, o.tokenURL},
		introspectEP: endpoint{o.introspectURL, o.introspectURL},
		external:     true, clientAuth: o.clientAuth, scope: o.scope,
		authorizeURL: o.authorizeURL, redirectURI: o.redirectURI, authorizeParams: o.authorizeParams,
	}
}

// newTransport dials loopback addresses only (loopback.Dialer) and keeps
// enough idle connections for concurrency clients.
func newTransport(concurrency int) *http.Transport {
	return &http.Transport{
		DialContext:         loopback.Dialer().DialContext,
		MaxIdleConns:        2 * concurrency,
		MaxIdleConnsPerHost: 2 * concurrency,
		IdleConnTimeout:     30 * time.Second,
		ForceAttemptHTTP2:   false,
	}
}

// postForm posts form to ep with the client's credentials
// (client_secret_basic, or client_secret_post with -client-auth post) and
// returns the body when the status is 200.
func (c *client) postForm(ctx context.Context, fx *oauthflow.Fixtures, ep endpoint, form url.Values) ([]byte, error) {
	auth := oauthflow.ClientSecretBasic
	if c.clientAuth == authPost {
		auth = oauthflow.ClientSecretPost
	}
	return c.flow.PostForm(ctx, ep.url, ep.name, form, fx.ClientID, fx.ClientSecret, auth)
}

// token calls the token endpoint and checks the response's shape.
func (c *client) token(ctx context.Context, fx *oauthflow.Fixtures, form url.Values) (oauthflow.Tokens, error) {
	data, err := c.postForm(ctx, fx, c.tokenEP, form)
	if err != nil {
		return oauthflow.Tokens{}, err
	}
	if c.external {
		return externalTokens(data)
	}
	return oauthflow.DecodeTokens(data)
}

// externalTokens reads another server's token response by RFC 6749 §5.1
// alone: access_token and a Bearer token_type are required; refresh_token
// is optional (a non-rotating server omits it) and expires_in, only
// RECOMMENDED, is not read.
func externalTokens(data []byte) (oauthflow.Tokens, error) {
	var v struct {
		AccessToken  string `json:"access_token"`
		TokenType    string `json:"token_type"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return oauthflow.Tokens{}, fmt.Errorf("decode token response: %w", err)
	}
	if v.AccessToken == "" || !strings.EqualFold(v.TokenType, "bearer") {
		return oauthflow.Tokens{}, errors.New("token response lacks access_token or a Bearer token_type")
	}
	return oauthflow.Tokens{AccessToken: v.AccessToken, TokenType: v.TokenType, RefreshToken: v.RefreshToken}, nil
}

// refresh redeems a refresh token (RFC 6749 §6), with -scope when given.
// From another server, the answer's RefreshToken is empty when the server
// does not rotate.
func (c *client) refresh(ctx context.Context, fx *oauthflow.Fixtures, refreshToken string) (oauthflow.Tokens, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	if c.scope != "" {
		form.Set("scope", c.scope)
	}
	return c.token(ctx, fx, form)
}

// introspect asks whether accessToken is active (RFC 7662 §2.1) and fails
// unless it is.
func (c *client) introspect(ctx context.Context, fx *oauthflow.Fixtures, accessToken string) error {
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

// flowTimes are the durations of one code flow's steps (oauthflow.Steps).
type flowTimes map[string]time.Duration

// codeFlow runs one code flow (oauthflow.Client.CodeFlow) and returns the
// tokens and the time of each step.
func (c *client) codeFlow(ctx context.Context, fx *oauthflow.Fixtures) (oauthflow.Tokens, flowTimes, error) {
	times := flowTimes{}
	t, err := c.flow.CodeFlow(ctx, fx, func(step string, d time.Duration) { times[step] = d })
	return t, times, err
}

// Steps of the authorization operation, as (*client).authorization reports
// their times.
const (
	stepRedirects = "redirects"  // GET the authorization endpoint, and every redirect to the callback
	stepTokenCode = "token-code" // POST the token endpoint, authorization_code
)

var authorizationSteps = []string{stepRedirects, stepTokenCode}

// sessionJar is a cookie jar holding the cookies of header (a Cookie header
// value) for every path of authorizeURL's host.
func sessionJar(authorizeURL, header string) (http.CookieJar, error) {
	cs, err := parseCookieHeader(header)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(authorizeURL)
	if err != nil {
		return nil, err
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		c.Path = "/"
	}
	jar.SetCookies(&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/"}, cs)
	return jar, nil
}

// authorization runs one authorization of a signed-in user with a
// remembered consent against another server (see the package doc) in jar,
// and returns the time of each step.
func (c *client) authorization(ctx context.Context, fx *oauthflow.Fixtures, jar http.CookieJar) (flowTimes, error) {
	times := flowTimes{}
	verifier, challenge := oauthflow.PKCE()
	state := oauthflow.State()
	q := url.Values{}
	for k, v := range c.authorizeParams {
		q[k] = v
	}
	q.Set("response_type", "code")
	q.Set("client_id", fx.ClientID)
	q.Set("redirect_uri", c.redirectURI)
	q.Set("state", state)
	q.Set("code_challenge", challenge)
	q.Set("code_challenge_method", "S256")
	u, err := url.Parse(c.authorizeURL)
	if err != nil {
		return times, err
	}
	if u.RawQuery != "" {
		u.RawQuery += "&"
	}
	u.RawQuery += q.Encode()

	start := time.Now()
	code, err := oauthflow.FollowToCallback(ctx, c.flow.HTTPClient(jar), u, c.redirectURI, state)
	times[stepRedirects] = time.Since(start)
	if err != nil {
		return times, fmt.Errorf("authorization: %w", err)
	}
	start = time.Now()
	data, err := c.postForm(ctx, fx, c.tokenEP, url.Values{
		"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {c.redirectURI}, "code_verifier": {verifier},
	})
	if err == nil {
		_, err = externalTokens(data)
	}
	times[stepTokenCode] = time.Since(start)
	if err != nil {
		return times, fmt.Errorf("code exchange: %w", err)
	}
	return times, nil
}
