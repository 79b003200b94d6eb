package admin

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// fieldErrorsOf returns the id and text of every field error of a page.
func fieldErrorsOf(body string) map[string]string {
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`<p class="field-error" id="([^"]+)-error">([^<]*)</p>`).FindAllStringSubmatch(body, -1) {
		out[m[1]] = m[2]
	}
	return out
}

// summaryOf returns the error summary's items: the input each links to
// ("" for none) and its text.
func summaryOf(body string) [][2]string {
	_, s, ok := strings.Cut(body, `<div class="error-summary"`)
	if !ok {
		return nil
	}
	s, _, _ = strings.Cut(s, "</div>")
	var out [][2]string
	for _, m := range regexp.MustCompile(`<li>(?:<a href="#([^"]+)">)?([^<]*)`).FindAllStringSubmatch(s, -1) {
		out = append(out, [2]string{m[1], m[2]})
	}
	return out
}

// TestConsoleLinkFormErrorsAtOnce: a Create link form with four invalid
// fields is answered with all four, each beside its input and in the
// summary above the form that links to it, in the form's words (its
// labels, URL rather than URI, no field names of the API), keeping what
// was typed. The admin API answers the same request with its first
// field's name, as before.
func TestConsoleLinkFormErrorsAtOnce(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	cookie, csrf := e.signIn("alice", time.Minute)
	form := url.Values{"csrf": {csrf}, "name": {"  "}, "client_type": {"confidential"}, "scope": {"REPO_READ"},
		"redirect_uri":              {"https://ci.example.com/cb", "http://ci.example.com/cb", "https://ci.example.com/cb"},
		"post_logout_redirect_uris": {"https://ci.example.com/bye\n\nftp://ci.example.com/bye"}}
	r := e.post(cookie, "/console/links/new", form)
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("got %d, want 422:\n%s", r.status, r.body)
	}
	want := map[string]string{
		"name":                      "Enter a name.",
		"redirect_uri_1":            "Redirect URL 2 must use https; http is allowed only for the loopback hosts 127.0.0.1, [::1] and localhost.",
		"redirect_uri_2":            "Redirect URL 3 is the same as Redirect URL.",
		"post_logout_redirect_uris": `Line 3 of the sign-out redirect URLs: scheme &#34;ftp&#34; is not allowed: use https, or a private-use scheme in reverse domain form such as com.example.app.`,
	}
	got := fieldErrorsOf(r.body)
	for id, msg := range want {
		if got[id] != msg {
			t.Errorf("error at %s: got %q, want %q", id, got[id], msg)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got errors at %v, want %d", got, len(want))
	}
	sum := summaryOf(r.body)
	wantSum := [][2]string{{"name", want["name"]}, {"redirect_uri_1", want["redirect_uri_1"]}, {"redirect_uri_2", want["redirect_uri_2"]},
		{"post_logout_redirect_uris", want["post_logout_redirect_uris"]}}
	if len(sum) != len(wantSum) {
		t.Fatalf("summary: got %q, want %q", sum, wantSum)
	}
	for i := range wantSum {
		if sum[i] != wantSum[i] {
			t.Errorf("summary item %d: got %q, want %q", i, sum[i], wantSum[i])
		}
	}
	for _, api := range []string{"redirect_uris", "post_logout_redirect_uris[", " URI", "RFC"} {
		for id, msg := range got {
			if strings.Contains(msg, api) {
				t.Errorf("error at %s names %q: %s", id, api, msg)
			}
		}
	}
	for _, kept := range []string{`id="redirect_uri_1" name="redirect_uri" value="http://ci.example.com/cb"`,
		">https://ci.example.com/bye\n\nftp://ci.example.com/bye</textarea>", `value="REPO_READ" checked`} {
		if !strings.Contains(r.body, kept) {
			t.Errorf("the form lost what was typed: want %q", kept)
		}
	}
	if n := len(e.do(http.StatusOK, "GET", "/admin/links", "")["links"].([]any)); n != 0 {
		t.Errorf("got %d links, want none created", n)
	}
	// The admin API keeps its field names, and names the first.
	api := e.do(http.StatusUnprocessableEntity, "POST", "/admin/links", `{"name":" ","redirect_uris":["http://ci.example.com/cb"]}`)
	if api["error"] != "validation_failed" || api["message"] != "name: must not be empty" {
		t.Errorf("API: got %v, want the name's error in its words", api)
	}
}

