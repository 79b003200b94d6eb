// Package authorize serves the authorization endpoint (RFC 6749 §4.1.1,
// RFC 7636, RFC 9207), sign-in, consent and the account page where a user
// sees and revokes the applications they authorized.
//
// The browser flow:
//
//	GET  /oauth2/authorize        validate every parameter, then the login
//	                              page (no session), an immediate code (an
//	                              earlier grant covers the request) or the
//	                              consent page
//	GET  /oauth2/login            the sign-in form for ?return_to= (the
//	                              account page)
//	POST /oauth2/login            check the double-submit CSRF token and the
//	                              throttle, verify the password, start a
//	                              session, 303 back to the pending request;
//	                              Cancel: access_denied to the client
//	                              (after validating the request again)
//	POST /oauth2/consent          check the session's CSRF token, validate
//	                              again, then 303 to the client with a code
//	                              or access_denied; account=switch ends
//	                              the session, 303 to the same request
//	GET  /account/authorizations  the user's authorized applications
//	POST /account/authorizations/{client_id}/revoke
//	GET  /oauth2/logout           the sign-out page (one form); signed
//	                              out, the page that says so; also the
//	                              OpenID Connect end_session_endpoint
//	                              (logout.go)
//	POST /oauth2/logout           end the session, 303 to GET /oauth2/logout
//	                              or the application's post-logout URI
//	GET|POST /device              the Device Authorization Grant's
//	                              verification page (RFC 8628 §3.3,
//	                              device.go): the code, the sign-in, a
//	                              consent page that is always shown
//
// Every page is built by a plain function (pages.go, on shared/page: no
// template package, which would bloat the Lambda binary) that escapes every
// value, is sent with the page security headers of shared.SetPageHeaders,
// and holds exactly one form (the account page: one per application, each
// behind a "Revoke access…" details step). Every page names the provider
// (PROVIDER_NAME); error pages explain the failure in plain words and keep
// the OAuth code and description under "Details for the application's
// developer". The login and consent pages widen the
// CSP form-action to the client's origin, because browsers check
// form-action on the redirect that answers the post.
//
// Cookies (page.Cookies; the console of functions/admin has its own) are
// HttpOnly, SameSite=Lax, Path=/ and Secure with the __Host-
// prefix (__Host-session, __Host-login_csrf), except for a plain-http
// loopback issuer (local runs), where they are session and login_csrf
// without Secure. The session id is 256 random bits, stored only as its
// hash, for SessionTTL; its CSRF token guards consent, revocation and
// sign-out. The login form, which has no session yet, uses a double-submit
// token (cookie and hidden input compared in constant time). Sign-in is
// limited by shared/throttle: per username (known or not; once
// MaxLoginFailures attempts are counted within LoginWindow every attempt
// fails, a success clears the count), per source address (an IPv4 address
// or an IPv6 /64) and, by slowing down but never refusing, across all
// sources. Each attempt is counted before its password is checked, so no
// more passwords are checked per window even in parallel, and a refused
// attempt gets the same message as a wrong password.
//
// With PERMISSION_SOURCE=service the user's permissions are the permission
// service's answer, asked before the consent page (or the code of a
// remembered consent) and at the approval (permissions.go); when it fails,
// nothing is shown or issued: a 503 page, or temporarily_unavailable to
// the client for prompt=none.
package authorize

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
	"github.com/applinks/applinks/shared/clientmeta"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/page"
	"github.com/applinks/applinks/shared/routes"
	"github.com/applinks/applinks/shared/throttle"
	"github.com/applinks/applinks/shared/upstream"
	"github.com/applinks/applinks/shared/web"
)

// Paths are the URL paths (or ServeMux prefixes, ending in /) this handler
// serves: the patterns the local runner mounts it on (its routes, with
// their methods, are routes.Authorize).
var Paths = []string{
	"/oauth2/authorize", "/rest/oauth2/latest/authorize",
	"/oauth2/login", "/oauth2/consent", "/oauth2/logout",
	"/account/authorizations", "/account/authorizations/",
	devicePath,
	upstreamStartPath, upstreamCallbackPath,
}

