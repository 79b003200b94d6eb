package authorize

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/clientmeta"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// authorize serves GET /oauth2/authorize (RFC 6749 §4.1.1).
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if r.Method == http.MethodPost {
		// OIDC Core §3.1.2.1: the parameters in the form body, none in
		// the query.
		if r.URL.RawQuery != "" {
			err = errors.New("parameters in the query of a POST")
		} else {
			vals, err = web.ReadFormBody(r)
		}
	}
	if err != nil {
		h.authorizeError(w, r, shared.AuthorizeTarget{}, pageError(problemLink, "", "the query string is malformed"))
		return
	}
	// A client_id that is a URL names a Client ID Metadata Document: its
	// link is recorded or refreshed first (metadata.go).
	if cid := vals["client_id"]; len(cid) == 1 && clientmeta.IsURL(cid[0]) {
		if err := h.resolveMetadataClient(ctx, r, cid[0]); err != nil {
			h.metadataErrorPage(w, r, err)
			return
		}
	}
	a, t, err := h.parseAuthRequest(ctx, vals, h.sessionID(r))
	if err != nil {
		h.authorizeError(w, r, t, err)
		return
	}
	sess, user, grant, err := h.signedIn(ctx, a)
	if err != nil {
		h.authorizeError(w, r, t, err)
		return
	}
	// max_age: a sign-in older than it must be done again.
	tooOld := user != nil && a.signInTooOld(sess, h.now())
	// id_token_hint naming another user than the one signed in: that user
	// must sign in (prompt=none: login_required, OIDC Core §3.1.2.1).
	tooOld = tooOld || (user != nil && a.hintSub != "" && a.hintSub != user.ID)
	if (user == nil || tooOld) && a.prompts[promptNone] {
		h.authorizeError(w, r, t, oidcError(codeLoginRequired, "the user is not signed in, or not recently enough"))
		return
	}
	if user == nil || tooOld || a.prompts[promptLogin] || a.prompts[promptSelectAccount] {
		// prompt=select_account: the login page for this request; signing
		// in replaces the session (no state changes on GET).
		d := loginData{
			ReturnTo:   a.returnTo(),
			AppName:    a.link.Name,
			formAction: shared.FormActionSource(a.redirectTo),
			// login_hint pre-fills the username (OIDC Core §3.1.2.1).
			Username: a.get("login_hint"),
			// An identity provider is asked to authenticate again when
			// the request asks for it (prompt=login) or for a recent
			// sign-in (max_age, checked against its auth_time).
			UpstreamPrompt: a.prompts[promptLogin],
			UpstreamMaxAge: -1,
		}
		if a.hasMaxAge {
			d.UpstreamMaxAge = int(a.maxAge / time.Second)
		}
		if user != nil {
			d.SignedInAs = user.Username
		}
		h.renderLogin(w, r, http.StatusOK, d)
		return
	}
	h.decide(w, r, a, sess, user, grant)
}

// decide handles a valid request of a signed-in user: the code at once when
// the user's active grant for the client (one point read, with the user)
// covers the capped scope (and prompt is not consent) and the client is
// confidential, else the consent page. A public
// client always gets the consent page (prompt=none: consent_required): it
// cannot be authenticated, so any program that can receive its redirect (a
// loopback port, a private-use scheme) could otherwise collect codes
// without the user seeing anything (RFC 6749 §10.2, RFC 8252 §8.6).
//
// With PERMISSION_SOURCE=service the permission service is asked first
// (grantable); when it fails, nothing is shown or issued (failGrantable).
func (h *Handler) decide(w http.ResponseWriter, r *http.Request, a *authRequest, sess *store.Session, user *store.User, grant *store.Grant) {
	granted, err := h.grantable(r.Context(), a, user)
	if err != nil {
		h.failGrantable(w, r, a, err, true)
		return
	}
	if !a.prompts[promptConsent] && a.link.ClientType != store.Public &&
		grant != nil && !grant.Revoked && h.catalog.Covers(grant.Scope, granted) && shared.CoversProtocol(grant.Protocol, a.protocol) {
		h.issueCode(w, r, a, sess, user, grant.ID, granted, true)
		return
	}
	if a.prompts[promptNone] {
		h.authorizeError(w, r, a.target, oidcError(codeConsentRequired, "the user has not approved this request"))
		return
	}
	h.renderConsent(w, a, sess, user, granted)
}

