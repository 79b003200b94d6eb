package authorize

import (
	"net/http"
	"strings"
	"time"

	"github.com/applinks/applinks/shared"
)

// message is the content of a plain page (errors of the browser flow that
// are not OAuth errors of the authorization endpoint).
type message struct {
	Title, Text string
	// Link, when set, is a local place to continue from.
	Link, LinkText string
}

// The plain pages.
var (
	msgNotFound  = message{Title: "Page not found", Text: "There is nothing at this address."}
	msgMethod    = message{Title: "Method not allowed", Text: "This address does not accept that kind of request."}
	msgBadForm   = message{Title: "Invalid request", Text: "The form could not be read. Go back to the application and try again."}
	msgTooLarge  = message{Title: "Request too large", Text: "The form sent too much data."}
	msgCSRF      = message{Title: "Request refused", Text: "This form has expired or did not come from this site. Reload the page and try again.", Link: accountPath, LinkText: "Your authorized applications"}
	msgSignedOut = message{Title: "Signed out", Text: "Your session has ended. Sign in again to continue.", Link: accountPath, LinkText: "Sign in"}
	msgServer    = message{Title: "Something went wrong", Text: "The server could not complete the request. Try again later."}
	msgBusy      = message{Title: "Temporarily unavailable", Text: "The service is temporarily unavailable. Try again in a moment."}
)

// fail answers an internal failure (already logged by the caller) with a
// plain page: 503 when a dependency is unavailable, else 500. Nothing of
// err reaches the page.
func (h *Handler) fail(w http.ResponseWriter, err error) {
	if shared.AsError(err).Code == shared.CodeTemporarilyUnavailable {
		renderMessage(w, http.StatusServiceUnavailable, msgBusy)
		return
	}
	renderMessage(w, http.StatusInternalServerError, msgServer)
}

func renderMessage(w http.ResponseWriter, status int, m message) {
	render(w, status, messagePage, m)
}

