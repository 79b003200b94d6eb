// Package routes lists the provider's HTTP routes, function by function, as
// net/http.ServeMux method-and-path patterns, and builds a function's
// router from its list (Mux). The lists are the one place a route is
// declared for the code: each function's router serves exactly its list
// (NewMux fails on a route without a handler or a handler without a
// route), and tests compare
// them with the HTTP API of infra/stack.go (infra's TestRoutesMatchFunctions),
// the local runner's mux (local/server's TestLocalMuxRoutes) and the admin
// API's OpenAPI document (functions/admin's TestOpenAPIMatchesRoutes). It
// imports only the standard library, so that the CDK module can read it.
//
// HEAD is listed where a function answers it itself; web.Middleware, in
// front of every deployed function, answers HEAD as GET wherever GET is.
package routes

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
)

// Route is one route: a method and a ServeMux path pattern
// ("/admin/links/{id}", "/console/{$}").
type Route struct {
	Method string
	Path   string
}

// String is the route as a ServeMux pattern: "POST /oauth2/token".
func (r Route) String() string { return r.Method + " " + r.Path }

// Token are the token function's routes (functions/token).
var Token = []Route{
	{"POST", "/oauth2/token"},
	{"POST", "/rest/oauth2/latest/token"},
	{"POST", "/oauth2/revoke"},
	{"POST", "/oauth2/introspect"},
	{"POST", "/oauth2/device_authorization"},
	{"GET", "/.well-known/oauth-authorization-server"},
	{"HEAD", "/.well-known/oauth-authorization-server"},
	{"GET", "/.well-known/jwks.json"},
	{"HEAD", "/.well-known/jwks.json"},
	{"GET", "/.well-known/openid-configuration"},
	{"HEAD", "/.well-known/openid-configuration"},
	{"GET", "/.well-known/permissions-jwks.json"},
	{"HEAD", "/.well-known/permissions-jwks.json"},
	{"GET", "/oauth2/userinfo"},
	{"HEAD", "/oauth2/userinfo"},
	{"POST", "/oauth2/userinfo"},
}

// Authorize are the authorize function's routes (functions/authorize).
var Authorize = []Route{
	// OIDC Core §3.1.2.1: the authorization endpoint takes GET and POST.
	{"GET", "/oauth2/authorize"},
	{"POST", "/oauth2/authorize"},
	{"GET", "/rest/oauth2/latest/authorize"},
	{"POST", "/rest/oauth2/latest/authorize"},
	{"GET", "/oauth2/login"},
	{"HEAD", "/oauth2/login"},
	{"POST", "/oauth2/login"},
	{"POST", "/oauth2/consent"},
	{"GET", "/oauth2/logout"},
	{"POST", "/oauth2/logout"},
	{"GET", "/device"},
	{"HEAD", "/device"},
	{"POST", "/device"},
	{"GET", "/oauth2/upstream/start"},
	{"HEAD", "/oauth2/upstream/start"},
	{"GET", "/oauth2/upstream/callback"},
	{"HEAD", "/oauth2/upstream/callback"},
	{"GET", "/account/authorizations"},
	{"POST", "/account/authorizations/{client_id}/revoke"},
}

