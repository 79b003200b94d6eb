// Package loopback keeps on this machine what must stay there: the local
// runner's PPROF_ADDR, and the tools that send requests (bench/loadgen,
// bench/compare, tests/testkit/oauthflow). It recognises loopback hosts by
// their text alone, without resolving names, and dials only loopback
// addresses, checking the address actually connected to.
package loopback

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrNotLoopback is wrapped by every refusal of this package.
var ErrNotLoopback = errors.New("is not a loopback address (127.0.0.0/8, ::1 or localhost)")

// IsHost reports whether host is localhost or a loopback IP literal
// (127.0.0.0/8, ::1, or an IPv4-mapped form of 127.0.0.0/8). Other names
// are not resolved, so they are not loopback hosts.
func IsHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback() && ip.Zone() == ""
}

// ParseURL parses raw as an absolute http(s) URL whose host is a loopback
// host (IsHost); the caller checks the rest of its shape.
func ParseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an absolute http(s) URL", raw)
	}
	if !IsHost(u.Hostname()) {
		return nil, fmt.Errorf("target %q %w", u.Hostname(), ErrNotLoopback)
	}
	return u, nil
}

// Dialer returns a dialer that connects only to loopback addresses: it
// checks the address after name resolution, so a "localhost" that
// resolves elsewhere is refused too.
func Dialer() *net.Dialer {
	return &net.Dialer{
		Timeout:   5 * time.Second,
		KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return fmt.Errorf("dial %q: %w", address, err)
			}
			if !IsHost(host) {
				return fmt.Errorf("dial %s: %s %w", network, host, ErrNotLoopback)
			}
			return nil
		},
	}
}
