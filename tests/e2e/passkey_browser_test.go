package e2e

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/applinks/applinks/local/server"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store/storetest"
	chrome "github.com/applinks/applinks/tests/testkit/browser"
)

// startLocalhostProvider is startProvider with the issuer on localhost
// (the server listens on 127.0.0.1): passkeys are bound to a domain name,
// and a page at http://127.0.0.1:PORT cannot use one for the relying
// party localhost (ENGINES.md, "Passkeys in the real browser").
func startLocalhostProvider(t *testing.T, env map[string]string) *provider {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	issuer := "http://localhost:" + port
	vars := map[string]string{"ISSUER_URL": issuer, "ADMIN_TOKEN": adminToken}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.FromEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	h, err := server.New(context.Background(), cfg, storetest.DynamoLocal(t), slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return &provider{t: t, issuer: issuer, client: &http.Client{Timeout: 30 * time.Second}}
}

// authenticator is a virtual authenticator of Chromium's WebAuthn domain
// on one tab: a platform authenticator (CTAP2, internal transport) with
// resident keys and user verification that succeeds, presence simulated.
type authenticator struct {
	tab *chrome.Tab
	id  webauthn.AuthenticatorID
}

func addAuthenticator(tab *chrome.Tab) *authenticator {
	a := &authenticator{tab: tab}
	tab.Do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return err
		}
		res, err := cdp.Call(ctx, t, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
		}})
		a.id = res.AuthenticatorID
		return err
	}))
	return a
}

// credentials is how many credentials the authenticator holds.
func (a *authenticator) credentials() int {
	return len(chrome.Must(a.tab, chromedp.Action[[]*webauthn.Credential](func(ctx context.Context, t *chromedp.Target) ([]*webauthn.Credential, error) {
		res, err := cdp.Call(ctx, t, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: a.id})
		return res.Credentials, err
	})))
}

func (a *authenticator) setUserVerified(ok bool) {
	a.tab.Do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, webauthn.SetUserVerified, webauthn.SetUserVerifiedParams{AuthenticatorID: a.id, IsUserVerified: ok})
		return err
	}))
}

func (a *authenticator) clear() {
	a.tab.Do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, webauthn.ClearCredentials, webauthn.ClearCredentialsParams{AuthenticatorID: a.id})
		return err
	}))
}

// waitStatus waits until the passkey page's status line says something
// containing want, and returns it (no fixed sleep: a poll of the page).
func waitStatus(tab *chrome.Tab, want string) string {
	return chrome.Must(tab, chromedp.Poll[string](`(() => { const s = document.getElementById("passkey-status"); return s && s.textContent.includes(`+jsString(want)+`) ? s.textContent : null; })()`,
		chromedp.WithPollingTimeout(chrome.Timeout)))
}

