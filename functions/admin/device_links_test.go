package admin

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

const grantDevice = "urn:ietf:params:oauth:grant-type:device_code"

// grantTypes reads the grant_types of a link answer.
func grantTypes(t *testing.T, m map[string]any) []string {
	t.Helper()
	raw, ok := m["grant_types"].([]any)
	if !ok {
		t.Fatalf("answer has no grant_types list: %v", m)
	}
	var out []string
	for _, g := range raw {
		out = append(out, g.(string))
	}
	return out
}

// TestLinkGrantTypesAPI: grant_types default to the code flow with
// refresh tokens; the device grant can be added; a link without
// authorization_code needs no redirect URI; PATCH changes them, and
// adding authorization_code needs a redirect URI.
func TestLinkGrantTypesAPI(t *testing.T) {
	e := newStoreEnv(t)
	def := e.do(201, http.MethodPost, "/admin/links", confidentialBody)
	if got := grantTypes(t, def); !slices.Equal(got, []string{"authorization_code", "refresh_token"}) {
		t.Errorf("default grant_types %v", got)
	}
	// A command-line tool: public, device grant only (and refresh), no
	// redirect URI; the order is normalized and repeats dropped.
	cli := e.do(201, http.MethodPost, "/admin/links",
		`{"name":"CLI","client_type":"public","grant_types":["`+grantDevice+`","refresh_token","`+grantDevice+`"]}`)
	if got := grantTypes(t, cli); !slices.Equal(got, []string{"refresh_token", grantDevice}) {
		t.Errorf("device link grant_types %v", got)
	}
	if got := e.do(200, http.MethodGet, "/admin/links/"+cli["id"].(string), ""); !slices.Equal(grantTypes(t, got), []string{"refresh_token", grantDevice}) {
		t.Errorf("GET: grant_types %v", got["grant_types"])
	}
	id := def["id"].(string)
	all := `["authorization_code","refresh_token","` + grantDevice + `"]`
	if got := grantTypes(t, e.do(200, http.MethodPatch, "/admin/links/"+id, `{"grant_types":`+all+`}`)); len(got) != 3 {
		t.Errorf("PATCH all grant types: %v", got)
	}
	// Adding the code flow to a link without redirect URIs: 422.
	checkError(t, e.do(422, http.MethodPatch, "/admin/links/"+cli["id"].(string), `{"grant_types":`+all+`}`),
		"validation_failed", "redirect_uris: at least one redirect URI is required")
	// With redirect URIs in the same PATCH: fine.
	e.do(200, http.MethodPatch, "/admin/links/"+cli["id"].(string), `{"grant_types":`+all+`,"redirect_uris":["http://127.0.0.1/cb"]}`)
	// A resource server: grant_types [] is accepted, anything else not.
	rs := e.do(201, http.MethodPost, "/admin/links", `{"name":"API","client_type":"resource_server","grant_types":[]}`)
	if got := rs["grant_types"].([]any); len(got) != 0 {
		t.Errorf("resource server grant_types %v, want []", got)
	}
	checkError(t, e.do(422, http.MethodPatch, "/admin/links/"+rs["id"].(string), `{"grant_types":["refresh_token"]}`),
		"validation_failed", "grant_types: a resource_server link has no grant types")
}

func TestLinkGrantTypesValidation(t *testing.T) {
	e := newStoreEnv(t)
	for _, tc := range []struct{ name, body, want string }{
		{"unknown", `{"name":"a","redirect_uris":["https://a.example/cb"],"grant_types":["implicit"]}`, "grant_types: [0] must be one of"},
		{"empty", `{"name":"a","redirect_uris":["https://a.example/cb"],"grant_types":[]}`, "grant_types: must name at least one"},
		{"refresh alone", `{"name":"a","client_type":"public","grant_types":["refresh_token"]}`, "grant_types: refresh_token needs"},
		{"code without uris", `{"name":"a","grant_types":["authorization_code"]}`, "redirect_uris: at least one"},
		{"resource server with grants", `{"name":"a","client_type":"resource_server","grant_types":["` + grantDevice + `"]}`, "grant_types: a resource_server link has no grant types"},
		{"not a list", `{"name":"a","redirect_uris":["https://a.example/cb"],"grant_types":"authorization_code"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := e.serve(req(http.MethodPost, "/admin/links", tc.body))
			if w.Code != 422 && w.Code != 400 {
				t.Fatalf("got %d %s, want 422 or 400", w.Code, w.Body)
			}
			if !strings.Contains(w.Body.String(), tc.want) {
				t.Errorf("got %s, want %q", w.Body, tc.want)
			}
		})
	}
}

// TestConsoleDeviceCheckbox: the link form's "Devices and command-line
// tools" checkbox adds the device grant; without a redirect URL the link
// connects only that way; editing keeps or removes it; the link page
// shows the ways to connect.
func TestConsoleDeviceCheckbox(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	cookie, csrf := e.signIn("alice", time.Minute)
	if r := e.get(cookie, "/console/links/new"); !strings.Contains(r.body, `<input type="checkbox" id="grant_device" name="grant_device" value="on">`) ||
		!strings.Contains(r.body, "Devices and command-line tools (device code)") {
		t.Fatal("create form: no device checkbox")
	}
	form := url.Values{"csrf": {csrf}, "app_type": {"external"}, "direction": {"incoming"}, "name": {"Deploy CLI"},
		"redirect_uri": {""}, "client_type": {"public"}, "scope": {"REPO_READ"}, "grant_device": {"on"}}
	r := e.post(cookie, "/console/links/new", form)
	if r.status != http.StatusSeeOther {
		t.Fatalf("create a device-only link: %d %s", r.status, r.body)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(r.location(), "/console/links/"), "/created")
	got := grantTypes(t, e.do(200, "GET", "/admin/links/"+id, ""))
	if !slices.Equal(got, []string{"refresh_token", grantDevice}) {
		t.Errorf("device-only link from the console: %v", got)
	}
	page := e.get(cookie, "/console/links/"+id)
	if !strings.Contains(page.body, "Ways to connect") || !strings.Contains(page.body, "Devices and command-line tools (device code)") {
		t.Error("link page does not show the device grant")
	}
	edit := e.get(cookie, "/console/links/"+id+"/edit")
	if !strings.Contains(edit.body, `name="grant_device" value="on" checked`) {
		t.Error("edit form: the checkbox is not ticked for a device link")
	}
	// Unticked with no redirect URL: the code flow needs one.
	ef := url.Values{"csrf": {csrf}, "name": {"Deploy CLI"}, "redirect_uri": {""}, "scope": {"REPO_READ"}}
	if r := e.post(cookie, "/console/links/"+id+"/edit", ef); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Enter a redirect URL, or tick Devices and command-line tools") {
		t.Errorf("untick without a redirect URL: %d", r.status)
	}
	// With a redirect URL and the box ticked: both ways.
	ef.Set("redirect_uri", "http://127.0.0.1/cb")
	ef.Set("grant_device", "on")
	if r := e.post(cookie, "/console/links/"+id+"/edit", ef); r.status != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", r.status, r.body)
	}
	if got := grantTypes(t, e.do(200, "GET", "/admin/links/"+id, "")); len(got) != 3 {
		t.Errorf("after edit: %v, want all three", got)
	}
	// A link made without the box has the default.
	plain := e.apiLink("Plain")
	if got := grantTypes(t, plain); !slices.Equal(got, []string{"authorization_code", "refresh_token"}) {
		t.Errorf("default link: %v", got)
	}
}
