package e2e

import (
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp/kb"

	chrome "github.com/applinks/applinks/tests/testkit/browser"
)

// TestPagesInBrowser walks the pages end users see in headless Chromium, as
// a person would, partly with the keyboard alone: sign-in (focus, a failed
// attempt, Cancel back to the application), consent ("Use another
// account", Allow with the keyboard), prompt=select_account, the account
// page's two-step revoke, sign-out and the signed-out pages, and an error
// page. Every page is checked for sideways scrolling at 375 px and captured
// at 375 and 1280 px (the folder is in the test's log: go test -v).
func TestPagesInBrowser(t *testing.T) {
	p := startProvider(t, map[string]string{
		"PROVIDER_NAME":   "Example Corp",
		"SUPPORT_CONTACT": "Call the service desk on ext. 4357.",
	})
	p.createUser("alice", "plum tractor velvet orbit", []string{"REPO_WRITE"})
	p.createUser("bob", "battery staple horse correct", []string{"REPO_READ"})
	l := p.createLink("Demo app", p.issuer+"/local/callback", []string{"REPO_ADMIN"}, "confidential")
	authz := p.issuer + "/oauth2/authorize?" + url.Values{
		"response_type": {"code"}, "client_id": {l.ClientID}, "scope": {"REPO_WRITE"}, "state": {"demo"},
	}.Encode()

	b := chrome.New(t)
	alice := b.User("alice")
	look := func(tab *chrome.Tab, name string) {
		t.Helper()
		if tab.HorizontalOverflow(375) {
			t.Errorf("%s: the page scrolls sideways at 375 px", name)
		}
		tab.Screenshot(name)
	}
	expect := func(tab *chrome.Tab, name string, wants ...string) {
		t.Helper()
		text := tab.BodyText()
		for _, w := range wants {
			if !strings.Contains(text, w) {
				t.Errorf("%s: page lacks %q; it says:\n%s", name, w, text)
			}
		}
	}

	// Sign-in: the provider and the application named, the username
	// focused, the tab order through the form, a visible focus ring.
	if st := alice.Navigate(authz); st != 200 {
		t.Fatalf("login page: status %d", st)
	}
	expect(alice, "login", "Example Corp", "Sign in to Example Corp", "to continue to Demo app")
	if got := alice.Focused(); got != "input#username" {
		t.Errorf("login: focus on %q, want input#username", got)
	}
	for _, want := range []string{"input#password", `button "Sign in"`, `button[name=cancel][value=cancel]`} {
		if got := alice.TabKey(); got != want {
			t.Errorf("login: Tab focuses %q, want %q", got, want)
		}
		if !alice.FocusRingVisible() {
			t.Errorf("login: %s has no visible focus ring", want)
		}
	}
	look(alice, "login")

	// Cancel returns access_denied to the application.
	if st := alice.Press(kb.Enter, true); st != 200 {
		t.Fatalf("cancel: status %d", st)
	}
	if u := alice.URL(); !strings.HasPrefix(u, p.issuer+"/local/callback?") || !strings.Contains(u, "error=access_denied") || !strings.Contains(u, "state=demo") {
		t.Errorf("cancel landed on %s, want the callback with error=access_denied and state", u)
	}
	look(alice, "callback-cancelled")

	// A failed sign-in: one message, the password focused.
	alice.Navigate(authz)
	alice.Type("#username", "alice")
	alice.Type("#password", "wrong")
	alice.Press(kb.Enter, true)
	expect(alice, "login failed", "The username or password is not right. Check them and try again.")
	if got := alice.Focused(); got != "input#password" {
		t.Errorf("failed sign-in: focus on %q, want input#password", got)
	}
	look(alice, "login-failed")

	// Keyboard sign-in, then consent.
	alice.Type("#password", "plum tractor velvet orbit")
	alice.Press(kb.Enter, true)
	expect(alice, "consent", "Demo app wants to access your Example Corp account", "Signed in as alice", "Not you? Use another account",
		"Update projects and repositories", "Includes: view projects and repositories; view public projects and repositories.")
	if strings.Contains(alice.BodyText(), "REPO_WRITE") {
		t.Error("consent: a scope code is visible before its details are opened")
	}
	look(alice, "consent")

	// "Not you? Use another account" signs out and shows the login page for
	// the same request; bob signs in there.
	alice.Submit("button[name=account]")
	expect(alice, "switch", "Sign in to Example Corp", "to continue to Demo app")
	alice.Type("#username", "bob")
	alice.Type("#password", "battery staple horse correct")
	alice.Submit("button[type=submit]:not([name])")
	expect(alice, "consent as bob", "Signed in as bob", "View projects and repositories")

	// Allow with the keyboard alone: Tab from the account switch reaches
	// Allow access.
	alice.Focus("button[name=account]")
	if got := alice.TabKey(); got != "button[name=decision][value=approve]" {
		t.Errorf("consent: Tab after the account switch focuses %q, want Allow access", got)
	}
	alice.Press(kb.Enter, true)
	if u := alice.URL(); !strings.Contains(u, "/local/callback?code=") {
		t.Errorf("allow landed on %s, want the callback with a code", u)
	}
	look(alice, "callback-code")

	// prompt=select_account: the login page even though bob is signed in.
	alice.Navigate(authz + "&prompt=select_account")
	expect(alice, "select account", "You are signed in as bob. Sign in with the account you want to use.")
	look(alice, "login-select-account")

	// The account page: revoke asks first, naming the application.
	alice.Navigate(p.issuer + "/account/authorizations")
	expect(alice, "account", "Your authorized applications", "Signed in as bob", "Demo app", "Revoke access…")
	if alice.Exists("details.confirm[open]") {
		t.Error("account: the revoke confirmation is open before it is asked for")
	}
	look(alice, "account")
	// With the keyboard alone: from Sign out, Tab reaches the first step,
	// Enter opens it, Tab reaches the red button.
	alice.Focus(`a[href="/oauth2/logout"]`)
	if got := alice.TabKey(); got != `summary "Revoke access…"` {
		t.Errorf("account: Tab after Sign out focuses %q, want the Revoke access… step", got)
	}
	if !alice.FocusRingVisible() {
		t.Error("account: the Revoke access… step has no visible focus ring")
	}
	alice.Press(kb.Enter, false)
	expect(alice, "revoke confirmation", "Revoke access for Demo app?")
	if got := alice.TabKey(); got != `button "Revoke access for Demo app"` {
		t.Errorf("confirmation: Tab focuses %q, want the revoke button", got)
	}
	look(alice, "account-revoke-confirm")
	alice.Press(kb.Enter, true)
	expect(alice, "revoked", "Access revoked: Demo app can no longer use your account.")
	if alice.Exists("details.confirm") {
		t.Error("account: Demo app is still listed after the revocation")
	}
	look(alice, "account-revoked")

	// Sign-out, and the pages that say so.
	alice.Submit(`a[href="/oauth2/logout"]`)
	expect(alice, "sign out", "Sign out of Example Corp", "signed in as bob")
	look(alice, "sign-out")
	alice.Submit("button[type=submit]")
	expect(alice, "signed out", "You are signed out", "Applications you have allowed keep their access")
	look(alice, "signed-out")
	alice.Navigate(p.issuer + "/account/authorizations")
	expect(alice, "account signed out", "Sign in to Example Corp", "to see the applications you have allowed to use your Example Corp account")
	look(alice, "account-signed-out")

	// The application signs bob out (OpenID Connect RP-Initiated Logout):
	// the provider asks, naming the application and where the browser goes
	// afterwards; the application gets its state back.
	alice.Type("#username", "bob")
	alice.Type("#password", "battery staple horse correct")
	alice.Submit("button[type=submit]")
	expect(alice, "signed in again", "Signed in as bob")
	p.admin("PATCH", "/admin/links/"+l.ID, map[string]any{"post_logout_redirect_uris": []string{p.issuer + "/local/callback"}}, 200, nil)
	alice.Navigate(p.issuer + "/oauth2/logout?" + url.Values{
		"client_id": {l.ClientID}, "post_logout_redirect_uri": {p.issuer + "/local/callback"}, "state": {"bye"},
	}.Encode())
	host := strings.TrimPrefix(p.issuer, "http://")
	expect(alice, "sign out by the application", "Demo app asks to sign you out of Example Corp.",
		"You are signed in as bob on this browser. Afterwards you go back to Demo app at "+host+".", "Stay signed in and go back to Demo app")
	look(alice, "sign-out-by-app")
	// With the keyboard alone: Sign out, then the way back without it.
	alice.Focus("button[type=submit]")
	if !alice.FocusRingVisible() {
		t.Error("sign out by the application: the Sign out button has no visible focus ring")
	}
	if got := alice.TabKey(); got != `a "Stay signed in and go back to Demo app"` {
		t.Errorf("sign out by the application: Tab after Sign out focuses %q, want the stay-signed-in link", got)
	}
	alice.Submit("button[type=submit]")
	if u := alice.URL(); u != p.issuer+"/local/callback?state=bye" {
		t.Errorf("sign-out by the application landed on %s, want its post-logout redirect with the state", u)
	}
	alice.Navigate(p.issuer + "/account/authorizations")
	expect(alice, "signed out by the application", "Sign in to Example Corp")

	// An error page: same look, plain words, whom to ask, the details for
	// the developer folded away.
	alice.Navigate(p.issuer + "/oauth2/authorize?response_type=code&client_id=nope")
	expect(alice, "error", "Example Corp", "This application is not recognised", "Need help? Call the service desk on ext. 4357.",
		"Details for the application's developer")
	if strings.Contains(alice.BodyText(), "invalid_request") {
		t.Error("error page: the OAuth code is visible before the details are opened")
	}
	look(alice, "error")
	alice.Click("details.developer > summary")
	expect(alice, "error details", "invalid_request", "the application is unknown or disabled")
	look(alice, "error-details")
	alice.CheckConsole()

	// A second person at the same time has a browser of their own: carol
	// is not signed in as bob.
	carol := b.User("carol")
	carol.Navigate(p.issuer + "/account/authorizations")
	expect(carol, "second user", "Sign in to Example Corp")
	carol.CheckConsole()
}
