package routes

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func named(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(name + " " + r.PathValue("id")))
	})
}

// testMux is a mux of a small table: a literal path beside a wildcard, a
// GET with HEAD, a GET without.
func testMux(t *testing.T) *Mux {
	t.Helper()
	table := []Route{
		{"GET", "/items"}, {"HEAD", "/items"}, {"POST", "/items"},
		{"GET", "/items/new"}, {"POST", "/items/new"},
		{"GET", "/items/{id}"}, {"DELETE", "/items/{id}"},
		{"POST", "/items/{id}/rename"},
	}
	m, err := NewMux(table, map[string]http.Handler{
		"GET /items": named("list"), "POST /items": named("create"),
		"GET /items/new": named("form"), "POST /items/new": named("create"),
		"GET /items/{id}": named("get"), "DELETE /items/{id}": named("delete"),
		"POST /items/{id}/rename": named("rename"),
	}, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("not found"))
	}), func(allow []string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			w.WriteHeader(http.StatusMethodNotAllowed)
			_, _ = w.Write([]byte("not allowed"))
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestMux: each route reaches its handler (a literal before a wildcard);
// another method of a path is the function's 405 with the path's methods
// in table order; HEAD is served only where the table says so; an unknown
// path is the function's 404.
func TestMux(t *testing.T) {
	m := testMux(t)
	for _, tc := range []struct {
		method, path string
		status       int
		body, allow  string
	}{
		{"GET", "/items", 200, "list ", ""},
		{"HEAD", "/items", 200, "list ", ""},
		{"POST", "/items/new", 200, "create ", ""},
		{"GET", "/items/a%2Fb", 200, "get a/b", ""},
		{"DELETE", "/items/7", 200, "delete 7", ""},
		{"PUT", "/items", 405, "not allowed", "GET, HEAD, POST"},
		{"PUT", "/items/new", 405, "not allowed", "GET, POST"},
		// ServeMux's rule: the most specific pattern among those that
		// match the method and the path (TestTables keeps the tables free
		// of such overlaps).
		{"DELETE", "/items/new", 200, "delete new", ""},
		{"HEAD", "/items/new", 405, "not allowed", "GET, POST"},
		{"HEAD", "/items/7", 405, "not allowed", "GET, DELETE"},
		{"GET", "/items/7/rename", 405, "not allowed", "POST"},
		{"GET", "/items/", 404, "not found", ""},
		{"GET", "/items//rename", 404, "not found", ""},
		{"GET", "/items/./new", 404, "not found", ""},
		{"GET", "/items/7/rename/now", 404, "not found", ""},
		{"GET", "/elsewhere", 404, "not found", ""},
	} {
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status || rec.Body.String() != tc.body || rec.Header().Get("Allow") != tc.allow {
			t.Errorf("%s %s: got %d %q Allow %q, want %d %q Allow %q", tc.method, tc.path,
				rec.Code, rec.Body.String(), rec.Header().Get("Allow"), tc.status, tc.body, tc.allow)
		}
	}
}

// TestMuxDecoded: on the paths Decoded names, a %2F separates segments
// as "/" does; elsewhere a segment is unescaped once, as ServeMux does.
func TestMuxDecoded(t *testing.T) {
	m := testMux(t)
	m.Decoded = func(p string) bool { return !strings.HasPrefix(p, "/items/keep") }
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"POST", "/items/7%2Frename", 200, "rename 7"},
		{"GET", "/items/a%2Fb", 404, "not found"},
		{"GET", "/items/a%2F..", 404, "not found"},
		{"GET", "/items/keep%2Fb", 200, "get keep/b"},
		{"GET", "/items/a%20b", 200, "get a b"},
	} {
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status || rec.Body.String() != tc.body {
			t.Errorf("%s %s: got %d %q, want %d %q", tc.method, tc.path, rec.Code, rec.Body.String(), tc.status, tc.body)
		}
	}
}

