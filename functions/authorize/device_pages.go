package authorize

import (
	"github.com/applinks/applinks/shared/page"
)

// The pages of the device flow (device.go), in the look of the others.

// Messages of the code form.
const (
	msgDeviceMalformed = "Enter the 8 letters your device shows, for example BCDF-GHJK."
	msgDeviceWrong     = "That code is not right, or it has expired or been used. Check the code on your device and try again."
	msgDeviceExpired   = "This form expired. Enter the code again."
)

// The plain pages of the device flow.
var (
	msgDeviceGone = message{Title: "This code can no longer be used",
		Text: "The code has expired, or it has been used already. Start again on your device to get a new code.",
		Link: devicePath, LinkText: "Enter another code"}
	msgDeviceApp = message{Title: "This application is not recognised",
		Text: "The code belongs to an application that has been turned off or removed, or that may no longer connect devices. Tell the people who run the application.",
		Help: true}
	msgDeviceAccount = message{Title: "Your account cannot connect devices",
		Text: "Your account has been disabled or removed, so it can no longer allow applications.", Help: true}
	msgBadDeviceLink = message{Title: "This link is broken",
		Text: "The address is damaged. Go to the address your device shows and type the code yourself.",
		Link: devicePath, LinkText: "Enter a code"}
	msgDeviceLimited = message{Title: "Too many wrong codes", Help: true}
)

// deviceFormData fills the code form.
type deviceFormData struct {
	site
	// Code is what the field shows: a code from the link
	// (verification_uri_complete, Prefilled), or what was typed.
	Code      string
	Prefilled bool
	Message   string
	CSRF      string
}

// deviceFormPage asks for the code the device shows: one labelled text
// field (focused; pre-filled from the link, which the person still
// confirms by pressing Continue), a hint, the error when there is one.
func deviceFormPage(b *page.Buffer, d deviceFormData) {
	page.Head(b, "Connect a device")
	page.Brand(b, d.Provider)
	b.Fill("<h1>Connect a device to your %s account</h1>\n", d.Provider)
	if d.Prefilled && d.Message == "" {
		b.WriteString("<p>Check that the code below is the one your device or command-line tool shows, then choose Continue.</p>\n")
	} else {
		b.WriteString("<p>Your device or command-line tool shows a code of 8 letters. Enter it here to continue.</p>\n")
	}
	describedBy := "user_code-hint"
	if d.Message != "" {
		b.Fill(`<p class="error" role="alert" id="user_code-error">%s</p>`+"\n", d.Message)
		describedBy += " user_code-error"
	}
	b.Fill(`<form method="post" action="/device">
<input type="hidden" name="csrf" value="%s">
<label for="user_code">Code</label>
<p class="small" id="user_code-hint">Like BCDF-GHJK. Capital letters and the dash are optional.</p>
<input type="text" id="user_code" name="user_code" value="%s" aria-describedby="%s" autocomplete="one-time-code" autocapitalize="characters" spellcheck="false" maxlength="32" required autofocus`, d.CSRF, d.Code, describedBy)
	if d.Message != "" {
		b.WriteString(` aria-invalid="true"`)
	}
	b.WriteString(` class="usercode">
<div class="actions">
<button type="submit">Continue</button>
</div>
</form>
<p class="small">Only enter a code that your own device shows you now. If someone sent you a code or a link, do not enter it: they may be trying to get into your account.</p>
`)
	contact(b, d.site)
	page.Foot(b)
}

// deviceConsentData fills the device's consent page.
type deviceConsentData struct {
	site
	AppName  string
	Username string
	Code     string // XXXX-XXXX
	Scopes   []scopeItem
	CSRF     string
}

// deviceConsentPage asks the user to allow or deny a device: who asks, the
// code to compare with the device, a warning against codes someone else
// sent, for which account (with a way to use another one), each scope in
// plain words, and one form (the code and the session's CSRF token in
// hidden inputs; decision approve or deny; the account switch).
func deviceConsentPage(b *page.Buffer, d deviceConsentData) {
	page.Head(b, "Allow "+d.AppName+" on your device")
	page.Brand(b, d.Provider)
	b.Fill(`<h1><strong>%s</strong> wants to access your %s account from a device</h1>
<p>Check that your device shows this code:</p>
<p class="usercode">%s</p>
<p class="warning" role="note"><strong>Only allow access if you started signing in to %s on your own device just now.</strong> If someone sent you this code or link, choose Deny: they may be trying to get into your account.</p>
<form method="post" action="/device">
<p class="account">Signed in as <strong>%s</strong>.
<button type="submit" name="account" value="switch" class="link">Not you? Use another account</button></p>
<h2>If you allow access, %s will be able to:</h2>
<ul class="scopes">
`, d.AppName, d.Provider, d.Code, d.AppName, d.Username, d.AppName)
	for _, s := range d.Scopes {
		b.Fill("<li><strong>%s</strong>", s.Description)
		if len(s.Includes) > 0 {
			b.Fill(`<br><span class="small">Includes: %s.</span>`, includesText(s.Includes))
		}
		b.WriteString("</li>\n")
	}
	b.Fill(`</ul>
<input type="hidden" name="user_code" value="%s">
<input type="hidden" name="csrf" value="%s">
<div class="actions">
<button type="submit" name="decision" value="approve">Allow access</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</div>
</form>
<p class="small">You can revoke access at any time from <a href="/account/authorizations">your authorized applications</a>.</p>
`, d.Code, d.CSRF)
	scopeCodes(b, d.Scopes)
	page.Foot(b)
}

// deviceDone fills the last page of the device flow.
type deviceDone struct {
	site
	Approved bool
}

// deviceDonePage sends the user back to the device.
func deviceDonePage(b *page.Buffer, d deviceDone) {
	if d.Approved {
		page.Head(b, "Your device is connected")
		page.Brand(b, d.Provider)
		b.WriteString(`<h1>Your device is connected</h1>
<p class="notice" role="status">You allowed access. You can go back to your device now: it carries on by itself within a few seconds.</p>
<p>You can close this page. To stop the device later, revoke its access from <a href="/account/authorizations">your authorized applications</a>.</p>
`)
	} else {
		page.Head(b, "Access denied")
		page.Brand(b, d.Provider)
		b.Fill(`<h1>Access denied</h1>
<p role="status">The device did not get access to your %s account. You can go back to your device, and close this page.</p>
`, d.Provider)
	}
	page.Foot(b)
}
