package authorize

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/page"
	"github.com/applinks/applinks/shared/web"
)

// Authorization is one application the user has authorized: the active
// grants of one client, merged. It is the JSON form of the account page.
type Authorization struct {
	ClientID string   `json:"client_id"`
	Name     string   `json:"name"`
	Scopes   []string `json:"scopes"`
	// AuthorizedAt is when the oldest active grant was created.
	AuthorizedAt time.Time `json:"authorized_at"`
	// LastAuthorizedAt is when the newest active grant was created.
	LastAuthorizedAt time.Time `json:"last_authorized_at"`
}

// appView is an Authorization as the account page shows it.
type appView struct {
	Authorization
	ScopeItems   []scopeItem
	RevokeAction string
}

// accountData fills the account page.
type accountData struct {
	Username string
	Revoked  string // the confirmation after a revocation, if any
	Apps     []appView
	CSRF     string
}

// wantsJSON reports whether the Accept header asks for JSON.
func wantsJSON(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "application/json" {
			return true
		}
	}
	return false
}

// authorizations merges the active grants of username by client, skipping
// clients whose link no longer exists; newest first.
func (h *Handler) authorizations(r *http.Request, username string) ([]Authorization, error) {
	ctx := r.Context()
	grants, err := h.store.ListGrantsByUser(ctx, username)
	if err != nil {
		return nil, err
	}
	byClient := map[string]*Authorization{}
	var scopes = map[string][]string{}
	var order []string
	for _, g := range grants {
		if g.Revoked {
			continue
		}
		a, ok := byClient[g.ClientID]
		if !ok {
			a = &Authorization{ClientID: g.ClientID, AuthorizedAt: g.CreatedAt, LastAuthorizedAt: g.CreatedAt}
			byClient[g.ClientID] = a
			order = append(order, g.ClientID)
		}
		if g.CreatedAt.Before(a.AuthorizedAt) {
			a.AuthorizedAt = g.CreatedAt
		}
		if g.CreatedAt.After(a.LastAuthorizedAt) {
			a.LastAuthorizedAt = g.CreatedAt
		}
		scopes[g.ClientID] = append(scopes[g.ClientID], g.Scope...)
	}
	out := make([]Authorization, 0, len(order))
	for _, cid := range order {
		link, err := h.store.GetLinkByClientID(ctx, cid)
		if errors.Is(err, shared.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		a := byClient[cid]
		a.Name = link.Name
		a.Scopes = h.maxScopes(scopes[cid])
		a.AuthorizedAt, a.LastAuthorizedAt = a.AuthorizedAt.UTC(), a.LastAuthorizedAt.UTC()
		out = append(out, *a)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].LastAuthorizedAt.Equal(out[j].LastAuthorizedAt) {
			return out[i].LastAuthorizedAt.After(out[j].LastAuthorizedAt)
		}
		return out[i].ClientID < out[j].ClientID
	})
	return out, nil
}

// maxScopes returns the union of names, in catalog order, without a scope
// another member implies (SPEC's max()).
func (h *Handler) maxScopes(names []string) []string {
	valid, err := h.catalog.Validate(names)
	if err != nil { // a scope left the catalog: keep what is still known
		var known []string
		for _, n := range names {
			if h.catalog.Description(n) != "" {
				known = append(known, n)
			}
		}
		valid, _ = h.catalog.Validate(known)
	}
	out := make([]string, 0, len(valid))
	for _, s := range valid {
		implied := false
		for _, o := range valid {
			if o != s && h.catalog.Covers([]string{o}, []string{s}) {
				implied = true
				break
			}
		}
		if !implied {
			out = append(out, s)
		}
	}
	return out
}

// revokedNotice is how long after a revocation the account page confirms
// it.
const revokedNotice = 5 * time.Minute

