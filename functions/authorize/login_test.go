package authorize

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store"
)

// loginForm returns a browser that has seen the login page of a valid
// authorization request, and that page's form.
func loginForm(t *testing.T, e *env) (*browser, htmlForm) {
	t.Helper()
	b := e.browser()
	r := b.get(authorizeURL(nil))
	return b, parsePage(t, r.body).form(t, "/oauth2/login")
}

// errorText returns the page's alert message.
func errorText(t *testing.T, r *response) string {
	t.Helper()
	i := strings.Index(r.body, `role="alert">`)
	if i < 0 {
		return ""
	}
	rest := r.body[i+len(`role="alert">`):]
	return rest[:strings.Index(rest, "<")]
}

// TestLoginFailures: every kind of failed sign-in answers the same status
// and the same message, and starts no session.
func TestLoginFailures(t *testing.T) { testLoginFailures(t, newEnv) }

func testLoginFailures(t *testing.T, mk mkEnv) {
	e := mk(t)
	tests := []struct{ name, user, pw string }{
		{"wrong password", "alice", "nope"},
		{"unknown user", "mallory", "nope"},
		{"unknown user, alice's password", "mallory", alicePass},
		{"disabled user", "bob", alicePass},
		{"empty password", "alice", ""},
		{"empty username", "", alicePass},
	}
	var first string
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, f := loginForm(t, e)
			r := b.submit(f, "", map[string]string{"username": tc.user, "password": tc.pw})
			if r.status != http.StatusOK {
				t.Errorf("status = %d, want 200", r.status)
			}
			if l := r.header.Get("Location"); l != "" {
				t.Errorf("Location = %q, want none", l)
			}
			for _, c := range (&http.Response{Header: r.header}).Cookies() {
				if c.Name == "session" && c.MaxAge >= 0 {
					t.Errorf("failed login set a session cookie")
				}
			}
			msg := errorText(t, r)
			if msg != msgLoginFailed {
				t.Errorf("message = %q, want %q", msg, msgLoginFailed)
			}
			if first == "" {
				first = msg
			} else if msg != first {
				t.Errorf("message = %q, want the same as before %q", msg, first)
			}
			p := checkPage(t, r)
			lf := p.form(t, "/oauth2/login")
			if rt, _ := lf.get("return_to"); rt != mustGet(t, f, "return_to") {
				t.Errorf("return_to = %q, want it kept", rt)
			}
		})
	}
	if e.fake != nil && len(e.fake.sessions) != 0 {
		t.Errorf("got %d sessions, want 0", len(e.fake.sessions))
	}
}

func mustGet(t *testing.T, f htmlForm, name string) string {
	t.Helper()
	v, ok := f.get(name)
	if !ok {
		t.Fatalf("form has no %s", name)
	}
	return v
}

// TestLoginThrottle: after 5 failures in 15 minutes even the right password
// is refused, with the same message; unknown usernames are counted too.
func TestLoginThrottle(t *testing.T) { testLoginThrottle(t, newEnv) }

func testLoginThrottle(t *testing.T, mk mkEnv) {
	for _, user := range []string{"alice", "ghost"} {
		t.Run(user, func(t *testing.T) {
			e := mk(t)
			b, f := loginForm(t, e)
			for i := range MaxLoginFailures {
				r := b.submit(f, "", map[string]string{"username": user, "password": "wrong"})
				if r.status != http.StatusOK || errorText(t, r) != msgLoginFailed {
					t.Fatalf("failure %d: status %d message %q, want 200 %q", i+1, r.status, errorText(t, r), msgLoginFailed)
				}
			}
			if ok, err := e.store.ReserveLoginAttempt(context.Background(), user, MaxLoginFailures, LoginWindow, e.clock.Now()); ok || err != nil {
				t.Errorf("after %d failures: a further attempt got (%v, %v), want refused", MaxLoginFailures, ok, err)
			}
			if user != "alice" {
				return
			}
			r := b.submit(f, "", map[string]string{"username": "alice", "password": alicePass})
			if r.status != http.StatusOK || errorText(t, r) != msgLoginFailed {
				t.Fatalf("throttled login: status %d message %q, want 200 %q", r.status, errorText(t, r), msgLoginFailed)
			}
			e.clock.Add(LoginWindow + time.Second)
			r = b.submit(f, "", map[string]string{"username": "alice", "password": alicePass})
			if r.status != http.StatusSeeOther {
				t.Fatalf("login after the window: status %d, want 303", r.status)
			}
			if !clearedCount(t, e, "alice") {
				t.Errorf("failures not cleared by the login after the window")
			}
			// Within a window, a success forgets the earlier failures.
			b, f = loginForm(t, e)
			b.submit(f, "", map[string]string{"username": "alice", "password": "wrong"})
			f = parsePage(t, b.get(authorizeURL(map[string]string{"prompt": "login"})).body).form(t, "/oauth2/login")
			if r := b.submit(f, "", map[string]string{"username": "alice", "password": alicePass}); r.status != http.StatusSeeOther {
				t.Fatalf("login: status %d, want 303", r.status)
			}
			if !clearedCount(t, e, "alice") {
				t.Errorf("failures not cleared after a successful login")
			}
		})
	}
}

