package shared

// Registration limits (SPEC "Redirect URIs").
const (
	MaxRedirectURIs     = 10
	MaxRedirectURIBytes = 2000
)

// ValidateRedirectURI checks one URI for registration (SPEC, RFC 8252 §7):
// absolute, no fragment, no userinfo, no wildcard, https; http only for the
// loopback hosts 127.0.0.1, [::1] and localhost; or a private-use scheme
// containing a dot. The error text is the reason, fit for a 422 message.
func ValidateRedirectURI(uri string) error { panic("unimplemented") }

// ValidateRedirectURIs checks a registration's list: 1 to MaxRedirectURIs
// URIs, each valid, no duplicates. The error names the offending URI.
func ValidateRedirectURIs(uris []string) error { panic("unimplemented") }

// MatchRedirectURI picks the redirect URI of an authorization request (RFC
// 6749 §3.1.2.3, RFC 8252 §7.3). present is false when the request carried
// no redirect_uri. It returns the URI to redirect to and true, or "" and
// false when the request must be refused with an error page.
func MatchRedirectURI(registered []string, requested string, present bool) (string, bool) {
	panic("unimplemented")
}
