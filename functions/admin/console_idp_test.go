package admin

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared/store"
)

// consoleIDP creates an identity provider through the API (its discovery
// checked against zitadel's example OP) and returns its id.
func (e *consoleEnv) consoleIDP(issuer string) string {
	e.t.Helper()
	return e.do(http.StatusCreated, http.MethodPost, "/admin/identity-providers", idpBody(issuer, ""))["id"].(string)
}

// TestConsoleIdentityProvidersConfirm: with a session whose confirmation
// has lapsed, every change to identity providers and to a user's upstream
// link asks for the confirmation first, and nothing changes.
func TestConsoleIdentityProvidersConfirm(t *testing.T) {
	e := newConsoleEnv(t)
	issuer := startOP(t)
	pid := e.consoleIDP(issuer)
	e.user("alice", true)
	e.user("bob", false)
	cookie, csrf := e.signIn("alice", ConfirmTTL+time.Second)
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/console/identity-providers/new", url.Values{"name": {"Evil"}, "issuer": {issuer}, "client_id": {"app"}, "client_secret": {"s"}, "scopes": {"openid"}}},
		{"/console/identity-providers/" + pid + "/edit", url.Values{"name": {"Renamed"}, "client_id": {"evil"}, "scopes": {"openid"}, "create_users": {"on"}}},
		{"/console/identity-providers/" + pid + "/disable", url.Values{}},
		{"/console/identity-providers/" + pid + "/enable", url.Values{}},
		{"/console/users/bob/upstream", url.Values{"provider": {pid}, "subject": {"attacker"}}},
		{"/console/users/bob/upstream/unlink", url.Values{}},
	} {
		tc.form.Set("csrf", csrf)
		r := e.post(cookie, tc.path, tc.form)
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/console/confirm?") {
			t.Errorf("POST %s: got %d to %q, want the confirmation", tc.path, r.status, r.location())
		}
	}
	for _, p := range []string{"/console/identity-providers/new", "/console/identity-providers/" + pid + "/edit"} {
		if r := e.get(cookie, p); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/console/confirm?") {
			t.Errorf("GET %s: got %d to %q, want the confirmation first", p, r.status, r.location())
		}
	}
	p := e.do(http.StatusOK, http.MethodGet, "/admin/identity-providers/"+pid, "")
	if p["name"] != "Example SSO" || p["client_id"] != "app" || p["create_users"] != false || p["enabled"] != true {
		t.Errorf("the provider changed without a confirmation: %v", p)
	}
	if u, _ := e.st.GetUserByName(context.Background(), "bob"); u.Upstream != nil {
		t.Errorf("bob was linked without a confirmation")
	}
	for _, ev := range []string{"identity_provider_created", "identity_provider_updated", "user_upstream_linked"} {
		if n := len(e.audits(ev)); ev != "identity_provider_created" && n != 0 || ev == "identity_provider_created" && n != 1 {
			t.Errorf("%s: %d events", ev, n)
		}
	}
}

