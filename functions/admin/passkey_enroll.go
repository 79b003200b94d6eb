package admin

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/page"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// Enrollment links and the reset of a user's passkeys, through the admin
// API (IAM in AWS, the admin token locally), under the administrator
// paths /admin/users/{u}/admin/... that an IAM policy can keep apart from
// ordinary user management:
//
//	POST   /admin/users/{u}/admin/passkey-enrollment   201 {"url", "expires_at"}: a one-time link, 15 minutes
//	DELETE /admin/users/{u}/admin/passkeys             204: every passkey removed, the user's sessions ended
//
// The link opens GET /console/passkeys/enroll?token=..., which asks for
// the user's password (a leaked link alone is not enough), then for the
// new passkey (a stolen password alone is not enough); registering it
// consumes the link and signs in.

const consoleEnrollPath = consolePrefix + "/passkeys/enroll"

var (
	msgEnrollInvalid = consoleMsg{Title: "This link does not work",
		Text: "This passkey enrollment link has expired (links last 15 minutes), was used already, or was copied incompletely. Ask for a new one.",
		Link: consoleLoginPath, LinkText: "Console sign-in"}
	msgEnrollRefused = consoleMsg{Title: "The passkey was not set up",
		Text: "Your browser's answer could not be verified, so no passkey was added. Open the enrollment link again while it lasts (15 minutes from when it was issued) and try once more, or ask for a new one.",
		Link: consoleLoginPath, LinkText: "Console sign-in"}
	msgEnrollFull = consoleMsg{Title: "Too many passkeys",
		Text: "This account has as many passkeys as it may have. Have them reset through the admin API first.",
		Link: consoleLoginPath, LinkText: "Console sign-in"}
	msgPasskeysOff = consoleMsg{Title: "Passkeys are not available",
		Text: "This provider's address is an IP address, and passkeys are bound to a domain name, so this console offers none.",
		Link: consolePrefix + "/links", LinkText: "Application links"}
)

// enrollmentResponse is the answer to an enrollment link request.
type enrollmentResponse struct {
	URL       string `json:"url"`
	ExpiresAt string `json:"expires_at"`
}

// passkeyEnrollment serves POST /admin/users/{username}/admin/passkey-enrollment:
// a one-time link (EnrollmentTTL) with which the administrator registers a
// passkey, after their password. 404 for no such user; 409 for a user who
// is not an administrator or is disabled, and when the issuer's host is an
// IP address (no passkeys there). The body is optional and, when sent,
// must be an empty JSON object. Earlier links of the user stay valid
// until they end or are used.
func (h *Handler) passkeyEnrollment(w http.ResponseWriter, r *http.Request, c call) error {
	ctx := r.Context()
	var in struct{}
	if err := decodeOptional(r, &in); err != nil {
		return err
	}
	if !h.passkeysOn() {
		return errConflict("passkeys need ISSUER_URL to name a domain, and its host is an IP address")
	}
	u, err := h.userOp(ctx, c.param)
	if err != nil {
		return err
	}
	switch {
	case !u.Admin:
		return errConflict("the user is not an administrator: passkeys are for console administrators")
	case u.Disabled:
		return errConflict("the user is disabled")
	}
	tok, err := shared.NewToken(h.random)
	if err != nil {
		return wrapf(err, "new enrollment token")
	}
	now := h.now()
	en := store.PasskeyEnrollment{ID: shared.HashToken(tok), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(EnrollmentTTL)}
	if err := h.store.CreatePasskeyEnrollment(ctx, en); err != nil {
		return wrapf(err, "create passkey enrollment")
	}
	expires := en.ExpiresAt.UTC().Format(time.RFC3339)
	c.audit(ctx, "passkey_enrollment_issued", "user_id", u.ID, "username", u.Username, "expires_at", expires, "enrollment", shared.HashPrefix(tok))
	web.WriteJSON(w, http.StatusCreated, enrollmentResponse{URL: h.cfg.Issuer + consoleEnrollPath + "?token=" + url.QueryEscape(tok), ExpiresAt: expires})
	return nil
}

