package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/applinks/applinks/functions/admin"
	"github.com/applinks/applinks/functions/authorize"
	"github.com/applinks/applinks/functions/token"
	"github.com/applinks/applinks/shared/routes"
)

// examplePath is a request path that the ServeMux path pattern p matches:
// each wildcard a segment "x", {$} nothing.
func examplePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		switch {
		case s == "{$}":
			segs[i] = ""
		case strings.HasPrefix(s, "{"):
			segs[i] = "x"
		}
	}
	return strings.Join(segs, "/")
}

// TestLocalMuxRoutes ties the local runner's mux to the functions' routes
// (shared/routes, which each function's mux is built from): every route
// of a function reaches that function through the mux, and every path the
// mux mounts a function on (its Paths) is reached by a route of it. A route
// added to a function and not mounted here fails, and so does a path
// mounted here that no route of the function has (the demo callback is the
// local runner's own). infra's TestRoutesMatchFunctions ties the same
// routes to the HTTP API of infra/stack.go, and functions/admin's
// TestOpenAPIMatchesRoutes to openapi.json.
func TestLocalMuxRoutes(t *testing.T) {
	named := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(name)) })
	}
	mux := newMux(named("token"), named("authorize"), named("admin"))
	fns := []struct {
		name  string
		table []routes.Route
		paths []string
	}{
		{"token", routes.Token, token.Paths},
		{"authorize", routes.Authorize, authorize.Paths},
		{"admin", routes.Admin, admin.Paths},
	}
	for _, fn := range fns {
		if len(fn.table) == 0 {
			t.Fatalf("%s: no routes", fn.name)
		}
		reached := map[string]bool{} // mounted pattern → reached by a route
		for _, rt := range fn.table {
			req := httptest.NewRequest(rt.Method, examplePath(rt.Path), nil)
			h, pattern := mux.Handler(req)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if got := rec.Body.String(); got != fn.name {
				t.Errorf("%s (%s of routes): the local mux sends it to %q (pattern %q), want the %s function", rt, fn.name, got, pattern, fn.name)
				continue
			}
			reached[pattern] = true
		}
		for _, p := range fn.paths {
			if !reached[p] {
				t.Errorf("the local mux mounts %s on %q, which no route of its routes has", fn.name, p)
			}
		}
	}
}
