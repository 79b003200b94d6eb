package authorize

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/applinks/applinks/shared/config"
)

// The pages as people meet them (issue 16): the provider's name, the
// application's, the first empty field focused, Cancel, one failure
// message, "Use another account", scopes in plain words with what they
// include, error pages that explain and name whom to ask, and a revoke that
// asks first.

func named(name, contact string) envOption {
	return func(c *config.Config) { c.ProviderName, c.SupportContact = name, contact }
}

// autofocused is the id of the element with the autofocus attribute ("" for
// none; "many" for more than one).
func autofocused(t *testing.T, body string) string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			if _, ok := attr(n, "autofocus"); ok {
				id, _ := attr(n, "id")
				found = append(found, id)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	switch len(found) {
	case 0:
		return ""
	case 1:
		return found[0]
	}
	return "many"
}

var (
	detailsBlock = regexp.MustCompile(`(?s)<details.*?</details>`)
	hiddenInputs = regexp.MustCompile(`<input type="hidden"[^>]*>`)
)

// outsideDetails is what body shows without its details elements (the
// secondary detail a person opens on purpose) and hidden inputs.
func outsideDetails(body string) string {
	return hiddenInputs.ReplaceAllString(detailsBlock.ReplaceAllString(body, ""), "")
}

func TestLoginPageNamesProviderAndApp(t *testing.T) {
	e := newEnv(t, named("Example Corp", ""))
	b := e.browser()
	r := b.get(authorizeURL(nil))
	p := checkPage(t, r)
	if p.Title != "Sign in to Example Corp" || !strings.Contains(p.Text, "Sign in to Example Corp to continue to Build <Bot> & Co") {
		t.Errorf("login page: title %q, text %q; want the provider and the application named", p.Title, p.Text)
	}
	if got := autofocused(t, r.body); got != "username" {
		t.Errorf("autofocus on %q, want username (the first empty field)", got)
	}
	f := p.form(t, "/oauth2/login")
	var cancel bool
	for _, bt := range f.Buttons {
		cancel = cancel || (bt.Name == "cancel" && bt.Value == "cancel")
	}
	if !cancel || !strings.Contains(r.body, `formnovalidate`) {
		t.Errorf("login page for an application has no Cancel button that skips validation: %+v", f.Buttons)
	}

	// A failed sign-in keeps the username and focuses the password; the
	// message asks to check what was typed, not to wait.
	fail := b.signIn(r, "alice", "wrong")
	fp := checkPage(t, fail)
	if !strings.Contains(fp.Text, msgLoginFailed) || strings.Contains(strings.ToLower(fp.Text), "later") {
		t.Errorf("failed sign-in text %q, want %q and no telling to wait", fp.Text, msgLoginFailed)
	}
	if got := autofocused(t, fail.body); got != "password" {
		t.Errorf("after a failure, autofocus on %q, want password", got)
	}
	if v, _ := fp.form(t, "/oauth2/login").get("username"); v != "alice" {
		t.Errorf("after a failure, username %q, want alice kept", v)
	}
	if strings.Contains(fail.body, `name="csrf" value=""`) {
		t.Error("failed sign-in page lost its CSRF token")
	}

	// The account page's sign-in says what the page is for and comes
	// back to it; it has no application to cancel to.
	acc := e.browser().get(accountPath)
	ap := checkPage(t, acc)
	if !strings.Contains(ap.Text, "to see the applications you have allowed to use your Example Corp account") {
		t.Errorf("signed-out account page text %q, want what the page is for", ap.Text)
	}
	af := ap.form(t, "/oauth2/login")
	if v, _ := af.get("return_to"); v != accountPath {
		t.Errorf("account sign-in return_to %q, want %s", v, accountPath)
	}
	if len(af.Buttons) != 1 {
		t.Errorf("account sign-in buttons %+v, want Sign in only", af.Buttons)
	}
}

