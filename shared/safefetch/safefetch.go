// Package safefetch is the one HTTP client of every request to a URL that
// someone other than the operator chose (an upstream identity provider's
// discovery document and the endpoints it names; an application's Client
// ID Metadata Document). It defends the provider's own network against
// server-side request forgery:
//
//   - the host is resolved by the client itself and every address is
//     checked before a connection is attempted (CheckAddress): only global
//     unicast addresses, nothing in IANA's special-purpose registries
//     (loopback, private, shared, link-local with the cloud metadata
//     service, unique-local, multicast, documentation, benchmarking,
//     unspecified, and the IPv4-mapped forms of all of these), so no DNS
//     answer, however it changes between two lookups, points a request at
//     the provider's network; the default dialer checks the address once
//     more in its Control hook, on the socket it is about to connect;
//   - loopback only when the caller allows it and the URL's host is named
//     as loopback (127.0.0.1, [::1], localhost), never for a name that
//     merely resolves to it;
//   - no proxy from the environment; no redirect followed (ErrRedirect); a
//     body over the limit fails the read (ErrTooLarge); one deadline from
//     the connection to the body's last byte.
//
// The caller checks the URL's scheme, host and port for its own rules
// before the request (Options.CheckURL is run on every request).
package safefetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"

	"github.com/applinks/applinks/shared"
)

// Errors of the client.
var (
	// ErrRedirect: the server answered with a redirect, which is not
	// followed.
	ErrRedirect = errors.New("the server answered with a redirect, which is not followed")
	// ErrTooLarge: the response body is larger than the limit.
	ErrTooLarge = errors.New("the server's answer is larger than allowed")
	// ErrAddress: the host resolved to an address that is not public
	// (private, shared, link-local such as cloud metadata, unique-local,
	// multicast, documentation, unspecified, or loopback for a host not
	// named as one, or when loopback is not allowed).
	ErrAddress = errors.New("the server's address is not a public one")
)

// Resolver looks host names up (net.Resolver satisfies it).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// DialFunc connects to address ("ip:port", an address that passed
// CheckAddress).
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// Options configure a client. Zero values take the defaults.
type Options struct {
	// Timeout bounds one request, connection to last byte.
	Timeout time.Duration
	// MaxBody bounds a response body, in bytes.
	MaxBody int64
	// AllowLoopback lets a request whose URL host is named as loopback
	// (shared.IsLoopbackHost) connect to a loopback address.
	AllowLoopback bool
	// CheckURL, when set, is asked about every request's URL before
	// anything is resolved or sent; its error is the request's.
	CheckURL func(*url.URL) error
	// Resolver looks host names up (default net.DefaultResolver).
	Resolver Resolver
	// Dial connects to a checked address (default: a net.Dialer whose
	// Control hook checks the address again). Tests inject one that
	// refuses any address but their loopback servers.
	Dial DialFunc
	// RootCAs are the roots TLS trusts (default: the system's, which Go
	// reads from SSL_CERT_FILE and SSL_CERT_DIR when they are set).
	RootCAs *x509.CertPool
}

// Defaults of Options.
const (
	DefaultTimeout = 5 * time.Second
	DefaultMaxBody = 256 << 10
)

// New returns the client: see the package documentation. It is safe for
// concurrent use.
func New(o Options) *http.Client {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.Dial == nil {
		o.Dial = defaultDial(o.Timeout)
	}
	base := &http.Transport{
		// No proxy: the address check is on the connection itself.
		Proxy:                 nil,
		DialContext:           dialer{o: o}.dial,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   o.Timeout,
		ResponseHeaderTimeout: o.Timeout,
	}
	if o.RootCAs != nil {
		base.TLSClientConfig = &tls.Config{RootCAs: o.RootCAs, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{
		Transport: limitTransport{base: base, o: o},
		Timeout:   o.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return ErrRedirect
		},
	}
}

// defaultDial connects with a net.Dialer that checks the socket's address
// once more just before connecting (defence in depth: the address was
// checked after resolution already).
func defaultDial(timeout time.Duration) DialFunc {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		loopback, _ := ctx.Value(loopbackHost{}).(bool)
		d := net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second,
			Control: func(_, address string, _ syscall.RawConn) error {
				ap, err := netip.ParseAddrPort(address)
				if err != nil {
					return fmt.Errorf("%w: %q", ErrAddress, address)
				}
				return CheckAddress(ap.Addr(), loopback)
			}}
		return d.DialContext(ctx, network, address)
	}
}

// dialer resolves the host itself and connects only to checked addresses.
type dialer struct{ o Options }

func (d dialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	loopback, _ := ctx.Value(loopbackHost{}).(bool)
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		addrs, err = d.o.Resolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, fmt.Errorf("look up %s: %w", host, err)
		}
	}
	// Any address that is not public refuses the host: a name that
	// answers with one is not fetched at all.
	for _, ip := range addrs {
		if err := CheckAddress(ip, loopback); err != nil {
			return nil, err
		}
	}
	var firstErr error
	for _, ip := range addrs {
		conn, err := d.o.Dial(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
		if err == nil {
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr == nil {
		firstErr = fmt.Errorf("look up %s: no address", host)
	}
	return nil, firstErr
}

// limitTransport checks each request's URL, tells the dialer whether the
// host is a loopback name, and caps each response body.
type limitTransport struct {
	base http.RoundTripper
	o    Options
}

func (t limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.o.CheckURL != nil {
		if err := t.o.CheckURL(req.URL); err != nil {
			if req.Body != nil {
				_ = req.Body.Close()
			}
			return nil, err
		}
	}
	loopback := t.o.AllowLoopback && shared.IsLoopbackHost(req.URL.Hostname())
	req = req.WithContext(context.WithValue(req.Context(), loopbackHost{}, loopback))
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > t.o.MaxBody {
		_ = resp.Body.Close()
		return nil, ErrTooLarge
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.o.MaxBody}
	return resp, nil
}

// loopbackHost is the request context key that tells the dialer the URL's
// host is named as loopback and loopback is allowed.
type loopbackHost struct{}

// nonPublic are the ranges of IANA's special-purpose registries that
// netip's predicates do not name: shared address space (RFC 6598), IETF
// protocol assignments, benchmarking, documentation (IPv4 and IPv6),
// "this network", the IPv6 discard prefix, ORCHIDv2, and the NAT64 and
// 6to4 prefixes (which embed an IPv4 address, private or not).
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("192.88.99.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("255.255.255.255/32"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("2001::/23"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("2002::/16"),
	netip.MustParsePrefix("3fff::/20"),
}

// globalUnicast6 is IANA's IPv6 global unicast allocation: every other
// IPv6 address (the IPv4-compatible ::/96 among them) is reserved.
var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// CheckAddress accepts a public unicast address (nothing in IANA's
// special-purpose address registries), or a loopback address when
// loopback is true. IPv4-mapped IPv6 addresses are judged as the IPv4
// address they carry; an address with a zone is refused. The error wraps
// ErrAddress.
func CheckAddress(ip netip.Addr, loopback bool) error {
	if ip.Zone() != "" {
		return fmt.Errorf("%w: %s", ErrAddress, ip)
	}
	ip = ip.Unmap()
	if loopback && ip.IsLoopback() {
		return nil
	}
	if !ip.IsValid() || !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.Is6() && !globalUnicast6.Contains(ip) {
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

// IsTimeout reports whether err is a deadline's.
func IsTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
