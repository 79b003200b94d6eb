package admin

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/page"
)

// The console's pages are built with page.Buffer: Fill escapes every value
// for where it lands, and a link target or form action that a value starts
// is a path of this site or "#" (page.LocalURL), so a call site passes
// paths as they are; every attribute with a value is double-quoted. They share
// the end users' pages' style sheet (page.Style); the rules below only add
// the console's frame: a top bar, the navigation, a wider main area,
// tables that become stacked cards at 375 px.
const consoleStyle = `main.wide{max-width:64rem;margin:1rem auto}
.top{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;justify-content:space-between;max-width:64rem;margin:0 auto}
.top .site{font-weight:700;font-size:1.1rem}
.who{font-size:.9rem}
.who form.inline{display:inline;margin:0}
.who button.link{min-height:auto;padding:0 .25rem;font-size:inherit}
nav.sections{max-width:64rem;margin:.5rem auto 0;display:flex;flex-wrap:wrap;gap:.25rem}
nav.sections a{padding:.5rem .75rem;border-radius:4px;text-decoration:none;font-weight:600;min-height:44px;display:inline-flex;align-items:center}
nav.sections a[aria-current=page]{background:#deebff;color:#0747a6}
.skip{position:absolute;left:-999px}
.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem;z-index:1}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.bar{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;justify-content:space-between}
.bar h1{margin:0}
a.button{display:inline-flex;align-items:center;font-weight:600;padding:.6rem 1.2rem;border-radius:4px;border:2px solid #0052cc;background:#0052cc;color:#fff;text-decoration:none;min-height:44px}
a.button.secondary{background:#fff;color:#0052cc}
button.danger,a.button.danger{background:#de350b;border-color:#de350b;color:#fff}
button.link{background:none;border:none;color:#0052cc;padding:.5rem 0;margin:0;text-decoration:underline;font-weight:400;min-height:44px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.5rem;border-bottom:1px solid #dfe1e6;vertical-align:top;overflow-wrap:anywhere}
thead th{font-size:.85rem;color:#42526e;border-bottom:2px solid #dfe1e6}
.status{display:inline-block;font-size:.8rem;font-weight:700;padding:0 .4rem;border-radius:3px;text-transform:uppercase}
.status.on{background:#e3fcef;color:#006644}.status.off{background:#ffebe6;color:#bf2600}.status.info{background:#deebff;color:#0747a6}.status.idle{background:#fff0b3;color:#172b4d}
.status{overflow-wrap:normal;word-break:normal}
.locked{border-left:4px solid #de350b;background:#ffebe6;padding:.25rem 1rem 1rem;margin:1rem 0;border-radius:0 4px 4px 0}
ul.activity{list-style:none;padding:0;margin:0}ul.activity li{padding:.4rem 0;border-bottom:1px solid #dfe1e6}
dl.settings{display:grid;grid-template-columns:minmax(8rem,14rem) 1fr;gap:.25rem 1rem;margin:0}
dl.settings dt{font-weight:600}dl.settings dd{margin:0;overflow-wrap:anywhere}
fieldset{border:1px solid #dfe1e6;border-radius:4px;margin:1rem 0;padding:.5rem 1rem 1rem}
legend{font-weight:600;padding:0 .25rem}
label.radio.danger span{color:#bf2600;font-weight:600}
label.check,label.radio{display:flex;gap:.5rem;align-items:flex-start;font-weight:400;margin:.25rem 0}
label.check input,label.radio input{width:1.25rem;height:1.25rem;margin:.15rem 0 0;flex:none}
input[type=url],input[type=email],select,textarea{display:block;width:100%;font:inherit;padding:.5rem;border:2px solid #8993a4;border-radius:4px}
input[aria-invalid=true]{border-color:#bf2600}
.field-error{color:#bf2600;font-weight:600;margin:.25rem 0 0}
.hint{font-size:.9rem;color:#42526e;margin:.25rem 0 0}
.permtable td{min-width:6rem}
.permtable th{white-space:nowrap}
td form button{margin:0}
.permtable td.none{background:#fafbfc}
.permtable .incl{display:none;color:#006644;font-weight:600}
.permtable .implies{display:block}
.tablewrap{overflow-x:auto}
details.menu{display:inline-block;text-align:right}
details.menu summary{cursor:pointer;font-weight:600;padding:.6rem 1.2rem;border:2px solid #0052cc;border-radius:4px;color:#0052cc;min-height:44px;list-style:none;display:inline-flex;align-items:center}
details.menu summary::-webkit-details-marker{display:none}
details.menu summary::after{content:"\25BE";margin-left:.4rem}
.bar:has(details.menu[open]){align-items:flex-start}
details.menu .items{margin:.5rem 0 0;background:#fff;border:1px solid #dfe1e6;border-radius:4px;padding:.25rem 0;min-width:14rem}
details.menu .items a,details.menu .items button{display:block;width:100%;text-align:left;padding:.6rem 1rem;margin:0;border:0;border-radius:0;background:none;color:#172b4d;font-weight:400;text-decoration:none;min-height:44px}
details.menu .items a:hover,details.menu .items button:hover{background:#f4f5f7}
details.menu .items form{margin:0}
.secret{display:flex;gap:.5rem;align-items:stretch}
.secret input{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;flex:1;min-width:0}
.secret button{margin:0}
form.find{margin-bottom:1rem}
.decide{display:flex;flex-wrap:wrap;gap:.5rem}
input[type=number]{display:block;width:8rem;font:inherit;padding:.5rem;border:2px solid #8993a4;border-radius:4px}
form.filter{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:flex-end}form.filter div{flex:1 1 12rem}form.filter button{margin:0}form.filter select{margin-bottom:0}
.narrow{max-width:36rem}
.error-summary{border:3px solid #bf2600;border-radius:4px;padding:.5rem 1rem;margin:0 0 1rem}
.error-summary h2{margin:.25rem 0 .5rem;color:#bf2600}
.error-summary ul{margin:0;padding-left:1.25rem}
.error-summary a{color:#bf2600;font-weight:600}
.review h2{margin:.25rem 0 .5rem}
.default-submit{position:absolute;left:-9999px;width:1px;height:1px;overflow:hidden}
dl.fixed{margin:1rem 0}
.actions a.cancel{align-self:center}
.empty{border:2px dashed #dfe1e6;border-radius:6px;padding:1rem 1.5rem;text-align:center}
.pager{display:flex;gap:1rem;margin-top:1rem}
table.grants td[data-label=User]{min-width:6rem}
table.grants ul{margin:0;padding-left:1.1rem}
table.grants td a.button{overflow-wrap:normal}
nav.views{display:flex;flex-wrap:wrap;gap:0 2rem;margin:1rem 0 .5rem}
nav.views p{display:flex;flex-wrap:wrap;align-items:center;gap:.25rem;margin:0}
nav.views span{font-weight:600;color:#42526e;margin-right:.25rem}
nav.views a{padding:.4rem .75rem;border-radius:4px;min-height:44px;display:inline-flex;align-items:center}
nav.views a[aria-current=true]{background:#deebff;color:#0747a6;font-weight:600;text-decoration:none}
@media (max-width:40rem){nav.views span{flex-basis:100%}nav.views{gap:.5rem}}
@media (max-width:40rem){
main.wide{padding:1rem}
table.cards thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
table.cards,table.cards tbody,table.cards tr,table.cards td{display:block;width:100%}
table.cards tr{border:1px solid #dfe1e6;border-radius:4px;margin:0 0 .75rem;padding:.25rem .5rem}
table.cards td{border:0;padding:.25rem 0}
table.cards td[data-label]::before{content:attr(data-label) ": ";font-weight:600;color:#42526e}
dl.settings{grid-template-columns:1fr}
dl.settings dd{margin-bottom:.5rem}
fieldset{padding:.5rem .75rem .75rem}
.permtable thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
.permtable,.permtable tbody,.permtable tr,.permtable th,.permtable td{display:block;width:100%}
.permtable tr{border:1px solid #dfe1e6;border-radius:4px;margin:0 0 .75rem}
.permtable tbody th{background:#f4f5f7;border:0}
.permtable td{min-width:0;border:0;border-top:1px solid #dfe1e6}
.permtable td.none{display:none}
.permtable td::before{content:attr(data-level);display:block;font-size:.8rem;font-weight:700;color:#42526e;text-transform:uppercase}
}
`

