package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestHSTS: with an https issuer every response carries
// Strict-Transport-Security, whatever wrote it; with any other issuer none
// does.
func TestHSTS(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	mux.HandleFunc("POST /error", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad", http.StatusBadRequest)
	})
	requests := []struct{ method, path string }{
		{"GET", "/ok"}, {"HEAD", "/ok"}, {"GET", "/panic"}, {"POST", "/error"},
		{"GET", "/missing"}, {"PUT", "/ok"},
	}
	for _, tt := range []struct {
		issuer, want string
	}{
		{"https://auth.example.com", "max-age=63072000"},
		{"https://auth.example.com:8443", "max-age=63072000"},
		{"http://127.0.0.1:8080", ""},
		{"http://auth.example.com", ""},
		{"", ""},
		{"::not a url", ""},
	} {
		h := HSTS(Middleware(mux, slog.New(slog.DiscardHandler), nil), tt.issuer)
		for _, r := range requests {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(r.method, "http://x"+r.path, nil))
			if got := w.Header().Get("Strict-Transport-Security"); got != tt.want {
				t.Errorf("issuer %q, %s %s (status %d): got Strict-Transport-Security %q, want %q",
					tt.issuer, r.method, r.path, w.Code, got, tt.want)
			}
			if vs := w.Header().Values("Strict-Transport-Security"); len(vs) > 1 {
				t.Errorf("issuer %q, %s %s: got %d Strict-Transport-Security headers, want 1", tt.issuer, r.method, r.path, len(vs))
			}
		}
	}
}