// Admin are the admin function's routes (functions/admin): the JSON API
// (openapi.json), Dynamic Client Registration, and the console.
var Admin = []Route{
	{"GET", "/admin/links"},
	{"POST", "/admin/links"},
	{"GET", "/admin/links/{id}"},
	{"PATCH", "/admin/links/{id}"},
	{"DELETE", "/admin/links/{id}"},
	{"GET", "/admin/links/{id}/credentials"},
	{"POST", "/admin/links/{id}/credentials/rotate"},
	{"GET", "/admin/links/{id}/grants"},
	{"DELETE", "/admin/links/{id}/grants/{grant_id}"},
	{"GET", "/admin/links/{id}/events"},
	{"POST", "/admin/links/{id}/approve"},
	{"POST", "/admin/links/{id}/reject"},
	{"GET", "/admin/client-registration"},
	{"PUT", "/admin/client-registration"},
	{"POST", "/admin/users"},
	{"GET", "/admin/users/{username}"},
	{"PATCH", "/admin/users/{username}"},
	{"DELETE", "/admin/users/{username}"},
	{"GET", "/admin/users/{username}/events"},
	{"DELETE", "/admin/users/{username}/grants"},
	{"POST", "/admin/users/{username}/unlock"},
	{"PUT", "/admin/users/{username}/admin"},
	{"PUT", "/admin/users/{username}/admin/password"},
	{"POST", "/admin/users/{username}/admin/passkey-enrollment"},
	{"DELETE", "/admin/users/{username}/admin/passkeys"},
	{"POST", "/admin/signing-keys/rotate"},
	{"GET", "/admin/identity-providers"},
	{"POST", "/admin/identity-providers"},
	{"GET", "/admin/identity-providers/{id}"},
	{"PATCH", "/admin/identity-providers/{id}"},
	{"DELETE", "/admin/identity-providers/{id}"},
	{"GET", "/admin/openapi.json"},
	{"HEAD", "/admin/openapi.json"},

	// RFC 7591: an application registers itself.
	{"POST", "/oauth2/register"},

	// The console (signed-in administrators' pages).
	{"GET", "/console"},
	{"HEAD", "/console"},
	{"GET", "/console/{$}"},
	{"HEAD", "/console/{$}"},
	{"GET", "/console/login"},
	{"HEAD", "/console/login"},
	{"POST", "/console/login"},
	{"POST", "/console/logout"},
	{"GET", "/console/login/passkey"},
	{"HEAD", "/console/login/passkey"},
	{"POST", "/console/login/passkey"},
	{"GET", "/console/passkeys/enroll"},
	{"HEAD", "/console/passkeys/enroll"},
	{"POST", "/console/passkeys/enroll"},
	{"GET", "/console/upstream/start"},
	{"HEAD", "/console/upstream/start"},
	{"GET", "/console/upstream/callback"},
	{"HEAD", "/console/upstream/callback"},
	{"GET", "/console/confirm"},
	{"HEAD", "/console/confirm"},
	{"POST", "/console/confirm"},
	{"POST", "/console/confirm/passkey"},
	{"GET", "/console/links"},
	{"HEAD", "/console/links"},
	{"GET", "/console/links/new"},
	{"HEAD", "/console/links/new"},
	{"POST", "/console/links/new"},
	{"GET", "/console/links/{id}"},
	{"HEAD", "/console/links/{id}"},
	{"GET", "/console/links/{id}/created"},
	{"HEAD", "/console/links/{id}/created"},
	{"GET", "/console/links/{id}/credentials"},
	{"HEAD", "/console/links/{id}/credentials"},
	{"GET", "/console/links/{id}/rotate"},
	{"HEAD", "/console/links/{id}/rotate"},
	{"POST", "/console/links/{id}/rotate"},
	{"GET", "/console/links/{id}/edit"},
	{"HEAD", "/console/links/{id}/edit"},
	{"POST", "/console/links/{id}/edit"},
	{"POST", "/console/links/{id}/enable"},
	{"POST", "/console/links/{id}/disable"},
	{"GET", "/console/links/{id}/delete"},
	{"HEAD", "/console/links/{id}/delete"},
	{"POST", "/console/links/{id}/delete"},
	{"GET", "/console/links/{id}/grants/{grant}/revoke"},
	{"HEAD", "/console/links/{id}/grants/{grant}/revoke"},
	{"POST", "/console/links/{id}/grants/{grant}/revoke"},
	{"GET", "/console/links/{id}/approve"},
	{"HEAD", "/console/links/{id}/approve"},
	{"POST", "/console/links/{id}/approve"},
	{"GET", "/console/links/{id}/reject"},
	{"HEAD", "/console/links/{id}/reject"},
	{"POST", "/console/links/{id}/reject"},
	{"GET", "/console/users"},
	{"HEAD", "/console/users"},
	{"GET", "/console/users/new"},
	{"HEAD", "/console/users/new"},
	{"POST", "/console/users/new"},
	{"GET", "/console/users/{username}"},
	{"HEAD", "/console/users/{username}"},
	{"POST", "/console/users/{username}"},
	{"POST", "/console/users/{username}/password"},
	{"POST", "/console/users/{username}/revoke"},
	{"POST", "/console/users/{username}/unlock"},
	{"GET", "/console/users/{username}/delete"},
	{"HEAD", "/console/users/{username}/delete"},
	{"POST", "/console/users/{username}/delete"},
	{"GET", "/console/users/{username}/passkeys/add"},
	{"HEAD", "/console/users/{username}/passkeys/add"},
	{"POST", "/console/users/{username}/passkeys/add"},
	{"POST", "/console/users/{username}/passkeys/{passkey}/remove"},
	{"POST", "/console/users/{username}/upstream"},
	{"POST", "/console/users/{username}/upstream/unlink"},
	{"GET", "/console/keys"},
	{"HEAD", "/console/keys"},
	{"POST", "/console/keys/rotate"},
	{"GET", "/console/identity-providers"},
	{"HEAD", "/console/identity-providers"},
	{"GET", "/console/identity-providers/new"},
	{"HEAD", "/console/identity-providers/new"},
	{"POST", "/console/identity-providers/new"},
	{"GET", "/console/identity-providers/{id}"},
	{"HEAD", "/console/identity-providers/{id}"},
	{"GET", "/console/identity-providers/{id}/edit"},
	{"HEAD", "/console/identity-providers/{id}/edit"},
	{"POST", "/console/identity-providers/{id}/edit"},
	{"POST", "/console/identity-providers/{id}/enable"},
	{"POST", "/console/identity-providers/{id}/disable"},
	{"GET", "/console/registration"},
	{"HEAD", "/console/registration"},
	{"POST", "/console/registration"},
}

