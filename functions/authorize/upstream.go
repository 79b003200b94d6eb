package authorize

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/page"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/upstream"
	"github.com/applinks/applinks/shared/web"
)

// Upstream sign-in: the provider as an OpenID Connect relying party of the
// identity providers an administrator configured (shared/upstream).
//
//	GET /oauth2/upstream/start?provider=ID&return_to=...[&prompt=login][&max_age=N]
//	    a flow record (state, nonce, PKCE verifier, return_to) bound to
//	    the browser by a cookie, then 302 to the upstream
//	GET /oauth2/upstream/callback?code&state[&iss] (or error&state)
//	    the flow taken once, the browser checked, iss checked (RFC 9207),
//	    the code redeemed and the ID token validated, the identity's user
//	    found (or created), a session started, 303 to return_to; a flow
//	    the console started goes on to /console/upstream/callback

const (
	upstreamStartPath    = "/oauth2/upstream/start"
	upstreamCallbackPath = "/oauth2/upstream/callback"
	// consoleCallbackPath is where the admin function finishes the
	// console's upstream sign-ins.
	consoleCallbackPath = "/console/upstream/callback"
	// ConsoleStatePrefix begins the state of every upstream sign-in the
	// console starts (functions/admin uses it too).
	ConsoleStatePrefix = "c."
	// UpstreamFlowTTL is how long a person has at the upstream.
	UpstreamFlowTTL = 10 * time.Minute
)

// UpstreamStore is what upstream sign-in reads and writes; *store.Store
// implements it. A Store without it offers no upstream sign-in.
type UpstreamStore interface {
	// ListIdentityProviders reads every identity provider.
	ListIdentityProviders(ctx context.Context) ([]store.IdentityProvider, error)
	// GetIdentityProvider reads one (shared.ErrNotFound).
	GetIdentityProvider(ctx context.Context, id string) (store.IdentityProvider, error)
	// GetIdentityProviderSecret reads its client secret.
	GetIdentityProviderSecret(ctx context.Context, id string) (string, error)
	// CreateUpstreamFlow and TakeUpstreamFlow keep a flow until its
	// callback, which takes it once.
	CreateUpstreamFlow(ctx context.Context, f store.UpstreamFlow, console bool) error
	TakeUpstreamFlow(ctx context.Context, id string, console bool, now time.Time) (store.UpstreamFlow, error)
	// UpstreamUser reads the user linked to (issuer, subject).
	UpstreamUser(ctx context.Context, issuer, subject string) (store.User, error)
	// CreateSignInUser creates the user of a first upstream sign-in.
	CreateSignInUser(ctx context.Context, u store.User) error
	// SetClaimsPermissions keeps the permissions mapped from claims.
	SetClaimsPermissions(ctx context.Context, userID, providerID string, perms []string, now time.Time) error
}

var _ UpstreamStore = (*store.Store)(nil)

// providerLink is a "Continue with <name>" link of the sign-in page.
type providerLink struct {
	Name string
	Href string
}

// providerLinks are the sign-in page's links to the enabled identity
// providers, for the sign-in that continues at returnTo; extra carries
// prompt=login and max_age to pass on. A failure to list them is logged
// and the page shows none (the password form still works).
func (h *Handler) providerLinks(ctx context.Context, returnTo string, extra url.Values) []providerLink {
	if h.upstream == nil || returnTo == "" {
		return nil
	}
	ps, err := h.upstream.ListIdentityProviders(ctx)
	if err != nil {
		web.Logger(ctx).Error("list identity providers", "err", err.Error())
		return nil
	}
	var out []providerLink
	for _, p := range ps {
		if !p.Enabled {
			continue
		}
		q := url.Values{"provider": {p.ID}, "return_to": {returnTo}}
		for k, v := range extra {
			q[k] = v
		}
		out = append(out, providerLink{Name: p.Name, Href: upstreamStartPath + "?" + q.Encode()})
	}
	return out
}

// upstreamExtra is what a sign-in link passes on to the upstream: prompt=login
// and max_age of the pending request.
func upstreamExtra(promptLogin bool, maxAge int) url.Values {
	v := url.Values{}
	if promptLogin {
		v.Set("prompt", "login")
	}
	if maxAge >= 0 {
		v.Set("max_age", strconv.Itoa(maxAge))
	}
	return v
}

