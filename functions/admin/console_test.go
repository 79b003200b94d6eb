package admin

import (
	"context"
	crand "crypto/rand"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/password"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/throttle"
)

const consolePass = "console admin password"

// consoleHash is computed once: argon2id is deliberately slow.
var consoleHash = sync.OnceValue(func() string {
	h, err := password.Hash(consolePass, rand.NewChaCha8([32]byte{7}))
	if err != nil {
		panic(err)
	}
	return h
})

// consoleEnv is an env on kumo with a signed-in browser.
type consoleEnv struct {
	*env
	st *store.Store
}

func newConsoleEnv(t *testing.T) *consoleEnv {
	t.Helper()
	e := newStoreEnv(t)
	return &consoleEnv{env: e, st: e.st.(*store.Store)}
}

// user creates a user with consolePass.
func (e *consoleEnv) user(name string, isAdmin bool) {
	e.t.Helper()
	now := e.clock.Now().Add(-time.Hour)
	if err := e.st.CreateUser(context.Background(), store.User{ID: "uid-" + name, Username: name, PasswordHash: consoleHash(),
		Admin: isAdmin, CreatedAt: now, UpdatedAt: now}); err != nil {
		e.t.Fatalf("CreateUser: %v", err)
	}
}

// signIn starts a console session of name, signed in (and so confirmed)
// age ago and seen just now, as the console's sign-in would, and returns
// its cookie value and CSRF token.
func (e *consoleEnv) signIn(name string, age time.Duration) (cookie, csrf string) {
	e.t.Helper()
	tok, _ := shared.NewToken(crand.Reader)
	csrf, _ = shared.NewToken(crand.Reader)
	now := e.clock.Now()
	if err := e.st.CreateConsoleSession(context.Background(), store.ConsoleSession{ID: shared.HashToken(tok), UserID: "uid-" + name,
		CSRF: csrf, CreatedAt: now.Add(-age), ConfirmedAt: now.Add(-age), LastSeen: now, ExpiresAt: now.Add(-age).Add(ConsoleSessionTTL)}, ConsoleIdle); err != nil {
		e.t.Fatalf("CreateConsoleSession: %v", err)
	}
	return tok, csrf
}

// resp is a console response.
type resp struct {
	status int
	header http.Header
	body   string
}

func (r resp) location() string { return r.header.Get("Location") }

// get requests path with the session cookie (none when "").
func (e *consoleEnv) get(cookie, path string) resp {
	e.t.Helper()
	return e.send(cookie, httptest.NewRequest(http.MethodGet, path, nil))
}

func (e *consoleEnv) post(cookie, path string, form url.Values) resp {
	e.t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.send(cookie, r)
}

func (e *consoleEnv) send(cookie string, r *http.Request) resp {
	e.t.Helper()
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: "console", Value: cookie})
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	b, _ := io.ReadAll(w.Result().Body)
	out := resp{status: w.Code, header: w.Header(), body: string(b)}
	checkConsoleHeaders(e.t, r.Method+" "+r.URL.String(), out)
	return out
}

// checkConsoleHeaders checks what SPEC asks of every page (and of the
// redirects: no-store, no-referrer).
func checkConsoleHeaders(t *testing.T, what string, r resp) {
	t.Helper()
	if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("%s: got Cache-Control %q Referrer-Policy %q, want no-store, no-referrer", what, r.header.Get("Cache-Control"), r.header.Get("Referrer-Policy"))
	}
	if r.status >= 300 && r.status < 400 {
		return
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("%s: got CSP %q, want frame-ancestors 'none' and default-src 'none'", what, csp)
	}
	if r.header.Get("X-Frame-Options") != "DENY" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Errorf("%s: got X-Frame-Options %q Content-Type %q, want DENY, text/html", what, r.header.Get("X-Frame-Options"), r.header.Get("Content-Type"))
	}
}

// consoleGetPaths are console pages that exist once link L and user bob do.
func consoleGetPaths(linkID string) []string {
	return []string{
		"/console", "/console/links", "/console/links/new", "/console/links/" + linkID,
		"/console/links/" + linkID + "/created", "/console/links/" + linkID + "/credentials",
		"/console/links/" + linkID + "/rotate", "/console/links/" + linkID + "/edit",
		"/console/links/" + linkID + "/delete", "/console/confirm?return_to=%2Fconsole%2Flinks",
		"/console/users", "/console/users/new", "/console/users/bob", "/console/users/bob/delete", "/console/keys",
	}
}

// consolePostPaths are console actions.
func consolePostPaths(linkID string) []string {
	return []string{
		"/console/links/new", "/console/links/" + linkID + "/rotate", "/console/links/" + linkID + "/edit",
		"/console/links/" + linkID + "/enable", "/console/links/" + linkID + "/disable",
		"/console/links/" + linkID + "/delete", "/console/links/" + linkID + "/grants/g/revoke", "/console/confirm",
		"/console/users/new", "/console/users/bob", "/console/users/bob/password", "/console/users/bob/revoke",
		"/console/users/bob/delete", "/console/keys/rotate",
	}
}

