package admin

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// The second step of the console's sign-in, and of an enrollment link
// (passkey_enroll.go): after the right password, the browser holds a
// cookie naming a ceremony in flight (passkeyCookie), and
//
//	GET  /console/login/passkey   the page that asks for the passkey (or makes one)
//	POST /console/login/passkey   its answer: only a verified one signs in

const consolePasskeyPath = consolePrefix + "/login/passkey"

// Messages of the second step.
const (
	msgPasskeyExpired  = "The passkey step expired or was already used. Sign in again."
	msgPasskeyRefused  = "The passkey was not accepted. Sign in again with your password, then use your passkey."
	msgPasskeyNotAdmin = msgConsoleLoginFailed
)

var msgPasskeyNeeded = consoleMsg{Title: "A passkey is needed",
	Text: "Your password is right, but this console also needs a passkey, and your account has none yet. " +
		"A passkey is set up through a one-time enrollment link, which whoever runs this provider issues with the admin API (below). " +
		"The link lasts 15 minutes; open it in this browser and sign in with your password to set up the passkey."}

// passkeyStep decides what follows a right password of u: false to sign
// in at once (no passkey, ADMIN_MFA=optional); otherwise it has answered:
// the passkey's page (a ceremony begun, its cookie set), or under
// required a page saying an enrollment link is needed, with no session.
func (h *Handler) passkeyStep(w http.ResponseWriter, r *http.Request, u store.User, back string) bool {
	ctx := r.Context()
	k, err := h.passkeys(ctx, u)
	if err != nil {
		h.consoleFail(w, r, nil, err)
		return true
	}
	if len(k.creds) == 0 {
		if !h.mfaRequired() {
			return false
		}
		web.Logger(ctx).Info("console login refused", "reason", "no_passkey", "username", u.Username)
		h.renderPasskeyNeeded(w, u)
		return true
	}
	options, session, err := h.beginLogin(u, k)
	if err != nil {
		h.consoleFail(w, r, nil, err)
		return true
	}
	if err := h.beginStep(w, r, ceremonyLogin, u, options, session, back, ""); err != nil {
		h.consoleFail(w, r, nil, err)
		return true
	}
	web.Logger(ctx).Info("console password right, passkey asked", "username", u.Username)
	shared.Redirect(w, consolePasskeyPath, http.StatusSeeOther)
	return true
}

// beginStep stores a second step's ceremony under a fresh cookie.
func (h *Handler) beginStep(w http.ResponseWriter, r *http.Request, kind string, u store.User, options string, session []byte, back, enrollment string) error {
	tok, err := shared.NewToken(h.random)
	if err != nil {
		return wrapf(err, "new passkey step cookie")
	}
	if _, err := h.newCeremony(r.Context(), shared.HashToken(tok), kind, u, options, session, back, enrollment); err != nil {
		return err
	}
	http.SetCookie(w, h.cookies.MakeStrict(h.passkeyCookie(), tok, ceremonyTTL))
	return nil
}

// renderPasskeyNeeded is the page of an administrator who has no passkey
// under ADMIN_MFA=required: it names the admin API call that issues an
// enrollment link (403, no session).
func (h *Handler) renderPasskeyNeeded(w http.ResponseWriter, u store.User) {
	renderConsole(w, http.StatusForbidden, frame{Title: msgPasskeyNeeded.Title, Provider: h.cfg.ProviderName}, passkeyNeededPage, passkeyNeededData{
		Text:     msgPasskeyNeeded.Text,
		Endpoint: h.cfg.Issuer + "/admin/users/" + url.PathEscape(u.Username) + "/admin/passkey-enrollment",
	})
}

// stepExpired sends the browser back to the sign-in page with msg.
func (h *Handler) stepExpired(w http.ResponseWriter, r *http.Request, msg string) {
	h.clearPasskeyCookie(w)
	h.renderConsoleLogin(w, r, http.StatusOK, consoleLoginData{ReturnTo: consolePrefix + "/links", Error: msg})
}

