package authorize

import (
	"bytes"
	"html/template"
	"log/slog"
	"net/http"
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

// render executes t into a buffer (so a template failure never sends half a
// page) and writes it with the page security headers; formAction adds CSP
// form-action sources (shared.SetPageHeadersFormAction).
func render(w http.ResponseWriter, status int, t *template.Template, data any, formAction ...string) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		slog.Error("render page", "page", t.Name(), "err", err.Error())
		shared.SetPageHeaders(w.Header())
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("<!doctype html><html lang=\"en\"><title>Error</title><p>Something went wrong.</p></html>\n"))
		return
	}
	shared.SetPageHeadersFormAction(w.Header(), formAction...)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// layout is the frame of every page: language, viewport, title, inline CSS
// readable at 375 px, visible focus.
const layout = `{{define "head"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.}}</title>
<style>
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
{{end}}{{define "foot"}}</main>
</body>
</html>
{{end}}`

// funcs are the template functions of every page.
var funcs = template.FuncMap{
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"day":     func(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04 UTC") },
}

// page parses a page's body with the layout; a parse error is a bug caught
// by any test, so it panics at start-up.
func page(name, body string) *template.Template {
	return template.Must(template.Must(template.New(name).Funcs(funcs).Parse(layout)).Parse(body))
}

var loginPage = page("login", `{{template "head" "Sign in"}}<h1>Sign in</h1>
{{if .AppName}}<p>Sign in to continue to <strong>{{.AppName}}</strong>.</p>{{end}}
{{if .Message}}<p class="error" role="alert">{{.Message}}</p>{{end}}
<form method="post" action="/oauth2/login">
<input type="hidden" name="return_to" value="{{.ReturnTo}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<label for="username">Username</label>
<input type="text" id="username" name="username" value="{{.Username}}" autocomplete="username" autocapitalize="none" spellcheck="false" required>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
{{template "foot"}}`)

var consentPage = page("consent", `{{template "head" (printf "Authorize %s" .AppName)}}<h1>Authorize {{.AppName}}</h1>
<p><strong>{{.AppName}}</strong> is asking to access your account <strong>{{.Username}}</strong>.</p>
<p>When you answer, you will be sent back to <strong>{{.RedirectHost}}</strong>.</p>
<h2>It will be allowed to:</h2>
<ul>
{{range .Scopes}}<li>{{.Description}} <code>{{.Name}}</code></li>
{{end}}</ul>
<form method="post" action="/oauth2/consent">
{{range .Hidden}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<input type="hidden" name="csrf" value="{{.CSRF}}">
<button type="submit" name="decision" value="approve">Allow access</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>
<p class="small">You can revoke access at any time from <a href="/account/authorizations">your authorized applications</a>.</p>
{{template "foot"}}`)

var accountPage = page("account", `{{template "head" "Authorized applications"}}<h1>Authorized applications</h1>
<p>Signed in as <strong>{{.Username}}</strong>.</p>
{{if .Revoked}}<p class="notice" role="status">{{.Revoked}}</p>{{end}}
{{if .Apps}}<ul class="apps">
{{range .Apps}}<li>
<h2>{{.Name}}</h2>
<p class="small">Client ID <code>{{.ClientID}}</code></p>
<p>Can:</p>
<ul>{{range .ScopeItems}}<li>{{.Description}} <code>{{.Name}}</code></li>{{end}}</ul>
<p class="small">Authorized <time datetime="{{rfc3339 .AuthorizedAt}}">{{day .AuthorizedAt}}</time>{{if ne (rfc3339 .AuthorizedAt) (rfc3339 .LastAuthorizedAt)}}, last on <time datetime="{{rfc3339 .LastAuthorizedAt}}">{{day .LastAuthorizedAt}}</time>{{end}}</p>
<form method="post" action="{{.RevokeAction}}">
<input type="hidden" name="csrf" value="{{$.CSRF}}">
<button type="submit">Revoke access for {{.Name}}</button>
</form>
</li>
{{end}}</ul>
{{else}}<p>You have not authorized any applications.</p>
{{end}}<form method="post" action="/oauth2/logout">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<button type="submit" class="secondary">Sign out</button>
</form>
{{template "foot"}}`)

var messagePage = page("message", `{{template "head" .Title}}<h1>{{.Title}}</h1>
<p>{{.Text}}</p>
{{if .Link}}<p><a href="{{.Link}}">{{.LinkText}}</a></p>{{end}}
{{template "foot"}}`)
