package authorize

import (
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/page/component"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// hiddenInput is one hidden field of a form.
type hiddenInput struct{ Name, Value string }

// scopeItem is a granted scope as a person reads it: its description and
// the descriptions of the scopes it includes (transitively, catalog order).
type scopeItem struct {
	Name, Description string
	Includes          []string
}

// consentData fills the consent page.
type consentData struct {
	site
	AppName      string
	RedirectHost string
	// AppHost is the host of a metadata-document link's client_id URL,
	// shown prominently: the one name on the page the application could
	// not choose freely ("" for any other link).
	AppHost string
	// SelfRegistered marks a link the application created itself (a
	// metadata document or a dynamic registration), not an administrator.
	SelfRegistered bool
	// LoopbackOnly warns that every redirect URI is on a loopback host: the
	// answer goes to a program on this computer.
	LoopbackOnly bool
	Username     string
	Scopes       []scopeItem
	Hidden       []hiddenInput
	CSRF         string
}

// scopeItems describes scopes in the order given (catalog order), each
// with what it includes (the nearest first, in reverse catalog order), less
// what another listed scope already says.
func (h *Handler) scopeItems(names []string) []scopeItem {
	out := make([]scopeItem, 0, len(names))
	all := h.catalog.Scopes()
	for _, n := range names {
		it := scopeItem{Name: n, Description: h.catalog.Description(n)}
		for _, s := range all {
			if s.Name != n && !slices.Contains(names, s.Name) && s.Description != "" &&
				h.catalog.Covers([]string{n}, []string{s.Name}) {
				it.Includes = append(it.Includes, s.Description)
			}
		}
		slices.Reverse(it.Includes) // the nearest first
		out = append(out, it)
	}
	return out
}

// protocolItems are the consent page's lines for the OpenID Connect scopes
// that share something about the user (openid and offline_access share
// nothing beyond signing in and staying signed in).
func protocolItems(protocol []string) []scopeItem {
	var out []scopeItem
	for _, p := range protocol {
		switch p {
		case "openid":
			out = append(out, scopeItem{Name: p, Description: "Sign you in with your account (it learns your account's id)"})
		case "profile":
			out = append(out, scopeItem{Name: p, Description: "See your name and username"})
		case "email":
			out = append(out, scopeItem{Name: p, Description: "See your email address and whether it is verified"})
		}
	}
	return out
}

// redirectHost is what the consent page names as the destination: the
// host (and port) of an http(s) URI, the scheme of a native app's
// private-use URI (RFC 8252 §7.1).
func redirectHost(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return ""
	}
	if u.Host != "" {
		return u.Host
	}
	return u.Scheme
}

// renderConsent renders the consent page: the application, where the answer
// goes, each granted (capped) scope, and one form carrying the request in
// hidden inputs plus the session's CSRF token. Its CSP form-action allows
// the client's origin, since browsers check form-action on the redirect
// that answers the post.
func (h *Handler) renderConsent(w http.ResponseWriter, a *authRequest, sess *store.Session, user *store.User, granted []string) {
	d := consentData{
		site:         h.site(),
		AppName:      a.link.Name,
		RedirectHost: redirectHost(a.redirectTo),
		AppHost:      metadataHost(a.link),
		Username:     user.Username,
		Scopes:       append(h.scopeItems(granted), protocolItems(a.protocol)...),
		CSRF:         sess.CSRF,
	}
	if selfRegistered(a.link) {
		d.SelfRegistered = true
		d.LoopbackOnly = allLoopback(a.link.RedirectURIs)
	}
	vals := a.values()
	if a.hasMaxAge {
		// The consent's post checks max_age again (consent below): the
		// sign-in must still be recent enough when the user approves.
		// After a sign-in for this request there is none (values drops
		// it), as that sign-in is the one max_age asked for.
		vals.Set("max_age", a.get("max_age"))
	}
	for _, k := range authParams {
		if v := vals.Get(k); v != "" {
			d.Hidden = append(d.Hidden, hiddenInput{Name: k, Value: v})
		}
	}
	component.Render(w, http.StatusOK, consentPage(d), shared.FormActionSource(a.redirectTo))
}

