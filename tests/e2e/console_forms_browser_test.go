package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	chrome "github.com/applinks/applinks/tests/testkit/browser"
)

// TestConsoleFormsInBrowser drives the console's forms in headless
// Chromium by the keyboard: a Create link form with several mistakes
// comes back with all of them, the summary above the form takes the focus
// and links to each field; a link without permissions is asked about
// first; More actions opens in the page's flow without covering it; the
// deletion notice names the link; the user, password and identity
// provider forms answer every mistake at once; status badges never break
// inside a word; and /oauth2/authorize without a client_id explains
// itself. Every page is captured at 375 and 1280 px and checked for
// sideways scrolling at 375 px.
func TestConsoleFormsInBrowser(t *testing.T) {
	p := startProvider(t, nil)
	const adminPass = "a long administrator password"
	p.admin("POST", "/admin/users", map[string]any{"username": "root", "password": adminPass, "name": "Rosa Admin"}, 201, nil)
	p.admin("PUT", "/admin/users/root/admin", map[string]any{"admin": true}, 200, nil)

	b := chrome.New(t)
	adm := b.User("admin")
	look := func(tab *chrome.Tab, name string) {
		t.Helper()
		tab.Screenshot(name)
		if tab.HorizontalOverflow(375) {
			t.Errorf("%s: the page scrolls sideways at 375 px", name)
		}
	}
	adm.Navigate(p.issuer + "/console/login")
	adm.Type("#username", "root")
	adm.Type("#password", adminPass)
	if st := adm.Submit("button[type=submit]"); st != 200 || !strings.HasSuffix(adm.URL(), "/console/links") {
		t.Fatalf("sign in: got %d at %s", st, adm.URL())
	}

	// Create link: the application type and direction are text.
	adm.Navigate(p.issuer + "/console/links/new")
	if adm.Exists(`input[name=app_type]`) || adm.Exists(`input[name=direction]`) || !strings.Contains(adm.BodyText(), "Application type\nExternal application: ") {
		t.Errorf("create form: want the application type and direction as text, not radio buttons")
	}
	// Three mistakes: no name, an http redirect URL, an ftp sign-out URL.
	adm.Type("#redirect_uri_0", "https://ci.example.com/cb")
	adm.Focus(`button[value="add_uri"]`)
	if st := adm.Press(kb.Enter, true); st != 200 || !adm.Exists("#redirect_uri_1") {
		t.Fatalf("Add another redirect URL by the keyboard: got %d", st)
	}
	adm.Type("#redirect_uri_1", "http://ci.example.com/cb")
	adm.Type("#post_logout_redirect_uris", "https://ci.example.com/bye\nftp://ci.example.com/bye")
	adm.Click("#scope-REPO_READ")
	// Enter in a text field creates (the form's first submit button), it
	// does not add a redirect URL field.
	adm.Focus("#name")
	if st := adm.Press(kb.Enter, true); st != 422 || adm.Text("h1") != "Create link" || adm.Exists("#redirect_uri_2") {
		t.Fatalf("Enter in Name: got %d %q, want the form again with its errors", st, adm.Text("h1"))
	}
	wantErrs := map[string]string{
		"#name-error":                      "Enter a name.",
		"#redirect_uri_1-error":            "Redirect URL 2 must use https; http is allowed only for the loopback hosts 127.0.0.1, [::1] and localhost.",
		"#post_logout_redirect_uris-error": "Line 2 of the sign-out redirect URLs: scheme \"ftp\" is not allowed: use https, or a private-use scheme in reverse domain form such as com.example.app.",
	}
	for css, want := range wantErrs {
		if got := adm.Text(css); got != want {
			t.Errorf("%s: got %q, want %q", css, got, want)
		}
	}
	if got := adm.Text(".error-summary ul"); strings.Count(got, "\n") != 2 {
		t.Errorf("summary: got %q, want the three errors", got)
	}
	if got := chrome.Must(adm, chromedp.Evaluate[string](`document.getElementById("redirect_uri_1").value + "|" + document.getElementById("post_logout_redirect_uris").value + "|" + document.getElementById("scope-REPO_READ").checked`)); got != "http://ci.example.com/cb|https://ci.example.com/bye\nftp://ci.example.com/bye|true" {
		t.Errorf("the form lost what was typed: %q", got)
	}
	// The summary has the focus; Tab reaches its first link, and Enter
	// on it brings the field into view (without a script, the browser
	// moves the view, not the focus: Tab then goes on from the summary's
	// links into the form, whose invalid fields are marked).
	if got := adm.Focused(); got != "div" && !strings.HasPrefix(got, `div "`) {
		t.Errorf("focus after the errors: got %s, want the summary", got)
	}
	look(adm, "create-errors")
	if got := adm.TabKey(); got != `a "Enter a name."` || !adm.FocusRingVisible() {
		t.Errorf("Tab from the summary: got %s (focus ring %v), want its first link", got, adm.FocusRingVisible())
	}
	adm.Do(chromedp.EmulateViewport(375, 500, chromedp.EmulateMobile, chromedp.EmulatePortrait))
	adm.Focus(`.error-summary a[href="#post_logout_redirect_uris"]`)
	adm.Press(kb.Enter, false)
	inView := `(() => { const r = document.getElementById("post_logout_redirect_uris").getBoundingClientRect(); return location.hash === "#post_logout_redirect_uris" && r.top >= 0 && r.bottom <= innerHeight; })()`
	if !chrome.Must(adm, chromedp.Poll[bool](inView)) {
		t.Errorf("Enter on the summary's link to the sign-out URLs: the field is not in view")
	}
	adm.Do(chromedp.EmulateViewport(1280, 800))
	adm.Type("#name", "Build bot")
	adm.Do(chromedp.SetValue(chromedp.CSS("#redirect_uri_1"), "http://127.0.0.1:9000/cb"))
	adm.Do(chromedp.SetValue(chromedp.CSS("#post_logout_redirect_uris"), "https://ci.example.com/bye"))
	adm.Click("#scope-REPO_READ") // unticked: no permission at all
	if st := adm.Submit(".actions button[type=submit]:not([name])"); st != 200 || !strings.Contains(adm.Text(".review"), "No permission is ticked") {
		t.Fatalf("create without permissions: got %d, want the question:\n%s", st, adm.BodyText())
	}
	look(adm, "create-no-permissions")
	adm.Focus(`button[name=no_permissions]`)
	if !adm.FocusRingVisible() {
		t.Errorf("Create without permissions: no visible focus")
	}
	if st := adm.Press(kb.Enter, true); st != 200 || adm.Text("h1") != "Link created" {
		t.Fatalf("Create without permissions: got %d %q", st, adm.Text("h1"))
	}
	linkURL := strings.TrimSuffix(adm.URL(), "/created")

	// A redirect URL typed for a resource server is said before saving.
	adm.Navigate(p.issuer + "/console/links/new")
	adm.Type("#name", "Repos API")
	adm.Type("#redirect_uri_0", "https://api.example.com/cb")
	adm.Click("#client_type_resource_server")
	adm.Click("#scope-REPO_READ")
	if st := adm.Submit(".actions button[type=submit]:not([name])"); st != 422 ||
		adm.Text("#redirect_uris-error") != "A resource server has no redirect URL: clear this field, or choose another client type." {
		t.Errorf("a resource server with a redirect URL: got %d, want it said", st)
	}
	look(adm, "resource-server-redirect")

	// More actions opens in the page's flow: the Settings heading moves
	// down rather than being covered.
	adm.Navigate(linkURL)
	settingsTop := `document.evaluate("//h2[text()='Settings']", document, null, 9, null).singleNodeValue.getBoundingClientRect().top`
	menuBottom := `document.querySelector("details.menu .items").getBoundingClientRect().bottom`
	adm.Focus("details.menu summary")
	adm.Press(kb.Enter, false)
	for _, w := range []int64{375, 1280} {
		opts := []chromedp.EmulateViewportOption{}
		if w < 800 {
			opts = append(opts, chromedp.EmulateMobile, chromedp.EmulatePortrait)
		}
		adm.Do(chromedp.EmulateViewport(w, 800, opts...))
		if top, bottom := chrome.Must(adm, chromedp.Evaluate[float64](settingsTop)), chrome.Must(adm, chromedp.Evaluate[float64](menuBottom)); bottom > top {
			t.Errorf("at %d px the open menu (bottom %.0f) covers Settings (top %.0f)", w, bottom, top)
		}
	}
	adm.Do(chromedp.EmulateViewport(1280, 800))
	if got := chrome.Must(adm, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("details.menu summary"), "::after").marginLeft`)); got == "0px" {
		t.Errorf("More actions: no space before the arrow")
	}
	look(adm, "link-menu")
	// Status badges break between words, never inside one.
	noBrokenWords := `[...document.querySelectorAll(".status")].every(s => {
  const r = document.createRange(); let off = 0;
  for (const w of s.textContent.split(" ")) { r.setStart(s.firstChild, off); r.setEnd(s.firstChild, off + w.length); off += w.length + 1;
    if (r.getClientRects().length > 1) return false; }
  return true; })`
	adm.Do(chromedp.EmulateViewport(375, 800, chromedp.EmulateMobile, chromedp.EmulatePortrait))
	for _, path := range []string{"/console/links", strings.TrimPrefix(linkURL, p.issuer)} {
		adm.Navigate(p.issuer + path)
		if !chrome.Must(adm, chromedp.Evaluate[bool](noBrokenWords)) {
			t.Errorf("%s: a status badge breaks inside a word at 375 px", path)
		}
	}
	adm.Do(chromedp.EmulateViewport(1280, 800))

	// Deleting it: the notice names the link.
	adm.Navigate(linkURL + "/delete")
	if st := adm.Submit("button.danger"); st != 200 || !strings.Contains(adm.Text(".notice"), "The link Build bot was deleted") {
		t.Errorf("after deleting: got %d %q, want the notice naming the link", st, adm.Text(".notice"))
	}
	look(adm, "deleted")

	// The user form: every mistake at once.
	adm.Navigate(p.issuer + "/console/users/new")
	adm.Type("#username", "bob smith")
	adm.Type("#password", "short")
	adm.Type("#email", "bob at example")
	adm.Focus("#email")
	if st := adm.Press(kb.Enter, true); st != 422 || adm.Text("#username-error") == "" || adm.Text("#password-error") != "Password must be at least 8 bytes long." ||
		adm.Text("#email-error") != "Email must be an address like name@example.com." {
		t.Errorf("user form: got %d, want the three errors: %s", st, adm.BodyText())
	}
	look(adm, "user-errors")
	// The password form of one's own account: both fields at once.
	adm.Navigate(p.issuer + "/console/users/root")
	adm.Type("#current_password", "not it")
	adm.Type("#new_password", "short")
	if st := adm.Press(kb.Enter, true); st != 422 || adm.Text("#current_password-error") == "" || adm.Text("#new_password-error") == "" {
		t.Errorf("password form: got %d, want both errors", st)
	}
	look(adm, "password-errors")
	// The identity provider form (refused before any discovery).
	adm.Navigate(p.issuer + "/console/identity-providers/new")
	adm.Type("#name", "Okta")
	adm.Type("#issuer", "http://okta.example.com")
	adm.Type("#client_secret", "s3cret")
	adm.Do(chromedp.SetValue(chromedp.CSS("#scopes"), "profile"))
	adm.Type("#email_domains", "example.com bad_domain")
	adm.Focus("#issuer")
	if st := adm.Press(kb.Enter, true); st != 422 || adm.Text("#client_id-error") != "Enter a client ID." || adm.Text("#scopes-error") != "Scopes must include openid." ||
		!strings.HasPrefix(adm.Text("#issuer-error"), "Issuer must be an https URL") || !strings.HasPrefix(adm.Text("#email_domains-error"), `The email domain "bad_domain"`) {
		t.Errorf("identity provider form: got %d, want every error: %s", st, adm.BodyText())
	}
	look(adm, "idp-errors")
	adm.CheckConsole()

	// An authorization request without client_id explains itself.
	alice := b.User("alice")
	if st := alice.Navigate(p.issuer + "/oauth2/authorize?response_type=code&scope=REPO_READ"); st != 400 || alice.Text("h1") != "The application did not say who it is" {
		t.Errorf("no client_id: got %d %q", st, alice.Text("h1"))
	}
	look(alice, "no-client-id")
}