// settingsOf are the relying-party settings of p with its secret.
func (h *Handler) settingsOf(p store.IdentityProvider, secret string) upstream.Settings {
	return upstream.Settings{Issuer: p.Issuer, ClientID: p.ClientID, ClientSecret: secret, Scopes: p.Scopes,
		RedirectURL: h.cfg.Issuer + upstreamCallbackPath, UsernameClaim: p.UsernameClaim, PermissionsClaim: p.PermissionsClaim}
}

// upstreamStart serves GET /oauth2/upstream/start.
func (h *Handler) upstreamStart(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q, err := url.ParseQuery(r.URL.RawQuery)
	returnTo := q.Get("return_to")
	if err != nil || len(q["return_to"]) != 1 || !validReturnTo(returnTo) || len(q["provider"]) != 1 {
		h.renderMessage(w, http.StatusBadRequest, msgBadReturn)
		return
	}
	maxAge := -1
	if v := q.Get("max_age"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			h.renderMessage(w, http.StatusBadRequest, msgBadReturn)
			return
		}
		maxAge = n
	}
	promptLogin := q.Get("prompt") == "login"
	if h.upstream == nil {
		h.renderMessage(w, http.StatusNotFound, msgNoProvider(returnTo))
		return
	}
	p, err := h.upstream.GetIdentityProvider(ctx, q.Get("provider"))
	if errors.Is(err, shared.ErrNotFound) || err == nil && !p.Enabled {
		h.renderMessage(w, http.StatusNotFound, msgNoProvider(returnTo))
		return
	}
	if err != nil {
		web.Logger(ctx).Error("get identity provider", "err", err.Error())
		h.fail(w, err)
		return
	}
	st, err := h.rp.Begin(ctx, h.settingsOf(p, ""), "", promptLogin, maxAge)
	if err != nil {
		web.Logger(ctx).Warn("upstream unavailable", "provider", p.ID, "step", "start", "err", err.Error())
		h.renderMessage(w, http.StatusServiceUnavailable, msgUpstreamDown(p.Name, returnTo))
		return
	}
	bind := h.cookies.Token(r, h.cookies.Upstream)
	if bind == "" {
		if bind, err = shared.NewToken(h.random); err != nil {
			web.Logger(ctx).Error("new upstream binding", "err", err.Error())
			h.fail(w, shared.ServerError())
			return
		}
	}
	now := h.now()
	f := store.UpstreamFlow{ID: shared.HashToken(st.State), ProviderID: p.ID, Browser: shared.HashToken(bind),
		Nonce: st.Nonce, Verifier: st.Verifier, ReturnTo: returnTo, PromptLogin: promptLogin, MaxAge: maxAge,
		Purpose: "signin", CreatedAt: now, ExpiresAt: now.Add(UpstreamFlowTTL)}
	if err := h.upstream.CreateUpstreamFlow(ctx, f, false); err != nil {
		web.Logger(ctx).Error("create upstream flow", "err", err.Error())
		h.fail(w, err)
		return
	}
	http.SetCookie(w, h.cookies.Make(h.cookies.Upstream, bind, UpstreamFlowTTL))
	web.Logger(ctx).Info("upstream sign-in started", "provider", p.ID, "state", shared.HashPrefix(st.State))
	shared.Redirect(w, st.URL, http.StatusFound)
}

// upstreamCallback serves GET /oauth2/upstream/callback: the upstream's
// answer (OpenID Connect Core §3.1.2.5, §3.1.2.6).
func (h *Handler) upstreamCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	log := web.Logger(ctx)
	q, err := url.ParseQuery(r.URL.RawQuery)
	state := q.Get("state")
	if err != nil || state == "" || len(q["state"]) != 1 {
		h.renderMessage(w, http.StatusBadRequest, msgUpstreamExpired)
		return
	}
	if strings.HasPrefix(state, ConsoleStatePrefix) {
		// The console's flow: the admin function finishes it.
		shared.Redirect(w, consoleCallbackPath+"?"+r.URL.RawQuery, http.StatusSeeOther)
		return
	}
	if h.upstream == nil {
		h.renderMessage(w, http.StatusBadRequest, msgUpstreamExpired)
		return
	}
	now := h.now()
	// Taken first, so a state works once whatever follows.
	f, err := h.upstream.TakeUpstreamFlow(ctx, shared.HashToken(state), false, now)
	if errors.Is(err, shared.ErrNotFound) {
		log.Info("upstream callback refused", "reason", "unknown_state", "state", shared.HashPrefix(state))
		h.renderMessage(w, http.StatusBadRequest, msgUpstreamExpired)
		return
	}
	if err != nil {
		log.Error("take upstream flow", "err", err.Error())
		h.fail(w, err)
		return
	}
	bind := h.cookies.Token(r, h.cookies.Upstream)
	if bind == "" || !shared.Equal(shared.HashToken(bind), f.Browser) {
		log.Warn("upstream callback refused", "reason", "other_browser", "provider", f.ProviderID)
		h.renderMessage(w, http.StatusBadRequest, msgUpstreamOtherBrowser(f.ReturnTo))
		return
	}
	p, err := h.upstream.GetIdentityProvider(ctx, f.ProviderID)
	if errors.Is(err, shared.ErrNotFound) || err == nil && !p.Enabled {
		h.renderMessage(w, http.StatusBadRequest, msgNoProvider(f.ReturnTo))
		return
	}
	if err != nil {
		log.Error("get identity provider", "err", err.Error())
		h.fail(w, err)
		return
	}
	res := h.finishUpstream(ctx, p, f, q, now)
	if res.msg != nil {
		h.renderMessage(w, res.status, *res.msg)
		return
	}
	if res.err != nil {
		h.fail(w, res.err)
		return
	}
	h.upstreamSignedIn(w, r, p, res, f)
}

