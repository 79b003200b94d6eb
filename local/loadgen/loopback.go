package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// errNotLoopback explains the refusal in one line.
const errNotLoopback = "is not a loopback address (127.0.0.0/8, ::1 or localhost): loadgen only drives a provider on this machine"

// checkLoopbackURL accepts an absolute http(s) URL whose host is localhost
// or a loopback IP literal. Names other than localhost are refused without
// resolving them.
func checkLoopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", raw)
	}
	if u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q: an issuer has no userinfo, path, query or fragment", raw)
	}
	if !isLoopbackHost(u.Hostname()) {
		return fmt.Errorf("target %q %s", u.Hostname(), errNotLoopback)
	}
	return nil
}

// checkLoopbackEndpoint accepts the absolute http(s) URL of another
// server's endpoint (-token-url, -introspect-url) whose host is localhost
// or a loopback IP literal, as checkLoopbackURL does. A path and a query
// are allowed; userinfo is not (credentials travel in -client-id and
// -client-secret), nor a fragment (RFC 6749 §3.2).
func checkLoopbackEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", raw)
	}
	if u.User != nil || u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("%q: an endpoint has no userinfo or fragment", u.Redacted())
	}
	if !isLoopbackHost(u.Hostname()) {
		return fmt.Errorf("target %q %s", u.Hostname(), errNotLoopback)
	}
	return nil
}

// isLoopbackHost reports whether host is localhost or a loopback IP
// literal (127.0.0.0/8, ::1, or an IPv4-mapped form of 127.0.0.0/8).
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback() && ip.Zone() == ""
}

// loopbackDialer dials only loopback addresses: it checks the address
// actually connected to, after name resolution, so that a "localhost"
// resolving elsewhere is refused too.
func loopbackDialer() *net.Dialer {
	return &net.Dialer{
		Timeout:   5 * time.Second,
		KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return fmt.Errorf("dial %q: %w", address, err)
			}
			if !isLoopbackHost(host) {
				return fmt.Errorf("dial %s: %s %s", network, host, errNotLoopback)
			}
			return nil
		},
	}
}

// dialLoopback is the DialContext of the HTTP transport.
func dialLoopback(ctx context.Context, network, addr string) (net.Conn, error) {
	return loopbackDialer().DialContext(ctx, network, addr)
}
