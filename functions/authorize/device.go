package authorize

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/page"
	"github.com/applinks/applinks/shared/page/component"
	"github.com/applinks/applinks/shared/permissions"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// The verification page of the Device Authorization Grant (RFC 8628 §3.3):
// a person enters the user code their device shows, signs in, and allows
// or denies the device on a consent page of its own.
//
//	GET  /device[?user_code=]  the code form (pre-filled from
//	                           verification_uri_complete, never submitted
//	                           for the user); once the browser has
//	                           confirmed that code: the sign-in, then the
//	                           consent page
//	POST /device               the code form (double-submit CSRF token,
//	                           limited per browser and per source), or the
//	                           consent page's decision (the session's CSRF
//	                           token)
//	GET  /device?done=         the page that sends the user back to the
//	                           device
//
// Device-code phishing (RFC 8628 §5.4) is the known attack: someone starts
// a device flow and sends a victim the link. So the code is always typed or
// confirmed by the user on this site before anything else (a pre-filled
// link only fills the form); the confirmation is remembered in a cookie of
// its own, bound to that code, which only this form's post sets; and the
// consent page is always shown, even when an earlier grant covers the
// request, naming the application, what it gets, and the code to compare
// with the device, with a warning to deny a code someone else sent.

// devicePath is the verification URI's path.
const devicePath = "/device"

// Limits of the code form (RFC 8628 §5.1: user codes are short, so
// guessing them must be limited).
const (
	// MaxWrongUserCodes wrong codes from one browser, or from one source
	// address, within WrongUserCodeWindow refuse every code from it (429)
	// until the window ends.
	MaxWrongUserCodes   = 5
	WrongUserCodeWindow = 15 * time.Minute
)

// Counter names of the code form's limits (store.ReserveAttempt; the
// store puts them under THROTTLE#).
func deviceSourceCounter(source string) string   { return "DEVICE#SOURCE#" + source }
func deviceBrowserCounter(browser string) string { return "DEVICE#BROWSER#" + browser }

// Devices records a user's decision on a device authorization.
type Devices interface {
	// DecideDevice records the decision on a pending, unexpired
	// authorization (shared.ErrConflict otherwise).
	DecideDevice(ctx context.Context, userCodeHash string, d store.DeviceDecision, now time.Time) (store.Device, error)
}

// deviceCookie is the name of the cookie that remembers which code this
// browser confirmed: __Host-device, or device for a plain-http loopback
// issuer (page.Cookies).
func (h *Handler) deviceCookie() string {
	if h.cookies.Secure {
		return "__Host-device"
	}
	return "device"
}

// confirmed reports whether this browser confirmed the user code (the
// cookie the code form's post set holds its hash).
func (h *Handler) confirmed(r *http.Request, userCode string) bool {
	c := h.cookies.Token(r, h.deviceCookie())
	return c != "" && shared.Equal(c, shared.HashToken(userCode))
}

// deviceURL is the page of one user code (shown as XXXX-XXXX).
func deviceURL(userCode string) string {
	return devicePath + "?" + url.Values{"user_code": {shared.FormatUserCode(userCode)}}.Encode()
}

// devicePost serves POST /device: the code entered, or the decision on
// the consent page.
func (h *Handler) devicePost(w http.ResponseWriter, r *http.Request) {
	form, ok := h.readForm(w, r)
	if !ok {
		return
	}
	if form.Has("decision") || form.Has("account") {
		h.deviceDecide(w, r, form)
		return
	}
	h.deviceEnter(w, r, form)
}

// deviceGet serves GET /device: the end pages, the next step for a code
// this browser confirmed, else the code form.
func (h *Handler) deviceGet(w http.ResponseWriter, r *http.Request) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		h.renderMessage(w, http.StatusBadRequest, msgBadDeviceLink)
		return
	}
	switch q.Get("done") {
	case "approved":
		component.Render(w, http.StatusOK, deviceDonePage(deviceDone{site: h.site(), Approved: true}))
		return
	case "denied":
		component.Render(w, http.StatusOK, deviceDonePage(deviceDone{site: h.site()}))
		return
	}
	code, ok := shared.NormalizeUserCode(q.Get("user_code"))
	if ok && h.confirmed(r, code) {
		h.deviceContinue(w, r, code)
		return
	}
	d := deviceFormData{}
	if ok {
		d.Code, d.Prefilled = shared.FormatUserCode(code), true
	}
	h.renderDeviceForm(w, r, http.StatusOK, d)
}