// TestConsoleIdentityProviders: a confirmed administrator adds a provider
// (a bad one shows the field's error), edits it (the secret stays unless
// typed), disables and enables it; links and unlinks a user's upstream
// identity, which the user's page shows with where the user comes from.
func TestConsoleIdentityProviders(t *testing.T) {
	e := newConsoleEnv(t)
	issuer := startOP(t)
	e.user("alice", true)
	e.user("bob", false)
	cookie, csrf := e.signIn("alice", time.Minute)
	form := url.Values{"csrf": {csrf}, "name": {"Okta"}, "issuer": {issuer}, "client_id": {"app"}, "client_secret": {"s3cret-not-shown"},
		"scopes": {"openid profile email"}, "username_claim": {"preferred_username"}, "permissions_claim": {"groups"},
		"permission_map": {"devs = REPO_WRITE\nadmins = NOPE"}}
	r := e.post(cookie, "/console/identity-providers/new", form)
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `<p class="field-error" id="permission_map-error">The line for admins in the permission map has &#34;NOPE&#34;, which is not a permission of this service.</p>`) {
		t.Fatalf("an unknown scope in the map: got %d: %s", r.status, r.body)
	}
	form.Set("permission_map", "devs = REPO_WRITE")
	r = e.post(cookie, "/console/identity-providers/new", form)
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/console/identity-providers/") {
		t.Fatalf("create: got %d to %q: %s", r.status, r.location(), r.body)
	}
	path := strings.Split(r.location(), "?")[0]
	pid := strings.TrimPrefix(path, "/console/identity-providers/")
	r = e.get(cookie, r.location())
	for _, want := range []string{"Okta", issuer, "/oauth2/upstream/callback", "never shown", "REPO_WRITE"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the provider's page lacks %q", want)
		}
	}
	if strings.Contains(r.body, "s3cret-not-shown") {
		t.Errorf("the provider's page shows the secret")
	}
	if r := e.get(cookie, "/console/identity-providers"); !strings.Contains(r.body, "Okta") || !strings.Contains(r.body, `aria-current="page"`) {
		t.Errorf("list: %s", r.body)
	}
	r = e.post(cookie, path+"/edit", url.Values{"csrf": {csrf}, "name": {"Okta EU"}, "client_id": {"app"}, "scopes": {"openid email"},
		"username_claim": {"email"}, "create_users": {"on"}, "email_domains": {"example.com"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("edit: got %d: %s", r.status, r.body)
	}
	p, _ := e.st.GetIdentityProvider(context.Background(), pid)
	sec, _ := e.st.GetIdentityProviderSecret(context.Background(), pid)
	if p.Name != "Okta EU" || !p.CreateUsers || p.UsernameClaim != "email" || sec != "s3cret-not-shown" {
		t.Errorf("after the edit: %+v, secret kept %v", p, sec == "s3cret-not-shown")
	}
	if r := e.post(cookie, path+"/disable", url.Values{"csrf": {csrf}}); r.status != http.StatusSeeOther {
		t.Errorf("disable: %d", r.status)
	}
	if p, _ := e.st.GetIdentityProvider(context.Background(), pid); p.Enabled {
		t.Errorf("still enabled")
	}
	e.post(cookie, path+"/enable", url.Values{"csrf": {csrf}})

	// Link bob, see it, unlink.
	r = e.post(cookie, "/console/users/bob/upstream", url.Values{"csrf": {csrf}, "provider": {pid}, "subject": {"id2"}})
	if r.status != http.StatusSeeOther || r.location() != "/console/users/bob?linked=1" {
		t.Fatalf("link: got %d to %q: %s", r.status, r.location(), r.body)
	}
	r = e.get(cookie, "/console/users/bob")
	for _, want := range []string{"Created by an administrator", "Okta EU", "<code>id2</code>", "Unlink the identity from bob"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("bob's page lacks %q", want)
		}
	}
	e.user("carol", false)
	r = e.post(cookie, "/console/users/carol/upstream", url.Values{"csrf": {csrf}, "provider": {pid}, "subject": {"id2"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "already linked") {
		t.Errorf("linking bob's identity to carol: got %d", r.status)
	}
	if r := e.post(cookie, "/console/users/bob/upstream/unlink", url.Values{"csrf": {csrf}}); r.status != http.StatusSeeOther {
		t.Errorf("unlink: %d", r.status)
	}
	if u, _ := e.st.GetUserByName(context.Background(), "bob"); u.Upstream != nil {
		t.Errorf("bob still linked")
	}
}

// TestConsoleNeverTrustsSignInUsers: a user whose item the authorize
// function may write (id u.…) does not open the console even with the
// administrator flag set on that item (as a compromised authorize function
// could), nor can an administrator give it the flag.
func TestConsoleNeverTrustsSignInUsers(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	now := e.clock.Now().Add(-time.Hour)
	forged := store.User{ID: store.SignInUserPrefix + "forged", Username: "mallory", PasswordHash: consoleHash(), Admin: true, CreatedAt: now, UpdatedAt: now}
	// Written as raw as the authorize function's policy allows (CreateUser
	// is the admin function's method, but the item is the same).
	if err := e.st.CreateUser(context.Background(), forged); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	r := b.signInForm("/console/links", "mallory", consolePass)
	if r.status == http.StatusSeeOther || !strings.Contains(r.body, "not an administrator") {
		t.Errorf("a sign-in user with a forged flag signed in: %d %q", r.status, r.location())
	}
	cookie, csrf := e.signIn("alice", time.Minute)
	e.user("bob", false)
	_ = csrf
	if err := e.st.CreateSignInUser(context.Background(), store.User{ID: store.SignInUserPrefix + "x1", Username: "zed", CreatedAt: now,
		Upstream: &store.UpstreamIdentity{ProviderID: "p", Issuer: "https://idp.example", Subject: "zed"}}); err != nil {
		t.Fatal(err)
	}
	r = e.post(cookie, "/console/users/zed", url.Values{"csrf": {csrf}, "admin": {"on"}, "name": {"Zed"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "cannot be an administrator") {
		t.Errorf("making a sign-in user an administrator: got %d", r.status)
	}
	if u, _ := e.st.GetUserByName(context.Background(), "zed"); u.Admin {
		t.Errorf("zed became an administrator")
	}
	body := e.do(http.StatusUnprocessableEntity, http.MethodPut, "/admin/users/zed/admin", `{"admin":true}`)
	checkError(t, body, "validation_failed", "admin: a user created by an upstream sign-in cannot be an administrator")
	if r := e.get(cookie, "/console/users/zed"); !strings.Contains(r.body, "Created at their first sign-in through an identity provider") {
		t.Errorf("zed's page does not say where the user comes from")
	}
}
