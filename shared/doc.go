// Package shared holds the OAuth 2.0 rules that every function of the
// provider applies: the scope catalog and scope capping (RFC 6749 §3.3;
// OpenID Connect's scopes, oidc.go), redirect-URI registration and matching
// (RFC 6749 §3.1.2, RFC 8252 §7), PKCE (RFC 7636, S256 only), grant types
// and device user codes (RFC 8628), the registration policy (RFC 7591),
// resource URIs (RFC 8707), usernames and display names, the one OAuth
// error type with its renderers (RFC 6749 §4.1.2.1 and §5.2; errors.go,
// errorpage.go), the page security headers (csp.go), and the generation,
// hashing and comparison of tokens and codes.
//
// The package is pure: it imports nothing from AWS and writes to an
// http.ResponseWriter only through its error renderers.
//
// Choices made where the RFCs leave room, each documented at its function:
//
//   - ParseScope follows the ABNF of RFC 6749 §3.3 strictly: leading,
//     trailing or double spaces are invalid_scope, not silently tolerated.
//   - Redirect URIs are compared byte for byte; only the port of an http
//     loopback URI may differ (RFC 8252 §7.3). Registration refuses any
//     character RFC 3986 does not allow, so what is registered is what is
//     matched.
//   - Rendered error descriptions are cut to the character set RFC 6749
//     allows for error_description, and to 300 bytes.
//   - The authorization endpoint's error page is 400 for every client
//     error (invalid_client and access_denied included) and 500 or 503 for
//     server errors (SPEC "Endpoints").
//   - Pages forbid form submissions to other origins (form-action 'self');
//     a page whose form answers with a redirect to the client adds the
//     client's origin with SetPageHeadersFormAction and FormActionSource.
package shared