// upstreamResult is the end of an upstream sign-in: the user, or the page
// that explains why not (msg), or an internal failure (err).
type upstreamResult struct {
	user     store.User
	created  bool
	authTime time.Time
	status   int
	msg      *message
	err      error
}

func refuse(status int, m message) upstreamResult { return upstreamResult{status: status, msg: &m} }

// finishUpstream checks the upstream's answer q to flow f and finds (or
// creates) the user of the identity it proves.
func (h *Handler) finishUpstream(ctx context.Context, p store.IdentityProvider, f store.UpstreamFlow, q url.Values, now time.Time) upstreamResult {
	log := web.Logger(ctx)
	// RFC 9207 §2.4: an iss that is not the provider's is an answer from
	// somewhere else (a mix-up), whatever else it carries.
	if iss, ok := q["iss"]; ok && (len(iss) != 1 || iss[0] != p.Issuer) {
		log.Warn("upstream callback refused", "reason", "iss_mismatch", "provider", p.ID)
		return refuse(http.StatusBadRequest, msgUpstreamRejected(p.Name, f.ReturnTo))
	}
	if e := q.Get("error"); e != "" {
		log.Info("upstream sign-in not completed", "provider", p.ID, "error", shared.HashPrefix(e), "error_code", safeCode(e))
		return refuse(http.StatusForbidden, msgUpstreamDeclined(p.Name, f.ReturnTo))
	}
	code := q.Get("code")
	if code == "" || len(q["code"]) != 1 {
		return refuse(http.StatusBadRequest, msgUpstreamRejected(p.Name, f.ReturnTo))
	}
	secret, err := h.upstream.GetIdentityProviderSecret(ctx, p.ID)
	if err != nil {
		log.Error("get identity provider secret", "provider", p.ID, "err", err.Error())
		return upstreamResult{err: err}
	}
	id, err := h.rp.Finish(ctx, h.settingsOf(p, secret), code, f.Verifier, f.Nonce)
	if err != nil {
		log.Warn("upstream sign-in failed", "provider", p.ID, "kind", upstream.KindOf(err), "err", err.Error())
		if upstream.KindOf(err) == upstream.KindRejected {
			return refuse(http.StatusBadRequest, msgUpstreamRejected(p.Name, f.ReturnTo))
		}
		return refuse(http.StatusServiceUnavailable, msgUpstreamDown(p.Name, f.ReturnTo))
	}
	if err := upstream.CheckAuthTime(id, f.CreatedAt, f.PromptLogin, f.MaxAge, now); err != nil {
		log.Info("upstream sign-in refused", "reason", "not_fresh", "provider", p.ID)
		return refuse(http.StatusForbidden, msgUpstreamNotFresh(p.Name, f.ReturnTo))
	}
	if !upstream.EmailAllowed(id, p.EmailDomains) {
		log.Info("upstream sign-in refused", "reason", "email_domain", "provider", p.ID, "email_verified", id.EmailVerified)
		return refuse(http.StatusForbidden, msgUpstreamDomain(p.Name, f.ReturnTo))
	}
	res := upstreamResult{authTime: id.AuthTime}
	if res.authTime.IsZero() || res.authTime.After(now) {
		res.authTime = now
	}
	u, err := h.upstream.UpstreamUser(ctx, p.Issuer, id.Subject)
	switch {
	case err == nil:
		res.user = u
	case !errors.Is(err, shared.ErrNotFound):
		log.Error("find upstream user", "err", err.Error())
		return upstreamResult{err: err}
	case !p.CreateUsers:
		log.Info("upstream sign-in refused", "reason", "not_linked", "provider", p.ID)
		return refuse(http.StatusForbidden, msgUpstreamNotLinked(p.Name, f.ReturnTo))
	default:
		r := h.createSignInUser(ctx, p, id, now)
		if r.msg != nil || r.err != nil {
			return r
		}
		res.user, res.created = r.user, r.created
	}
	if res.user.Disabled {
		log.Info("upstream sign-in refused", "reason", "disabled", "user_id", res.user.ID)
		return refuse(http.StatusForbidden, msgUpstreamDisabled(f.ReturnTo))
	}
	if h.cfg.Permissions.Source == config.PermissionsClaims {
		known := func(s string) bool { _, err := h.catalog.Validate([]string{s}); return err == nil }
		perms := upstream.MapPermissions(id.Values, p.PermissionMap, known)
		if err := h.upstream.SetClaimsPermissions(ctx, res.user.ID, p.ID, perms, now); err != nil {
			log.Error("set claims permissions", "err", err.Error())
			return upstreamResult{err: err}
		}
		res.user.Permissions = perms
	}
	return res
}

