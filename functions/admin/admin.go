// Package admin serves the admin API: links (incoming application links)
// with their credentials, the grants of a link, users, and the rotation of
// the token-signing key. JSON in and out; errors are
// {"error": CODE, "message": TEXT}. It also serves the same operations as
// HTML pages under /console/, the Application links console for
// administrators signed in with the browser session (console.go); each
// operation is one method (createLinkOp, ...) that both call, so the
// validation, the store calls and the audit events are the same.
//
// Every request under /admin/ but the OpenAPI document is authenticated
// first (see Authenticator), before its path or method is even looked at.
// The routes are:
//
//	GET    /admin/links                          ?limit=1..100 (default 50) &cursor= &unused_days=1..3650 &sort=created|last_used &origin= &status=
//	POST   /admin/links                          201; Idempotency-Key header honoured
//	GET    /admin/links/{id}
//	PATCH  /admin/links/{id}                     name, redirect_uris, scopes, grant_types, resource_uris, enabled
//	DELETE /admin/links/{id}                     204; revokes every grant and token
//	GET    /admin/links/{id}/credentials         "View credentials"
//	POST   /admin/links/{id}/credentials/rotate  {"overlap_seconds": 0..604800}
//	GET    /admin/links/{id}/grants              ?limit= &cursor=
//	DELETE /admin/links/{id}/grants/{grant_id}   204; the grant and its tokens
//	GET    /admin/links/{id}/events              ?limit= &cursor=: activity, newest first (90 days)
//	POST   /admin/links/{id}/approve             a self-registered link becomes active (200 with the link)
//	POST   /admin/links/{id}/reject              a self-registered link is refused, and stays (200 with the link)
//	GET    /admin/client-registration            the policy for self-registered links (the default when none was saved)
//	PUT    /admin/client-registration            replaces it whole; 422 names every bad field
//	GET    /admin/users/{username}/events        ?limit= &cursor=: activity, newest first (90 days)
//	POST   /admin/users                          201; "admin" refused (422)
//	GET    /admin/users/{username}
//	PATCH  /admin/users/{username}               password, permissions, disabled, profile; "admin" refused (422); 403 for an administrator
//	DELETE /admin/users/{username}               204; revokes the user's grants; 403 for an administrator
//	DELETE /admin/users/{username}/grants        204; revokes the user's grants, keeps the user
//	PUT    /admin/users/{username}/admin         {"admin": true|false}: the only way to set or take away the flag
//	PUT    /admin/users/{username}/admin/password {"password": ...}: any user's, an administrator's too
//	POST   /admin/users/{username}/admin/passkey-enrollment  201 {"url", "expires_at"}: a one-time passkey enrollment link
//	DELETE /admin/users/{username}/admin/passkeys            204; removes the user's passkeys, ends their sessions
//	POST   /admin/signing-keys/rotate            {"alg"?} → {"rotated": true, "alg": ..., "kid": ..., "active_from": RFC 3339}
//	GET    /admin/identity-providers             every upstream identity provider (idp.go)
//	POST   /admin/identity-providers             201; its discovery document checked first
//	GET    /admin/identity-providers/{id}
//	PATCH  /admin/identity-providers/{id}        partial; the issuer cannot change
//	DELETE /admin/identity-providers/{id}        204
//	GET    /admin/openapi.json                   this list as an OpenAPI 3.1 document (openapi.json)
//
// Error codes: invalid_request (400, malformed JSON or query), unauthorized
// (401), forbidden (403), not_found (404), method_not_allowed (405, with
// Allow), conflict (409), payload_too_large (413), validation_failed (422,
// the message names the field), internal (500, no detail), unavailable (503,
// a dependency is throttled or down; retry).
//
// The handler writes no request log line of its own: wrap it with
// web.Middleware, which adds the request id and the logger that audit
// events and internal errors are written to.
package admin

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/page"
	"github.com/applinks/applinks/shared/routes"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/throttle"
	"github.com/applinks/applinks/shared/upstream"
	"github.com/applinks/applinks/shared/web"
)

