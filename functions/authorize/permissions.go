package authorize

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/page/component"
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

var _ PermissionService = (*permissions.Client)(nil)

// errPermissionsUnavailable is grantable's error when the permission
// service fails.
var errPermissionsUnavailable = errors.New("the permission service did not answer")

// grantable is the scope a's request may get for user (SPEC "Scopes and
// capping"): max(closure(R) ∩ closure(C) ∩ closure(U)), or the baseline,
// where C is the link's scopes capped by the resource server's when the
// request names a resource (RFC 8707).
// U is the user's stored permissions, or with PERMISSION_SOURCE=service
// the permission service's answer, asked about max(closure(R) ∩
// closure(C)) before the consent page (and again, usually from its cache,
// when the user approves). An unknown scope is invalid_scope before the
// service is asked; the service's failure is errPermissionsUnavailable
// (logged here), never a wider scope.
func (h *Handler) grantable(ctx context.Context, a *authRequest, user *store.User) ([]string, error) {
	if a.resource.uri != "" && !a.resource.checked {
		return nil, fmt.Errorf("grantable: resource %q not checked", a.resource.uri) // a bug: never a wider scope
	}
	ceiling := h.ceiling(a.link, a.resource.server)
	perms := user.Permissions
	if h.cfg.Permissions.Service() {
		asked, err := h.catalog.Cap(a.catalogScope, ceiling, ceiling)
		if err != nil {
			return nil, shared.InvalidScope("the scope parameter names an unknown scope")
		}
		if perms, err = h.perms.Permissions(ctx, permissions.ForUser(*user, a.link.ClientID, asked)); err != nil {
			web.Logger(ctx).Warn("permission service failed; nothing granted", "client_id", a.link.ClientID,
				"user_id", user.ID, "err", err)
			return nil, errPermissionsUnavailable
		}
	}
	granted, err := h.catalog.Cap(a.catalogScope, ceiling, perms)
	if err != nil {
		return nil, shared.InvalidScope("the scope parameter names an unknown scope")
	}
	return granted, nil
}

// failGrantable answers grantable's error: invalid_scope to the client;
// for the permission service's failure, prompt=none (on the authorization
// request, when redirect is set) goes back to the client with
// temporarily_unavailable, anything else gets a page with status 503 that
// says the user's permissions cannot be confirmed now.
func (h *Handler) failGrantable(w http.ResponseWriter, r *http.Request, a *authRequest, err error, redirect bool) {
	if !errors.Is(err, errPermissionsUnavailable) {
		h.authorizeError(w, r, a.target, err)
		return
	}
	e := shared.TemporarilyUnavailable()
	e.Description = "the user's permissions cannot be confirmed right now"
	if redirect && a.prompts[promptNone] {
		h.authorizeError(w, r, a.target, e)
		return
	}
	app := a.link.Name
	component.Render(w, http.StatusServiceUnavailable, errorPage(authError{
		site:        h.site(),
		Title:       "Your permissions cannot be confirmed right now",
		Text:        h.provider + " asks for your permissions before " + app + " gets any access, and the service that holds them did not answer. Nothing has been shared with " + app + ".",
		Next:        "Go back to " + app + " and try again in a few minutes.",
		Code:        e.Code,
		Description: e.Description,
	}))
}