// renderDeviceForm renders the code form with the double-submit CSRF
// token of the login form (the same cookie: the sign-in that follows
// keeps it).
func (h *Handler) renderDeviceForm(w http.ResponseWriter, r *http.Request, status int, d deviceFormData) {
	tok := h.cookies.Token(r, h.cookies.LoginCSRF)
	if tok == "" || status == http.StatusForbidden {
		var err error
		if tok, err = shared.NewToken(h.random); err != nil {
			web.Logger(r.Context()).Error("new device form csrf token", "err", err.Error())
			h.fail(w, shared.ServerError())
			return
		}
	}
	http.SetCookie(w, h.cookies.Make(h.cookies.LoginCSRF, tok, loginCSRFTTL))
	d.CSRF = tok
	d.site = h.site()
	component.Render(w, status, deviceFormPage(d))
}

// deviceEnter serves the code form's post: the CSRF token, then the
// limits (each attempt counted before its code is looked up, per source
// address and per browser; a right code takes its attempts back), then
// the code. A right code is remembered for this browser and leads on
// (303 to its page); a wrong one is said to be wrong and stays counted.
func (h *Handler) deviceEnter(w http.ResponseWriter, r *http.Request, form url.Values) {
	ctx := r.Context()
	log := web.Logger(ctx)
	typed := form.Get("user_code")
	csrf := h.cookies.Token(r, h.cookies.LoginCSRF)
	if tok := form.Get("csrf"); csrf == "" || tok == "" || !shared.Equal(csrf, tok) {
		log.Info("device form csrf mismatch")
		h.renderDeviceForm(w, r, http.StatusForbidden, deviceFormData{Message: msgDeviceExpired})
		return
	}
	code, ok := shared.NormalizeUserCode(typed)
	if !ok {
		// Not a code at all: no lookup, so nothing to count.
		h.renderDeviceForm(w, r, http.StatusOK, deviceFormData{Code: clip(typed), Message: msgDeviceMalformed})
		return
	}
	now := h.now()
	src := h.limiter.Source(r)
	var held []heldAttempt
	for _, l := range []struct{ limit, counter string }{
		{"source", deviceSourceCounter(src)},
		{"browser", deviceBrowserCounter(shared.HashToken(csrf))},
	} {
		c, allowed, err := h.store.ReserveAttempt(ctx, l.counter, MaxWrongUserCodes, WrongUserCodeWindow, now)
		if err != nil {
			log.Error("device code limit", "err", err.Error())
			h.fail(w, err)
			return
		}
		if !allowed {
			log.Info("device code refused", "reason", "too many wrong codes", "limit", l.limit, "source", src)
			h.renderDeviceLimited(w, c.WindowEnd)
			return
		}
		held = append(held, heldAttempt{l.counter, c})
	}
	hash := shared.HashToken(code)
	b, err := h.store.Fetch(ctx, store.Keys{DeviceUserCode: hash})
	if err != nil {
		log.Error("get device authorization", "err", err.Error())
		h.fail(w, err)
		return
	}
	if d := b.Device; !usableDevice(d, now) {
		// The attempts stay counted: a guess, a typo, or a code that has
		// expired or was used already (the same message for each).
		log.Info("device code refused", "reason", "wrong, expired or used", "source", src, "user_code", shared.HashPrefix(code))
		h.renderDeviceForm(w, r, http.StatusOK, deviceFormData{Code: shared.FormatUserCode(code), Message: msgDeviceWrong})
		return
	}
	for _, a := range held {
		if err := h.store.ReleaseAttempt(ctx, a.name, a.counter); err != nil {
			log.Warn("release device code attempt", "err", err.Error())
		}
	}
	http.SetCookie(w, h.cookies.Make(h.deviceCookie(), hash, b.Device.ExpiresAt.Sub(now)))
	shared.Redirect(w, deviceURL(code), http.StatusSeeOther)
}

// heldAttempt is an attempt counted on a named counter.
type heldAttempt struct {
	name    string
	counter store.Counter
}