// Mux is a function's router: the routes of its table, each served by
// its handler, matched as net/http.ServeMux matches the same patterns: the
// escaped path segment by segment, each segment unescaped once, a {name}
// wildcard matching one non-empty segment (its value in r.PathValue, the
// pattern in r.Pattern), {$} the end after a final slash; among the
// patterns that match the method and the path, the most specific (a
// literal segment before a wildcard). TestMuxIsServeMux checks the tables
// against ServeMux itself. It is not a ServeMux because ServeMux's pattern
// parser and conflict checks grow a bootstrap by about 90 KB, which the
// admin function's budget does not have (TestNoReflectMethod).
//
// Where ServeMux would answer of itself, Mux gives the function's
// answers: notFound for a path that no route has, and
// methodNotAllowed(allow) for a path whose routes have other methods,
// allow being the methods of the most specific such path in table order
// (ServeMux answers both in plain text). A HEAD route is served by its
// path's GET handler; a path with GET and no HEAD in the table answers
// HEAD with methodNotAllowed. A path that is not clean ("//", "." or ".."
// segments; ServeMux redirects it) is notFound.
type Mux struct {
	routes   []entry
	notFound http.Handler

	// Decoded, when set, names the paths matched on their unescaped form
	// (r.URL.Path, where a %2F separates segments as "/" does) instead of
	// ServeMux's way: the admin API and the authorize function, whose
	// paths were matched so before they were patterns.
	Decoded func(path string) bool
}

// entry is one route of a Mux.
type entry struct {
	method  string
	pattern string   // "GET /admin/links/{id}" (GET's for HEAD, as ServeMux has it)
	segs    []string // the path's segments: literal, "{name}" or "{$}"
	h       http.Handler
	refuse  http.Handler // the path's 405
}