// TestConsoleResourceServerRedirectSaid: a redirect URL or a sign-out
// redirect URL typed for a resource server is said before anything is
// saved (it used to be dropped without a word); so is the device box.
func TestConsoleResourceServerRedirectSaid(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	cookie, csrf := e.signIn("alice", time.Minute)
	form := url.Values{"csrf": {csrf}, "name": {"Repos API"}, "client_type": {"resource_server"}, "scope": {"REPO_READ"},
		"redirect_uri": {"https://api.example.com/cb"}, "post_logout_redirect_uris": {"https://api.example.com/bye"},
		"grant_device": {"on"}, "id_token_alg": {"RS256"}}
	r := e.post(cookie, "/console/links/new", form)
	got := fieldErrorsOf(r.body)
	if r.status != http.StatusUnprocessableEntity ||
		got["redirect_uris"] != "A resource server has no redirect URL: clear this field, or choose another client type." ||
		got["post_logout_redirect_uris"] != "A resource server has no sign-out redirect URLs: clear this field, or choose another client type." ||
		got["grant_device"] != "A resource server does not connect as a device or a command-line tool: untick this, or choose another client type." {
		t.Fatalf("got %d %v, want the three said", r.status, got)
	}
	if !strings.Contains(r.body, `id="redirect_uri_0" name="redirect_uri" value="https://api.example.com/cb" inputmode="url" autocapitalize="none" spellcheck="false" aria-invalid="true" aria-describedby="redirect_uris-error"`) {
		t.Errorf("the redirect URL is not marked invalid:\n%s", r.body)
	}
	if n := len(e.do(http.StatusOK, "GET", "/admin/links", "")["links"].([]any)); n != 0 {
		t.Errorf("got %d links, want none created", n)
	}
	// Cleared, it is created (the "ID token signature" radio's default,
	// RS256, is not held against it).
	form.Del("redirect_uri")
	form.Del("post_logout_redirect_uris")
	form.Del("grant_device")
	if r := e.post(cookie, "/console/links/new", form); r.status != http.StatusSeeOther {
		t.Fatalf("resource server without them: got %d:\n%s", r.status, r.body)
	}
	// Its edit form has no redirect URL to type.
	id := e.do(http.StatusOK, "GET", "/admin/links", "")["links"].([]any)[0].(map[string]any)["id"].(string)
	if body := e.get(cookie, "/console/links/"+id+"/edit").body; strings.Contains(body, `name="redirect_uri"`) || strings.Contains(body, `name="post_logout_redirect_uris"`) {
		t.Errorf("a resource server's edit form offers redirect URLs")
	}
}

