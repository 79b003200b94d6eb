package main

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/applinks/applinks/local/loopback"
)

// checkLoopbackURL accepts an absolute http(s) URL whose host is localhost
// or a loopback IP literal (loopback.ParseURL), without a path: an issuer.
// Names other than localhost are refused without resolving them.
func checkLoopbackURL(raw string) error {
	u, err := parseLoopback(raw)
	if err != nil {
		return err
	}
	if u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q: an issuer has no userinfo, path, query or fragment", raw)
	}
	return nil
}

// checkLoopbackEndpoint accepts the absolute http(s) URL of another
// server's endpoint (-token-url, -introspect-url) whose host is localhost
// or a loopback IP literal, as checkLoopbackURL does. A path and a query
// are allowed; userinfo is not (credentials travel in -client-id and
// -client-secret), nor a fragment (RFC 6749 §3.2).
func checkLoopbackEndpoint(raw string) error {
	u, err := parseLoopback(raw)
	if err != nil {
		return err
	}
	if u.User != nil || u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("%q: an endpoint has no userinfo or fragment", u.Redacted())
	}
	return nil
}

// parseLoopback is loopback.ParseURL with loadgen's reason for refusing.
func parseLoopback(raw string) (*url.URL, error) {
	u, err := loopback.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: loadgen only drives a server on this machine", err)
	}
	return u, nil
}
