package authorize

import (
	"net/http"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/page"
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
	msgBadReturn = message{Title: "Invalid request", Text: "This sign-in link does not say where to go after signing in.", Link: accountPath, LinkText: "Your authorized applications"}
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
	page.Render(w, status, messagePage, m)
}

// loginPage is the sign-in form: the pending request (return_to) and the
// double-submit CSRF token in hidden inputs, labelled username and password
// fields.
func loginPage(b *page.Buffer, d loginData) {
	page.Head(b, "Sign in")
	b.WriteString("<h1>Sign in</h1>\n")
	if d.AppName != "" {
		b.Fill("<p>Sign in to continue to <strong>%s</strong>.</p>", d.AppName)
	}
	b.WriteString("\n")
	if d.Message != "" {
		b.Fill(`<p class="error" role="alert">%s</p>`, d.Message)
	}
	b.Fill(`
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
	page.Foot(b)
}

// consentPage asks the user to allow or deny an application: who asks,
// where the answer goes, each scope, and one form carrying the request in
// hidden inputs with approve and deny buttons.
func consentPage(b *page.Buffer, d consentData) {
	page.Head(b, "Authorize "+d.AppName)
	b.Fill(`<h1>Authorize %s</h1>
<p><strong>%s</strong> is asking to access your account <strong>%s</strong>.</p>
<p>When you answer, you will be sent back to <strong>%s</strong>.</p>
<h2>It will be allowed to:</h2>
<ul>
`, d.AppName, d.AppName, d.Username, d.RedirectHost)
	for _, s := range d.Scopes {
		b.Fill("<li>%s <code>%s</code></li>\n", s.Description, s.Name)
	}
	b.WriteString("</ul>\n<form method=\"post\" action=\"/oauth2/consent\">\n")
	for _, h := range d.Hidden {
		b.Fill("<input type=\"hidden\" name=\"%s\" value=\"%s\">\n", h.Name, h.Value)
	}
	b.Fill(`<input type="hidden" name="csrf" value="%s">
<button type="submit" name="decision" value="approve">Allow access</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>
<p class="small">You can revoke access at any time from <a href="/account/authorizations">your authorized applications</a>.</p>
`, d.CSRF)
	page.Foot(b)
}

// accountPage lists the user's authorized applications, each with its
// scopes and a revoke form, and a link to sign out.
func accountPage(b *page.Buffer, d accountData) {
	page.Head(b, "Authorized applications")
	b.Fill("<h1>Authorized applications</h1>\n<p>Signed in as <strong>%s</strong>.</p>\n", d.Username)
	if d.Revoked != "" {
		b.Fill(`<p class="notice" role="status">%s</p>`, d.Revoked)
	}
	b.WriteString("\n")
	if len(d.Apps) > 0 {
		b.WriteString("<ul class=\"apps\">\n")
		for _, a := range d.Apps {
			b.Fill("<li>\n<h2>%s</h2>\n<p class=\"small\">Client ID <code>%s</code></p>\n<p>Can:</p>\n<ul>", a.Name, a.ClientID)
			for _, s := range a.ScopeItems {
				b.Fill("<li>%s <code>%s</code></li>", s.Description, s.Name)
			}
			first, last := page.RFC3339(a.AuthorizedAt), page.RFC3339(a.LastAuthorizedAt)
			b.Fill("</ul>\n<p class=\"small\">Authorized <time datetime=\"%s\">%s</time>", first, page.Day(a.AuthorizedAt))
			if first != last {
				b.Fill(", last on <time datetime=\"%s\">%s</time>", last, page.Day(a.LastAuthorizedAt))
			}
			b.Fill(`</p>
<form method="post" action="%s">
<input type="hidden" name="csrf" value="%s">
<button type="submit">Revoke access for %s</button>
</form>
</li>
`, page.LocalURL(a.RevokeAction), d.CSRF, a.Name)
		}
		b.WriteString("</ul>\n")
	} else {
		b.WriteString("<p>You have not authorized any applications.</p>\n")
	}
	// Sign-out is a link to its own page, so that this page holds exactly
	// one form per authorized application (SPEC).
	b.WriteString(`<p><a href="/oauth2/logout">Sign out</a></p>
`)
	page.Foot(b)
}

// signOutPage asks a signed-in user to confirm signing out: one form,
// CSRF-protected.
func signOutPage(b *page.Buffer, d accountData) {
	page.Head(b, "Sign out")
	b.Fill(`<h1>Sign out</h1>
<p>Signed in as <strong>%s</strong>.</p>
<form method="post" action="/oauth2/logout">
<input type="hidden" name="csrf" value="%s">
<button type="submit">Sign out</button>
</form>
<p class="small"><a href="/account/authorizations">Back to your authorized applications</a></p>
`, d.Username, d.CSRF)
	page.Foot(b)
}

// messagePage is a plain page: a title, a text and an optional local link.
func messagePage(b *page.Buffer, m message) {
	page.Head(b, m.Title)
	b.Fill("<h1>%s</h1>\n<p>%s</p>\n", m.Title, m.Text)
	if m.Link != "" {
		b.Fill(`<p><a href="%s">%s</a></p>`, page.LocalURL(m.Link), m.LinkText)
	}
	b.WriteString("\n")
	page.Foot(b)
}
