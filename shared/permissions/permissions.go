// Package permissions asks the service itself for a user's permissions
// (PERMISSION_SOURCE=service): the ceiling that caps every scope an
// application gets on the user's behalf, taken from where the permissions
// live instead of from a copy kept here.
//
// # The request
//
// The provider sends POST PERMISSIONS_URL with Content-Type
// application/json and the body of Request:
//
//	{"sub": "<the user's immutable id>", "upstream": {"issuer": "...", "subject": "..."} | null,
//	 "client_id": "...", "scopes": ["REPO_WRITE", ...], "username": "alice",
//	 "email": "alice@example.com", "email_verified": true}
//
// (email only when verified), and Authorization: Bearer <JWT>, a JWS
// (RS256) with header typ "permissions-request+jwt" (RFC 8725 §3.11)
// signed by the provider's permission-request key set (signing.RequestSigner,
// published at $ISSUER/.well-known/permissions-jwks.json, never used for
// tokens), whose claims are iss (the issuer), aud (PERMISSIONS_URL), sub
// (the body's sub), iat, exp (iat + 60 s) and jti (128 random bits).
//
// # The answer
//
// 200 with {"permissions": ["REPO_WRITE", ...]}: names the scope catalog
// does not know are ignored (and logged); an empty list is a user without
// permissions (capping leaves the catalog's baseline). The answer is kept
// per (user, client) for the answer's Cache-Control max-age (less its Age),
// at most PERMISSIONS_CACHE; no-store, no-cache or no max-age keep nothing.
//
// # Failures never widen anything
//
// Anything else is an error wrapping shared.ErrUnavailable (so
// temporarily_unavailable, 503, wherever shared.AsError renders it), and
// nothing is cached: a status other than 200 (a redirect is not followed),
// a connection, TLS or DNS failure, no complete answer within
// PERMISSIONS_TIMEOUT, an answer over MaxAnswerBytes, a body that is not
// the JSON object above (permissions missing, null, or not all strings).
// The callers then issue nothing, so a code stays unredeemed and a refresh
// token unspent.
//
// # Where the request may go
//
// PERMISSIONS_URL is an operator's setting, checked at start-up
// (shared/config: https, or plain http only on a loopback host; never
// AUDIENCE). The client adds: no proxy from the environment, no redirect
// followed, plain http dialled only to a loopback address (checked on the
// resolved address, in the dialer), a deadline on the whole exchange, at
// most MaxAnswerBytes read.
package permissions

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// Limits of the exchange with the service.
const (
	// TokenType is the JWT header typ of a permission request.
	TokenType = "permissions-request+jwt"
	// TokenLifetime is how long after iat a request's JWT expires.
	TokenLifetime = 60 * time.Second
	// MaxAnswerBytes bounds the answer's body; a longer answer is a
	// failure.
	MaxAnswerBytes = 64 << 10
	// maxHeaderBytes bounds the answer's headers.
	maxHeaderBytes = 16 << 10
	// maxCacheEntries bounds the cache; when it is full of live answers, a
	// new answer is used but not kept.
	maxCacheEntries = 10000
	// maxLoggedNames bounds how many ignored names one log line quotes,
	// maxLoggedName how much of each.
	maxLoggedNames = 10
	maxLoggedName  = 64
)

// Upstream is the user's link to an upstream identity provider: the
// upstream issuer and the user's sub there.
type Upstream struct {
	Issuer  string `json:"issuer"`
	Subject string `json:"subject"`
}

// Request is what the provider tells the service about one question: who
// (Sub, the user's immutable id, or Upstream; Username and Email are
// display data), for which application (ClientID) and which scopes the
// request asks for after the link's ceiling (Scopes, catalog order).
type Request struct {
	Sub string `json:"sub"`
	// Upstream is nil (JSON null) for a user with no upstream link.
	Upstream *Upstream `json:"upstream"`
	ClientID string    `json:"client_id"`
	Scopes   []string  `json:"scopes"`
	Username string    `json:"username"`
	// Email is sent only when EmailVerified (New's client drops an
	// unverified one).
	Email         string `json:"email,omitempty"`
	EmailVerified bool   `json:"email_verified"`
}

// Answer is the body of the service's 200 answer.
type Answer struct {
	Permissions []string `json:"permissions"`
}

// Signer signs a request's JWT (signing.RequestSigner).
type Signer interface {
	// Sign returns the compact JWS of claims with header typ.
	Sign(ctx context.Context, typ string, claims any) (string, error)
}

// Options configure a Client.
type Options struct {
	// Issuer is the iss of every request's JWT.
	Issuer string
	// URL is PERMISSIONS_URL, also the JWT's aud.
	URL string
	// Timeout bounds one exchange, connection to last byte
	// (PERMISSIONS_TIMEOUT).
	Timeout time.Duration
	// MaxCache caps how long an answer is kept (PERMISSIONS_CACHE); 0
	// keeps none.
	MaxCache time.Duration
	// Catalog is the scope catalog: the names an answer may hold.
	Catalog *shared.Catalog
	// Signer signs the JWT.
	Signer Signer
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Random makes the jti (default crypto/rand).
	Random io.Reader
	// Transport replaces the hardened transport (tests only).
	Transport http.RoundTripper
}

