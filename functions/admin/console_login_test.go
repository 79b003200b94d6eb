package admin

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/functions/authorize"
	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
	"github.com/applinks/applinks/shared/store/table"
)

// consoleBrowser is a browser's cookie jar for the console's sign-in.
type consoleBrowser struct {
	e       *consoleEnv
	cookies map[string]*http.Cookie
}

func (e *consoleEnv) browser() *consoleBrowser {
	return &consoleBrowser{e: e, cookies: map[string]*http.Cookie{}}
}

func (b *consoleBrowser) do(r *http.Request) resp {
	b.e.t.Helper()
	for _, c := range b.cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	b.e.h.ServeHTTP(w, r)
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	out := resp{status: w.Code, header: w.Header(), body: w.Body.String()}
	checkConsoleHeaders(b.e.t, r.Method+" "+r.URL.String(), out)
	return out
}

func (b *consoleBrowser) get(path string) resp {
	return b.do(httptest.NewRequest(http.MethodGet, path, nil))
}

func (b *consoleBrowser) post(path string, form url.Values) resp {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(r)
}

var hiddenCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfOf is the CSRF token of the first form of a page.
func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := hiddenCSRF.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token on the page: %s", body)
	}
	return m[1]
}

// signInForm opens the console's sign-in page and posts username and pw.
func (b *consoleBrowser) signInForm(returnTo, username, pw string) resp {
	b.e.t.Helper()
	r := b.get(consoleLoginPath + "?return_to=" + url.QueryEscape(returnTo))
	if r.status != http.StatusOK {
		b.e.t.Fatalf("sign-in page: got %d", r.status)
	}
	return b.post(consoleLoginPath, url.Values{"csrf": {csrfOf(b.e.t, r.body)}, "return_to": {returnTo}, "username": {username}, "password": {pw}})
}

