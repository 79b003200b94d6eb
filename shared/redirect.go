package shared

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Registration limits (SPEC "Redirect URIs").
const (
	// MaxRedirectURIs is the most redirect URIs a link may register.
	MaxRedirectURIs = 10
	// MaxRedirectURIBytes is the longest redirect URI, in bytes.
	MaxRedirectURIBytes = 2000
)

// IsLoopbackHost reports whether host, a URL's host as url.URL.Hostname
// gives it (no brackets, no port), is one of the loopback hosts of SPEC:
// 127.0.0.1, ::1 or localhost, for which plain http is allowed (an
// issuer, a redirect URI, a client's or an upstream's URL) and a redirect
// URI's port may vary (RFC 8252 §7.3, §8.3). The text is compared, never
// resolved or parsed as an address: 127.0.0.2 and LOCALHOST are not.
func IsLoopbackHost(host string) bool {
	return host == "127.0.0.1" || host == "::1" || host == "localhost"
}

// ValidateRedirectURI checks one URI for registration (SPEC, RFC 8252 §7):
// absolute, no fragment, no userinfo, no wildcard, https; http only for the
// loopback hosts 127.0.0.1, [::1] and localhost; or a private-use scheme
// containing a dot. The error text is the reason, fit for a 422 message.
//
// Beyond that it refuses: more than MaxRedirectURIBytes bytes; any byte that
// RFC 3986 does not allow in a URI (whitespace, control characters,
// non-ASCII, '\', '<', '"' and the like: percent-encode them); a malformed
// percent-escape; '*' anywhere; an opaque URI ("scheme:x" without a '/'
// after the colon); an http(s) URI without a host; the unspecified address
// 0.0.0.0 or [::]; a port of 0 or above 65535. Host names must be written
// in lower case for the http loopback exception ("localhost", not
// "LOCALHOST"), since matching is byte for byte.
func ValidateRedirectURI(uri string) error {
	if uri == "" {
		return errors.New("redirect URI is empty")
	}
	if len(uri) > MaxRedirectURIBytes {
		return fmt.Errorf("redirect URI is %d bytes long, above the maximum of %d", len(uri), MaxRedirectURIBytes)
	}
	for i := 0; i < len(uri); i++ {
		c := uri[i]
		switch {
		case c <= ' ' || c == 0x7f:
			return errors.New("redirect URI must not contain whitespace or control characters")
		case c >= 0x80:
			return errors.New("redirect URI must be ASCII (percent-encode other characters)")
		case c == '#':
			return errors.New("redirect URI must not contain a fragment (RFC 6749 §3.1.2)")
		case c == '*':
			return errors.New("redirect URI must not contain a wildcard")
		case !isURIChar(c):
			return fmt.Errorf("redirect URI must not contain the character %q (RFC 3986)", c)
		case c == '%' && (i+2 >= len(uri) || !isHex(uri[i+1]) || !isHex(uri[i+2])):
			return errors.New("redirect URI has a malformed percent-escape")
		}
	}
	u, err := url.Parse(uri)
	if err != nil {
		return errors.New("redirect URI is not a valid URI")
	}
	if u.Scheme == "" {
		return errors.New("redirect URI must be absolute (with a scheme)")
	}
	if u.User != nil {
		return errors.New("redirect URI must not contain userinfo")
	}
	if u.Opaque != "" {
		return errors.New("redirect URI must have a path starting with '/' after the scheme")
	}
	if u.Port() != "" {
		p, err := strconv.Atoi(u.Port())
		if err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("redirect URI has an invalid port %q", u.Port())
		}
	}
	switch host := u.Hostname(); u.Scheme {
	case "https":
		if host == "" {
			return errors.New("redirect URI must have a host")
		}
		if host == "0.0.0.0" || host == "::" {
			return errors.New("redirect URI must not use the unspecified address")
		}
		if strings.HasSuffix(u.Host, ":") {
			return errors.New("redirect URI has an empty port")
		}
	case "http":
		if !isLoopbackAuthority(u.Host) {
			return errors.New("redirect URI must use https; http is allowed only for the loopback hosts 127.0.0.1, [::1] and localhost (RFC 8252 §7.3)")
		}
	default:
		if !strings.Contains(u.Scheme, ".") {
			return fmt.Errorf("redirect URI scheme %q is not allowed: use https, or a private-use scheme in reverse domain form such as com.example.app (RFC 8252 §7.1)", u.Scheme)
		}
	}
	return nil
}

// isURIChar reports whether c may appear in a URI (RFC 3986 §2: unreserved,
// reserved and '%').
func isURIChar(c byte) bool {
	if isUnreserved(c) {
		return true
	}
	return strings.IndexByte(":/?#[]@!$&'()*+,;=%", c) >= 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// isLoopbackAuthority reports whether authority is a loopback host with an
// optional valid port (1 to 65535, digits only).
func isLoopbackAuthority(authority string) bool {
	host, port, hasPort := strings.Cut(authority, "]:")
	if hasPort {
		host += "]"
	} else if !strings.HasPrefix(authority, "[") {
		host, port, hasPort = strings.Cut(authority, ":")
	}
	if hasPort && !validPort(port) {
		return false
	}
	if inner, ok := strings.CutPrefix(host, "["); ok { // an IPv6 literal
		if inner, ok = strings.CutSuffix(inner, "]"); !ok || !strings.Contains(inner, ":") {
			return false
		}
		host = inner
	}
	return IsLoopbackHost(host)
}

// validPort reports whether p is 1 to 5 digits with a value in 1..65535.
func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n >= 1 && n <= 65535
}