// apiLink creates a link through the JSON API and returns its view.
func (e *consoleEnv) apiLink(name string) map[string]any {
	e.t.Helper()
	return e.do(http.StatusCreated, "POST", "/admin/links", `{"name":"`+name+`","redirect_uris":["https://app.example.com/cb"],"scopes":["REPO_READ"]}`)
}

// TestConsoleSignedOut: every page and action sends a signed-out visitor to
// the sign-in page, with the page to come back to; nothing changes.
func TestConsoleSignedOut(t *testing.T) {
	e := newConsoleEnv(t)
	id := e.apiLink("App")["id"].(string)
	for _, p := range consoleGetPaths(id) {
		r := e.get("", p)
		if p == "/console" {
			if r.status != http.StatusSeeOther || r.location() != "/console/links" {
				t.Errorf("GET %s: got %d to %q, want 303 to /console/links", p, r.status, r.location())
			}
			continue
		}
		want := "/console/login?return_to=" + url.QueryEscape(p)
		if r.status != http.StatusSeeOther || r.location() != want {
			t.Errorf("GET %s: got %d to %q, want 303 to %q", p, r.status, r.location(), want)
		}
		// A cookie that names no session is signed out too.
		if r := e.get(strings.Repeat("a", 43), p); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/console/login?") {
			t.Errorf("GET %s with an unknown session: got %d to %q, want the sign-in page", p, r.status, r.location())
		}
	}
	for _, p := range consolePostPaths(id) {
		r := e.post("", p, url.Values{"name": {"x"}})
		if r.status != http.StatusSeeOther || r.location() != "/console/login?return_to=%2Fconsole%2Flinks" {
			t.Errorf("POST %s: got %d to %q, want 303 to the sign-in page", p, r.status, r.location())
		}
	}
	if len(e.audits("link_updated"))+len(e.audits("link_deleted"))+len(e.audits("credentials_rotated")) != 0 {
		t.Errorf("got changes by signed-out posts")
	}
}

// TestConsoleNotAdmin: a signed-in user without the administrator flag gets
// a 403 page everywhere, and a disabled administrator is signed out.
func TestConsoleNotAdmin(t *testing.T) {
	e := newConsoleEnv(t)
	id := e.apiLink("App")["id"].(string)
	e.user("bob", false)
	cookie, csrf := e.signIn("bob", time.Minute)
	for _, p := range consoleGetPaths(id)[1:] {
		r := e.get(cookie, p)
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "Administrators only") || strings.Contains(r.body, "Signing keys") {
			t.Errorf("GET %s: got %d, want the 403 page without navigation", p, r.status)
		}
	}
	for _, p := range consolePostPaths(id) {
		if r := e.post(cookie, p, url.Values{"csrf": {csrf}}); r.status != http.StatusForbidden {
			t.Errorf("POST %s: got %d, want 403", p, r.status)
		}
	}
	e.user("carol", true)
	cookie, _ = e.signIn("carol", time.Minute)
	if r := e.get(cookie, "/console/links"); r.status != http.StatusOK {
		t.Fatalf("administrator: got %d, want 200", r.status)
	}
	// (The JSON API disables no administrator: PATCH is 403 for one.)
	if _, err := e.st.UpdateUser(context.Background(), "uid-carol", store.UserUpdate{Disabled: &[]bool{true}[0]}, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if r := e.get(cookie, "/console/links"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/console/login?") {
		t.Errorf("disabled administrator: got %d to %q, want the sign-in page", r.status, r.location())
	}
}

// TestConsoleCSRF: a form without the session's CSRF token (or with
// another's) is a 403 page and changes nothing.
func TestConsoleCSRF(t *testing.T) {
	e := newConsoleEnv(t)
	id := e.apiLink("App")["id"].(string)
	e.user("alice", true)
	cookie, _ := e.signIn("alice", time.Minute)
	_, otherCSRF := e.signIn("alice", time.Minute)
	for _, p := range consolePostPaths(id) {
		for _, form := range []url.Values{{}, {"csrf": {""}}, {"csrf": {otherCSRF}}} {
			form.Set("name", "Changed")
			form.Set("password", consolePass)
			r := e.post(cookie, p, form)
			if r.status != http.StatusForbidden || !strings.Contains(r.body, "Request refused") {
				t.Errorf("POST %s %v: got %d, want the 403 page", p, form, r.status)
			}
		}
	}
	if got := e.do(http.StatusOK, "GET", "/admin/links/"+id, ""); got["name"] != "App" || got["enabled"] != true {
		t.Errorf("got %v after refused posts, want the link unchanged", got)
	}
	for _, ev := range []string{"link_created", "link_updated", "link_deleted", "credentials_rotated"} {
		if n := len(e.audits(ev)); n > 0 && !(ev == "link_created" && n == 1) {
			t.Errorf("got %d %s events, want none from the console", n, ev)
		}
	}
}

