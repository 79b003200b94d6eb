package admin

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/page"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/upstream"
	"github.com/applinks/applinks/shared/web"
)

// The console's sign-in through an identity provider. The admin function
// runs the whole flow itself: the flow record (under CONSOLE#, which the
// authorize function cannot write), the code exchange and the validation
// of the ID token. The upstream sends the browser to the one registered
// redirect URI, $ISSUER/oauth2/upstream/callback, whose handler (the
// authorize function) passes a console flow (state "c.…") on here
// unread.
//
//	GET /console/upstream/start?provider=ID&return_to=...[&purpose=confirm]
//	GET /console/upstream/callback?code&state[&iss]
//
// Both always ask the upstream for a new sign-in (prompt=login). Signing in
// this way counts as the console's fresh confirmation when the upstream's
// auth_time shows it did authenticate the administrator after the flow
// began; purpose=confirm is that confirmation for a signed-in
// administrator, offered on the confirmation page as "Confirm with
// <name>".

const (
	consoleUpstreamStart    = consolePrefix + "/upstream/start"
	consoleUpstreamCallback = consolePrefix + "/upstream/callback"
	// consoleStatePrefix begins the state of the console's flows (the
	// authorize function's callback forwards them here).
	consoleStatePrefix = "c."
	consoleFlowTTL     = 10 * time.Minute
)

// ConsoleUpstreamStore is what the console's upstream sign-in reads and
// writes; *store.Store implements it.
type ConsoleUpstreamStore interface {
	ListIdentityProviders(ctx context.Context) ([]store.IdentityProvider, error)
	GetIdentityProvider(ctx context.Context, id string) (store.IdentityProvider, error)
	GetIdentityProviderSecret(ctx context.Context, id string) (string, error)
	CreateUpstreamFlow(ctx context.Context, f store.UpstreamFlow, console bool) error
	TakeUpstreamFlow(ctx context.Context, id string, console bool, now time.Time) (store.UpstreamFlow, error)
	UpstreamUser(ctx context.Context, issuer, subject string) (store.User, error)
}

var _ ConsoleUpstreamStore = (*store.Store)(nil)

// consoleProvider is a "Continue with" or "Confirm with" link.
type consoleProvider struct {
	Name, Href string
}

func (h *Handler) consoleUpstream() ConsoleUpstreamStore {
	s, _ := h.store.(ConsoleUpstreamStore)
	return s
}

// consoleProviderLinks are the links to the enabled providers for a
// console sign-in that returns to back (only, when set, the provider
// named only).
func (h *Handler) consoleProviderLinks(ctx context.Context, back, purpose, only string) []consoleProvider {
	st := h.consoleUpstream()
	if st == nil || h.mfaRequired() {
		// Under ADMIN_MFA=required administrators sign in with their
		// passkey; an identity provider serves the applications' sign-in.
		return nil
	}
	ps, err := st.ListIdentityProviders(ctx)
	if err != nil {
		web.Logger(ctx).Error("list identity providers", "err", err.Error())
		return nil
	}
	var out []consoleProvider
	for _, p := range ps {
		if !p.Enabled || only != "" && p.ID != only {
			continue
		}
		q := url.Values{"provider": {p.ID}, "return_to": {back}}
		if purpose != "" {
			q.Set("purpose", purpose)
		}
		out = append(out, consoleProvider{Name: p.Name, Href: consoleUpstreamStart + "?" + q.Encode()})
	}
	return out
}

// passwordAllowed reports whether the console may check a password
// (PASSWORD_SIGN_IN is not off).
func (h *Handler) passwordAllowed() bool { return h.cfg.PasswordSignIn != config.PasswordOff }

// msgConsoleUpstream are the console's pages about an upstream sign-in
// that did not work: each offers the sign-in page again.
func msgConsoleUpstream(title, text string) consoleMsg {
	return consoleMsg{Title: title, Text: text, Link: consoleLoginPath, LinkText: "Back to the sign-in page"}
}

var (
	msgConsoleUpstreamExpired  = msgConsoleUpstream("This sign-in has expired", "The sign-in was already used, took too long, or was started in another browser. Start again.")
	msgConsoleUpstreamNoOne    = msgConsoleUpstream("Not signed in", "Your account at the identity provider is not linked to an administrator here, or the account is disabled. Ask another administrator.")
	msgConsoleUpstreamNotFresh = msgConsoleUpstream("Not confirmed", "The identity provider did not ask you to sign in again, so this does not confirm it is you. Try again.")
	msgConsoleUpstreamNoOption = msgConsoleUpstream("This way to sign in is not available", "The identity provider you chose does not exist or has been turned off.")
)