// TestConsoleLogin: the console's own sign-in page and cookie; every
// failure is one message; sign-out ends the session.
func TestConsoleLogin(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	e.user("bob", false)

	b := e.browser()
	r := b.get("/console/users")
	if r.status != http.StatusSeeOther || r.location() != "/console/login?return_to=%2Fconsole%2Fusers" {
		t.Fatalf("signed out: got %d to %q, want the console's sign-in", r.status, r.location())
	}
	r = b.get(r.location())
	if r.status != http.StatusOK || !strings.Contains(r.body, `<form method="post" action="/console/login"`) ||
		!strings.Contains(r.body, `name="return_to" value="/console/users"`) {
		t.Fatalf("sign-in page: got %d %s", r.status, r.body)
	}
	lc := b.cookies["console_login"]
	if lc == nil || lc.SameSite != http.SameSiteStrictMode || !lc.HttpOnly {
		t.Fatalf("sign-in form cookie: got %+v, want console_login, HttpOnly, SameSite=Strict", lc)
	}
	// Without the form's cookie, or with another token, nothing is checked.
	if r := e.browser().post(consoleLoginPath, url.Values{"csrf": {csrfOf(t, r.body)}, "username": {"alice"}, "password": {consolePass}}); r.status != http.StatusForbidden {
		t.Errorf("no form cookie: got %d, want 403", r.status)
	}
	// Every failure looks alike: unknown, wrong password, not an
	// administrator, a look-alike letter.
	for _, tc := range []struct{ user, pw string }{
		{"nobody", consolePass}, {"alice", "wrong password"}, {"bob", consolePass}, {"\u212Alice", consolePass},
	} {
		r := e.browser().signInForm("/console/links", tc.user, tc.pw)
		if r.status != http.StatusOK || !strings.Contains(r.body, msgConsoleLoginFailed) {
			t.Errorf("sign in as %q: got %d, want the one failure message", tc.user, r.status)
		}
	}
	if n := strings.Count(e.logText(), "console_signed_in"); n != 0 {
		t.Fatalf("got %d sign-ins from failures", n)
	}
	r = b.signInForm("/console/users", "alice", consolePass)
	if r.status != http.StatusSeeOther || r.location() != "/console/users" {
		t.Fatalf("sign in: got %d to %q, want /console/users", r.status, r.location())
	}
	c := b.cookies["console"]
	if c == nil || c.SameSite != http.SameSiteStrictMode || !c.HttpOnly || c.MaxAge != int(ConsoleSessionTTL/time.Second) {
		t.Fatalf("session cookie: got %+v, want console, HttpOnly, SameSite=Strict, %v", c, ConsoleSessionTTL)
	}
	if b.cookies["console_login"] != nil {
		t.Errorf("the sign-in form's cookie outlives the sign-in")
	}
	if a := e.audits("console_signed_in"); len(a) != 1 || a[0]["username"] != "alice" {
		t.Errorf("got %v, want one console_signed_in for alice", a)
	}
	r = b.get("/console/users")
	if r.status != http.StatusOK {
		t.Fatalf("signed in: got %d", r.status)
	}
	// Signed in, the sign-in page goes where it would have led; a foreign
	// return_to leads to the links.
	if r := b.get("/console/login?return_to=https%3A%2F%2Fevil.example%2F"); r.status != http.StatusSeeOther || r.location() != "/console/links" {
		t.Errorf("signed in, foreign return_to: got %d to %q", r.status, r.location())
	}
	// Sign out needs the session's CSRF token.
	csrf := csrfOf(t, r.body)
	if r := b.post(consoleLogoutPath, url.Values{"csrf": {"x"}}); r.status != http.StatusForbidden {
		t.Errorf("sign out without the token: got %d, want 403", r.status)
	}
	r = b.post(consoleLogoutPath, url.Values{"csrf": {csrf}})
	if r.status != http.StatusSeeOther || r.location() != "/console/login?signed_out=1" || b.cookies["console"] != nil {
		t.Fatalf("sign out: got %d to %q (cookie %v)", r.status, r.location(), b.cookies["console"])
	}
	if r := b.get(r.location()); !strings.Contains(r.body, msgConsoleSignedOut) {
		t.Errorf("after signing out: the page does not say so")
	}
	// The old cookie names no session any more.
	if r := e.get(c.Value, "/console/users"); r.status != http.StatusSeeOther {
		t.Errorf("the signed-out cookie: got %d, want the sign-in", r.status)
	}
}

// TestConsoleIdleTimeout: a session ends ConsoleIdle after its last
// request, and ConsoleSessionTTL after the sign-in however busy.
func TestConsoleIdleTimeout(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	cookie, _ := e.signIn("alice", 0)
	// Busy: a request every 20 minutes keeps it open...
	for range int(ConsoleSessionTTL/(20*time.Minute)) - 1 {
		e.clock.Add(20 * time.Minute)
		if r := e.get(cookie, "/console/links"); r.status != http.StatusOK {
			t.Fatalf("after %v of use: got %d, want the page", 20*time.Minute, r.status)
		}
	}
	// ...until the absolute end.
	e.clock.Add(20 * time.Minute)
	if r := e.get(cookie, "/console/links"); r.status != http.StatusSeeOther {
		t.Errorf("after ConsoleSessionTTL: got %d, want the sign-in", r.status)
	}
	// Idle: one more second than ConsoleIdle ends it.
	cookie, _ = e.signIn("alice", 0)
	e.clock.Add(ConsoleIdle - time.Second)
	if r := e.get(cookie, "/console/links"); r.status != http.StatusOK {
		t.Fatalf("within the idle timeout: got %d", r.status)
	}
	e.clock.Add(ConsoleIdle)
	if r := e.get(cookie, "/console/links"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/console/login?") {
		t.Errorf("idle for ConsoleIdle: got %d to %q, want the sign-in", r.status, r.location())
	}
}