// clearedCount reports whether no attempt of username is counted: a window
// of one attempt still has room. It clears what it counted.
func clearedCount(t *testing.T, e *env, username string) bool {
	t.Helper()
	ok, err := e.store.ReserveLoginAttempt(context.Background(), username, 1, LoginWindow, e.clock.Now())
	if err != nil {
		t.Fatalf("ReserveLoginAttempt: %v", err)
	}
	if err := e.store.ClearLoginFailures(context.Background(), username); err != nil {
		t.Fatalf("ClearLoginFailures: %v", err)
	}
	return ok
}

// TestLoginCSRF: the double-submit token must match; Origin does not matter.
func TestLoginCSRF(t *testing.T) { testLoginCSRF(t, newEnv) }

func testLoginCSRF(t *testing.T, mk mkEnv) {
	e := mk(t)
	tests := []struct {
		name       string
		freshJar   bool // post without the login_csrf cookie
		set        map[string]string
		origin     string
		wantStatus int
	}{
		{"right token, Origin null", false, nil, "null", http.StatusSeeOther},
		{"right token, foreign Origin", false, nil, "https://elsewhere.example", http.StatusSeeOther},
		{"wrong token", false, map[string]string{"csrf": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, "", http.StatusForbidden},
		{"missing token", false, map[string]string{"csrf": ""}, "", http.StatusForbidden},
		{"missing cookie", true, nil, "", http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, f := loginForm(t, e)
			if tc.freshJar {
				b = e.browser()
			}
			v := url.Values{}
			for _, in := range f.Inputs {
				v.Set(in.Name, in.Value)
			}
			v.Set("username", "alice")
			v.Set("password", alicePass)
			for k, val := range tc.set {
				if val == "" {
					v.Del(k)
				} else {
					v.Set(k, val)
				}
			}
			var hdr []string
			if tc.origin != "" {
				hdr = []string{"Origin", tc.origin}
			}
			r := b.post("/oauth2/login", v, hdr...)
			if r.status != tc.wantStatus {
				t.Fatalf("status = %d, want %d", r.status, tc.wantStatus)
			}
			if tc.wantStatus == http.StatusForbidden {
				if l := r.header.Get("Location"); l != "" {
					t.Errorf("Location = %q, want none", l)
				}
				checkPage(t, r).form(t, "/oauth2/login") // a fresh form to try again
				return
			}
			if got, want := r.header.Get("Location"), mustGet(t, f, "return_to"); got != want {
				t.Errorf("Location = %q, want %q", got, want)
			}
		})
	}
}

// TestLoginReturnTo: the login form only returns to local pages.
func TestLoginReturnTo(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		returnTo   string
		wantStatus int
	}{
		{"/account/authorizations", http.StatusSeeOther},
		{"/oauth2/authorize?client_id=x", http.StatusSeeOther},
		{"/rest/oauth2/latest/authorize?client_id=x", http.StatusSeeOther},
		{"https://evil.example.com/", http.StatusBadRequest},
		{"//evil.example.com/oauth2/authorize?x", http.StatusBadRequest},
		{"/\\evil.example.com", http.StatusBadRequest},
		{"/oauth2/authorize", http.StatusBadRequest},
		{"/account/authorizations/../../x", http.StatusBadRequest},
		{"/oauth2/authorize?a=b\r\nSet-Cookie: x=y", http.StatusBadRequest},
		{"", http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.returnTo, func(t *testing.T) {
			b, f := loginForm(t, e)
			r := b.submit(f, "", map[string]string{"username": "alice", "password": alicePass, "return_to": tc.returnTo})
			if r.status != tc.wantStatus {
				t.Fatalf("status = %d, want %d", r.status, tc.wantStatus)
			}
			if tc.wantStatus == http.StatusSeeOther {
				if got := r.header.Get("Location"); got != tc.returnTo {
					t.Errorf("Location = %q, want %q", got, tc.returnTo)
				}
			} else if l := r.header.Get("Location"); l != "" {
				t.Errorf("Location = %q, want none", l)
			}
		})
	}
}

