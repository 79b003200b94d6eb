package e2e

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/applinks/applinks/local/server"
	chrome "github.com/applinks/applinks/tests/testkit/browser"
)

// TestUpstreamInBrowser signs in through an upstream identity provider in
// headless Chromium: a person to an application (the downstream on
// http://127.0.0.1:PORT, the upstream another instance on
// http://localhost:PORT), and an administrator to the console, whose
// Strict cookie must survive the end of a navigation the upstream began.
// The new pages are captured at 375 and 1280 px and checked for sideways
// scrolling and console errors.
func TestUpstreamInBrowser(t *testing.T) {
	up := startInstance(t, "localhost", nil)
	down := startInstance(t, "127.0.0.1", nil)
	up.upstreamUser("ada", "ada@example.com", true)
	rootSub := up.upstreamUser("root", "root@example.com", true)
	pid := addIDP(t, down, up, map[string]any{"create_users": true, "name": "Example SSO"})
	down.admin("POST", "/admin/users", map[string]any{"username": "root", "name": "Rosa Admin",
		"upstream": map[string]any{"provider": pid, "subject": rootSub}}, 201, nil)
	down.admin("PUT", "/admin/users/root/admin", map[string]any{"admin": true}, 200, nil)
	callback := down.issuer + server.CallbackPath
	l := down.createLink("Team wiki", callback, []string{"REPO_READ"}, "confidential")

	b := chrome.New(t)
	look := func(tab *chrome.Tab, name string) {
		t.Helper()
		tab.Screenshot(name)
		if tab.HorizontalOverflow(375) {
			t.Errorf("%s: the page scrolls sideways at 375 px", name)
		}
	}

	// A person: the application's sign-in page offers the provider.
	ada := b.User("ada")
	authURL := down.issuer + "/oauth2/authorize?" + url.Values{"client_id": {l.ClientID}, "response_type": {"code"},
		"redirect_uri": {callback}, "scope": {"REPO_READ"}, "state": {"s1"}}.Encode()
	if st := ada.Navigate(authURL); st != 200 || !ada.Exists("a.provider") || ada.Text("a.provider") != "Continue with Example SSO" {
		t.Fatalf("sign-in page: %d, provider link %v", st, ada.Exists("a.provider"))
	}
	look(ada, "signin-with-provider")
	// The keyboard reaches the provider's link first.
	if got := ada.TabKey(); got != `a "Continue with Example SSO"` || !ada.FocusRingVisible() {
		t.Errorf("first Tab on the sign-in page: %s (focus ring %v)", got, ada.FocusRingVisible())
	}
	if st := ada.Submit("a.provider"); st != 200 || !strings.HasPrefix(ada.URL(), up.issuer) {
		t.Fatalf("Continue with: %d at %s, want the upstream's sign-in", st, ada.URL())
	}
	ada.Type("#username", "ada")
	ada.Type("#password", upstreamPassword)
	ada.Submit("button[type=submit]")
	// The upstream asks ada to allow the downstream once, then the
	// downstream asks her about the application.
	if strings.HasPrefix(ada.URL(), up.issuer) {
		ada.Submit("button[name=decision][value=approve]")
	}
	if !strings.HasPrefix(ada.URL(), down.issuer) || !strings.Contains(ada.BodyText(), "Team wiki") {
		t.Fatalf("after the upstream: at %s: %s", ada.URL(), ada.BodyText())
	}
	look(ada, "consent-after-upstream")
	ada.Submit("button[name=decision][value=approve]")
	back, _ := url.Parse(ada.URL())
	if back.Query().Get("code") == "" || back.Query().Get("state") != "s1" {
		t.Fatalf("back at the application: %s", ada.URL())
	}
	ada.CheckConsole()
	// The account page: signed in as the created user.
	ada.Navigate(down.issuer + "/account/authorizations")
	if !strings.Contains(ada.BodyText(), "Signed in as ada") {
		t.Errorf("account page: %s", ada.BodyText())
	}

	// The pages of refusals, to look at: a username taken, and the
	// upstream down.
	down.admin("POST", "/admin/users", map[string]any{"username": "bea", "password": "saffron tide lantern moss"}, 201, nil)
	up.upstreamUser("bea", "bea@example.com", true)
	bea := b.User("bea")
	bea.Navigate(authURL)
	bea.Submit("a.provider")
	bea.Type("#username", "bea")
	bea.Type("#password", upstreamPassword)
	bea.Submit("button[type=submit]")
	if strings.HasPrefix(bea.URL(), up.issuer) {
		bea.Submit("button[name=decision][value=approve]")
	}
	if h := bea.Text("h1"); h != "The username bea is already taken" {
		t.Errorf("a taken username: %q", h)
	}
	look(bea, "username-taken")

	// An administrator: the console's sign-in through the provider.
	adm := b.User("admin")
	if st := adm.Navigate(down.issuer + "/console/links"); st != 200 || adm.Text("a.provider") != "Continue with Example SSO" {
		t.Fatalf("console sign-in page: %d", st)
	}
	look(adm, "console-signin-with-provider")
	adm.Submit("a.provider")
	if !strings.HasPrefix(adm.URL(), up.issuer) {
		t.Fatalf("console Continue with: at %s", adm.URL())
	}
	adm.Type("#username", "root")
	adm.Type("#password", upstreamPassword)
	adm.Submit("button[type=submit]")
	if strings.HasPrefix(adm.URL(), up.issuer) {
		// Not Submit: the page that answers moves on by itself at once,
		// and Submit's wait for that page would see it replaced.
		if _, err := chrome.Run(adm, chromedp.Click(chromedp.CSS("button[name=decision][value=approve]"), chromedp.NodeVisible)); err != nil {
			t.Fatalf("approve at the upstream: %v", err)
		}
	}
	// The callback's page moves on by itself to the console, which the
	// Strict cookie then opens.
	// (A poll whose page is replaced under it fails; poll again, up to
	// a deadline.)
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if _, err = chrome.Run(adm, chromedp.Poll[bool](`location.pathname === "/console/links" && document.querySelector("nav.sections") !== null`,
			chromedp.WithPollingTimeout(5*time.Second))); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("after the console's upstream sign-in: at %s: %s (%v)", adm.URL(), adm.BodyText(), err)
	}
	if !strings.Contains(adm.BodyText(), "Signed in as root") {
		t.Errorf("console: %s", adm.BodyText())
	}
	// Fresh: a confirmed page opens at once.
	if st := adm.Navigate(down.issuer + "/console/identity-providers/new"); st != 200 || adm.Text("h1") != "Add identity provider" {
		t.Errorf("add identity provider right after signing in: %d %q", st, adm.Text("h1"))
	}
	look(adm, "idp-new")
	for _, pg := range []struct{ path, name, h1 string }{
		{"/console/identity-providers", "idp-list", "Identity providers"},
		{"/console/identity-providers/" + pid, "idp", "Example SSO"},
		{"/console/identity-providers/" + pid + "/edit", "idp-edit", "Edit Example SSO"},
		{"/console/users/ada", "user-from-upstream", "ada"},
		{"/console/users/root", "user-linked", "root"},
		{"/console/confirm?return_to=%2Fconsole%2Fkeys", "confirm-with-provider", "Confirm it is you"},
	} {
		if st := adm.Navigate(down.issuer + pg.path); st != 200 || adm.Text("h1") != pg.h1 {
			t.Errorf("%s: got %d %q, want 200 %q", pg.path, st, adm.Text("h1"), pg.h1)
		}
		look(adm, pg.name)
	}
	if adm.Text("a.provider") != "Confirm with Example SSO" || adm.Exists("#password") {
		t.Errorf("confirmation page of an administrator without a password: want Confirm with, no password field")
	}
	adm.CheckConsole()

	// The upstream goes down: the person's page says so.
	_ = up.srv.Close()
	eve := b.User("eve")
	eve.Navigate(authURL)
	if st := eve.Submit("a.provider"); st != 503 || eve.Text("h1") != "Example SSO is not answering" {
		t.Errorf("upstream down: %d %q", st, eve.Text("h1"))
	}
	look(eve, "upstream-down")
}