func TestLoginFailuresLookAlike(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	page := b.get(authorizeURL(nil))
	texts := map[string]string{}
	for _, c := range []struct{ name, user, pw string }{
		{"wrong password", "alice", "wrong"},
		{"unknown user", "nobody", "wrong"},
		{"disabled user", "bob", alicePass},
	} {
		r := b.signIn(page, c.user, c.pw)
		if r.status != http.StatusOK {
			t.Fatalf("%s: status %d, want 200", c.name, r.status)
		}
		texts[c.name] = strings.ReplaceAll(parsePage(t, r.body).Text, c.user, "USER")
	}
	// Throttled: the right password after MaxLoginFailures failures.
	for i := 0; i < MaxLoginFailures; i++ {
		b.signIn(page, "alice", "wrong")
	}
	r := b.signIn(page, "alice", alicePass)
	if r.status != http.StatusOK {
		t.Fatalf("throttled: status %d, want the login page", r.status)
	}
	texts["throttled"] = strings.ReplaceAll(parsePage(t, r.body).Text, "alice", "USER")
	for name, text := range texts {
		if text != texts["wrong password"] {
			t.Errorf("%s shows %q, want the same page as a wrong password: %q", name, text, texts["wrong password"])
		}
	}
}

func TestCancelLogin(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	page := b.get(authorizeURL(nil))
	f := parsePage(t, page.body).form(t, "/oauth2/login")
	r := b.submit(f, "cancel=cancel", nil)
	if r.status != http.StatusSeeOther {
		t.Fatalf("cancel: status %d, want 303 to the application", r.status)
	}
	u := r.location(t)
	q := u.Query()
	if u.Scheme+"://"+u.Host+u.Path != appRedirect || q.Get("error") != "access_denied" || q.Get("state") != "st-123" || q.Get("iss") != testIssuer {
		t.Errorf("cancel: Location %s, want %s with error=access_denied, state and iss", u, appRedirect)
	}
	if b.sessionCookie() != "" {
		t.Error("cancel started a session")
	}

	// A request that is no longer valid (the link was disabled since) gets
	// the error page, never a redirect.
	f2 := parsePage(t, b.get(authorizeURL(map[string]string{"client_id": queryClient, "redirect_uri": queryRedir})).body).form(t, "/oauth2/login")
	e.fake.mu.Lock()
	l := e.fake.links[queryClient]
	l.Enabled = false
	e.fake.links[queryClient] = l
	e.fake.mu.Unlock()
	r = b.submit(f2, "cancel=cancel", nil)
	if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
		t.Errorf("cancel of a request whose link is disabled: status %d Location %q, want the 400 error page", r.status, r.header.Get("Location"))
	}
}

