package admin

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/page"
	"github.com/applinks/applinks/shared/password"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// The console's own sign-in. The admin function checks the password itself
// and writes the session itself (store.ConsoleSession, CONSOLE# items that
// neither the authorize nor the token function may write), so a session of
// the end users' pages, or anything a compromised authorize function could
// write, never opens the console.

const (
	consoleLoginPath  = consolePrefix + "/login"
	consoleLogoutPath = consolePrefix + "/logout"
	// consoleLoginTTL is how long the sign-in form's double-submit cookie
	// lives: a form left open longer is refused (and shown again).
	consoleLoginTTL = 30 * time.Minute
)

// Messages of the console's sign-in page. One message covers every failed
// sign-in (unknown user, wrong password, not an administrator, disabled,
// throttled), so the page reveals nothing about an account; it never asks
// to wait.
const (
	msgConsoleLoginFailed  = "The username or password is not right, or the account is not an administrator. Check them and try again."
	msgConsoleLoginExpired = "The sign-in form expired. Sign in again."
	msgConsoleSignedOut    = "You are signed out of the console."
	msgConsolePasswordOff  = "Signing in with a password is turned off. Sign in through your identity provider."
)

// consoleLoginData fills the console's sign-in page.
type consoleLoginData struct {
	CSRF     string
	ReturnTo string
	Username string
	Error    string // a failed sign-in, in plain words
	Notice   string // signed out
	// Providers are the "Continue with <name>" links of the enabled
	// identity providers; Password whether the password form is shown
	// (PASSWORD_SIGN_IN is not off).
	Providers []consoleProvider
	Password  bool
}

// consoleReturnTo is return_to when it is a console page to come back to,
// else the links page.
func consoleReturnTo(s string) string {
	if s == consoleLoginPath || !validConsoleReturn(s) {
		return consolePrefix + "/links"
	}
	return s
}

// readSignInForm reads the form post of a page that comes before a console
// session (the sign-in, its passkey step, a passkey enrollment): strictly
// (web.ParseForm), answering a body over web.MaxBodyBytes 413 and any other
// malformed form 400 itself.
func (h *Handler) readSignInForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	form, err := web.ParseForm(r, false)
	if err == nil {
		return form, true
	}
	if errors.Is(err, web.ErrTooLarge) {
		h.consoleMessage(w, nil, http.StatusRequestEntityTooLarge, msgConsoleTooLarge)
	} else {
		h.consoleMessage(w, nil, http.StatusBadRequest, msgConsoleBadForm)
	}
	return nil, false
}

// consoleLoginForm serves GET /console/login.
func (h *Handler) consoleLoginForm(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	back := consoleReturnTo(q.Get("return_to"))
	a, err := h.consoleAdmin(r.Context(), r)
	if err != nil {
		h.consoleFail(w, r, nil, err)
		return
	}
	if a != nil && a.user.IsAdministrator() {
		shared.Redirect(w, back, http.StatusSeeOther)
		return
	}
	d := consoleLoginData{ReturnTo: back}
	if q.Get("signed_out") == "1" {
		d.Notice = msgConsoleSignedOut
	}
	h.renderConsoleLogin(w, r, http.StatusOK, d)
}

// renderConsoleLogin renders the sign-in page with a double-submit CSRF
// token: a random value in a cookie and the same value in a hidden input
// (there is no session yet to bind it to). A well-formed cookie is reused,
// so two tabs can sign in.
func (h *Handler) renderConsoleLogin(w http.ResponseWriter, r *http.Request, status int, d consoleLoginData) {
	tok := h.cookies.Token(r, h.cookies.ConsoleLogin)
	if tok == "" || status == http.StatusForbidden {
		var err error
		if tok, err = shared.NewToken(h.random); err != nil {
			h.consoleFail(w, r, nil, wrapf(err, "new console login token"))
			return
		}
	}
	http.SetCookie(w, h.cookies.MakeStrict(h.cookies.ConsoleLogin, tok, consoleLoginTTL))
	d.CSRF = tok
	d.Password = h.passwordAllowed()
	d.Providers = h.consoleProviderLinks(r.Context(), d.ReturnTo, "", "")
	renderConsole(w, status, frame{Title: "Sign in", Provider: h.cfg.ProviderName}, consoleLoginPage, d)
}

