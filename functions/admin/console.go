package admin

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/page"
	"github.com/applinks/applinks/shared/password"
	"github.com/applinks/applinks/shared/routes"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// The console is the administrators' HTML interface under /console/: the
// same operations as the JSON API (the *Op methods), for a signed-in user
// with the administrator flag. It signs its administrators in itself
// (/console/login, console_login.go): its session is a record only this
// function may write (store.ConsoleSession, under CONSOLE#) in a cookie of
// its own (page.Cookies.Console), so neither the end users' sign-in
// session nor anything the authorize function writes opens it. In AWS the
// console's path has no IAM authorizer; /admin/* keeps it.
//
//	GET  /console/login, POST                 sign in (username, password)
//	POST /console/logout                      sign out
//	GET  /console                             → /console/links
//	GET  /console/links                       ?after= (a page cursor)
//	GET  /console/links/new, POST             create a link (confirmed)
//	GET  /console/links/{id}                  settings, grants, More actions
//	GET  /console/links/{id}/created          the new link's credentials
//	GET  /console/links/{id}/credentials      View credentials (confirmed)
//	GET  /console/links/{id}/rotate, POST     Rotate secret (confirmed)
//	GET  /console/links/{id}/edit, POST       Edit (confirmed)
//	POST /console/links/{id}/enable           (confirmed)
//	POST /console/links/{id}/disable
//	GET  /console/links/{id}/delete, POST     Delete (confirmed)
//	GET, POST /console/links/{id}/grants/{g}/revoke  (asks first)
//	GET  /console/users, /console/users/new, POST (confirmed)
//	GET  /console/users/{u}, POST             edit permissions, flags, profile (POST confirmed)
//	POST /console/users/{u}/password          set a password (confirmed; one's own: the current one too)
//	POST /console/users/{u}/revoke            revoke everything the user authorized
//	GET  /console/users/{u}/delete, POST      Delete (confirmed)
//	GET  /console/keys, POST /console/keys/rotate (confirmed)
//	GET  /console/confirm, POST               confirm: the password (not under ADMIN_MFA=required)
//	POST /console/confirm/passkey             confirm: a passkey (passkey_console.go)
//	GET  /console/login/passkey, POST         a sign-in's second step: the passkey (passkey_login.go)
//	GET  /console/passkeys/enroll, POST       an enrollment link's page (passkey_enroll.go)
//	GET  /console/users/{u}/passkeys/add, POST         add one's own passkey (confirmed; optional only)
//	POST /console/users/{u}/passkeys/{id}/remove       remove one's own passkey (confirmed; optional only)
//
// "Confirmed" is a proof of the password or a passkey within ConfirmTTL
// (signing in counts; under ADMIN_MFA=required, the passkey alone): every action that grants power or decides where tokens go asks
// for it; only the ones that take access away (disable, revoke) do not.
// A session ends after ConsoleIdle without a request, and ConsoleSessionTTL
// after the sign-in in any case.
//
// Every page is sent with the page security headers (page.Send); HEAD is
// answered wherever GET is. Every form carries the console session's CSRF
// token and answers 303 (a validation error re-renders the form, 422, with
// the message next to its field). A signed-out visitor is sent to the
// console's sign-in page with return_to; a signed-in user who has lost the
// administrator flag gets a 403 page.

// consolePrefix is the path of the console.
const consolePrefix = "/console"

// ConfirmTTL is how long a password confirmation lasts: every console
// action that grants power or decides where tokens go (see the route list)
// needs one this recent. Signing in counts as one.
const ConfirmTTL = 10 * time.Minute

// ConsoleIdle ends a console session after this long without a request;
// ConsoleSessionTTL ends it this long after the sign-in, however busy.
const (
	ConsoleIdle       = 30 * time.Minute
	ConsoleSessionTTL = 8 * time.Hour
)