func TestConsentPageUX(t *testing.T) {
	e := newEnv(t, named("Example Corp", ""))
	b := e.browser()
	login := b.get(authorizeURL(map[string]string{"scope": "REPO_WRITE"}))
	if r := b.signIn(login, "alice", alicePass); r.status != http.StatusSeeOther {
		t.Fatalf("sign in: status %d", r.status)
	}
	r := b.get(authorizeURL(map[string]string{"scope": "REPO_WRITE"}))
	p := checkPage(t, r)
	for _, want := range []string{
		"Build <Bot> & Co wants to access your Example Corp account",
		"Signed in as alice. Not you? Use another account",
		"Update projects and repositories",
		"Includes: view projects and repositories; view public projects and repositories.",
		"After you choose, you will be sent back to app.example.com.",
	} {
		if !strings.Contains(p.Text, want) {
			t.Errorf("consent page lacks %q (text %q)", want, p.Text)
		}
	}
	if strings.Contains(outsideDetails(r.body), "REPO_") {
		t.Error("consent page shows a scope code outside its details element")
	}
	if !strings.Contains(r.body, "<code>REPO_WRITE</code>") {
		t.Error("consent page has no scope code as secondary detail")
	}
	if got := autofocused(t, r.body); got != "" {
		t.Errorf("consent page autofocuses %q, want nothing (no accidental Allow)", got)
	}
	f := p.form(t, "/oauth2/consent")
	if len(p.Forms) != 1 {
		t.Errorf("consent page has %d forms, want 1", len(p.Forms))
	}

	// "Use another account" signs out and shows the login page for the
	// same request.
	sw := b.submit(f, "account=switch", nil)
	if sw.status != http.StatusSeeOther {
		t.Fatalf("switch: status %d, want 303", sw.status)
	}
	if b.sessionCookie() != "" {
		t.Error("switch kept the session cookie")
	}
	loc := sw.location(t)
	if loc.Path != "/oauth2/authorize" || loc.Query().Get("client_id") != appClient || loc.Query().Get("state") != "st-123" {
		t.Fatalf("switch: Location %s, want the same authorization request", loc)
	}
	again := b.get(loc.String())
	if ap := checkPage(t, again); len(ap.Forms) != 1 || ap.Forms[0].Action != "/oauth2/login" {
		t.Fatalf("after switch: %q, want the login page", ap.Text)
	}
	// The old session is gone on the server too: replaying its cookie is
	// signed out.
	e.fake.mu.Lock()
	n := len(e.fake.sessions)
	e.fake.mu.Unlock()
	if n != 0 {
		t.Errorf("%d sessions after switch, want 0", n)
	}
}

func TestSelectAccount(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signIn(b.get(authorizeURL(nil)), "alice", alicePass)
	r := b.get(authorizeURL(map[string]string{"prompt": "select_account"}))
	p := checkPage(t, r)
	f := p.form(t, "/oauth2/login")
	if !strings.Contains(p.Text, "You are signed in as alice. Sign in with the account you want to use.") {
		t.Errorf("select_account page text %q, want the login page naming the current account", p.Text)
	}
	rt, _ := f.get("return_to")
	if strings.Contains(rt, "select_account") {
		t.Errorf("return_to %q keeps select_account (it would ask again forever)", rt)
	}
	// Signing in leads on to consent, not to the login page again.
	next := b.submit(f, "", map[string]string{"username": "alice", "password": alicePass})
	if next.status != http.StatusSeeOther {
		t.Fatalf("sign in: status %d", next.status)
	}
	c := b.get(next.header.Get("Location"))
	if cp := parsePage(t, c.body); len(cp.Forms) != 1 || cp.Forms[0].Action != "/oauth2/consent" {
		t.Errorf("after select_account sign-in: %q, want the consent page", cp.Text)
	}
}

