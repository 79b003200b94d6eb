package authorize

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/page"
	"github.com/applinks/applinks/shared/page/component"
	"github.com/applinks/applinks/shared/password"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// Messages of the login page. One message covers every kind of failed
// sign-in (unknown user, wrong password, disabled user, throttled), so the
// page does not reveal which usernames exist or that a username is
// throttled; it asks to check what was typed, which is what most failures
// need, and never to wait.
const (
	msgLoginFailed  = "The username or password is not right. Check them and try again."
	msgLoginExpired = "Your sign-in form expired. Please sign in again."
	msgPasswordOff  = "Signing in with a password is turned off. Choose one of the ways to sign in below."
)

// accountPath is the account page, the other place a login may return to.
const accountPath = "/account/authorizations"

// validReturnTo reports whether s is a place the login form may send the
// browser back to: the account page, a local authorization request, or a
// device code's page.
// Never an absolute URL (an open redirect), and never the administrators'
// console, which signs its users in itself (functions/admin).
func validReturnTo(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '\\' {
			return false
		}
	}
	return s == accountPath ||
		strings.HasPrefix(s, devicePath+"?") ||
		strings.HasPrefix(s, "/oauth2/authorize?") ||
		strings.HasPrefix(s, "/rest/oauth2/latest/authorize?")
}

// loginData fills the login page.
type loginData struct {
	site
	ReturnTo string
	AppName  string // the application the sign-in continues to, if any
	CSRF     string
	Username string
	Message  string
	// SignedInAs is the user already signed in, when the request asks to
	// choose the account (prompt=select_account or login).
	SignedInAs string
	// formAction is the CSP form-action source of the client the login's
	// 303 may lead to at once (an earlier grant covers the request).
	formAction string
	// UpstreamPrompt and UpstreamMaxAge (-1: none) are the prompt=login
	// and max_age of the pending request, passed on by the providers'
	// links (and kept in the form, for the page shown again after a
	// failed password).
	UpstreamPrompt bool
	UpstreamMaxAge int
	// Providers are the "Continue with <name>" links (renderLogin).
	Providers []providerLink
	// Password is whether the password form is shown (PASSWORD_SIGN_IN
	// is not off).
	Password bool
}

// renderLogin renders the login page with a double-submit CSRF token: a
// random value in a cookie and the same value in a hidden input (no session
// exists yet to bind it to). An existing well-formed cookie is reused, so
// two tabs can sign in.
func (h *Handler) renderLogin(w http.ResponseWriter, r *http.Request, status int, d loginData) {
	tok := ""
	if c, err := r.Cookie(h.cookies.LoginCSRF); err == nil && page.WellFormedToken(c.Value) && status != http.StatusForbidden {
		tok = c.Value
	} else {
		var err error
		if tok, err = shared.NewToken(h.random); err != nil {
			web.Logger(r.Context()).Error("new login csrf token", "err", err.Error())
			h.fail(w, shared.ServerError())
			return
		}
	}
	http.SetCookie(w, h.cookies.Make(h.cookies.LoginCSRF, tok, loginCSRFTTL))
	d.CSRF = tok
	d.site = h.site()
	d.Password = h.cfg.PasswordSignIn != config.PasswordOff
	d.Providers = h.providerLinks(r.Context(), d.ReturnTo, upstreamExtra(d.UpstreamPrompt, d.UpstreamMaxAge))
	component.Render(w, status, loginPage(d), d.formAction)
}

// loginForm serves GET /oauth2/login?return_to=...: the sign-in form for
// a page that needs a signed-in user (the account page). A return_to that is not a valid place to return to is a 400 page;
// a user already signed in goes straight there.
func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	returnTo := r.URL.Query().Get("return_to")
	if !validReturnTo(returnTo) || len(r.URL.Query()["return_to"]) != 1 {
		h.renderMessage(w, http.StatusBadRequest, msgBadReturn)
		return
	}
	_, user, err := h.currentUser(ctx, r)
	if err != nil {
		h.fail(w, err)
		return
	}
	if user != nil {
		shared.Redirect(w, returnTo, http.StatusSeeOther)
		return
	}
	d := loginData{ReturnTo: returnTo, UpstreamMaxAge: -1}
	h.describeReturnTo(ctx, &d)
	h.renderLogin(w, r, http.StatusOK, d)
}

