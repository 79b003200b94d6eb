// Package upstream is the provider's OpenID Connect relying party: how a
// person signs in through an upstream identity provider (Okta, Entra ID,
// Keycloak, another instance of this provider). It implements the
// authorization code flow of OpenID Connect Core 1.0 §3.1 with PKCE (RFC
// 7636, S256), state and nonce; discovery (OpenID Connect Discovery 1.0)
// and ID token validation are github.com/coreos/go-oidc/v3's, the code
// exchange golang.org/x/oauth2's. No JWT is parsed here.
//
// Every request to an upstream goes through one client (NewHTTPClient):
// https, or plain http on a loopback host; no redirects; a bounded body;
// a deadline. The authorize function (sign-in for applications) and the
// admin function (sign-in to the console) both use it; the records that
// make a flow single-use and bound to a browser are the store's.
package upstream

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Settings are what a sign-in needs of one identity provider.
type Settings struct {
	// Issuer is the upstream's issuer identifier.
	Issuer       string
	ClientID     string
	ClientSecret string
	// Scopes are the scopes asked for (openid is added when missing).
	Scopes []string
	// RedirectURL is $ISSUER/oauth2/upstream/callback.
	RedirectURL string
	// UsernameClaim and PermissionsClaim name the claims read into
	// Identity.Username and Identity.Values.
	UsernameClaim    string
	PermissionsClaim string
}

// Kinds of failure, for the page a person sees.
const (
	// KindUnavailable: the upstream did not answer, or answered with an
	// error of its own (down, misconfigured): try again later or another
	// way in.
	KindUnavailable = "unavailable"
	// KindRejected: the upstream's answer did not prove who signed in
	// (an ID token that does not verify, a wrong nonce, a code the
	// upstream refused).
	KindRejected = "rejected"
)

