// Package web is the HTTP plumbing the three functions share: one JSON log
// line per request carrying its request id, audit events, the request-body
// limit, HEAD answered as GET (head.go), Strict-Transport-Security
// (hsts.go), strict form parsing (RFC 6749 §3.1, §3.2: a repeated parameter
// is an error), strict JSON decoding (jsonkeys.go) and JSON responses.
package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxBodyBytes is the largest request body any endpoint accepts; a larger one
// is answered 413.
const MaxBodyBytes = 64 << 10

type ctxKey int

const (
	keyLogger ctxKey = iota
	keyRequestID
)

// Middleware wraps next so that every request gets a request id (from
// requestID when it returns non-empty, e.g. the API Gateway request id,
// otherwise a random one), a request-scoped logger (see Logger), a body
// limited to MaxBodyBytes, and one log line when it ends with the method,
// path (never the query, which may hold codes), status and duration. HEAD
// is answered wherever GET is (serveHead), and a 405's Allow header that
// names GET names HEAD too.
func Middleware(next http.Handler, log *slog.Logger, requestID func(*http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := ""
		if requestID != nil {
			id = requestID(r)
		}
		if id == "" {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		l := log.With("request_id", id)
		ctx := WithLogger(r.Context(), l)
		ctx = context.WithValue(ctx, keyRequestID, id)
		r = r.WithContext(ctx)
		LimitBody(w, r)
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				l.Error("panic", "panic", fmt.Sprint(p))
				if !sw.wrote {
					http.Error(sw, "internal error", http.StatusInternalServerError)
				}
			}
			l.Info("request", "method", r.Method, "path", r.URL.Path, "status", sw.status,
				"duration_ms", time.Since(start).Milliseconds())
		}()
		if r.Method == http.MethodHead {
			serveHead(next, sw, r)
			return
		}
		next.ServeHTTP(sw, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
		allowHead(w.Header())
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.wrote = true
		allowHead(w.Header())
	}
	return w.ResponseWriter.Write(b)
}

// Logger returns the request-scoped logger, or slog.Default() outside
// Middleware.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(keyLogger).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// WithLogger returns ctx carrying l as the request-scoped logger (what
// Middleware does for each request; also for tests that capture logs).
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, keyLogger, l)
}

// RequestID returns the request id set by Middleware, "" outside it.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(keyRequestID).(string)
	return id
}

// Audit logs an audit event (SPEC "Errors and logs") as a line with
// "audit": true and "event": event. attrs must never hold a secret, password,
// code or token; use shared.HashPrefix for a reference.
func Audit(ctx context.Context, event string, attrs ...any) {
	args := append([]any{"audit", true, "event", event}, attrs...)
	Logger(ctx).Info("audit", args...)
}

// Errors returned by ParseForm and DecodeJSON.
var (
	// ErrTooLarge: the body exceeds MaxBodyBytes (answer 413).
	ErrTooLarge = errors.New("request body too large")
)

// RepeatedError is ParseForm's error for a parameter sent more than once
// (RFC 6749 §3.1), naming it, so that a caller may answer a parameter of
// its own with its own error (RFC 8707's resource: invalid_target).
type RepeatedError struct {
	Name string
}

func (e *RepeatedError) Error() string { return fmt.Sprintf("parameter %q is repeated", e.Name) }

// ParseForm reads an application/x-www-form-urlencoded body (and, when
// allowQuery, the query string) strictly: a parameter given twice, in the
// body or in the body and query together, is an error naming it (RFC 6749
// §3.1, §3.2; a *RepeatedError); a body over MaxBodyBytes is ErrTooLarge; a wrong content type
// or invalid UTF-8 is an error. The error text is safe to show to clients.
func ParseForm(r *http.Request, allowQuery bool) (url.Values, error) {
	out := url.Values{}
	add := func(vals url.Values) error {
		for k, vs := range vals {
			if !utf8.ValidString(k) {
				return errors.New("parameter name is not valid UTF-8")
			}
			if len(vs) > 1 || out.Has(k) {
				return &RepeatedError{Name: k}
			}
			if !utf8.ValidString(vs[0]) {
				return fmt.Errorf("parameter %q is not valid UTF-8", k)
			}
			out[k] = vs
		}
		return nil
	}
	if allowQuery {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, errors.New("malformed query string")
		}
		if err := add(q); err != nil {
			return nil, err
		}
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
		b, err := ReadFormBody(r)
		if err != nil {
			return nil, err
		}
		if err := add(b); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// LimitBody limits r's body to MaxBodyBytes: past it ParseForm,
// ReadFormBody and DecodeJSON return ErrTooLarge (answered 413).
// Middleware calls it, and so does each function's handler, so that the
// 413 holds when the handler is mounted without Middleware (wrapping twice
// is harmless).
func LimitBody(w http.ResponseWriter, r *http.Request) {
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	}
}

// ReadFormBody reads an application/x-www-form-urlencoded body as it is,
// repeated parameters kept (ParseForm refuses them; the authorization
// endpoint tells a repeated client_id from another repeated parameter): a
// body over MaxBodyBytes is ErrTooLarge; a wrong content type, an
// unreadable or malformed body is an error whose text is safe to show.
func ReadFormBody(r *http.Request) (url.Values, error) {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/x-www-form-urlencoded" {
		return nil, errors.New("content type must be application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, ErrTooLarge
		}
		return nil, errors.New("could not read the request body")
	}
	b, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, errors.New("malformed form body")
	}
	return b, nil
}

// DecodeJSON decodes a JSON object body into v, refusing unknown fields,
// trailing data, a key repeated in one object and a key that differs from a
// field's name only by letter case (encoding/json would accept both: the
// last repeat wins, and names match case-insensitively). A body over
// MaxBodyBytes is ErrTooLarge; any other error text names the problem and
// is safe to show to clients.
func DecodeJSON(r *http.Request, v any) error {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "" && ct != "application/json" {
		return errors.New("content type must be application/json")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return ErrTooLarge
		}
		return errors.New("could not read the request body")
	}
	if err := decodeJSON(body, v); err != nil {
		return err
	}
	return checkKeys(body, reflect.TypeOf(v))
}

// decodeJSON is DecodeJSON's decoding of body into v.
func decodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("request body is empty")
		}
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return fmt.Errorf("malformed JSON at offset %d", se.Offset)
		case errors.As(err, &te):
			return fmt.Errorf("field %q must be %s", te.Field, te.Type.String())
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return fmt.Errorf("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
		}
		return errors.New("malformed JSON")
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// WriteJSON writes v as JSON with status and Cache-Control: no-store.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
