package authorize

import (
	"bytes"
	"cmp"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/clientmeta"
	"github.com/applinks/applinks/shared/page"
	"github.com/applinks/applinks/shared/store"
)

// The end users' pages as they were built with page.Buffer before they
// became templ components (*_pages.templ): TestPagesAsBefore compares their
// markup with the components'. Delete this file once every page is a
// component and has landed.

// pageCases are the converted pages with each kind of content, built from v
// (a plain word, or a hostile value) both ways: as the templ component and
// as the page.Buffer page it replaced.
func pageCases(v string) []struct {
	name      string
	component templ.Component
	buffer    func(*page.Buffer)
} {
	s := site{Provider: v, Contact: v}
	signOut := signOutData{site: s, Username: v, CSRF: v}
	app := &store.Link{Name: v, ClientID: v, PostLogoutRedirectURIs: []string{"https://app.example/bye", "com.example.app:/bye"}}
	byApp := signOutData{site: s, Username: v, CSRF: v, Logout: &logoutRequest{link: app}}
	back := signOutData{site: s, Username: v, CSRF: v, Logout: &logoutRequest{link: app, redirect: "https://app.example/bye", state: v}}
	backNoState := signOutData{site: s, Username: v, CSRF: v, Logout: &logoutRequest{link: app, redirect: "https://app.example/bye"}}
	backPrivate := signOutData{site: s, Username: v, CSRF: v, Logout: &logoutRequest{link: app, redirect: "com.example.app:/bye", state: v}}
	authz := "/oauth2/authorize?client_id=" + v
	providers := []providerLink{{Name: v, Href: "/oauth2/upstream/a?return_to=x"}, {Name: "B", Href: v}}
	login := loginData{site: s, ReturnTo: v, CSRF: v, UpstreamMaxAge: -1, Password: true}
	loginApp := loginData{site: s, ReturnTo: authz, AppName: v, CSRF: v, SignedInAs: v, UpstreamPrompt: true, UpstreamMaxAge: 0, Password: true}
	loginFailed := loginData{site: s, ReturnTo: authz, AppName: v, CSRF: v, Username: v, Message: v, UpstreamMaxAge: 300, Password: true}
	loginAccount := loginData{site: s, ReturnTo: accountPath, CSRF: v, Username: v, UpstreamMaxAge: -1, Password: true}
	loginProviders := loginData{site: s, ReturnTo: authz, AppName: v, CSRF: v, UpstreamMaxAge: -1, Password: true, Providers: providers}
	loginProvidersOnly := loginData{site: s, ReturnTo: accountPath, CSRF: v, UpstreamMaxAge: -1, Providers: providers}
	loginProvidersOnlyApp := loginData{site: s, ReturnTo: "/rest/oauth2/latest/authorize?x", AppName: v, CSRF: v, UpstreamMaxAge: -1, Providers: providers}
	loginNone := loginData{site: s, ReturnTo: authz, CSRF: v, UpstreamMaxAge: -1}
	scopes := []scopeItem{{Name: v, Description: v, Includes: []string{v, "View projects"}}, {Name: "openid", Description: v}}
	hidden := []hiddenInput{{Name: "state", Value: v}, {Name: v, Value: v}}
	consent := consentData{site: s, AppName: v, RedirectHost: v, Username: v, Scopes: scopes, Hidden: hidden, CSRF: v}
	consentSelf := consentData{site: s, AppName: v, RedirectHost: v, AppHost: v, SelfRegistered: true, LoopbackOnly: true, Username: v, Scopes: scopes, Hidden: hidden, CSRF: v}
	consentNoHost := consentData{site: s, AppName: v, RedirectHost: v, SelfRegistered: true, Username: v, CSRF: v}
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	apps := []appView{
		{Authorization: Authorization{ClientID: v, Name: v, AuthorizedAt: at, LastAuthorizedAt: at.Add(time.Hour)},
			ScopeItems: scopes, RevokeAction: "/account/authorizations/c/revoke"},
		{Authorization: Authorization{ClientID: "https://app.example/client.json", LinkID: v, Name: v, AuthorizedAt: at, LastAuthorizedAt: at},
			Host: v, SelfRegistered: true, ScopeItems: scopes[1:], RevokeAction: v},
		{Authorization: Authorization{ClientID: v, Name: v, AuthorizedAt: at, LastAuthorizedAt: at}, RevokeAction: "/x"},
	}
	account := accountData{site: s, Username: v, CSRF: v, Apps: apps}
	accountRevoked := accountData{site: s, Username: v, CSRF: v, Revoked: v, Apps: apps[:1]}
	accountEmpty := accountData{site: s, Username: v, CSRF: v, Revoked: v}
	authErr := authError{site: s, Title: v, Text: v, Next: v, Code: v, Description: v}
	authErrBare := authError{Title: v, Text: v, Next: v, Code: v}
	msg := message{site: s, Title: v, Text: v}
	msgFull := message{site: s, Title: v, Text: v, Link: accountPath, LinkText: v, Help: true, Developer: v}
	msgBadLink := message{site: s, Title: v, Text: v, Link: v, LinkText: v}
	return []struct {
		name      string
		component templ.Component
		buffer    func(*page.Buffer)
	}{
		{"sign out", signOutPage(signOut), func(b *page.Buffer) { bufferSignOutPage(b, signOut) }},
		{"sign out asked by an application", signOutPage(byApp), func(b *page.Buffer) { bufferSignOutPage(b, byApp) }},
		{"sign out and go back", signOutPage(back), func(b *page.Buffer) { bufferSignOutPage(b, back) }},
		{"sign out and go back without state", signOutPage(backNoState), func(b *page.Buffer) { bufferSignOutPage(b, backNoState) }},
		{"sign out and go back to a private-use scheme", signOutPage(backPrivate), func(b *page.Buffer) { bufferSignOutPage(b, backPrivate) }},
		{"signed out", signedOutPage(s), func(b *page.Buffer) { bufferSignedOutPage(b, s) }},
		{"login", loginPage(login), func(b *page.Buffer) { bufferLoginPage(b, login) }},
		{"login for an application", loginPage(loginApp), func(b *page.Buffer) { bufferLoginPage(b, loginApp) }},
		{"login failed", loginPage(loginFailed), func(b *page.Buffer) { bufferLoginPage(b, loginFailed) }},
		{"login to the account page", loginPage(loginAccount), func(b *page.Buffer) { bufferLoginPage(b, loginAccount) }},
		{"login with providers", loginPage(loginProviders), func(b *page.Buffer) { bufferLoginPage(b, loginProviders) }},
		{"login with providers only", loginPage(loginProvidersOnly), func(b *page.Buffer) { bufferLoginPage(b, loginProvidersOnly) }},
		{"login with providers only for an application", loginPage(loginProvidersOnlyApp), func(b *page.Buffer) { bufferLoginPage(b, loginProvidersOnlyApp) }},
		{"login with no way to sign in", loginPage(loginNone), func(b *page.Buffer) { bufferLoginPage(b, loginNone) }},
		{"consent", consentPage(consent), func(b *page.Buffer) { bufferConsentPage(b, consent) }},
		{"consent of a self-registered application on loopback", consentPage(consentSelf), func(b *page.Buffer) { bufferConsentPage(b, consentSelf) }},
		{"consent of a self-registered application without a host", consentPage(consentNoHost), func(b *page.Buffer) { bufferConsentPage(b, consentNoHost) }},
		{"account", accountPage(account), func(b *page.Buffer) { bufferAccountPage(b, account) }},
		{"account after a revocation", accountPage(accountRevoked), func(b *page.Buffer) { bufferAccountPage(b, accountRevoked) }},
		{"account without applications", accountPage(accountEmpty), func(b *page.Buffer) { bufferAccountPage(b, accountEmpty) }},
		{"error", errorPage(authErr), func(b *page.Buffer) { bufferErrorPage(b, authErr) }},
		{"error without a description", errorPage(authErrBare), func(b *page.Buffer) { bufferErrorPage(b, authErrBare) }},
		{"message", messagePage(msg), func(b *page.Buffer) { bufferMessagePage(b, msg) }},
		{"message with a link, help and details", messagePage(msgFull), func(b *page.Buffer) { bufferMessagePage(b, msgFull) }},
		{"message with a broken link", messagePage(msgBadLink), func(b *page.Buffer) { bufferMessagePage(b, msgBadLink) }},
	}
}