func TestErrorPages(t *testing.T) {
	e := newEnv(t, named("Example Corp", "Call the service desk on ext. 4357."))
	b := e.browser()
	for _, c := range []struct {
		name, path, title string
		text              []string
		code, detail      string
	}{
		{"unknown application", authorizeURL(map[string]string{"client_id": "nope"}), "This application is not recognised",
			[]string{"does not know", "Go back to the application and try again."}, "invalid_request", "the application is unknown or disabled"},
		// No client_id at all has its own explanation: nothing is
		// unknown, the application did not say who it is.
		{"no client_id", "/oauth2/authorize?response_type=code&scope=REPO_READ&state=xyz", "The application did not say who it is",
			[]string{"did not say which application it is", "Go back to the application and start again from there."}, "invalid_request", "client_id is missing"},
		{"empty client_id", "/oauth2/authorize?client_id=&response_type=code", "The application did not say who it is",
			[]string{"did not say which application it is"}, "invalid_request", "client_id is missing"},
		{"nothing at all", "/oauth2/authorize", "The application did not say who it is",
			[]string{"did not say which application it is"}, "invalid_request", "client_id is missing"},
		{"unregistered redirect", authorizeURL(map[string]string{"redirect_uri": "https://evil.example/cb"}), "This sign-in link is not set up correctly",
			[]string{"not registered for Build <Bot> & Co", "Go back to Build <Bot> & Co"}, "invalid_request", "redirect_uri is missing or does not match"},
		{"broken link", "/oauth2/authorize?client_id=%zz", "This sign-in link is broken",
			[]string{"start signing in again"}, "invalid_request", "the query string is malformed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := b.get(c.path)
			if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
				t.Fatalf("status %d Location %q, want the 400 page", r.status, r.header.Get("Location"))
			}
			p := checkPage(t, r)
			if p.Title != c.title || !strings.HasPrefix(p.Text, "Example Corp "+c.title) {
				t.Errorf("title %q, text %q; want %q after the provider's name", p.Title, p.Text, c.title)
			}
			for _, w := range append(c.text, "Need help? Call the service desk on ext. 4357.", "Details for the application's developer") {
				if !strings.Contains(p.Text, w) {
					t.Errorf("page lacks %q (text %q)", w, p.Text)
				}
			}
			out := outsideDetails(r.body)
			if strings.Contains(out, c.code) || strings.Contains(out, c.detail) {
				t.Error("the OAuth code or description shows outside the developer's details")
			}
			if !strings.Contains(r.body, "<code>"+c.code+"</code>") || !strings.Contains(r.body, c.detail) {
				t.Error("the developer's details lack the code or the description")
			}
			if !strings.Contains(r.body, `class="brand"`) || !strings.Contains(r.body, "box-shadow") {
				t.Error("the error page does not share the other pages' frame")
			}
		})
	}
	// Without SUPPORT_CONTACT there is no help line.
	plain := newEnv(t).browser().get(authorizeURL(map[string]string{"client_id": "nope"}))
	if strings.Contains(plain.body, "Need help?") {
		t.Error("help line without SUPPORT_CONTACT")
	}
}

func TestAccountRevokeAsksFirst(t *testing.T) {
	e := newEnv(t)
	seedGrants(e)
	_, r := signInAccount(t, e)
	checkPage(t, r)
	// The form sits in a closed details element whose summary is the
	// first step; the second names the application and looks destructive.
	re := regexp.MustCompile(`(?s)<details class="confirm">\s*<summary>Revoke access…</summary>\s*<p>Revoke access for <strong>Build &lt;Bot&gt; &amp; Co</strong>\?.*?<form method="post" action="/account/authorizations/client-app/revoke">.*?<button type="submit" class="danger">Revoke access for Build &lt;Bot&gt; &amp; Co</button>\s*</form>\s*</details>`)
	if !re.MatchString(r.body) {
		t.Errorf("account page has no two-step revoke for the application:\n%s", r.body)
	}
	if strings.Contains(r.body, "<details class=\"confirm\" open") {
		t.Error("the confirmation step is open before it is asked for")
	}
	if strings.Contains(outsideDetails(r.body), "REPO_") || strings.Contains(outsideDetails(r.body), appClient) {
		t.Error("account page shows codes outside its details elements")
	}
}

func TestFormActionOfCancel(t *testing.T) {
	// Cancel answers with a redirect to the client: the login page's CSP
	// must allow the client's origin as a form-action target.
	e := newEnv(t)
	r := e.browser().get(authorizeURL(nil))
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://app.example.com") {
		t.Errorf("login page CSP %q, want form-action to allow https://app.example.com", csp)
	}
}

// TestPathDecoded: the function's paths are matched unescaped, a %2F
// separating segments as "/" does.
func TestPathDecoded(t *testing.T) {
	e := newEnv(t, named("Example Corp", ""))
	r := e.browser().get(strings.Replace(authorizeURL(nil), "/oauth2/authorize", "/oauth2%2Fauthorize", 1))
	if p := checkPage(t, r); p.Title != "Sign in to Example Corp" {
		t.Errorf("GET /oauth2%%2Fauthorize: got %d %q, want the sign-in page", r.status, p.Title)
	}
}