// login serves POST /oauth2/login.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	form, ok := h.readForm(w, r)
	if !ok {
		return
	}
	returnTo := form.Get("return_to")
	if !validReturnTo(returnTo) {
		h.renderMessage(w, http.StatusBadRequest, msgBadForm)
		return
	}
	if form.Get("cancel") != "" {
		h.cancelLogin(w, r, returnTo)
		return
	}
	d := loginData{ReturnTo: returnTo, UpstreamMaxAge: -1, UpstreamPrompt: form.Get("upstream_prompt") == "login"}
	if n, err := strconv.Atoi(form.Get("upstream_max_age")); err == nil && n >= 0 {
		d.UpstreamMaxAge = n
	}
	h.describeReturnTo(ctx, &d)

	// Double-submit check; the token is the defence, not Origin (a form
	// post under Referrer-Policy: no-referrer may carry Origin: null).
	c, err := r.Cookie(h.cookies.LoginCSRF)
	if tok := form.Get("csrf"); err != nil || tok == "" || !shared.Equal(c.Value, tok) {
		web.Logger(ctx).Info("login csrf mismatch")
		d.Message = msgLoginExpired
		h.renderLogin(w, r, http.StatusForbidden, d)
		return
	}

	username, pw := form.Get("username"), form.Get("password")
	if h.cfg.PasswordSignIn == config.PasswordOff {
		// No password signs anyone in; nothing is checked or counted.
		web.Logger(ctx).Info("login failed", "reason", "password_sign_in_off")
		d.Message = msgPasswordOff
		h.renderLogin(w, r, http.StatusForbidden, d)
		return
	}
	user, err := h.checkPassword(r, username, pw)
	if err != nil {
		h.fail(w, err)
		return
	}
	if user == nil {
		d.Username, d.Message = username, msgLoginFailed
		h.renderLogin(w, r, http.StatusOK, d)
		return
	}

	id, err := shared.NewToken(h.random)
	if err != nil {
		web.Logger(ctx).Error("new session id", "err", err.Error())
		h.fail(w, shared.ServerError())
		return
	}
	csrf, err := shared.NewToken(h.random)
	if err != nil {
		web.Logger(ctx).Error("new session csrf", "err", err.Error())
		h.fail(w, shared.ServerError())
		return
	}
	now := h.now()
	sess := store.Session{
		ID:        shared.HashToken(id),
		UserID:    user.ID,
		CSRF:      csrf,
		CreatedAt: now,
		ExpiresAt: now.Add(SessionTTL),
	}
	if err := h.store.CreateSession(ctx, sess); err != nil {
		web.Logger(ctx).Error("create session", "err", err.Error())
		h.fail(w, err)
		return
	}
	if old, err := r.Cookie(h.cookies.Session); err == nil && page.WellFormedToken(old.Value) {
		if err := h.store.DeleteSession(ctx, shared.HashToken(old.Value)); err != nil {
			web.Logger(ctx).Warn("delete previous session", "err", err.Error())
		}
	}
	web.Logger(ctx).Info("login succeeded", "user_id", user.ID, "username", user.Username, "session", shared.HashPrefix(id))
	http.SetCookie(w, h.cookies.Make(h.cookies.Session, id, SessionTTL))
	http.SetCookie(w, h.cookies.Make(h.cookies.LoginCSRF, "", -1))
	shared.Redirect(w, returnTo, http.StatusSeeOther)
}

// checkPassword returns the user when username and pw are right and the
// sign-in limits (shared/throttle: per source, per username, and the
// global slow-down) let the check happen, nil when the sign-in fails for
// any reason (counted against the source and the username, known or not),
// and an error only when the store fails. Unknown usernames and refused
// attempts spend the time of a real verification.
func (h *Handler) checkPassword(r *http.Request, username, pw string) (*store.User, error) {
	ctx := r.Context()
	log := web.Logger(ctx)
	if username == "" || pw == "" || len(username) > maxParamBytes || !utf8.ValidString(username) {
		password.VerifyDummy(pw)
		log.Info("login failed", "reason", "malformed")
		return nil, nil
	}
	// The attempt is counted before the password is checked, so that
	// guesses sent in parallel cannot all be checked before any is counted.
	a, err := h.limiter.Begin(r, username)
	if err != nil {
		log.Error("sign-in limits", "err", err.Error())
		return nil, err
	}
	if !a.Allowed() {
		password.VerifyDummy(pw)
		log.Info("login failed", "reason", "throttled", "limit", a.Refused, "source", a.Source, usernameAttr(username, false))
		return nil, nil
	}
	// A name outside the username alphabet (U+212A KELVIN SIGN, which
	// Unicode lowers to an ASCII k; a Cyrillic а) names no user: it fails
	// as an unknown username does, before any lookup that could fold it
	// into one. Its attempt stays counted, like every failure: against its
	// source and in the global count, so a flood of such names is limited
	// like any other, and against its own username key, which no user has
	// (store.UsernameKey lowers ASCII letters only), so it locks no one out.
	if shared.CheckUsername(username) != nil {
		password.VerifyDummy(pw)
		log.Info("login failed", "reason", "not_a_username", "source", a.Source, usernameAttr(username, false))
		return nil, nil
	}
	u, err := h.store.GetUserByName(ctx, username)
	reason := ""
	switch {
	case errors.Is(err, shared.ErrNotFound):
		password.VerifyDummy(pw)
		reason = "unknown_user"
	case err != nil:
		log.Error("get user", "err", err.Error())
		return nil, err
	case !password.Verify(pw, u.PasswordHash):
		reason = "wrong_password"
	case u.Disabled:
		reason = "disabled"
	case h.cfg.PasswordSignIn == config.PasswordAdmins && !u.IsAdministrator():
		// PASSWORD_SIGN_IN=admins: a right password of anyone else gets
		// the wrong password's answer, and stays counted.
		reason = "password_not_allowed"
	}
	if reason != "" {
		// The reserved attempt stays counted as a failure.
		log.Info("login failed", "reason", reason, "source", a.Source, usernameAttr(username, reason != "unknown_user"))
		return nil, nil
	}
	if err := h.limiter.Succeeded(ctx, a); err != nil {
		log.Warn("clear sign-in counts", "err", err.Error())
	}
	return &u, nil
}

