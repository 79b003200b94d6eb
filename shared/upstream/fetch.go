package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Limits of every request to an upstream identity provider (discovery,
// JWK Set, token and UserInfo endpoints).
const (
	// DefaultTimeout bounds one request, connection to last byte.
	DefaultTimeout = 5 * time.Second
	// DefaultMaxBody bounds a response body: a discovery document or a key
	// set is a few kilobytes.
	DefaultMaxBody = 256 << 10
)

// Errors of the fetch client.
var (
	// ErrScheme: the URL is neither https nor plain http on a loopback
	// host.
	ErrScheme = errors.New("only https URLs, or plain http on a loopback host (127.0.0.1, [::1], localhost), may be fetched")
	// ErrRedirect: the upstream answered with a redirect, which is not
	// followed.
	ErrRedirect = errors.New("the upstream answered with a redirect, which is not followed")
	// ErrTooLarge: the response body is larger than the limit.
	ErrTooLarge = errors.New("the upstream's answer is larger than allowed")
	// ErrAddress: the host resolved to an address that is not public
	// (private, shared, link-local such as cloud metadata, unique-local,
	// multicast, unspecified, or loopback for a host not named as one).
	ErrAddress = errors.New("the upstream's address is not a public one")
)

// CheckURL accepts an absolute https URL, or a plain http URL whose host
// is a loopback name (127.0.0.1, [::1], localhost): the only URLs the
// provider fetches from or sends people to at an upstream. The host of an
// http URL is checked by name, not by resolving it, so no DNS answer can
// make another host count as loopback.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" || u.User != nil {
		return fmt.Errorf("%q is not an absolute URL with a host", raw)
	}
	return checkURL(u)
}

func checkURL(u *url.URL) error {
	switch {
	case u.Scheme == "https" && u.Hostname() != "":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return ErrScheme
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// NewHTTPClient returns the client of every request to an upstream: each
// request's URL is checked (CheckURL) before it is sent, redirects are
// never followed (ErrRedirect), a body over maxBody bytes fails the read
// (ErrTooLarge), and the whole request, body included, ends after
// timeout. Zero values take DefaultTimeout and DefaultMaxBody.
func NewHTTPClient(timeout time.Duration, maxBody int64) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	base := &http.Transport{
		// No proxy: the address check below is on the connection itself.
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			loopback, _ := ctx.Value(loopbackHost{}).(bool)
			d := net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second,
				Control: func(_, address string, _ syscall.RawConn) error { return checkAddress(address, loopback) }}
			return d.DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{
		Transport: limitTransport{base: base, maxBody: maxBody},
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return ErrRedirect
		},
	}
}

// limitTransport checks each request's URL and caps each response body.
type limitTransport struct {
	base    http.RoundTripper
	maxBody int64
}

func (t limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := checkURL(req.URL); err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	// The dialer may connect to a loopback address only for a URL whose
	// host is named as loopback (local runs and tests).
	req = req.WithContext(context.WithValue(req.Context(), loopbackHost{}, isLoopback(req.URL.Hostname())))
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > t.maxBody {
		_ = resp.Body.Close()
		return nil, ErrTooLarge
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.maxBody}
	return resp, nil
}

// loopbackHost is the request context key that tells the dialer the URL's
// host is named as loopback.
type loopbackHost struct{}

// nonPublic are the IPv4 ranges of IANA's special-purpose registry that
// netip's predicates do not name: shared address space (RFC 6598), IETF
// protocol assignments, benchmarking, documentation, and "this network".
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("0.0.0.0/8"),
}

// checkAddress is the dialer's check of the address a host resolved to,
// run before the connection is attempted, so that no DNS answer can point
// a fetch at the provider's own network or a cloud metadata service: a
// public unicast address, or loopback when the URL's host is named as
// loopback. IPv4-mapped IPv6 addresses count as IPv4.
func checkAddress(address string, loopback bool) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrAddress, address)
	}
	ip := ap.Addr().Unmap()
	if loopback && ip.IsLoopback() {
		return nil
	}
	if !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return fmt.Errorf("%w: %s", ErrAddress, ip)
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return fmt.Errorf("%w: %s", ErrAddress, ip)
		}
	}
	return nil
}

// limitedBody fails a read past its limit (where io.LimitReader would end
// quietly with a truncated document).
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, ErrTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n - int(-b.left), ErrTooLarge
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// describe turns a fetch failure into words for an administrator (the 422
// of a save) without internal detail.
func describe(err error) string {
	switch {
	case errors.Is(err, ErrScheme):
		return ErrScheme.Error()
	case errors.Is(err, ErrRedirect):
		return ErrRedirect.Error()
	case errors.Is(err, ErrTooLarge):
		return ErrTooLarge.Error()
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return "the upstream did not answer in time"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return "the upstream could not be reached"
	}
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
