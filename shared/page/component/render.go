// Package component builds pages from templ components
// (github.com/a-h/templ): the frame of the end users' pages (Frame), links
// (Local, Registered, RegisteredLink) and Render. A .templ file beside
// the Go code is compiled by `go tool templ generate` into a *_templ.go
// file, which is committed, so that go build needs no generator. A
// component escapes each value for where it lands: text and attribute
// values are HTML-escaped, and a value in a URL attribute (href, action)
// that is a plain string goes through templ.URL, which replaces any scheme
// but http, https, mailto, tel, ftp and ftps with
// about:invalid#TemplFailedSanitizationURL. templ.URL lets through any
// relative or off-site http(s) URL, so the pages' links are built with
// Local (a path on this site, or "#") or Registered (exactly a registered
// redirect URI), which return a templ.SafeURL that templ only escapes.
//
// It is a package of its own so that a Lambda binary whose pages are all
// page.Buffer pages does not link templ (about 60 KB, README "Pages").
package component

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/a-h/templ"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/page"
)

// styleElement is the frame's inline style sheet (page.Style), a constant.
const styleElement = "<style>\n" + page.Style + "</style>\n"

// Render is page.Render for a component: it renders c into a buffer and
// writes it with status and the page security headers (formAction adds
// CSP form-action sources). A component that fails (none of the provider's
// can: they only write to the buffer) gets a bare 500. A NUL byte, which
// templ's escaping leaves as it is and only a value can bring (the
// markup has none), is written as U+FFFD, as shared.EscapeHTML writes it: HTML
// parsers drop NUL from text and replace it in attributes anyway.
func Render(w http.ResponseWriter, status int, c templ.Component, formAction ...string) {
	var b bytes.Buffer
	if err := c.Render(context.Background(), &b); err != nil {
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	body := b.Bytes()
	if bytes.IndexByte(body, 0) >= 0 {
		body = bytes.ReplaceAll(body, []byte{0}, []byte("\uFFFD"))
	}
	shared.SetPageHeadersFormAction(w.Header(), formAction...)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Local is page.LocalURL for a component's href or action: u when it is a path
// on this site that needs no escaping, else "#".
func Local(u string) templ.SafeURL { return templ.SafeURL(page.LocalURL(u)) }

// Registered returns uri, with query's parameters added (state, for
// example), for an href that sends the browser back to an application, and
// true, only when uri is byte for byte one of registered and a valid
// redirect URI (shared.ValidateRedirectURI: https, http on a loopback host,
// or a private-use scheme such as com.example.app:/cb, which templ.URL
// would replace). Anything else, a near match or an invalid URI found in
// the list, is "" and false: the caller shows no link.
func Registered(registered []string, uri string, query url.Values) (templ.SafeURL, bool) {
	found := false
	for _, r := range registered {
		if r == uri {
			found = true
			break
		}
	}
	if !found || shared.ValidateRedirectURI(uri) != nil {
		return "", false
	}
	if len(query) > 0 {
		sep := "?"
		if strings.Contains(uri, "?") {
			sep = "&"
		}
		uri += sep + query.Encode()
	}
	return templ.SafeURL(uri), true
}
