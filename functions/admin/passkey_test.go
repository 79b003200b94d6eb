package admin

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/x509"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"
	nethtml "golang.org/x/net/html"

	"github.com/applinks/applinks/shared/clocktest"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
	"github.com/applinks/applinks/shared/web"
)

// The handler tests of passkeys answer the ceremonies with a software
// authenticator from a library (github.com/descope/virtualwebauthn: real
// keys, real signatures over the real challenge); the real browser's
// ceremonies are tests/e2e/passkey_browser_test.go's.

const passkeyIssuer = "http://localhost:8080"

// newPasskeyEnv is a console env on kumo whose issuer has a domain name
// (localhost), with ADMIN_MFA=mfa.
func newPasskeyEnv(t *testing.T, mfa string) *consoleEnv {
	t.Helper()
	cfg, err := config.FromEnv(func(k string) string {
		return map[string]string{"ISSUER_URL": passkeyIssuer, "ADMIN_MFA": mfa}[k]
	})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	st := storetest.Kumo(t)
	e := &env{t: t, st: st, keys: &fakeKeys{}, clock: clocktest.New(time.Now().UTC().Truncate(time.Second)), cfg: cfg}
	h, err := New(Options{Config: cfg, Store: st, Keys: e.keys, Auth: BearerToken(testToken), Now: e.clock.Now})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.h = web.Middleware(h, slog.New(slog.NewJSONHandler(&e.logs, nil)), nil)
	return &consoleEnv{env: e, st: st}
}

// softKey is a software authenticator holding one passkey.
type softKey struct {
	t    *testing.T
	rp   virtualwebauthn.RelyingParty
	auth virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

func newSoftKey(t *testing.T, opts virtualwebauthn.AuthenticatorOptions) *softKey {
	return &softKey{t: t, rp: virtualwebauthn.RelyingParty{ID: "localhost", Name: "localhost administration", Origin: passkeyIssuer},
		auth: virtualwebauthn.NewAuthenticatorWithOptions(opts), cred: newP256Credential(t)}
}

// newP256Credential is a credential of a P-256 key whose coordinates both
// take 32 bytes. virtualwebauthn v1.0.3 writes a coordinate with
// big.Int.Bytes, which drops leading zero bytes, and go-webauthn rightly
// refuses a COSE key whose x or y is shorter than the curve's size: with a
// key of its own making, about one registration in 64 failed ("EC2 key x or
// y coordinate has invalid length", 3 of 450 runs). A real authenticator
// pads them.
func newP256Credential(t *testing.T) virtualwebauthn.Credential {
	t.Helper()
	for {
		k, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if len(k.X.Bytes()) != 32 || len(k.Y.Bytes()) != 32 {
			continue
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return virtualwebauthn.NewCredentialWithImportedKey(virtualwebauthn.KeyTypeEC2, der)
	}
}

var passkeyOptions = regexp.MustCompile(`data-options="([^"]*)"`)

// optionsOf is the ceremony options of a page's passkey form.
func optionsOf(t *testing.T, body string) string {
	t.Helper()
	m := passkeyOptions.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no passkey form on the page: %s", body)
	}
	return html.UnescapeString(m[1])
}

var passkeyCSRF = regexp.MustCompile(`id="passkey-form"[^>]*>\s*<input type="hidden" name="csrf" value="([^"]+)"`)

// passkeyCSRFOf is the CSRF token of a page's passkey form.
func passkeyCSRFOf(t *testing.T, body string) string {
	t.Helper()
	m := passkeyCSRF.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no passkey form CSRF on the page: %s", body)
	}
	return m[1]
}

// create answers a registration page as the browser would.
func (k *softKey) create(body string) string {
	k.t.Helper()
	o, err := virtualwebauthn.ParseAttestationOptions(optionsOf(k.t, body))
	if err != nil {
		k.t.Fatalf("registration options: %v", err)
	}
	return virtualwebauthn.CreateAttestationResponse(k.rp, k.auth, k.cred, *o)
}

