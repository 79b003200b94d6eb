package admin

import (
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store/storetest"
	"github.com/applinks/applinks/shared/web"
)

// resourceURIs reads the resource_uris of a link answer.
func resourceURIs(t *testing.T, m map[string]any) []string {
	t.Helper()
	raw, ok := m["resource_uris"].([]any)
	if !ok {
		t.Fatalf("answer has no resource_uris list: %v", m)
	}
	out := []string{}
	for _, u := range raw {
		out = append(out, u.(string))
	}
	return out
}

// TestLinkResourceURIsAPI: a resource server registers resource URIs
// (RFC 8707) on POST and changes them on PATCH; every link shows the list
// ([] when none); a URI another link has is 409 naming it, free again once
// that link drops it or is deleted.
func TestLinkResourceURIsAPI(t *testing.T) {
	e := newStoreEnv(t)
	rs := e.do(201, http.MethodPost, "/admin/links",
		`{"name":"Repos API","client_type":"resource_server","scopes":["REPO_READ"],"resource_uris":["https://api.example.com/repos","http://127.0.0.1:9000/mcp"]}`)
	id := rs["id"].(string)
	if got := resourceURIs(t, rs); !slices.Equal(got, []string{"https://api.example.com/repos", "http://127.0.0.1:9000/mcp"}) {
		t.Errorf("created resource_uris %v", got)
	}
	if got := resourceURIs(t, e.do(200, http.MethodGet, "/admin/links/"+id, "")); len(got) != 2 {
		t.Errorf("GET resource_uris %v", got)
	}
	if a := e.audits("link_created"); len(a) != 1 || a[0]["resource_uris"] == nil {
		t.Errorf("link_created audit %v, want the resource_uris", a)
	}
	plain := e.do(201, http.MethodPost, "/admin/links", confidentialBody)
	if got := resourceURIs(t, plain); len(got) != 0 {
		t.Errorf("a confidential link's resource_uris %v, want []", got)
	}
	// Taken by another link: 409 naming it, on POST and PATCH.
	checkError(t, e.do(409, http.MethodPost, "/admin/links",
		`{"name":"Other API","client_type":"resource_server","resource_uris":["https://api.example.com/other","https://api.example.com/repos"]}`),
		"conflict", `"https://api.example.com/repos" is registered by another link`)
	other := e.do(201, http.MethodPost, "/admin/links", `{"name":"Other API","client_type":"resource_server"}`)
	otherID := other["id"].(string)
	checkError(t, e.do(409, http.MethodPatch, "/admin/links/"+otherID, `{"resource_uris":["http://127.0.0.1:9000/mcp"]}`),
		"conflict", `"http://127.0.0.1:9000/mcp" is registered by another link`)
	// PATCH: the first drops one, the other may have it then.
	got := e.do(200, http.MethodPatch, "/admin/links/"+id, `{"resource_uris":["https://api.example.com/repos"]}`)
	if u := resourceURIs(t, got); !slices.Equal(u, []string{"https://api.example.com/repos"}) {
		t.Errorf("PATCH resource_uris %v", u)
	}
	if u := resourceURIs(t, e.do(200, http.MethodPatch, "/admin/links/"+otherID, `{"resource_uris":["http://127.0.0.1:9000/mcp"]}`)); len(u) != 1 {
		t.Errorf("PATCH with a released URI: %v", u)
	}
	if a := e.audits("link_updated"); len(a) != 2 || !slices.Contains(a[0]["fields"].([]any), any("resource_uris")) {
		t.Errorf("link_updated audits %v, want two naming the field resource_uris", a)
	}
	// Other fields alone leave the URIs.
	if u := resourceURIs(t, e.do(200, http.MethodPatch, "/admin/links/"+id, `{"name":"Repositories API"}`)); len(u) != 1 {
		t.Errorf("PATCH name: resource_uris %v", u)
	}
	// [] drops them all; deleting a link releases its URIs.
	if u := resourceURIs(t, e.do(200, http.MethodPatch, "/admin/links/"+otherID, `{"resource_uris":[]}`)); len(u) != 0 {
		t.Errorf("PATCH []: %v", u)
	}
	e.do(204, http.MethodDelete, "/admin/links/"+id, "")
	e.do(201, http.MethodPost, "/admin/links", `{"name":"New API","client_type":"resource_server","resource_uris":["https://api.example.com/repos"]}`)
}