// createSignInUser creates the user of a first sign-in through p
// (create_users): the username from the provider's username claim, no
// permissions, no password, never an administrator. A username that is
// absent, outside the alphabet or taken (in any letter case) is refused,
// never merged with the user who has it.
func (h *Handler) createSignInUser(ctx context.Context, p store.IdentityProvider, id upstream.Identity, now time.Time) upstreamResult {
	log := web.Logger(ctx)
	if !upstream.ValidUsername(id.Username) {
		log.Info("upstream sign-in refused", "reason", "username_claim", "provider", p.ID, "claim", p.UsernameClaim)
		return refuse(http.StatusForbidden, msgUpstreamNoUsername(p.Name))
	}
	rid, err := shared.NewID(h.random)
	if err != nil {
		return upstreamResult{err: err}
	}
	u := store.User{ID: store.SignInUserPrefix + rid, Username: id.Username, Permissions: []string{},
		Name: id.Name, Email: id.Email, EmailVerified: id.EmailVerified, CreatedAt: now, UpdatedAt: now, CredentialsChangedAt: now,
		Upstream: &store.UpstreamIdentity{ProviderID: p.ID, Issuer: p.Issuer, Subject: id.Subject}}
	if shared.CheckName(u.Name) != nil || len(u.Name) > 200 {
		u.Name = ""
	}
	if len(u.Email) > 254 {
		u.Email, u.EmailVerified = "", false
	}
	err = h.upstream.CreateSignInUser(ctx, u)
	switch {
	case err == nil:
		web.Audit(ctx, "user_created", "principal", "upstream:"+p.ID, "via", "upstream_sign_in", "user_id", u.ID,
			"username", u.Username, "provider", p.ID)
		return upstreamResult{user: u, created: true}
	case errors.Is(err, store.ErrUpstreamLinked):
		// Another tab's sign-in created the user meanwhile.
		got, err := h.upstream.UpstreamUser(ctx, p.Issuer, id.Subject)
		if err != nil {
			return upstreamResult{err: err}
		}
		return upstreamResult{user: got}
	case errors.Is(err, shared.ErrConflict):
		log.Info("upstream sign-in refused", "reason", "username_taken", "provider", p.ID, "username", id.Username)
		return refuse(http.StatusConflict, msgUpstreamUsernameTaken(p.Name, id.Username))
	default:
		log.Error("create sign-in user", "err", err.Error())
		return upstreamResult{err: err}
	}
}

// upstreamSignedIn starts the session of an upstream sign-in, exactly as a
// password sign-in does (auth_time the upstream's), and continues at the
// flow's return_to.
func (h *Handler) upstreamSignedIn(w http.ResponseWriter, r *http.Request, p store.IdentityProvider, res upstreamResult, f store.UpstreamFlow) {
	ctx := r.Context()
	id, err := shared.NewToken(h.random)
	if err != nil {
		h.fail(w, shared.ServerError())
		return
	}
	csrf, err := shared.NewToken(h.random)
	if err != nil {
		h.fail(w, shared.ServerError())
		return
	}
	now := h.now()
	if !now.After(res.user.CredentialsChangedAt) {
		// A user created (or linked) at this very instant: the session
		// must begin after, or it would not speak for them.
		now = res.user.CredentialsChangedAt.Add(time.Nanosecond)
	}
	sess := store.Session{ID: shared.HashToken(id), UserID: res.user.ID, CSRF: csrf, CreatedAt: now,
		ExpiresAt: now.Add(SessionTTL), AuthTime: res.authTime}
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
	web.Audit(ctx, "upstream_signed_in", "provider", p.ID, "user_id", res.user.ID, "username", res.user.Username,
		"created", res.created, "session", shared.HashPrefix(id))
	http.SetCookie(w, h.cookies.Make(h.cookies.Session, id, SessionTTL))
	shared.Redirect(w, f.ReturnTo, http.StatusSeeOther)
}