// get answers an authentication page as the browser would.
func (k *softKey) get(body string) string {
	k.t.Helper()
	o, err := virtualwebauthn.ParseAssertionOptions(optionsOf(k.t, body))
	if err != nil {
		k.t.Fatalf("authentication options: %v", err)
	}
	return virtualwebauthn.CreateAssertionResponse(k.rp, k.auth, k.cred, *o)
}

// enrollmentURL asks the admin API for an enrollment link of username.
func (e *consoleEnv) enrollmentURL(username string) string {
	e.t.Helper()
	body := e.do(http.StatusCreated, http.MethodPost, "/admin/users/"+username+"/admin/passkey-enrollment", "")
	u, _ := body["url"].(string)
	exp, err := time.Parse(time.RFC3339, body["expires_at"].(string))
	if !strings.HasPrefix(u, passkeyIssuer+"/console/passkeys/enroll?token=") || err != nil || !exp.Equal(e.clock.Now().Add(EnrollmentTTL)) {
		e.t.Fatalf("enrollment: got %v, want a link on the issuer ending in 15 minutes", body)
	}
	return strings.TrimPrefix(u, passkeyIssuer)
}

// openEnrollment opens an enrollment link and signs in with the password:
// the answer is the redirect to the passkey's page (on success).
func (b *consoleBrowser) openEnrollment(link, username, pw string) resp {
	b.e.t.Helper()
	r := b.get(link)
	if r.status != http.StatusOK || !strings.Contains(r.body, "Set up a passkey for the console") {
		b.e.t.Fatalf("enrollment link: got %d %s", r.status, r.body)
	}
	token, _ := url.ParseQuery(strings.SplitN(link, "?", 2)[1])
	return b.post(consoleEnrollPath, url.Values{"csrf": {csrfOf(b.e.t, r.body)}, "token": {token.Get("token")}, "username": {username}, "password": {pw}})
}

// passkeyStep opens the second step's page, answers it with answer(page)
// and returns the post's answer.
func (b *consoleBrowser) passkeyStep(answer func(string) string) resp {
	b.e.t.Helper()
	r := b.get(consolePasskeyPath)
	if r.status != http.StatusOK || !strings.Contains(r.body, `id="passkey-form"`) {
		b.e.t.Fatalf("passkey step: got %d %s", r.status, r.body)
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'sha256-") {
		b.e.t.Errorf("passkey step: CSP %q allows no script", csp)
	}
	return b.post(consolePasskeyPath, url.Values{"csrf": {passkeyCSRFOf(b.e.t, r.body)}, "credential": {answer(r.body)}})
}

// signedIn reports whether the browser's console cookie opens the console.
func (b *consoleBrowser) signedIn() bool {
	b.e.t.Helper()
	return b.get("/console/links").status == http.StatusOK
}

// enroll sets up key for username through a fresh enrollment link.
func (e *consoleEnv) enroll(username string, key *softKey) *consoleBrowser {
	e.t.Helper()
	b := e.browser()
	if r := b.openEnrollment(e.enrollmentURL(username), username, consolePass); r.status != http.StatusSeeOther || r.location() != consolePasskeyPath {
		e.t.Fatalf("enrollment password: got %d to %q, want the passkey step", r.status, r.location())
	}
	if r := b.passkeyStep(key.create); r.status != http.StatusSeeOther || r.location() != "/console/users/"+username+"?passkey=added" {
		e.t.Fatalf("enrollment: got %d to %q: %s", r.status, r.location(), r.body)
	}
	return b
}

// sessions counts the console sign-ins so far.
func (e *consoleEnv) sessions() int {
	e.t.Helper()
	return len(e.audits("console_signed_in"))
}