// SessionStore is what the console keeps of its sessions and reads of the
// sign-in throttle; *store.Store implements it.
type SessionStore interface {
	// CreateConsoleSession stores a new console session.
	CreateConsoleSession(ctx context.Context, cs store.ConsoleSession, idle time.Duration) error
	// GetConsoleSession reads a console session by id hash (ErrNotFound
	// when absent, ended, or idle for idle).
	GetConsoleSession(ctx context.Context, id string, idle time.Duration, now time.Time) (store.ConsoleSession, error)
	// TouchConsoleSession records a request (and with confirmed, a proof
	// of the password) at now; ErrNotFound when the session has ended.
	TouchConsoleSession(ctx context.Context, id string, confirmed bool, idle time.Duration, now time.Time) (store.ConsoleSession, error)
	// DeleteConsoleSession removes a console session.
	DeleteConsoleSession(ctx context.Context, id string) error
	// ReserveLoginAttempt counts one password check for username.
	ReserveLoginAttempt(ctx context.Context, username string, max int, window time.Duration, now time.Time) (bool, error)
	// ClearLoginFailures clears the count after a right password (and
	// unlocks a user).
	ClearLoginFailures(ctx context.Context, username string) error
	// LoginLockedUntil reads whether username's sign-ins are refused
	// (max failures in the current window) and until when.
	LoginLockedUntil(ctx context.Context, username string, max int, now time.Time) (time.Time, error)
}

// signedIn is the signed-in user of a console request.
type signedIn struct {
	sess store.ConsoleSession
	user store.User
	// record is the handler's recordEvent (activity.go).
	record func(ctx context.Context, c call, event string, attrs []any)
}

// call is the admin's call for the operations: audit lines name the
// administrator's username.
func (a *signedIn) call() call {
	return call{principal: a.user.Username, via: "console", record: a.record}
}

// consoleHandlers are the console's handlers of routes.Admin: its
// pages and actions (consoleRoutes), and before them the sign-in's.
func (h *Handler) consoleHandlers() map[string]http.Handler {
	home := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		shared.Redirect(w, consolePrefix+"/links", http.StatusSeeOther)
	})
	m := map[string]http.Handler{
		"GET " + consolePrefix:          home,
		"GET " + consolePrefix + "/{$}": home,
	}
	for _, p := range []struct {
		path      string
		get, post http.HandlerFunc
	}{
		{"/login", h.consoleLoginForm, h.consoleLoginPost},
		{"/logout", nil, h.consoleLogout},
		{"/login/passkey", h.passkeyStepForm, h.passkeyStepPost},
		{"/passkeys/enroll", h.consolePasskeyEnrollForm, h.consolePasskeyEnrollPost},
		{"/upstream/start", h.consoleUpstreamStartPage, nil},
		{"/upstream/callback", h.consoleUpstreamCallbackPage, nil},
	} {
		if p.get != nil {
			m["GET "+consolePrefix+p.path] = p.get
		}
		if p.post != nil {
			m["POST "+consolePrefix+p.path] = p.post
		}
	}
	for _, rt := range consoleRoutes() {
		serve := h.consolePage(rt)
		if rt.get != nil {
			m["GET "+rt.path] = serve
		}
		if rt.post != nil {
			m["POST "+rt.path] = serve
		}
	}
	return m
}

// consolePage serves a route of consoleRoutes: for a signed-in
// administrator, the CSRF token of a POST checked, a fresh confirmation
// asked for where the route needs one.
func (h *Handler) consolePage(rt consoleRoute) http.Handler {
	names := routes.Wildcards(rt.path)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		params := make([]string, len(names))
		for i, n := range names {
			params[i] = r.PathValue(n)
		}
		isPost := r.Method == http.MethodPost
		a, err := h.consoleAdmin(ctx, r)
		if err != nil {
			h.consoleFail(w, r, nil, err)
			return
		}
		if a == nil {
			h.toSignIn(w, r)
			return
		}
		if !a.user.IsAdministrator() {
			web.Logger(ctx).Info("console refused: not an administrator", "username", a.user.Username)
			h.consoleMessage(w, nil, http.StatusForbidden, msgNotAdmin)
			return
		}
		cr := &consoleReq{h: h, w: w, r: r, a: a, params: params}
		if isPost {
			form, ok := cr.readForm(rt.multi...)
			if !ok {
				return
			}
			if tok := form.Get("csrf"); tok == "" || !shared.Equal(tok, a.sess.CSRF) {
				web.Logger(ctx).Info("console csrf mismatch", "username", a.user.Username)
				h.consoleMessage(w, a, http.StatusForbidden, msgConsoleCSRF)
				return
			}
			cr.form = form
		}
		if rt.confirm || isPost && rt.confirmPost {
			if !h.confirmed(a, h.now()) {
				// A GET goes to the confirmation and comes back; a POST (its
				// form was shown while confirmed, which has lapsed since) goes
				// to the confirmation, then to the page the form was on.
				back := r.URL.Path
				if isPost {
					back = rt.back(params)
				} else if r.URL.RawQuery != "" {
					back += "?" + r.URL.RawQuery
				}
				shared.Redirect(w, consolePrefix+"/confirm?return_to="+url.QueryEscape(back), http.StatusSeeOther)
				return
			}
		}
		if isPost {
			rt.post(cr)
		} else {
			rt.get(cr)
		}
	})
}