// consent serves POST /oauth2/consent. The session's CSRF token is checked
// first (a mismatch is a 403 page, never a redirect); then the request is
// validated again exactly as on GET, with the scope capped against the
// link and the user as they are now.
func (h *Handler) consent(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	form, err := web.ReadFormBody(r)
	if err != nil {
		if errors.Is(err, web.ErrTooLarge) {
			h.renderMessage(w, http.StatusRequestEntityTooLarge, msgTooLarge)
			return
		}
		h.renderMessage(w, http.StatusBadRequest, msgBadForm)
		return
	}
	sess, user, err := h.currentUser(ctx, r)
	if err != nil {
		h.fail(w, err)
		return
	}
	if sess != nil {
		tok := form["csrf"]
		if len(tok) != 1 || tok[0] == "" || !shared.Equal(tok[0], sess.CSRF) {
			web.Logger(ctx).Info("consent csrf mismatch", "user_id", sess.UserID)
			h.renderMessage(w, http.StatusForbidden, msgCSRF)
			return
		}
	}
	decision, account := form["decision"], form["account"]
	delete(form, "csrf")
	delete(form, "decision")
	delete(form, "account")

	a, t, err := h.parseAuthRequest(ctx, form, "")
	if err != nil {
		h.authorizeError(w, r, t, err)
		return
	}
	// max_age (OIDC Core §3.1.2.1) still holds when the user decides: a
	// sign-in that has grown too old while the consent page was open is
	// done again, then the consent page comes back (without max_age: the
	// sign-in it asks for has just happened, so even a small one ends).
	tooOld := user != nil && a.signInTooOld(sess, h.now())
	if user == nil || tooOld && len(account) == 0 {
		// The session ended (or was never there), or is too old: sign
		// in, then see the consent page again.
		d := loginData{
			ReturnTo:   a.returnTo(),
			AppName:    a.link.Name,
			formAction: shared.FormActionSource(a.redirectTo),
		}
		if user != nil {
			d.SignedInAs = user.Username
		}
		h.renderLogin(w, r, http.StatusOK, d)
		return
	}
	if len(account) == 1 && account[0] == "switch" && len(decision) == 0 {
		// "Not you? Use another account" (a button of its own, so that
		// the decision buttons stay approve and deny): sign out, then the
		// login page for the same request.
		if err := h.endSession(w, r, sess); err != nil {
			h.authorizeError(w, r, t, err)
			return
		}
		shared.Redirect(w, a.returnTo(), http.StatusSeeOther)
		return
	}
	if len(decision) != 1 {
		h.authorizeError(w, r, t, shared.InvalidRequest("decision is missing"))
		return
	}
	switch decision[0] {
	case "approve":
		granted, err := h.grantable(ctx, a, user)
		if err != nil {
			h.failGrantable(w, r, a, err, false)
			return
		}
		id, err := shared.NewID(h.random)
		if err != nil {
			web.Logger(ctx).Error("new grant id", "err", err.Error())
			h.authorizeError(w, r, t, shared.ServerError())
			return
		}
		g, err := h.store.ApproveGrant(ctx, store.Grant{
			ID: id, UserID: user.ID, Username: user.Username, ClientID: a.link.ClientID, Scope: granted,
			Protocol: a.protocol, DynamicLink: a.link.Origin == shared.OriginDynamic,
		}, h.catalog.Union, h.now())
		if err != nil {
			web.Logger(ctx).Error("approve grant", "err", err.Error())
			if errors.Is(err, shared.ErrNotFound) { // deleted or disabled meanwhile
				err = shared.AccessDenied("the account can no longer authorize applications")
			}
			h.authorizeError(w, r, t, err)
			return
		}
		if g.CreatedAt.Equal(g.UpdatedAt) {
			web.Audit(ctx, "grant_created", "grant_id", g.ID, "client_id", g.ClientID,
				"user_id", user.ID, "username", user.Username, "scope", shared.FormatScope(g.Scope))
		}
		h.issueCode(w, r, a, sess, user, g.ID, granted, false)
	case "deny":
		web.Audit(ctx, "consent_denied", "client_id", a.link.ClientID, "user_id", user.ID, "username", user.Username)
		// RFC 6749 §4.1.2.1: access_denied, with state and iss (RFC 9207).
		h.authorizeError(w, r, t, shared.AccessDenied("the user denied the request"))
	default:
		h.authorizeError(w, r, t, shared.InvalidRequest("decision must be approve or deny"))
	}
}