// TestPasskeyRequiredPasswordAlone: under ADMIN_MFA=required an
// administrator's right password without a passkey opens no session: a
// page names the admin API call that issues an enrollment link.
func TestPasskeyRequiredPasswordAlone(t *testing.T) {
	e := newPasskeyEnv(t, config.AdminMFARequired)
	e.user("alice", true)
	b := e.browser()
	r := b.signInForm("/console/links", "alice", consolePass)
	if r.status != http.StatusForbidden || !strings.Contains(r.body, "A passkey is needed") ||
		!strings.Contains(r.body, "POST "+passkeyIssuer+"/admin/users/alice/admin/passkey-enrollment") {
		t.Errorf("password alone under required: got %d %s, want the page naming the enrollment call", r.status, r.body)
	}
	if b.cookies["console"] != nil || b.signedIn() || e.sessions() != 0 {
		t.Errorf("password alone under required: a console session was created (cookie %v)", b.cookies["console"])
	}
	// The second step's page without a ceremony: back to the sign-in.
	if r := b.get(consolePasskeyPath); r.status != http.StatusOK || !strings.Contains(r.body, msgPasskeyExpired) {
		t.Errorf("passkey step without a ceremony: got %d, want the sign-in page saying it expired", r.status)
	}
	// A wrong password still gets the one failure message.
	if r := e.browser().signInForm("/console/links", "alice", "wrong password"); !strings.Contains(r.body, msgConsoleLoginFailed) {
		t.Errorf("wrong password under required: got %d, want the failure message", r.status)
	}
}

// TestPasskeyEnrollment: the admin API issues a one-time link for an
// administrator (404 for no user, 409 for a non-administrator); the link
// needs the user's own password, then a passkey made with user
// verification; it signs in, and cannot be used again, even by a second
// browser that passed the password step before the first finished.
func TestPasskeyEnrollment(t *testing.T) {
	e := newPasskeyEnv(t, config.AdminMFARequired)
	e.user("alice", true)
	e.user("carol", true)
	e.user("bob", false)
	checkError(t, e.do(http.StatusNotFound, http.MethodPost, "/admin/users/nobody/admin/passkey-enrollment", ""), "not_found", "no user")
	checkError(t, e.do(http.StatusConflict, http.MethodPost, "/admin/users/bob/admin/passkey-enrollment", ""), "conflict", "not an administrator")
	if w := e.serve(req(http.MethodPost, "/admin/users/alice/admin/passkey-enrollment", "", "Authorization", "")); w.Code != http.StatusUnauthorized {
		t.Errorf("enrollment without the admin token: got %d, want 401", w.Code)
	}

	link := e.enrollmentURL("alice")
	// The link alone is not enough: a wrong password, another
	// administrator's right one.
	for _, tc := range []struct{ user, pw string }{{"alice", "wrong password"}, {"carol", consolePass}} {
		if r := e.browser().openEnrollment(link, tc.user, tc.pw); r.status != http.StatusOK || !strings.Contains(r.body, msgConsoleLoginFailed) {
			t.Errorf("enrollment link with %s's password %q: got %d, want the failure message", tc.user, tc.pw, r.status)
		}
	}
	// No link, a made-up one: refused before any password.
	for _, bad := range []string{consoleEnrollPath, consoleEnrollPath + "?token=x", consoleEnrollPath + "?token=" + strings.Repeat("A", 43)} {
		if r := e.browser().get(bad); r.status != http.StatusNotFound || !strings.Contains(r.body, "This link does not work") {
			t.Errorf("GET %s: got %d, want 404", bad, r.status)
		}
	}
	// The password alone, with the form's CSRF token but no link (or a
	// made-up one), begins no enrollment.
	for _, token := range []string{"", strings.Repeat("A", 43)} {
		b := e.browser()
		page := b.get(e.enrollmentURL("carol"))
		r := b.post(consoleEnrollPath, url.Values{"csrf": {csrfOf(t, page.body)}, "token": {token}, "username": {"alice"}, "password": {consolePass}})
		if r.status != http.StatusNotFound || b.cookies["console_passkey"] != nil {
			t.Errorf("enrollment post with the token %q and alice's password: got %d to %q, want 404 and no passkey step", token, r.status, r.location())
		}
	}

	// Two browsers pass the password step with the same link.
	first, second := e.browser(), e.browser()
	for _, b := range []*consoleBrowser{first, second} {
		if r := b.openEnrollment(link, "alice", consolePass); r.status != http.StatusSeeOther || r.location() != consolePasskeyPath {
			t.Fatalf("enrollment password: got %d to %q, want the passkey step", r.status, r.location())
		}
		if b.cookies["console"] != nil {
			t.Fatalf("the password step of an enrollment signed in")
		}
	}
	// A passkey without user verification is refused; the link stays.
	noUV := newSoftKey(t, virtualwebauthn.AuthenticatorOptions{UserNotVerified: true})
	if r := first.passkeyStep(noUV.create); r.status != http.StatusBadRequest || first.cookies["console"] != nil {
		t.Errorf("registration without user verification: got %d (cookie %v), want 400 and no session", r.status, first.cookies["console"])
	}
	if r := first.openEnrollment(link, "alice", consolePass); r.status != http.StatusSeeOther {
		t.Fatalf("the link after a refused registration: got %d, want it still usable", r.status)
	}
	key := newSoftKey(t, virtualwebauthn.AuthenticatorOptions{})
	if r := first.passkeyStep(key.create); r.status != http.StatusSeeOther || r.location() != "/console/users/alice?passkey=added" {
		t.Fatalf("registration: got %d to %q: %s", r.status, r.location(), r.body)
	}
	if !first.signedIn() {
		t.Fatalf("after the enrollment: not signed in")
	}
	if r := first.get("/console/users/alice?passkey=added"); !strings.Contains(r.body, "Your passkey is set up") || !strings.Contains(r.body, `id="passkeys"`) {
		t.Errorf("own page after enrollment: want the notice and the passkeys listed: %s", r.body)
	}
	// The link is used: the second browser's registration and a reopening
	// are refused, and no second passkey exists.
	other := newSoftKey(t, virtualwebauthn.AuthenticatorOptions{})
	if r := second.passkeyStep(other.create); r.status != http.StatusConflict || second.cookies["console"] != nil {
		t.Errorf("a second registration with a used link: got %d (cookie %v), want 409 and no session", r.status, second.cookies["console"])
	}
	if r := e.browser().get(link); r.status != http.StatusNotFound {
		t.Errorf("reopening a used link: got %d, want 404", r.status)
	}
	u, _ := e.st.GetUserByName(context.Background(), "alice")
	if keys, err := e.st.GetPasskeys(context.Background(), u.ID); err != nil || len(keys) != 1 {
		t.Errorf("after two registrations with one link: got %d passkeys (%v), want 1", len(keys), err)
	}
	if n := len(e.audits("passkey_enrollment_issued")); n != 3 {
		t.Errorf("got %d passkey_enrollment_issued events, want 3 (alice's, carol's twice)", n)
	}
	if ev := e.audits("passkey_enrolled"); len(ev) != 1 || ev[0]["username"] != "alice" || ev[0]["via"] != "enrollment_link" {
		t.Errorf("passkey_enrolled events: got %v, want one for alice through the link", ev)
	}
	if ev := e.audits("console_signed_in"); len(ev) != 1 || ev[0]["method"] != "password+passkey" {
		t.Errorf("console_signed_in events: got %v, want one with password+passkey", ev)
	}
}

