package admin

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/upstream/upstreamtest"
)

// startOP is zitadel/oidc's example OP with the client "app".
func startOP(t *testing.T) string {
	return upstreamtest.StartZitadel(t, map[string]string{"app": "http://127.0.0.1:8080/oauth2/upstream/callback"})
}

func idpBody(issuer string, extra string) string {
	return `{"name":"Example SSO","issuer":"` + issuer + `","client_id":"app","client_secret":"upstream-secret-not-logged"` + extra + `}`
}

// TestIdentityProvidersAPI: create (the discovery document checked first),
// read, list, change and delete a provider; the secret is never answered
// nor logged; the redirect URI to register is the issuer's callback.
func TestIdentityProvidersAPI(t *testing.T) {
	e := newStoreEnv(t)
	issuer := startOP(t)
	body := e.do(201, http.MethodPost, "/admin/identity-providers", idpBody(issuer, `,"email_domains":["Example.COM"],"permission_map":{"devs":["REPO_WRITE","REPO_READ"]}`))
	id, _ := body["id"].(string)
	if id == "" || body["issuer"] != issuer || body["redirect_uri"] != e.cfg.Issuer+"/oauth2/upstream/callback" ||
		body["username_claim"] != "preferred_username" || body["create_users"] != false || body["enabled"] != true {
		t.Fatalf("created: %v", body)
	}
	if fmt.Sprint(body["scopes"]) != "[openid profile email]" || fmt.Sprint(body["email_domains"]) != "[example.com]" ||
		fmt.Sprint(body["permission_map"]) != "map[devs:[REPO_READ REPO_WRITE]]" {
		t.Errorf("defaults and normal forms: scopes %v, email_domains %v, permission_map %v", body["scopes"], body["email_domains"], body["permission_map"])
	}
	if _, ok := body["client_secret"]; ok {
		t.Errorf("the client secret was answered")
	}
	got := e.do(200, http.MethodGet, "/admin/identity-providers/"+id, "")
	if got["name"] != "Example SSO" || got["client_secret"] != nil {
		t.Errorf("GET: %v", got)
	}
	list := e.do(200, http.MethodGet, "/admin/identity-providers", "")
	if ps, _ := list["identity_providers"].([]any); len(ps) != 1 {
		t.Errorf("list: %v", list)
	}
	body = e.do(200, http.MethodPatch, "/admin/identity-providers/"+id, `{"name":"Okta","enabled":false,"client_secret":"rotated-secret-not-logged","issuer":"`+issuer+`"}`)
	if body["name"] != "Okta" || body["enabled"] != false {
		t.Errorf("PATCH: %v", body)
	}
	checkError(t, e.do(422, http.MethodPatch, "/admin/identity-providers/"+id, `{"issuer":"https://other.example"}`), "validation_failed", "issuer: cannot be changed")
	checkError(t, e.do(409, http.MethodPost, "/admin/identity-providers", idpBody(issuer, "")), "conflict", "another identity provider has the issuer")
	e.do(204, http.MethodDelete, "/admin/identity-providers/"+id, "")
	e.do(404, http.MethodGet, "/admin/identity-providers/"+id, "")
	if logs := e.logText(); strings.Contains(logs, "upstream-secret-not-logged") || strings.Contains(logs, "rotated-secret-not-logged") {
		t.Errorf("a client secret was logged")
	}
	if n := len(e.audits("identity_provider_created")) + len(e.audits("identity_provider_updated")) + len(e.audits("identity_provider_deleted")); n != 3 {
		t.Errorf("got %d audit events, want 3", n)
	}
}

// TestIdentityProviderRefusals: bad settings are a 422 naming the field,
// at save time: an issuer that does not answer discovery, answers with
// another issuer, or is plain http on another host; a permission map
// naming an unknown scope; scopes without openid; a bad email domain.
func TestIdentityProviderRefusals(t *testing.T) {
	e := newStoreEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	// A server whose discovery document names another issuer.
	other := startOP(t)
	liar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":"%s/auth","token_endpoint":"%s/token","jwks_uri":"%s/keys"}`, other, other, other, other)
	}))
	defer liar.Close()
	for _, tc := range []struct{ name, body, want string }{
		{"issuer down", idpBody(closed, ""), "issuer: the discovery document of " + closed + " could not be used: the upstream could not be reached"},
		{"issuer mismatch", idpBody(liar.URL, ""), "issuer: the discovery document of " + liar.URL + " could not be used"},
		{"plain http", idpBody("http://sso.example.com", ""), "issuer: must be an https URL"},
		{"query", idpBody("https://sso.example.com?x=1", ""), "issuer: must not have a query"},
		{"unknown scope", idpBody(other, `,"permission_map":{"devs":["REPO_READ","ROOT"]}`), `permission_map["devs"][1]: unknown scope "ROOT"`},
		{"no openid", idpBody(other, `,"scopes":["profile"]`), "scopes: must include openid"},
		{"bad domain", idpBody(other, `,"email_domains":["@example.com"]`), "email_domains[0]: must be a domain name"},
		{"no secret", `{"name":"x","issuer":"` + other + `","client_id":"app"}`, "client_secret: is required"},
		{"no name", `{"issuer":"` + other + `","client_id":"app","client_secret":"s"}`, "name: is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkError(t, e.do(422, http.MethodPost, "/admin/identity-providers", tc.body), "validation_failed", tc.want)
		})
	}
	if list := e.do(200, http.MethodGet, "/admin/identity-providers", ""); len(list["identity_providers"].([]any)) != 0 {
		t.Errorf("a refused provider was stored: %v", list)
	}
}