// Paths are the ServeMux patterns this handler serves, the JSON API and
// the console: the patterns the local runner mounts it on, as API Gateway
// routes them to it (its routes, with their methods, are routes.Admin).
var Paths = []string{"/admin/", "/console", "/console/", RegisterPath}

// LinkStore keeps links. Errors wrap shared.ErrNotFound, shared.ErrConflict
// or shared.ErrUnavailable where one applies.
type LinkStore interface {
	// CreateLink creates a link and its secret; a retry with the same
	// idempotency key returns the link and secret created the first time.
	CreateLink(ctx context.Context, in store.NewLink, now time.Time) (store.Link, string, error)
	// GetLink reads a link by id.
	GetLink(ctx context.Context, id string) (store.Link, error)
	// ListLinks lists links in creation order, limit 1..100.
	ListLinks(ctx context.Context, limit int, cursor string) ([]store.Link, string, error)
	// UpdateLink applies a partial update.
	UpdateLink(ctx context.Context, id string, u store.LinkUpdate, now time.Time) (store.Link, error)
	// DeleteLink deletes a link, revoking every grant and token of it.
	DeleteLink(ctx context.Context, id string, now time.Time) error
}

// CredentialStore keeps the client secrets of links.
type CredentialStore interface {
	// GetLinkSecret reads the link's current (and previous) secret.
	GetLinkSecret(ctx context.Context, id string) (store.LinkSecret, error)
	// RotateLinkSecret makes newSecret current; the old one stays valid
	// for overlap.
	RotateLinkSecret(ctx context.Context, id, newSecret string, overlap time.Duration, now time.Time) (store.Link, error)
}

// GrantStore lists and revokes the grants of a link (one per user).
type GrantStore interface {
	// ListGrantsByLink lists the grants of a client id, active and
	// recently revoked, newest first.
	ListGrantsByLink(ctx context.Context, clientID string, limit int, cursor string) ([]store.Grant, string, error)
	// RevokeGrant revokes the user's grant for the client (only while its
	// id is id), and so every token and pending code of it.
	RevokeGrant(ctx context.Context, userID, clientID, id string, now time.Time) (store.Grant, error)
	// GetGrant reads the user's grant for the client, revoked or not
	// (a revoked one until its item expires).
	GetGrant(ctx context.Context, userID, clientID string) (store.Grant, error)
}

// UserStore keeps users.
type UserStore interface {
	// CreateUser creates a user with a fresh id (ErrConflict when the
	// username is taken, regardless of case).
	CreateUser(ctx context.Context, u store.User) error
	// GetUser reads a user by id.
	GetUser(ctx context.Context, id string) (store.User, error)
	// GetUserByName reads a user by username, regardless of case.
	GetUserByName(ctx context.Context, username string) (store.User, error)
	// UpdateUser applies a partial update to the user with id.
	UpdateUser(ctx context.Context, id string, u store.UserUpdate, now time.Time) (store.User, error)
	// DeleteUser deletes the user with id and revokes every grant of theirs.
	DeleteUser(ctx context.Context, id string, now time.Time) error
	// DeleteUserUnlessAdmin is DeleteUser, refused (store.ErrAdministrator)
	// when the user is an administrator.
	DeleteUserUnlessAdmin(ctx context.Context, id string, now time.Time) error
	// RevokeUserGrants revokes every grant of the user with id.
	RevokeUserGrants(ctx context.Context, id, reason string, now time.Time) error
	// ListUsers lists users by username, limit 1..100 (the console).
	ListUsers(ctx context.Context, limit int, cursor string) ([]store.User, string, error)
}

// KeyReader reads the signing-key set document (signing.Source's), for
// the console's list of keys.
type KeyReader interface {
	GetSigningKeys(ctx context.Context) ([]byte, error)
}

// Store is everything the admin API keeps; *store.Store implements it. It
// must be safe for concurrent use.
type Store interface {
	LinkStore
	CredentialStore
	GrantStore
	UserStore
	SessionStore
	KeyReader
	ActivityStore
	RegistrationStore
	PasskeyStore
	CeremonyStore
	// The sign-in limits' counters, for the console's password
	// confirmation (shared/throttle).
	throttle.Counters
}

var _ Store = (*store.Store)(nil)

