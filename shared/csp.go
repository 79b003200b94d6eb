package shared

import (
	"net/http"
	"net/url"
	"strings"
)

// Content-Security-Policy parts of every page (SetPageHeaders).
const (
	cspBefore = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'"
	cspAfter  = "; frame-ancestors 'none'; base-uri 'none'"
)

// SetPageHeaders sets the headers every HTML page sends:
// Content-Security-Policy
//
//	default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'
//
// X-Frame-Options: DENY, Referrer-Policy: no-referrer, Cache-Control:
// no-store, X-Content-Type-Options: nosniff and Content-Type: text/html;
// charset=utf-8.
//
// A page whose form answers with a redirect to another origin (the consent
// page: approve or deny → 303 to the client's redirect URI) must use
// SetPageHeadersFormAction instead: browsers (Chrome) apply form-action to
// the redirects that follow a form submission, so 'self' alone would block
// the redirect back to the client.
func SetPageHeaders(h http.Header) {
	SetPageHeadersFormAction(h)
}

// SetPageHeadersFormAction is SetPageHeaders with extra form-action sources
// after 'self', e.g. the origin of the redirect URI the consent form's 303
// leads to (see FormActionSource). A source that is not a plain origin or
// scheme source (it holds whitespace, a quote, ';' or ',') is dropped, so a
// hostile value can never inject a directive.
func SetPageHeadersFormAction(h http.Header, extra ...string) {
	var b strings.Builder
	b.WriteString(cspBefore)
	for _, s := range extra {
		if validCSPSource(s) {
			b.WriteByte(' ')
			b.WriteString(s)
		}
	}
	b.WriteString(cspAfter)
	h.Set("Content-Security-Policy", b.String())
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Type", "text/html; charset=utf-8")
}

// FormActionSource returns the CSP source expression that allows a form
// submission to end at redirectURI: its origin (scheme://host[:port]) for
// http and https, the scheme source ("com.example.app:") for a private-use
// scheme (RFC 8252 §7.1), or "" when redirectURI does not parse.
func FormActionSource(redirectURI string) string {
	u, err := url.Parse(redirectURI)
	if err != nil || u.Scheme == "" {
		return ""
	}
	var s string
	if (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		s = u.Scheme + "://" + u.Host
	} else {
		s = u.Scheme + ":"
	}
	if !validCSPSource(s) {
		return ""
	}
	return s
}

// validCSPSource reports whether s can stand as one source expression of a
// CSP directive without changing the policy's structure.
func validCSPSource(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == ';' || c == ',' || c == '\'' || c == '"' {
			return false
		}
	}
	return true
}