// TestPasskeySignIn: with a passkey, the right password is only the first
// step; a verified assertion of the passkey signs in. An assertion without
// user verification, of another key, replayed, or answering another
// browser's challenge signs nobody in.
func TestPasskeySignIn(t *testing.T) {
	e := newPasskeyEnv(t, config.AdminMFARequired)
	e.user("alice", true)
	key := newSoftKey(t, virtualwebauthn.AuthenticatorOptions{})
	e.enroll("alice", key)

	b := e.browser()
	if r := b.signInForm("/console/keys", "alice", consolePass); r.status != http.StatusSeeOther || r.location() != consolePasskeyPath || b.cookies["console"] != nil {
		t.Fatalf("password of an administrator with a passkey: got %d to %q (cookie %v), want the passkey step and no session", r.status, r.location(), b.cookies["console"])
	}
	var answered string
	r := b.passkeyStep(func(page string) string { answered = key.get(page); return answered })
	if r.status != http.StatusSeeOther || r.location() != "/console/keys" || !b.signedIn() {
		t.Fatalf("passkey: got %d to %q, want signed in and back to /console/keys", r.status, r.location())
	}
	// The same answer again, from a browser that passed the password
	// step: another challenge, refused.
	replay := e.browser()
	replay.signInForm("/console/links", "alice", consolePass)
	if r := replay.passkeyStep(func(string) string { return answered }); r.status != http.StatusOK || !strings.Contains(r.body, msgPasskeyRefused) || replay.signedIn() {
		t.Errorf("a replayed assertion: got %d, want refused", r.status)
	}
	for name, answer := range map[string]func(string) string{
		"without user verification": func(page string) string {
			k := *key
			k.auth = virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserNotVerified: true})
			return k.get(page)
		},
		"of a key not enrolled": newSoftKey(t, virtualwebauthn.AuthenticatorOptions{}).get,
		"of another origin": func(page string) string {
			k := *key
			k.rp.Origin = "http://evil.localhost:8080"
			return k.get(page)
		},
		"empty":     func(string) string { return "" },
		"malformed": func(string) string { return `{"id":"x"}` },
	} {
		b := e.browser()
		b.signInForm("/console/links", "alice", consolePass)
		if r := b.passkeyStep(answer); r.status != http.StatusOK || !strings.Contains(r.body, msgPasskeyRefused) || b.signedIn() {
			t.Errorf("an assertion %s: got %d, want refused and no session", name, r.status)
		}
		// The ceremony is spent: a right answer to its page now fails.
		if r := b.post(consolePasskeyPath, url.Values{"csrf": {"x"}, "credential": {"{}"}}); !strings.Contains(r.body, msgPasskeyExpired) {
			t.Errorf("after an assertion %s: the step is still open", name)
		}
	}
	// One browser's challenge answered with another browser's cookie: the
	// answer is bound to the first ceremony's challenge.
	b1, b2 := e.browser(), e.browser()
	b1.signInForm("/console/links", "alice", consolePass)
	b2.signInForm("/console/links", "alice", consolePass)
	page1 := b1.get(consolePasskeyPath)
	if r := b2.passkeyStep(func(string) string { return key.get(page1.body) }); !strings.Contains(r.body, msgPasskeyRefused) || b2.signedIn() {
		t.Errorf("an answer to another browser's challenge: got %d, want refused", r.status)
	}
	if ev := e.audits("console_signed_in"); len(ev) != 2 {
		t.Errorf("got %d sign-ins, want 2 (the enrollment and the passkey sign-in)", len(ev))
	}
}