// TestPagesAsBefore: each page as a component is the page page.Buffer
// built, element for element (outline: the same elements, attributes and
// values in the same order, and the same text once runs of white space are
// one space), with plain values and with a hostile one, as
// TestDevicePagesAsBefore does for the device pages.
func TestPagesAsBefore(t *testing.T) {
	hostileNoNUL := strings.TrimSuffix(hostile, "\x00") // TestDevicePagesNUL
	for _, v := range []string{"VALUE", hostileNoNUL} {
		for _, c := range pageCases(v) {
			t.Run(c.name, func(t *testing.T) {
				var got bytes.Buffer
				if err := c.component.Render(context.Background(), &got); err != nil {
					t.Fatalf("render: %v", err)
				}
				var want page.Buffer
				c.buffer(&want)
				g, w := outline(t, got.String()), outline(t, want.String())
				if g != w {
					t.Errorf("got the page\n%s\nwant\n%s", g, w)
				}
				if v != "VALUE" && (strings.Contains(got.String(), "<script") || strings.Contains(got.String(), "<!--")) {
					t.Errorf("got a page with the value unescaped:\n%s", got.String())
				}
			})
		}
	}
}

func bufferSignOutPage(b *page.Buffer, d signOutData) {
	page.Head(b, "Sign out of "+d.Provider)
	page.Brand(b, d.Provider)
	b.Fill("<h1>Sign out of %s</h1>\n", d.Provider)
	lr := d.Logout
	if lr != nil && lr.link != nil {
		b.Fill("<p><strong>%s</strong> asks to sign you out of %s.</p>\n", lr.link.Name, d.Provider)
	}
	b.Fill("<p>You are signed in as <strong>%s</strong> on this browser.", d.Username)
	if lr != nil && lr.redirect != "" {
		b.Fill(" Afterwards you go back to %s at <strong>%s</strong>.", lr.link.Name, redirectHost(lr.redirect))
	}
	b.Fill(`</p>
<form method="post" action="/oauth2/logout">
<input type="hidden" name="csrf" value="%s">
`, d.CSRF)
	if lr != nil && lr.link != nil {
		b.Fill(`<input type="hidden" name="client_id" value="%s">`+"\n", lr.link.ClientID)
	}
	if lr != nil && lr.redirect != "" {
		b.Fill(`<input type="hidden" name="post_logout_redirect_uri" value="%s">`+"\n", lr.redirect)
		if lr.state != "" {
			b.Fill(`<input type="hidden" name="state" value="%s">`+"\n", lr.state)
		}
	}
	b.WriteString(`<div class="actions">
<button type="submit">Sign out</button>
</div>
</form>
`)
	if lr != nil && lr.redirect != "" {
		// Fill takes only a path of this site in an href; the registered
		// URI that lr.target() checked is written as escaped markup.
		b.WriteString(`<p class="small"><a href="` + shared.EscapeHTML(lr.target()) + `">`)
		b.Fill(`Stay signed in and go back to %s</a></p>`+"\n", lr.link.Name)
	} else {
		b.WriteString(`<p class="small"><a href="/account/authorizations">Back to your authorized applications</a></p>` + "\n")
	}
	page.Foot(b)
}