// Error is a failed upstream step: its Kind and what failed, in words for
// logs (never a token or a secret).
type Error struct {
	Kind   string
	Reason string
	Err    error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Reason + ": " + e.Err.Error()
	}
	return e.Reason
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf is the kind of err: KindUnavailable or KindRejected ("" for an
// error of another kind).
func KindOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

func unavailable(reason string, err error) error {
	return &Error{Kind: KindUnavailable, Reason: reason, Err: err}
}

func rejected(reason string, err error) error {
	return &Error{Kind: KindRejected, Reason: reason, Err: err}
}

// Options configure a Client.
type Options struct {
	// HTTPClient makes every request to an upstream (default
	// NewHTTPClient(0, 0)).
	HTTPClient *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
	// CacheFor is how long a discovery document and its key set are kept
	// (default 10 minutes); a key the set lacks makes go-oidc fetch the
	// set again at once.
	CacheFor time.Duration
}

// Client is the relying party of every identity provider. It is safe for
// concurrent use.
type Client struct {
	http     *http.Client
	now      func() time.Time
	cacheFor time.Duration

	mu        sync.Mutex
	providers map[string]cachedProvider
}

type cachedProvider struct {
	p       *oidc.Provider
	fetched time.Time
}

// New returns a Client.
func New(o Options) *Client {
	c := &Client{http: o.HTTPClient, now: o.Now, cacheFor: o.CacheFor, providers: map[string]cachedProvider{}}
	if c.http == nil {
		c.http = NewHTTPClient(0, 0)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.cacheFor <= 0 {
		c.cacheFor = 10 * time.Minute
	}
	return c
}

// ctx carries the fetch client to go-oidc and oauth2.
func (c *Client) ctx(ctx context.Context) context.Context { return oidc.ClientContext(ctx, c.http) }

// Check fetches the discovery document of issuer afresh and checks it:
// that it answers, that its issuer is issuer (OpenID Connect Discovery
// §4.3), and that its endpoints are https (or loopback http). The error is
// one sentence for an administrator.
func (c *Client) Check(ctx context.Context, issuer string) error {
	if err := CheckURL(issuer); err != nil {
		return err
	}
	p, err := oidc.NewProvider(c.ctx(ctx), issuer)
	if err != nil {
		return fmt.Errorf("the discovery document of %s could not be used: %s", issuer, describe(err))
	}
	if err := checkEndpoints(p); err != nil {
		return fmt.Errorf("the discovery document of %s: %w", issuer, err)
	}
	c.mu.Lock()
	c.providers[issuer] = cachedProvider{p: p, fetched: c.now()}
	c.mu.Unlock()
	return nil
}

// checkEndpoints refuses a document whose endpoints a person or this
// provider could not safely be sent to.
func checkEndpoints(p *oidc.Provider) error {
	e := p.Endpoint()
	for name, u := range map[string]string{"authorization_endpoint": e.AuthURL, "token_endpoint": e.TokenURL} {
		if u == "" {
			return fmt.Errorf("it has no %s", name)
		}
		if err := CheckURL(u); err != nil {
			return fmt.Errorf("its %s %s", name, err)
		}
	}
	return nil
}

// provider returns the discovered provider of issuer, from the cache when
// it is recent and fresh is false. With fresh (the start of a sign-in) the
// discovery document is always fetched, so that an upstream that is down
// is noticed before the browser is sent there; the cached provider, with
// its key set, is kept when the document still names the same endpoints.
func (c *Client) provider(ctx context.Context, issuer string, fresh bool) (*oidc.Provider, error) {
	c.mu.Lock()
	cp, ok := c.providers[issuer]
	c.mu.Unlock()
	if ok && !fresh && c.now().Sub(cp.fetched) < c.cacheFor {
		return cp.p, nil
	}
	p, err := oidc.NewProvider(c.ctx(ctx), issuer)
	if err != nil {
		return nil, unavailable("discovery", err)
	}
	if err := checkEndpoints(p); err != nil {
		return nil, unavailable("discovery", err)
	}
	if ok && sameEndpoints(cp.p, p) {
		p = cp.p
	}
	c.mu.Lock()
	c.providers[issuer] = cachedProvider{p: p, fetched: c.now()}
	c.mu.Unlock()
	return p, nil
}

// sameEndpoints reports whether two discoveries of one issuer name the
// same endpoints and key set.
func sameEndpoints(a, b *oidc.Provider) bool {
	var ca, cb struct {
		JWKS string `json:"jwks_uri"`
	}
	_ = a.Claims(&ca)
	_ = b.Claims(&cb)
	return a.Endpoint() == b.Endpoint() && a.UserInfoEndpoint() == b.UserInfoEndpoint() && ca.JWKS == cb.JWKS
}

// Start is a new sign-in: the values the provider keeps (state, nonce,
// verifier) and the upstream URL the browser goes to.
type Start struct {
	State, Nonce, Verifier string
	URL                    string
}

// Begin starts a sign-in at the upstream of s: a fresh state (statePrefix
// and 256 random bits; the prefix tells flows apart, e.g. the console's),
// nonce and PKCE verifier (256 random bits each), and the authorization
// URL with the S256 challenge (RFC 7636 §4.2). promptLogin passes
// prompt=login on, and maxAge (seconds; negative: none) max_age (OpenID
// Connect Core §3.1.2.1).
func (c *Client) Begin(ctx context.Context, s Settings, statePrefix string, promptLogin bool, maxAge int) (Start, error) {
	p, err := c.provider(ctx, s.Issuer, true)
	if err != nil {
		return Start{}, err
	}
	st := Start{State: statePrefix + rand.Text() + rand.Text(), Nonce: rand.Text() + rand.Text(), Verifier: oauth2.GenerateVerifier()}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(st.Verifier), oidc.Nonce(st.Nonce)}
	if promptLogin {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "login"))
	}
	if maxAge >= 0 {
		opts = append(opts, oauth2.SetAuthURLParam("max_age", strconv.Itoa(maxAge)))
	}
	st.URL = c.config(p, s).AuthCodeURL(st.State, opts...)
	return st, nil
}

func (c *Client) config(p *oidc.Provider, s Settings) *oauth2.Config {
	scopes := s.Scopes
	if !contains(scopes, oidc.ScopeOpenID) {
		scopes = append([]string{oidc.ScopeOpenID}, scopes...)
	}
	return &oauth2.Config{ClientID: s.ClientID, ClientSecret: s.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: s.RedirectURL, Scopes: scopes}
}

// Identity is who signed in upstream, from the verified ID token (and
// UserInfo for the claims the ID token lacks).
type Identity struct {
	Issuer, Subject string
	// Username is the value of Settings.UsernameClaim, "" when absent or
	// not a string.
	Username      string
	Name          string
	Email         string
	EmailVerified bool
	// AuthTime is the upstream's auth_time, zero when the ID token has
	// none.
	AuthTime time.Time
	// Values are the values of Settings.PermissionsClaim (a string or a
	// list of strings).
	Values []string
}