// TestPasskeyConfirm: under required, the confirmation page offers the
// passkey and no password; a password post does not confirm; a verified
// assertion does.
func TestPasskeyConfirm(t *testing.T) {
	e := newPasskeyEnv(t, config.AdminMFARequired)
	e.user("alice", true)
	key := newSoftKey(t, virtualwebauthn.AuthenticatorOptions{})
	e.enroll("alice", key)
	cookie, csrf := e.signIn("alice", 20*time.Minute) // confirmed 20 minutes ago
	r := e.get(cookie, "/console/keys")
	if r.status != http.StatusOK {
		t.Fatalf("keys page: got %d", r.status)
	}
	if r := e.post(cookie, "/console/keys/rotate", url.Values{"csrf": {csrf}}); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/console/confirm?") {
		t.Fatalf("a stale rotation: got %d to %q, want the confirmation", r.status, r.location())
	}
	page := e.get(cookie, "/console/confirm?return_to=%2Fconsole%2Fkeys")
	if page.status != http.StatusOK || !strings.Contains(page.body, `id="passkey-form"`) || strings.Contains(page.body, `name="password"`) {
		t.Fatalf("confirmation under required: got %d, want the passkey and no password: %s", page.status, page.body)
	}
	if r := e.post(cookie, "/console/confirm", url.Values{"csrf": {csrf}, "return_to": {"/console/keys"}, "password": {consolePass}}); r.status != http.StatusOK || !strings.Contains(r.body, "Confirm with your passkey") {
		t.Errorf("a password confirmation under required: got %d %q, want refused", r.status, r.location())
	}
	if r := e.post(cookie, "/console/keys/rotate", url.Values{"csrf": {csrf}}); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/console/confirm?") {
		t.Errorf("after a password confirmation under required: got %d to %q, want still unconfirmed", r.status, r.location())
	}
	page = e.get(cookie, "/console/confirm?return_to=%2Fconsole%2Fkeys")
	r = e.post(cookie, "/console/confirm/passkey", url.Values{"csrf": {csrf}, "return_to": {"/console/keys"}, "credential": {key.get(page.body)}})
	if r.status != http.StatusSeeOther || r.location() != "/console/keys" {
		t.Fatalf("passkey confirmation: got %d to %q: %s", r.status, r.location(), r.body)
	}
	if r := e.post(cookie, "/console/keys/rotate", url.Values{"csrf": {csrf}}); r.status != http.StatusSeeOther || r.location() != "/console/keys?rotated=1" && strings.HasPrefix(r.location(), "/console/confirm") {
		t.Errorf("after a passkey confirmation: got %d to %q, want the rotation", r.status, r.location())
	}
	// Another key's assertion does not confirm.
	e.clock.Add(ConfirmTTL)
	page = e.get(cookie, "/console/confirm?return_to=%2Fconsole%2Fkeys")
	stranger := newSoftKey(t, virtualwebauthn.AuthenticatorOptions{})
	if r := e.post(cookie, "/console/confirm/passkey", url.Values{"csrf": {csrf}, "credential": {stranger.get(page.body)}}); r.status != http.StatusOK || !strings.Contains(r.body, "was not accepted") {
		t.Errorf("a stranger's passkey confirmation: got %d, want refused", r.status)
	}
	if ev := e.audits("console_confirmed"); len(ev) != 1 || ev[0]["method"] != "passkey" {
		t.Errorf("console_confirmed events: got %v, want one by passkey", ev)
	}
}

