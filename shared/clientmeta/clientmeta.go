// Package clientmeta reads OAuth Client ID Metadata Documents
// (draft-ietf-oauth-client-id-metadata-document): an application names
// itself by an https URL as its client_id, and the document at that URL
// says what a registration would have said (its name, its redirect URIs).
//
// The URL (CheckClientID): https, a host, a path other than "/", no
// fragment, no userinfo, no "." or ".." segment, at most MaxURLBytes bytes,
// port 443 (written or not). With AllowLoopback (local runs and tests
// only) http and https URLs on 127.0.0.1, [::1] and localhost are also
// accepted, on any port.
//
// The fetch (Fetcher) goes through shared/safefetch: GET only, no proxy,
// no redirect followed, Timeout for the whole request, at most
// MaxDocumentBytes bytes, and only to public addresses checked after
// resolution, in the dialer (loopback only for a loopback URL with
// AllowLoopback). The answer must be 200 with a JSON object.
//
// The document (Validate): client_id equal to the URL byte for byte, a
// client_name, redirect_uris under the redirect rules
// (shared.ValidateRedirectURIs), token_endpoint_auth_method "none" (a
// public client; PKCE is then required), no client_secret (nor its
// expiry); grant_types and response_types, when present, must allow the
// authorization code flow. Other members are ignored (RFC 7591 §2).
//
// It is cached for as long as its HTTP cache headers say (Cache-Control
// max-age, or Expires; no-store and no-cache count as zero), clamped to
// [MinCache, MaxCache].
package clientmeta

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/safefetch"
)

// Limits of a metadata document and its fetch.
const (
	// MaxURLBytes bounds a client_id URL.
	MaxURLBytes = 512
	// MaxDocumentBytes bounds the document.
	MaxDocumentBytes = 5120
	// Timeout bounds the fetch, connection to last byte.
	Timeout = 5 * time.Second
	// MinCache and MaxCache clamp how long a fetched document is used
	// before it is fetched again.
	MinCache = 5 * time.Minute
	MaxCache = 24 * time.Hour
	// MaxNameRunes bounds client_name, as a link's name.
	MaxNameRunes = 200
)

// IsURL reports whether clientID is written as an http(s) URL: such a
// client_id can only name a metadata document (no link an administrator
// creates has one).
func IsURL(clientID string) bool {
	return strings.HasPrefix(clientID, "https://") || strings.HasPrefix(clientID, "http://")
}

// Error is a reason a metadata document cannot be used, worded for the
// person who sees the error page (and the application's developer): it
// names no address and nothing internal.
type Error struct {
	Reason string
	err    error
}

func (e *Error) Error() string { return e.Reason }

// Unwrap returns the cause (a safefetch error, a deadline) when there is
// one.
func (e *Error) Unwrap() error { return e.err }

func errorf(format string, args ...any) *Error { return &Error{Reason: fmt.Sprintf(format, args...)} }

// CheckClientID checks a client_id URL and returns it parsed; the error is
// an *Error. allowLoopback also accepts http and https on a loopback host
// name, on any port.
func CheckClientID(clientID string, allowLoopback bool) (*url.URL, error) {
	if len(clientID) > MaxURLBytes {
		return nil, errorf("the client_id URL is %d bytes long, above the maximum of %d", len(clientID), MaxURLBytes)
	}
	for i := 0; i < len(clientID); i++ {
		if c := clientID[i]; c <= ' ' || c >= 0x7f {
			return nil, errorf("the client_id URL must be ASCII without spaces or control characters")
		}
	}
	u, err := url.Parse(clientID)
	if err != nil || u.Opaque != "" || u.Host == "" {
		return nil, errorf("the client_id is not an absolute URL with a host")
	}
	if err := checkURL(u, allowLoopback); err != nil {
		return nil, err
	}
	switch {
	case u.User != nil:
		return nil, errorf("the client_id URL must not contain a user name or password")
	case u.Fragment != "" || strings.Contains(clientID, "#"):
		return nil, errorf("the client_id URL must not contain a fragment")
	case u.Path == "" || u.Path == "/":
		return nil, errorf("the client_id URL must have a path (such as /oauth/client.json)")
	}
	for _, seg := range strings.Split(u.EscapedPath(), "/") {
		if seg == "." || seg == ".." || strings.EqualFold(seg, "%2e") || strings.EqualFold(seg, "%2e%2e") {
			return nil, errorf("the client_id URL must not contain . or .. path segments")
		}
	}
	return u, nil
}