// TestConsoleStaleSessionConfirms: a session (stolen, say) older than
// ConfirmTTL cannot grant power or redirect tokens without the password:
// creating a user (an administrator), changing one's flags, setting a
// password, editing redirect URIs or enabling a link all ask for it, and
// nothing changes; taking access away (disable, revoke) does not ask.
func TestConsoleStaleSessionConfirms(t *testing.T) {
	e := newConsoleEnv(t)
	id := e.apiLink("App")["id"].(string)
	e.user("alice", true)
	e.user("bob", false)
	cookie, csrf := e.signIn("alice", ConfirmTTL+time.Second)
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/console/users/new", url.Values{"username": {"mallory"}, "password": {"a long enough password"}, "admin": {"on"}}},
		{"/console/users/bob", url.Values{"admin": {"on"}, "name": {"Bob"}}},
		{"/console/users/bob/password", url.Values{"new_password": {"a password of mallory"}}},
		{"/console/users/alice/password", url.Values{"new_password": {"a password of mallory"}}},
		{"/console/links/" + id + "/edit", url.Values{"name": {"App"}, "redirect_uri": {"https://evil.example/cb"}}},
		{"/console/links/" + id + "/enable", url.Values{}},
	} {
		tc.form.Set("csrf", csrf)
		r := e.post(cookie, tc.path, tc.form)
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/console/confirm?") {
			t.Errorf("POST %s: got %d to %q, want the confirmation", tc.path, r.status, r.location())
		}
	}
	for _, p := range []string{"/console/links/new", "/console/users/new", "/console/links/" + id + "/edit"} {
		if r := e.get(cookie, p); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/console/confirm?") {
			t.Errorf("GET %s: got %d to %q, want the confirmation first", p, r.status, r.location())
		}
	}
	if _, err := e.st.GetUserByName(context.Background(), "mallory"); !errors.Is(err, shared.ErrNotFound) {
		t.Errorf("mallory: got %v, want no such user", err)
	}
	if u, _ := e.st.GetUserByName(context.Background(), "bob"); u.Admin {
		t.Errorf("bob made an administrator without a confirmation")
	}
	if l := e.do(http.StatusOK, "GET", "/admin/links/"+id, ""); strings.Contains(fmt.Sprint(l["redirect_uris"]), "evil.example") {
		t.Errorf("the link changed without a confirmation: %v", l)
	}
	for _, ev := range []string{"user_created", "user_updated", "link_updated"} {
		if a := e.audits(ev); len(a) != 0 {
			t.Errorf("%s without a confirmation: %v", ev, a)
		}
	}
	// Taking access away needs no confirmation.
	if r := e.post(cookie, "/console/links/"+id+"/disable", url.Values{"csrf": {csrf}}); r.status != http.StatusSeeOther || strings.HasPrefix(r.location(), "/console/confirm") {
		t.Errorf("disable: got %d to %q, want done", r.status, r.location())
	}
	if r := e.post(cookie, "/console/users/bob/revoke", url.Values{"csrf": {csrf}}); r.status != http.StatusSeeOther || strings.HasPrefix(r.location(), "/console/confirm") {
		t.Errorf("revoke: got %d to %q, want done", r.status, r.location())
	}
}