func (h *Handler) consoleLoginPost(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	form, ok := h.readSignInForm(w, r)
	if !ok {
		return
	}
	d := consoleLoginData{ReturnTo: consoleReturnTo(form.Get("return_to"))}
	// Double-submit check; the token is the defence, not Origin.
	if tok, cookie := form.Get("csrf"), h.cookies.Token(r, h.cookies.ConsoleLogin); tok == "" || cookie == "" || !shared.Equal(tok, cookie) {
		web.Logger(ctx).Info("console login csrf mismatch")
		d.Error = msgConsoleLoginExpired
		h.renderConsoleLogin(w, r, http.StatusForbidden, d)
		return
	}
	username := form.Get("username")
	if !h.passwordAllowed() {
		web.Logger(ctx).Info("console login failed", "reason", "password_sign_in_off")
		d.Error = msgConsolePasswordOff
		h.renderConsoleLogin(w, r, http.StatusForbidden, d)
		return
	}
	u, err := h.consolePassword(r, username, form.Get("password"))
	if err != nil {
		h.consoleFail(w, r, nil, err)
		return
	}
	if u == nil {
		d.Username, d.Error = username, msgConsoleLoginFailed
		h.renderConsoleLogin(w, r, http.StatusOK, d)
		return
	}
	// An administrator with a passkey (any, under ADMIN_MFA=required) is
	// not signed in yet: the passkey is the second step.
	if h.passkeyStep(w, r, *u, d.ReturnTo) {
		return
	}
	h.startConsoleSession(w, r, *u, d.ReturnTo, "password")
}

// startConsoleSession signs u in to the console (method names the proof
// for the audit line: "password", "password+passkey") and goes to back.
// Signing in counts as a confirmation.
func (h *Handler) startConsoleSession(w http.ResponseWriter, r *http.Request, u store.User, back, method string) {
	ctx := r.Context()
	tok, err := shared.NewToken(h.random)
	if err != nil {
		h.consoleFail(w, r, nil, wrapf(err, "new console session id"))
		return
	}
	csrf, err := shared.NewToken(h.random)
	if err != nil {
		h.consoleFail(w, r, nil, wrapf(err, "new console csrf"))
		return
	}
	now := h.now()
	sess := store.ConsoleSession{ID: shared.HashToken(tok), UserID: u.ID, CSRF: csrf,
		CreatedAt: now, ConfirmedAt: now, LastSeen: now, ExpiresAt: now.Add(ConsoleSessionTTL)}
	if err := h.store.CreateConsoleSession(ctx, sess, ConsoleIdle); err != nil {
		h.consoleFail(w, r, nil, wrapf(err, "create console session"))
		return
	}
	if old := h.cookies.Token(r, h.cookies.Console); old != "" {
		if err := h.store.DeleteConsoleSession(ctx, shared.HashToken(old)); err != nil {
			web.Logger(ctx).Warn("delete previous console session", "err", err.Error())
		}
	}
	web.Audit(ctx, "console_signed_in", "user_id", u.ID, "username", u.Username, "method", method, "session", shared.HashPrefix(tok))
	http.SetCookie(w, h.cookies.MakeStrict(h.cookies.Console, tok, ConsoleSessionTTL))
	http.SetCookie(w, h.cookies.MakeStrict(h.cookies.ConsoleLogin, "", -1))
	shared.Redirect(w, back, http.StatusSeeOther)
}