// consoleReq is one request of a signed-in administrator.
type consoleReq struct {
	h      *Handler
	w      http.ResponseWriter
	r      *http.Request
	a      *signedIn
	params []string
	form   url.Values // the POST form, CSRF-checked
}

func (c *consoleReq) ctx() context.Context { return c.r.Context() }

// param is the i-th "*" segment of the route, unescaped.
func (c *consoleReq) param(i int) string { return c.params[i] }

// consoleRoute is one console path pattern (routes.Admin's, "/console/links/{id}"):
// its GET and POST handlers,
// whether they need a fresh password confirmation (confirm: both;
// confirmPost: the POST only), and the form fields that may repeat.
type consoleRoute struct {
	path        string
	get, post   func(*consoleReq)
	confirm     bool
	confirmPost bool
	multi       []string
	// backTo names the page a lapsed confirmation returns to after a POST
	// (default: the pattern's path with its parameters).
	backTo func(params []string) string
}

func (rt *consoleRoute) back(params []string) string {
	if rt.backTo != nil {
		return rt.backTo(params)
	}
	segs := strings.Split(rt.path, "/")
	i := 0
	for j, seg := range segs {
		if strings.HasPrefix(seg, "{") {
			segs[j] = url.PathEscape(params[i])
			i++
		}
	}
	return strings.Join(segs, "/")
}

// consoleAdmin returns the signed-in user of r's console cookie, nil when
// there is no valid session: no cookie, an unknown, ended or idle session,
// or a user deleted, disabled or given a new password since (as the
// sign-in pages treat it). A request starts the session's idle period
// again (recorded at most once per store.ConsoleTouchEvery). Only a store
// failure is an error.
func (h *Handler) consoleAdmin(ctx context.Context, r *http.Request) (*signedIn, error) {
	tok := h.cookies.Token(r, h.cookies.Console)
	if tok == "" {
		return nil, nil
	}
	now := h.now()
	sess, err := h.store.GetConsoleSession(ctx, shared.HashToken(tok), ConsoleIdle, now)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, wrapf(err, "get console session")
	}
	u, err := h.sessionUser(ctx, sess)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if u.Disabled || !u.IssuedSince(sess.CreatedAt) {
		return nil, nil
	}
	if now.Sub(sess.LastSeen) >= store.ConsoleTouchEvery {
		sess, err = h.store.TouchConsoleSession(ctx, sess.ID, false, ConsoleIdle, now)
		if isNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, wrapf(err, "touch console session")
		}
	}
	return &signedIn{sess: sess, user: u, record: h.recordEvent}, nil
}

// sessionUser reads the user a session belongs to: the one place the
// console maps a session to its user.
func (h *Handler) sessionUser(ctx context.Context, sess store.ConsoleSession) (store.User, error) {
	u, err := h.store.GetUser(ctx, sess.UserID)
	if err != nil {
		return store.User{}, wrapf(err, "get user of session")
	}
	return u, nil
}

// toSignIn sends a signed-out visitor to the sign-in page, which brings
// them back here (a GET) or to the page the form was on (a POST).
func (h *Handler) toSignIn(w http.ResponseWriter, r *http.Request) {
	back := consolePrefix + "/links"
	if r.Method != http.MethodPost {
		back = r.URL.Path
		if r.URL.RawQuery != "" {
			back += "?" + r.URL.RawQuery
		}
	}
	if page.LocalURL(back) == "#" {
		back = consolePrefix + "/links"
	}
	shared.Redirect(w, consoleLoginURL(back), http.StatusSeeOther)
}

// confirmed reports whether the administrator proved their password
// within ConfirmTTL: by signing in, or on the confirmation page.
func (h *Handler) confirmed(a *signedIn, now time.Time) bool {
	return now.Sub(a.sess.ConfirmedAt) < ConfirmTTL
}