// TestSessionCookie: attributes by issuer, the session stored hashed with
// its CSRF token and 8-hour lifetime.
func TestSessionCookie(t *testing.T) {
	tests := []struct {
		issuer     string
		wantName   string
		wantCSRF   string
		wantSecure bool
	}{
		{"http://127.0.0.1:8080", "session", "login_csrf", false},
		{"http://localhost:8080", "session", "login_csrf", false},
		{"http://[::1]:8080", "session", "login_csrf", false},
		{"https://auth.example.com", "__Host-session", "__Host-login_csrf", true},
	}
	for _, tc := range tests {
		t.Run(tc.issuer, func(t *testing.T) {
			e := newEnv(t, func(c *config.Config) { c.Issuer = tc.issuer })
			// The login page sets the double-submit cookie.
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, authorizeURL(nil), nil))
			var csrf *http.Cookie
			for _, c := range rec.Result().Cookies() {
				if c.Name == tc.wantCSRF {
					csrf = c
				}
			}
			if csrf == nil || csrf.Secure != tc.wantSecure || !csrf.HttpOnly || csrf.Path != "/" {
				t.Fatalf("csrf cookie = %+v, want %s HttpOnly Path=/ Secure=%v", csrf, tc.wantCSRF, tc.wantSecure)
			}
			form := url.Values{"username": {"alice"}, "password": {alicePass}, "return_to": {accountPath}, "csrf": {csrf.Value}}
			req := httptest.NewRequest(http.MethodPost, "/oauth2/login", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(&http.Cookie{Name: tc.wantCSRF, Value: csrf.Value})
			rec = httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			if rec.Code != http.StatusSeeOther {
				t.Fatalf("login status = %d, want 303", rec.Code)
			}
			var sc *http.Cookie
			for _, c := range rec.Result().Cookies() {
				if c.Name == tc.wantName {
					sc = c
				}
			}
			if sc == nil {
				t.Fatalf("no %s cookie in %v", tc.wantName, rec.Result().Header["Set-Cookie"])
			}
			if sc.Secure != tc.wantSecure || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" || sc.Domain != "" {
				t.Errorf("session cookie = %+v, want HttpOnly SameSite=Lax Path=/ Secure=%v", sc, tc.wantSecure)
			}
			s, ok := e.fake.sessions[shared.HashToken(sc.Value)]
			if !ok {
				t.Fatalf("session not stored under the hash of its cookie")
			}
			if s.UserID != aliceID || len(s.CSRF) != 43 || !s.ExpiresAt.Equal(e.clock.Now().Add(8*time.Hour)) {
				t.Errorf("session = %+v, want alice, a 43-character CSRF token, 8h lifetime", s)
			}
			if len(sc.Value) != 43 {
				t.Errorf("session id length = %d, want 43 (256 bits)", len(sc.Value))
			}
		})
	}
}

// TestLoginReplacesSession: signing in again ends the previous session.
func TestLoginReplacesSession(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.flow(authorizeURL(nil))
	r := b.get(authorizeURL(map[string]string{"prompt": "login"}))
	if next := b.signIn(r, "alice", alicePass); next.status != http.StatusSeeOther {
		t.Fatalf("second login: status %d, want 303", next.status)
	}
	if n := len(e.fake.sessions); n != 1 {
		t.Errorf("got %d sessions, want 1", n)
	}
}