// Client asks the permission service. It is safe for concurrent use.
type Client struct {
	o      Options
	known  map[string]bool
	client *http.Client

	mu    sync.Mutex
	cache map[cacheKey]entry
}

type cacheKey struct{ sub, clientID string }

type entry struct {
	perms   []string
	expires time.Time
}

// New returns a Client; it checks o but does no I/O.
func New(o Options) (*Client, error) {
	switch {
	case o.Issuer == "":
		return nil, errors.New("permissions: no issuer")
	case o.Catalog == nil:
		return nil, errors.New("permissions: no scope catalog")
	case o.Signer == nil:
		return nil, errors.New("permissions: no signer")
	case o.Timeout <= 0:
		return nil, errors.New("permissions: the timeout must be positive")
	case o.MaxCache < 0:
		return nil, errors.New("permissions: negative cache lifetime")
	}
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("permissions: the URL must be an absolute http(s) URL")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Random == nil {
		o.Random = rand.Reader
	}
	c := &Client{o: o, known: map[string]bool{}, cache: map[cacheKey]entry{}}
	for _, n := range o.Catalog.Names() {
		c.known[n] = true
	}
	rt := o.Transport
	if rt == nil {
		rt = transport(o.Timeout, u.Scheme == "http")
	}
	c.client = &http.Client{
		Transport: rt,
		Timeout:   o.Timeout,
		// No redirect is followed: the answer is the URL's own, and a
		// redirect could send the signed request elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c, nil
}

// transport is the client's own transport: no proxy from the environment
// (the signed request goes to PERMISSIONS_URL and nowhere else), deadlines
// on every phase, bounded headers and, for a plain-http URL, a dialer that
// connects only to loopback addresses (checked after resolution).
func transport(timeout time.Duration, loopbackOnly bool) *http.Transport {
	d := &net.Dialer{Timeout: timeout}
	if loopbackOnly {
		d.Control = dialLoopbackOnly
	}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            d.DialContext,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: maxHeaderBytes,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           8,
		IdleConnTimeout:        90 * time.Second,
	}
}

// dialLoopbackOnly is a net.Dialer Control that refuses every address but
// a loopback one (127.0.0.0/8, ::1). It sees the resolved address, so a
// name that resolves elsewhere (or changes its answer between two
// resolutions) cannot take plain http off the machine.
func dialLoopbackOnly(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("plain http to %s refused: only loopback addresses", host)
	}
	return nil
}

// unavailable is the error of a failed exchange.
func unavailable(format string, args ...any) error {
	return fmt.Errorf("permission service: %s: %w", fmt.Sprintf(format, args...), shared.ErrUnavailable)
}

// Permissions returns the user's permissions for r.ClientID: the cached
// answer while it is fresh, else the service's answer (see the package
// doc), filtered to the catalog's names. Every failure of the exchange is
// an error wrapping shared.ErrUnavailable.
func (c *Client) Permissions(ctx context.Context, r Request) ([]string, error) {
	if r.Sub == "" || r.ClientID == "" {
		return nil, errors.New("permission request: sub and client_id are required")
	}
	key := cacheKey{r.Sub, r.ClientID}
	if p, ok := c.cached(key); ok {
		return p, nil
	}
	if !r.EmailVerified {
		r.Email = ""
	}
	if r.Scopes == nil {
		r.Scopes = []string{}
	}
	body, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("permission request: %w", err)
	}
	jwt, err := c.token(ctx, r.Sub)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.o.URL, strings.NewReader(string(body)))
	if err != nil {
		return nil, fmt.Errorf("permission request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+jwt)
	start := c.o.Now()
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, unavailable("%s", describe(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		reason := "status " + strconv.Itoa(resp.StatusCode)
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			reason += " (redirects are not followed)"
		}
		return nil, unavailable("%s", reason)
	}
	if resp.ContentLength > MaxAnswerBytes {
		return nil, unavailable("answer of %d bytes is above the limit of %d", resp.ContentLength, MaxAnswerBytes)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswerBytes+1))
	if err != nil {
		return nil, unavailable("read the answer: %s", describe(err))
	}
	if len(raw) > MaxAnswerBytes {
		return nil, unavailable("answer above the limit of %d bytes", MaxAnswerBytes)
	}
	perms, err := c.parse(ctx, raw, r.ClientID)
	if err != nil {
		return nil, err
	}
	c.keep(key, perms, start, resp.Header)
	return clone(perms), nil
}