var (
	reClientID     = regexp.MustCompile(`id="client_id" value="([^"]+)"`)
	reClientSecret = regexp.MustCompile(`id="client_secret" value="([^"]+)"`)
)

// TestConsoleLinkLifecycle creates a link through the form, reads its
// credentials, edits, disables, rotates and deletes it, checking that each
// step has the effect of the API call (read back through the API) and an
// audit line naming the administrator.
func TestConsoleLinkLifecycle(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	cookie, csrf := e.signIn("alice", time.Minute)

	r := e.get(cookie, "/console/links")
	if r.status != http.StatusOK || !strings.Contains(r.body, "No application links yet") {
		t.Fatalf("empty list: got %d, want the empty state", r.status)
	}
	r = e.get(cookie, "/console/links/new")
	for _, want := range []string{`name="scope" value="REPO_ADMIN"`, "Repositories", "Includes Repositories: Read, Write", `name="redirect_uri"`, `value="resource_server"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("create form: want %q in the page", want)
		}
	}
	// Adding a redirect URL field keeps what was typed.
	form := url.Values{"csrf": {csrf}, "app_type": {"external"}, "direction": {"incoming"}, "name": {"CI server"},
		"redirect_uri": {"https://ci.example.com/cb"}, "client_type": {"confidential"}, "scope": {"REPO_ADMIN", "ACCOUNT_WRITE"}}
	add := url.Values{}
	for k, v := range form {
		add[k] = v
	}
	add.Set("action", "add_uri")
	r = e.post(cookie, "/console/links/new", add)
	if r.status != http.StatusOK || strings.Count(r.body, `name="redirect_uri"`) != 2 || !strings.Contains(r.body, `value="https://ci.example.com/cb"`) {
		t.Fatalf("add a field: got %d with %d fields, want 2 keeping the value", r.status, strings.Count(r.body, `name="redirect_uri"`))
	}
	// A validation error is shown next to its field, in plain words with
	// the field's label (the API names it redirect_uris[1]).
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad["redirect_uri"] = []string{"https://ci.example.com/cb", "http://evil.example/cb"}
	r = e.post(cookie, "/console/links/new", bad)
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="redirect_uri_1" name="redirect_uri" value="http://evil.example/cb" inputmode="url" autocapitalize="none" spellcheck="false" aria-invalid="true" aria-describedby="redirect_uri_1-error"`) ||
		!strings.Contains(r.body, `<p class="field-error" id="redirect_uri_1-error">`) {
		t.Fatalf("bad redirect URI: got %d, want 422 with the error at redirect URL 2:\n%s", r.status, r.body)
	}
	const want = "Redirect URL 2 must use https; http is allowed only for the loopback hosts 127.0.0.1, [::1] and localhost."
	if !strings.Contains(r.body, `<p class="field-error" id="redirect_uri_1-error">`+want+`</p>`) || !strings.Contains(r.body, `<li><a href="#redirect_uri_1">`+want+`</a></li>`) {
		t.Errorf("bad redirect URL: want %q at the field and in the summary:\n%s", want, r.body)
	}

	key := regexp.MustCompile(`name="key" value="([^"]+)"`).FindStringSubmatch(e.get(cookie, "/console/links/new").body)
	if key == nil {
		t.Fatalf("create form: no idempotency key")
	}
	form.Set("key", key[1])
	r = e.post(cookie, "/console/links/new", form)
	if r.status != http.StatusSeeOther || !strings.HasSuffix(r.location(), "/created") {
		t.Fatalf("create: got %d to %q, want 303 to the created page", r.status, r.location())
	}
	// The same form again (a double click): the same link, not a second.
	if again := e.post(cookie, "/console/links/new", form); again.location() != r.location() {
		t.Errorf("second post of the form: got %d to %q, want the same link %q", again.status, again.location(), r.location())
	}
	changed := url.Values{}
	for k, v := range form {
		changed[k] = v
	}
	changed.Set("name", "Other")
	if again := e.post(cookie, "/console/links/new", changed); again.status != http.StatusConflict || !strings.Contains(again.body, "already created a link") {
		t.Errorf("the form reused with other settings: got %d, want 409 in plain words", again.status)
	}
	links := e.do(http.StatusOK, "GET", "/admin/links", "")["links"].([]any)
	if len(links) != 1 {
		t.Fatalf("got %d links, want 1", len(links))
	}
	l := links[0].(map[string]any)
	id := l["id"].(string)
	if l["name"] != "CI server" || l["client_type"] != "confidential" || strings.Join(toStrings(l["scopes"]), " ") != "ACCOUNT_WRITE REPO_ADMIN" {
		t.Errorf("got link %v, want the form's fields", l)
	}
	if a := e.audits("link_created"); len(a) != 1 || a[0]["principal"] != "alice" || a[0]["via"] != "console" {
		t.Errorf("got audit %v, want link_created by alice via the console", a)
	}
	r = e.get(cookie, r.location())
	creds := e.do(http.StatusOK, "GET", "/admin/links/"+id+"/credentials", "")
	if m := reClientSecret.FindStringSubmatch(r.body); m == nil || m[1] != creds["client_secret"] {
		t.Fatalf("created page: got secret %v, want the API's", m)
	}
	if m := reClientID.FindStringSubmatch(r.body); m == nil || m[1] != creds["client_id"] {
		t.Errorf("created page: got client id %v, want %v", m, creds["client_id"])
	}
	for _, want := range []string{"/oauth2/authorize", "/oauth2/token", "/rest/oauth2/latest/authorize", "/rest/oauth2/latest/token", "View credentials"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("created page: want %q", want)
		}
	}
	if !strings.Contains(r.header.Get("Content-Security-Policy"), "script-src 'sha256-") {
		t.Errorf("created page: got CSP %q, want the copy script's hash", r.header.Get("Content-Security-Policy"))
	}

	// The list shows it.
	r = e.get(cookie, "/console/links")
	for _, want := range []string{"CI server", "ci.example.com", "Enabled", "Confidential", e.cfg.ProviderName + " administration"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("list: want %q", want)
		}
	}
	// Details: settings and the More actions menu.
	r = e.get(cookie, "/console/links/"+id)
	for _, want := range []string{"More actions", "View credentials", "Rotate secret", "Edit", "Disable", "Delete", "https://ci.example.com/cb", "No one has authorized"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("details: want %q", want)
		}
	}

	// Edit.
	r = e.post(cookie, "/console/links/"+id+"/edit", url.Values{"csrf": {csrf}, "name": {"CI"}, "redirect_uri": {"https://ci.example.com/cb", "https://ci.example.com/cb2"}, "scope": {"REPO_READ"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("edit: got %d, want 303:\n%s", r.status, r.body)
	}
	got := e.do(http.StatusOK, "GET", "/admin/links/"+id, "")
	if got["name"] != "CI" || len(toStrings(got["redirect_uris"])) != 2 || strings.Join(toStrings(got["scopes"]), " ") != "REPO_READ" {
		t.Errorf("after edit: got %v", got)
	}
	// Sign-out redirect URLs: one per line; an element's error is shown
	// as its line; saved, the details page and the edit form show them.
	edit := url.Values{"csrf": {csrf}, "name": {"CI"}, "redirect_uri": {"https://ci.example.com/cb"}, "scope": {"REPO_READ"},
		"post_logout_redirect_uris": {"https://ci.example.com/bye\r\n\r\nhttp://ci.example.com/bye\r\n"}}
	r = e.post(cookie, "/console/links/"+id+"/edit", edit)
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `<p class="field-error" id="post_logout_redirect_uris-error">Line 3 of the sign-out redirect URLs must use https`) ||
		!strings.Contains(r.body, `aria-invalid="true" aria-describedby="post_logout_redirect_uris-hint post_logout_redirect_uris-error">https://ci.example.com/bye`) {
		t.Fatalf("bad sign-out redirect URL: got %d, want 422 with the error on line 3 (a blank line between):\n%s", r.status, r.body)
	}
	edit.Set("post_logout_redirect_uris", "https://ci.example.com/bye\r\n\r\n  http://127.0.0.1/bye  \r\n")
	if r = e.post(cookie, "/console/links/"+id+"/edit", edit); r.status != http.StatusSeeOther {
		t.Fatalf("edit sign-out redirect URLs: got %d, want 303:\n%s", r.status, r.body)
	}
	got = e.do(http.StatusOK, "GET", "/admin/links/"+id, "")
	if pl := strings.Join(toStrings(got["post_logout_redirect_uris"]), " "); pl != "https://ci.example.com/bye http://127.0.0.1/bye" {
		t.Errorf("after edit: post_logout_redirect_uris %q, want the two lines", pl)
	}
	if r := e.get(cookie, "/console/links/"+id); !strings.Contains(r.body, "<dt>Sign-out redirect URLs</dt><dd><ul class=\"plain\"><li><code>https://ci.example.com/bye</code></li><li><code>http://127.0.0.1/bye</code></li>") {
		t.Errorf("details: the sign-out redirect URLs are not shown")
	}
	if r := e.get(cookie, "/console/links/"+id+"/edit"); !strings.Contains(r.body, ">https://ci.example.com/bye\nhttp://127.0.0.1/bye</textarea>") {
		t.Errorf("edit form: the textarea does not hold the saved URLs")
	}
	// A form without the field leaves them alone.
	delete(edit, "post_logout_redirect_uris")
	e.post(cookie, "/console/links/"+id+"/edit", edit)
	if got := e.do(http.StatusOK, "GET", "/admin/links/"+id, ""); len(toStrings(got["post_logout_redirect_uris"])) != 2 {
		t.Errorf("an edit without the field changed the sign-out redirect URLs: %v", got["post_logout_redirect_uris"])
	}
	// Disable, enable.
	if r := e.post(cookie, "/console/links/"+id+"/disable", url.Values{"csrf": {csrf}}); r.status != http.StatusSeeOther {
		t.Fatalf("disable: got %d", r.status)
	}
	if got := e.do(http.StatusOK, "GET", "/admin/links/"+id, ""); got["enabled"] != false {
		t.Errorf("after disable: got enabled %v", got["enabled"])
	}
	e.post(cookie, "/console/links/"+id+"/enable", url.Values{"csrf": {csrf}})
	if got := e.do(http.StatusOK, "GET", "/admin/links/"+id, ""); got["enabled"] != true {
		t.Errorf("after enable: got enabled %v", got["enabled"])
	}
	// Rotate with a one-hour overlap.
	r = e.post(cookie, "/console/links/"+id+"/rotate", url.Values{"csrf": {csrf}, "overlap_seconds": {"3600"}})
	if r.status != http.StatusSeeOther || r.location() != "/console/links/"+id+"/credentials?rotated=1" {
		t.Fatalf("rotate: got %d to %q", r.status, r.location())
	}
	r = e.get(cookie, r.location())
	after := e.do(http.StatusOK, "GET", "/admin/links/"+id+"/credentials", "")
	if after["client_secret"] == creds["client_secret"] || !strings.Contains(r.body, after["client_secret"].(string)) || after["previous_expires_at"] == nil {
		t.Errorf("after rotate: got %v, want a new secret shown, the old one kept for the overlap", after)
	}
	if a := e.audits("credentials_rotated"); len(a) != 1 || a[0]["principal"] != "alice" || a[0]["overlap_seconds"] != float64(3600) {
		t.Errorf("got rotation audit %v", a)
	}
	if r := e.post(cookie, "/console/links/"+id+"/rotate", url.Values{"csrf": {csrf}, "overlap_seconds": {"9999999"}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "How long the current secret keeps working must be from 0 to 604800") {
		t.Errorf("rotate with a bad overlap: got %d, want 422 in plain words", r.status)
	}
	// Delete: the confirmation names the link, and so does the notice
	// after it (from the deletion's activity event).
	if r := e.get(cookie, "/console/links/"+id+"/delete"); !strings.Contains(r.body, "Delete CI?") {
		t.Errorf("delete page: want it to name the link")
	}
	e.clock.Add(time.Second) // events of the same instant have no order
	r = e.post(cookie, "/console/links/"+id+"/delete", url.Values{"csrf": {csrf}})
	if r.status != http.StatusSeeOther || r.location() != "/console/links?deleted="+id {
		t.Fatalf("delete: got %d to %q", r.status, r.location())
	}
	if r := e.get(cookie, r.location()); !strings.Contains(r.body, `<p class="notice" role="status">The link CI was deleted, with every authorization and token of it.</p>`) {
		t.Errorf("after deleting: want the notice naming the link:\n%s", r.body)
	}
	e.do(http.StatusNotFound, "GET", "/admin/links/"+id, "")
	if a := e.audits("link_deleted"); len(a) != 1 || a[0]["principal"] != "alice" {
		t.Errorf("got delete audit %v", a)
	}
	if r := e.get(cookie, "/console/links/"+id); r.status != http.StatusNotFound || !strings.Contains(r.body, "No link with this id.") {
		t.Errorf("deleted link: got %d, want a 404 page in the API's words", r.status)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestConsoleConfirm: a session older than ConfirmTTL must confirm the
// password before credentials, rotation or deletion; a wrong password is
// counted by the sign-in throttle; a confirmation lasts ConfirmTTL.
func TestConsoleConfirm(t *testing.T) {
	e := newConsoleEnv(t)
	id := e.apiLink("App")["id"].(string)
	e.user("alice", true)
	cookie, csrf := e.signIn("alice", ConfirmTTL+time.Second)
	if r := e.get(cookie, "/console/links/"+id); r.status != http.StatusOK {
		t.Fatalf("details need no confirmation: got %d", r.status)
	}
	for _, p := range []string{"/credentials", "/rotate", "/delete", "/created"} {
		r := e.get(cookie, "/console/links/"+id+p)
		want := "/console/confirm?return_to=" + url.QueryEscape("/console/links/"+id+p)
		if r.status != http.StatusSeeOther || r.location() != want {
			t.Errorf("GET %s: got %d to %q, want %q", p, r.status, r.location(), want)
		}
	}
	for _, p := range []string{"/rotate", "/delete"} {
		r := e.post(cookie, "/console/links/"+id+p, url.Values{"csrf": {csrf}})
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/console/confirm?") {
			t.Errorf("POST %s: got %d to %q, want the confirmation", p, r.status, r.location())
		}
	}
	if n := len(e.audits("credentials_viewed")) + len(e.audits("credentials_rotated")) + len(e.audits("link_deleted")); n != 0 {
		t.Fatalf("got %d sensitive events without a confirmation", n)
	}
	back := "/console/links/" + id + "/credentials"
	r := e.get(cookie, "/console/confirm?return_to="+url.QueryEscape(back))
	if r.status != http.StatusOK || !strings.Contains(r.body, `name="return_to" value="`+back+`"`) {
		t.Fatalf("confirm page: got %d", r.status)
	}
	r = e.post(cookie, "/console/confirm", url.Values{"csrf": {csrf}, "return_to": {back}, "password": {"wrong password"}})
	if r.status != http.StatusOK || !strings.Contains(r.body, msgConfirmFailed) {
		t.Errorf("wrong password: got %d, want the page again with the error", r.status)
	}
	r = e.post(cookie, "/console/confirm", url.Values{"csrf": {csrf}, "return_to": {"https://evil.example/"}, "password": {consolePass}})
	if r.status != http.StatusSeeOther || r.location() != "/console/links" {
		t.Errorf("foreign return_to: got %d to %q, want /console/links", r.status, r.location())
	}
	if r := e.get(cookie, back); r.status != http.StatusOK || !strings.Contains(r.body, `id="client_secret"`) {
		t.Fatalf("after confirming: got %d, want the credentials", r.status)
	}
	if a := e.audits("credentials_viewed"); len(a) != 1 || a[0]["principal"] != "alice" || a[0]["via"] != "console" {
		t.Errorf("got %v, want one credentials_viewed by alice", a)
	}
	e.clock.Add(ConfirmTTL - time.Second)
	if r := e.get(cookie, back); r.status != http.StatusOK {
		t.Errorf("within the confirmation: got %d, want 200", r.status)
	}
	e.clock.Add(2 * time.Second)
	if r := e.get(cookie, back); r.status != http.StatusSeeOther {
		t.Errorf("after ConfirmTTL: got %d, want the confirmation again", r.status)
	}
	// Wrong passwords are counted by the sign-in throttle: after
	// throttle.MaxUsernameFailures of them even the right password is
	// refused.
	for range throttle.MaxUsernameFailures {
		e.post(cookie, "/console/confirm", url.Values{"csrf": {csrf}, "return_to": {back}, "password": {"wrong password"}})
	}
	if r := e.post(cookie, "/console/confirm", url.Values{"csrf": {csrf}, "return_to": {back}, "password": {consolePass}}); r.status != http.StatusOK || !strings.Contains(r.body, msgConfirmFailed) || strings.Contains(r.body, "later") {
		t.Errorf("throttled: got %d, want the refusal", r.status)
	}
	// Another session's confirmation does not count for this one.
	other, otherCSRF := e.signIn("alice", ConfirmTTL+time.Second)
	e.clock.Add(throttle.UsernameWindow)
	if r := e.post(other, "/console/confirm", url.Values{"csrf": {otherCSRF}, "return_to": {back}, "password": {consolePass}}); r.status != http.StatusSeeOther {
		t.Fatalf("confirm the other session: got %d", r.status)
	}
	if r := e.get(cookie, back); r.status != http.StatusSeeOther {
		t.Errorf("first session after the other confirmed: got %d, want the confirmation", r.status)
	}
}

// TestConsoleConfirmTTL: a confirmation lasts at most 10 minutes. (That
// it counts on the sign-in's limits is structural: checkPassword goes
// through the same shared/throttle limiter as every sign-in, and
// TestConsoleConfirm and TestConsoleConfirmSourceLimit exercise it.)
func TestConsoleConfirmTTL(t *testing.T) {
	if ConfirmTTL > 10*time.Minute {
		t.Errorf("ConfirmTTL is %v, want at most 10 minutes", ConfirmTTL)
	}
}

// TestConsoleMethods: HEAD is answered wherever GET is; other methods are
// 405 with Allow; unknown paths a 404 page.
func TestConsoleMethods(t *testing.T) {
	e := newConsoleEnv(t)
	id := e.apiLink("App")["id"].(string)
	e.user("alice", true)
	cookie, _ := e.signIn("alice", time.Minute)
	for _, p := range consoleGetPaths(id) {
		g := e.get(cookie, p)
		h := e.send(cookie, httptest.NewRequest(http.MethodHead, p, nil))
		if h.status != g.status || h.location() != g.location() {
			t.Errorf("HEAD %s: got %d, want GET's %d", p, h.status, g.status)
		}
	}
	for _, tc := range []struct{ method, path, allow string }{
		{http.MethodPut, "/console/links", "GET, HEAD"},
		{http.MethodDelete, "/console/links/" + id, "GET, HEAD"},
		{http.MethodGet, "/console/links/" + id + "/enable", "POST"},
		{http.MethodPatch, "/console/links/new", "GET, HEAD, POST"},
	} {
		r := e.send(cookie, httptest.NewRequest(tc.method, tc.path, nil))
		if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: got %d Allow %q, want 405 %q", tc.method, tc.path, r.status, r.header.Get("Allow"), tc.allow)
		}
	}
	for _, p := range []string{"/console/nothing", "/console/links/" + id + "/nothing", "/console/links//edit"} {
		if r := e.get(cookie, p); r.status != http.StatusNotFound {
			t.Errorf("GET %s: got %d, want 404", p, r.status)
		}
	}
	// The JSON API keeps its authentication.
	r := httptest.NewRequest(http.MethodGet, "/admin/links", nil)
	r.AddCookie(&http.Cookie{Name: "console", Value: cookie})
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("API with a console session and no token: got %d, want 401", w.Code)
	}
}