// TestMuxTableAndHandlers: a route without a handler, a handler without a
// route and a HEAD without GET fail.
func TestMuxTableAndHandlers(t *testing.T) {
	nf := http.NotFoundHandler()
	mna := func([]string) http.Handler { return nf }
	for _, tc := range []struct {
		name     string
		table    []Route
		handlers []string
		want     string
	}{
		{"route without handler", []Route{{"GET", "/a"}, {"POST", "/b"}}, []string{"GET /a"}, "route POST /b has no handler"},
		{"HEAD without handler", []Route{{"GET", "/a"}, {"HEAD", "/a"}}, nil, "route GET /a has no handler"},
		{"handler without route", []Route{{"GET", "/a"}}, []string{"GET /a", "PUT /a"}, "handler PUT /a has no route"},
		{"HEAD handler", []Route{{"GET", "/a"}, {"HEAD", "/a"}}, []string{"GET /a", "HEAD /a"}, "handler HEAD /a has no route"},
		{"HEAD without GET", []Route{{"HEAD", "/a"}}, nil, "route HEAD /a has no GET to serve it"},
	} {
		hs := map[string]http.Handler{}
		for _, p := range tc.handlers {
			hs[p] = nf
		}
		if _, err := NewMux(tc.table, hs, nf, mna); err == nil || err.Error() != tc.want {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestClean(t *testing.T) {
	for p, want := range map[string]bool{
		"/": true, "/a": true, "/a/": true, "/a/b": true, "/a%2F..": true,
		"": false, "a": false, "//": false, "/a//b": false, "/a/./b": false, "/a/../b": false, "/a/..": false, "/a//": false,
	} {
		if got := Clean(p); got != want {
			t.Errorf("Clean(%q): got %v, want %v", p, got, want)
		}
	}
}

func TestWildcards(t *testing.T) {
	if got, want := Wildcards("/admin/links/{id}/grants/{grant_id}"), []string{"id", "grant_id"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := Wildcards("/console/{$}"); len(got) != 0 {
		t.Errorf("got %q, want none", got)
	}
}

// TestTables: every table is a valid set of ServeMux patterns without
// duplicates, HEAD only beside GET; and a path's other methods are its
// 405, never another route's (a DELETE of /console/links/new is not
// DELETE /console/links/{id}), as the functions routed before their
// routes were ServeMux patterns: by the path, then the method.
func TestTables(t *testing.T) {
	methods := []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
	for name, table := range map[string][]Route{"Token": Token, "Authorize": Authorize, "Admin": Admin} {
		hs := map[string]http.Handler{}
		for _, rt := range table {
			if _, dup := hs[rt.String()]; dup {
				t.Errorf("%s: %s listed twice", name, rt)
			}
			if rt.Method != http.MethodHead {
				hs[rt.String()] = says(rt.String())
			}
		}
		m, err := NewMux(table, hs, says("404"), func([]string) http.Handler { return says("405") })
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for _, rt := range table {
			for _, method := range methods {
				req := httptest.NewRequest(method, examplePath(rt.Path), nil)
				rec := httptest.NewRecorder()
				m.ServeHTTP(rec, req)
				got := rec.Body.String()
				if got == "405" {
					continue
				}
				if gotMethod, gotPath, _ := strings.Cut(got, " "); gotPath != rt.Path ||
					gotMethod != method && !(method == http.MethodHead && gotMethod == http.MethodGet) {
					t.Errorf("%s: %s %s reaches %q, want %s %s or its 405", name, method, req.URL.Path, rec.Body.String(), method, rt.Path)
				}
			}
		}
	}
}

// says is a handler that answers s.
func says(s string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(s)) })
}

// examplePath is a request path that the path pattern p matches: each
// wildcard a segment "x", {$} nothing.
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

// TestMuxIsServeMux: for the requests of every table (each route's method
// and the others, on each route's path), Mux picks the route that
// net/http.ServeMux picks, with the same path values; where ServeMux
// answers 404 or 405 of itself, Mux answers the function's 404 or 405.
// The differences are Mux's by design: HEAD on a path whose table has GET
// and no HEAD is a 405 (ServeMux serves it with GET's handler), and a path
// that is not clean a 404 (ServeMux redirects it).
func TestMuxIsServeMux(t *testing.T) {
	methods := []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
	for name, table := range map[string][]Route{"Token": Token, "Authorize": Authorize, "Admin": Admin} {
		sm := http.NewServeMux()
		hs := map[string]http.Handler{}
		head := map[string]bool{} // path → the table lists HEAD
		for _, rt := range table {
			if rt.Method == http.MethodHead {
				head[rt.Path] = true
				continue
			}
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var vals []string
				for _, n := range Wildcards(rt.Path) {
					vals = append(vals, n+"="+r.PathValue(n))
				}
				_, _ = w.Write([]byte(r.Pattern + " " + strings.Join(vals, ",")))
			})
			hs[rt.String()] = h
			sm.Handle(rt.String(), h)
		}
		m, err := NewMux(table, hs, says("404"), func([]string) http.Handler { return says("405") })
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, rt := range table {
			for _, path := range []string{examplePath(rt.Path), strings.ReplaceAll(examplePath(rt.Path), "/x", "/a%2Fb"), examplePath(rt.Path) + "/", examplePath(rt.Path) + "/x"} {
				for _, method := range methods {
					req := httptest.NewRequest(method, path, nil)
					want := httptest.NewRecorder()
					sm.ServeHTTP(want, req.Clone(req.Context()))
					switch {
					case !Clean(path):
						want.Body.Reset()
						want.Body.WriteString("404")
					case want.Code == http.StatusNotFound:
						want.Body.Reset()
						want.Body.WriteString("404")
					case want.Code == http.StatusMethodNotAllowed:
						want.Body.Reset()
						want.Body.WriteString("405")
					case method == http.MethodHead:
						if !head[strings.Fields(want.Body.String())[1]] {
							want.Body.Reset()
							want.Body.WriteString("405")
						}
					}
					got := httptest.NewRecorder()
					m.ServeHTTP(got, req)
					if got.Body.String() != want.Body.String() {
						t.Errorf("%s: %s %s: got %q, want %q (ServeMux's)", name, method, path, got.Body.String(), want.Body.String())
					}
				}
			}
		}
	}
}