// copyScript adds a Copy button to every read-only credential field
// (.secret); without it the fields are still selectable text. Its hash is
// the only script the console's CSP allows (page.AllowScript).
const copyScript = `document.querySelectorAll(".secret").forEach(function(d){var i=d.querySelector("input");var b=document.createElement("button");b.type="button";b.className="secondary";b.textContent="Copy";b.setAttribute("aria-label","Copy "+d.dataset.name);b.addEventListener("click",function(){navigator.clipboard.writeText(i.value).then(function(){b.textContent="Copied"},function(){i.select()})});d.appendChild(b)});`

// frame is the console's frame around a page's body.
type frame struct {
	Title   string
	Section string    // "links", "users", "keys": the navigation entry marked current
	Admin   *signedIn // nil: no navigation (a signed-out or refused visitor)
	Script  bool      // the page has credential fields (copy buttons)
	Passkey bool      // the page runs a WebAuthn ceremony (passkeyScript; not with Script)
	// Provider is PROVIDER_NAME, the name the sign-in pages give the
	// provider ("" in tests that build a frame by hand).
	Provider string
}

// renderConsole writes a console page with the page security headers.
func renderConsole[T any](w http.ResponseWriter, status int, f frame, body func(*page.Buffer, T), data T) {
	var b page.Buffer
	b.Fill(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%s · Administration</title>
`, f.Title)
	b.WriteString("<style>\n" + page.Style + consoleStyle + "</style>\n</head>\n<body>\n<a class=\"skip\" href=\"#content\">Skip to content</a>\n")
	if f.Provider != "" {
		b.Fill(`<header class="top"><span class="site">%s administration</span>`, f.Provider)
	} else {
		b.WriteString(`<header class="top"><span class="site">Administration</span>`)
	}
	if f.Admin != nil {
		b.Fill(`<span class="who">Signed in as <strong>%s</strong> <form method="post" action="/console/logout" class="inline">`, f.Admin.user.Username)
		csrfInput(&b, f.Admin.sess.CSRF)
		b.WriteString(`<button type="submit" class="link">Sign out</button></form></span>`)
	}
	b.WriteString("</header>\n")
	if f.Admin != nil && f.Admin.user.IsAdministrator() {
		b.WriteString(`<nav class="sections" aria-label="Administration">`)
		for _, s := range []struct{ key, href, label string }{
			{"links", consolePrefix + "/links", "Application links"},
			{"users", consolePrefix + "/users", "Users"},
			{idpSection, consolePrefix + "/identity-providers", "Identity providers"},
			{registrationSection, consolePrefix + "/registration", "Self-registration"},
			{"keys", consolePrefix + "/keys", "Signing keys"},
		} {
			cur := ""
			if s.key == f.Section {
				cur = ` aria-current="page"`
			}
			b.Fill(`<a href="%s"`+cur+`>%s</a>`, s.href, s.label)
		}
		b.WriteString("</nav>\n")
	}
	b.WriteString("<main id=\"content\" class=\"wide\">\n")
	body(&b, data)
	b.WriteString("</main>\n")
	// One script a page at most: its hash is the CSP's only script-src.
	script := ""
	switch {
	case f.Passkey:
		script = passkeyScript
	case f.Script:
		script = copyScript
	}
	if script != "" {
		b.WriteString("<script>" + script + "</script>\n")
	}
	b.WriteString("</body>\n</html>\n")
	// A value in a context Fill cannot make safe (a bug TestEveryConsolePage
	// finds) is a bare 500 and one log line (page.Send).
	page.Send(w, status, &b, func(h http.Header) {
		shared.SetPageHeaders(h)
		if script != "" {
			page.AllowScript(h, script)
		}
	})
}

func messagePage(b *page.Buffer, m consoleMsg) {
	b.Fill("<h1>%s</h1>\n<p>%s</p>\n", m.Title, m.Text)
	if m.Link != "" {
		b.Fill(`<p><a href="%s">%s</a></p>`+"\n", m.Link, m.LinkText)
	}
}

func confirmPage(b *page.Buffer, d confirmData) {
	if d.Passkey == nil && d.Password && len(d.Providers) == 0 {
		b.WriteString(`<h1>Confirm your password</h1>
<p>You are about to see or change something sensitive: a client secret, a deletion, an identity provider, or the signing key. Enter your password again to continue. You will not be asked again for 10 minutes.</p>
`)
	} else {
		b.WriteString(`<h1>Confirm it is you</h1>
<p>You are about to see or change something sensitive: a client secret, a deletion, an identity provider, or the signing key. Confirm it is you to continue. You will not be asked again for 10 minutes.</p>
`)
	}
	if d.Error != "" && !d.Password {
		b.Fill(`<p class="error" role="alert">%s</p>`+"\n", d.Error)
	}
	consoleProviderButtons(b, d.Providers, "Confirm with ", false)
	if d.Passkey != nil {
		if d.Password || len(d.Providers) > 0 {
			b.WriteString("<h2>With your passkey</h2>\n")
		}
		writePasskeyForm(b, *d.Passkey, true)
	}
	if d.NoPasskey {
		b.WriteString(`<p>This console requires a passkey, and your account has none. Ask whoever runs this provider for a passkey enrollment link (the admin API's <code>POST /admin/users/{username}/admin/passkey-enrollment</code>), then sign in again.</p>` + "\n")
	}
	if !d.Password && d.Passkey == nil && len(d.Providers) == 0 && !d.NoPasskey {
		b.WriteString("<p>There is no way for you to confirm here: you have no password, and no identity provider you are linked through is enabled. Ask another administrator.</p>\n")
	}
	if d.Password {
		if d.Passkey != nil || len(d.Providers) > 0 {
			b.WriteString("<h2>Or with your password</h2>\n")
		}
		if d.Error != "" {
			b.Fill(`<p class="error" role="alert" id="password-error">%s</p>`+"\n", d.Error)
		}
		b.Fill(`<form method="post" action="/console/confirm">
<input type="hidden" name="csrf" value="%s">
<input type="hidden" name="return_to" value="%s">
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required`, d.CSRF, d.ReturnTo)
		if d.Passkey == nil && len(d.Providers) == 0 {
			b.WriteString(" autofocus")
		}
		if d.Error != "" {
			b.WriteString(` aria-invalid="true" aria-describedby="password-error"`)
		}
		b.WriteString(`>
<button type="submit">Confirm</button>
</form>
`)
	}
	b.Fill(`<p class="small"><a href="%s">Cancel</a></p>
`, consolePrefix+"/links")
}

// csrfInput is the hidden CSRF field of every console form.
func csrfInput(b *page.Buffer, csrf string) {
	b.Fill(`<input type="hidden" name="csrf" value="%s">`+"\n", csrf)
}

// postButton writes a one-button form posting to action.
func postButton(b *page.Buffer, action, csrf, label, class string) {
	b.Fill(`<form method="post" action="%s">`, action)
	csrfInput(b, csrf)
	b.Fill(`<button type="submit" class="%s">%s</button></form>`+"\n", class, label)
}

// linkPath is the console path of a link, with suffix.
func linkPath(id, suffix string) string {
	return consolePrefix + "/links/" + url.PathEscape(id) + suffix
}

// userPath is the console path of a user, with suffix.
func userPath(username, suffix string) string {
	if strings.EqualFold(username, "new") {
		// /console/users/new is the create form. Usernames are unique
		// regardless of case and looked up so, so a user named new (in
		// any case) is reached by the name in capitals instead.
		username = "NEW"
	}
	return consolePrefix + "/users/" + url.PathEscape(username) + suffix
}