// TestPasskeyRemoval: DELETE /admin/users/{u}/admin/passkeys removes the
// passkeys and ends the user's console session at once; the next sign-in
// under required needs a new enrollment link.
func TestPasskeyRemoval(t *testing.T) {
	e := newPasskeyEnv(t, config.AdminMFARequired)
	e.user("alice", true)
	key := newSoftKey(t, virtualwebauthn.AuthenticatorOptions{})
	b := e.enroll("alice", key)
	e.clock.Add(time.Second)
	if w := e.serve(req(http.MethodDelete, "/admin/users/alice/admin/passkeys", "")); w.Code != http.StatusNoContent {
		t.Fatalf("DELETE passkeys: got %d %s", w.Code, w.Body.String())
	}
	if b.signedIn() {
		t.Errorf("after DELETE passkeys: the console session still opens the console")
	}
	if r := e.browser().signInForm("/console/links", "alice", consolePass); r.status != http.StatusForbidden || !strings.Contains(r.body, "A passkey is needed") {
		t.Errorf("sign-in after the reset: got %d, want the page asking for an enrollment link", r.status)
	}
	if ev := e.audits("passkeys_removed"); len(ev) != 1 || ev[0]["count"] != float64(1) {
		t.Errorf("passkeys_removed events: got %v, want one of 1 passkey", ev)
	}
	checkError(t, e.do(http.StatusNotFound, http.MethodDelete, "/admin/users/nobody/admin/passkeys", ""), "not_found", "no user")
}