// TestConsoleNoPermissionsAsked: a link with no permission ticked is not
// created at once: the form comes back saying what it would get, with
// "Create without permissions"; other errors come with it. Editing a link
// to take every permission away asks the same.
func TestConsoleNoPermissionsAsked(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	cookie, csrf := e.signIn("alice", time.Minute)
	form := url.Values{"csrf": {csrf}, "name": {"Bot"}, "client_type": {"confidential"}, "redirect_uri": {"https://bot.example.com/cb"}, "key": {"k1"}}
	r := e.post(cookie, "/console/links/new", form)
	if r.status != http.StatusOK || !strings.Contains(r.body, "<h2>No permission is ticked</h2>") ||
		!strings.Contains(r.body, "The application would get only <strong>View public projects and repositories</strong>") ||
		!strings.Contains(r.body, `<button type="submit" name="no_permissions" value="ok" class="secondary">Create without permissions</button>`) ||
		!strings.Contains(r.body, `value="https://bot.example.com/cb"`) {
		t.Fatalf("no permission: got %d, want the form asking, keeping the fields:\n%s", r.status, r.body)
	}
	if n := len(e.do(http.StatusOK, "GET", "/admin/links", "")["links"].([]any)); n != 0 {
		t.Fatalf("got %d links, want none before the answer", n)
	}
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("name", "")
	if r := e.post(cookie, "/console/links/new", bad); r.status != http.StatusUnprocessableEntity || fieldErrorsOf(r.body)["name"] != "Enter a name." ||
		!strings.Contains(r.body, `id="scope-error">No permission is ticked`) {
		t.Errorf("no permission and no name: got %d, want both said:\n%s", r.status, r.body)
	}
	form.Set("no_permissions", "ok")
	r = e.post(cookie, "/console/links/new", form)
	if r.status != http.StatusSeeOther {
		t.Fatalf("Create without permissions: got %d:\n%s", r.status, r.body)
	}
	links := e.do(http.StatusOK, "GET", "/admin/links", "")["links"].([]any)
	if len(links) != 1 || len(toStrings(links[0].(map[string]any)["scopes"])) != 0 {
		t.Fatalf("got %v, want one link without permissions", links)
	}
	// Editing: taking every permission away is asked too.
	id := e.apiLink("App")["id"].(string)
	edit := url.Values{"csrf": {csrf}, "name": {"App"}, "redirect_uri": {"https://app.example.com/cb"}}
	if r := e.post(cookie, "/console/links/"+id+"/edit", edit); r.status != http.StatusOK || !strings.Contains(r.body, "Save without permissions") {
		t.Errorf("edit without permissions: got %d, want the question", r.status)
	}
	if got := e.do(http.StatusOK, "GET", "/admin/links/"+id, ""); len(toStrings(got["scopes"])) != 1 {
		t.Errorf("the question changed the link: %v", got["scopes"])
	}
	edit.Set("no_permissions", "ok")
	if r := e.post(cookie, "/console/links/"+id+"/edit", edit); r.status != http.StatusSeeOther {
		t.Errorf("Save without permissions: got %d", r.status)
	}
	if got := e.do(http.StatusOK, "GET", "/admin/links/"+id, ""); len(toStrings(got["scopes"])) != 0 {
		t.Errorf("after Save without permissions: %v", got["scopes"])
	}
	// A link that has none already is saved without asking.
	edit.Del("no_permissions")
	edit.Set("name", "App 2")
	if r := e.post(cookie, "/console/links/"+id+"/edit", edit); r.status != http.StatusSeeOther {
		t.Errorf("edit of a link without permissions: got %d, want saved", r.status)
	}
}

// TestConsoleLinkFormPlain: the create form says the application type and
// the direction (one choice each) as text, not as radio buttons, and its
// first submit button (what Enter presses) creates, not "Add another
// redirect URL".
func TestConsoleLinkFormPlain(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	cookie, _ := e.signIn("alice", time.Minute)
	body := e.get(cookie, "/console/links/new").body
	if strings.Contains(body, `name="app_type"`) || strings.Contains(body, `name="direction"`) ||
		!strings.Contains(body, "<dt>Application type</dt><dd>External application: ") || !strings.Contains(body, "<dt>Direction</dt><dd>Incoming: ") {
		t.Errorf("create form: want the application type and direction as text")
	}
	_, form, _ := strings.Cut(body, `<form method="post" action="/console/links/new" novalidate>`)
	first := regexp.MustCompile(`<button [^>]*>[^<]*</button>`).FindString(form)
	if !strings.Contains(first, `type="submit"`) || strings.Contains(first, `name="action"`) || !strings.Contains(first, ">Create<") {
		t.Errorf("first submit button: got %s, want Create", first)
	}
}

// TestConsoleUserFormErrorsAtOnce: the user form answers every invalid
// field at once, in its labels' words; the password, never shown again,
// is asked for once more.
func TestConsoleUserFormErrorsAtOnce(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	cookie, csrf := e.signIn("alice", time.Minute)
	r := e.post(cookie, "/console/users/new", url.Values{"csrf": {csrf}, "username": {"bob smith"}, "password": {"short"},
		"email": {"bob at example"}, "name": {"Bob"}})
	got := fieldErrorsOf(r.body)
	if r.status != http.StatusUnprocessableEntity || !strings.HasPrefix(got["username"], "Username must contain only letters, digits and . _ @ -") ||
		got["password"] != "Password must be at least 8 bytes long." || got["email"] != "Email must be an address like name@example.com." || len(got) != 3 {
		t.Fatalf("got %d %v, want the three errors", r.status, got)
	}
	if sum := summaryOf(r.body); len(sum) != 3 || sum[0][0] != "username" || sum[1][0] != "password" || sum[2][0] != "email" {
		t.Errorf("summary: got %q, want username, password, email", sum)
	}
	if !strings.Contains(r.body, `value="bob smith"`) || !strings.Contains(r.body, `value="bob at example"`) || !strings.Contains(r.body, `value="Bob"`) {
		t.Errorf("the form lost what was typed")
	}
	// With the password right but another field wrong, the password
	// field says to type it again.
	r = e.post(cookie, "/console/users/new", url.Values{"csrf": {csrf}, "username": {"bob smith"}, "password": {"orchard lantern violet"}})
	if !strings.Contains(r.body, "A password is never shown again: type it once more.") {
		t.Errorf("want the password asked for again:\n%s", r.body)
	}
}