// passkeyStepForm serves GET /console/login/passkey: a sign-in's second
// step, the passkey.
func (h *Handler) passkeyStepForm(w http.ResponseWriter, r *http.Request) {
	tok := h.cookies.Token(r, h.passkeyCookie())
	if tok == "" || !h.passkeysOn() {
		h.stepExpired(w, r, msgPasskeyExpired)
		return
	}
	c, err := h.store.GetPasskeyCeremony(r.Context(), shared.HashToken(tok), h.now())
	if isNotFound(err) || err == nil && c.Kind != ceremonyLogin && c.Kind != ceremonyEnroll {
		h.stepExpired(w, r, msgPasskeyExpired)
		return
	}
	if err != nil {
		h.consoleFail(w, r, nil, wrapf(err, "get passkey ceremony"))
		return
	}
	d := passkeyFormData{Action: consolePasskeyPath, CSRF: c.CSRF, Options: c.Options, Create: c.Kind == ceremonyEnroll,
		Cancel: consoleLoginPath}
	title := "Use your passkey"
	if d.Create {
		title = "Set up your passkey"
	}
	renderPasskeyPage(w, http.StatusOK, frame{Title: title, Provider: h.cfg.ProviderName}, d)
}

// passkeyStepPost serves POST /console/login/passkey.
func (h *Handler) passkeyStepPost(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	form, ok := h.readSignInForm(w, r)
	if !ok {
		return
	}
	tok := h.cookies.Token(r, h.passkeyCookie())
	if tok == "" || !h.passkeysOn() {
		h.stepExpired(w, r, msgPasskeyExpired)
		return
	}
	// Taken before it is verified: whatever the answer, this challenge is
	// never answered again.
	c, err := h.store.TakePasskeyCeremony(ctx, shared.HashToken(tok), form.Get("csrf"), h.now())
	if isNotFound(err) || err == nil && c.Kind != ceremonyLogin && c.Kind != ceremonyEnroll {
		web.Logger(ctx).Info("console passkey step refused", "reason", "no_ceremony")
		h.stepExpired(w, r, msgPasskeyExpired)
		return
	}
	if err != nil {
		h.consoleFail(w, r, nil, wrapf(err, "take passkey ceremony"))
		return
	}
	h.clearPasskeyCookie(w)
	// The user as they are now: still an enabled administrator, and no
	// new password since the password step.
	u, err := h.store.GetUser(ctx, c.UserID)
	switch {
	case isNotFound(err):
		h.stepExpired(w, r, msgPasskeyNotAdmin)
		return
	case err != nil:
		h.consoleFail(w, r, nil, wrapf(err, "get user"))
		return
	case !u.Admin || u.Disabled || !u.IssuedSince(c.CreatedAt):
		web.Logger(ctx).Info("console passkey step refused", "reason", "user_changed", "username", u.Username)
		h.stepExpired(w, r, msgPasskeyNotAdmin)
		return
	}
	answer := form.Get("credential")
	if c.Kind == ceremonyEnroll {
		h.finishEnrollment(w, r, u, c, answer)
		return
	}
	k, err := h.passkeys(ctx, u)
	if err != nil {
		h.consoleFail(w, r, nil, err)
		return
	}
	p, err := h.finishLogin(ctx, u, k, c, answer)
	if errors.Is(err, errPasskeyRefused) {
		web.Logger(ctx).Info("console login failed", "reason", "passkey_refused", "username", u.Username, "detail", err.Error())
		h.stepExpired(w, r, msgPasskeyRefused)
		return
	}
	if err != nil {
		h.consoleFail(w, r, nil, err)
		return
	}
	web.Logger(ctx).Info("console passkey verified", "username", u.Username, "credential", credPrefix(p.ID))
	h.startConsoleSession(w, r, u, consoleReturnTo(c.ReturnTo), "password+passkey")
}
