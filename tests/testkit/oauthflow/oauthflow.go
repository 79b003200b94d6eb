// Package oauthflow is the one page-driving client of the suites and the
// load tools. Browser reads the provider's pages the way a person does,
// through SPEC's contract only (forms read by tests/testkit/htmlform):
// sign-in, the consent page and its decision, the redirect to the client;
// tests/e2e, tests/security and bench/perf drive the pages with it. Client
// signs in the way a browser and a confidential client do, for the tools
// that need tokens (bench/loadgen, bench/compare): it creates the fixtures
// through the admin API (one user and one confidential link), runs the
// authorization code flow with PKCE through the login and consent pages
// (CodeFlow, with a Browser), and posts to the token and introspection
// endpoints with the client's credentials.
//
// The fixtures: the link's scope ceiling is REPO_ADMIN, the user's
// permissions REPO_WRITE, and the flow requests REPO_READ.
//
// A Client dials loopback addresses only unless given another Transport
// (local/loopback); the callers check their URLs with loopback.ParseURL.
package oauthflow

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/applinks/applinks/local/loopback"
)

// Scopes of the fixtures: the link's ceiling, the user's permissions and
// what the flow requests (capped to REPO_READ).
var (
	linkScopes = []string{"REPO_ADMIN"}
	userPerms  = []string{"REPO_WRITE"}
)

const requestScope = "REPO_READ"

// RequestScope is the scope CodeFlow requests: an authorization of the
// same scope by a browser CodeFlowIn signed in is answered by the
// remembered consent.
const RequestScope = requestScope

// maxBody bounds what is read of any answer.
const maxBody = 1 << 20

// Client talks to one provider. Its fields are set before first use; it is
// then safe for concurrent use (each code flow uses its own cookie jar).
type Client struct {
	// Issuer is the provider's issuer URL, without a trailing slash: the
	// base of every endpoint and the iss the callback must carry.
	Issuer string
	// AdminToken authenticates Setup and Teardown to the admin API.
	AdminToken string
	// Name names the caller in the fixtures: the user is Name-<run>, the
	// link "Name <run>", <run> being random.
	Name string
	// RedirectURI is the link's redirect URI. Nothing needs to listen
	// there: the code is read from the Location of the consent's 303.
	RedirectURI string
	// Transport sends every request; nil: one that dials loopback
	// addresses only (loopback.Dialer).
	Transport http.RoundTripper
	// Timeout bounds each request (0: none).
	Timeout time.Duration
}

// defaultTransport is the Transport of a Client that has none.
var defaultTransport = &http.Transport{DialContext: loopback.Dialer().DialContext}

