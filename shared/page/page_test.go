package page

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestLocalURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/account/authorizations", "/account/authorizations"},
		{"/account/authorizations/a%2Fb%20c/revoke", "/account/authorizations/a%2Fb%20c/revoke"},
		{"/console/links?after=x", "/console/links?after=x"},
		{"", "#"},
		{"javascript:alert(1)", "#"},
		{"https://evil.example/", "#"},
		{"//evil.example/", "#"},
		{`/\evil.example/`, "#"},
		{`/a"onmouseover="x`, "#"},
		{"/a b", "#"},
		{"/a<b", "#"},
		{"/é", "#"},
	}
	for _, tc := range tests {
		if got := LocalURL(tc.in); got != tc.want {
			t.Errorf("LocalURL(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFill(t *testing.T) {
	tests := []struct {
		format string
		vals   []string
		want   string
	}{
		{"<p>%s</p>", []string{"<b>"}, "<p>&lt;b&gt;</p>"},
		{"%s and %s", []string{"a", "&"}, "a and &amp;"},
		{"100% of %s", []string{"%s"}, "100% of %s"},
		{"no values %s", nil, "no values "},
		{"extra", []string{"x"}, "extra"},
	}
	for _, tc := range tests {
		var b Buffer
		b.Fill(tc.format, tc.vals...)
		if got := b.String(); got != tc.want {
			t.Errorf("Fill(%q, %q): got %q, want %q", tc.format, tc.vals, got, tc.want)
		}
	}
}

// TestRender checks the page security headers SPEC asks of every page, the
// status, and that the frame holds the escaped title.
func TestRender(t *testing.T) {
	w := httptest.NewRecorder()
	Render(w, http.StatusTeapot, func(b *Buffer, title string) {
		Head(b, title)
		b.Fill("<h1>%s</h1>", title)
		Foot(b)
	}, "<T>", "https://client.example")
	if w.Code != http.StatusTeapot {
		t.Errorf("got status %d, want %d", w.Code, http.StatusTeapot)
	}
	h := w.Header()
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"frame-ancestors 'none'", "form-action 'self' https://client.example", "default-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("got CSP %q, want it to contain %q", csp, want)
		}
	}
	for k, want := range map[string]string{
		"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
		"Content-Type": "text/html; charset=utf-8", "X-Content-Type-Options": "nosniff",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("got %s %q, want %q", k, got, want)
		}
	}
	body := w.Body.String()
	if !strings.Contains(body, "<title>&lt;T&gt;</title>") || !strings.HasSuffix(body, "</html>\n") {
		t.Errorf("got body %q, want the escaped title in a complete frame", body)
	}
}

func TestDates(t *testing.T) {
	at := time.Date(2026, 5, 1, 14, 3, 0, 0, time.FixedZone("x", 3600))
	if got, want := RFC3339(at), "2026-05-01T13:03:00Z"; got != want {
		t.Errorf("RFC3339: got %q, want %q", got, want)
	}
	if got, want := Day(at), "1 May 2026 13:03 UTC"; got != want {
		t.Errorf("Day: got %q, want %q", got, want)
	}
}
