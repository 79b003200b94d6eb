package web

import (
	"net/http"
	"strconv"
	"strings"
)

// serveHead answers a HEAD request as the GET of the same URL would be
// answered, without the body (RFC 9110 §9.3.2): next sees a GET, its body
// is counted and dropped, and the response carries the GET's status and
// headers with the Content-Length the body would have had. Every GET
// endpoint of the three functions thus answers HEAD, from this one place
// (Middleware), without a line in any handler; a handler must not change
// state on GET, which the endpoints already honour (RFC 9110 §9.2.1).
//
// The body is counted rather than streamed so that the answer is the same
// behind the Lambda proxy (which would otherwise return the GET body) and
// net/http's server (which drops it); the pages and JSON documents are a
// few kilobytes.
func serveHead(next http.Handler, w http.ResponseWriter, r *http.Request) {
	get := r.Clone(r.Context())
	get.Method = http.MethodGet
	hw := &headWriter{w: w, status: http.StatusOK}
	next.ServeHTTP(hw, get)
	h := w.Header()
	if h.Get("Content-Length") == "" && bodyAllowed(hw.status) {
		h.Set("Content-Length", strconv.FormatInt(hw.n, 10))
	}
	w.WriteHeader(hw.status)
}

// headWriter records the status and counts the body of a GET served for a
// HEAD request; the headers go to the real writer's map.
type headWriter struct {
	w      http.ResponseWriter
	status int
	wrote  bool
	n      int64
}

func (w *headWriter) Header() http.Header { return w.w.Header() }

func (w *headWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
}

func (w *headWriter) Write(b []byte) (int, error) {
	w.wrote = true
	w.n += int64(len(b))
	return len(b), nil
}

// bodyAllowed reports whether a response of status may carry a body (and
// so a Content-Length): not 1xx, 204 or 304 (RFC 9110 §6.4.1).
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// allowHead adds HEAD after GET to an Allow header that names GET without
// it, so that a 405 lists HEAD wherever serveHead answers it.
func allowHead(h http.Header) {
	a := h.Get("Allow")
	if a == "" {
		return
	}
	methods := strings.Split(a, ",")
	out := make([]string, 0, len(methods)+1)
	hasGet, hasHead := false, false
	for _, m := range methods {
		m = strings.TrimSpace(m)
		switch m {
		case http.MethodGet:
			hasGet = true
		case http.MethodHead:
			hasHead = true
		}
		out = append(out, m)
		if m == http.MethodGet {
			out = append(out, http.MethodHead)
		}
	}
	if hasGet && !hasHead {
		h.Set("Allow", strings.Join(out, ", "))
	}
}