// render builds a page into a buffer and writes it with the page security
// headers; formAction adds CSP form-action sources
// (shared.SetPageHeadersFormAction).
//
// The pages are built by plain functions rather than html/template: the
// template package makes the linker keep every exported method of every
// reachable type (it calls methods by name through reflect), which put
// megabytes of SDK code into the Lambda binary. Every dynamic value goes
// through pageBuffer.fill, which escapes it, and every attribute is
// double-quoted.
func render[T any](w http.ResponseWriter, status int, page func(*pageBuffer, T), data T, formAction ...string) {
	var b pageBuffer
	page(&b, data)
	shared.SetPageHeadersFormAction(w.Header(), formAction...)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// pageBuffer accumulates a page's HTML.
type pageBuffer struct{ strings.Builder }

// fill writes format, a constant piece of markup, with each %s replaced by
// the next value, HTML-escaped (escapeHTML). A value with no %s left is not
// written; a %s with no value left is dropped. Values that land in a URL
// attribute (href, action) must go through localURL first.
func (b *pageBuffer) fill(format string, vals ...string) {
	for {
		i := strings.Index(format, "%s")
		if i < 0 {
			b.WriteString(format)
			return
		}
		b.WriteString(format[:i])
		if len(vals) > 0 {
			b.WriteString(escapeHTML(vals[0]))
			vals = vals[1:]
		}
		format = format[i+2:]
	}
}

// htmlEscaper escapes text for an HTML element or a double-quoted
// attribute value: the five characters html.EscapeString escapes, and NUL,
// which HTML parsers drop or replace, as U+FFFD (as html/template does).
var htmlEscaper = strings.NewReplacer(
	"&", "&amp;",
	"'", "&#39;",
	"<", "&lt;",
	">", "&gt;",
	`"`, "&#34;",
	"\x00", "\uFFFD",
)

// escapeHTML escapes s for an HTML element or a double-quoted attribute.
func escapeHTML(s string) string { return htmlEscaper.Replace(s) }

// localURL returns u when it is a path on this site made only of characters
// that need no escaping in a URL ("/account/...", never "//host" or a
// scheme such as javascript:), and "#" otherwise. The pages' links and form
// actions are built by the handler (url.PathEscape for the client id), so
// "#" marks a bug rather than an attack.
func localURL(u string) string {
	if !strings.HasPrefix(u, "/") || strings.HasPrefix(u, "//") || strings.HasPrefix(u, "/\\") {
		return "#"
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		if c <= 0x20 || c >= 0x7f || c == '"' || c == '\'' || c == '<' || c == '>' || c == '\\' || c == '`' {
			return "#"
		}
	}
	return u
}

// pageHead writes the frame's start: language, viewport, title, inline CSS
// readable at 375 px, visible focus.
func pageHead(b *pageBuffer, title string) {
	b.fill(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%s</title>
`, title)
	b.WriteString(`<style>
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:1rem;line-height:1.5;color:#172b4d;background:#f4f5f7}
main{max-width:32rem;margin:1.5rem auto;background:#fff;padding:1.5rem;border-radius:6px;box-shadow:0 1px 3px rgba(9,30,66,.25)}
h1{font-size:1.5rem;margin:0 0 1rem;overflow-wrap:anywhere}
h2{font-size:1.15rem;margin:1.25rem 0 .5rem;overflow-wrap:anywhere}
p,li{overflow-wrap:anywhere}
label{display:block;font-weight:600;margin:1rem 0 .25rem}
input[type=text],input[type=password]{display:block;width:100%;font:inherit;padding:.5rem;border:2px solid #8993a4;border-radius:4px}
button{font:inherit;font-weight:600;padding:.6rem 1.2rem;margin:1rem .5rem 0 0;border-radius:4px;border:2px solid #0052cc;background:#0052cc;color:#fff;cursor:pointer;min-height:44px}
button.secondary{background:#fff;color:#0052cc}
:focus-visible{outline:3px solid #ff8b00;outline-offset:2px}
a{color:#0052cc}
code{background:#f4f5f7;padding:.1rem .3rem;border-radius:3px;font-size:.9em;overflow-wrap:anywhere}
.error{color:#bf2600;font-weight:600}
.notice{background:#e3fcef;padding:.5rem .75rem;border-radius:4px}
.small{font-size:.9rem;color:#42526e}
ul.apps{list-style:none;padding:0}
ul.apps>li{border-top:1px solid #dfe1e6;padding:.5rem 0 1rem}
</style>
</head>
<body>
<main>
`)
}

// pageFoot writes the frame's end.
func pageFoot(b *pageBuffer) {
	b.WriteString("</main>\n</body>\n</html>\n")
}

// rfc3339 is t for a datetime attribute.
func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// day is t as a person reads it.
func day(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04 UTC") }

// loginPage is the sign-in form: the pending request (return_to) and the
// double-submit CSRF token in hidden inputs, labelled username and password
// fields.
func loginPage(b *pageBuffer, d loginData) {
	pageHead(b, "Sign in")
	b.WriteString("<h1>Sign in</h1>\n")
	if d.AppName != "" {
		b.fill("<p>Sign in to continue to <strong>%s</strong>.</p>", d.AppName)
	}
	b.WriteString("\n")
	if d.Message != "" {
		b.fill(`<p class="error" role="alert">%s</p>`, d.Message)
	}
	b.fill(`
<form method="post" action="/oauth2/login">
<input type="hidden" name="return_to" value="%s">
<input type="hidden" name="csrf" value="%s">
<label for="username">Username</label>
<input type="text" id="username" name="username" value="%s" autocomplete="username" autocapitalize="none" spellcheck="false" required>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
`, d.ReturnTo, d.CSRF, d.Username)
	pageFoot(b)
}

// consentPage asks the user to allow or deny an application: who asks,
// where the answer goes, each scope, and one form carrying the request in
// hidden inputs with approve and deny buttons.
func consentPage(b *pageBuffer, d consentData) {
	pageHead(b, "Authorize "+d.AppName)
	b.fill(`<h1>Authorize %s</h1>
<p><strong>%s</strong> is asking to access your account <strong>%s</strong>.</p>
<p>When you answer, you will be sent back to <strong>%s</strong>.</p>
<h2>It will be allowed to:</h2>
<ul>
`, d.AppName, d.AppName, d.Username, d.RedirectHost)
	for _, s := range d.Scopes {
		b.fill("<li>%s <code>%s</code></li>\n", s.Description, s.Name)
	}
	b.WriteString("</ul>\n<form method=\"post\" action=\"/oauth2/consent\">\n")
	for _, h := range d.Hidden {
		b.fill("<input type=\"hidden\" name=\"%s\" value=\"%s\">\n", h.Name, h.Value)
	}
	b.fill(`<input type="hidden" name="csrf" value="%s">
<button type="submit" name="decision" value="approve">Allow access</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>
<p class="small">You can revoke access at any time from <a href="/account/authorizations">your authorized applications</a>.</p>
`, d.CSRF)
	pageFoot(b)
}

// accountPage lists the user's authorized applications, each with its
// scopes and a revoke form, and a link to sign out.
func accountPage(b *pageBuffer, d accountData) {
	pageHead(b, "Authorized applications")
	b.fill("<h1>Authorized applications</h1>\n<p>Signed in as <strong>%s</strong>.</p>\n", d.Username)
	if d.Revoked != "" {
		b.fill(`<p class="notice" role="status">%s</p>`, d.Revoked)
	}
	b.WriteString("\n")
	if len(d.Apps) > 0 {
		b.WriteString("<ul class=\"apps\">\n")
		for _, a := range d.Apps {
			b.fill("<li>\n<h2>%s</h2>\n<p class=\"small\">Client ID <code>%s</code></p>\n<p>Can:</p>\n<ul>", a.Name, a.ClientID)
			for _, s := range a.ScopeItems {
				b.fill("<li>%s <code>%s</code></li>", s.Description, s.Name)
			}
			first, last := rfc3339(a.AuthorizedAt), rfc3339(a.LastAuthorizedAt)
			b.fill("</ul>\n<p class=\"small\">Authorized <time datetime=\"%s\">%s</time>", first, day(a.AuthorizedAt))
			if first != last {
				b.fill(", last on <time datetime=\"%s\">%s</time>", last, day(a.LastAuthorizedAt))
			}
			b.fill(`</p>
<form method="post" action="%s">
<input type="hidden" name="csrf" value="%s">
<button type="submit">Revoke access for %s</button>
</form>
</li>
`, localURL(a.RevokeAction), d.CSRF, a.Name)
		}
		b.WriteString("</ul>\n")
	} else {
		b.WriteString("<p>You have not authorized any applications.</p>\n")
	}
	// Sign-out is a link to its own page, so that this page holds exactly
	// one form per authorized application (SPEC).
	b.WriteString(`<p><a href="/oauth2/logout">Sign out</a></p>
`)
	pageFoot(b)
}

// signOutPage asks a signed-in user to confirm signing out: one form,
// CSRF-protected.
func signOutPage(b *pageBuffer, d accountData) {
	pageHead(b, "Sign out")
	b.fill(`<h1>Sign out</h1>
<p>Signed in as <strong>%s</strong>.</p>
<form method="post" action="/oauth2/logout">
<input type="hidden" name="csrf" value="%s">
<button type="submit">Sign out</button>
</form>
<p class="small"><a href="/account/authorizations">Back to your authorized applications</a></p>
`, d.Username, d.CSRF)
	pageFoot(b)
}

// messagePage is a plain page: a title, a text and an optional local link.
func messagePage(b *pageBuffer, m message) {
	pageHead(b, m.Title)
	b.fill("<h1>%s</h1>\n<p>%s</p>\n", m.Title, m.Text)
	if m.Link != "" {
		b.fill(`<p><a href="%s">%s</a></p>`, localURL(m.Link), m.LinkText)
	}
	b.WriteString("\n")
	pageFoot(b)
}
