package admin

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// apiError is the one error type of the admin API, rendered by writeError
// as {"error": Code, "message": Message} with Status. Message is always safe
// to show: it never holds internal detail.
type apiError struct {
	Status  int
	Code    string
	Message string
	// field names the input a conflict is about, for the console's form
	// ("" for none); the JSON body does not carry it.
	field string
	// fields are every invalid field of a validation_failed error, in the
	// order they were checked; Message is the first of them (or, for a
	// document refused whole, all of them: errFields). The console shows
	// each beside its input; the JSON body lists them in "fields".
	fields []fieldProblem
}

// fieldProblem is one invalid field of a request: the API's name of the
// field ("name", "redirect_uris[1]") and the reason, in the API's words.
type fieldProblem struct{ Field, Reason string }

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// errorBody is the JSON body of every error response.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
	// Fields lists every invalid field of a validation_failed error.
	Fields []fieldErrorView `json:"fields,omitempty"`
}

// fieldErrorView is one invalid field of a 422.
type fieldErrorView struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func errInvalidRequest(msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Message: msg}
}

func errNotFound(msg string) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: "not_found", Message: msg}
}

func errConflict(msg string) *apiError {
	return &apiError{Status: http.StatusConflict, Code: "conflict", Message: msg}
}

// errValidation is a 422 whose message names the field: "field: reason".
func errValidation(field, reason string) *apiError {
	return &apiError{Status: http.StatusUnprocessableEntity, Code: "validation_failed", Message: field + ": " + reason,
		fields: []fieldProblem{{field, reason}}}
}

// problems collects the validation errors of one request, so that a form
// gets every invalid field at once rather than the first alone.
type problems struct {
	list  []fieldProblem
	other error // the first error that is not a validation error
}

// add records err (nil records nothing) and reports whether it was nil.
func (p *problems) add(err error) bool {
	if err == nil {
		return true
	}
	var e *apiError
	if errors.As(err, &e) && e.Code == "validation_failed" && len(e.fields) > 0 {
		p.list = append(p.list, e.fields...)
	} else if p.other == nil {
		p.other = err
	}
	return false
}

// err is nil when nothing was recorded; else the first error that is not a
// validation error, or one validation_failed error holding every field
// recorded (its message the first's).
func (p *problems) err() error {
	switch {
	case p.other != nil:
		return p.other
	case len(p.list) == 0:
		return nil
	}
	e := errValidation(p.list[0].Field, p.list[0].Reason)
	e.fields = p.list
	return e
}

func errTooLarge() *apiError {
	return &apiError{
		Status:  http.StatusRequestEntityTooLarge,
		Code:    "payload_too_large",
		Message: fmt.Sprintf("the request body is larger than %d bytes", web.MaxBodyBytes),
	}
}

// wrapf adds context to a store error, keeping its classification.
func wrapf(err error, format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// writeError renders err as JSON (classify).
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := classify(w, r, err)
	body := errorBody{Error: e.Code, Message: e.Message}
	for _, f := range e.fields {
		body.Fields = append(body.Fields, fieldErrorView{Field: f.Field, Message: f.Reason})
	}
	web.WriteJSON(w, e.Status, body)
}

// classify is the answer to err, for the API and the console alike: an
// *apiError in its chain as it is; errors wrapping shared.ErrNotFound,
// ErrConflict and ErrUnavailable as 404, 409 and 503 (with Retry-After);
// anything else as a 500 with no detail, logged with the request's logger.
func classify(w http.ResponseWriter, r *http.Request, err error) *apiError {
	var e *apiError
	switch {
	case errors.As(err, &e):
	case errors.Is(err, shared.ErrNotFound):
		e = errNotFound("no such resource")
	case errors.Is(err, shared.ErrConflict):
		e = errConflict("the resource changed or already exists; read it again and retry")
	case errors.Is(err, shared.ErrUnavailable):
		web.Logger(r.Context()).Warn("dependency unavailable", "error", err.Error())
		e = &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable",
			Message: "a dependency is temporarily unavailable, try again later"}
		w.Header().Set("Retry-After", "1")
	default:
		web.Logger(r.Context()).Error("internal error", "error", err.Error())
		e = &apiError{Status: http.StatusInternalServerError, Code: "internal",
			Message: "the server could not complete the request"}
	}
	return e
}

// decodeBody decodes a required JSON object body (web.DecodeJSON: unknown
// fields and trailing data refused) into v.
func decodeBody(r *http.Request, v any) error {
	return decode(r, v, false)
}

// decodeOptional is decodeBody for an optional body: an empty body (or one
// of whitespace only) leaves v unchanged.
func decodeOptional(r *http.Request, v any) error {
	return decode(r, v, true)
}

func decode(r *http.Request, v any, optional bool) error {
	var b []byte
	if r.Body != nil {
		var err error
		if b, err = io.ReadAll(r.Body); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return errTooLarge()
			}
			return errInvalidRequest("could not read the request body")
		}
	}
	trimmed := bytes.TrimSpace(b)
	switch {
	case len(trimmed) == 0 && optional:
		return nil
	case len(trimmed) == 0:
		return errInvalidRequest("request body is empty: send a JSON object")
	case trimmed[0] != '{':
		// Refused here so that the message names no Go type.
		return errInvalidRequest("request body must be a JSON object")
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	if err := web.DecodeJSON(r, v); err != nil {
		if errors.Is(err, web.ErrTooLarge) {
			return errTooLarge()
		}
		return errInvalidRequest(err.Error())
	}
	return nil
}

func isNotFound(err error) bool { return errors.Is(err, shared.ErrNotFound) }

func isConflict(err error) bool { return errors.Is(err, shared.ErrConflict) }

// cursorError answers a list failure: a cursor the store did not issue is
// the client's 400.
func cursorError(cursor string, err error) error {
	if cursor != "" && errors.Is(err, store.ErrInvalidCursor) {
		return errInvalidRequest("cursor is not valid: pass next_cursor from the previous page unchanged")
	}
	return err
}