// TestPasskeyOptional: under optional an administrator signs in with the
// password alone until they add a passkey from their own page (after a
// fresh confirmation); then the passkey is asked for; they may remove
// their own, never another's. Under required the console adds none.
func TestPasskeyOptional(t *testing.T) {
	e := newPasskeyEnv(t, config.AdminMFAOptional)
	e.user("alice", true)
	e.user("carol", true)
	b := e.browser()
	if r := b.signInForm("/console/links", "alice", consolePass); r.status != http.StatusSeeOther || r.location() != "/console/links" {
		t.Fatalf("password alone under optional: got %d to %q, want signed in", r.status, r.location())
	}
	page := b.get("/console/users/alice")
	if !strings.Contains(page.body, "You have no passkey") || !strings.Contains(page.body, `href="/console/users/alice/passkeys/add"`) {
		t.Fatalf("own page: want no passkey and Add a passkey: %s", page.body)
	}
	key := newSoftKey(t, virtualwebauthn.AuthenticatorOptions{})
	add := b.get("/console/users/alice/passkeys/add")
	if add.status != http.StatusOK || !strings.Contains(add.body, `data-ceremony="create"`) {
		t.Fatalf("add a passkey: got %d %s", add.status, add.body)
	}
	r := b.post("/console/users/alice/passkeys/add", url.Values{"csrf": {passkeyCSRFOf(t, add.body)}, "credential": {key.create(add.body)}})
	if r.status != http.StatusSeeOther || r.location() != "/console/users/alice?passkey=added" {
		t.Fatalf("add: got %d to %q: %s", r.status, r.location(), r.body)
	}
	// Now the password is only the first step.
	b2 := e.browser()
	if r := b2.signInForm("/console/links", "alice", consolePass); r.location() != consolePasskeyPath || b2.cookies["console"] != nil {
		t.Fatalf("password with a passkey under optional: got %d to %q, want the passkey step", r.status, r.location())
	}
	if r := b2.passkeyStep(key.get); r.status != http.StatusSeeOther || !b2.signedIn() {
		t.Fatalf("passkey under optional: got %d", r.status)
	}
	// Either confirms: the page offers both.
	e.clock.Add(ConfirmTTL)
	if p := b2.get("/console/confirm?return_to=%2Fconsole%2Fkeys"); !strings.Contains(p.body, `id="passkey-form"`) || !strings.Contains(p.body, `name="password"`) {
		t.Errorf("confirmation under optional with a passkey: want both the passkey and the password")
	}
	// Another administrator cannot add or remove alice's.
	cookie, csrf := e.signIn("carol", 0)
	keys, _ := e.st.GetPasskeys(context.Background(), "uid-alice")
	if len(keys) != 1 {
		t.Fatalf("alice has %d passkeys, want 1", len(keys))
	}
	if r := e.get(cookie, "/console/users/alice/passkeys/add"); r.status != http.StatusForbidden {
		t.Errorf("carol adds to alice: got %d, want 403", r.status)
	}
	if r := e.post(cookie, "/console/users/alice/passkeys/"+keys[0].ID+"/remove", url.Values{"csrf": {csrf}}); r.status != http.StatusForbidden {
		t.Errorf("carol removes alice's: got %d, want 403", r.status)
	}
	if r := e.get(cookie, "/console/users/alice"); !strings.Contains(r.body, "Passkey 1") || strings.Contains(r.body, "/remove") {
		t.Errorf("alice's page for carol: want the passkey listed without Remove")
	}
	// Alice removes her own, after a fresh confirmation: the password
	// alone signs in again.
	pageOwn := b2.get("/console/users/alice")
	remove := "/console/users/alice/passkeys/" + url.PathEscape(keys[0].ID) + "/remove"
	if r := b2.post(remove, url.Values{"csrf": {csrfOf(t, pageOwn.body)}}); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/console/confirm?") {
		t.Fatalf("a stale removal: got %d to %q, want the confirmation", r.status, r.location())
	}
	if r := b2.post("/console/confirm", url.Values{"csrf": {csrfOf(t, pageOwn.body)}, "return_to": {"/console/users/alice"}, "password": {consolePass}}); r.status != http.StatusSeeOther {
		t.Fatalf("password confirmation under optional: got %d", r.status)
	}
	r = b2.post(remove, url.Values{"csrf": {csrfOf(t, pageOwn.body)}})
	if r.status != http.StatusSeeOther || r.location() != "/console/users/alice?passkey=removed" {
		t.Fatalf("remove own: got %d to %q: %s", r.status, r.location(), r.body)
	}
	if r := e.browser().signInForm("/console/links", "alice", consolePass); r.location() != "/console/links" {
		t.Errorf("after removing the passkey: got %d to %q, want signed in with the password", r.status, r.location())
	}
	if n, m := len(e.audits("passkey_enrolled")), len(e.audits("passkey_removed")); n != 1 || m != 1 {
		t.Errorf("got %d passkey_enrolled and %d passkey_removed events, want 1 and 1", n, m)
	}

	// Under required the console neither adds nor removes.
	req := newPasskeyEnv(t, config.AdminMFARequired)
	req.user("dave", true)
	dc, _ := req.signIn("dave", 0)
	if r := req.get(dc, "/console/users/dave/passkeys/add"); r.status != http.StatusForbidden || !strings.Contains(r.body, "enrollment link") {
		t.Errorf("adding a passkey in the console under required: got %d, want 403", r.status)
	}
}

