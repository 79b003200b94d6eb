package admin

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/applinks/applinks/shared/page"
	"github.com/applinks/applinks/shared/store"
)

// passkeyScript runs a WebAuthn ceremony from the form #passkey-form: its
// data-options are the options go-webauthn made (the server keeps the
// challenge), data-ceremony says create (a registration) or get (an
// authentication). The button asks the browser (navigator.credentials),
// then the form posts the credential's JSON (PublicKeyCredential.toJSON())
// in its credential field. A cancelled or failed prompt is said in the
// status line, and the button works again. Its hash is in the page's CSP
// (page.AllowScript); a page has this script or copyScript, never both.
const passkeyScript = `(function(){var f=document.getElementById("passkey-form");if(!f)return;` +
	`var b=document.getElementById("passkey-button"),s=document.getElementById("passkey-status"),P=window.PublicKeyCredential;` +
	`function say(t){s.textContent=t}` +
	`if(!P||!P.parseRequestOptionsFromJSON||!P.parseCreationOptionsFromJSON||!navigator.credentials){say("This browser cannot use passkeys here. Use a current version of Chrome, Edge, Firefox or Safari.");return}` +
	`b.disabled=false;if(b.hasAttribute("autofocus"))b.focus();` +
	`b.addEventListener("click",function(){var p;try{var o=JSON.parse(f.dataset.options);` +
	`p=f.dataset.ceremony==="create"?navigator.credentials.create({publicKey:P.parseCreationOptionsFromJSON(o)}):navigator.credentials.get({publicKey:P.parseRequestOptionsFromJSON(o)})}` +
	`catch(e){say("The passkey could not be started ("+e.name+"). Reload the page and try again.");return}` +
	`b.disabled=true;say("Follow your browser's prompt to use your passkey.");` +
	`p.then(function(c){f.elements.credential.value=JSON.stringify(c.toJSON());say("Checking your passkey\u2026");f.submit()},` +
	`function(e){b.disabled=false;var n=e&&e.name;say(n==="NotAllowedError"?"The passkey was not used: the prompt was cancelled or timed out, or this device has no passkey for this account. Try again.":` +
	`n==="InvalidStateError"?"This authenticator already holds a passkey for this account.":"The passkey did not work ("+n+"). Try again.");b.focus()})})})();`

// passkeyFormData fills a form that runs one WebAuthn ceremony.
type passkeyFormData struct {
	Action  string // where the form posts
	CSRF    string
	Options string // the ceremony's options, JSON
	Create  bool   // a registration (else an authentication)
	Cancel  string // a page to go back to ("": no link)
	Intro   string // the paragraph above the button ("": the default)
	Label   string // the button's label ("": the default)
	Error   string
}

// writePasskeyForm writes the ceremony's form: a hidden credential field
// the script fills, the button (disabled until the script finds WebAuthn),
// and a status line the script speaks through.
func writePasskeyForm(b *page.Buffer, d passkeyFormData, autofocus bool) {
	ceremony, label := "get", "Use passkey"
	if d.Create {
		ceremony, label = "create", "Create passkey"
	}
	if d.Label != "" {
		label = d.Label
	}
	if d.Error != "" {
		b.Fill(`<p class="error" role="alert">%s</p>`+"\n", d.Error)
	}
	b.Fill(`<form method="post" action="%s" id="passkey-form" data-ceremony="%s" data-options="%s">
<input type="hidden" name="csrf" value="%s">
<input type="hidden" name="credential" value="">
<button type="button" id="passkey-button" disabled`, d.Action, ceremony, d.Options, d.CSRF)
	if autofocus {
		b.WriteString(" autofocus")
	}
	b.Fill(`>%s</button>
<p id="passkey-status" class="small" role="status" aria-live="polite"></p>
<noscript><p class="error">Passkeys need JavaScript: turn it on for this site.</p></noscript>
</form>
`, label)
}

// renderPasskeyPage is a page of its own for one ceremony (the second
// step of a sign-in, an enrollment, adding a passkey).
func renderPasskeyPage(w http.ResponseWriter, status int, f frame, d passkeyFormData) {
	f.Passkey = true
	renderConsole(w, status, f, passkeyPage, d)
}

func passkeyPage(b *page.Buffer, d passkeyFormData) {
	b.WriteString(`<div class="narrow">` + "\n")
	if d.Create {
		b.WriteString("<h1>Set up your passkey</h1>\n")
		if d.Intro == "" {
			d.Intro = "A passkey is your second proof, after the password, when you sign in to this console: it lives on this device or a security key, and unlocks with your fingerprint, face or PIN. Select the button and follow your browser's prompt."
		}
	} else {
		b.WriteString("<h1>Use your passkey</h1>\n")
		if d.Intro == "" {
			d.Intro = "Your password is right. To finish signing in, use the passkey you set up for this console: select the button and follow your browser's prompt."
		}
	}
	b.Fill("<p>%s</p>\n", d.Intro)
	writePasskeyForm(b, d, true)
	if d.Cancel != "" {
		b.Fill(`<p class="small"><a href="%s">Cancel</a></p>`+"\n", d.Cancel)
	}
	b.WriteString("</div>\n")
}

// passkeyNeededData fills the page of an administrator without a passkey
// under ADMIN_MFA=required.
type passkeyNeededData struct {
	Text     string
	Endpoint string // the admin API's enrollment URL for the user
}

