package shared

import (
	"net/http"
	"strings"
	"testing"
)

const wantCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func checkPageHeaders(t *testing.T, h http.Header, formActionExtra string) {
	t.Helper()
	csp := wantCSP
	if formActionExtra != "" {
		csp = strings.Replace(csp, "form-action 'self'", "form-action 'self' "+formActionExtra, 1)
	}
	want := map[string]string{
		"Content-Security-Policy": csp,
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
		"X-Content-Type-Options":  "nosniff",
		"Content-Type":            "text/html; charset=utf-8",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("got %s %q, want %q", k, got, v)
		}
	}
}

func TestSetPageHeaders(t *testing.T) {
	h := http.Header{}
	SetPageHeaders(h)
	checkPageHeaders(t, h, "")
}

func TestSetPageHeadersFormAction(t *testing.T) {
	h := http.Header{}
	SetPageHeadersFormAction(h, "https://app.example.com", "", "x; script-src *", "'unsafe-eval'", "com.example.app:")
	checkPageHeaders(t, h, "https://app.example.com com.example.app:")
}

func TestFormActionSource(t *testing.T) {
	tests := []struct{ uri, want string }{
		{"https://app.example.com/cb?x=1", "https://app.example.com"},
		{"https://app.example.com:8443/cb", "https://app.example.com:8443"},
		{"http://127.0.0.1:5000/cb", "http://127.0.0.1:5000"},
		{"http://[::1]:5000/cb", "http://[::1]:5000"},
		{"com.example.app:/cb", "com.example.app:"},
		{"/relative", ""},
		{"%zz", ""},
	}
	for _, tc := range tests {
		if got := FormActionSource(tc.uri); got != tc.want {
			t.Errorf("FormActionSource(%q) = %q, want %q", tc.uri, got, tc.want)
		}
	}
}