// token signs the request's JWT for sub.
func (c *Client) token(ctx context.Context, sub string) (string, error) {
	jti, err := shared.NewID(c.o.Random)
	if err != nil {
		return "", fmt.Errorf("permission request: %w", err)
	}
	now := c.o.Now()
	tok, err := c.o.Signer.Sign(ctx, TokenType, claims{
		Issuer: c.o.Issuer, Audience: c.o.URL, Subject: sub,
		IssuedAt: now.Unix(), Expires: now.Add(TokenLifetime).Unix(), JTI: jti,
	})
	if err != nil {
		return "", fmt.Errorf("permission request: %w", err)
	}
	return tok, nil
}

// claims are the JWT's claims (RFC 7519 §4.1).
type claims struct {
	Issuer   string `json:"iss"`
	Audience string `json:"aud"`
	Subject  string `json:"sub"`
	IssuedAt int64  `json:"iat"`
	Expires  int64  `json:"exp"`
	JTI      string `json:"jti"`
}

// parse reads an answer's body: a JSON object whose permissions is an
// array of strings. Names outside the catalog are dropped and logged;
// the rest come back deduplicated, in the answer's order.
func (c *Client) parse(ctx context.Context, raw []byte, clientID string) ([]string, error) {
	var a struct {
		Permissions *[]string `json:"permissions"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, unavailable("the answer is not {\"permissions\": [strings]}")
	}
	if a.Permissions == nil {
		return nil, unavailable("the answer has no permissions list")
	}
	out := []string{}
	seen := map[string]bool{}
	var ignored []string
	n := 0
	for _, p := range *a.Permissions {
		switch {
		case seen[p]:
		case c.known[p]:
			seen[p] = true
			out = append(out, p)
		default:
			n++
			if len(ignored) < maxLoggedNames {
				ignored = append(ignored, shorten(p))
			}
		}
	}
	if n > 0 {
		web.Logger(ctx).Warn("permission service named scopes outside the catalog; ignored",
			"client_id", clientID, "ignored", ignored, "ignored_count", n)
	}
	return out, nil
}

// shorten keeps a name the service sent fit for a log line.
func shorten(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if r := []rune(s); len(r) > maxLoggedName {
		s = string(r[:maxLoggedName]) + "…"
	}
	return s
}

// describe says what failed in an exchange without the request's URL
// and query (url.Error carries them).
func describe(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return "no answer within the timeout"
	case errors.Is(err, context.Canceled):
		return "the request was cancelled"
	}
	return err.Error()
}

func clone(p []string) []string { return append([]string{}, p...) }

// cached returns the kept answer for key while it is fresh.
func (c *Client) cached(key cacheKey) ([]string, bool) {
	if c.o.MaxCache <= 0 {
		return nil, false
	}
	now := c.o.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.cache[key]
	if !ok {
		return nil, false
	}
	if !now.Before(e.expires) {
		delete(c.cache, key)
		return nil, false
	}
	return clone(e.perms), true
}

// keep caches perms for key for the answer's freshness lifetime (RFC 9111
// §4.2.1, §4.2.3: max-age less Age), at most MaxCache, counted from when
// the request was sent.
func (c *Client) keep(key cacheKey, perms []string, sent time.Time, h http.Header) {
	ttl := min(freshness(h), c.o.MaxCache)
	if ttl <= 0 {
		return
	}
	now := c.o.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.cache) >= maxCacheEntries {
		for k, e := range c.cache {
			if !now.Before(e.expires) {
				delete(c.cache, k)
			}
		}
		if len(c.cache) >= maxCacheEntries {
			return
		}
	}
	c.cache[key] = entry{perms: clone(perms), expires: sent.Add(ttl)}
}

// freshness is how long an answer with headers h may be kept: max-age
// less Age; 0 with no-store, no-cache, no max-age, or a malformed one.
func freshness(h http.Header) time.Duration {
	var maxAge int64 = -1
	for _, line := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(line, ",") {
			name, value, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-store", "no-cache":
				return 0
			case "max-age":
				n, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(value), `"`), 10, 64)
				if err != nil || n < 0 || maxAge >= 0 {
					return 0 // malformed or repeated: keep nothing
				}
				maxAge = n
			}
		}
	}
	if maxAge <= 0 {
		return 0
	}
	if v := h.Get("Age"); v != "" {
		age, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || age < 0 {
			return 0
		}
		maxAge -= age
	}
	if maxAge <= 0 {
		return 0
	}
	return time.Duration(min(maxAge, 1<<31)) * time.Second
}

// ForUser is the request about user u for the client clientID asking for
// scopes: u's immutable id, username, and email only when verified, and
// the upstream identity linked to u (issuer and subject; nil when none).
func ForUser(u store.User, clientID string, scopes []string) Request {
	r := Request{Sub: u.ID, ClientID: clientID, Scopes: scopes, Username: u.Username,
		Email: u.Email, EmailVerified: u.EmailVerified}
	if u.Upstream != nil {
		r.Upstream = &Upstream{Issuer: u.Upstream.Issuer, Subject: u.Upstream.Subject}
	}
	return r
}