// KeyRotator rotates the token-signing key; *signing.Rotator (the admin
// function's, which reads nothing at start) and *signing.Keyring (the local
// runner's, shared with the token handler) implement it. It must be safe for
// concurrent use.
type KeyRotator interface {
	// Rotate stages a new key of alg ("": the algorithm of access
	// tokens), published at once, signing access tokens from ActiveFrom;
	// once it signs, the previous key of alg keeps verifying (and stays in
	// the JWK Set) for keep.
	Rotate(ctx context.Context, alg string, keep time.Duration) (signing.Rotation, error)
	// EnsureKey stages a first key of alg when the key set has none
	// (one written before alg was supported), and reports whether it did.
	EnsureKey(ctx context.Context, alg string) (signing.Rotation, bool, error)
}

// Options are the dependencies of a Handler.
type Options struct {
	// Config supplies the scope catalog (Catalog) and ACCESS_TOKEN_TTL.
	Config config.Config
	// Store keeps links, secrets, grants and users (required).
	Store Store
	// Keys rotates the signing key (required).
	Keys KeyRotator
	// Auth authenticates every request (required): BearerToken locally,
	// IAMPrincipal behind API Gateway.
	Auth Authenticator
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Random is the source of ids and client secrets (default
	// crypto/rand.Reader).
	Random io.Reader
	// Upstream is the relying party that checks an identity provider's
	// discovery document at save time and signs administrators in to the
	// console through one (default: upstream.New with Now).
	Upstream *upstream.Client
}

// keyOverlap is how much longer than ACCESS_TOKEN_TTL a retired signing key
// stays in the JWK Set once the new key signs: the tokens it signed just
// before expire within ACCESS_TOKEN_TTL, and the margin covers clock skew
// and JWKS caching by resource servers.
const keyOverlap = 5 * time.Minute

// Handler is the admin function's http.Handler. It is safe for concurrent
// use.
type Handler struct {
	cfg    config.Config
	store  Store
	keys   KeyRotator
	auth   Authenticator
	now    func() time.Time
	random io.Reader
	// mux serves routes.Admin.
	mux *routes.Mux

	// cookies names the sign-in session cookie the console reads.
	cookies page.Cookies
	// limiter decides before each password check (shared/throttle).
	limiter *throttle.Limiter
	// rp is the WebAuthn relying party of the console's passkeys (nil: the
	// issuer's host is an IP address, no passkeys; passkey.go).
	rp *webauthn.WebAuthn
	// idpClient is the OpenID Connect relying party of identity providers.
	idpClient *upstream.Client
}

// New returns a Handler, or an error when a required dependency is missing.
func New(o Options) (*Handler, error) {
	switch {
	case o.Store == nil:
		return nil, errors.New("admin: no store")
	case o.Keys == nil:
		return nil, errors.New("admin: no signing keys")
	case o.Auth == nil:
		return nil, errors.New("admin: no authenticator")
	case o.Config.Catalog == nil:
		return nil, errors.New("admin: config has no scope catalog")
	case o.Config.AccessTokenTTL <= 0:
		return nil, errors.New("admin: config has no access token ttl")
	}
	cookies, err := page.NewCookies(o.Config.Issuer)
	if err != nil {
		return nil, errors.New("admin: the issuer must be an absolute http(s) URL")
	}
	h := &Handler{
		cookies: cookies,
		cfg:     o.Config,
		store:   o.Store,
		keys:    o.Keys,
		auth:    o.Auth,
		now:     o.Now,
		random:  o.Random,
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.random == nil {
		h.random = rand.Reader
	}
	if h.rp, err = newRelyingParty(o.Config); err != nil {
		return nil, fmt.Errorf("admin: passkeys: %w", err)
	}
	h.limiter = throttle.New(o.Store, throttle.Options{TrustViewerAddress: o.Config.TrustCloudFrontViewerAddress, Now: h.now})
	h.idpClient = o.Upstream
	if h.idpClient == nil {
		h.idpClient = upstream.New(upstream.Options{Now: h.now})
	}
	h.mux, err = routes.NewMux(routes.Admin, h.handlers(), http.HandlerFunc(h.notFound), h.methodNotAllowed)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	h.mux.Decoded = func(path string) bool { return !isConsole(path) } // see ServeHTTP
	return h, nil
}

// call is one authenticated request: the matched path parameters (a link
// id or a username, then a grant id; "" for routes without one), the
// principal recorded in audit lines, and the way it came (via: "api" for
// the JSON API, "console" for the console, whose principal is the signed-in
// administrator's username).
type call struct {
	param, param2 string
	principal     string
	via           string
	// record keeps the audit event in the table too (recordEvent); nil
	// records nothing.
	record func(ctx context.Context, c call, event string, attrs []any)
}

// The ways a call comes (call.via).
const (
	viaAPI     = "api"
	viaConsole = "console" // the console's calls (signedIn.call)
)

// changesAdministrators reports whether the call may set the
// administrator flag in a user's body, and change or delete an
// administrator, through the user operations: only the console's calls,
// whose principal is a signed-in administrator. The JSON API sets the flag
// and an administrator's password only under
// /admin/users/{username}/admin, so that an IAM policy can allow user
// management without allowing the making or taking over of administrators.
func (c call) changesAdministrators() bool { return c.via == viaConsole }

// idempotencyScope is the scope of the Idempotency-Keys the call sends:
// the way it came and its principal (the IAM principal, the admin token,
// or the console administrator's username), so that one principal's key
// never replays another's creation, and an API principal never shares keys
// with a console administrator whatever their names.
func (c call) idempotencyScope() string { return c.via + ":" + c.principal }

// audit writes the audit event of an operation, naming who made it.
func (c call) audit(ctx context.Context, event string, attrs ...any) {
	web.Audit(ctx, event, append([]any{"principal", c.principal, "via", c.via}, attrs...)...)
	if c.record != nil {
		c.record(ctx, c, event, attrs)
	}
}

// apiRoutes are the JSON API's routes of routes.Admin and their
// operations: a table rather than a map literal of closures, which grew
// the bootstrap by kilobytes (its paths are routes.Admin's strings).
var apiRoutes = []struct {
	method, path string
	fn           func(h *Handler, w http.ResponseWriter, r *http.Request, c call) error
}{
	{"GET", "/admin/links", (*Handler).listLinks},
	{"POST", "/admin/links", (*Handler).createLink},
	{"GET", "/admin/links/{id}", (*Handler).getLink},
	{"PATCH", "/admin/links/{id}", (*Handler).updateLink},
	{"DELETE", "/admin/links/{id}", (*Handler).deleteLink},
	{"GET", "/admin/links/{id}/credentials", (*Handler).viewCredentials},
	{"POST", "/admin/links/{id}/credentials/rotate", (*Handler).rotateCredentials},
	{"GET", "/admin/links/{id}/grants", (*Handler).listGrants},
	{"DELETE", "/admin/links/{id}/grants/{grant_id}", (*Handler).revokeGrant},
	{"GET", "/admin/links/{id}/events", (*Handler).linkEvents},
	{"POST", "/admin/links/{id}/approve", (*Handler).approveLink},
	{"POST", "/admin/links/{id}/reject", (*Handler).rejectLink},
	{"GET", "/admin/client-registration", (*Handler).getClientRegistration},
	{"PUT", "/admin/client-registration", (*Handler).putClientRegistration},
	{"POST", "/admin/users", (*Handler).createUser},
	{"GET", "/admin/users/{username}", (*Handler).getUser},
	{"PATCH", "/admin/users/{username}", (*Handler).updateUser},
	{"DELETE", "/admin/users/{username}", (*Handler).deleteUser},
	{"GET", "/admin/users/{username}/events", (*Handler).userEvents},
	{"DELETE", "/admin/users/{username}/grants", (*Handler).revokeUserGrants},
	{"POST", "/admin/users/{username}/unlock", (*Handler).unlockUser},
	{"PUT", "/admin/users/{username}/admin", (*Handler).setAdmin},
	{"PUT", "/admin/users/{username}/admin/password", (*Handler).setAdminPassword},
	{"POST", "/admin/users/{username}/admin/passkey-enrollment", (*Handler).passkeyEnrollment},
	{"DELETE", "/admin/users/{username}/admin/passkeys", (*Handler).removePasskeys},
	{"POST", "/admin/signing-keys/rotate", (*Handler).rotateSigningKey},
	{"GET", "/admin/identity-providers", (*Handler).listIdentityProviders},
	{"POST", "/admin/identity-providers", (*Handler).createIdentityProvider},
	{"GET", "/admin/identity-providers/{id}", (*Handler).getIdentityProvider},
	{"PATCH", "/admin/identity-providers/{id}", (*Handler).updateIdentityProvider},
	{"DELETE", "/admin/identity-providers/{id}", (*Handler).deleteIdentityProvider},
}

// handlers are the handlers of routes.Admin: the JSON API's (apiRoutes),
// the OpenAPI document, registration and the console's (consoleHandlers).
func (h *Handler) handlers() map[string]http.Handler {
	m := h.consoleHandlers()
	for _, rt := range apiRoutes {
		m[rt.method+" "+rt.path] = apiHandler{h, rt.fn}
	}
	// The document needs no authentication of its own (openapi.go).
	m["GET "+openAPIPath] = http.HandlerFunc(serveOpenAPI)
	// Dynamic Client Registration (RFC 7591): the application registers
	// itself, unauthenticated, under the policy and the limits of register.
	m["POST "+RegisterPath] = http.HandlerFunc(h.register)
	return m
}

// apiHandler serves a route of the JSON API with fn: authenticated first,
// its wildcards (a link id or a username, then a grant id) in call.param
// and call.param2, fn's error rendered.
type apiHandler struct {
	h  *Handler
	fn func(h *Handler, w http.ResponseWriter, r *http.Request, c call) error
}

func (a apiHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, ok := a.h.authenticate(w, r)
	if !ok {
		return
	}
	if c.param = r.PathValue("id"); c.param == "" {
		c.param = r.PathValue("username")
	}
	c.param2 = r.PathValue("grant_id")
	if err := a.fn(a.h, w, r, c); err != nil {
		writeError(w, r, err)
	}
}

// authenticate authenticates a request of the JSON API (Options.Auth),
// and answers it when that fails.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) (call, bool) {
	if err := h.auth(r); err != nil {
		e := authFailure(w, err)
		web.Logger(r.Context()).Warn("admin authentication failed", "status", e.Status, "reason", e.Message)
		writeError(w, r, e)
		return call{}, false
	}
	return call{principal: principalOf(r), via: viaAPI, record: h.recordEvent}, true
}

// isConsole reports whether the path is the console's.
func isConsole(p string) bool { return p == consolePrefix || strings.HasPrefix(p, consolePrefix+"/") }

// notFound answers a path that no route has: a console page under
// /console, else (authenticated first) the API's not_found.
func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	if isConsole(r.URL.Path) {
		h.consoleMessage(w, nil, http.StatusNotFound, msgConsoleNotFound)
		return
	}
	if _, ok := h.authenticate(w, r); ok {
		writeError(w, r, errNotFound("no such resource"))
	}
}

