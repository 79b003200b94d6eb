// Package shared holds the OAuth 2.0 rules that every function of the
// provider applies: the scope catalog and scope capping (RFC 6749 §3.3),
// redirect-URI registration and matching (RFC 6749 §3.1.2, RFC 8252 §7),
// PKCE (RFC 7636, S256 only), the one OAuth error type with its renderers
// (RFC 6749 §4.1.2.1 and §5.2), and the generation, hashing and comparison of
// tokens and codes.
//
// The package is pure: it imports nothing from AWS and writes to an
// http.ResponseWriter only through its error renderers.
package shared