// ValidateRedirectURIs checks a registration's list (CheckRedirectURIs):
// the error names the first offending URI.
func ValidateRedirectURIs(uris []string) error {
	for _, p := range CheckRedirectURIs(uris) {
		switch {
		case p.Index < 0 && len(uris) == 0:
			return errors.New("at least one redirect URI is required")
		case p.Index < 0:
			return fmt.Errorf("%d redirect URIs given, at most %d are allowed", len(uris), MaxRedirectURIs)
		case p.Err != nil:
			return fmt.Errorf("redirect URI %s: %w", quoteShort(uris[p.Index]), p.Err)
		default:
			return fmt.Errorf("redirect URI %s is listed twice", quoteShort(uris[p.Index]))
		}
	}
	return nil
}

// A URIProblem is one broken rule of a list of redirect URIs
// (CheckRedirectURIs), for each caller to word its own way.
type URIProblem struct {
	// Index is the offending URI's, or -1 for the list's length (none, or
	// more than MaxRedirectURIs).
	Index int
	// Err is why the URI is not valid (ValidateRedirectURI); nil for a
	// duplicate or the length.
	Err error
	// First is, for a duplicate, the index of the URI's first
	// appearance.
	First int
}

// CheckRedirectURIs applies the rules of a list of redirect URIs: 1 to
// MaxRedirectURIs URIs (a length outside is the one problem, Index -1),
// each valid, no duplicates (byte for byte; an invalid URI is not checked
// for one). The problems come in the list's order; none when it is valid.
func CheckRedirectURIs(uris []string) []URIProblem {
	if len(uris) == 0 || len(uris) > MaxRedirectURIs {
		return []URIProblem{{Index: -1}}
	}
	var out []URIProblem
	first := make(map[string]int, len(uris))
	for i, u := range uris {
		if err := ValidateRedirectURI(u); err != nil {
			out = append(out, URIProblem{Index: i, Err: err})
		} else if j, ok := first[u]; ok {
			out = append(out, URIProblem{Index: i, First: j})
		} else {
			first[u] = i
		}
	}
	return out
}

// quoteShort quotes u for an error message, cut to a readable length.
func quoteShort(u string) string {
	const max = 100
	if len(u) > max {
		return strconv.Quote(u[:max]) + "..."
	}
	return strconv.Quote(u)
}

// MatchRedirectURI picks the redirect URI of an authorization request (RFC
// 6749 §3.1.2.3, RFC 8252 §7.3). present is false when the request carried
// no redirect_uri. It returns the URI to redirect to and true, or "" and
// false when the request must be refused with an error page.
//
// The rules (SPEC "Redirect URIs"): an absent redirect_uri is allowed only
// when exactly one URI is registered (that one is returned); a present but
// empty one is refused; otherwise requested must equal a registered URI byte
// for byte, except that for a registered http URI on a loopback host the
// port may differ or be absent (RFC 8252 §7.3), in which case requested is
// returned. The loopback exception works on bytes too: it applies to URIs
// written "http://" + one of 127.0.0.1, [::1], localhost, and nothing but
// the ":port" may differ. registered is assumed valid (ValidateRedirectURIs).
func MatchRedirectURI(registered []string, requested string, present bool) (string, bool) {
	if !present {
		if len(registered) == 1 && registered[0] != "" {
			return registered[0], true
		}
		return "", false
	}
	if requested == "" {
		return "", false
	}
	for _, r := range registered {
		if r == requested {
			return r, true
		}
	}
	key, ok := loopbackKey(requested)
	if !ok {
		return "", false
	}
	for _, r := range registered {
		if k, ok := loopbackKey(r); ok && k == key {
			return requested, true
		}
	}
	return "", false
}

// loopbackKey returns uri without its port when uri is an http URI on a
// loopback host ("http://127.0.0.1:8080/cb" → "http://127.0.0.1/cb"). It
// works on bytes, without normalisation, so two URIs have the same key only
// when they differ by nothing but the port.
func loopbackKey(uri string) (string, bool) {
	const prefix = "http://"
	if !strings.HasPrefix(uri, prefix) {
		return "", false
	}
	rest := uri[len(prefix):]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	if !isLoopbackAuthority(authority) {
		return "", false
	}
	host := authority
	if strings.HasPrefix(authority, "[") {
		host = authority[:strings.IndexByte(authority, ']')+1]
	} else if i := strings.IndexByte(authority, ':'); i >= 0 {
		host = authority[:i]
	}
	return prefix + host + tail, true
}