// checkURL is the scheme, host and port rule, also applied to every
// request the fetcher sends.
func checkURL(u *url.URL, allowLoopback bool) error {
	if allowLoopback && shared.IsLoopbackHost(u.Hostname()) && (u.Scheme == "https" || u.Scheme == "http") {
		return nil
	}
	if u.Scheme != "https" {
		return errorf("the client_id URL must use https")
	}
	if p := u.Port(); p != "" && p != "443" {
		return errorf("the client_id URL must use the https port 443")
	}
	if u.Hostname() == "" {
		return errorf("the client_id URL has no host")
	}
	return nil
}

// Document is the part of a Client ID Metadata Document the provider
// uses.
type Document struct {
	ClientID                string   `json:"client_id"`
	ClientName              string   `json:"client_name"`
	RedirectURIs            []string `json:"redirect_uris"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
}

// rawDocument is the document as sent, with the members that refuse it.
type rawDocument struct {
	Document
	ClientSecret          *json.RawMessage `json:"client_secret"`
	ClientSecretExpiresAt *json.RawMessage `json:"client_secret_expires_at"`
	GrantTypes            *[]string        `json:"grant_types"`
	ResponseTypes         *[]string        `json:"response_types"`
}

// Parse decodes and validates a document fetched from clientID (see
// Validate); the error is an *Error.
func Parse(body []byte, clientID string) (Document, error) {
	var raw rawDocument
	if err := json.Unmarshal(body, &raw); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field != "" {
			return Document{}, errorf("the document's %s has the wrong type", ute.Field)
		}
		return Document{}, errorf("the document is not a JSON object")
	}
	switch {
	case raw.ClientSecret != nil:
		return Document{}, errorf("the document must not contain a client_secret (such an application has no secret)")
	case raw.ClientSecretExpiresAt != nil:
		return Document{}, errorf("the document must not contain client_secret_expires_at")
	case raw.GrantTypes != nil && !slices.Contains(*raw.GrantTypes, shared.GrantTypeAuthorizationCode):
		return Document{}, errorf("the document's grant_types must include authorization_code")
	case raw.ResponseTypes != nil && !slices.Equal(*raw.ResponseTypes, []string{"code"}):
		return Document{}, errorf(`the document's response_types must be ["code"]`)
	}
	d := raw.Document
	d.ClientName = strings.TrimSpace(d.ClientName)
	if err := d.Validate(clientID); err != nil {
		return Document{}, err
	}
	return d, nil
}

// Validate checks d as the document of clientID: client_id equal to it, a
// client_name (1 to MaxNameRunes characters, no control, bidirectional or
// zero-width characters), redirect_uris under the redirect rules, and
// token_endpoint_auth_method "none". The error is an *Error.
func (d Document) Validate(clientID string) error {
	if d.ClientID != clientID {
		return errorf("the document's client_id is not the URL it was fetched from")
	}
	switch n := utf8.RuneCountInString(d.ClientName); {
	case n == 0:
		return errorf("the document has no client_name")
	case n > MaxNameRunes:
		return errorf("the document's client_name is %d characters long, above the maximum of %d", n, MaxNameRunes)
	case !utf8.ValidString(d.ClientName):
		return errorf("the document's client_name is not valid UTF-8")
	}
	for _, c := range d.ClientName {
		if unicode.IsControl(c) {
			return errorf("the document's client_name must not contain control characters")
		}
	}
	if err := shared.CheckName(d.ClientName); err != nil {
		return errorf("the document's client_name %v", err)
	}
	if len(d.RedirectURIs) == 0 {
		return errorf("the document has no redirect_uris")
	}
	if err := shared.ValidateRedirectURIs(d.RedirectURIs); err != nil {
		return errorf("the document's redirect_uris: %v", err)
	}
	if d.TokenEndpointAuthMethod != "none" {
		return errorf(`the document's token_endpoint_auth_method must be "none" (an application identified by a metadata document has no secret)`)
	}
	return nil
}

// Fetched is a validated document and how long it may be used.
type Fetched struct {
	Document   Document
	FetchedAt  time.Time
	CacheUntil time.Time
}

