package shared

import (
	"errors"
	"net/http"
)

// Classification errors. Adapters (the store) wrap one of these so that
// handlers can map a failure to a status without knowing the adapter:
// ErrNotFound → 404, ErrConflict → 409, ErrUnavailable → 503 or
// temporarily_unavailable. Compare with errors.Is.
var (
	// ErrNotFound: the record does not exist (or is not visible, e.g. a link
	// still being created or an expired item).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a conditional write failed: the record already exists,
	// was already used, or changed under us.
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: a dependency is throttled, timed out or answered 5xx.
	// The request may succeed if retried.
	ErrUnavailable = errors.New("unavailable")
)

// Error is the one OAuth 2.0 error type (RFC 6749 §4.1.2.1, §5.2, RFC 7009
// §2.2.1). Constructors return a fresh value on every call.
type Error struct {
	// Code is the RFC 6749 error code, e.g. "invalid_grant".
	Code string
	// Description is the human-readable error_description. It never holds
	// internal detail.
	Description string
	// Status is the HTTP status used when the error is rendered as a
	// response rather than a redirect.
	Status int
	// Redirectable reports whether the error may be sent to the client's
	// redirect URI. It is false for errors about client_id or redirect_uri
	// themselves (RFC 6749 §4.1.2.1: never redirect to an unverified URI).
	Redirectable bool
}

func (e *Error) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

// TODO(shared): constructors, AsError and the renderers below are the
// contract; implement them.

// InvalidRequest is invalid_request (400, redirectable).
func InvalidRequest(desc string) *Error { panic("unimplemented") }

// InvalidClient is invalid_client (401 with WWW-Authenticate when rendered by
// WriteTokenError; RFC 6749 §5.2).
func InvalidClient(desc string) *Error { panic("unimplemented") }

// InvalidGrant is invalid_grant (400).
func InvalidGrant(desc string) *Error { panic("unimplemented") }

// UnauthorizedClient is unauthorized_client (400, redirectable).
func UnauthorizedClient(desc string) *Error { panic("unimplemented") }

// UnsupportedGrantType is unsupported_grant_type (400).
func UnsupportedGrantType(desc string) *Error { panic("unimplemented") }

// UnsupportedResponseType is unsupported_response_type (400, redirectable).
func UnsupportedResponseType(desc string) *Error { panic("unimplemented") }

// UnsupportedTokenType is unsupported_token_type (RFC 7009 §2.2.1, 400).
func UnsupportedTokenType(desc string) *Error { panic("unimplemented") }

// InvalidScope is invalid_scope (400, redirectable).
func InvalidScope(desc string) *Error { panic("unimplemented") }

// AccessDenied is access_denied (403 as a page, redirectable).
func AccessDenied(desc string) *Error { panic("unimplemented") }

// ServerError is server_error (500, redirectable) with a generic description.
func ServerError() *Error { panic("unimplemented") }

// TemporarilyUnavailable is temporarily_unavailable (503, redirectable) with
// a generic description.
func TemporarilyUnavailable() *Error { panic("unimplemented") }

// NoRedirect returns a copy of e that must not be sent to a redirect URI
// (errors about client_id or redirect_uri).
func NoRedirect(e *Error) *Error { panic("unimplemented") }

// AsError returns err as an *Error: an *Error in err's chain as it is, an
// error wrapping ErrUnavailable as TemporarilyUnavailable, anything else as
// ServerError. Nothing of err's text reaches the result.
func AsError(err error) *Error { panic("unimplemented") }

// WriteTokenError renders err (through AsError) as the JSON body of RFC 6749
// §5.2 with Cache-Control: no-store and Pragma: no-cache; invalid_client is
// 401 with `WWW-Authenticate: Basic realm="oauth2"`.
func WriteTokenError(w http.ResponseWriter, err error) { panic("unimplemented") }

// AuthorizeTarget is what the authorization endpoint knows when it fails.
type AuthorizeTarget struct {
	// RedirectURI is the validated redirect URI, or "" when client_id or
	// redirect_uri has not (yet) been validated.
	RedirectURI string
	// State is the client's state parameter, echoed unchanged.
	State string
	// Issuer is the iss parameter of RFC 9207.
	Issuer string
}

// WriteAuthorizeError renders err (through AsError) for the authorization
// endpoint (RFC 6749 §4.1.2.1, RFC 9207): when t.RedirectURI is set and the
// error is redirectable, a redirect (303 after POST, 302 after GET) to
// RedirectURI with error, error_description, state (when non-empty) and iss;
// otherwise an HTML error page (status 400, or the error's status when it is
// 5xx) carrying the page security headers (see SetPageHeaders).
func WriteAuthorizeError(w http.ResponseWriter, r *http.Request, t AuthorizeTarget, err error) {
	panic("unimplemented")
}

// SetPageHeaders sets the headers every HTML page sends:
// Content-Security-Policy (default-src 'none'; style-src 'unsafe-inline' or
// a hash; form-action 'self' plus what a page needs; frame-ancestors 'none'),
// X-Frame-Options: DENY, Referrer-Policy: no-referrer, Cache-Control:
// no-store, X-Content-Type-Options: nosniff and the HTML Content-Type.
func SetPageHeaders(h http.Header) { panic("unimplemented") }
