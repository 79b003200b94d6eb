package admin

import (
	"errors"
	"net/http"

	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// A signed-in administrator's passkeys in the console:
//
//	POST /console/confirm/passkey                    confirm with a passkey (the confirmation page's ceremony)
//	GET  /console/users/{u}/passkeys/add, POST       add a passkey (one's own; confirmed; ADMIN_MFA=optional)
//	POST /console/users/{u}/passkeys/{id}/remove     remove one (one's own; confirmed; optional)
//
// The ceremonies of these pages are bound to the console session
// (sessionCeremonyID) and carry its CSRF token; opening a page again
// begins a new one.

var (
	msgPasskeyOwnOnly = consoleMsg{Title: "Your own passkeys only",
		Text: "An administrator adds and removes only their own passkeys here. The admin API resets another user's (DELETE /admin/users/{username}/admin/passkeys).",
		Link: consolePrefix + "/users", LinkText: "Users"}
	msgPasskeyByLink = consoleMsg{Title: "Passkeys come from enrollment links",
		Text: "Passkeys are required for this console, so they are set up only through a one-time link the admin API issues (POST /admin/users/{username}/admin/passkey-enrollment), and reset through the admin API.",
		Link: consolePrefix + "/users", LinkText: "Users"}
)

// confirmForm fills the confirmation page: the password form (not under
// ADMIN_MFA=required) and, when the administrator has a passkey, a
// confirmation ceremony begun for this session.
func (c *consoleReq) confirmForm(back, errMsg string) (confirmData, error) {
	d := confirmData{CSRF: c.a.sess.CSRF, ReturnTo: back, Error: errMsg, Password: !c.h.mfaRequired()}
	k, err := c.h.passkeys(c.ctx(), c.a.user)
	if err != nil {
		return d, err
	}
	if len(k.creds) == 0 {
		d.NoPasskey = c.h.mfaRequired()
		return d, nil
	}
	options, session, err := c.h.beginLogin(c.a.user, k)
	if err != nil {
		return d, err
	}
	cer, err := c.h.newCeremonyFor(c, ceremonyConfirm, options, session, back)
	if err != nil {
		return d, err
	}
	d.Passkey = &passkeyFormData{Action: consolePrefix + "/confirm/passkey", CSRF: cer.CSRF, Options: cer.Options}
	return d, nil
}

// newCeremonyFor stores a ceremony of the signed-in administrator, bound
// to the console session, with the session's CSRF token.
func (h *Handler) newCeremonyFor(c *consoleReq, kind, options string, session []byte, back string) (store.PasskeyCeremony, error) {
	now := h.now()
	cer := store.PasskeyCeremony{ID: sessionCeremonyID(kind, c.a.sess), Kind: kind, UserID: c.a.user.ID, CSRF: c.a.sess.CSRF,
		Session: session, Options: options, ReturnTo: back, CreatedAt: now, ExpiresAt: now.Add(ceremonyTTL)}
	if err := h.store.PutPasskeyCeremony(c.ctx(), cer); err != nil {
		return store.PasskeyCeremony{}, wrapf(err, "store passkey ceremony")
	}
	return cer, nil
}

// takeCeremony takes the session's ceremony of kind: ok is false when
// there is none (never begun, ended, or already answered); err is a store
// failure.
func (c *consoleReq) takeCeremony(kind string) (cer store.PasskeyCeremony, ok bool, err error) {
	cer, err = c.h.store.TakePasskeyCeremony(c.ctx(), sessionCeremonyID(kind, c.a.sess), c.a.sess.CSRF, c.h.now())
	if err != nil && !isNotFound(err) {
		return cer, false, wrapf(err, "take passkey ceremony")
	}
	if err != nil || cer.Kind != kind || cer.UserID != c.a.user.ID {
		web.Logger(c.ctx()).Info("console passkey refused", "reason", "no_ceremony", "kind", kind, "username", c.a.user.Username)
		return cer, false, nil
	}
	return cer, true, nil
}

// confirmPasskey serves POST /console/confirm/passkey: a verified
// assertion of one of the administrator's passkeys confirms, as the
// password does.
func (c *consoleReq) confirmPasskey() {
	back := c.form.Get("return_to")
	if !validConsoleReturn(back) {
		back = consolePrefix + "/links"
	}
	retry := func(msg string) {
		d, err := c.confirmForm(back, msg)
		if err != nil {
			c.fail(err)
			return
		}
		c.renderConfirm(d)
	}
	cer, ok, err := c.takeCeremony(ceremonyConfirm)
	if err != nil {
		c.fail(err)
		return
	}
	if !ok {
		retry("The passkey step expired. Try again.")
		return
	}
	if validConsoleReturn(cer.ReturnTo) {
		back = cer.ReturnTo
	}
	k, err := c.h.passkeys(c.ctx(), c.a.user)
	if err != nil {
		c.fail(err)
		return
	}
	p, err := c.h.finishLogin(c.ctx(), c.a.user, k, cer, c.form.Get("credential"))
	if errors.Is(err, errPasskeyRefused) {
		web.Logger(c.ctx()).Info("console confirmation failed", "reason", "passkey_refused", "username", c.a.user.Username, "detail", err.Error())
		retry("The passkey was not accepted. Try again.")
		return
	}
	if err != nil {
		c.fail(err)
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
	web.Audit(c.ctx(), "console_confirmed", "principal", c.a.user.Username, "via", "console", "method", "passkey", "credential", credPrefix(p.ID))
	c.seeOther(back)
}

// ownPasskeys checks that the page is the administrator's own and that
// the console may change passkeys (optional, with a domain); otherwise it
// has answered.
func (c *consoleReq) ownPasskeys() bool {
	switch {
	case !c.h.passkeysOn():
		c.h.consoleMessage(c.w, c.a, http.StatusConflict, msgPasskeysOff)
	case c.h.mfaRequired():
		c.h.consoleMessage(c.w, c.a, http.StatusForbidden, msgPasskeyByLink)
	case store.UsernameKey(c.param(0)) != store.UsernameKey(c.a.user.Username):
		c.h.consoleMessage(c.w, c.a, http.StatusForbidden, msgPasskeyOwnOnly)
	default:
		return true
	}
	return false
}

// addPasskeyForm serves GET /console/users/{u}/passkeys/add.
func (c *consoleReq) addPasskeyForm() {
	if !c.ownPasskeys() {
		return
	}
	k, err := c.h.passkeys(c.ctx(), c.a.user)
	if err != nil {
		c.fail(err)
		return
	}
	if len(k.stored) >= store.MaxPasskeys {
		c.h.consoleMessage(c.w, c.a, http.StatusConflict, msgEnrollFull)
		return
	}
	options, session, err := c.h.beginRegistration(c.a.user, k)
	if err != nil {
		c.fail(err)
		return
	}
	cer, err := c.h.newCeremonyFor(c, ceremonyAdd, options, session, "")
	if err != nil {
		c.fail(err)
		return
	}
	renderPasskeyPage(c.w, http.StatusOK, frame{Title: "Add a passkey", Section: "users", Admin: c.a, Provider: c.h.cfg.ProviderName},
		passkeyFormData{Action: userPath(c.a.user.Username, "/passkeys/add"), CSRF: cer.CSRF, Options: cer.Options, Create: true,
			Cancel: userPath(c.a.user.Username, "#passkeys"),
			Intro:  "A passkey is a second proof, after your password, when you sign in to this console: it lives on this device or a security key, and unlocks with your fingerprint, face or PIN. Once you have one, signing in asks for it."})
}

// addPasskey serves POST /console/users/{u}/passkeys/add.
func (c *consoleReq) addPasskey() {
	if !c.ownPasskeys() {
		return
	}
	cer, ok, err := c.takeCeremony(ceremonyAdd)
	if err != nil {
		c.fail(err)
		return
	}
	if !ok {
		c.seeOther(userPath(c.a.user.Username, "/passkeys/add"))
		return
	}
	p, err := c.h.finishRegistration(c.a.user, cer, c.form.Get("credential"))
	if errors.Is(err, errPasskeyRefused) {
		web.Logger(c.ctx()).Info("passkey not added", "reason", "passkey_refused", "username", c.a.user.Username, "detail", err.Error())
		c.h.consoleMessage(c.w, c.a, http.StatusBadRequest, consoleMsg{Title: "The passkey was not added",
			Text: "Your browser's answer could not be verified, so no passkey was added.", Link: userPath(c.a.user.Username, "/passkeys/add"), LinkText: "Try again"})
		return
	}
	if err != nil {
		c.fail(err)
		return
	}
	if err := c.h.store.AddPasskey(c.ctx(), p, store.MaxPasskeys); err != nil {
		if isConflict(err) {
			c.h.consoleMessage(c.w, c.a, http.StatusConflict, msgEnrollFull)
			return
		}
		c.fail(wrapf(err, "add passkey"))
		return
	}
	c.a.call().audit(c.ctx(), "passkey_enrolled", "user_id", c.a.user.ID, "username", c.a.user.Username, "credential", credPrefix(p.ID))
	c.seeOther(userPath(c.a.user.Username, "?passkey=added"))
}

// removePasskey serves POST /console/users/{u}/passkeys/{id}/remove.
func (c *consoleReq) removePasskey() {
	if !c.ownPasskeys() {
		return
	}
	id := c.param(1)
	if err := c.h.store.RemovePasskey(c.ctx(), c.a.user.ID, id); err != nil {
		if isNotFound(err) {
			c.h.consoleMessage(c.w, c.a, http.StatusNotFound, consoleMsg{Title: "Not found", Text: "You have no such passkey.",
				Link: userPath(c.a.user.Username, "#passkeys"), LinkText: "Your passkeys"})
			return
		}
		c.fail(wrapf(err, "remove passkey"))
		return
	}
	c.a.call().audit(c.ctx(), "passkey_removed", "user_id", c.a.user.ID, "username", c.a.user.Username, "credential", credPrefix(id))
	c.seeOther(userPath(c.a.user.Username, "?passkey=removed"))
}

// passkeySectionOf is the Passkeys part of u's page, nil when the
// console offers no passkeys.
func (c *consoleReq) passkeySectionOf(u store.User) (*passkeySection, error) {
	if !c.h.passkeysOn() || !u.Admin {
		return nil, nil
	}
	k, err := c.h.passkeys(c.ctx(), u)
	if err != nil {
		return nil, err
	}
	return &passkeySection{Keys: k.stored, Self: u.ID == c.a.user.ID, Required: c.h.mfaRequired(), CSRF: c.a.sess.CSRF, Username: u.Username}, nil
}