// checkPassword verifies the administrator's password under the sign-in
// limits (shared/throttle, per source and per username, with the global
// slow-down): the attempt is counted first, a right password takes it back.
func (h *Handler) checkPassword(r *http.Request, u store.User, pw string) (bool, error) {
	ctx := r.Context()
	if pw == "" || len(pw) > MaxPasswordBytes {
		password.VerifyDummy(pw)
		return false, nil
	}
	a, err := h.limiter.Begin(r, u.Username)
	if err != nil {
		return false, wrapf(err, "sign-in limits")
	}
	if !a.Allowed() {
		password.VerifyDummy(pw)
		web.Logger(ctx).Info("console confirmation failed", "reason", "throttled", "limit", a.Refused, "source", a.Source, "username", u.Username)
		return false, nil
	}
	if !password.Verify(pw, u.PasswordHash) {
		web.Logger(ctx).Info("console confirmation failed", "reason", "wrong_password", "username", u.Username)
		return false, nil
	}
	if err := h.limiter.Succeeded(ctx, a); err != nil {
		web.Logger(ctx).Warn("clear sign-in counts", "err", err.Error())
	}
	return true, nil
}

// msgConfirmFailed is the confirmation page's one message for a refused
// password: wrong, or over the sign-in limits. Like the sign-in page, it
// never tells anyone to wait (which would say the account is under attack
// and that waiting lets them guess again).
const msgConfirmFailed = "That password is not right. Try again."

// confirmData fills the confirmation page.
type confirmData struct {
	CSRF     string
	ReturnTo string
	Error    string
	// Password offers the password (not under ADMIN_MFA=required);
	// Passkey, when set, the administrator's passkey; NoPasskey says that
	// the administrator has none under required.
	Password  bool
	Passkey   *passkeyFormData
	NoPasskey bool
	// Providers is the "Confirm with <name>" link of the identity provider
	// the administrator is linked through (console_idp_login.go).
	Providers []consoleProvider
}

// validConsoleReturn reports whether s is a console page to come back to.
func validConsoleReturn(s string) bool {
	return strings.HasPrefix(s, consolePrefix+"/") && page.LocalURL(s) == s
}

// renderConfirm renders the confirmation page (with the passkey script
// when it offers a passkey).
func (c *consoleReq) renderConfirm(d confirmData) {
	c.upstreamConfirm(&d)
	title := "Confirm it is you"
	if d.Passkey == nil && d.Password && len(d.Providers) == 0 {
		title = "Confirm your password"
	}
	renderConsole(c.w, http.StatusOK, frame{Title: title, Admin: c.a, Provider: c.h.cfg.ProviderName, Passkey: d.Passkey != nil}, confirmPage, d)
}

func (c *consoleReq) confirmPage() {
	back := c.r.URL.Query().Get("return_to")
	if !validConsoleReturn(back) {
		back = consolePrefix + "/links"
	}
	d, err := c.confirmForm(back, "")
	if err != nil {
		c.fail(err)
		return
	}
	c.renderConfirm(d)
}

func (c *consoleReq) confirm() {
	back := c.form.Get("return_to")
	if !validConsoleReturn(back) {
		back = consolePrefix + "/links"
	}
	if c.h.mfaRequired() {
		// Under ADMIN_MFA=required the passkey confirms, not the password.
		d, err := c.confirmForm(back, "Confirm with your passkey.")
		if err != nil {
			c.fail(err)
			return
		}
		c.renderConfirm(d)
		return
	}
	ok := false
	if c.h.passwordAllowed() {
		// PASSWORD_SIGN_IN=off: no password confirms either.
		var err error
		if ok, err = c.h.checkPassword(c.r, c.a.user, c.form.Get("password")); err != nil {
			c.fail(err)
			return
		}
	}
	if !ok {
		d, err := c.confirmForm(back, msgConfirmFailed)
		if err != nil {
			c.fail(err)
			return
		}
		c.renderConfirm(d)
		return
	}
	if _, err := c.h.store.TouchConsoleSession(c.ctx(), c.a.sess.ID, true, ConsoleIdle, c.h.now()); err != nil {
		if isNotFound(err) {
			c.h.toSignIn(c.w, c.r)
			return
		}
		c.fail(wrapf(err, "record confirmation"))
		return
	}
	web.Logger(c.ctx()).Info("console password confirmed", "username", c.a.user.Username)
	shared.Redirect(c.w, back, http.StatusSeeOther)
}