// NewMux returns the Mux of table, whose routes are served by
// handlers[route.String()] (no HEAD key: GET's handler serves HEAD). It
// fails when a route has no handler, or a handler no route.
func NewMux(table []Route, handlers map[string]http.Handler, notFound http.Handler, methodNotAllowed func(allow []string) http.Handler) (*Mux, error) {
	methods := map[string][]string{} // path → its methods, in table order
	var paths []string
	for _, rt := range table {
		if _, ok := methods[rt.Path]; !ok {
			paths = append(paths, rt.Path)
		}
		methods[rt.Path] = append(methods[rt.Path], rt.Method)
	}
	m := &Mux{notFound: notFound}
	n := 0
	for _, p := range paths {
		allow := methods[p]
		refuse := methodNotAllowed(allow)
		segs := strings.Split(p, "/")[1:]
		for _, method := range allow {
			pattern := method + " " + p
			if method == http.MethodHead {
				if !slices.Contains(allow, http.MethodGet) {
					return nil, fmt.Errorf("route HEAD %s has no GET to serve it", p)
				}
				pattern = http.MethodGet + " " + p // as ServeMux has it
				n--
			}
			h, ok := handlers[pattern]
			if !ok {
				return nil, fmt.Errorf("route %s has no handler", pattern)
			}
			n++
			m.routes = append(m.routes, entry{method: method, pattern: pattern, segs: segs, h: h, refuse: refuse})
		}
	}
	if n != len(handlers) {
		for pattern := range handlers {
			method, p, _ := strings.Cut(pattern, " ")
			if method == http.MethodHead || !slices.Contains(methods[p], method) {
				return nil, fmt.Errorf("handler %s has no route", pattern)
			}
		}
	}
	return m, nil
}

// ServeHTTP serves r with the handler of the most specific route that
// matches its method and path.
func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	decoded := m.Decoded != nil && m.Decoded(r.URL.Path)
	p := r.URL.EscapedPath()
	if decoded {
		p = r.URL.Path
	}
	if !Clean(p) {
		m.notFound.ServeHTTP(w, r)
		return
	}
	segs := strings.Split(p, "/")[1:]
	if !decoded {
		for i, s := range segs {
			if u, err := url.PathUnescape(s); err == nil {
				segs[i] = u
			}
		}
	}
	var best, other *entry // the best route of the method; of another
	for i := range m.routes {
		e := &m.routes[i]
		if !e.match(segs) {
			continue
		}
		if e.method == r.Method {
			if best == nil || e.moreSpecific(best) {
				best = e
			}
		} else if other == nil || e.moreSpecific(other) {
			other = e
		}
	}
	switch {
	case best != nil:
		r.Pattern = best.pattern
		for i, s := range best.segs {
			if len(s) > 2 && s[0] == '{' && s != "{$}" {
				r.SetPathValue(s[1:len(s)-1], segs[i])
			}
		}
		best.h.ServeHTTP(w, r)
	case other != nil:
		other.refuse.ServeHTTP(w, r)
	default:
		m.notFound.ServeHTTP(w, r)
	}
}

// match reports whether the path's unescaped segments fit the route's.
func (e *entry) match(segs []string) bool {
	if len(segs) != len(e.segs) {
		return false
	}
	for i, s := range e.segs {
		switch {
		case s == "{$}":
			if segs[i] != "" {
				return false
			}
		case s != "" && s[0] == '{':
			if segs[i] == "" {
				return false
			}
		case s != segs[i]:
			return false
		}
	}
	return true
}

// moreSpecific reports whether e's path is more specific than o's, both
// matching one path: a literal where o has a wildcard, at the first
// segment where they differ.
func (e *entry) moreSpecific(o *entry) bool {
	for i, s := range e.segs {
		if lit, olit := s == "" || s[0] != '{', o.segs[i] == "" || o.segs[i][0] != '{'; lit != olit {
			return lit
		}
	}
	return false
}

// Clean reports whether the escaped path p is clean (CleanPath(p) == p):
// no empty, "." or ".." segment (a final slash is not one), what ServeMux
// redirects rather than matches.
func Clean(p string) bool { return CleanPath(p) == p }

// CleanPath is p cleaned as ServeMux cleans it before matching: rooted,
// without empty, "." or ".." segments, a final slash kept.
func CleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// Wildcards returns the names of the wildcards of the path pattern p, in
// order ("/admin/links/{id}/grants/{grant_id}": id, grant_id); {$} is not
// one.
func Wildcards(p string) []string {
	var names []string
	for _, seg := range strings.Split(p, "/") {
		if n, ok := strings.CutPrefix(seg, "{"); ok && seg != "{$}" {
			n = strings.TrimSuffix(n, "}")
			names = append(names, strings.TrimSuffix(n, "..."))
		}
	}
	return names
}
