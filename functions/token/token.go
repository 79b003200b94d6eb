// Package token serves the token endpoint (RFC 6749 §3.2, §4.1.3, §6),
// revocation (RFC 7009), introspection (RFC 7662), authorization-server
// metadata (RFC 8414) and the JWK Set.
//
// Reads are batched (one DynamoDB BatchGetItem each): a successful code
// exchange costs four DynamoDB calls (Fetch of the link and code, Fetch of
// the user and grant, RedeemCode's two single-item writes), a refresh four
// (Fetch, a second Fetch of the grant and user, RotateRefresh's two writes)
// and an introspection one (access token) or two (refresh token). The two
// writes are ordered, the new refresh token first and then the conditional
// write that spends the code or rotates the old token, instead of one
// transaction, which would cost twice the write units (shared/store,
// RedeemCode). With a resource indicator (RFC 8707, resource.go) the
// resource server's link is read in the second Fetch: the same calls. Client secrets are checked against the link's stored hash, never
// by calling Secrets Manager. With PERMISSION_SOURCE=service the code
// exchange and every refresh also ask the permission service, after the
// checks that need no answer from it and before anything is written
// (permissions.go), and /.well-known/permissions-jwks.json publishes the
// keys its requests are signed with; the DynamoDB calls stay the same.
package token

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/routes"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// Paths are the URL paths this handler serves: the ServeMux patterns the
// local runner mounts it on, as API Gateway routes them to it (its routes,
// with their methods, are routes.Token).
var Paths = []string{
	"/oauth2/token", "/rest/oauth2/latest/token",
	"/oauth2/revoke", "/oauth2/introspect",
	"/.well-known/oauth-authorization-server", "/.well-known/jwks.json",
	"/.well-known/openid-configuration", "/oauth2/userinfo",
	"/.well-known/permissions-jwks.json",
	"/oauth2/device_authorization",
}

// Reader reads the records a request needs.
type Reader interface {
	// Fetch reads every record named by k in one call.
	Fetch(ctx context.Context, k store.Keys) (store.Bundle, error)
}

// Redeemer exchanges an authorization code for tokens.
type Redeemer interface {
	// RedeemCode writes the first refresh token of a new family, then
	// marks the code used (two ordered writes: a failure between them
	// leaves the code unused and the token never handed out);
	// ErrConflict when the code was used or expired.
	RedeemCode(ctx context.Context, codeHash string, rt *store.RefreshToken, now time.Time) error
}

// Rotator rotates refresh tokens.
type Rotator interface {
	// RotateRefresh writes next, then rotates the active token old to it
	// (two ordered writes: a failure between them leaves old active and
	// next never handed out); ErrConflict when old is no longer active.
	RotateRefresh(ctx context.Context, old, next store.RefreshToken, now time.Time) error
	// ReplaceSuccessor replaces the unused successor of the rotated token
	// old by next (within REFRESH_REUSE_GRACE).
	ReplaceSuccessor(ctx context.Context, old, next store.RefreshToken, now time.Time) error
}

// Revoker revokes grants and access tokens.
type Revoker interface {
	// RevokeGrant makes every token of the user's grant for the client
	// inactive, only while its ID is id (ErrNotFound otherwise).
	RevokeGrant(ctx context.Context, userID, clientID, id string, now time.Time) (store.Grant, error)
	// RevokeAccessToken makes the access token jti inactive until exp.
	RevokeAccessToken(ctx context.Context, jti string, exp time.Time) error
}

// Store is everything the handler needs from storage. *store.Store
// implements it; every method must be safe for concurrent use.
type Store interface {
	Reader
	Redeemer
	Rotator
	Revoker
	Devices
	LastUse
	RegistrationPolicyReader
}

var _ Store = (*store.Store)(nil)

// Options are the dependencies of a Handler.
type Options struct {
	Config config.Config
	Store  Store
	Keys   *signing.Keyring
	// Permissions asks the permission service, and PermissionKeys
	// publishes the public keys its requests are signed with: both
	// required when Config.Permissions.Source is service, unused
	// otherwise.
	Permissions    PermissionService
	PermissionKeys KeyPublisher
	Now            func() time.Time // default time.Now
	Random         io.Reader        // default crypto/rand.Reader
}

// Handler is the token function's http.Handler. It is safe for concurrent
// use.
type Handler struct {
	cfg      config.Config
	store    Store
	keys     *signing.Keyring
	perms    PermissionService // nil unless PERMISSION_SOURCE=service
	permKeys KeyPublisher      // idem
	now      func() time.Time
	random   io.Reader
	mux      *routes.Mux
	// policy caches the metadata documents of the registration policy in
	// force; defaultDocs are those of the default policy, used until a
	// read succeeds (metadata.go).
	policy      policyCache
	defaultDocs *metadataDocs
	// lastUse remembers the last uses this instance recorded (lastuse.go).
	lastUse lastUseCache
}