// safeCode is an upstream's error code for a log line when it is a plain
// OAuth code (letters and underscores), else "other".
func safeCode(s string) string {
	if len(s) > 40 {
		return "other"
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c == '_') {
			return "other"
		}
	}
	return s
}

// signInAgain is the sign-in page of the sign-in that continues at
// returnTo: an authorization request shows it itself, the account page
// through /oauth2/login.
func signInAgain(returnTo string) string {
	if !validReturnTo(returnTo) {
		return accountPath
	}
	if returnTo == accountPath {
		return "/oauth2/login?return_to=" + url.QueryEscape(accountPath)
	}
	return returnTo
}

// The pages of upstream sign-in. Each failure offers the other ways in:
// the sign-in page again, with the password form and every provider.
func otherWays(m message, returnTo string) message {
	m.Link, m.LinkText, m.Help = signInAgain(returnTo), "Choose another way to sign in", true
	return m
}

var msgUpstreamExpired = message{Title: "This sign-in has expired", Text: "The sign-in was already used, took too long, or did not start here. Go back to the application and sign in again.", Link: accountPath, LinkText: "Go to your authorized applications"}

func msgNoProvider(returnTo string) message {
	return otherWays(message{Title: "This way to sign in is not available", Text: "The sign-in option you chose does not exist or has been turned off."}, returnTo)
}

func msgUpstreamOtherBrowser(returnTo string) message {
	return otherWays(message{Title: "This sign-in was started in another browser", Text: "For your security, a sign-in must finish in the browser where it started. Start again here."}, returnTo)
}

func msgUpstreamDown(name, returnTo string) message {
	return otherWays(message{Title: name + " is not answering", Text: name + " could not be reached to sign you in. Try again in a few minutes, or sign in another way."}, returnTo)
}

func msgUpstreamRejected(name, returnTo string) message {
	return otherWays(message{Title: "The sign-in through " + name + " could not be verified", Text: "The answer that came back from " + name + " did not prove who signed in, so you are not signed in. Try again, or sign in another way."}, returnTo)
}

func msgUpstreamDeclined(name, returnTo string) message {
	return otherWays(message{Title: name + " did not sign you in", Text: "The sign-in at " + name + " was cancelled or refused. Try again, or sign in another way."}, returnTo)
}

func msgUpstreamNotFresh(name, returnTo string) message {
	return otherWays(message{Title: "You need to sign in again at " + name, Text: "The application asked for a recent sign-in, and " + name + " did not ask you to sign in again. Try again, or sign in another way."}, returnTo)
}

func msgUpstreamDomain(name, returnTo string) message {
	return otherWays(message{Title: "Your " + name + " account cannot sign in here", Text: "Only accounts with a verified email address of the allowed organisations can sign in through " + name + "."}, returnTo)
}

func msgUpstreamNotLinked(name, returnTo string) message {
	return otherWays(message{Title: "No account is linked to your " + name + " account", Text: "You signed in at " + name + ", but no account here is linked to it yet. Ask an administrator to link it, or sign in another way."}, returnTo)
}

func msgUpstreamDisabled(returnTo string) message {
	return otherWays(message{Title: "This account cannot sign in", Text: "The account linked to your sign-in has been disabled."}, returnTo)
}

func msgUpstreamNoUsername(name string) message {
	return message{Title: "Your " + name + " account has no usable username", Text: name + " did not send a username that can be used here (letters, digits and . _ @ - only). Ask an administrator to create your account.", Link: accountPath, LinkText: "Go to your authorized applications", Help: true}
}

func msgUpstreamUsernameTaken(name, username string) message {
	return message{Title: "The username " + username + " is already taken", Text: "Someone here already has the username " + username + ", so an account for your " + name + " sign-in cannot be created with it, and the two are never merged. Ask an administrator to link your " + name + " account to your existing account, or to create one for you.", Link: accountPath, LinkText: "Go to your authorized applications", Help: true}
}