func msgConsoleUpstreamDown(name string) consoleMsg {
	return msgConsoleUpstream(name+" is not answering", name+" could not be reached to sign you in. Try again in a few minutes, or sign in another way.")
}

func msgConsoleUpstreamRejected(name string) consoleMsg {
	return msgConsoleUpstream("The sign-in through "+name+" could not be verified", "The answer from "+name+" did not prove who signed in, so you are not signed in.")
}

// consoleUpstreamStartPage serves GET /console/upstream/start.
func (h *Handler) consoleUpstreamStartPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	back := consoleReturnTo(q.Get("return_to"))
	st := h.consoleUpstream()
	if st == nil || h.mfaRequired() {
		h.consoleMessage(w, nil, http.StatusNotFound, msgConsoleUpstreamNoOption)
		return
	}
	f := store.UpstreamFlow{Purpose: "signin", ReturnTo: back, PromptLogin: true, MaxAge: -1}
	if q.Get("purpose") == "confirm" {
		// A confirmation is for the signed-in administrator's own session.
		a, err := h.consoleAdmin(ctx, r)
		if err != nil {
			h.consoleFail(w, r, nil, err)
			return
		}
		if a == nil {
			h.toSignIn(w, r)
			return
		}
		f.Purpose, f.UserID, f.Session = "confirm", a.user.ID, a.sess.ID
	}
	p, err := st.GetIdentityProvider(ctx, q.Get("provider"))
	if isNotFound(err) || err == nil && !p.Enabled {
		h.consoleMessage(w, nil, http.StatusNotFound, msgConsoleUpstreamNoOption)
		return
	}
	if err != nil {
		h.consoleFail(w, r, nil, wrapf(err, "get identity provider"))
		return
	}
	start, err := h.idpClient.Begin(ctx, h.upstreamSettings(p, ""), consoleStatePrefix, true, -1)
	if err != nil {
		web.Logger(ctx).Warn("upstream unavailable", "provider", p.ID, "step", "console start", "err", err.Error())
		h.consoleMessage(w, nil, http.StatusServiceUnavailable, msgConsoleUpstreamDown(p.Name))
		return
	}
	bind := h.cookies.Token(r, h.cookies.ConsoleUpstream)
	if bind == "" {
		if bind, err = shared.NewToken(h.random); err != nil {
			h.consoleFail(w, r, nil, wrapf(err, "new binding"))
			return
		}
	}
	now := h.now()
	f.ID, f.ProviderID, f.Browser, f.Nonce, f.Verifier = shared.HashToken(start.State), p.ID, shared.HashToken(bind), start.Nonce, start.Verifier
	f.CreatedAt, f.ExpiresAt = now, now.Add(consoleFlowTTL)
	if err := st.CreateUpstreamFlow(ctx, f, true); err != nil {
		h.consoleFail(w, r, nil, wrapf(err, "create console upstream flow"))
		return
	}
	// Lax, not Strict: the upstream's answer is a navigation from its site.
	http.SetCookie(w, h.cookies.Make(h.cookies.ConsoleUpstream, bind, consoleFlowTTL))
	shared.Redirect(w, start.URL, http.StatusFound)
}

func (h *Handler) upstreamSettings(p store.IdentityProvider, secret string) upstream.Settings {
	return upstream.Settings{Issuer: p.Issuer, ClientID: p.ClientID, ClientSecret: secret, Scopes: p.Scopes,
		RedirectURL: h.cfg.Issuer + upstreamCallback, UsernameClaim: p.UsernameClaim, PermissionsClaim: p.PermissionsClaim}
}

