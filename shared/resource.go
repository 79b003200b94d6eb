package shared

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// Resource indicators (RFC 8707): a resource_server link registers the
// URIs that name it, and a client asks for an access token for one of
// them with the resource parameter (§2); the token's aud is then that URI.

// MaxResourceURIs is the most resource URIs a link may register.
const MaxResourceURIs = 10

// CodeInvalidTarget is RFC 8707 §2's error: the resource parameter names
// a resource this server does not know, or one the request may not have.
const CodeInvalidTarget = "invalid_target"

// InvalidTarget is invalid_target (RFC 8707 §2; 400, redirectable).
func InvalidTarget(desc string) *Error {
	return newError(CodeInvalidTarget, desc, http.StatusBadRequest)
}

// ValidateResourceURI checks one resource URI for registration: an
// absolute URI (RFC 8707 §2) under the redirect URIs' byte rules (at most
// MaxRedirectURIBytes bytes, only characters RFC 3986 allows, well-formed
// percent-escapes, no wildcard, no userinfo), with no fragment (§2: "MUST
// NOT include a fragment component"), a host, and the scheme https; plain
// http only on the loopback hosts 127.0.0.1, [::1] and localhost. A query
// is allowed (§2 only discourages it). Clients send it byte for byte, so
// nothing is normalised. The error text is the reason, fit for a 422
// message.
func ValidateResourceURI(uri string) error {
	if uri == "" {
		return errors.New("resource URI is empty")
	}
	if len(uri) > MaxRedirectURIBytes {
		return fmt.Errorf("resource URI is %d bytes long, above the maximum of %d", len(uri), MaxRedirectURIBytes)
	}
	for i := 0; i < len(uri); i++ {
		c := uri[i]
		switch {
		case c <= ' ' || c == 0x7f:
			return errors.New("resource URI must not contain whitespace or control characters")
		case c >= 0x80:
			return errors.New("resource URI must be ASCII (percent-encode other characters)")
		case c == '#':
			return errors.New("resource URI must not contain a fragment (RFC 8707 §2)")
		case c == '*':
			return errors.New("resource URI must not contain a wildcard")
		case !isURIChar(c):
			return fmt.Errorf("resource URI must not contain the character %q (RFC 3986)", c)
		case c == '%' && (i+2 >= len(uri) || !isHex(uri[i+1]) || !isHex(uri[i+2])):
			return errors.New("resource URI has a malformed percent-escape")
		}
	}
	u, err := url.Parse(uri)
	if err != nil || u.Opaque != "" {
		return errors.New("resource URI is not a valid absolute URI")
	}
	if u.User != nil {
		return errors.New("resource URI must not contain userinfo")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("resource URI has an invalid port %q", p)
		}
	}
	switch host := u.Hostname(); u.Scheme {
	case "https":
		switch {
		case host == "":
			return errors.New("resource URI must have a host")
		case host == "0.0.0.0" || host == "::":
			return errors.New("resource URI must not use the unspecified address")
		case len(u.Host) > 0 && u.Host[len(u.Host)-1] == ':':
			return errors.New("resource URI has an empty port")
		}
	case "http":
		if !isLoopbackAuthority(u.Host) {
			return errors.New("resource URI must use https; http is allowed only for the loopback hosts 127.0.0.1, [::1] and localhost")
		}
	default:
		return errors.New("resource URI must be an absolute https URL (http only on 127.0.0.1, [::1] or localhost)")
	}
	return nil
}

// ValidateResourceURIs checks a link's list: at most MaxResourceURIs
// URIs, each valid, none twice (byte for byte). The error names the
// offending URI.
func ValidateResourceURIs(uris []string) error {
	if len(uris) > MaxResourceURIs {
		return fmt.Errorf("%d resource URIs given, at most %d are allowed", len(uris), MaxResourceURIs)
	}
	seen := make(map[string]bool, len(uris))
	for _, u := range uris {
		if err := ValidateResourceURI(u); err != nil {
			return fmt.Errorf("resource URI %s: %w", quoteShort(u), err)
		}
		if seen[u] {
			return fmt.Errorf("resource URI %s is listed twice", quoteShort(u))
		}
		seen[u] = true
	}
	return nil
}