// TestMethodsAndPaths: wrong methods are 405 with Allow, unknown paths 404,
// both as pages.
func TestMethodsAndPaths(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		method, path string
		status       int
		allow        string
	}{
		{http.MethodPut, "/oauth2/authorize", http.StatusMethodNotAllowed, "GET, POST"},
		{http.MethodPut, "/oauth2/login", http.StatusMethodNotAllowed, "GET, HEAD, POST"},
		{http.MethodGet, "/oauth2/login", http.StatusBadRequest, ""},
		{http.MethodGet, "/oauth2/consent", http.StatusMethodNotAllowed, "POST"},
		{http.MethodPut, "/oauth2/logout", http.StatusMethodNotAllowed, "GET, POST"},
		{http.MethodDelete, "/account/authorizations", http.StatusMethodNotAllowed, "GET"},
		{http.MethodGet, "/account/authorizations/x/revoke", http.StatusMethodNotAllowed, "POST"},
		{http.MethodPost, "/account/authorizations//revoke", http.StatusNotFound, ""},
		{http.MethodGet, "/account/authorizations/x", http.StatusNotFound, ""},
		{http.MethodGet, "/elsewhere", http.StatusNotFound, ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.status {
				t.Errorf("status = %d, want %d", rec.Code, tc.status)
			}
			if got := rec.Header().Get("Allow"); got != tc.allow {
				t.Errorf("Allow = %q, want %q", got, tc.allow)
			}
			checkPage(t, &response{status: rec.Code, header: rec.Header(), body: rec.Body.String()})
		})
	}
}

// TestLoginBadForm: a login post that is not a form is a 400 page.
func TestLoginBadForm(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ ct, body string }{
		{"application/json", `{"username":"alice"}`},
		{"application/x-www-form-urlencoded", "username=a&username=b&return_to=%2Faccount%2Fauthorizations"},
	} {
		req := httptest.NewRequest(http.MethodPost, "/oauth2/login", strings.NewReader(tc.body))
		req.Header.Set("Content-Type", tc.ct)
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s %q: status = %d, want 400", tc.ct, tc.body, rec.Code)
		}
	}
}

// TestLoginFormForReturnTo: GET /oauth2/login renders the sign-in form for
// a return_to the login accepts (the console's pages), a sign-in there
// goes back to it, a signed-in user goes straight there, and any other
// return_to is a 400 page, never a redirect elsewhere.
func TestLoginFormForReturnTo(t *testing.T) {
	e := newEnv(t)
	for _, bad := range []string{"", "https://evil.example/console/", "//evil.example/console/", "/consolex", "/console/\\x", "/elsewhere"} {
		r := e.browser().get("/oauth2/login?return_to=" + url.QueryEscape(bad))
		if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
			t.Errorf("return_to %q: got %d (Location %q), want a 400 page", bad, r.status, r.header.Get("Location"))
		}
	}
	if r := e.browser().get("/oauth2/login?return_to=%2Faccount%2Fauthorizations&return_to=%2Faccount%2Fauthorizations"); r.status != http.StatusBadRequest {
		t.Errorf("repeated return_to: got %d, want 400", r.status)
	}
	// The console signs its administrators in itself: this page never
	// leads there, so a session of the end users' pages cannot be steered
	// into it.
	for _, console := range []string{"/console/links", "/console/links/x?after=y", "/console"} {
		if r := e.browser().get("/oauth2/login?return_to=" + url.QueryEscape(console)); r.status != http.StatusBadRequest {
			t.Errorf("return_to %q: got %d, want a 400 page", console, r.status)
		}
	}
	b := e.browser()
	r := b.get("/oauth2/login?return_to=" + url.QueryEscape(accountPath))
	if r.status != http.StatusOK {
		t.Fatalf("got %d, want the form", r.status)
	}
	f := checkPage(t, r).form(t, "/oauth2/login")
	if v, _ := f.get("return_to"); v != accountPath {
		t.Errorf("got return_to %q in the form, want the account page", v)
	}
	r = b.submit(f, "", map[string]string{"username": "alice", "password": alicePass})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != accountPath {
		t.Fatalf("sign-in: got %d to %q, want 303 to the account page", r.status, r.header.Get("Location"))
	}
	r = b.get("/oauth2/login?return_to=" + url.QueryEscape(accountPath))
	if r.status != http.StatusSeeOther || r.header.Get("Location") != accountPath {
		t.Errorf("signed in: got %d to %q, want 303 to the account page", r.status, r.header.Get("Location"))
	}
}

// TestLoginUsernameCase: usernames are unique regardless of letter case, so
// a username typed in another case signs the same user in (same id), and
// its failures count in the same window.
func TestLoginUsernameCase(t *testing.T) { testLoginUsernameCase(t, newEnv) }