// consoleUpstreamCallbackPage serves GET /console/upstream/callback: the
// admin function redeems the code and validates the ID token itself.
func (h *Handler) consoleUpstreamCallbackPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	log := web.Logger(ctx)
	q := r.URL.Query()
	state := q.Get("state")
	st := h.consoleUpstream()
	if st == nil || h.mfaRequired() || len(state) <= len(consoleStatePrefix) || state[:len(consoleStatePrefix)] != consoleStatePrefix {
		h.consoleMessage(w, nil, http.StatusBadRequest, msgConsoleUpstreamExpired)
		return
	}
	now := h.now()
	f, err := st.TakeUpstreamFlow(ctx, shared.HashToken(state), true, now)
	if isNotFound(err) {
		log.Info("console upstream callback refused", "reason", "unknown_state")
		h.consoleMessage(w, nil, http.StatusBadRequest, msgConsoleUpstreamExpired)
		return
	}
	if err != nil {
		h.consoleFail(w, r, nil, wrapf(err, "take console upstream flow"))
		return
	}
	bind := h.cookies.Token(r, h.cookies.ConsoleUpstream)
	if bind == "" || !shared.Equal(shared.HashToken(bind), f.Browser) {
		log.Warn("console upstream callback refused", "reason", "other_browser", "provider", f.ProviderID)
		h.consoleMessage(w, nil, http.StatusBadRequest, msgConsoleUpstreamExpired)
		return
	}
	p, err := st.GetIdentityProvider(ctx, f.ProviderID)
	if isNotFound(err) || err == nil && !p.Enabled {
		h.consoleMessage(w, nil, http.StatusBadRequest, msgConsoleUpstreamNoOption)
		return
	}
	if err != nil {
		h.consoleFail(w, r, nil, wrapf(err, "get identity provider"))
		return
	}
	if iss, ok := q["iss"]; ok && (len(iss) != 1 || iss[0] != p.Issuer) {
		log.Warn("console upstream callback refused", "reason", "iss_mismatch", "provider", p.ID)
		h.consoleMessage(w, nil, http.StatusBadRequest, msgConsoleUpstreamRejected(p.Name))
		return
	}
	if q.Get("error") != "" || q.Get("code") == "" {
		log.Info("console upstream sign-in not completed", "provider", p.ID)
		h.consoleMessage(w, nil, http.StatusForbidden, msgConsoleUpstream(p.Name+" did not sign you in", "The sign-in at "+p.Name+" was cancelled or refused."))
		return
	}
	secret, err := st.GetIdentityProviderSecret(ctx, p.ID)
	if err != nil {
		h.consoleFail(w, r, nil, wrapf(err, "get identity provider secret"))
		return
	}
	id, err := h.idpClient.Finish(ctx, h.upstreamSettings(p, secret), q.Get("code"), f.Verifier, f.Nonce)
	if err != nil {
		log.Warn("console upstream sign-in failed", "provider", p.ID, "kind", upstream.KindOf(err), "err", err.Error())
		if upstream.KindOf(err) == upstream.KindRejected {
			h.consoleMessage(w, nil, http.StatusBadRequest, msgConsoleUpstreamRejected(p.Name))
		} else {
			h.consoleMessage(w, nil, http.StatusServiceUnavailable, msgConsoleUpstreamDown(p.Name))
		}
		return
	}
	if !upstream.EmailAllowed(id, p.EmailDomains) {
		log.Info("console upstream sign-in refused", "reason", "email_domain", "provider", p.ID)
		h.consoleMessage(w, nil, http.StatusForbidden, msgConsoleUpstreamNoOne)
		return
	}
	u, err := st.UpstreamUser(ctx, p.Issuer, id.Subject)
	if err != nil && !isNotFound(err) {
		h.consoleFail(w, r, nil, wrapf(err, "find upstream user"))
		return
	}
	if err != nil || u.Disabled || !u.IsAdministrator() {
		reason := "not_linked"
		if err == nil {
			reason = "not_admin"
		}
		log.Info("console upstream sign-in refused", "reason", reason, "provider", p.ID)
		h.consoleMessage(w, nil, http.StatusForbidden, msgConsoleUpstreamNoOne)
		return
	}
	// Fresh: the upstream authenticated the administrator after this flow
	// began (prompt=login was sent) and within the confirmation's life.
	fresh := upstream.CheckAuthTime(id, f.CreatedAt, true, int(ConfirmTTL/time.Second), now) == nil && !id.AuthTime.IsZero()
	switch f.Purpose {
	case "confirm":
		if u.ID != f.UserID {
			log.Warn("console upstream confirmation refused", "reason", "other_user", "provider", p.ID)
			h.consoleMessage(w, nil, http.StatusForbidden, msgConsoleUpstream("Not confirmed", "You signed in at "+p.Name+" as someone else than the administrator signed in to the console."))
			return
		}
		if !fresh {
			h.consoleMessage(w, nil, http.StatusForbidden, msgConsoleUpstreamNotFresh)
			return
		}
		if _, err := h.store.TouchConsoleSession(ctx, f.Session, true, ConsoleIdle, now); err != nil {
			if isNotFound(err) {
				h.consoleMessage(w, nil, http.StatusBadRequest, msgConsoleUpstreamExpired)
				return
			}
			h.consoleFail(w, r, nil, wrapf(err, "record confirmation"))
			return
		}
		log.Info("console confirmed through upstream", "username", u.Username, "provider", p.ID)
	default:
		// An administrator with a passkey gives it next, as after a
		// password (ADMIN_MFA).
		k, err := h.passkeys(ctx, u)
		if err != nil {
			h.consoleFail(w, r, nil, err)
			return
		}
		if len(k.creds) > 0 {
			options, session, err := h.beginLogin(u, k)
			if err == nil {
				err = h.beginStep(w, r, ceremonyLogin, u, options, session, f.ReturnTo, "")
			}
			if err != nil {
				h.consoleFail(w, r, nil, err)
				return
			}
			log.Info("console upstream sign-in right, passkey asked", "username", u.Username, "provider", p.ID)
			w.Header().Set("Refresh", "0; url="+consolePasskeyPath)
			renderConsole(w, http.StatusOK, frame{Title: "Use your passkey", Provider: h.cfg.ProviderName}, continuePage, consolePasskeyPath)
			return
		}
		if err := h.startUpstreamConsoleSession(w, r, u, fresh, "upstream:"+p.ID); err != nil {
			h.consoleFail(w, r, nil, err)
			return
		}
	}
	// The console's cookies are SameSite=Strict, and this request is the
	// end of a navigation another site began: a redirect would arrive
	// without them. A page of this site that moves on by itself starts a
	// navigation of its own.
	w.Header().Set("Refresh", "0; url="+page.LocalURL(f.ReturnTo))
	renderConsole(w, http.StatusOK, frame{Title: "Signed in", Provider: h.cfg.ProviderName}, continuePage, f.ReturnTo)
}