// methodNotAllowed answers a method that no route of the path has (405
// with Allow, RFC 9110 §15.5.6) as the path's part of the function does:
// a console page, registration's error, or the API's method_not_allowed
// (authenticated first, but for the OpenAPI document), whose Allow names
// HEAD after GET.
func (h *Handler) methodNotAllowed(allow []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case isConsole(p):
			w.Header().Set("Allow", strings.Join(allow, ", "))
			h.consoleMessage(w, nil, http.StatusMethodNotAllowed, msgConsoleMethod)
		case p == RegisterPath:
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeRegistrationError(w, &registrationError{http.StatusMethodNotAllowed, "invalid_request", "use POST with a JSON body (RFC 7591 §3.1)"})
		default:
			if p != openAPIPath {
				if _, ok := h.authenticate(w, r); !ok {
					return
				}
			}
			a := apiAllow(allow)
			w.Header().Set("Allow", a)
			writeError(w, r, &apiError{
				Status:  http.StatusMethodNotAllowed,
				Code:    "method_not_allowed",
				Message: "method " + r.Method + " is not allowed here; allowed: " + a,
			})
		}
	})
}

// apiAllow is the Allow header of an API path: its methods, with HEAD
// after GET (web.Middleware answers HEAD wherever GET is).
func apiAllow(methods []string) string {
	var ms []string
	for _, m := range methods {
		if m == http.MethodHead {
			continue
		}
		ms = append(ms, m)
		if m == http.MethodGet {
			ms = append(ms, http.MethodHead)
		}
	}
	return strings.Join(ms, ", ")
}