// HTTPClient returns a client that never follows redirects (the flow reads
// every Location itself), with jar (nil: no cookies).
func (c *Client) HTTPClient(jar http.CookieJar) *http.Client {
	t := c.Transport
	if t == nil {
		t = defaultTransport
	}
	return &http.Client{
		Transport: t,
		Jar:       jar,
		Timeout:   c.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Fixtures are what Setup created: the user who signs in and the link's
// client credentials. Teardown needs LinkID and Username.
type Fixtures struct {
	Username     string
	Password     string
	LinkID       string
	ClientID     string
	ClientSecret string
}

// randomString returns n random bytes, base64url without padding.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never returns an error since Go 1.24
	return base64.RawURLEncoding.EncodeToString(b)
}

// Setup creates one user and one confidential link through the admin API.
// When the link cannot be created, the user is deleted again.
func (c *Client) Setup(ctx context.Context) (*Fixtures, error) {
	run := runName()
	fx := &Fixtures{Username: c.Name + "-" + run, Password: randomString(18)}
	if err := c.createUser(ctx, fx); err != nil {
		return nil, err
	}
	var link struct {
		ID           string `json:"id"`
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := c.admin(ctx, http.MethodPost, "/admin/links", map[string]any{
		"name": c.Name + " " + run, "redirect_uris": []string{c.RedirectURI}, "scopes": linkScopes,
		"client_type": "confidential", "enabled": true,
	}, http.StatusCreated, &link); err != nil {
		_ = c.admin(ctx, http.MethodDelete, "/admin/users/"+url.PathEscape(fx.Username), nil, http.StatusNoContent, nil)
		return nil, fmt.Errorf("create link: %w", err)
	}
	if link.ID == "" || link.ClientID == "" || link.ClientSecret == "" {
		return nil, errors.New("create link: the answer lacks id, client_id or client_secret")
	}
	fx.LinkID, fx.ClientID, fx.ClientSecret = link.ID, link.ClientID, link.ClientSecret
	return fx, nil
}

// AddUser creates one more user, with a password of its own, for fx's
// link: the Fixtures it returns share fx's link. The sign-in limit counts
// attempts per username before it checks their passwords, so clients that
// sign in at the same time need one user each. RemoveUser deletes it.
func (c *Client) AddUser(ctx context.Context, fx *Fixtures) (*Fixtures, error) {
	u := *fx
	u.Username, u.Password = c.Name+"-"+runName(), randomString(18)
	if err := c.createUser(ctx, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// RemoveUser deletes a user AddUser created.
func (c *Client) RemoveUser(ctx context.Context, fx *Fixtures) error {
	return c.admin(ctx, http.MethodDelete, "/admin/users/"+url.PathEscape(fx.Username), nil, http.StatusNoContent, nil)
}

// createUser creates fx's user with the permissions of every flow here.
func (c *Client) createUser(ctx context.Context, fx *Fixtures) error {
	if err := c.admin(ctx, http.MethodPost, "/admin/users", map[string]any{
		"username": fx.Username, "password": fx.Password, "permissions": userPerms,
	}, http.StatusCreated, nil); err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	return nil
}

// runName is a random lower-case name part of the username alphabet.
func runName() string {
	return strings.NewReplacer("-", "x", "_", "y").Replace(strings.ToLower(randomString(6)))
}

// Teardown deletes the link (which revokes its grants and tokens) and the
// user.
func (c *Client) Teardown(ctx context.Context, fx *Fixtures) error {
	return errors.Join(
		c.admin(ctx, http.MethodDelete, "/admin/links/"+url.PathEscape(fx.LinkID), nil, http.StatusNoContent, nil),
		c.admin(ctx, http.MethodDelete, "/admin/users/"+url.PathEscape(fx.Username), nil, http.StatusNoContent, nil),
	)
}

// admin calls the admin API with a JSON body (nil: none) and decodes the
// answer into out (nil: discarded) when its status is want.
func (c *Client) admin(ctx context.Context, method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Issuer+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.AdminToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTPClient(nil).Do(req)
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

// Tokens is a token response (RFC 6749 §5.1).
type Tokens struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
}

// DecodeTokens reads a token response of this project's provider, which
// always carries an access token, a refresh token, the Bearer token type
// and expires_in.
func DecodeTokens(data []byte) (Tokens, error) {
	var t Tokens
	if err := json.Unmarshal(data, &t); err != nil {
		return Tokens{}, fmt.Errorf("decode token response: %w", err)
	}
	if t.AccessToken == "" || t.RefreshToken == "" || !strings.EqualFold(t.TokenType, "bearer") || t.ExpiresIn <= 0 {
		return Tokens{}, errors.New("token response lacks access_token, refresh_token, a Bearer token_type or expires_in")
	}
	return t, nil
}

// BasicAuth sets client_secret_basic credentials on req (Basic).
func BasicAuth(req *http.Request, id, secret string) {
	req.Header.Set("Authorization", Basic(id, secret))
}

// Basic returns the Authorization header value of client_secret_basic
// credentials: client id and secret are form-urlencoded before Base64
// (RFC 6749 §2.3.1).
func Basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// ClientAuth is how a confidential client presents its credentials to
// the token and introspection endpoints (RFC 6749 §2.3.1).
type ClientAuth int

const (
	// ClientSecretBasic: HTTP Basic, with BasicAuth.
	ClientSecretBasic ClientAuth = iota
	// ClientSecretPost: client_id and client_secret in the form.
	ClientSecretPost
)

// PostForm posts form to endpoint as the client id with secret,
// authenticated by auth, and returns the body when the status is 200. name
// names the endpoint in error messages.
func (c *Client) PostForm(ctx context.Context, endpoint, name string, form url.Values, id, secret string, auth ClientAuth) ([]byte, error) {
	if auth == ClientSecretPost {
		form = maps.Clone(form)
		form.Set("client_id", id)
		form.Set("client_secret", secret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth != ClientSecretPost {
		BasicAuth(req, id, secret)
	}
	resp, err := c.HTTPClient(nil).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("POST %s: read answer: %w", name, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("POST %s: got status %d, want 200: %s", name, resp.StatusCode, snippet(data))
	}
	return data, nil
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