func TestLinkResourceURIsValidation(t *testing.T) {
	e := newStoreEnv(t)
	rs := e.do(201, http.MethodPost, "/admin/links", `{"name":"API","client_type":"resource_server"}`)
	many := make([]string, 11)
	for i := range many {
		many[i] = `"https://api.example.com/` + strings.Repeat("a", i+1) + `"`
	}
	for _, tc := range []struct{ name, body, want string }{
		{"confidential", `{"name":"a","redirect_uris":["https://a.example/cb"],"resource_uris":["https://api.example.com"]}`, "resource_uris: only a resource_server link"},
		{"public", `{"name":"a","client_type":"public","redirect_uris":["http://127.0.0.1/cb"],"resource_uris":["https://api.example.com"]}`, "resource_uris: only a resource_server link"},
		{"fragment", `{"name":"a","client_type":"resource_server","resource_uris":["https://api.example.com/#x"]}`, "resource_uris[0]: resource URI must not contain a fragment"},
		{"http off loopback", `{"name":"a","client_type":"resource_server","resource_uris":["https://api.example.com","http://api.example.com"]}`, "resource_uris[1]: resource URI must use https"},
		{"relative", `{"name":"a","client_type":"resource_server","resource_uris":["/api"]}`, "resource_uris[0]: resource URI must be an absolute https URL"},
		{"twice", `{"name":"a","client_type":"resource_server","resource_uris":["https://api.example.com","https://api.example.com"]}`, "resource_uris[1]: duplicates resource_uris[0]"},
		{"eleven", `{"name":"a","client_type":"resource_server","resource_uris":[` + strings.Join(many, ",") + `]}`, "resource_uris: has 11 URIs, above the maximum of 10"},
		{"audience", `{"name":"a","client_type":"resource_server","resource_uris":["` + e.cfg.Audience + `"]}`, "resource_uris[0]: is AUDIENCE"},
		{"audience with a slash", `{"name":"a","client_type":"resource_server","resource_uris":["` + e.cfg.Audience + `/"]}`, "resource_uris[0]: is AUDIENCE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkError(t, e.do(422, http.MethodPost, "/admin/links", tc.body), "validation_failed", tc.want)
			if strings.Contains(tc.body, "resource_server") {
				i := strings.Index(tc.body, `"resource_uris":`)
				checkError(t, e.do(422, http.MethodPatch, "/admin/links/"+rs["id"].(string), "{"+tc.body[i:]), "validation_failed", tc.want)
			}
		})
	}
	// A confidential link may send [] (none).
	e.do(201, http.MethodPost, "/admin/links", `{"name":"a","redirect_uris":["https://a.example/cb"],"resource_uris":[]}`)
}