// TestConsolePasswordFormErrorsAtOnce: changing one's own password with a
// wrong current password and a new one that is too short says both.
func TestConsolePasswordFormErrorsAtOnce(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	cookie, csrf := e.signIn("alice", time.Minute)
	r := e.post(cookie, "/console/users/alice/password", url.Values{"csrf": {csrf}, "current_password": {"not it"}, "new_password": {"short"}})
	got := fieldErrorsOf(r.body)
	if r.status != http.StatusUnprocessableEntity || got["current_password"] != "Your current password is not right: nothing was changed." ||
		got["new_password"] != "New password must be at least 8 bytes long." {
		t.Fatalf("got %d %v, want both", r.status, got)
	}
	if sum := summaryOf(r.body); len(sum) != 2 || sum[0][0] != "current_password" || sum[1][0] != "new_password" {
		t.Errorf("summary: got %q", sum)
	}
}

// TestConsoleIdentityProviderFormErrorsAtOnce: the identity provider form
// answers every invalid field at once, in its labels' words.
func TestConsoleIdentityProviderFormErrorsAtOnce(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	cookie, csrf := e.signIn("alice", time.Minute)
	r := e.post(cookie, "/console/identity-providers/new", url.Values{"csrf": {csrf}, "name": {"Okta"}, "issuer": {"http://okta.example.com"},
		"client_id": {""}, "client_secret": {"s3cret"}, "scopes": {"profile"}, "username_claim": {"preferred_username"},
		"email_domains": {"example.com bad_domain"}, "permission_map": {"devs = NOPE"}})
	got := fieldErrorsOf(r.body)
	want := map[string]string{
		"issuer":         "Issuer must be an https URL (plain http only on 127.0.0.1, [::1] or localhost).",
		"client_id":      "Enter a client ID.",
		"scopes":         "Scopes must include openid.",
		"email_domains":  `The email domain &#34;bad_domain&#34; must be a domain name such as example.com.`,
		"permission_map": "The line for devs in the permission map has &#34;NOPE&#34;, which is not a permission of this service.",
	}
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("got %d, want 422", r.status)
	}
	for id, msg := range want {
		if got[id] != msg {
			t.Errorf("error at %s: got %q, want %q", id, got[id], msg)
		}
	}
	if !strings.Contains(r.body, "A secret is never shown again: type it once more.") || !strings.Contains(r.body, `value="example.com bad_domain"`) {
		t.Errorf("want the secret asked again and the domains kept")
	}
}

// TestPlainReason: the API's reasons in the console's words.
func TestPlainReason(t *testing.T) {
	label := func(f string) string {
		if f == "redirect_uris[0]" {
			return "Redirect URL"
		}
		return f
	}
	for _, c := range []struct{ label, reason, want string }{
		{"Name", "must not be empty", "Enter a name."},
		{"Issuer", "is required", "Enter an issuer."},
		{"Client ID", "is required", "Enter a client ID."},
		{"Redirect URL 2", "duplicates redirect_uris[0]", "Redirect URL 2 is the same as Redirect URL."},
		{"Redirect URL", "redirect URI must not contain a fragment (RFC 6749 §3.1.2)", "Redirect URL must not contain a fragment."},
		{"Permissions", `unknown scope "X"`, `Permissions has "X", which is not a permission of this service.`},
		{"Username", `a user named "bob" already exists (usernames are compared regardless of letter case)`, `Username: a user named "bob" already exists (usernames are compared regardless of letter case).`},
		{"Line 2 of the resource URLs", "resource URI must be an absolute https URL (http only on 127.0.0.1, [::1] or localhost)", "Line 2 of the resource URLs must be an absolute https URL (http only on 127.0.0.1, [::1] or localhost)."},
	} {
		if got := plainReason(c.label, c.reason, label); got != c.want {
			t.Errorf("%s %q: got %q, want %q", c.label, c.reason, got, c.want)
		}
	}
}