// ServeHTTP routes the request (routes.Admin). The API authenticates
// every request but the OpenAPI document's before its path or method is
// even looked at (a 401 before a 404 or a 405); the console and
// registration authenticate in their own ways. A path that is not clean
// ("//", "." or "..") is a 404. Outside the console the path is matched
// unescaped (a %2F separates segments), as it was before the routes were
// patterns; the console's segments are unescaped once, from the escaped
// path (so that /console/users/%2572oot1 is not root1).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	web.LimitBody(w, r)
	h.mux.ServeHTTP(w, r)
}

// rotateSigningKey serves POST /admin/signing-keys/rotate {"alg": "RS256"|"ES256"}
// (the body and alg optional; default: the algorithm that signs access
// tokens now): a new key of alg is published in the JWK Set at once and
// signs access tokens from active_from (10 minutes later by default: the
// key-set refresh interval plus the JWK Set cache lifetime, so every
// instance and every cached JWK Set knows it first); the previous key of
// alg then stays in the JWK Set (and keeps verifying) for ACCESS_TOKEN_TTL
// plus five minutes, so that every token it signed stays verifiable until
// it expires, and the current key of the other algorithm keeps signing the
// ID tokens of the links that ask for it. A rotation while a key is pending
// is 409 conflict with Retry-After and the pending key's active_from (see
// signing.PendingRotationError for why it is not replaced). The response
// carries the new key's alg, kid and active_from.
func (h *Handler) rotateSigningKey(w http.ResponseWriter, r *http.Request, c call) error {
	var in struct {
		Alg *string `json:"alg"`
	}
	if err := decodeOptional(r, &in); err != nil {
		return err
	}
	alg := ""
	if in.Alg != nil {
		if !signing.Supported(*in.Alg) {
			return errValidation("alg", `must be "RS256" or "ES256"`)
		}
		alg = *in.Alg
	}
	rot, err := h.rotateSigningKeyOp(r.Context(), w, c, alg)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"rotated": true, "alg": rot.Alg, "kid": rot.KeyID,
		"active_from": rot.ActiveFrom.UTC().Format(time.RFC3339)})
	return nil
}

