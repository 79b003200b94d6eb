package authorize

import (
	"github.com/applinks/applinks/shared/page"
)

// The device pages as they were built with page.Buffer before they became
// templ components (device_pages.templ): the baseline that
// BenchmarkDevicePages measures the components against and
// TestDevicePagesAsBefore compares their markup with. Delete this file
// once every page is a component.

func bufferDeviceFormPage(b *page.Buffer, d deviceFormData) {
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

func bufferDeviceConsentPage(b *page.Buffer, d deviceConsentData) {
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
	bufferScopeCodes(b, d.Scopes)
	page.Foot(b)
}

func bufferDeviceDonePage(b *page.Buffer, d deviceDone) {
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
