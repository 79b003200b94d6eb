package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHead(t *testing.T) {
	var seen []string
	h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Method)
		switch r.URL.Path {
		case "/page":
			if r.Method != http.MethodGet {
				w.Header().Set("Allow", "GET")
				http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			_, _ = io.WriteString(w, "<p>hello</p>")
			_, _ = io.WriteString(w, "<p>world</p>")
		case "/both":
			w.Header().Set("Allow", "GET, POST")
			w.WriteHeader(http.StatusMethodNotAllowed)
		case "/post":
			w.Header().Set("Allow", "POST")
			w.WriteHeader(http.StatusMethodNotAllowed)
		case "/redirect":
			http.Redirect(w, r, "/page", http.StatusSeeOther)
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		}
	}), slog.New(slog.NewTextHandler(io.Discard, nil)), nil)

	srv := httptest.NewServer(h)
	defer srv.Close()
	do := func(method, path string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	get, body := do("GET", "/page")
	head, hbody := do("HEAD", "/page")
	if head.StatusCode != get.StatusCode || head.StatusCode != http.StatusOK {
		t.Errorf("HEAD status %d, GET %d, want 200", head.StatusCode, get.StatusCode)
	}
	if hbody != "" {
		t.Errorf("HEAD body %q, want none", hbody)
	}
	for _, k := range []string{"Content-Type", "Cache-Control"} {
		if head.Header.Get(k) != get.Header.Get(k) {
			t.Errorf("HEAD %s %q, GET %q", k, head.Header.Get(k), get.Header.Get(k))
		}
	}
	if head.ContentLength != int64(len(body)) {
		t.Errorf("HEAD Content-Length %d, want the GET body's %d", head.ContentLength, len(body))
	}
	if seen[len(seen)-1] != http.MethodGet {
		t.Errorf("the handler saw %s for HEAD, want GET", seen[len(seen)-1])
	}

	for _, c := range []struct{ method, path, allow string }{
		{"POST", "/page", "GET, HEAD"},
		{"PUT", "/both", "GET, HEAD, POST"},
		{"HEAD", "/both", "GET, HEAD, POST"},
		{"GET", "/post", "POST"},
	} {
		resp, _ := do(c.method, c.path)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != c.allow {
			t.Errorf("%s %s: %d Allow %q, want 405 Allow %q", c.method, c.path, resp.StatusCode, resp.Header.Get("Allow"), c.allow)
		}
	}

	resp, b := do("HEAD", "/redirect")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/page" || b != "" {
		t.Errorf("HEAD /redirect: %d Location %q body %q, want 303 to /page and no body", resp.StatusCode, resp.Header.Get("Location"), b)
	}
	resp, _ = do("HEAD", "/empty")
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Content-Length") != "" {
		t.Errorf("HEAD /empty: %d Content-Length %q, want 204 without one", resp.StatusCode, resp.Header.Get("Content-Length"))
	}
}

// TestHeadRecorder checks the answer without net/http's server, which
// drops HEAD bodies by itself: behind the Lambda proxy nothing would.
func TestHeadRecorder(t *testing.T) {
	h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("x", 10000))
	}), slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("HEAD", "/", nil))
	if rec.Body.Len() != 0 || rec.Header().Get("Content-Length") != "10000" || rec.Code != 200 {
		t.Errorf("got %d, %d body bytes, Content-Length %q; want 200, none, 10000", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"))
	}
}
