package token

import (
	"context"
	"fmt"
	"slices"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// Resource indicators (RFC 8707) at the token endpoint. The authorization
// request (or the device authorization request) names at most one
// resource, a URI an enabled resource_server link registered; the code,
// the device authorization and the refresh-token family remember it with
// that link's client id. A token request (§2.2) may repeat it or omit it;
// any other value is invalid_target, so a refresh never switches a family
// to another resource. The access token's aud is the resource, and its
// scope is capped once more by the resource server's scopes, read again at
// every exchange and refresh in the same BatchGetItem as the user and the
// grant (no DynamoDB call more). Without a resource, aud is AUDIENCE.
//
// Introspection by a resource_server link with resource URIs shows as
// active only the access tokens whose aud is one of them; one without any
// sees the tokens whose aud is AUDIENCE. UserInfo accepts only tokens for
// AUDIENCE.

// resourceParam reads the resource parameter of a token request: "" when
// absent (a repeated one is refused by parseForm with invalid_target).
func resourceParam(form map[string]string) string { return form["resource"] }

// checkResourceParam applies RFC 8707 §2.2 to a token request for a grant
// that named remembered ("" for none): the request may omit resource or
// repeat it byte for byte; any other value is invalid_target.
func checkResourceParam(ctx context.Context, form map[string]string, remembered string) error {
	sent := resourceParam(form)
	if sent == "" || sent == remembered {
		return nil
	}
	web.Logger(ctx).Info("resource refused", "reason", "not the resource of the grant")
	if remembered == "" {
		return shared.InvalidTarget("the authorization named no resource; a token for another one cannot be issued from it")
	}
	return shared.InvalidTarget("the resource is not the one the authorization was for")
}

// resourceServer checks that the resource a grant named is still served by
// l, its resource server as read now (enabled, a resource server, the URI
// still among its resource URIs): nil and no error when resource is "";
// invalid_target when it is no longer served (disabled, deleted, or the
// URI removed or moved to another link: the client must authorize again).
func resourceServer(resource string, l *store.Link) (*store.Link, error) {
	if resource == "" {
		return nil, nil
	}
	if !l.ServesResource(resource) {
		return nil, shared.InvalidTarget("the resource is no longer available")
	}
	return l, nil
}

// ceiling is the scope ceiling of a token of link for the resource server
// rs: the link's scopes, capped by rs's when there is one (max(closure(C)
// ∩ closure(RS)); an empty intersection caps to the baseline, as an empty
// ceiling does).
func (h *Handler) ceiling(link, rs *store.Link) []string {
	if rs == nil {
		return link.Scopes
	}
	c, err := h.cfg.Catalog.Cap("", link.Scopes, rs.Scopes)
	if err != nil { // Cap("") parses nothing: no error
		return []string{h.cfg.Catalog.Baseline()}
	}
	return c
}

// audience is the aud of an access token for resource ("": AUDIENCE).
func (h *Handler) audience(resource string) string {
	if resource != "" {
		return resource
	}
	return h.cfg.Audience
}

// deviceResource resolves the resource parameter of a device authorization
// request (RFC 8707 §2 at RFC 8628 §3.1): "" when absent; else the
// registration read with the link (b.Resource) names the resource server,
// whose link is read next and must serve it, else invalid_target. It
// returns the resource and its server's client id.
func (h *Handler) deviceResource(ctx context.Context, form map[string]string, b store.Bundle) (string, string, error) {
	resource := resourceParam(form)
	if resource == "" {
		return "", "", nil
	}
	if b.Resource == nil {
		web.Logger(ctx).Info("resource refused", "reason", "not registered")
		return "", "", shared.InvalidTarget("the resource is unknown")
	}
	rb, err := h.store.Fetch(ctx, store.Keys{ResourceClientID: b.Resource.ClientID})
	if err != nil {
		return "", "", fmt.Errorf("fetch resource server: %w", err)
	}
	if !rb.ResourceLink.ServesResource(resource) {
		web.Logger(ctx).Info("resource refused", "reason", "resource server disabled or gone", "resource_client_id", b.Resource.ClientID)
		return "", "", shared.InvalidTarget("the resource is unknown")
	}
	return resource, b.Resource.ClientID, nil
}

// introspectorSees reports whether caller may see an access token for aud
// (issued to clientID): its own tokens, for any client; for a resource
// server, only the tokens for one of its resource URIs, or with none, the
// tokens for AUDIENCE. So a token asked for resource A is inactive to
// resource B's introspection, and a resource server of AUDIENCE never sees
// a token meant for another resource.
func (h *Handler) introspectorSees(caller *store.Link, clientID, aud string) bool {
	switch {
	case caller.ClientID == clientID:
		return true
	case caller.ClientType != store.ResourceServer:
		return false
	case len(caller.ResourceURIs) > 0:
		return slices.Contains(caller.ResourceURIs, aud)
	}
	return aud == h.cfg.Audience
}