func testLoginUsernameCase(t *testing.T, mk mkEnv) {
	e := mk(t)
	for _, name := range []string{"ALICE", "Alice"} {
		t.Run("sign in as "+name, func(t *testing.T) {
			b, f := loginForm(t, e)
			r := b.submit(f, "", map[string]string{"username": name, "password": alicePass})
			if r.status != http.StatusSeeOther {
				t.Fatalf("login as %s: status %d message %q, want 303", name, r.status, errorText(t, r))
			}
			s, err := e.store.GetSession(context.Background(), shared.HashToken(b.sessionCookie()), e.clock.Now())
			if err != nil || s.UserID != aliceID {
				t.Fatalf("session = %+v (%v), want alice's id %s", s, err, aliceID)
			}
			consent := b.get(r.header.Get("Location"))
			if p := parsePage(t, consent.body); !strings.Contains(p.Text, "alice") || strings.Contains(p.Text, name) {
				t.Errorf("consent page text %q, want the stored username alice", p.Text)
			}
		})
	}
	t.Run("throttled in one window", func(t *testing.T) {
		b, f := loginForm(t, e)
		names := []string{"alice", "ALICE", "Alice", "aLiCe", "ALICE"}
		for i := range MaxLoginFailures {
			r := b.submit(f, "", map[string]string{"username": names[i%len(names)], "password": "wrong"})
			if r.status != http.StatusOK || errorText(t, r) != msgLoginFailed {
				t.Fatalf("failure %d: status %d, want 200 %q", i+1, r.status, msgLoginFailed)
			}
		}
		for _, name := range []string{"alice", "ALICE"} {
			r := b.submit(f, "", map[string]string{"username": name, "password": alicePass})
			if r.status != http.StatusOK || errorText(t, r) != msgLoginFailed {
				t.Errorf("right password as %s after %d failures in other cases: status %d, want 200 %q",
					name, MaxLoginFailures, r.status, msgLoginFailed)
			}
		}
		if ok, err := e.store.ReserveLoginAttempt(context.Background(), "AlIcE", MaxLoginFailures, LoginWindow, e.clock.Now()); ok || err != nil {
			t.Errorf("a further attempt as AlIcE got (%v, %v), want refused", ok, err)
		}
	})
}

// TestLoginLookAlikeUsername: a username outside the username alphabet
// signs no one in. "\u212Aim" (U+212A KELVIN SIGN, which Unicode lowers to
// an ASCII k) with kim's right password gets the usual failure, like the
// other look-alikes, and no session. Such a name is refused before any
// lookup, and its failures count against no user: after more look-alike
// attempts than the per-username limit allows, kim still signs in.
func TestLoginLookAlikeUsername(t *testing.T) { testLoginLookAlikeUsername(t, newEnv) }

func testLoginLookAlikeUsername(t *testing.T, mk mkEnv) {
	e := mk(t)
	const kimID = "kimKKKKKKKKKKKKKKKKKKK"
	made := e.clock.Now().Add(-time.Minute)
	e.store.addUser(store.User{ID: kimID, Username: "kim", PasswordHash: aliceHash(), Permissions: []string{"REPO_WRITE"}, CreatedAt: made, UpdatedAt: made})
	lookAlikes := []string{"\u212Aim", "\u212AIM", "\uff4bim", "k\u0131m", "kim\u200b"}
	for i := range MaxLoginFailures + 1 {
		name := lookAlikes[i%len(lookAlikes)]
		b, f := loginForm(t, e)
		r := b.submit(f, "", map[string]string{"username": name, "password": alicePass})
		if r.status != http.StatusOK || errorText(t, r) != msgLoginFailed || b.sessionCookie() != "" {
			t.Errorf("sign-in as %q with kim's password: status %d (Location %q), want 200 %q and no session",
				name, r.status, r.header.Get("Location"), msgLoginFailed)
		}
	}
	b, f := loginForm(t, e)
	r := b.submit(f, "", map[string]string{"username": "KIM", "password": alicePass})
	if r.status != http.StatusSeeOther {
		t.Fatalf("kim after %d look-alike attempts: status %d message %q, want 303 (look-alikes count against no one)",
			MaxLoginFailures+1, r.status, errorText(t, r))
	}
	if s, err := e.store.GetSession(context.Background(), shared.HashToken(b.sessionCookie()), e.clock.Now()); err != nil || s.UserID != kimID {
		t.Errorf("session = %+v (%v), want kim's", s, err)
	}
}