// usableDevice reports whether d can still be decided: it exists, is
// pending and has not expired.
func usableDevice(d *store.Device, now time.Time) bool {
	return d != nil && d.Status == store.DevicePending && now.Before(d.ExpiresAt)
}

// clip bounds what a person typed before it is shown back.
func clip(s string) string {
	if len(s) > 32 {
		return s[:32]
	}
	return s
}

// renderDeviceLimited answers 429 until the window of wrong codes ends.
func (h *Handler) renderDeviceLimited(w http.ResponseWriter, until time.Time) {
	wait := max(until.Sub(h.now()), time.Second)
	w.Header().Set("Retry-After", strconv.FormatInt(int64((wait+time.Second-1)/time.Second), 10))
	m := msgDeviceLimited
	m.Text = "For your security, no more codes are accepted from this browser or network until " + page.Day(until) +
		". Check the code on your device, and try again after that."
	h.renderMessage(w, http.StatusTooManyRequests, m)
}

// deviceRequest is a device authorization with what its pages need: the
// link it was issued to, and the signed-in user, if any.
type deviceRequest struct {
	code   string // the user code, normalized
	device *store.Device
	link   *store.Link
	// resource is the link of the device authorization's resource server
	// (RFC 8707), nil without a resource.
	resource *store.Link
	sess     *store.Session // nil when no one is signed in
	user     *store.User
}

// readDevice reads the authorization of code, its link and the signed-in
// user (two calls: the authorization with the session, then the link with
// the user, with the resource server of its resource). errDeviceGone when
// the code can no longer be decided, errDeviceApp when its link is gone,
// disabled or no longer allows the device grant, errDeviceResource when
// its resource (RFC 8707) is no longer served.
func (h *Handler) readDevice(ctx context.Context, r *http.Request, code string) (*deviceRequest, error) {
	now := h.now()
	b, err := h.store.Fetch(ctx, store.Keys{DeviceUserCode: shared.HashToken(code), SessionID: h.sessionID(r)})
	if err != nil {
		return nil, err
	}
	if !usableDevice(b.Device, now) {
		return nil, errDeviceGone
	}
	dr := &deviceRequest{code: code, device: b.Device}
	k := store.Keys{ClientID: b.Device.ClientID, ResourceClientID: b.Device.ResourceClientID}
	if s := b.Session; s != nil && now.Before(s.ExpiresAt) {
		k.UserID = s.UserID
	}
	b2, err := h.store.Fetch(ctx, k)
	if err != nil {
		return nil, err
	}
	if l := b2.Link; l == nil || !l.Usable() || !l.AllowsGrant(shared.GrantTypeDeviceCode) {
		return nil, errDeviceApp
	}
	dr.link = b2.Link
	if r := b.Device.Resource; r != "" {
		if !b2.ResourceLink.ServesResource(r) {
			return nil, errDeviceResource
		}
		dr.resource = b2.ResourceLink
	}
	if k.UserID != "" && liveSession(*b.Session, b2.User) {
		dr.sess, dr.user = b.Session, b2.User
	}
	return dr, nil
}

var (
	errDeviceGone = errors.New("device authorization expired, decided or unknown")
	errDeviceApp  = errors.New("device authorization's link is gone, disabled or without the device grant")
)

// failDevice answers readDevice's errors.
func (h *Handler) failDevice(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, errDeviceGone):
		http.SetCookie(w, h.cookies.Make(h.deviceCookie(), "", -1))
		h.renderMessage(w, http.StatusBadRequest, msgDeviceGone)
	case errors.Is(err, errDeviceApp):
		h.renderMessage(w, http.StatusBadRequest, msgDeviceApp)
	case errors.Is(err, errDeviceResource):
		h.failDeviceResource(w)
	default:
		web.Logger(r.Context()).Error("read device authorization", "err", err.Error())
		h.fail(w, err)
	}
}

