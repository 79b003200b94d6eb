package e2e

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"golang.org/x/oauth2"

	"github.com/applinks/applinks/local/server"
	chrome "github.com/applinks/applinks/tests/testkit/browser"
)

// TestConsoleInBrowser drives the Application links console in headless
// Chromium as an administrator would: sign in, create a link through the
// permission table, read its credentials from the page, have another user
// authorize it in a second browser context (and exchange the code with
// golang.org/x/oauth2), view the credentials again, rotate the secret and
// see the old one refused. Every console page is captured at 375 and 1280
// px (the folder is in the test's output) and checked for sideways
// scrolling at 375 px and for console errors (CSP, script).
func TestConsoleInBrowser(t *testing.T) {
	p := startProvider(t, nil)
	const adminPass, alicePass = "a long administrator password", "plum tractor velvet orbit"
	p.admin("POST", "/admin/users", map[string]any{"username": "root", "password": adminPass, "name": "Rosa Admin"}, 201, nil)
	p.admin("PUT", "/admin/users/root/admin", map[string]any{"admin": true}, 200, nil)
	p.createUser("alice", alicePass, []string{"REPO_WRITE"})
	callback := p.issuer + server.CallbackPath

	b := chrome.New(t)
	adm := b.User("admin")
	look := func(tab *chrome.Tab, name string) {
		t.Helper()
		tab.Screenshot(name)
		if tab.HorizontalOverflow(375) {
			t.Errorf("%s: the page scrolls sideways at 375 px", name)
		}
	}

	// Signed out: the console sends the administrator to the sign-in page.
	if st := adm.Navigate(p.issuer + "/console/"); st != 200 || !strings.HasPrefix(adm.Text("h1"), "Sign in") {
		t.Fatalf("console signed out: got %d %q, want the sign-in page", st, adm.Text("h1"))
	}
	look(adm, "signin")
	adm.Type("#username", "root")
	adm.Type("#password", adminPass)
	if st := adm.Submit("button[type=submit]"); st != 200 || !strings.HasSuffix(adm.URL(), "/console/links") {
		t.Fatalf("sign in: got %d at %s, want the links page", st, adm.URL())
	}
	if !strings.Contains(adm.BodyText(), "No application links yet") {
		t.Errorf("empty console: want the empty state")
	}
	look(adm, "links-empty")
	// The keyboard alone: the first Tab is the skip link.
	if got := adm.TabKey(); got != `a "Skip to content"` {
		t.Errorf("first Tab: got %s, want the skip link", got)
	}

	// Create link, through the permission table.
	if st := adm.Submit("a.button[href='/console/links/new']"); st != 200 || adm.Text("h1") != "Create link" {
		t.Fatalf("create link: got %d %q", st, adm.Text("h1"))
	}
	look(adm, "create")
	adm.Type("#name", "Build server")
	adm.Type("#redirect_uri_0", callback)
	// The keyboard reaches the sign-out redirect URLs right after the
	// redirect URL's "Add another" button.
	adm.Focus(`button[value="add_uri"]`)
	if got := adm.TabKey(); got != "textarea#post_logout_redirect_uris" || !adm.FocusRingVisible() {
		t.Errorf("create link: Tab after Add another redirect URL focuses %q (focus ring %v), want the sign-out redirect URLs", got, adm.FocusRingVisible())
	}
	adm.Type("#post_logout_redirect_uris", callback+"?signed_out=1")
	adm.Do(chromedp.Click(chromedp.CSS("#scope-REPO_ADMIN"), chromedp.NodeVisible))
	// Ticking Repositories: Admin marks Write and Read as included.
	if got := chrome.Must(adm, chromedp.Evaluate[string](`getComputedStyle(document.querySelector(".inc-scope-REPO_READ .incl")).display`)); got == "none" {
		t.Errorf("ticking REPO_ADMIN: Repositories: Read is not marked included")
	}
	look(adm, "create-ticked")
	if st := adm.Submit("main form button[type=submit]:not([name])"); st != 200 || adm.Text("h1") != "Link created" {
		t.Fatalf("create: got %d %q: %s", st, adm.Text("h1"), adm.BodyText())
	}
	look(adm, "created")
	value := func(id string) string {
		return chrome.Must(adm, chromedp.Evaluate[string](`document.getElementById("`+id+`").value`))
	}
	clientID, secret := value("client_id"), value("client_secret")
	if clientID == "" || len(secret) < 40 {
		t.Fatalf("created page: got client id %q, secret of %d characters", clientID, len(secret))
	}
	if !adm.Exists(`button[aria-label="Copy Client secret"]`) {
		t.Errorf("created page: no Copy button for the secret")
	}
	adm.CheckConsole()
	linkURL := strings.TrimSuffix(adm.URL(), "/created")

	// Another user authorizes the link in a browser context of her own.
	cfg := &oauth2.Config{ClientID: clientID, ClientSecret: secret, RedirectURL: callback, Scopes: []string{"REPO_READ"},
		Endpoint: oauth2.Endpoint{AuthURL: p.issuer + "/oauth2/authorize", TokenURL: p.issuer + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}}
	alice := b.User("alice")
	alice.Navigate(cfg.AuthCodeURL("st4te"))
	alice.Type("#username", "alice")
	alice.Type("#password", alicePass)
	alice.Submit("button[type=submit]")
	if !strings.Contains(alice.BodyText(), "Build server") {
		t.Fatalf("consent: want the link's name on the page: %s", alice.BodyText())
	}
	alice.Submit("button[name=decision][value=approve]")
	back, err := url.Parse(alice.URL())
	if err != nil || back.Query().Get("code") == "" || back.Query().Get("state") != "st4te" {
		t.Fatalf("callback: got %s, want a code and the state", alice.URL())
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, p.client)
	tok, err := cfg.Exchange(ctx, back.Query().Get("code"))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("exchange with the page's credentials: %v", err)
	}
	// The console signs its administrators in itself: alice's session of
	// the end users' pages does not open it, and her password does not
	// either, in plain words.
	if st := alice.Navigate(p.issuer + "/console/links"); st != 200 || alice.Text("h1") != "Sign in to the console" {
		t.Errorf("alice in the console: got %d %q, want the console's sign-in page", st, alice.Text("h1"))
	}
	alice.Type("#username", "alice")
	alice.Type("#password", alicePass)
	if st := alice.Submit("button[type=submit]"); st != 200 || !strings.Contains(alice.Text("#login-error"), "not an administrator") {
		t.Errorf("alice signs in to the console: got %d %q, want the refusal", st, alice.Text("#login-error"))
	}
	look(alice, "not-admin")

	// The link's page lists alice's authorization; View credentials shows
	// the same secret again.
	adm.Navigate(linkURL)
	if body := adm.BodyText(); !strings.Contains(body, "alice") || !strings.Contains(body, "REPO_READ") {
		t.Errorf("link page: want alice's authorization listed: %s", body)
	}
	if body := adm.BodyText(); !strings.Contains(body, "Sign-out redirect URLs\n"+callback+"?signed_out=1") {
		t.Errorf("link page: want the sign-out redirect URL typed at creation: %s", body)
	}
	// More actions › View credentials, by keyboard alone.
	adm.Focus("details.menu summary")
	adm.Press(kb.Enter, false)
	if !chrome.Must(adm, chromedp.Evaluate[bool](`document.querySelector("details.menu").open`)) {
		t.Errorf("Enter on More actions: the menu did not open")
	}
	look(adm, "link-menu")
	if got := adm.TabKey(); got != `a "View credentials"` || !adm.FocusRingVisible() {
		t.Errorf("Tab in the open menu: got %s (focus ring %v), want View credentials with a visible focus", got, adm.FocusRingVisible())
	}
	if st := adm.Press(kb.Enter, true); st != 200 || value("client_secret") != secret {
		t.Fatalf("view credentials: got %d, want the same secret", st)
	}
	look(adm, "credentials")

	// Rotate the secret: an hour's overlap is the default; stopping the old
	// secret now is chosen explicitly, and the old one is refused at once.
	adm.Navigate(linkURL + "/rotate")
	look(adm, "rotate")
	if !chrome.Must(adm, chromedp.Evaluate[bool](`document.querySelector("input[name=overlap_seconds][value='3600']").checked`)) {
		t.Errorf("rotate: want one hour's overlap checked by default")
	}
	adm.Click(`input[name=overlap_seconds][value="0"]`)
	if st := adm.Submit("main form button[type=submit]"); st != 200 {
		t.Fatalf("rotate: got %d", st)
	}
	look(adm, "rotated")
	newSecret := value("client_secret")
	if newSecret == secret || newSecret == "" {
		t.Fatalf("after rotating: got the same secret")
	}
	var re *oauth2.RetrieveError
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
		t.Errorf("refresh with the old secret: got %v, want invalid_client", err)
	}
	cfg.ClientSecret = newSecret
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
		t.Errorf("refresh with the new secret: %v", err)
	}

	// The link's page says when it was last used (alice's code exchange)
	// and who viewed its secret; the list says it too.
	adm.Navigate(linkURL)
	if body := adm.BodyText(); strings.Contains(body, "Last used\nNever") || !strings.Contains(body, "Last used\n") {
		t.Errorf("link page: want a last use after alice's token: %s", body)
	}
	if act := adm.Text("ul.activity"); !strings.Contains(act, "Credentials viewed by root from the console, ") ||
		!strings.Contains(act, "Secret rotated (the old one stopped at once) by root") || !strings.Contains(act, "Link created by root from the console, ") {
		t.Errorf("link activity: got %q, want the rotation, the viewing and the creation by root", act)
	}
	look(adm, "link-activity")

	// Revoke on the authorizations table asks first, reached by the
	// keyboard; the page is looked at and left without revoking.
	adm.Focus(`a.button.secondary[href*="/grants/"]`)
	if st := adm.Press(kb.Enter, true); st != 200 || adm.Text("h1") != "Revoke alice's access to Build server?" {
		t.Errorf("revoke from the link page: got %d %q, want the question first", st, adm.Text("h1"))
	}
	look(adm, "revoke-grant")
	adm.Navigate(linkURL)

	// Five mistyped passwords lock alice's sign-ins: her page says so, and
	// Unlock, reached by the keyboard, unlocks her.
	guess := b.User("guesser")
	for i := range 5 {
		guess.Navigate(p.issuer + "/console/login")
		guess.Type("#username", "alice")
		guess.Type("#password", "not alice's password")
		st := guess.Submit("button[type=submit]")
		if st != 200 || !strings.HasPrefix(guess.Text("h1"), "Sign in") {
			t.Fatalf("failed sign-in %d: got %d %q, want the sign-in page again", i, st, guess.Text("h1"))
		}
	}
	adm.Navigate(p.issuer + "/console/users/alice")
	if !strings.Contains(strings.ToLower(adm.BodyText()), "locked after too many failed sign-ins") { // a badge, in capitals
		t.Errorf("alice's page after 5 failed sign-ins: want her locked: %s", adm.BodyText())
	}
	look(adm, "user-locked")
	adm.Focus(`a[href="/console/users/alice/delete"]`)
	if got := adm.TabKey(); got != `button "Unlock"` || !adm.FocusRingVisible() {
		t.Errorf("Tab after Delete user: got %s (focus ring %v), want Unlock with a visible focus", got, adm.FocusRingVisible())
	}
	if st := adm.Press(kb.Enter, true); st != 200 || !strings.Contains(adm.BodyText(), "The user was unlocked") || strings.Contains(strings.ToLower(adm.BodyText()), "locked after") {
		t.Errorf("Unlock: got %d %q, want alice unlocked", st, adm.BodyText())
	}

	// Every other page, to look at.
	for _, pg := range []struct{ path, name, h1 string }{
		{"/console/links", "links", "Application links"},
		{strings.TrimPrefix(linkURL, p.issuer) + "/edit", "edit", "Edit Build server"},
		{strings.TrimPrefix(linkURL, p.issuer) + "/delete", "delete", "Delete Build server?"},
		{"/console/users", "users", "Users"},
		{"/console/users/new", "user-new", "Create user"},
		{"/console/users/alice", "user", "alice"},
		{"/console/keys", "keys", "Signing keys"},
		{"/console/confirm?return_to=%2Fconsole%2Fkeys", "confirm", "Confirm your password"},
	} {
		if st := adm.Navigate(p.issuer + pg.path); st != 200 || adm.Text("h1") != pg.h1 {
			t.Errorf("%s: got %d %q, want 200 %q", pg.path, st, adm.Text("h1"), pg.h1)
		}
		look(adm, pg.name)
	}
	adm.CheckConsole()
	// A validation error next to its field (the browser logs the 422 as a
	// failed load, so the console is checked before).
	adm.Navigate(p.issuer + "/console/links/new")
	adm.Type("#name", "Bad")
	adm.Type("#redirect_uri_0", "http://example.com/cb")
	if st := adm.Submit("main form button[type=submit]:not([name])"); st != 422 || !strings.Contains(adm.Text("#redirect_uri_0-error"), "http") {
		t.Errorf("bad redirect URL: got %d, want 422 with the error at the field", st)
	}
	look(adm, "create-error")

	// Sign out: the header's button ends the session on the sign-in page,
	// which says so; the console is closed afterwards.
	if st := adm.Submit(`form[action="/console/logout"] button`); st != 200 || !strings.Contains(adm.BodyText(), "You are signed out of the console.") {
		t.Errorf("sign out: got %d %q, want the sign-in page saying so", st, adm.BodyText())
	}
	look(adm, "signed-out")
	if st := adm.Navigate(p.issuer + "/console/links"); st != 200 || adm.Text("h1") != "Sign in to the console" {
		t.Errorf("after signing out: got %d %q, want the sign-in page", st, adm.Text("h1"))
	}
}
