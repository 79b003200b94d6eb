package shared

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
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

// Error codes of RFC 6749 §4.1.2.1 and §5.2 and RFC 7009 §2.2.1.
const (
	CodeInvalidRequest          = "invalid_request"
	CodeInvalidClient           = "invalid_client"
	CodeInvalidGrant            = "invalid_grant"
	CodeUnauthorizedClient      = "unauthorized_client"
	CodeUnsupportedGrantType    = "unsupported_grant_type"
	CodeUnsupportedResponseType = "unsupported_response_type"
	CodeUnsupportedTokenType    = "unsupported_token_type"
	CodeInvalidScope            = "invalid_scope"
	CodeAccessDenied            = "access_denied"
	CodeServerError             = "server_error"
	CodeTemporarilyUnavailable  = "temporarily_unavailable"
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

func newError(code, desc string, status int) *Error {
	return &Error{Code: code, Description: desc, Status: status, Redirectable: true}
}

// InvalidRequest is invalid_request (400, redirectable).
func InvalidRequest(desc string) *Error {
	return newError(CodeInvalidRequest, desc, http.StatusBadRequest)
}

// InvalidClient is invalid_client (401 with WWW-Authenticate when rendered by
// WriteTokenError; RFC 6749 §5.2).
func InvalidClient(desc string) *Error {
	return newError(CodeInvalidClient, desc, http.StatusUnauthorized)
}

// InvalidGrant is invalid_grant (400).
func InvalidGrant(desc string) *Error {
	return newError(CodeInvalidGrant, desc, http.StatusBadRequest)
}

// UnauthorizedClient is unauthorized_client (400, redirectable).
func UnauthorizedClient(desc string) *Error {
	return newError(CodeUnauthorizedClient, desc, http.StatusBadRequest)
}

// UnsupportedGrantType is unsupported_grant_type (400).
func UnsupportedGrantType(desc string) *Error {
	return newError(CodeUnsupportedGrantType, desc, http.StatusBadRequest)
}

// UnsupportedResponseType is unsupported_response_type (400, redirectable).
func UnsupportedResponseType(desc string) *Error {
	return newError(CodeUnsupportedResponseType, desc, http.StatusBadRequest)
}

// UnsupportedTokenType is unsupported_token_type (RFC 7009 §2.2.1, 400).
func UnsupportedTokenType(desc string) *Error {
	return newError(CodeUnsupportedTokenType, desc, http.StatusBadRequest)
}

// InvalidScope is invalid_scope (400, redirectable).
func InvalidScope(desc string) *Error {
	return newError(CodeInvalidScope, desc, http.StatusBadRequest)
}

// AccessDenied is access_denied (403 as a page, redirectable). Note that
// WriteAuthorizeError renders every non-5xx error page with status 400
// (SPEC "Endpoints"); the 403 applies where a handler renders the error with
// its own status.
func AccessDenied(desc string) *Error {
	return newError(CodeAccessDenied, desc, http.StatusForbidden)
}

// ServerError is server_error (500, redirectable) with a generic description.
func ServerError() *Error {
	return newError(CodeServerError, "the server could not complete the request", http.StatusInternalServerError)
}

// TemporarilyUnavailable is temporarily_unavailable (503, redirectable) with
// a generic description.
func TemporarilyUnavailable() *Error {
	return newError(CodeTemporarilyUnavailable, "the service is temporarily unavailable, try again later", http.StatusServiceUnavailable)
}

// NoRedirect returns a copy of e that must not be sent to a redirect URI
// (errors about client_id or redirect_uri). A nil e gives a non-redirectable
// ServerError.
func NoRedirect(e *Error) *Error {
	if e == nil {
		e = ServerError()
	}
	c := *e
	c.Redirectable = false
	return &c
}

// AsError returns err as an *Error: an *Error in err's chain as it is, an
// error wrapping ErrUnavailable as TemporarilyUnavailable, anything else
// (including nil) as ServerError. Nothing of err's text reaches the result.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) && e != nil {
		return e
	}
	if errors.Is(err, ErrUnavailable) {
		return TemporarilyUnavailable()
	}
	return ServerError()
}

// status returns the HTTP status of e, falling back on the code's usual
// status when an *Error was built by hand without one.
func (e *Error) status() int {
	if e.Status >= 400 && e.Status <= 599 {
		return e.Status
	}
	switch e.Code {
	case CodeInvalidClient:
		return http.StatusUnauthorized
	case CodeAccessDenied:
		return http.StatusForbidden
	case CodeServerError:
		return http.StatusInternalServerError
	case CodeTemporarilyUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

// tokenErrorBody is the JSON body of RFC 6749 §5.2.
type tokenErrorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// WriteTokenError renders err (through AsError) as the JSON body of RFC 6749
// §5.2 with Cache-Control: no-store and Pragma: no-cache; invalid_client is
// 401 with `WWW-Authenticate: Basic realm="oauth2"`. error_description is
// omitted when empty. It serves the token, revocation (RFC 7009) and
// introspection (RFC 7662) endpoints.
func WriteTokenError(w http.ResponseWriter, err error) {
	e := AsError(err)
	status := e.status()
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if e.Code == CodeInvalidClient {
		status = http.StatusUnauthorized
		h.Set("WWW-Authenticate", `Basic realm="oauth2"`)
	}
	body, mErr := json.Marshal(tokenErrorBody{Error: e.Code, ErrorDescription: cleanDescription(e.Description)})
	if mErr != nil { // unreachable for two strings; keep a valid body anyway
		body = []byte(`{"error":"server_error"}`)
		status = http.StatusInternalServerError
	}
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

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
//
// The parameters are appended to RedirectURI's query, which is kept byte for
// byte (RFC 6749 §3.1.2: the query component must be retained).
func WriteAuthorizeError(w http.ResponseWriter, r *http.Request, t AuthorizeTarget, err error) {
	e := AsError(err)
	if t.RedirectURI != "" && e.Redirectable {
		q := url.Values{}
		q.Set("error", e.Code)
		if d := cleanDescription(e.Description); d != "" {
			q.Set("error_description", d)
		}
		if t.State != "" {
			q.Set("state", t.State)
		}
		if t.Issuer != "" {
			q.Set("iss", t.Issuer)
		}
		if target, ok := AppendQuery(t.RedirectURI, q); ok {
			RedirectToClient(w, r, target)
			return
		}
		// An unparsable redirect URI cannot be a validated one: fall back on
		// the page, never redirect to it.
	}
	status := http.StatusBadRequest
	if s := e.status(); s >= 500 {
		status = s
	}
	SetPageHeaders(w.Header())
	w.WriteHeader(status)
	_, _ = w.Write([]byte(errorPage(e.Code, cleanDescription(e.Description))))
}

// cleanDescription makes d a valid error_description (RFC 6749 §4.1.2.1,
// §5.2: only %x20-21 / %x23-5B / %x5D-7E): a double quote becomes an
// apostrophe, a backslash a slash, and any other character outside the set
// a question mark. It also cuts d to maxDescription bytes, so an echoed
// client value cannot bloat a response.
func cleanDescription(d string) string {
	if len(d) > maxDescription {
		d = d[:maxDescription]
	}
	b := []byte(d)
	for i, c := range b {
		switch {
		case c == '"':
			b[i] = '\''
		case c == '\\':
			b[i] = '/'
		case c < 0x20 || c > 0x7e:
			b[i] = '?'
		}
	}
	return string(b)
}

// maxDescription is the longest error_description rendered, in bytes.
const maxDescription = 300