func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// TestPasskeysInBrowser drives the console's passkeys in headless Chromium
// with its virtual authenticator, under ADMIN_MFA=required: the password
// alone does not sign in; an enrollment link from the admin API makes a
// passkey (by keyboard) and signs in; signing in again takes password and
// passkey; the confirmation takes the passkey; an authenticator that fails
// user verification, or no longer holds the passkey, fails at once and signs
// nobody in. Every page is captured at 375 and 1280 px and checked for
// sideways scrolling and console errors (CSP, script).
func TestPasskeysInBrowser(t *testing.T) {
	p := startLocalhostProvider(t, map[string]string{"ADMIN_MFA": "required"})
	const pass = "a long administrator password"
	p.admin("POST", "/admin/users", map[string]any{"username": "root", "password": pass, "name": "Rosa Admin"}, 201, nil)
	p.admin("PUT", "/admin/users/root/admin", map[string]any{"admin": true}, 200, nil)

	b := chrome.New(t)
	adm := b.User("admin")
	key := addAuthenticator(adm)
	look := func(name string) {
		t.Helper()
		adm.Screenshot(name)
		if adm.HorizontalOverflow(375) {
			t.Errorf("%s: the page scrolls sideways at 375 px", name)
		}
		adm.CheckConsole()
	}
	signInPassword := func() int {
		t.Helper()
		adm.Navigate(p.issuer + "/console/login")
		adm.Type("#username", "root")
		adm.Type("#password", pass)
		return adm.Submit("button[type=submit]")
	}

	// The password alone: no session, a page naming the enrollment call.
	if st := signInPassword(); st != http.StatusForbidden || adm.Text("h1") != "A passkey is needed" ||
		!strings.Contains(adm.BodyText(), "POST "+p.issuer+"/admin/users/root/admin/passkey-enrollment") {
		t.Fatalf("password alone under required: got %d %q, want the page naming the enrollment call", st, adm.Text("h1"))
	}
	look("passkey-needed")
	if st := adm.Navigate(p.issuer + "/console/links"); st != 200 || adm.Text("h1") != "Sign in to the console" {
		t.Fatalf("after the password alone: got %d %q, want the sign-in page (no session)", st, adm.Text("h1"))
	}

	// The enrollment link: the password, then the passkey, by keyboard.
	var link struct {
		URL       string `json:"url"`
		ExpiresAt string `json:"expires_at"`
	}
	p.admin("POST", "/admin/users/root/admin/passkey-enrollment", nil, 201, &link)
	if !strings.HasPrefix(link.URL, p.issuer+"/console/passkeys/enroll?token=") {
		t.Fatalf("enrollment link: got %q", link.URL)
	}
	if st := adm.Navigate(link.URL); st != 200 || adm.Text("h1") != "Set up a passkey for the console" {
		t.Fatalf("enrollment link: got %d %q", st, adm.Text("h1"))
	}
	look("enroll-password")
	adm.Type("#username", "root")
	adm.Type("#password", pass)
	if st := adm.Press(kb.Enter, true); st != 200 || adm.Text("h1") != "Set up your passkey" {
		t.Fatalf("enrollment password: got %d %q", st, adm.Text("h1"))
	}
	look("enroll-passkey")
	if got := adm.Focused(); got != "button#passkey-button" || !adm.FocusRingVisible() {
		t.Errorf("passkey page: focus on %s (ring %v), want the passkey button with a visible focus", got, adm.FocusRingVisible())
	}
	if st := adm.Press(kb.Enter, true); st != 200 || !strings.Contains(adm.URL(), "/console/users/root?passkey=added") {
		t.Fatalf("create the passkey: got %d at %s: %s", st, adm.URL(), adm.BodyText())
	}
	if n := key.credentials(); n != 1 {
		t.Errorf("the authenticator holds %d credentials, want 1", n)
	}
	if body := adm.BodyText(); !strings.Contains(body, "Your passkey is set up") || !strings.Contains(body, "Passkey 1") {
		t.Errorf("own page after enrollment: want the notice and the passkey listed: %s", body)
	}
	look("user-passkeys")
	// The link is spent.
	if st := adm.Navigate(link.URL); st != 404 {
		t.Errorf("the enrollment link again: got %d, want 404", st)
	}

	// Sign out, then password and passkey.
	adm.Navigate(p.issuer + "/console/links")
	adm.Submit(`form[action="/console/logout"] button`)
	if st := signInPassword(); st != 200 || adm.Text("h1") != "Use your passkey" {
		t.Fatalf("password with a passkey: got %d %q, want the passkey step", st, adm.Text("h1"))
	}
	look("login-passkey")
	if st := adm.Submit("#passkey-button"); st != 200 || !strings.HasSuffix(adm.URL(), "/console/links") {
		t.Fatalf("passkey sign-in: got %d at %s", st, adm.URL())
	}

	// The confirmation takes the passkey, and offers no password.
	if st := adm.Navigate(p.issuer + "/console/confirm?return_to=%2Fconsole%2Fkeys"); st != 200 || adm.Exists("#password") || !adm.Exists("#passkey-button") {
		t.Fatalf("confirmation under required: got %d, want the passkey and no password", st)
	}
	look("confirm")
	if st := adm.Submit("#passkey-button"); st != 200 || !strings.HasSuffix(adm.URL(), "/console/keys") {
		t.Fatalf("passkey confirmation: got %d at %s", st, adm.URL())
	}

	// User verification fails: the browser refuses at once, nobody is
	// signed in, the button works again.
	adm.Submit(`form[action="/console/logout"] button`)
	key.setUserVerified(false)
	if st := signInPassword(); st != 200 || adm.Text("h1") != "Use your passkey" {
		t.Fatalf("password: got %d %q", st, adm.Text("h1"))
	}
	adm.Click("#passkey-button")
	status := waitStatus(adm, "not used")
	look("login-passkey-refused")
	if !strings.HasSuffix(adm.URL(), "/console/login/passkey") || !chrome.Must(adm, chromedp.Evaluate[bool](`!document.getElementById("passkey-button").disabled`)) {
		t.Errorf("after a failed verification: at %s (status %q), want the passkey page with the button enabled", adm.URL(), status)
	}
	// Verification back: the same page's ceremony still signs in.
	key.setUserVerified(true)
	if st := adm.Submit("#passkey-button"); st != 200 || !strings.HasSuffix(adm.URL(), "/console/links") {
		t.Fatalf("passkey sign-in after a refusal: got %d at %s", st, adm.URL())
	}

	// The passkey removed from the authenticator: refused at once.
	adm.Submit(`form[action="/console/logout"] button`)
	key.clear()
	signInPassword()
	adm.Click("#passkey-button")
	waitStatus(adm, "not used")
	if st := adm.Navigate(p.issuer + "/console/links"); st != 200 || adm.Text("h1") != "Sign in to the console" {
		t.Errorf("after a passkey the authenticator no longer holds: got %d %q, want signed out", st, adm.Text("h1"))
	}
}