// deviceGrantable is the scope the user may approve for the device:
// max(closure(R) ∩ closure(C) ∩ closure(U)), or the baseline, exactly as
// for the code flow (R the requested scope, none meaning the link's, C the
// link's scopes capped by its resource server's, RFC 8707; U the
// stored permissions or, with PERMISSION_SOURCE=service, the permission
// service's answer, whose failure is errPermissionsUnavailable and never
// a wider scope).
func (h *Handler) deviceGrantable(ctx context.Context, dr *deviceRequest) ([]string, error) {
	requested := shared.FormatScope(dr.device.Scope)
	ceiling := h.ceiling(*dr.link, dr.resource) // capped by the resource server too (RFC 8707)
	perms := dr.user.Permissions
	if h.cfg.Permissions.Service() {
		asked, err := h.catalog.Cap(requested, ceiling, ceiling)
		if err != nil {
			return nil, err
		}
		if perms, err = h.perms.Permissions(ctx, permissions.ForUser(*dr.user, dr.link.ClientID, asked)); err != nil {
			web.Logger(ctx).Warn("permission service failed; nothing granted", "client_id", dr.link.ClientID,
				"user_id", dr.user.ID, "err", err)
			return nil, errPermissionsUnavailable
		}
	}
	return h.catalog.Cap(requested, ceiling, perms)
}

// failDeviceGrantable answers deviceGrantable's error: a 503 page when the
// permission service failed (nothing was decided; the device keeps
// polling until the code expires), else a server error.
func (h *Handler) failDeviceGrantable(w http.ResponseWriter, err error) {
	if errors.Is(err, errPermissionsUnavailable) {
		component.Render(w, http.StatusServiceUnavailable, errorPage(authError{
			site:  h.site(),
			Title: "Your permissions cannot be confirmed right now",
			Text: h.provider + " asks for your permissions before a device gets any access, and the service that holds them did not answer. " +
				"Nothing has been shared.",
			Next: "Try again in a few minutes, with the same code while the device still shows it.",
			Code: "temporarily_unavailable", Description: "the user's permissions cannot be confirmed right now",
		}))
		return
	}
	h.renderMessage(w, http.StatusInternalServerError, msgServer)
}

// deviceContinue is the step after the code: the sign-in when no one is
// signed in (returning here), else the consent page, always.
func (h *Handler) deviceContinue(w http.ResponseWriter, r *http.Request, code string) {
	dr, err := h.readDevice(r.Context(), r, code)
	if err != nil {
		h.failDevice(w, r, err)
		return
	}
	if dr.user == nil {
		h.renderLogin(w, r, http.StatusOK, loginData{ReturnTo: deviceURL(code), AppName: dr.link.Name})
		return
	}
	h.renderDeviceConsent(r.Context(), w, dr)
}

// renderDeviceConsent renders the device's consent page.
func (h *Handler) renderDeviceConsent(ctx context.Context, w http.ResponseWriter, dr *deviceRequest) {
	granted, err := h.deviceGrantable(ctx, dr)
	if err != nil {
		h.failDeviceGrantable(w, err)
		return
	}
	component.Render(w, http.StatusOK, deviceConsentPage(deviceConsentData{
		site:     h.site(),
		AppName:  dr.link.Name,
		Username: dr.user.Username,
		Code:     shared.FormatUserCode(dr.code),
		Scopes:   append(h.scopeItems(granted), protocolItems(dr.device.Protocol)...),
		CSRF:     dr.sess.CSRF,
	}))
}