// usernameAttr is the username for a log line: in clear when it names a
// user (known), else only its hash prefix, since what was typed into the
// username field of a failed sign-in may be a password.
func usernameAttr(username string, known bool) slog.Attr {
	if known {
		return slog.String("username", username)
	}
	return slog.String("username_hash", shared.HashPrefix(username))
}

// describeReturnTo names the application a pending authorization request
// belongs to and the CSP form-action source its redirect needs, by
// validating the request again; nothing when it is not valid.
func (h *Handler) describeReturnTo(ctx context.Context, d *loginData) {
	path, q, ok := strings.Cut(d.ReturnTo, "?")
	if !ok {
		return
	}
	vals, err := url.ParseQuery(q)
	if err != nil {
		return
	}
	if path == devicePath {
		h.describeDevice(ctx, d, vals)
		return
	}
	a, _, err := h.parseAuthRequest(ctx, vals, "")
	if err != nil {
		return
	}
	d.AppName = a.link.Name
	d.formAction = shared.FormActionSource(a.redirectTo)
}

// cancelLogin answers the login form's Cancel: for an authorization
// request, validated again exactly as on GET, access_denied to the
// application (RFC 6749 §4.1.2.1, with state and iss), or the error page
// when the request is not valid (never a redirect to an unverified URI);
// from the account page's sign-in, the signed-out page. The CSRF token is
// not needed: the answer is what anyone can send the application.
func (h *Handler) cancelLogin(w http.ResponseWriter, r *http.Request, returnTo string) {
	ctx := r.Context()
	_, q, ok := strings.Cut(returnTo, "?")
	if !ok {
		shared.Redirect(w, logoutPath, http.StatusSeeOther)
		return
	}
	vals, err := url.ParseQuery(q)
	if err != nil {
		h.authorizeError(w, r, shared.AuthorizeTarget{}, &problem{err: shared.NoRedirect(shared.InvalidRequest("return_to is malformed"))})
		return
	}
	a, t, err := h.parseAuthRequest(ctx, vals, "")
	if err != nil {
		h.authorizeError(w, r, t, err)
		return
	}
	web.Audit(ctx, "login_cancelled", "client_id", a.link.ClientID)
	h.authorizeError(w, r, t, shared.AccessDenied("the user cancelled the sign-in"))
}

// logoutPath is the sign-out page; signed out, it confirms that.
const logoutPath = "/oauth2/logout"

// endSession deletes sess (its CSRF token already checked) and the
// session cookie: sign-out, and "Use another account" on the consent page.
func (h *Handler) endSession(w http.ResponseWriter, r *http.Request, sess *store.Session) error {
	ctx := r.Context()
	if err := h.store.DeleteSession(ctx, sess.ID); err != nil {
		web.Logger(ctx).Error("delete session", "err", err.Error())
		return err
	}
	web.Logger(ctx).Info("logout", "user_id", sess.UserID)
	http.SetCookie(w, h.cookies.Make(h.cookies.Session, "", -1))
	return nil
}

// readForm parses a form post strictly (web.ParseForm). On failure it
// answers the page itself, 413 for a body over web.MaxBodyBytes and 400
// otherwise, and returns false.
func (h *Handler) readForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	form, err := web.ParseForm(r, false)
	if err == nil {
		return form, true
	}
	if errors.Is(err, web.ErrTooLarge) {
		h.renderMessage(w, http.StatusRequestEntityTooLarge, msgTooLarge)
	} else {
		h.renderMessage(w, http.StatusBadRequest, msgBadForm)
	}
	return nil, false
}