// Options configure a Fetcher; zero values take the defaults.
type Options struct {
	// AllowLoopback is CLIENT_METADATA_ALLOW_LOOPBACK (local runs and
	// tests only).
	AllowLoopback bool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Resolver, Dial and RootCAs are passed to safefetch (tests inject a
	// resolver, a dialer that refuses anything but loopback, and their
	// test certificate authority).
	Resolver safefetch.Resolver
	Dial     safefetch.DialFunc
	RootCAs  *x509.CertPool
	// Timeout bounds one fetch (default Timeout; tests shorten it).
	Timeout time.Duration
}

// Fetcher fetches and validates metadata documents. It is safe for
// concurrent use.
type Fetcher struct {
	client        *http.Client
	allowLoopback bool
	now           func() time.Time
}

// NewFetcher returns a Fetcher.
func NewFetcher(o Options) *Fetcher {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Timeout <= 0 {
		o.Timeout = Timeout
	}
	allow := o.AllowLoopback
	return &Fetcher{
		client: safefetch.New(safefetch.Options{
			Timeout: o.Timeout, MaxBody: MaxDocumentBytes, AllowLoopback: allow,
			CheckURL: func(u *url.URL) error { return checkURL(u, allow) },
			Resolver: o.Resolver, Dial: o.Dial, RootCAs: o.RootCAs,
		}),
		allowLoopback: allow,
		now:           o.Now,
	}
}

// AllowLoopback reports whether loopback URLs are accepted.
func (f *Fetcher) AllowLoopback() bool { return f.allowLoopback }

// Fetch checks clientID (CheckClientID), fetches its document and
// validates it (Parse). Every error is an *Error.
func (f *Fetcher) Fetch(ctx context.Context, clientID string) (Fetched, error) {
	if _, err := CheckClientID(clientID, f.allowLoopback); err != nil {
		return Fetched{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, clientID, nil)
	if err != nil {
		return Fetched{}, errorf("the client_id is not a URL that can be fetched")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return Fetched{}, describe(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Fetched{}, describe(err)
	}
	if resp.StatusCode != http.StatusOK {
		return Fetched{}, errorf("the application's metadata document could not be read: its server answered with HTTP status %d", resp.StatusCode)
	}
	d, err := Parse(body, clientID)
	if err != nil {
		return Fetched{}, err
	}
	now := f.now()
	return Fetched{Document: d, FetchedAt: now, CacheUntil: now.Add(CacheFor(resp.Header, now))}, nil
}

// describe words a fetch failure for the error page.
func describe(err error) *Error {
	const prefix = "the application's metadata document could not be read: "
	var reason string
	switch {
	case errors.Is(err, safefetch.ErrAddress):
		reason = "its host's address is not a public one"
	case errors.Is(err, safefetch.ErrRedirect):
		reason = "its server answered with a redirect, which is not followed"
	case errors.Is(err, safefetch.ErrTooLarge):
		reason = fmt.Sprintf("it is larger than %d bytes", MaxDocumentBytes)
	case safefetch.IsTimeout(err):
		reason = fmt.Sprintf("its server did not answer within %s", Timeout)
	default:
		var ce *Error
		if errors.As(err, &ce) { // the URL check
			return ce
		}
		reason = "its server could not be reached"
	}
	return &Error{Reason: prefix + reason, err: err}
}

// CacheFor is how long a document answered with header h at now may be
// used: Cache-Control's max-age (no-store and no-cache: zero), else
// Expires less Date (or now), clamped to [MinCache, MaxCache].
func CacheFor(h http.Header, now time.Time) time.Duration {
	var d time.Duration
	found := false
	for _, v := range h.Values("Cache-Control") {
		for _, dir := range strings.Split(v, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(dir), "=")
			switch strings.ToLower(name) {
			case "no-store", "no-cache":
				d, found = 0, true
			case "max-age":
				if n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64); err == nil && n >= 0 && !found {
					d, found = time.Duration(min(n, int64(MaxCache/time.Second)))*time.Second, true
				}
			}
		}
	}
	if !found {
		if exp, err := http.ParseTime(h.Get("Expires")); err == nil {
			base := now
			if date, err := http.ParseTime(h.Get("Date")); err == nil {
				base = date
			}
			d = exp.Sub(base)
		}
	}
	return min(max(d, MinCache), MaxCache)
}