// readForm reads a console form post (application/x-www-form-urlencoded,
// at most web.MaxBodyBytes): every field once, except the multi ones.
func (c *consoleReq) readForm(multi ...string) (url.Values, bool) {
	mt, _, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		c.h.consoleMessage(c.w, c.a, http.StatusUnsupportedMediaType, msgConsoleBadForm)
		return nil, false
	}
	body, err := io.ReadAll(c.r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			c.h.consoleMessage(c.w, c.a, http.StatusRequestEntityTooLarge, msgConsoleTooLarge)
		} else {
			c.h.consoleMessage(c.w, c.a, http.StatusBadRequest, msgConsoleBadForm)
		}
		return nil, false
	}
	form, err := url.ParseQuery(string(body))
	if err == nil {
		for k, vs := range form {
			if len(vs) > 1 && !slices.Contains(multi, k) || !utf8.ValidString(k) {
				err = errors.New("repeated field")
			}
			for _, v := range vs {
				if !utf8.ValidString(v) {
					err = errors.New("not UTF-8")
				}
			}
		}
	}
	if err != nil {
		c.h.consoleMessage(c.w, c.a, http.StatusBadRequest, msgConsoleBadForm)
		return nil, false
	}
	return form, true
}

// seeOther answers a form with 303 to loc.
func (c *consoleReq) seeOther(loc string) { shared.Redirect(c.w, loc, http.StatusSeeOther) }

// fail answers an operation's error that is not a validation error of a
// form: not found, conflict, unavailable, internal.
func (c *consoleReq) fail(err error) { c.h.consoleFail(c.w, c.r, c.a, err) }

// consoleFail renders err as a console page with the status the API would
// answer; an internal error is logged and shown without detail.
func (h *Handler) consoleFail(w http.ResponseWriter, r *http.Request, a *signedIn, err error) {
	e := classify(w, r, err)
	m := consoleMsg{Title: "Not possible", Text: sentence(e.Message), Link: consolePrefix + "/links", LinkText: "Back to Application links"}
	switch e.Status {
	case http.StatusServiceUnavailable:
		m = msgConsoleBusy
	case http.StatusInternalServerError:
		m = msgConsoleServer
	case http.StatusNotFound:
		m.Title = "Not found"
	case http.StatusUnprocessableEntity, http.StatusBadRequest:
		m.Title = "Invalid request"
	}
	h.consoleMessage(w, a, e.Status, m)
}

// sentence makes an API message a sentence for a page: capital first
// letter, final period.
func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// consoleMsg is a plain console page.
type consoleMsg struct {
	Title, Text    string
	Link, LinkText string
}

var (
	msgConsoleNotFound = consoleMsg{Title: "Page not found", Text: "There is nothing at this address.", Link: consolePrefix + "/links", LinkText: "Application links"}
	msgConsoleMethod   = consoleMsg{Title: "Method not allowed", Text: "This address does not accept that kind of request."}
	msgNotAdmin        = consoleMsg{Title: "Administrators only", Text: "You are signed in, but your account is not an administrator, so the Application links console is not open to you. Ask an administrator to make you one, or sign out and sign in as an administrator."}
	msgConsoleCSRF     = consoleMsg{Title: "Request refused", Text: "This form has expired or did not come from this site. Nothing was changed. Reload the page and try again.", Link: consolePrefix + "/links", LinkText: "Application links"}
	msgConsoleBadForm  = consoleMsg{Title: "Invalid request", Text: "The form could not be read. Nothing was changed. Reload the page and try again."}
	msgConsoleTooLarge = consoleMsg{Title: "Request too large", Text: "The form sent too much data. Nothing was changed."}
	msgConsoleServer   = consoleMsg{Title: "Something went wrong", Text: "The server could not complete the request. Try again later."}
	msgConsoleBusy     = consoleMsg{Title: "Temporarily unavailable", Text: "The service is temporarily unavailable. Try again in a moment."}
)

// consoleMessage renders a plain page; a is nil when no administrator is
// known (the page then has no navigation).
func (h *Handler) consoleMessage(w http.ResponseWriter, a *signedIn, status int, m consoleMsg) {
	renderConsole(w, status, frame{Title: m.Title, Admin: a, Provider: h.cfg.ProviderName}, messagePage, m)
}