func passkeyNeededPage(b *page.Buffer, d passkeyNeededData) {
	b.Fill("<h1>A passkey is needed</h1>\n<p>%s</p>\n", d.Text)
	b.WriteString("<h2>The admin API call</h2>\n<p>With IAM credentials allowed to call the admin API (in AWS), or with the admin token (locally):</p>\n")
	b.Fill(`<p><code>POST %s</code></p>`+"\n", d.Endpoint)
	b.Fill(`<p><code>curl -s -X POST "%s" -H "Authorization: Bearer $ADMIN_TOKEN"</code></p>`+"\n", d.Endpoint)
	b.WriteString(`<p>It answers with the link (<code>url</code>) and when it ends (<code>expires_at</code>).</p>` + "\n")
	b.Fill(`<p><a href="%s">Back to sign-in</a></p>`+"\n", consoleLoginPath)
}

// enrollFormData fills the enrollment link's page: the password first.
type enrollFormData struct {
	Token    string
	CSRF     string
	Username string
	Error    string
}

func enrollFormPage(b *page.Buffer, d enrollFormData) {
	b.WriteString(`<div class="narrow">
<h1>Set up a passkey for the console</h1>
<p>This one-time link sets up a passkey, your second proof when you sign in to this console. First sign in with your password; then your browser makes the passkey.</p>
`)
	invalid := ""
	if d.Error != "" {
		b.Fill(`<p class="error" role="alert" id="login-error">%s</p>`+"\n", d.Error)
		invalid = ` aria-invalid="true" aria-describedby="login-error"`
	}
	b.Fill(`<form method="post" action="%s">
<input type="hidden" name="csrf" value="%s">
<input type="hidden" name="token" value="%s">
<label for="username">Username</label>
<input type="text" id="username" name="username" value="%s" autocomplete="username" autocapitalize="none" spellcheck="false" required`,
		consoleEnrollPath, d.CSRF, d.Token, d.Username)
	if d.Username == "" {
		b.WriteString(" autofocus")
	}
	b.WriteString(invalid + `>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required`)
	if d.Username != "" {
		b.WriteString(" autofocus")
	}
	b.WriteString(invalid + `>
<button type="submit">Continue</button>
</form>
</div>
`)
}

// passkeySection fills the Passkeys part of a user's page.
type passkeySection struct {
	Keys     []store.Passkey
	Self     bool // the signed-in administrator's own page
	Required bool // ADMIN_MFA=required: the console neither adds nor removes
	CSRF     string
	Username string
}

// writePasskeySection lists the user's passkeys; on one's own page under
// ADMIN_MFA=optional, with a Remove button each and Add a passkey.
func writePasskeySection(b *page.Buffer, d *passkeySection) {
	if d == nil {
		return
	}
	b.WriteString(`<h2 id="passkeys">Passkeys</h2>` + "\n")
	switch {
	case len(d.Keys) == 0 && d.Self:
		b.WriteString("<p>You have no passkey: you sign in with your password alone.</p>\n")
	case len(d.Keys) == 0:
		b.WriteString("<p>None: this user signs in to the console with the password alone.</p>\n")
	default:
		b.WriteString(`<table class="cards"><thead><tr><th scope="col">Passkey</th><th scope="col">Added</th><th scope="col">Last used</th>`)
		if d.Self && !d.Required {
			b.WriteString(`<th scope="col"><span class="visually-hidden">Actions</span></th>`)
		}
		b.WriteString("</tr></thead>\n<tbody>\n")
		for i, k := range d.Keys {
			used := "Not yet"
			if !k.LastUsedAt.IsZero() {
				used = page.Day(k.LastUsedAt)
			}
			name := "Passkey " + strconv.Itoa(i+1)
			b.Fill(`<tr><td data-label="Passkey">%s <span class="small">(<code>%s…</code>)</span></td><td data-label="Added"><time datetime="%s">%s</time></td><td data-label="Last used">%s</td>`,
				name, credPrefix(k.ID), page.RFC3339(k.CreatedAt), page.Day(k.CreatedAt), used)
			if d.Self && !d.Required {
				b.WriteString("<td>")
				postButton(b, userPath(d.Username, "/passkeys/"+url.PathEscape(k.ID)+"/remove"), d.CSRF, "Remove "+name, "secondary")
				b.WriteString("</td>")
			}
			b.WriteString("</tr>\n")
		}
		b.WriteString("</tbody></table>\n")
	}
	switch {
	case d.Required:
		b.Fill(`<p class="hint">Passkeys are required here: they are set up through a one-time link the admin API issues (<code>POST /admin/users/%s/admin/passkey-enrollment</code>) and reset with <code>DELETE /admin/users/%s/admin/passkeys</code>.</p>`+"\n",
			url.PathEscape(d.Username), url.PathEscape(d.Username))
	case d.Self && len(d.Keys) < store.MaxPasskeys:
		b.Fill(`<p><a class="button secondary" href="%s">Add a passkey</a></p>`+"\n", userPath(d.Username, "/passkeys/add"))
		b.WriteString(`<p class="hint">With a passkey, signing in asks for it after your password.</p>` + "\n")
	case !d.Self:
		b.Fill(`<p class="hint">Only the administrator can add or remove their own passkeys here; the admin API resets them (<code>DELETE /admin/users/%s/admin/passkeys</code>).</p>`+"\n", url.PathEscape(d.Username))
	}
}
