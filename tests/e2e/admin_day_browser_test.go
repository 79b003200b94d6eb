package e2e

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/applinks/applinks/local/server"
	"github.com/applinks/applinks/shared"
	sharedpage "github.com/applinks/applinks/shared/page"
	"github.com/applinks/applinks/shared/store"
	chrome "github.com/applinks/applinks/tests/testkit/browser"
)

// TestAdministratorsDay drives the console in headless Chromium through an
// administrator's whole day with one link: create it, have a user
// authorize it (and the application exchange the code), view its
// credentials again later (past the 10 minutes, so the console asks for
// the password again), see when it was last used and who viewed its
// secret, rotate the secret with the default hour of overlap (both secrets
// work), revoke the user's authorization after the question it asks (its
// refresh token stops working, the row says when it was revoked), then
// find a link no one uses through the list's filter and delete it. The
// pages that changed are captured at 375 and 1280 px and checked for
// sideways scrolling; the browser's console for errors.
//
// Time is moved, never waited for: the console session's confirmation is
// made 11 minutes old in the store, and the unused link's last use is
// written 120 days back, as the token function would have.
func TestAdministratorsDay(t *testing.T) {
	p := startProvider(t, nil)
	const adminPass, alicePass = "a long administrator password", "plum tractor velvet orbit"
	p.admin("POST", "/admin/users", map[string]any{"username": "root", "password": adminPass, "name": "Rosa Admin"}, 201, nil)
	p.admin("PUT", "/admin/users/root/admin", map[string]any{"admin": true}, 200, nil)
	p.createUser("alice", alicePass, []string{"REPO_WRITE"})
	callback := p.issuer + server.CallbackPath
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, p.client)

	// Two links made long ago through the admin API: one last used 120
	// days back (the one to find and delete), one never used but made
	// today (not "unused" yet).
	old := p.createLink("Old importer", callback, []string{"REPO_READ"}, "confidential")
	if _, _, err := p.st.TouchLastUse(ctx, store.LastUseRef{ClientID: old.ClientID}, time.Now().Add(-120*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	p.createLink("Fresh link", callback, []string{"REPO_READ"}, "confidential")

	b := chrome.New(t)
	adm := b.User("admin")
	look := func(tab *chrome.Tab, name string) {
		t.Helper()
		tab.Screenshot(name)
		if tab.HorizontalOverflow(375) {
			t.Errorf("%s: the page scrolls sideways at 375 px", name)
		}
	}
	// until reloads the page until cond holds (the listings are indexes,
	// at once on DynamoDB Local, not on AWS).
	until := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(chrome.Timeout)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not so after %s: %s", what, chrome.Timeout, adm.BodyText())
			}
			time.Sleep(100 * time.Millisecond)
			adm.Navigate(adm.URL())
		}
	}

	// Morning: sign in and create the link for the team's dashboard.
	adm.Navigate(p.issuer + "/console/")
	adm.Type("#username", "root")
	adm.Type("#password", adminPass)
	if st := adm.Submit("button[type=submit]"); st != 200 || !strings.HasSuffix(adm.URL(), "/console/links") {
		t.Fatalf("sign in: got %d at %s, want the links page", st, adm.URL())
	}
	adm.Submit("a.button[href='/console/links/new']")
	adm.Type("#name", "Team dashboard")
	adm.Type("#redirect_uri_0", callback)
	adm.Click("#scope-REPO_READ")
	if st := adm.Submit("main form button[type=submit]:not([name])"); st != 200 || adm.Text("h1") != "Link created" {
		t.Fatalf("create: got %d %q: %s", st, adm.Text("h1"), adm.BodyText())
	}
	value := func(id string) string {
		return chrome.Must(adm, chromedp.Evaluate[string](`document.getElementById("`+id+`").value`))
	}
	clientID, secret := value("client_id"), value("client_secret")
	if clientID == "" || len(secret) < 40 {
		t.Fatalf("created page: got client id %q, secret of %d characters", clientID, len(secret))
	}
	linkURL := strings.TrimSuffix(adm.URL(), "/created")

	// alice signs in to the dashboard with OpenID Connect; the dashboard
	// exchanges the code: the link is used.
	cfg := &oauth2.Config{ClientID: clientID, ClientSecret: secret, RedirectURL: callback, Scopes: []string{"REPO_READ", "openid", "profile", "email"},
		Endpoint: oauth2.Endpoint{AuthURL: p.issuer + "/oauth2/authorize", TokenURL: p.issuer + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}}
	alice := b.User("alice")
	alice.Navigate(cfg.AuthCodeURL("st4te"))
	alice.Type("#username", "alice")
	alice.Type("#password", alicePass)
	alice.Submit("button[type=submit]")
	alice.Submit("button[name=decision][value=approve]")
	back, err := url.Parse(alice.URL())
	if err != nil || back.Query().Get("code") == "" {
		t.Fatalf("callback: got %s, want a code", alice.URL())
	}
	tok, err := cfg.Exchange(ctx, back.Query().Get("code"))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("exchange: %v", err)
	}

	// Later: the link's page says it was used, and who authorized it with
	// what, in words.
	adm.Navigate(linkURL)
	until("link page: last use and alice's authorization", func() bool {
		body := adm.BodyText()
		return !strings.Contains(body, "Last used\nNever") && strings.Contains(body, "alice")
	})
	row := adm.Text("table.cards tbody tr")
	// (the status badge is in capitals: its text is compared in any case)
	for _, want := range []string{"alice", "View projects and repositories", "REPO_READ", "Sign them in (their account's id)", "Their name and username", "Their email address", "active"} {
		if !strings.Contains(row, want) && !strings.Contains(strings.ToLower(row), want) {
			t.Errorf("alice's authorization: got %q, want %q in it", row, want)
		}
	}
	if strings.Contains(row, "Never") {
		t.Errorf("alice's authorization: got %q, want its last use (the code exchange)", row)
	}
	look(adm, "day-link-used")

	// Past the 10 minutes of the sign-in's confirmation, View credentials
	// asks for the password again, then shows the same secret.
	ageConfirmation(t, p, adm, 11*time.Minute)
	adm.Click("details.menu summary")
	if st := adm.Submit(`details.menu a[href$="/credentials"]`); st != 200 || adm.Text("h1") != "Confirm your password" {
		t.Fatalf("view credentials later: got %d %q, want the password asked again", st, adm.Text("h1"))
	}
	look(adm, "day-confirm")
	adm.Type("#password", adminPass)
	if st := adm.Submit("main form button[type=submit]"); st != 200 || value("client_secret") != secret {
		t.Fatalf("confirmed: got %d at %s, want the credentials with the same secret", st, adm.URL())
	}

	// Who viewed the secret: the link's activity says so, by name.
	adm.Navigate(linkURL)
	if act := adm.Text("ul.activity"); !strings.Contains(act, "Credentials viewed by root from the console") || !strings.Contains(act, "Link created by root from the console") {
		t.Errorf("link activity: got %q, want the viewing and the creation by root", act)
	}

	// Rotate with the default overlap: an hour in which both secrets work.
	adm.Click("details.menu summary")
	if st := adm.Submit(`details.menu a[href$="/rotate"]`); st != 200 || !chrome.Must(adm, chromedp.Evaluate[bool](`document.querySelector("input[name=overlap_seconds][value='3600']").checked`)) {
		t.Fatalf("rotate: got %d, want the page with an hour's overlap checked", st)
	}
	if st := adm.Submit("main form button[type=submit]"); st != 200 {
		t.Fatalf("rotate: got %d", st)
	}
	look(adm, "day-rotated")
	newSecret := value("client_secret")
	if newSecret == "" || newSecret == secret {
		t.Fatalf("after rotating: got the same secret")
	}
	refreshed, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh with the old secret during the overlap: %v", err)
	}
	cfg.ClientSecret = newSecret
	if refreshed, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshed.RefreshToken}).Token(); err != nil {
		t.Fatalf("refresh with the new secret: %v", err)
	}
	adm.Navigate(linkURL)
	if act := adm.Text("ul.activity"); !strings.Contains(act, "Secret rotated") || !strings.Contains(act, "by root") {
		t.Errorf("link activity after the rotation: got %q, want the rotation by root", act)
	}

	// Revoke alice's authorization: the question first, then the row says
	// it is revoked and when, and her refresh token stops working.
	if st := adm.Submit(`a.button.secondary[href*="/grants/"]`); st != 200 || adm.Text("h1") != "Revoke alice's access to Team dashboard?" {
		t.Fatalf("revoke: got %d %q, want the question first", st, adm.Text("h1"))
	}
	look(adm, "day-revoke-question")
	if st := adm.Submit("main form button.danger"); st != 200 || !strings.Contains(adm.BodyText(), "alice's authorization was revoked") {
		t.Fatalf("revoke confirmed: got %d: %s", st, adm.BodyText())
	}
	row = adm.Text("table.cards tbody tr")
	if !strings.Contains(strings.ToLower(row), "revoked on ") || strings.Contains(strings.ToLower(row), "active") || adm.Exists(`a.button.secondary[href*="/grants/"]`) ||
		strings.Contains(adm.BodyText(), "No one has authorized") {
		t.Errorf("after revoking: got row %q, want alice's authorization revoked, with when, and no Revoke", row)
	}
	look(adm, "day-revoked")
	var re *oauth2.RetrieveError
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshed.RefreshToken}).Token(); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("refresh after the revocation: got %v, want invalid_grant", err)
	}
	// Still shown as revoked when the page is opened afresh.
	adm.Navigate(linkURL)
	if row := adm.Text("table.cards tbody tr"); !strings.Contains(strings.ToLower(row), "revoked on ") {
		t.Errorf("link page later: got row %q, want alice's authorization still shown revoked", row)
	}

	// Evening: tidy up. The list's filter finds the link no one uses.
	adm.Navigate(p.issuer + "/console/links")
	until("the links list", func() bool { return strings.Contains(adm.BodyText(), "Fresh link") })
	if st := adm.Submit(`nav.views a[href*="unused_days=90"]`); st != 200 {
		t.Fatalf("Not used in 90 days: got %d", st)
	}
	names := chrome.Must(adm, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('td[data-label="Name"]')).map(function(td){return td.textContent})`))
	if len(names) != 1 || names[0] != "Old importer" {
		t.Fatalf("not used in 90 days: got %v, want Old importer alone", names)
	}
	if cur := adm.Text(`nav.views a[aria-current="true"]`); cur != "Not used in 90 days" {
		t.Errorf("the filter chosen: got %q", cur)
	}
	look(adm, "day-links-unused")
	if st := adm.Submit(`nav.views a[href*="sort=last_used"]`); st != 200 {
		t.Fatalf("sort by last use: got %d", st)
	}
	adm.Submit(`nav.views a[href="/console/links?sort=last_used"]`) // every link, least recently used first
	names = chrome.Must(adm, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('td[data-label="Name"]')).map(function(td){return td.textContent})`))
	if want := []string{"Fresh link", "Old importer", "Team dashboard"}; strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("every link by last use: got %v, want %v", names, want)
	}
	look(adm, "day-links-by-use")

	// Delete it, after the question.
	adm.Submit(`nav.views a[href*="unused_days=90"]`)
	adm.Submit(`td[data-label="Name"] a`)
	if adm.Text("h1") != "Old importer" {
		t.Fatalf("the unused link's page: got %q", adm.Text("h1"))
	}
	adm.Click("details.menu summary")
	if st := adm.Submit(`details.menu a[href$="/delete"]`); st != 200 || adm.Text("h1") != "Delete Old importer?" {
		t.Fatalf("delete: got %d %q, want the question first", st, adm.Text("h1"))
	}
	if st := adm.Submit("main form button.danger"); st != 200 || !strings.HasSuffix(strings.SplitN(adm.URL(), "?", 2)[0], "/console/links") {
		t.Fatalf("delete confirmed: got %d at %s, want the links page", st, adm.URL())
	}
	if strings.Contains(adm.Text("table.cards"), "Old importer") {
		t.Errorf("after deleting: Old importer still listed")
	}
	look(adm, "day-deleted")
	p.admin("GET", "/admin/links/"+old.ID, nil, 404, nil)
	adm.CheckConsole()
}

// ageConfirmation makes the console session of tab as if its password was
// last confirmed age ago: the session is read from the store by the
// browser's cookie, and written again with that confirmation time.
func ageConfirmation(t *testing.T, p *provider, tab *chrome.Tab, age time.Duration) {
	t.Helper()
	names, err := sharedpage.NewCookies(p.issuer)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(tab.Context(), chrome.Timeout)
	defer cancel()
	res, err := chromedp.Call(cctx, network.GetCookies, network.GetCookiesParams{URLs: []string{p.issuer + "/console/"}})
	if err != nil {
		t.Fatal(err)
	}
	id := ""
	for _, c := range res.Cookies {
		if c.Name == names.Console {
			id = shared.HashToken(c.Value)
		}
	}
	if id == "" {
		t.Fatalf("no %s cookie in the browser", names.Console)
	}
	ctx := context.Background()
	now := time.Now()
	sess, err := p.st.GetConsoleSession(ctx, id, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.st.DeleteConsoleSession(ctx, id); err != nil {
		t.Fatal(err)
	}
	sess.ConfirmedAt = now.Add(-age)
	if err := p.st.CreateConsoleSession(ctx, sess, 30*time.Minute); err != nil {
		t.Fatal(err)
	}
}