// Finish ends a sign-in: it redeems code at the token endpoint with the
// PKCE verifier, and validates the ID token with go-oidc (signature by a
// key of the upstream's JWK Set, iss, aud containing the client id, exp
// and iat; OpenID Connect Core §3.1.3.7), then checks its nonce. Claims
// the ID token lacks (the username, the email) are taken from UserInfo
// when the upstream has it, whose sub must be the ID token's (OpenID
// Connect Core §5.3.2).
func (c *Client) Finish(ctx context.Context, s Settings, code, verifier, nonce string) (Identity, error) {
	p, err := c.provider(ctx, s.Issuer, false)
	if err != nil {
		return Identity{}, err
	}
	cctx := c.ctx(ctx)
	tok, err := c.config(p, s).Exchange(cctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 {
			// The upstream refused the code (invalid_grant, invalid_client).
			return Identity{}, rejected("code exchange refused: "+re.ErrorCode, nil)
		}
		return Identity{}, unavailable("code exchange", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Identity{}, rejected("the token response has no id_token", nil)
	}
	idt, claims, err := c.verifyIDToken(cctx, p, s.ClientID, raw, nonce)
	if err != nil {
		return Identity{}, err
	}
	id := Identity{Issuer: idt.Issuer, Subject: idt.Subject}
	if needUserInfo(claims, s) && p.UserInfoEndpoint() != "" {
		info, err := p.UserInfo(cctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return Identity{}, unavailable("userinfo", err)
		}
		if info.Subject != idt.Subject {
			return Identity{}, rejected("UserInfo names another subject than the ID token", nil)
		}
		var more map[string]any
		if err := info.Claims(&more); err != nil {
			return Identity{}, rejected("UserInfo claims", err)
		}
		for k, v := range more {
			if _, ok := claims[k]; !ok && k != "sub" {
				claims[k] = v
			}
		}
	}
	id.Username = stringClaim(claims, orDefault(s.UsernameClaim, "preferred_username"))
	id.Name = stringClaim(claims, "name")
	id.Email = stringClaim(claims, "email")
	id.EmailVerified = boolClaim(claims, "email_verified")
	if at, ok := claims["auth_time"].(float64); ok && at > 0 {
		id.AuthTime = time.Unix(int64(at), 0).UTC()
	}
	if s.PermissionsClaim != "" {
		id.Values = stringsClaim(claims, s.PermissionsClaim)
	}
	return id, nil
}

// verifyIDToken validates raw with go-oidc for clientID (signature, iss,
// aud, exp, iat) and checks that its nonce is the one sent.
func (c *Client) verifyIDToken(ctx context.Context, p *oidc.Provider, clientID, raw, nonce string) (*oidc.IDToken, map[string]any, error) {
	idt, err := p.VerifierContext(ctx, &oidc.Config{ClientID: clientID, Now: c.now}).Verify(ctx, raw)
	if err != nil {
		return nil, nil, rejected("ID token", err)
	}
	if nonce == "" || idt.Nonce != nonce {
		return nil, nil, rejected("ID token: the nonce is not the one sent", nil)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, nil, rejected("ID token claims", err)
	}
	return idt, claims, nil
}

// needUserInfo reports whether the ID token lacks a claim the sign-in
// reads.
func needUserInfo(claims map[string]any, s Settings) bool {
	for _, name := range []string{orDefault(s.UsernameClaim, "preferred_username"), "email", s.PermissionsClaim} {
		if name == "" {
			continue
		}
		if _, ok := claims[name]; !ok {
			return true
		}
	}
	return false
}

func stringClaim(claims map[string]any, name string) string {
	s, _ := claims[name].(string)
	return s
}

// boolClaim reads a boolean claim; some providers send email_verified as
// the string "true".
func boolClaim(claims map[string]any, name string) bool {
	switch v := claims[name].(type) {
	case bool:
		return v
	case string:
		return strings.EqualFold(v, "true")
	}
	return false
}

// stringsClaim reads a claim that is a string or a list of strings (other
// members are skipped).
func stringsClaim(claims map[string]any, name string) []string {
	switch v := claims[name].(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