func bufferSignedOutPage(b *page.Buffer, s site) {
	page.Head(b, "You are signed out")
	page.Brand(b, s.Provider)
	b.Fill(`<h1>You are signed out</h1>
<p>You are no longer signed in to %s on this browser. Applications you have allowed keep their access until you revoke it.</p>
<p><a href="/account/authorizations">Sign in again</a></p>
`, s.Provider)
	page.Foot(b)
}

func bufferLoginPage(b *page.Buffer, d loginData) {
	page.Head(b, "Sign in to "+d.Provider)
	page.Brand(b, d.Provider)
	b.Fill("<h1>Sign in to %s</h1>\n", d.Provider)
	switch {
	case d.AppName != "":
		b.Fill("<p>to continue to <strong>%s</strong></p>\n", d.AppName)
	case d.ReturnTo == accountPath:
		b.Fill("<p>to see the applications you have allowed to use your %s account, and to revoke their access.</p>\n", d.Provider)
	}
	if d.SignedInAs != "" {
		b.Fill("<p class=\"small\">You are signed in as <strong>%s</strong>. Sign in with the account you want to use.</p>\n", d.SignedInAs)
	}
	if d.Message != "" {
		b.Fill(`<p class="error" role="alert">%s</p>`+"\n", d.Message)
	}
	bufferProviderButtons(b, d.Providers, d.Password)
	if !d.Password && len(d.Providers) == 0 {
		b.Fill("<p>No way to sign in is set up for %s yet. Ask an administrator.</p>\n", d.Provider)
	}
	cancel := d.AppName != "" && isAuthorizeRequest(d.ReturnTo)
	if !d.Password && !cancel {
		contact(b, d.site)
		page.Foot(b)
		return
	}
	b.Fill(`<form method="post" action="/oauth2/login">
<input type="hidden" name="return_to" value="%s">
<input type="hidden" name="csrf" value="%s">
`, d.ReturnTo, d.CSRF)
	if d.UpstreamPrompt {
		b.WriteString(`<input type="hidden" name="upstream_prompt" value="login">` + "\n")
	}
	if d.UpstreamMaxAge >= 0 {
		b.Fill(`<input type="hidden" name="upstream_max_age" value="%s">`+"\n", strconv.Itoa(d.UpstreamMaxAge))
	}
	if d.Password {
		userFocus, pwFocus := " autofocus", ""
		if d.Username != "" {
			userFocus, pwFocus = "", " autofocus"
		}
		if len(d.Providers) > 0 {
			userFocus, pwFocus = "", ""
		}
		b.Fill(`<label for="username">Username</label>
<input type="text" id="username" name="username" value="%s" autocomplete="username" autocapitalize="none" spellcheck="false" required`, d.Username)
		b.WriteString(userFocus + `>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required` + pwFocus + `>
`)
	}
	b.WriteString(`<div class="actions">` + "\n")
	if d.Password {
		b.WriteString(`<button type="submit">Sign in</button>` + "\n")
	}
	if cancel {
		b.Fill(`<button type="submit" name="cancel" value="cancel" class="secondary" formnovalidate>Cancel</button>
`)
	}
	b.WriteString("</div>\n</form>\n")
	if cancel {
		b.Fill("<p class=\"small\">Cancel takes you back to %s without signing in.</p>\n", d.AppName)
	}
	contact(b, d.site)
	page.Foot(b)
}