// render renders a console page for the signed-in administrator; section
// names the navigation entry to mark ("links", "users", "keys").
func render[T any](c *consoleReq, status int, title, section string, body func(*page.Buffer, T), data T) {
	renderConsole(c.w, status, frame{Title: title, Section: section, Admin: c.a, Provider: c.h.cfg.ProviderName}, body, data)
}

// consoleRoutes lists the console's pages and actions.
func consoleRoutes() []consoleRoute {
	return append([]consoleRoute{
		{path: consolePrefix + "/confirm", get: (*consoleReq).confirmPage, post: (*consoleReq).confirm},
		{path: consolePrefix + "/confirm/passkey", post: (*consoleReq).confirmPasskey, backTo: func([]string) string { return consolePrefix + "/confirm" }},
		{path: consolePrefix + "/links", get: (*consoleReq).links},
		{path: consolePrefix + "/links/new", get: (*consoleReq).newLinkForm, post: (*consoleReq).createLink, confirm: true, multi: []string{"redirect_uri", "scope"}},
		{path: consolePrefix + "/links/{id}", get: (*consoleReq).link},
		{path: consolePrefix + "/links/{id}/created", get: (*consoleReq).created, confirm: true},
		{path: consolePrefix + "/links/{id}/credentials", get: (*consoleReq).credentials, confirm: true},
		{path: consolePrefix + "/links/{id}/rotate", get: (*consoleReq).rotateForm, post: (*consoleReq).rotate, confirm: true},
		{path: consolePrefix + "/links/{id}/edit", get: (*consoleReq).editLinkForm, post: (*consoleReq).editLink, confirm: true, multi: []string{"redirect_uri", "scope"}},
		{path: consolePrefix + "/links/{id}/enable", post: func(c *consoleReq) { c.setEnabled(true) }, confirm: true, backTo: linkBack},
		{path: consolePrefix + "/links/{id}/disable", post: func(c *consoleReq) { c.setEnabled(false) }, backTo: linkBack},
		{path: consolePrefix + "/links/{id}/delete", get: (*consoleReq).deleteLinkForm, post: (*consoleReq).deleteLink, confirm: true},
		{path: consolePrefix + "/links/{id}/grants/{grant}/revoke", get: (*consoleReq).revokeGrantForm, post: (*consoleReq).revokeGrant, backTo: linkBack},
		{path: consolePrefix + "/users", get: (*consoleReq).users},
		{path: consolePrefix + "/users/new", get: (*consoleReq).newUserForm, post: (*consoleReq).createUser, confirm: true, multi: []string{"permission"}},
		{path: consolePrefix + "/users/{username}", get: (*consoleReq).user, post: (*consoleReq).updateUser, confirmPost: true, multi: []string{"permission"}},
		{path: consolePrefix + "/users/{username}/password", post: (*consoleReq).setPassword, confirm: true, backTo: userBack},
		{path: consolePrefix + "/users/{username}/revoke", post: (*consoleReq).revokeUserGrants, backTo: userBack},
		{path: consolePrefix + "/users/{username}/unlock", post: (*consoleReq).unlockUser, confirmPost: true, backTo: userBack},
		{path: consolePrefix + "/users/{username}/delete", get: (*consoleReq).deleteUserForm, post: (*consoleReq).deleteUser, confirm: true},
		{path: consolePrefix + "/users/{username}/passkeys/add", get: (*consoleReq).addPasskeyForm, post: (*consoleReq).addPasskey, confirm: true},
		{path: consolePrefix + "/users/{username}/passkeys/{passkey}/remove", post: (*consoleReq).removePasskey, confirm: true, backTo: userBack},
		{path: consolePrefix + "/keys", get: (*consoleReq).keys},
		{path: consolePrefix + "/keys/rotate", post: (*consoleReq).rotateKey, confirm: true, backTo: func([]string) string { return consolePrefix + "/keys" }},
	}, append(idpRoutes(), registrationRoutes()...)...)
}

// userBack is the user's page, where its one-button forms are.
func userBack(params []string) string { return userPath(params[0], "") }

// linkBack is the link's page, where its one-button forms are.
func linkBack(params []string) string { return linkPath(params[0], "") }
