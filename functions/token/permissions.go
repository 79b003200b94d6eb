package token

import (
	"context"
	"net/http"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/permissions"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// PermissionService answers a user's permissions when PERMISSION_SOURCE is
// service (*permissions.Client). Its failures wrap shared.ErrUnavailable.
type PermissionService interface {
	// Permissions returns the user's permissions for r.ClientID.
	Permissions(ctx context.Context, r permissions.Request) ([]string, error)
}

// KeyPublisher publishes the permission-request key set's public keys
// (*signing.RequestSigner).
type KeyPublisher interface {
	// JWKS returns the public JWK Set document (RFC 7517 §5).
	JWKS(ctx context.Context) ([]byte, error)
}

var (
	_ PermissionService = (*permissions.Client)(nil)
)

// capScope caps the scope of a token of user for link: request (a refresh's
// scope parameter without its protocol scopes, "" for none) within before
// (the scope the user approved), by the link's scopes (and the resource
// server's, rs, when the token is for a resource: RFC 8707) and by the
// user's permissions (Catalog.CapRefresh). The permissions are the stored
// ones, or with PERMISSION_SOURCE=service the service's answer, asked about
// max(closure(request or before) ∩ closure(that ceiling)); its failure is
// temporarily_unavailable (503), before anything is written, so the code
// stays unredeemed and the refresh token unspent. An unknown or added
// scope in request is invalid_scope before the service is asked.
func (h *Handler) capScope(ctx context.Context, user store.User, link, rs *store.Link, request string, before []string) ([]string, error) {
	perms := user.Permissions
	ceiling := h.ceiling(link, rs)
	if h.cfg.Permissions.Service() {
		asked, err := h.cfg.Catalog.CapRefresh(request, before, ceiling, ceiling)
		if err != nil {
			return nil, err
		}
		if perms, err = h.perms.Permissions(ctx, permissions.ForUser(user, link.ClientID, asked)); err != nil {
			web.Logger(ctx).Warn("permission service failed; nothing issued", "client_id", link.ClientID,
				"user_id", user.ID, "err", err)
			return nil, permissionsUnavailable()
		}
	}
	return h.cfg.Catalog.CapRefresh(request, before, ceiling, perms)
}

// recapScope caps an approved scope again (Catalog.Recap) at its
// redemption, as capScope does with no scope parameter: by the link's (and
// rs's) current scopes and the user's current permissions, asking the
// permission service when PERMISSION_SOURCE is service.
func (h *Handler) recapScope(ctx context.Context, user store.User, link, rs *store.Link, approved []string) ([]string, error) {
	return h.capScope(ctx, user, link, rs, "", approved)
}

// permissionsUnavailable is the token endpoint's answer when the
// permission service fails: temporarily_unavailable (RFC 6749 §5.2 leaves
// it to the authorization endpoint, but it is the code that tells a client
// to retry later), HTTP 503.
func permissionsUnavailable() *shared.Error {
	e := shared.TemporarilyUnavailable()
	e.Description = "the user's permissions cannot be confirmed right now; try again later"
	return e
}

// servePermissionsJWKS serves GET /.well-known/permissions-jwks.json: the
// public keys of the permission-request key set, with which the permission
// service verifies the provider's requests. They never verify a token, and
// the token JWK Set does not hold them. 404 unless PERMISSION_SOURCE is
// service.
func (h *Handler) servePermissionsJWKS(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if h.permKeys == nil {
		web.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "not_found",
			"error_description": "this provider does not ask a permission service"})
		return
	}
	doc, err := h.permKeys.JWKS(ctx)
	if err != nil {
		fail(ctx, w, "permissions jwks", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", publicCache)
	_, _ = w.Write(doc)
}