// TestConsoleOwnPassword: one's own password changes only with the
// current one; another user's does not need it.
func TestConsoleOwnPassword(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	e.user("bob", false)
	cookie, csrf := e.signIn("alice", time.Minute)
	if r := e.get(cookie, "/console/users/alice"); !strings.Contains(r.body, `name="current_password"`) {
		t.Errorf("own page: no current password field")
	}
	if r := e.get(cookie, "/console/users/bob"); strings.Contains(r.body, `name="current_password"`) {
		t.Errorf("another user's page asks for the current password")
	}
	for _, cur := range []string{"", "wrong password"} {
		r := e.post(cookie, "/console/users/alice/password", url.Values{"csrf": {csrf}, "current_password": {cur}, "new_password": {"a brand new password"}})
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="current_password-error"`) {
			t.Errorf("current password %q: got %d, want 422 at the field", cur, r.status)
		}
	}
	if a := e.audits("user_updated"); len(a) != 0 {
		t.Fatalf("password changed without the current one: %v", a)
	}
	r := e.post(cookie, "/console/users/alice/password", url.Values{"csrf": {csrf}, "current_password": {consolePass}, "new_password": {"a brand new password"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("with the current password: got %d %s", r.status, r.body)
	}
	if a := e.audits("user_updated"); len(a) != 1 {
		t.Errorf("got %v, want one user_updated", a)
	}
	if r := e.post(cookie, "/console/users/bob/password", url.Values{"csrf": {csrf}, "new_password": {"bob's new password"}}); r.status != http.StatusSeeOther &&
		r.status != http.StatusOK {
		t.Errorf("bob's password: got %d", r.status)
	}
}

// TestConsolePathDecodedOnce: a console path is unescaped once:
// /console/users/%2572oot1 names the user "%72oot1", never root1.
func TestConsolePathDecodedOnce(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	e.user("root1", false)
	cookie, _ := e.signIn("alice", time.Minute)
	if r := e.get(cookie, "/console/users/root1"); r.status != http.StatusOK {
		t.Fatalf("root1: got %d", r.status)
	}
	for _, p := range []string{"/console/users/%2572oot1", "/console/users/%252Froot1"} {
		if r := e.get(cookie, p); r.status != http.StatusNotFound {
			t.Errorf("GET %s: got %d, want 404", p, r.status)
		}
	}
	if r := e.get(cookie, "/console/users/%72oot1"); r.status != http.StatusOK {
		t.Errorf("GET /console/users/%%72oot1: got %d, want root1 (escaped once)", r.status)
	}
}

// TestConsoleSessionOnlyAdminWrites: the console's sessions are items
// only the admin function may write. The authorize function's write
// policy (table.WritePrefixes, as IAM's dynamodb:LeadingKeys enforces it)
// refuses a console session, and the sessions it may write (its own
// sign-in sessions, with the same cookie value and CSRF token) never open
// the console.
func TestConsoleSessionOnlyAdminWrites(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	asAuthorize := e.st.WithDynamoDB(func(db store.DynamoDB) store.DynamoDB {
		return storetest.LeadingKeys(db, table.WritePrefixes["authorize"])
	})
	tok, _ := shared.NewToken(crand.Reader)
	csrf, _ := shared.NewToken(crand.Reader)
	now := e.clock.Now()
	err := asAuthorize.CreateConsoleSession(context.Background(), store.ConsoleSession{ID: shared.HashToken(tok), UserID: "uid-alice",
		CSRF: csrf, CreatedAt: now, ConfirmedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}, ConsoleIdle)
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("a console session under the authorize policy: got %v, want AccessDenied", err)
	}
	if err := asAuthorize.CreateSession(context.Background(), store.Session{ID: shared.HashToken(tok), UserID: "uid-alice",
		CSRF: csrf, CreatedAt: now, ExpiresAt: now.Add(authorize.SessionTTL)}); err != nil {
		t.Fatalf("the authorize function's own session: %v", err)
	}
	for _, name := range []string{"session", "console"} {
		r := httptest.NewRequest(http.MethodGet, "/console/links", nil)
		r.AddCookie(&http.Cookie{Name: name, Value: tok})
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/console/login?") {
			t.Errorf("cookie %s naming an authorize session: got %d to %q, want the console's sign-in", name, w.Code, w.Header().Get("Location"))
		}
	}
	r := e.post(tok, "/console/users/new", url.Values{"csrf": {csrf}, "username": {"mallory"}, "password": {"a long enough password"}, "admin": {"on"}})
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/console/login?") {
		t.Errorf("a post with that session: got %d to %q, want the sign-in", r.status, r.location())
	}
}