func bufferProviderButtons(b *page.Buffer, ps []providerLink, password bool) {
	if len(ps) == 0 {
		return
	}
	b.WriteString(`<ul class="providers">` + "\n")
	for _, p := range ps {
		b.Fill(`<li><a class="button provider" href="%s">Continue with %s</a></li>`+"\n", page.LocalURL(p.Href), p.Name)
	}
	b.WriteString("</ul>\n")
	if password {
		b.WriteString(`<p class="divider"><span>or sign in with your password</span></p>` + "\n")
	}
}

func bufferConsentPage(b *page.Buffer, d consentData) {
	page.Head(b, "Allow "+d.AppName+" to access your account")
	page.Brand(b, d.Provider)
	b.Fill(`<h1><strong>%s</strong> wants to access your %s account</h1>
`, d.AppName, d.Provider)
	if d.AppHost != "" {
		b.Fill(`<p class="apphost">From <strong class="host">%s</strong></p>
`, d.AppHost)
	}
	if d.SelfRegistered {
		b.Fill(`<p class="small">This application registered itself: no administrator of %s added it. Its name is what it says about itself. Allow access only if you trust %s.</p>
`, d.Provider, cmp.Or(d.AppHost, "it"))
	}
	if d.LoopbackOnly {
		b.WriteString(`<p class="warning" role="note"><strong>Only continue if you just started this application on this computer.</strong> It receives the answer on this computer (a local address), where any program could be waiting for it.</p>
`)
	}
	b.Fill(`<form method="post" action="/oauth2/consent">
<p class="account">Signed in as <strong>%s</strong>.
<button type="submit" name="account" value="switch" class="link">Not you? Use another account</button></p>
<h2>If you allow access, %s will be able to:</h2>
<ul class="scopes">
`, d.Username, d.AppName)
	for _, s := range d.Scopes {
		b.Fill("<li><strong>%s</strong>", s.Description)
		if len(s.Includes) > 0 {
			b.Fill(`<br><span class="small">Includes: %s.</span>`, includesText(s.Includes))
		}
		b.WriteString("</li>\n")
	}
	b.WriteString("</ul>\n")
	b.Fill("<p>After you choose, you will be sent back to <strong>%s</strong>.</p>\n", d.RedirectHost)
	for _, h := range d.Hidden {
		b.Fill("<input type=\"hidden\" name=\"%s\" value=\"%s\">\n", h.Name, h.Value)
	}
	b.Fill(`<input type="hidden" name="csrf" value="%s">
<div class="actions">
<button type="submit" name="decision" value="approve">Allow access</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</div>
</form>
<p class="small">You can revoke access at any time from <a href="/account/authorizations">your authorized applications</a>.</p>
`, d.CSRF)
	bufferScopeCodes(b, d.Scopes)
	page.Foot(b)
}

func bufferAppCodes(b *page.Buffer, a appView) {
	b.Fill(`<details class="developer">
<summary>Technical details</summary>
`)
	if clientmeta.IsURL(a.ClientID) {
		b.Fill("<p>Application id <code>%s</code></p>\n<p>Described at <code>%s</code></p>\n", a.LinkID, a.ClientID)
	} else {
		b.Fill("<p>Client ID <code>%s</code></p>\n", a.ClientID)
	}
	b.WriteString(`<p>Permission codes:`)
	for _, s := range a.ScopeItems {
		b.Fill(" <code>%s</code>", s.Name)
	}
	b.WriteString("</p>\n</details>\n")
}

