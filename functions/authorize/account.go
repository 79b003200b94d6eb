package authorize

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/clientmeta"
	"github.com/applinks/applinks/shared/page/component"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// Authorization is one application the user has authorized: the user's
// grant for one client. It is the JSON form of the account page.
type Authorization struct {
	ClientID string `json:"client_id"`
	// LinkID is the link's id: what names a metadata-document link (whose
	// client_id is a URL) in the page's revoke path.
	LinkID string   `json:"id"`
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
	// ProtocolScopes are the OpenID Connect scopes the user approved for
	// it (openid, profile, email): what it may learn about them.
	ProtocolScopes []string `json:"protocol_scopes,omitempty"`
	// AuthorizedAt is when the user first authorized the application.
	AuthorizedAt time.Time `json:"authorized_at"`
	// LastAuthorizedAt is the user's latest approval.
	LastAuthorizedAt time.Time `json:"last_authorized_at"`

	link store.Link // as read for the page
}

// appView is an Authorization as the account page shows it.
type appView struct {
	Authorization
	ScopeItems   []scopeItem
	RevokeAction string
	// Host is the host of a metadata-document link's URL ("" otherwise).
	Host string
	// SelfRegistered marks a link the application created itself.
	SelfRegistered bool
}

// pathName is how the account page's paths name the link of clientID: a
// metadata-document link by its id (its client_id is a URL, which a path
// segment cannot carry), any other by its client id.
func pathName(clientID, linkID string) string {
	if clientmeta.IsURL(clientID) {
		return linkID
	}
	return clientID
}

// namesClient reports whether name, from an account page path or its
// revoked= confirmation, names clientID: the client id itself, or the id
// of a metadata-document link.
func namesClient(name, clientID string) bool {
	if clientmeta.IsURL(clientID) {
		return name == store.MetadataLinkID(clientID)
	}
	return name == clientID
}

// accountData fills the account page.
type accountData struct {
	site
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

// authorizations lists the user's active grants (one query of the user's
// grants partition, strongly consistent: one item per link), skipping
// clients whose link no longer exists, newest approval first; and the
// grant of revokedClient if it was revoked in the last revokedNotice.
func (h *Handler) authorizations(r *http.Request, userID, revokedClient string) ([]Authorization, *store.Grant, error) {
	ctx := r.Context()
	grants, err := h.store.ListGrantsByUser(ctx, userID)
	if err != nil {
		return nil, nil, err
	}
	var revoked *store.Grant
	out := make([]Authorization, 0, len(grants))
	for _, g := range grants {
		if g.Revoked {
			if revokedClient != "" && namesClient(revokedClient, g.ClientID) && h.now().Sub(g.RevokedAt) < revokedNotice {
				revoked = &g
			}
			continue
		}
		link, err := h.store.GetLinkByClientID(ctx, g.ClientID)
		if errors.Is(err, shared.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		out = append(out, Authorization{
			ClientID: g.ClientID, LinkID: link.ID, Name: link.Name, Scopes: h.catalog.Max(g.Scope), ProtocolScopes: g.Protocol,
			AuthorizedAt: g.CreatedAt.UTC(), LastAuthorizedAt: g.UpdatedAt.UTC(), link: link,
		})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].LastAuthorizedAt.Equal(out[j].LastAuthorizedAt) {
			return out[i].LastAuthorizedAt.After(out[j].LastAuthorizedAt)
		}
		return out[i].ClientID < out[j].ClientID
	})
	return out, revoked, nil
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
	// After a revocation (the 303 of revoke names the client), confirm it
	// from the user's grant for that client, read in the same strongly
	// consistent query: the query can be forged by a link, so only a
	// revocation of this user's in the last revokedNotice is confirmed.
	cid := r.URL.Query().Get("revoked")
	if len(cid) > maxParamBytes {
		cid = ""
	}
	apps, gone, err := h.authorizations(r, user.ID, cid)
	if err != nil {
		web.Logger(ctx).Error("list authorizations", "err", err.Error())
		h.failAccount(w, asJSON, err)
		return
	}
	var revoked string
	if gone != nil {
		revoked = "Access revoked."
		if link, err := h.store.GetLinkByClientID(ctx, gone.ClientID); err == nil {
			revoked = "Access revoked: " + link.Name + " can no longer use your account."
		}
	}
	if asJSON {
		web.WriteJSON(w, http.StatusOK, map[string][]Authorization{"authorizations": apps})
		return
	}
	d := accountData{site: h.site(), Username: user.Username, CSRF: sess.CSRF, Revoked: revoked}
	for _, a := range apps {
		v := appView{
			Authorization: a,
			ScopeItems:    append(h.scopeItems(a.Scopes), protocolItems(a.ProtocolScopes)...),
			RevokeAction:  "/account/authorizations/" + url.PathEscape(pathName(a.ClientID, a.LinkID)) + "/revoke",
		}
		v.Host, v.SelfRegistered = metadataHost(a.link), selfRegistered(a.link)
		d.Apps = append(d.Apps, v)
	}
	component.Render(w, http.StatusOK, accountPage(d))
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

// revoke serves POST /account/authorizations/{client_id}/revoke: the user's
// grant for the client is revoked (1 UpdateItem), which makes every token
// of it inactive at once and refuses every code of it not yet redeemed
// (codes and tokens name the grant's ID; a new authorization gets a new
// one).
func (h *Handler) revoke(w http.ResponseWriter, r *http.Request, clientID string) {
	ctx := r.Context()
	form, ok := h.readForm(w, r)
	if !ok {
		return
	}
	sess, user, err := h.currentUser(ctx, r)
	if err != nil {
		h.fail(w, err)
		return
	}
	if user == nil {
		h.renderMessage(w, http.StatusForbidden, msgSignedOut)
		return
	}
	if tok := form.Get("csrf"); tok == "" || !shared.Equal(tok, sess.CSRF) {
		web.Logger(ctx).Info("revoke csrf mismatch", "user_id", user.ID)
		h.renderMessage(w, http.StatusForbidden, msgCSRF)
		return
	}
	if strings.HasPrefix(clientID, store.MetadataLinkIDPrefix) {
		// A metadata-document link, named by its id: its client id is
		// that of the user's grant it names.
		if clientID, err = h.metadataClientOfGrant(ctx, user.ID, clientID); err != nil {
			web.Logger(ctx).Error("list grants", "err", err.Error())
			h.fail(w, err)
			return
		}
	}
	_, err = store.RevokeGrantAudited(ctx, h.store, user.ID, clientID, "", h.now(), nil, "by", "user")
	if err != nil && !errors.Is(err, shared.ErrNotFound) { // ErrNotFound: nothing to revoke
		web.Logger(ctx).Error("revoke grant", "err", err.Error())
		h.fail(w, err)
		return
	}
	shared.Redirect(w, accountPath+"?revoked="+url.QueryEscape(pathName(clientID, store.MetadataLinkID(clientID))), http.StatusSeeOther)
}

// metadataClientOfGrant returns the client id (a URL) of the user's grant
// whose metadata-document link has id, or id itself when there is none
// (RevokeGrant then finds nothing to revoke).
func (h *Handler) metadataClientOfGrant(ctx context.Context, userID, id string) (string, error) {
	grants, err := h.store.ListGrantsByUser(ctx, userID)
	if err != nil {
		return "", err
	}
	for _, g := range grants {
		if clientmeta.IsURL(g.ClientID) && store.MetadataLinkID(g.ClientID) == id {
			return g.ClientID, nil
		}
	}
	return id, nil
}
