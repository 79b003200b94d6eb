package authorize

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// Resource indicators (RFC 8707 §2) at the authorization endpoint: a
// request may name one resource, a URI an enabled resource_server link
// registered (byte for byte); anything else, and two or more resource
// parameters, is invalid_target, redirected to the client once its
// redirect URI is known. The resource's registration is read with the
// link (and the session), in the same BatchGetItem; its server's link is
// read with the signed-in user and grant when there is a session, so an
// authorization with a remembered consent costs the same three DynamoDB
// calls with or without a resource; without a session it costs one more
// read. The code remembers the resource and its server's client id; the
// scope the user is shown and approves is capped by the server's scopes
// too (ceiling), and so is what the permission service is asked about.

// maxResourceBytes bounds a resource parameter before it is looked up: no
// registered URI is longer.
const maxResourceBytes = shared.MaxRedirectURIBytes

// resourceRequest is the resource an authorization request named.
type resourceRequest struct {
	// uri is the resource parameter ("" when absent), clientID the
	// client id of the link that registered it (from its pointer).
	uri, clientID string
	// server is that link as read, once checked (checkResource); nil until
	// then, and without a resource.
	server *store.Link
	// checked reports that server was read and serves uri.
	checked bool
}

// resourceValue is the resource parameter of vals, for reading its
// registration with the link ("" when absent, repeated or too long: those
// are refused by parseResource, without a lookup).
func resourceValue(vals url.Values) string {
	if rs := vals["resource"]; len(rs) == 1 && len(rs[0]) <= maxResourceBytes {
		return rs[0]
	}
	return ""
}

// parseResource checks the resource parameter once the redirect URI is
// valid (its errors are redirectable): at most one, and registered (reg is
// its registration as read with the link). The resource server's link is
// checked later (checkResource).
func parseResource(ctx context.Context, vals url.Values, reg *store.Resource) (resourceRequest, error) {
	rs := vals["resource"]
	switch {
	case len(rs) == 0 || len(rs) == 1 && rs[0] == "":
		return resourceRequest{}, nil
	case len(rs) > 1:
		return resourceRequest{}, shared.InvalidTarget("only one resource may be requested")
	case reg == nil || reg.URI != rs[0]:
		web.Logger(ctx).Info("resource refused", "reason", "not registered")
		return resourceRequest{}, shared.InvalidTarget("the resource is unknown")
	}
	return resourceRequest{uri: rs[0], clientID: reg.ClientID}, nil
}

// checkResource checks the resource server as read (l) against the
// request's resource: it must be an enabled resource server that still
// registers the URI, else invalid_target. Without a resource it does
// nothing.
func (rr *resourceRequest) checkResource(ctx context.Context, l *store.Link) error {
	if rr.uri == "" || rr.checked {
		return nil
	}
	if !l.ServesResource(rr.uri) {
		web.Logger(ctx).Info("resource refused", "reason", "resource server disabled or gone", "resource_client_id", rr.clientID)
		return shared.InvalidTarget("the resource is unknown")
	}
	rr.server, rr.checked = l, true
	return nil
}

// readResourceServer reads and checks the resource server of a request
// that has no signed-in session to read it with (one Fetch).
func (h *Handler) readResourceServer(ctx context.Context, rr *resourceRequest) error {
	if rr.uri == "" || rr.checked {
		return nil
	}
	b, err := h.store.Fetch(ctx, store.Keys{ResourceClientID: rr.clientID})
	if err != nil {
		web.Logger(ctx).Error("get resource server", "err", err.Error())
		return fmt.Errorf("get resource server: %w", err)
	}
	return rr.checkResource(ctx, b.ResourceLink)
}

// ceiling is the scope ceiling of a request of link for the resource
// server rs (nil: none): the link's scopes, capped by rs's (max(closure(C)
// ∩ closure(RS)); an empty intersection caps to the baseline, as an empty
// ceiling does).
func (h *Handler) ceiling(link store.Link, rs *store.Link) []string {
	if rs == nil {
		return link.Scopes
	}
	c, err := h.catalog.Cap("", link.Scopes, rs.Scopes)
	if err != nil { // Cap("") parses nothing: no error
		return []string{h.catalog.Baseline()}
	}
	return c
}

// msgDeviceResource is the device pages' answer when the resource the
// device asked for is no longer served.
var msgDeviceResource = message{Title: "The service this code is for is not available",
	Text: "The device asked for access to a service that has been turned off or removed. Nothing was shared. Tell the people who run the application.",
	Help: true}

// errDeviceResource is readDevice's error when the device authorization's
// resource is no longer served.
var errDeviceResource = errors.New("device authorization's resource server is gone or disabled")

// failDeviceResource answers errDeviceResource.
func (h *Handler) failDeviceResource(w http.ResponseWriter) {
	h.renderMessage(w, http.StatusBadRequest, msgDeviceResource)
}