// TestPasskeysOptionalInBrowser: under ADMIN_MFA=optional an administrator
// signs in with the password, adds a passkey from their own page, is then
// asked for it after the password, and removes it again.
func TestPasskeysOptionalInBrowser(t *testing.T) {
	p := startLocalhostProvider(t, nil)
	const pass = "a long administrator password"
	p.admin("POST", "/admin/users", map[string]any{"username": "root", "password": pass}, 201, nil)
	p.admin("PUT", "/admin/users/root/admin", map[string]any{"admin": true}, 200, nil)
	b := chrome.New(t)
	adm := b.User("admin")
	key := addAuthenticator(adm)
	signIn := func() int {
		t.Helper()
		adm.Navigate(p.issuer + "/console/login")
		adm.Type("#username", "root")
		adm.Type("#password", pass)
		return adm.Submit("button[type=submit]")
	}
	if st := signIn(); st != 200 || !strings.HasSuffix(adm.URL(), "/console/links") {
		t.Fatalf("password alone under optional: got %d at %s, want signed in", st, adm.URL())
	}
	adm.Navigate(p.issuer + "/console/users/root")
	if st := adm.Submit(`a[href="/console/users/root/passkeys/add"]`); st != 200 || adm.Text("h1") != "Set up your passkey" {
		t.Fatalf("Add a passkey: got %d %q", st, adm.Text("h1"))
	}
	adm.Screenshot("add-passkey")
	if st := adm.Submit("#passkey-button"); st != 200 || !strings.HasSuffix(adm.URL(), "/console/users/root?passkey=added") || key.credentials() != 1 {
		t.Fatalf("create: got %d at %s, %d credentials", st, adm.URL(), key.credentials())
	}
	adm.Submit(`form[action="/console/logout"] button`)
	if st := signIn(); st != 200 || adm.Text("h1") != "Use your passkey" {
		t.Fatalf("password with a passkey: got %d %q, want the passkey step", st, adm.Text("h1"))
	}
	if st := adm.Submit("#passkey-button"); st != 200 || !strings.HasSuffix(adm.URL(), "/console/links") {
		t.Fatalf("passkey: got %d at %s", st, adm.URL())
	}
	// The confirmation offers both; the page has both forms.
	adm.Navigate(p.issuer + "/console/confirm?return_to=%2Fconsole%2Fkeys")
	if !adm.Exists("#passkey-button") || !adm.Exists("#password") {
		t.Errorf("confirmation under optional: want the passkey and the password")
	}
	adm.Screenshot("confirm-both")
	if adm.HorizontalOverflow(375) {
		t.Errorf("confirmation: the page scrolls sideways at 375 px")
	}
	adm.Navigate(p.issuer + "/console/users/root")
	if st := adm.Submit(`form[action^="/console/users/root/passkeys/"] button`); st != 200 || !strings.Contains(adm.BodyText(), "The passkey was removed.") {
		t.Fatalf("remove: got %d: %s", st, adm.BodyText())
	}
	adm.CheckConsole()
	adm.Submit(`form[action="/console/logout"] button`)
	if st := signIn(); st != 200 || !strings.HasSuffix(adm.URL(), "/console/links") {
		t.Errorf("after removing the passkey: got %d at %s, want signed in with the password", st, adm.URL())
	}
}