func bufferAccountPage(b *page.Buffer, d accountData) {
	page.Head(b, "Your authorized applications")
	page.Brand(b, d.Provider)
	b.Fill(`<h1>Your authorized applications</h1>
<p>Signed in as <strong>%s</strong>. <a href="/oauth2/logout">Sign out</a></p>
`, d.Username)
	if d.Revoked != "" {
		b.Fill(`<p class="notice" role="status">%s</p>`+"\n", d.Revoked)
	}
	if len(d.Apps) == 0 {
		b.Fill("<p>No application can use your %s account. When you allow one, it is listed here, and you can revoke its access at any time.</p>\n", d.Provider)
		page.Foot(b)
		return
	}
	b.Fill("<p>These applications can use your %s account. Revoking access stops an application at once; to use it again, it has to ask you again.</p>\n", d.Provider)
	b.WriteString("<ul class=\"apps\">\n")
	for _, a := range d.Apps {
		b.Fill("<li>\n<h2>%s</h2>\n", a.Name)
		if a.Host != "" {
			b.Fill(`<p class="small">From <strong class="host">%s</strong></p>`+"\n", a.Host)
		}
		if a.SelfRegistered {
			b.WriteString(`<p class="small">Registered by the application itself.</p>` + "\n")
		}
		b.WriteString("<p>It can:</p>\n<ul class=\"scopes\">\n")
		for _, s := range a.ScopeItems {
			b.Fill("<li>%s", s.Description)
			if len(s.Includes) > 0 {
				b.Fill(`<br><span class="small">Includes: %s.</span>`, includesText(s.Includes))
			}
			b.WriteString("</li>\n")
		}
		first, last := page.RFC3339(a.AuthorizedAt), page.RFC3339(a.LastAuthorizedAt)
		b.Fill("</ul>\n<p class=\"small\">Allowed on <time datetime=\"%s\">%s</time>", first, page.Day(a.AuthorizedAt))
		if first != last {
			b.Fill(", last on <time datetime=\"%s\">%s</time>", last, page.Day(a.LastAuthorizedAt))
		}
		b.Fill(`.</p>
<details class="confirm">
<summary>Revoke access…</summary>
<p>Revoke access for <strong>%s</strong>? It will no longer be able to use your account, and anything it is signed in with stops working now.</p>
<form method="post" action="%s">
<input type="hidden" name="csrf" value="%s">
<button type="submit" class="danger">Revoke access for %s</button>
</form>
</details>
</li>
`, a.Name, page.LocalURL(a.RevokeAction), d.CSRF, a.Name)
		bufferAppCodes(b, a)
	}
	b.WriteString("</ul>\n")
	page.Foot(b)
}

func contact(b *page.Buffer, s site) {
	if s.Contact != "" {
		b.Fill(`<p class="small contact">Need help? %s</p>`+"\n", s.Contact)
	}
}

func bufferErrorPage(b *page.Buffer, d authError) {
	page.Head(b, d.Title)
	page.Brand(b, d.Provider)
	b.Fill(`<h1>%s</h1>
<p>%s</p>
<p><strong>%s</strong></p>
`, d.Title, d.Text, d.Next)
	contact(b, d.site)
	b.Fill(`<details class="developer">
<summary>Details for the application's developer</summary>
<p>Error <code>%s</code></p>
`, d.Code)
	if d.Description != "" {
		b.Fill("<p>%s</p>\n", d.Description)
	}
	b.WriteString("</details>\n")
	page.Foot(b)
}

func bufferMessagePage(b *page.Buffer, m message) {
	page.Head(b, m.Title)
	page.Brand(b, m.Provider)
	b.Fill("<h1>%s</h1>\n<p>%s</p>\n", m.Title, m.Text)
	if m.Link != "" {
		b.Fill(`<p><a href="%s">%s</a></p>`+"\n", page.LocalURL(m.Link), m.LinkText)
	}
	if m.Help {
		contact(b, m.site)
	}
	if m.Developer != "" {
		b.Fill(`<details class="developer">
<summary>Details for the application's developer</summary>
<p>%s</p>
</details>
`, m.Developer)
	}
	page.Foot(b)
}

func bufferScopeCodes(b *page.Buffer, items []scopeItem) {
	if len(items) == 0 {
		return
	}
	b.WriteString(`<details class="developer">
<summary>Permission codes</summary>
<p>`)
	for i, s := range items {
		if i > 0 {
			b.WriteString(" ")
		}
		b.Fill("<code>%s</code>", s.Name)
	}
	b.WriteString("</p>\n</details>\n")
}