// consolePassword returns the administrator whose username and password
// these are, nil when the sign-in fails for any reason, and an error only
// when the store fails. The attempt goes through the sign-in limits first
// (shared/throttle: per source, per username, the global slow-down), as
// the end users' sign-in does; a right password takes it back. Unknown
// usernames spend the time of a real verification.
func (h *Handler) consolePassword(r *http.Request, username, pw string) (*store.User, error) {
	ctx := r.Context()
	log := web.Logger(ctx)
	if username == "" || pw == "" || len(username) > 256 || len(pw) > MaxPasswordBytes {
		password.VerifyDummy(pw)
		log.Info("console login failed", "reason", "malformed")
		return nil, nil
	}
	a, err := h.limiter.Begin(r, username)
	if err != nil {
		return nil, wrapf(err, "sign-in limits")
	}
	if !a.Allowed() {
		password.VerifyDummy(pw)
		log.Info("console login failed", "reason", "throttled", "limit", a.Refused, "source", a.Source, "username_hash", shared.HashPrefix(username))
		return nil, nil
	}
	// A name outside the username alphabet (a look-alike such as U+212A
	// KELVIN SIGN, which case folding would turn into "k") names no one:
	// it is refused before any lookup, counted like an unknown username.
	var u store.User
	err = shared.ErrNotFound
	if shared.CheckUsername(username) == nil {
		u, err = h.store.GetUserByName(ctx, username)
	}
	reason := ""
	switch {
	case isNotFound(err):
		password.VerifyDummy(pw)
		reason = "unknown_user"
	case err != nil:
		return nil, wrapf(err, "get user")
	case !password.Verify(pw, u.PasswordHash):
		reason = "wrong_password"
	case u.Disabled:
		reason = "disabled"
	case !u.IsAdministrator():
		reason = "not_admin"
	}
	if reason != "" {
		if reason == "unknown_user" {
			log.Info("console login failed", "reason", reason, "username_hash", shared.HashPrefix(username))
		} else {
			log.Info("console login failed", "reason", reason, "username", u.Username)
		}
		return nil, nil
	}
	if err := h.limiter.Succeeded(ctx, a); err != nil {
		log.Warn("clear sign-in counts", "err", err.Error())
	}
	return &u, nil
}

// consoleLogout serves POST /console/logout: the session's CSRF token ends
// it; either way the cookie is cleared and the browser goes to the sign-in
// page, which says it is signed out.
func (h *Handler) consoleLogout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	form, err := web.ParseForm(r, false)
	if err != nil {
		h.consoleMessage(w, nil, http.StatusBadRequest, msgConsoleBadForm)
		return
	}
	a, err := h.consoleAdmin(ctx, r)
	if err != nil {
		h.consoleFail(w, r, nil, err)
		return
	}
	if a != nil {
		if tok := form.Get("csrf"); tok == "" || !shared.Equal(tok, a.sess.CSRF) {
			web.Logger(ctx).Info("console csrf mismatch", "username", a.user.Username)
			h.consoleMessage(w, a, http.StatusForbidden, msgConsoleCSRF)
			return
		}
		if err := h.store.DeleteConsoleSession(ctx, a.sess.ID); err != nil {
			h.consoleFail(w, r, a, wrapf(err, "delete console session"))
			return
		}
		web.Logger(ctx).Info("console logout", "username", a.user.Username)
	}
	http.SetCookie(w, h.cookies.MakeStrict(h.cookies.Console, "", -1))
	shared.Redirect(w, consoleLoginPath+"?signed_out=1", http.StatusSeeOther)
}

func consoleLoginPage(b *page.Buffer, d consoleLoginData) {
	b.WriteString("<h1>Sign in to the console</h1>\n")
	if d.Notice != "" {
		b.Fill(`<p class="notice" role="status">%s</p>`+"\n", d.Notice)
	}
	b.WriteString("<p>The console is for administrators: it creates and changes application links, users and signing keys.</p>\n")
	if d.Error != "" {
		b.Fill(`<p class="error" role="alert" id="login-error">%s</p>`+"\n", d.Error)
	}
	consoleProviderButtons(b, d.Providers, "Continue with ", d.Password)
	if !d.Password {
		if len(d.Providers) == 0 {
			b.WriteString("<p>No way to sign in is set up: password sign-in is turned off and no identity provider is enabled.</p>\n")
		}
		return
	}
	invalid := ""
	if d.Error != "" {
		invalid = ` aria-invalid="true" aria-describedby="login-error"`
	}
	b.Fill(`<form method="post" action="%s" class="narrow">
<input type="hidden" name="csrf" value="%s">
<input type="hidden" name="return_to" value="%s">
<label for="username">Username</label>
<input type="text" id="username" name="username" value="%s" autocomplete="username" autocapitalize="none" spellcheck="false" required`, consoleLoginPath, d.CSRF, d.ReturnTo, d.Username)
	if d.Username == "" {
		b.WriteString(" autofocus")
	}
	b.WriteString(invalid + `>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required`)
	if d.Username != "" {
		b.WriteString(" autofocus")
	}
	b.WriteString(invalid + `>
<button type="submit">Sign in</button>
</form>
`)
}

// consoleLoginURL is the sign-in page that returns to back.
func consoleLoginURL(back string) string {
	return consoleLoginPath + "?return_to=" + url.QueryEscape(back)
}