// upstreamConfirm completes the confirmation page d: "Confirm with
// <name>" for an administrator linked through an enabled provider, and the
// password only for one who has a password while PASSWORD_SIGN_IN is not
// off.
func (c *consoleReq) upstreamConfirm(d *confirmData) {
	d.Password = d.Password && c.h.passwordAllowed() && c.a.user.PasswordHash != ""
	if up := c.a.user.Upstream; up != nil {
		d.Providers = c.h.consoleProviderLinks(c.ctx(), d.ReturnTo, "confirm", up.ProviderID)
	}
}

// continuePage is what a browser shows while the Refresh header moves it
// on to back, with a link for one that does not.
func continuePage(b *page.Buffer, back string) {
	b.Fill(`<h1>Signed in</h1>
<p><a href="%s">Continue to the console</a></p>
`, back)
}

// startUpstreamConsoleSession signs u in to the console after an upstream
// sign-in: a new session (confirmed now when confirmed), its Strict
// cookie, the previous session ended; the caller answers with a page
// that moves on.
func (h *Handler) startUpstreamConsoleSession(w http.ResponseWriter, r *http.Request, u store.User, confirmed bool, via string) error {
	ctx := r.Context()
	tok, err := shared.NewToken(h.random)
	if err != nil {
		return wrapf(err, "new console session id")
	}
	csrf, err := shared.NewToken(h.random)
	if err != nil {
		return wrapf(err, "new console csrf")
	}
	now := h.now()
	sess := store.ConsoleSession{ID: shared.HashToken(tok), UserID: u.ID, CSRF: csrf,
		CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(ConsoleSessionTTL)}
	if confirmed {
		sess.ConfirmedAt = now
	}
	if err := h.store.CreateConsoleSession(ctx, sess, ConsoleIdle); err != nil {
		return wrapf(err, "create console session")
	}
	if old := h.cookies.Token(r, h.cookies.Console); old != "" {
		if err := h.store.DeleteConsoleSession(ctx, shared.HashToken(old)); err != nil {
			web.Logger(ctx).Warn("delete previous console session", "err", err.Error())
		}
	}
	web.Audit(ctx, "console_signed_in", "user_id", u.ID, "username", u.Username, "method", via, "confirmed", confirmed,
		"session", shared.HashPrefix(tok))
	http.SetCookie(w, h.cookies.MakeStrict(h.cookies.Console, tok, ConsoleSessionTTL))
	return nil
}