// issueCode creates an authorization code (RFC 6749 §4.1.2) and redirects
// to the client with code, state and iss (RFC 9207): 302 after GET, 303
// after the consent POST.
func (h *Handler) issueCode(w http.ResponseWriter, r *http.Request, a *authRequest, sess *store.Session, user *store.User, grantID string, granted []string, auto bool) {
	ctx := r.Context()
	code, err := shared.NewToken(h.random)
	if err != nil {
		web.Logger(ctx).Error("new code", "err", err.Error())
		h.authorizeError(w, r, a.target, shared.ServerError())
		return
	}
	now := h.now()
	c := store.Code{
		Hash:        shared.HashToken(code),
		ClientID:    a.link.ClientID,
		RedirectURI: a.get("redirect_uri"),
		Challenge:   a.get("code_challenge"),
		UserID:      user.ID,
		Scope:       granted,
		GrantID:     grantID,
		AuthTime:    sess.AuthenticatedAt(),
		Protocol:    a.protocol,
		Nonce:       a.get("nonce"),
		// RFC 8707: the code remembers the resource and its server.
		Resource:         a.resource.uri,
		ResourceClientID: a.resource.clientID,
		CreatedAt:        now,
		ExpiresAt:        now.Add(h.cfg.AuthCodeTTL),
	}
	if err := h.store.CreateCode(ctx, c); err != nil {
		web.Logger(ctx).Error("create code", "err", err.Error())
		h.authorizeError(w, r, a.target, err)
		return
	}
	q := url.Values{"code": {code}, "iss": {h.cfg.Issuer}}
	if s := a.get("state"); s != "" {
		q.Set("state", s)
	}
	loc, ok := shared.AppendQuery(a.redirectTo, q)
	if !ok { // a registered URI always parses; refuse rather than guess
		h.authorizeError(w, r, shared.AuthorizeTarget{}, shared.ServerError())
		return
	}
	web.Audit(ctx, "consent_approved", "client_id", a.link.ClientID, "user_id", user.ID, "username", user.Username,
		"grant_id", grantID, "scope", shared.FormatScope(granted), "prior_grant", auto)
	shared.RedirectToClient(w, r, loc)
}

// sessionID is the hash of r's session cookie, "" when there is none.
func (h *Handler) sessionID(r *http.Request) string {
	if tok := h.cookies.SessionToken(r); tok != "" {
		return shared.HashToken(tok)
	}
	return ""
}

// signedIn returns the session read with a's link, its user, and the user's
// grant for a's client (nil when none), read together in one call with a's
// resource server (RFC 8707, checked here); nils when there is no valid
// session (as currentUser). Only a store failure, or a resource no longer
// served (invalid_target), is an error.
func (h *Handler) signedIn(ctx context.Context, a *authRequest) (*store.Session, *store.User, *store.Grant, error) {
	sess := a.session
	if sess == nil || !h.now().Before(sess.ExpiresAt) {
		return nil, nil, nil, nil
	}
	k := store.Keys{UserID: sess.UserID, GrantClientID: a.link.ClientID}
	if !a.resource.checked {
		k.ResourceClientID = a.resource.clientID // RFC 8707: read with them
	}
	b, err := h.store.Fetch(ctx, k)
	if err != nil {
		web.Logger(ctx).Error("get user and grant", "err", err.Error())
		return nil, nil, nil, err
	}
	if err := a.resource.checkResource(ctx, b.ResourceLink); err != nil {
		return nil, nil, nil, err
	}
	if !liveSession(*sess, b.User) {
		return nil, nil, nil, nil
	}
	return sess, b.User, b.Grant, nil
}

// liveSession reports whether sess still speaks for u: u exists, is not
// disabled, and neither the password changed nor the user was disabled
// since the session began.
func liveSession(sess store.Session, u *store.User) bool {
	return u != nil && !u.Disabled && u.IssuedSince(sess.CreatedAt)
}

// currentUser returns the session of r's cookie and its user, or nils when
// there is no valid session: no cookie, an unknown or expired session, or a
// user that was deleted or disabled since (treated as signed out). Only a
// store failure is an error.
func (h *Handler) currentUser(ctx context.Context, r *http.Request) (*store.Session, *store.User, error) {
	id := h.sessionID(r)
	if id == "" {
		return nil, nil, nil
	}
	sess, err := h.store.GetSession(ctx, id, h.now())
	if errors.Is(err, shared.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		web.Logger(ctx).Error("get session", "err", err.Error())
		return nil, nil, err
	}
	u, err := h.store.GetUser(ctx, sess.UserID)
	if errors.Is(err, shared.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		web.Logger(ctx).Error("get user", "err", err.Error())
		return nil, nil, err
	}
	if !liveSession(sess, &u) {
		return nil, nil, nil
	}
	return &sess, &u, nil
}