// TestUserUpstreamAPI: a user created with an upstream identity needs no
// password; one identity links at most one user; PATCH links, replaces
// and unlinks; the API says where a user comes from.
func TestUserUpstreamAPI(t *testing.T) {
	e := newStoreEnv(t)
	issuer := startOP(t)
	pid := e.do(201, http.MethodPost, "/admin/identity-providers", idpBody(issuer, ""))["id"].(string)
	u := e.do(201, http.MethodPost, "/admin/users", `{"username":"ada","upstream":{"provider":"`+pid+`","subject":"id1"}}`)
	up, _ := u["upstream"].(map[string]any)
	if up["provider"] != pid || up["issuer"] != issuer || up["subject"] != "id1" || u["created_by"] != "administrator" {
		t.Fatalf("created: %v", u)
	}
	checkError(t, e.do(409, http.MethodPost, "/admin/users", `{"username":"bob","upstream":{"provider":"`+pid+`","subject":"id1"}}`), "conflict", "already linked")
	checkError(t, e.do(422, http.MethodPost, "/admin/users", `{"username":"bob","upstream":{"provider":"nope","subject":"id1"}}`), "validation_failed", "upstream.provider: names no identity provider")
	checkError(t, e.do(422, http.MethodPost, "/admin/users", `{"username":"bob","upstream":{"provider":"`+pid+`","subject":""}}`), "validation_failed", "upstream.subject")
	checkError(t, e.do(422, http.MethodPost, "/admin/users", `{"username":"bob","upstream":{"provider":"`+pid+`","sub":"x"}}`), "validation_failed", "upstream: must be")
	e.do(201, http.MethodPost, "/admin/users", `{"username":"bob","password":"correct horse battery"}`)
	checkError(t, e.do(409, http.MethodPatch, "/admin/users/bob", `{"upstream":{"provider":"`+pid+`","subject":"id1"}}`), "conflict", "already linked")
	b := e.do(200, http.MethodPatch, "/admin/users/bob", `{"upstream":{"provider":"`+pid+`","subject":"id2"}}`)
	if up, _ := b["upstream"].(map[string]any); up["subject"] != "id2" {
		t.Errorf("PATCH link: %v", b)
	}
	b = e.do(200, http.MethodPatch, "/admin/users/ada", `{"upstream":null}`)
	if b["upstream"] != nil {
		t.Errorf("PATCH null: %v", b)
	}
	b = e.do(200, http.MethodPatch, "/admin/users/bob", `{"upstream":{"provider":"`+pid+`","subject":"id1"}}`)
	if up, _ := b["upstream"].(map[string]any); up["subject"] != "id1" {
		t.Errorf("PATCH to the identity ada gave up: %v", b)
	}
	if len(e.audits("user_upstream_linked")) != 2 || len(e.audits("user_upstream_unlinked")) != 1 {
		t.Errorf("audit events: linked %d, unlinked %d", len(e.audits("user_upstream_linked")), len(e.audits("user_upstream_unlinked")))
	}
}

// TestClaimsPermissionsRefused: with PERMISSION_SOURCE=claims the stored
// permissions cannot be set; they would not count.
func TestClaimsPermissionsRefused(t *testing.T) {
	e := newStoreEnv(t)
	e.cfg.Permissions.Source = config.PermissionsClaims
	h, err := New(Options{Config: e.cfg, Store: e.st, Keys: e.keys, Auth: BearerToken(testToken), Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	checkError(t, e.do(422, http.MethodPost, "/admin/users", `{"username":"ada","password":"correct horse battery","permissions":["REPO_READ"]}`), "validation_failed", "permissions: come from the identity provider's claims")
	e.do(201, http.MethodPost, "/admin/users", `{"username":"ada","password":"correct horse battery"}`)
	checkError(t, e.do(422, http.MethodPatch, "/admin/users/ada", `{"permissions":["REPO_READ"]}`), "validation_failed", "permissions: come from")
}