// removePasskeys serves DELETE /admin/users/{username}/admin/passkeys: the
// user's passkeys are removed and every session of theirs ends (the
// console's, the sign-in pages', pending codes: as after a new password),
// so a lost or stolen passkey stops working at once. 204, also when the
// user had none; 404 for no such user.
func (h *Handler) removePasskeys(w http.ResponseWriter, r *http.Request, c call) error {
	ctx := r.Context()
	u, err := h.userOp(ctx, c.param)
	if err != nil {
		return err
	}
	keys, err := h.store.GetPasskeys(ctx, u.ID)
	if err != nil {
		return wrapf(err, "get passkeys")
	}
	if err := h.store.RemovePasskeys(ctx, u.ID, h.now()); err != nil {
		return userError(wrapf(err, "remove passkeys"))
	}
	c.audit(ctx, "passkeys_removed", "user_id", u.ID, "username", u.Username, "count", len(keys), "sessions_ended", true)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// consolePasskeyEnrollForm serves GET /console/passkeys/enroll: the
// enrollment link's page.
func (h *Handler) consolePasskeyEnrollForm(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	if _, ok := h.enrollment(w, r, tok); ok {
		h.renderEnrollForm(w, r, http.StatusOK, enrollFormData{Token: tok})
	}
}

// enrollment reads the link's enrollment; when it is not usable it has
// answered (404, or 409 without passkeys) and ok is false.
func (h *Handler) enrollment(w http.ResponseWriter, r *http.Request, tok string) (store.PasskeyEnrollment, bool) {
	if !h.passkeysOn() {
		h.consoleMessage(w, nil, http.StatusConflict, msgPasskeysOff)
		return store.PasskeyEnrollment{}, false
	}
	if !page.WellFormedToken(tok) {
		h.consoleMessage(w, nil, http.StatusNotFound, msgEnrollInvalid)
		return store.PasskeyEnrollment{}, false
	}
	en, err := h.store.GetPasskeyEnrollment(r.Context(), shared.HashToken(tok), h.now())
	if isNotFound(err) {
		web.Logger(r.Context()).Info("passkey enrollment refused", "reason", "no_link", "enrollment", shared.HashPrefix(tok))
		h.consoleMessage(w, nil, http.StatusNotFound, msgEnrollInvalid)
		return store.PasskeyEnrollment{}, false
	}
	if err != nil {
		h.consoleFail(w, r, nil, wrapf(err, "get passkey enrollment"))
		return store.PasskeyEnrollment{}, false
	}
	return en, true
}

// renderEnrollForm renders the link's password form with a double-submit
// CSRF token, the sign-in form's (renderConsoleLogin).
func (h *Handler) renderEnrollForm(w http.ResponseWriter, r *http.Request, status int, d enrollFormData) {
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
	renderConsole(w, status, frame{Title: "Set up a passkey", Provider: h.cfg.ProviderName}, enrollFormPage, d)
}

// consolePasskeyEnrollPost serves POST /console/passkeys/enroll.
func (h *Handler) consolePasskeyEnrollPost(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	form, ok := h.readSignInForm(w, r)
	if !ok {
		return
	}
	link := form.Get("token")
	en, ok := h.enrollment(w, r, link)
	if !ok {
		return
	}
	d := enrollFormData{Token: link}
	if tok, cookie := form.Get("csrf"), h.cookies.Token(r, h.cookies.ConsoleLogin); tok == "" || cookie == "" || !shared.Equal(tok, cookie) {
		web.Logger(ctx).Info("passkey enrollment csrf mismatch")
		d.Error = msgConsoleLoginExpired
		h.renderEnrollForm(w, r, http.StatusForbidden, d)
		return
	}
	username := form.Get("username")
	u, err := h.consolePassword(r, username, form.Get("password"))
	if err != nil {
		h.consoleFail(w, r, nil, err)
		return
	}
	if u != nil && u.ID != en.UserID {
		// Another administrator's password: the link is not theirs.
		web.Logger(ctx).Info("passkey enrollment refused", "reason", "other_user", "username", u.Username)
		u = nil
	}
	if u == nil {
		d.Username, d.Error = username, msgConsoleLoginFailed
		h.renderEnrollForm(w, r, http.StatusOK, d)
		return
	}
	k, err := h.passkeys(ctx, *u)
	if err != nil {
		h.consoleFail(w, r, nil, err)
		return
	}
	if len(k.stored) >= store.MaxPasskeys {
		h.consoleMessage(w, nil, http.StatusConflict, msgEnrollFull)
		return
	}
	options, session, err := h.beginRegistration(*u, k)
	if err != nil {
		h.consoleFail(w, r, nil, err)
		return
	}
	if err := h.beginStep(w, r, ceremonyEnroll, *u, options, session, userPath(u.Username, "?passkey=added"), en.ID); err != nil {
		h.consoleFail(w, r, nil, err)
		return
	}
	http.SetCookie(w, h.cookies.MakeStrict(h.cookies.ConsoleLogin, "", -1))
	web.Logger(ctx).Info("passkey enrollment password right", "username", u.Username)
	shared.Redirect(w, consolePasskeyPath, http.StatusSeeOther)
}

// finishEnrollment verifies the new passkey of an enrollment ceremony,
// stores it while consuming the link (one transaction), and signs in.
func (h *Handler) finishEnrollment(w http.ResponseWriter, r *http.Request, u store.User, c store.PasskeyCeremony, answer string) {
	ctx := r.Context()
	p, err := h.finishRegistration(u, c, answer)
	if errors.Is(err, errPasskeyRefused) {
		web.Logger(ctx).Info("passkey enrollment refused", "reason", "passkey_refused", "username", u.Username, "detail", err.Error())
		h.consoleMessage(w, nil, http.StatusBadRequest, msgEnrollRefused)
		return
	}
	if err != nil {
		h.consoleFail(w, r, nil, err)
		return
	}
	if err := h.store.EnrollPasskey(ctx, c.EnrollmentID, p, store.MaxPasskeys, h.now()); err != nil {
		if isConflict(err) {
			web.Logger(ctx).Info("passkey enrollment refused", "reason", "link_used", "username", u.Username)
			h.consoleMessage(w, nil, http.StatusConflict, msgEnrollInvalid)
			return
		}
		h.consoleFail(w, r, nil, wrapf(err, "enroll passkey"))
		return
	}
	web.Audit(ctx, "passkey_enrolled", "principal", u.Username, "via", "enrollment_link", "user_id", u.ID, "username", u.Username,
		"credential", credPrefix(p.ID))
	h.startConsoleSession(w, r, u, consoleReturnTo(c.ReturnTo), "password+passkey")
}