// TestPasskeysNeedADomain: with an issuer whose host is an IP address
// (the default), the console offers no passkeys and the admin API issues
// no enrollment link.
func TestPasskeysNeedADomain(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	checkError(t, e.do(http.StatusConflict, http.MethodPost, "/admin/users/alice/admin/passkey-enrollment", ""), "conflict", "domain")
	cookie, _ := e.signIn("alice", 0)
	if r := e.get(cookie, "/console/users/alice"); strings.Contains(r.body, `id="passkeys"`) {
		t.Errorf("user page with an IP issuer: want no passkeys section")
	}
	if r := e.get(cookie, "/console/confirm?return_to=%2Fconsole%2Fkeys"); strings.Contains(r.body, "passkey-form") || !strings.Contains(r.body, "Confirm your password") {
		t.Errorf("confirmation with an IP issuer: want the password alone")
	}
	if _, err := New(Options{Config: config.Config{Issuer: "http://127.0.0.1:8080", AdminMFA: config.AdminMFARequired, Catalog: e.cfg.Catalog, AccessTokenTTL: time.Hour},
		Store: e.st, Keys: e.keys, Auth: BearerToken(testToken)}); err == nil {
		t.Errorf("New with ADMIN_MFA=required and an IP issuer: no error")
	}
}

// TestPasskeyPagesEscape: hostile values (options, a display name in them,
// usernames, messages) land escaped on every passkey page; the options
// reach the script's data attribute intact; each page has one script, the
// passkey ceremony's, allowed by its hash.
func TestPasskeyPagesEscape(t *testing.T) {
	const v = `"'><script>alert(1)</script><!--`
	options := `{"challenge":"abc","user":{"name":"` + strings.ReplaceAll(v, `"`, `\"`) + `"}}`
	form := passkeyFormData{Action: v, CSRF: v, Options: options, Cancel: v, Intro: v, Label: v, Error: v}
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	pages := map[string]func(w http.ResponseWriter){
		"step": func(w http.ResponseWriter) { renderPasskeyPage(w, 200, frame{Title: v}, form) },
		"confirm": func(w http.ResponseWriter) {
			renderConsole(w, 200, frame{Title: v, Passkey: true}, confirmPage, confirmData{CSRF: v, ReturnTo: v, Error: v, Password: true, Passkey: &form})
		},
		"enroll": func(w http.ResponseWriter) {
			renderConsole(w, 200, frame{Title: v}, enrollFormPage, enrollFormData{Token: v, CSRF: v, Username: v, Error: v})
		},
		"needed": func(w http.ResponseWriter) {
			renderConsole(w, 200, frame{Title: v}, passkeyNeededPage, passkeyNeededData{Text: v, Endpoint: v})
		},
		"section": func(w http.ResponseWriter) {
			renderConsole(w, 200, frame{Title: v}, writePasskeySection, &passkeySection{Self: true, CSRF: v, Username: v,
				Keys: []store.Passkey{{ID: v, CreatedAt: at, LastUsedAt: at}}})
		},
	}
	for name, p := range pages {
		w := httptest.NewRecorder()
		p(w)
		body := w.Body.String()
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<!--") {
			t.Errorf("%s: got a page with the value's raw markup", name)
		}
		if n := strings.Count(body, "<script>"); n > 1 || n == 1 && !strings.Contains(body, "<script>"+passkeyScript+"</script>") {
			t.Errorf("%s: got %d scripts, want the passkey script at most", name, n)
		}
		doc, err := nethtml.Parse(strings.NewReader(body))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		found := 0
		var walk func(*nethtml.Node)
		walk = func(n *nethtml.Node) {
			for _, a := range n.Attr {
				if a.Key != "data-options" {
					continue
				}
				found++
				if a.Val != options {
					t.Errorf("%s: data-options parsed as %q, want %q", name, a.Val, options)
				}
			}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
		}
		walk(doc)
		if want := name == "step" || name == "confirm"; want != (found == 1) {
			t.Errorf("%s: got %d passkey forms with options", name, found)
		}
	}
}