// TestResourceURIIsNotPermissionsURL: PERMISSIONS_URL cannot be checked
// against the links at start-up (they are in the table), so a resource
// URI equal to it (up to case and a default port) is refused when saved.
func TestResourceURIIsNotPermissionsURL(t *testing.T) {
	vars := map[string]string{"PERMISSION_SOURCE": "service", "PERMISSIONS_URL": "https://perms.example.com/v1/permissions"}
	cfg, err := config.FromEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, keys: &fakeKeys{}, cfg: cfg}
	e.st = storetest.Kumo(t)
	h, err := New(Options{Config: cfg, Store: e.st, Keys: e.keys, Auth: BearerToken(testToken), Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.h = web.Middleware(h, slog.New(slog.NewJSONHandler(&e.logs, nil)), nil)
	for _, u := range []string{"https://perms.example.com/v1/permissions", "HTTPS://PERMS.example.com:443/v1/permissions"} {
		checkError(t, e.do(422, http.MethodPost, "/admin/links", `{"name":"a","client_type":"resource_server","resource_uris":["`+u+`"]}`),
			"validation_failed", "resource_uris[0]: is PERMISSIONS_URL")
	}
	rs := e.do(201, http.MethodPost, "/admin/links", `{"name":"a","client_type":"resource_server","resource_uris":["https://perms.example.com/v1/other"]}`)
	checkError(t, e.do(422, http.MethodPatch, "/admin/links/"+rs["id"].(string), `{"resource_uris":["https://perms.example.com/v1/permissions"]}`),
		"validation_failed", "is PERMISSIONS_URL")
}

// TestConsoleResourceURIs: the link form has a resource URLs field (one
// per line) for resource servers, its errors shown on their line; the
// link page lists them; a URL another link has is shown under the field.
func TestConsoleResourceURIs(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	cookie, csrf := e.signIn("alice", time.Minute)
	if r := e.get(cookie, "/console/links/new"); !strings.Contains(r.body, `<textarea id="resource_uris" name="resource_uris"`) ||
		!strings.Contains(r.body, `<label for="resource_uris">Resource URLs, one per line</label>`) {
		t.Fatal("create form: no resource URLs field")
	}
	form := url.Values{"csrf": {csrf}, "app_type": {"external"}, "direction": {"incoming"}, "name": {"Repos API"},
		"redirect_uri": {""}, "client_type": {"resource_server"}, "scope": {"REPO_READ"},
		"resource_uris": {"https://api.example.com/repos\n\n  http://127.0.0.1:9000/mcp  \n"}}
	r := e.post(cookie, "/console/links/new", form)
	if r.status != http.StatusSeeOther {
		t.Fatalf("create a resource server: %d %s", r.status, r.body)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(r.location(), "/console/links/"), "/created")
	if got := resourceURIs(t, e.do(200, "GET", "/admin/links/"+id, "")); !slices.Equal(got, []string{"https://api.example.com/repos", "http://127.0.0.1:9000/mcp"}) {
		t.Errorf("resource server from the console: %v", got)
	}
	page := e.get(cookie, "/console/links/"+id)
	if !strings.Contains(page.body, "<dt>Resource URLs</dt>") || !strings.Contains(page.body, "<code>http://127.0.0.1:9000/mcp</code>") {
		t.Error("link page does not list the resource URLs")
	}
	edit := e.get(cookie, "/console/links/"+id+"/edit")
	if !strings.Contains(edit.body, ">https://api.example.com/repos\nhttp://127.0.0.1:9000/mcp</textarea>") {
		t.Errorf("edit form does not hold the URLs: %s", edit.body)
	}
	// An invalid URL on the third line: shown as line 3.
	ef := url.Values{"csrf": {csrf}, "name": {"Repos API"}, "scope": {"REPO_READ"},
		"resource_uris": {"https://api.example.com/repos\n\nhttp://api.example.com/x"}}
	if r := e.post(cookie, "/console/links/"+id+"/edit", ef); r.status != http.StatusUnprocessableEntity ||
		!strings.Contains(r.body, "Line 3 of the resource URLs must use https") || !strings.Contains(r.body, `aria-invalid="true" aria-describedby="resource_uris-hint resource_uris-error"`) {
		t.Errorf("invalid URL: %d %s", r.status, r.body)
	}
	// Another resource server asking for a URL this one has: 409, under the field.
	form.Set("name", "Other API")
	form.Set("key", "k2")
	form.Set("resource_uris", "https://api.example.com/repos")
	if r := e.post(cookie, "/console/links/new", form); r.status != http.StatusConflict ||
		!strings.Contains(r.body, "is registered by another link") || !strings.Contains(r.body, `id="resource_uris-error"`) {
		t.Errorf("taken URL: %d %s", r.status, r.body)
	}
	// A confidential link's edit form has no such field.
	plain := e.apiLink("Plain")
	if body := e.get(cookie, "/console/links/"+plain["id"].(string)+"/edit").body; strings.Contains(body, `name="resource_uris"`) {
		t.Error("a confidential link's edit form shows resource URLs")
	}
}