// account serves GET /account/authorizations.
func (h *Handler) account(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	asJSON := wantsJSON(r)
	sess, user, err := h.currentUser(ctx, r)
	if err != nil {
		h.failAccount(w, asJSON, err)
		return
	}
	if user == nil {
		if asJSON {
			// RFC 9110 §15.5.2: a 401 carries a challenge. The account page
			// authenticates by the sign-in session's cookie.
			w.Header().Set("WWW-Authenticate", `Cookie realm="account", form-action="/oauth2/login"`)
			web.WriteJSON(w, http.StatusUnauthorized, map[string]string{
				"error": "unauthorized", "message": "sign in to see your authorized applications",
			})
			return
		}
		h.renderLogin(w, r, http.StatusOK, loginData{ReturnTo: accountPath})
		return
	}
	apps, err := h.authorizations(r, user.Username)
	if err != nil {
		web.Logger(ctx).Error("list authorizations", "err", err.Error())
		h.failAccount(w, asJSON, err)
		return
	}
	// After a revocation (the 303 of revoke names the client), confirm it
	// from the user's revocation marker, which is read consistently: the
	// grant listing comes from an index that may still show the grants as
	// active for a moment, so an application whose newest grant is not
	// after the revocation is left out. The query can be forged by a link:
	// only a revocation this user made in the last revokedNotice is
	// confirmed.
	var revoked string
	if cid := r.URL.Query().Get("revoked"); cid != "" && len(cid) <= maxParamBytes {
		at, err := h.store.RevokedAt(ctx, user.Username, cid)
		if err != nil {
			web.Logger(ctx).Warn("revoked at", "err", err.Error())
		}
		if !at.IsZero() && h.now().Sub(at) < revokedNotice {
			apps = slices.DeleteFunc(apps, func(a Authorization) bool {
				return a.ClientID == cid && !a.LastAuthorizedAt.After(at)
			})
			revoked = "Access revoked."
			if link, err := h.store.GetLinkByClientID(ctx, cid); err == nil {
				revoked = "Access revoked: " + link.Name + " can no longer use your account."
			}
		}
	}
	if asJSON {
		web.WriteJSON(w, http.StatusOK, map[string][]Authorization{"authorizations": apps})
		return
	}
	d := accountData{Username: user.Username, CSRF: sess.CSRF, Revoked: revoked}
	for _, a := range apps {
		d.Apps = append(d.Apps, appView{
			Authorization: a,
			ScopeItems:    h.scopeItems(a.Scopes),
			RevokeAction:  "/account/authorizations/" + url.PathEscape(a.ClientID) + "/revoke",
		})
	}
	page.Render(w, http.StatusOK, accountPage, d)
}

// failAccount answers a store failure of the account page.
func (h *Handler) failAccount(w http.ResponseWriter, asJSON bool, err error) {
	if !asJSON {
		h.fail(w, err)
		return
	}
	e := shared.AsError(err)
	web.WriteJSON(w, e.Status, map[string]string{"error": e.Code, "message": e.Description})
}

// revoke serves POST /account/authorizations/{client_id}/revoke: every
// active grant of the user for the client is revoked, which makes all
// their tokens inactive at once, and so is every authorization code of
// theirs for the client not yet redeemed.
//
// The revocation marker that cancels the codes is written first: if
// revoking a grant then fails, the page reports the failure (a retry
// finishes the job) and no pending code can bring the client back
// meanwhile. If writing the marker fails, nothing is revoked and the page
// reports the failure.
func (h *Handler) revoke(w http.ResponseWriter, r *http.Request, clientID string) {
	ctx := r.Context()
	form, ok := readForm(w, r)
	if !ok {
		return
	}
	sess, user, err := h.currentUser(ctx, r)
	if err != nil {
		h.fail(w, err)
		return
	}
	if user == nil {
		renderMessage(w, http.StatusForbidden, msgSignedOut)
		return
	}
	if tok := form.Get("csrf"); tok == "" || !shared.Equal(tok, sess.CSRF) {
		web.Logger(ctx).Info("revoke csrf mismatch", "username", user.Username)
		renderMessage(w, http.StatusForbidden, msgCSRF)
		return
	}
	now := h.now()
	if err := h.store.RevokePendingCodes(ctx, user.Username, clientID, now); err != nil {
		web.Logger(ctx).Error("revoke pending codes", "err", err.Error())
		h.fail(w, err)
		return
	}
	grants, err := h.store.ListGrantsByUser(ctx, user.Username)
	if err != nil {
		web.Logger(ctx).Error("list grants", "err", err.Error())
		h.fail(w, err)
		return
	}
	for _, g := range grants {
		if g.ClientID != clientID || g.Revoked {
			continue
		}
		if err := h.store.RevokeGrant(ctx, g.ID, now); err != nil && !errors.Is(err, shared.ErrNotFound) {
			web.Logger(ctx).Error("revoke grant", "err", err.Error(), "grant_id", g.ID)
			h.fail(w, err)
			return
		}
		web.Audit(ctx, "grant_revoked", "grant_id", g.ID, "client_id", g.ClientID,
			"username", user.Username, "by", "user")
	}
	page.Redirect(w, accountPath+"?revoked="+url.QueryEscape(clientID), http.StatusSeeOther)
}