// TestConsoleUsers creates, edits, gives a password to, revokes and deletes
// a user through the console, checking each effect through the API.
func TestConsoleUsers(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	cookie, csrf := e.signIn("alice", time.Minute)
	r := e.get(cookie, "/console/users/new")
	if r.status != http.StatusOK || !strings.Contains(r.body, `name="permission" value="REPO_ADMIN"`) || !strings.Contains(r.body, `id="admin"`) {
		t.Fatalf("create form: got %d without the permission table or the administrator flag", r.status)
	}
	form := url.Values{"csrf": {csrf}, "username": {"bob smith"}, "password": {"orchard lantern violet"}, "permission": {"REPO_READ", "ACCOUNT_WRITE"}, "admin": {"on"}, "name": {"Bob"}}
	r = e.post(cookie, "/console/users/new", form)
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="username-error">Username must contain only letters`) {
		t.Fatalf("bad username: got %d, want 422 with the API's words at the field:\n%s", r.status, r.body)
	}
	form.Set("username", "bob")
	if r = e.post(cookie, "/console/users/new", form); r.status != http.StatusSeeOther || r.location() != "/console/users/bob?created=1" {
		t.Fatalf("create: got %d to %q", r.status, r.location())
	}
	u := e.do(http.StatusOK, "GET", "/admin/users/bob", "")
	if u["admin"] != true || u["name"] != "Bob" || strings.Join(toStrings(u["permissions"]), " ") != "ACCOUNT_WRITE REPO_READ" {
		t.Errorf("created user: got %v", u)
	}
	if a := e.audits("user_created"); len(a) != 1 || a[0]["principal"] != "alice" || a[0]["via"] != "console" {
		t.Errorf("got %v, want user_created by alice", a)
	}
	if r := e.post(cookie, "/console/users/new", form); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "already exists") {
		t.Errorf("duplicate: got %d, want 422 saying it exists", r.status)
	}
	if r := e.get(cookie, "/console/users"); r.status != http.StatusOK || !strings.Contains(r.body, `<a href="/console/users/bob">bob</a>`) || !strings.Contains(r.body, `<a href="/console/users/alice">alice</a>`) {
		t.Errorf("users list: got %d without alice and bob", r.status)
	}
	if r := e.get(cookie, "/console/users?username=bob"); r.status != http.StatusSeeOther || r.location() != "/console/users/bob" {
		t.Errorf("find bob: got %d to %q", r.status, r.location())
	}
	if r := e.get(cookie, "/console/users?username=ghost"); r.status != http.StatusOK || !strings.Contains(r.body, "There is no user named ghost.") {
		t.Errorf("find ghost: got %d", r.status)
	}
	r = e.get(cookie, "/console/users/bob?created=1")
	for _, want := range []string{"The user was created", `value="Bob"`, `id="admin" name="admin" checked`, `value="REPO_READ" checked`, "Set password", "Revoke all authorizations of bob", "Delete user"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("user page: want %q", want)
		}
	}
	// A user named new (the create form's address) is reached, edited
	// and listed all the same, by the name in capitals.
	form.Set("username", "new")
	if r := e.post(cookie, "/console/users/new", form); r.status != http.StatusSeeOther || r.location() != "/console/users/NEW?created=1" {
		t.Fatalf("create new: got %d to %q", r.status, r.location())
	}
	if r := e.get(cookie, "/console/users/NEW"); r.status != http.StatusOK || !strings.Contains(r.body, "<h1>new</h1>") || !strings.Contains(r.body, `action="/console/users/NEW"`) {
		t.Errorf("user new: got %d, want its page with its edit form:\n%.2000s", r.status, r.body)
	}
	if r := e.get(cookie, "/console/users"); !strings.Contains(r.body, `<a href="/console/users/NEW">new</a>`) {
		t.Errorf("users list: no link to the user new")
	}
	if r := e.get(cookie, "/console/users/new"); !strings.Contains(r.body, `id="username"`) {
		t.Errorf("/console/users/new is no longer the create form")
	}
	// Edit: permissions, flags.
	r = e.post(cookie, "/console/users/bob", url.Values{"csrf": {csrf}, "name": {"Bob S"}, "email": {"bob@example.com"}, "permission": {"REPO_WRITE"}, "disabled": {"on"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("edit: got %d:\n%s", r.status, r.body)
	}
	u = e.do(http.StatusOK, "GET", "/admin/users/bob", "")
	if u["admin"] != false || u["disabled"] != true || u["email"] != "bob@example.com" || strings.Join(toStrings(u["permissions"]), " ") != "REPO_WRITE" {
		t.Errorf("edited user: got %v", u)
	}
	if r := e.post(cookie, "/console/users/bob", url.Values{"csrf": {csrf}, "email": {"not an address"}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="email-error">Email must be an address like name@example.com.`) {
		t.Errorf("bad email: got %d", r.status)
	}
	// An administrator cannot lock themselves out.
	if r := e.post(cookie, "/console/users/alice", url.Values{"csrf": {csrf}}); r.status != http.StatusUnprocessableEntity {
		t.Errorf("self-demotion: got %d, want 422", r.status)
	}
	if u := e.do(http.StatusOK, "GET", "/admin/users/alice", ""); u["admin"] != true {
		t.Errorf("alice lost the administrator flag")
	}
	// Password.
	if r := e.post(cookie, "/console/users/bob/password", url.Values{"csrf": {csrf}, "new_password": {"short"}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="new_password-error">New password must be at least 8 bytes long.`) {
		t.Errorf("short password: got %d", r.status)
	}
	if r := e.post(cookie, "/console/users/bob/password", url.Values{"csrf": {csrf}, "new_password": {"a new long password"}}); r.status != http.StatusSeeOther {
		t.Errorf("password: got %d", r.status)
	}
	if a := e.audits("user_updated"); len(a) != 2 || toStrings(a[1]["fields"])[0] != "password" {
		t.Errorf("got %v, want the password change audited", a)
	}
	// Revoke everything.
	if r := e.post(cookie, "/console/users/bob/revoke", url.Values{"csrf": {csrf}}); r.status != http.StatusSeeOther || r.location() != "/console/users/bob?revoked=1" {
		t.Errorf("revoke: got %d to %q", r.status, r.location())
	}
	if a := e.audits("user_grants_revoked"); len(a) != 1 || a[0]["principal"] != "alice" {
		t.Errorf("got %v, want user_grants_revoked by alice", a)
	}
	// Delete: the confirmation names the user; not oneself.
	if r := e.get(cookie, "/console/users/bob/delete"); !strings.Contains(r.body, "Delete the user bob?") {
		t.Errorf("delete page: want it to name the user")
	}
	if r := e.post(cookie, "/console/users/alice/delete", url.Values{"csrf": {csrf}}); r.status != http.StatusConflict {
		t.Errorf("delete oneself: got %d, want 409", r.status)
	}
	if r := e.post(cookie, "/console/users/bob/delete", url.Values{"csrf": {csrf}}); r.status != http.StatusSeeOther || r.location() != "/console/users?deleted=1" {
		t.Fatalf("delete: got %d to %q", r.status, r.location())
	}
	e.do(http.StatusNotFound, "GET", "/admin/users/bob", "")
	if r := e.get(cookie, "/console/users/bob"); r.status != http.StatusNotFound || !strings.Contains(r.body, "No user with this username.") {
		t.Errorf("deleted user: got %d", r.status)
	}
}

// TestConsoleKeys: the keys page and the rotation, which needs a fresh
// confirmation and is audited with the administrator's name.
func TestConsoleKeys(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	cookie, csrf := e.signIn("alice", time.Minute)
	if r := e.get(cookie, "/console/keys"); r.status != http.StatusOK || !strings.Contains(r.body, "No signing key yet") || !strings.Contains(r.body, "Rotate signing key") {
		t.Fatalf("keys page: got %d", r.status)
	}
	if r := e.post(cookie, "/console/keys/rotate", url.Values{"csrf": {csrf}}); r.status != http.StatusSeeOther || r.location() != "/console/keys?rotated=1" {
		t.Fatalf("rotate: got %d to %q", r.status, r.location())
	}
	if len(e.keys.keeps) != 1 || e.keys.keeps[0] != e.cfg.AccessTokenTTL+keyOverlap {
		t.Errorf("got rotations %v, want one keeping ACCESS_TOKEN_TTL+5m", e.keys.keeps)
	}
	if a := e.audits("signing_key_rotated"); len(a) != 1 || a[0]["principal"] != "alice" || a[0]["via"] != "console" {
		t.Errorf("got %v", a)
	}
	old, oldCSRF := e.signIn("alice", ConfirmTTL)
	if r := e.post(old, "/console/keys/rotate", url.Values{"csrf": {oldCSRF}}); r.status != http.StatusSeeOther || r.location() != "/console/confirm?return_to=%2Fconsole%2Fkeys" {
		t.Errorf("unconfirmed rotation: got %d to %q", r.status, r.location())
	}
	if len(e.keys.keeps) != 1 {
		t.Errorf("an unconfirmed rotation rotated")
	}
}