// rotateSigningKeyOp stages a new signing key of alg ("": the access-token
// algorithm); a rotation while one is pending is a 409 (with Retry-After
// on w).
func (h *Handler) rotateSigningKeyOp(ctx context.Context, w http.ResponseWriter, c call, alg string) (signing.Rotation, error) {
	keep := h.cfg.AccessTokenTTL + keyOverlap
	rot, err := h.keys.Rotate(ctx, alg, keep)
	if pending := (*signing.PendingRotationError)(nil); errors.As(err, &pending) {
		wait := max((pending.ActiveFrom.Sub(h.now())+time.Second-1)/time.Second, 1)
		w.Header().Set("Retry-After", strconv.FormatInt(int64(wait), 10))
		return signing.Rotation{}, errConflict("a rotation is already pending: key " + pending.KeyID + " starts signing at " +
			pending.ActiveFrom.UTC().Format(time.RFC3339) + "; rotate again from then")
	}
	if err != nil {
		return signing.Rotation{}, wrapf(err, "rotate signing key")
	}
	attrs := []any{"alg", rot.Alg, "kid", rot.KeyID, "active_from", rot.ActiveFrom.UTC().Format(time.RFC3339),
		"previous_access_alg", rot.PreviousAccessAlg}
	if rot.PreviousKeyID != "" {
		attrs = append(attrs, "previous_kid", rot.PreviousKeyID, "previous_retire_after", rot.PreviousRetireAfter.UTC().Format(time.RFC3339))
	}
	c.audit(ctx, "signing_key_rotated", attrs...)
	return rot, nil
}