// Tunables of the browser flow.
const (
	// SessionTTL is the lifetime of a sign-in session.
	SessionTTL = 8 * time.Hour
	// MaxLoginFailures is the number of failed sign-ins per username within
	// LoginWindow after which every sign-in for it is refused.
	MaxLoginFailures = throttle.MaxUsernameFailures
	// LoginWindow is the throttling window, counted from the first failure.
	LoginWindow = throttle.UsernameWindow
	// loginCSRFTTL is the lifetime of the login form's double-submit cookie.
	loginCSRFTTL = time.Hour
	// maxParamBytes bounds usernames and client ids before they reach the
	// store.
	maxParamBytes = 256
)

// Options are the dependencies of a Handler.
type Options struct {
	// Config is the provider's configuration: Issuer, AuthCodeTTL,
	// ProviderName, SupportContact,
	// Catalog (nil: shared.DefaultCatalog()) and RequirePKCE are used.
	Config config.Config
	// Store persists links, users, sessions, codes and grants. *store.Store
	// satisfies it.
	Store Store
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Random is the source of codes, session ids and CSRF tokens (default
	// crypto/rand.Reader).
	Random io.Reader
	// Sleep waits out the sign-in slow-down of shared/throttle (default: a
	// timer that ends with the request's context).
	Sleep func(ctx context.Context, d time.Duration) error
	// Permissions asks the permission service: required when
	// Config.Permissions.Source is service, unused otherwise.
	Permissions PermissionService
	// Upstream is the relying party of upstream sign-in (default:
	// upstream.New with Now). Upstream sign-in is offered when Store is
	// also an UpstreamStore.
	Upstream *upstream.Client
	// ClientMetadata fetches Client ID Metadata Documents (default:
	// clientmeta.NewFetcher with Config.ClientMetadataAllowLoopback and
	// Now). They are used when Store is also a MetadataLinkStore and the
	// registration policy allows them (metadata.go).
	ClientMetadata *clientmeta.Fetcher
}

// Handler is the authorize function's http.Handler. It is safe for
// concurrent use.
type Handler struct {
	cfg     config.Config
	catalog *shared.Catalog
	store   Store
	now     func() time.Time
	random  io.Reader

	// cookies are the session and login cookies (page.Cookies): without
	// the Secure attribute and the __Host- prefix only for a plain-http
	// loopback issuer (local runs).
	cookies page.Cookies
	// provider is the name the pages give the provider
	// (config.Config.ProviderName, else the issuer's host name).
	provider string
	// limiter decides before each password check (shared/throttle).
	limiter *throttle.Limiter
	// perms asks the permission service (nil unless
	// PERMISSION_SOURCE=service).
	perms PermissionService
	// upstream is Store as an UpstreamStore (nil: no upstream sign-in);
	// rp the relying party of upstream sign-in.
	upstream UpstreamStore
	rp       *upstream.Client
	// metaLinks is Store as a MetadataLinkStore (nil: a URL client_id is
	// an unknown application); metadata fetches the documents.
	metaLinks MetadataLinkStore
	metadata  *clientmeta.Fetcher
	// mux serves routes.Authorize.
	mux *routes.Mux
}

// New returns a Handler. It fails when the store or the issuer is missing.
func New(o Options) (*Handler, error) {
	if o.Store == nil {
		return nil, errors.New("authorize: no store")
	}
	cookies, err := page.NewCookies(o.Config.Issuer)
	if err != nil {
		return nil, errors.New("authorize: the issuer must be an absolute http(s) URL")
	}
	if o.Config.AuthCodeTTL <= 0 {
		return nil, errors.New("authorize: the authorization code TTL must be positive")
	}
	if o.Config.Permissions.Service() && o.Permissions == nil {
		return nil, errors.New("authorize: PERMISSION_SOURCE is service, but no permission service client")
	}
	if !o.Config.Permissions.Service() {
		o.Permissions = nil
	}
	h := &Handler{
		cfg:      o.Config,
		catalog:  o.Config.Catalog,
		store:    o.Store,
		now:      o.Now,
		random:   o.Random,
		cookies:  cookies,
		provider: o.Config.ProviderName,
		perms:    o.Permissions,
	}
	if h.provider == "" {
		h.provider = config.ProviderNameFor(o.Config.Issuer)
	}
	if h.catalog == nil {
		h.catalog = shared.DefaultCatalog()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.random == nil {
		h.random = rand.Reader
	}
	h.upstream, _ = o.Store.(UpstreamStore)
	h.metaLinks, _ = o.Store.(MetadataLinkStore)
	h.metadata = o.ClientMetadata
	if h.metadata == nil {
		h.metadata = clientmeta.NewFetcher(clientmeta.Options{
			AllowLoopback: o.Config.ClientMetadataAllowLoopback, RootCAs: o.Config.ClientMetadataRoots, Now: h.now})
	}
	h.rp = o.Upstream
	if h.rp == nil {
		h.rp = upstream.New(upstream.Options{Now: h.now})
	}
	h.limiter = throttle.New(o.Store, throttle.Options{
		TrustViewerAddress: o.Config.TrustCloudFrontViewerAddress,
		Now:                h.now,
		Sleep:              o.Sleep,
	})
	if h.mux, err = h.newMux(); err != nil {
		return nil, fmt.Errorf("authorize: %w", err)
	}
	h.mux.Decoded = func(string) bool { return true } // see ServeHTTP
	return h, nil
}

// ServeHTTP routes the request to the endpoint its path names
// (routes.Authorize): a path that is not clean ("//", "." or "..") is a
// 404 page, and the path is matched unescaped (a %2F separates segments),
// as it was before the routes were patterns.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	web.LimitBody(w, r)
	h.mux.ServeHTTP(w, r)
}

// newMux serves routes.Authorize; a path's other methods are a 405 page
// with Allow, an unknown path a 404 page.
func (h *Handler) newMux() (*routes.Mux, error) {
	return routes.NewMux(routes.Authorize, map[string]http.Handler{
		"GET /oauth2/authorize":              http.HandlerFunc(h.authorize),
		"POST /oauth2/authorize":             http.HandlerFunc(h.authorize),
		"GET /rest/oauth2/latest/authorize":  http.HandlerFunc(h.authorize),
		"POST /rest/oauth2/latest/authorize": http.HandlerFunc(h.authorize),
		"GET /oauth2/login":                  http.HandlerFunc(h.loginForm),
		"POST /oauth2/login":                 http.HandlerFunc(h.login),
		"POST /oauth2/consent":               http.HandlerFunc(h.consent),
		"GET /oauth2/logout": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			vals, err := url.ParseQuery(r.URL.RawQuery)
			if err != nil {
				h.failLogout(w, logoutProblem(textLogoutLink, "the query string is not valid"))
				return
			}
			h.logoutPage(w, r, vals)
		}),
		"POST /oauth2/logout":           http.HandlerFunc(h.logout),
		"GET /device":                   http.HandlerFunc(h.deviceGet), // RFC 8628 §3.3 (device.go)
		"POST /device":                  http.HandlerFunc(h.devicePost),
		"GET /oauth2/upstream/start":    http.HandlerFunc(h.upstreamStart),
		"GET /oauth2/upstream/callback": http.HandlerFunc(h.upstreamCallback),
		"GET /account/authorizations":   http.HandlerFunc(h.account),
		"POST /account/authorizations/{client_id}/revoke": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.revoke(w, r, r.PathValue("client_id"))
		}),
	}, http.HandlerFunc(h.notFound), func(allow []string) http.Handler {
		a := strings.Join(allow, ", ")
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", a)
			h.renderMessage(w, http.StatusMethodNotAllowed, msgMethod)
		})
	})
}

// notFound is the 404 page.
func (h *Handler) notFound(w http.ResponseWriter, _ *http.Request) {
	h.renderMessage(w, http.StatusNotFound, msgNotFound)
}