// New returns a Handler.
func New(o Options) (*Handler, error) {
	switch {
	case o.Store == nil:
		return nil, errors.New("token: nil store")
	case o.Keys == nil:
		return nil, errors.New("token: nil keyring")
	case o.Config.Catalog == nil:
		return nil, errors.New("token: configuration has no scope catalog")
	case o.Config.Issuer == "":
		return nil, errors.New("token: configuration has no issuer")
	case o.Config.AccessTokenTTL <= 0 || o.Config.RefreshTokenTTL <= 0:
		return nil, errors.New("token: access and refresh token lifetimes must be positive")
	case o.Config.Permissions.Service() && (o.Permissions == nil || o.PermissionKeys == nil):
		return nil, errors.New("token: PERMISSION_SOURCE is service, but no permission service client or key set")
	}
	if !o.Config.Permissions.Service() {
		o.Permissions, o.PermissionKeys = nil, nil
	}
	if o.Config.Audience == "" {
		o.Config.Audience = o.Config.Issuer
	}
	h := &Handler{cfg: o.Config, store: o.Store, keys: o.Keys, perms: o.Permissions, permKeys: o.PermissionKeys,
		now: o.Now, random: o.Random}
	if h.now == nil {
		h.now = time.Now
	}
	if h.random == nil {
		h.random = rand.Reader
	}
	docs, err := newMetadataDocs(h.cfg, shared.DefaultRegistrationPolicy(h.cfg.Catalog))
	if err != nil {
		return nil, errors.New("token: encode metadata")
	}
	h.defaultDocs = docs

	// The routes are routes.Token's; a path's other methods are 405 with
	// Allow and an OAuth error body, an unknown path net/http's plain 404
	// (as when this handler was a ServeMux).
	mux, err := routes.NewMux(routes.Token, map[string]http.Handler{
		"POST /oauth2/token":                          http.HandlerFunc(h.token),
		"POST /rest/oauth2/latest/token":              http.HandlerFunc(h.token),
		"POST /oauth2/revoke":                         http.HandlerFunc(h.revoke),
		"POST /oauth2/introspect":                     http.HandlerFunc(h.introspect),
		"POST /oauth2/device_authorization":           http.HandlerFunc(h.deviceAuthorization),
		"GET /.well-known/oauth-authorization-server": http.HandlerFunc(h.serveMetadata),
		"GET /.well-known/jwks.json":                  http.HandlerFunc(h.serveJWKS),
		"GET /.well-known/openid-configuration":       http.HandlerFunc(h.serveDiscovery),
		"GET /.well-known/permissions-jwks.json":      http.HandlerFunc(h.servePermissionsJWKS),
		"GET /oauth2/userinfo":                        http.HandlerFunc(h.userinfo),
		"POST /oauth2/userinfo":                       http.HandlerFunc(h.userinfo),
	}, http.NotFoundHandler(), func(allow []string) http.Handler {
		return methodNotAllowed(strings.Join(allow, ", "))
	})
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	h.mux = mux
	return h, nil
}

// ServeHTTP serves routes.Token: the POST endpoints answer any other
// method with 405, the well-known documents answer GET and HEAD.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	web.LimitBody(w, r)
	if p := r.URL.EscapedPath(); !routes.Clean(p) {
		// What ServeMux answers a path that is not clean, as this
		// handler did when it was one.
		http.Redirect(w, r, (&url.URL{Path: routes.CleanPath(p), RawQuery: r.URL.RawQuery}).String(), http.StatusTemporaryRedirect)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// methodNotAllowed answers 405 with Allow (RFC 9110 §15.5.6) and an OAuth
// JSON error body.
func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		e := shared.InvalidRequest("method " + r.Method + " is not allowed; use " + allow)
		e.Status = http.StatusMethodNotAllowed
		shared.WriteTokenError(w, e)
	}
}

// fail renders err as a token-endpoint error. Errors that are not already
// OAuth errors are logged with their internal text, which never reaches the
// client (shared.AsError).
func fail(ctx context.Context, w http.ResponseWriter, msg string, err error) {
	var oe *shared.Error
	if !errors.As(err, &oe) {
		web.Logger(ctx).Error(msg, "err", err)
	}
	shared.WriteTokenError(w, err)
}

// parseForm reads the request's form strictly: no parameter may travel in
// the query string (RFC 6749 §3.2 requires POST for the token endpoint, and
// credentials in a URL leak into logs), a repeated parameter is
// invalid_request (RFC 6749 §3.1) but for a repeated resource, which is
// invalid_target (RFC 8707 §2), and a body over web.MaxBodyBytes is 413.
func parseForm(r *http.Request) (map[string]string, error) {
	if r.URL.RawQuery != "" {
		return nil, shared.InvalidRequest("parameters must be sent in the request body, not the query string")
	}
	form, err := web.ParseForm(r, false)
	if rep := (*web.RepeatedError)(nil); errors.As(err, &rep) && rep.Name == "resource" {
		// RFC 8707 §2: one resource per request here; several are
		// invalid_target, not invalid_request.
		return nil, shared.InvalidTarget("only one resource may be requested")
	}
	if errors.Is(err, web.ErrTooLarge) {
		e := shared.InvalidRequest("request body too large")
		e.Status = http.StatusRequestEntityTooLarge
		return nil, e
	}
	if err != nil {
		return nil, shared.InvalidRequest(err.Error())
	}
	// RFC 6749 §3.2: "Parameters sent without a value MUST be treated as if
	// they were omitted from the request."
	out := make(map[string]string, len(form))
	for k, v := range form {
		if v[0] != "" {
			out[k] = v[0]
		}
	}
	return out, nil
}

// writeNoStore writes a successful token, introspection or metadata response
// with the caching headers of RFC 6749 §5.1.
func writeNoStore(w http.ResponseWriter, v any) {
	w.Header().Set("Pragma", "no-cache")
	web.WriteJSON(w, http.StatusOK, v)
}

// newID returns a random identifier of 128 bits, base64url (grant ids and
// jti).
func (h *Handler) newID() (string, error) { return shared.NewID(h.random) }