// deviceDecide serves the consent page's post: the session's CSRF token,
// the browser's confirmation of the code, then the decision, recorded
// once on the authorization (the device's next poll gets the tokens or
// access_denied), then the page that sends the user back to the device.
func (h *Handler) deviceDecide(w http.ResponseWriter, r *http.Request, form url.Values) {
	ctx := r.Context()
	log := web.Logger(ctx)
	code, ok := shared.NormalizeUserCode(form.Get("user_code"))
	if !ok {
		h.renderMessage(w, http.StatusBadRequest, msgBadForm)
		return
	}
	sess, user, err := h.currentUser(ctx, r)
	if err != nil {
		h.fail(w, err)
		return
	}
	if sess == nil || !h.confirmed(r, code) {
		// Signed out meanwhile, or this browser never confirmed the
		// code: the code's page asks for what is missing.
		shared.Redirect(w, deviceURL(code), http.StatusSeeOther)
		return
	}
	if tok := form["csrf"]; len(tok) != 1 || tok[0] == "" || !shared.Equal(tok[0], sess.CSRF) {
		log.Info("device consent csrf mismatch", "user_id", sess.UserID)
		h.renderMessage(w, http.StatusForbidden, msgCSRF)
		return
	}
	if form.Get("account") == "switch" && !form.Has("decision") {
		if err := h.endSession(w, r, sess); err != nil {
			h.fail(w, err)
			return
		}
		shared.Redirect(w, deviceURL(code), http.StatusSeeOther)
		return
	}
	dr, err := h.readDevice(ctx, r, code)
	if err != nil {
		h.failDevice(w, r, err)
		return
	}
	if dr.user == nil || dr.user.ID != user.ID {
		shared.Redirect(w, deviceURL(code), http.StatusSeeOther)
		return
	}
	now := h.now()
	hash := shared.HashToken(code)
	dec := store.DeviceDecision{UserID: user.ID}
	switch form.Get("decision") {
	case "approve":
		granted, err := h.deviceGrantable(ctx, dr)
		if err != nil {
			h.failDeviceGrantable(w, err)
			return
		}
		id, err := shared.NewID(h.random)
		if err != nil {
			log.Error("new grant id", "err", err.Error())
			h.fail(w, shared.ServerError())
			return
		}
		g, err := h.store.ApproveGrant(ctx, store.Grant{
			ID: id, UserID: user.ID, Username: user.Username, ClientID: dr.link.ClientID, Scope: granted,
			Protocol: dr.device.Protocol, DynamicLink: dr.link.Origin == shared.OriginDynamic,
		}, h.catalog.Union, now)
		if errors.Is(err, shared.ErrNotFound) { // deleted or disabled meanwhile
			h.renderMessage(w, http.StatusForbidden, msgDeviceAccount)
			return
		}
		if err != nil {
			log.Error("approve grant", "err", err.Error())
			h.fail(w, err)
			return
		}
		if g.CreatedAt.Equal(g.UpdatedAt) {
			web.Audit(ctx, "grant_created", "grant_id", g.ID, "client_id", g.ClientID,
				"user_id", user.ID, "username", user.Username, "scope", shared.FormatScope(g.Scope))
		}
		dec.Approve, dec.GrantID, dec.Granted, dec.AuthTime = true, g.ID, granted, sess.CreatedAt
	case "deny":
	default:
		h.renderMessage(w, http.StatusBadRequest, msgBadForm)
		return
	}
	_, err = h.store.DecideDevice(ctx, hash, dec, now)
	if errors.Is(err, shared.ErrConflict) {
		// Decided in another tab, or expired, since it was read.
		h.failDevice(w, r, errDeviceGone)
		return
	}
	if err != nil {
		log.Error("decide device authorization", "err", err.Error())
		h.fail(w, err)
		return
	}
	done := "denied"
	if dec.Approve {
		done = "approved"
		web.Audit(ctx, "device_approved", "client_id", dr.link.ClientID, "user_id", user.ID, "username", user.Username,
			"grant_id", dec.GrantID, "scope", shared.FormatScope(append(dec.Granted, dr.device.Protocol...)), "user_code", shared.HashPrefix(code))
	} else {
		web.Audit(ctx, "device_denied", "client_id", dr.link.ClientID, "user_id", user.ID, "username", user.Username,
			"user_code", shared.HashPrefix(code))
	}
	http.SetCookie(w, h.cookies.Make(h.deviceCookie(), "", -1))
	shared.Redirect(w, devicePath+"?done="+done, http.StatusSeeOther)
}

// describeDevice names, on the login page, the application a device code
// (the return_to's user_code) belongs to; nothing when the code cannot be
// used.
func (h *Handler) describeDevice(ctx context.Context, d *loginData, vals url.Values) {
	code, ok := shared.NormalizeUserCode(vals.Get("user_code"))
	if !ok {
		return
	}
	b, err := h.store.Fetch(ctx, store.Keys{DeviceUserCode: shared.HashToken(code)})
	if err != nil || !usableDevice(b.Device, h.now()) {
		return
	}
	if l, err := h.store.GetLinkByClientID(ctx, b.Device.ClientID); err == nil && l.Usable() {
		d.AppName = l.Name
	}
}
