package authorize

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store"
)

func TestNew(t *testing.T) {
	st := newFakeStore()
	tests := []struct {
		name string
		o    Options
		ok   bool
	}{
		{"valid", Options{Store: st, Config: config.Config{Issuer: testIssuer, AuthCodeTTL: time.Minute}}, true},
		{"no store", Options{Config: config.Config{Issuer: testIssuer, AuthCodeTTL: time.Minute}}, false},
		{"no issuer", Options{Store: st, Config: config.Config{AuthCodeTTL: time.Minute}}, false},
		{"relative issuer", Options{Store: st, Config: config.Config{Issuer: "/x", AuthCodeTTL: time.Minute}}, false},
		{"no code ttl", Options{Store: st, Config: config.Config{Issuer: testIssuer}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.o)
			if got := err == nil; got != tc.ok {
				t.Errorf("New: got err %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// TestAuthorizeErrorPage: until client_id and redirect_uri are valid, every
// error is a 400 page, never a redirect.
func TestAuthorizeErrorPage(t *testing.T) { testAuthorizeErrorPage(t, newEnv) }

func testAuthorizeErrorPage(t *testing.T, mk mkEnv) {
	e := mk(t)
	tests := []struct {
		name  string
		query string
	}{
		{"missing client_id", strings.TrimPrefix(authorizeURL(map[string]string{"client_id": ""}), "/oauth2/authorize?")},
		{"unknown client", "client_id=nope&redirect_uri=" + url.QueryEscape(appRedirect) + "&response_type=code&state=s"},
		{"disabled link", "client_id=" + offClient + "&redirect_uri=" + url.QueryEscape("https://off.example.com/cb") + "&response_type=code&state=s"},
		{"resource server", "client_id=" + rsClient + "&response_type=code&state=s"},
		{"mismatched redirect", "client_id=" + appClient + "&redirect_uri=" + url.QueryEscape("https://evil.example.com/cb") + "&response_type=code&state=s"},
		{"redirect differs in case", "client_id=" + appClient + "&redirect_uri=" + url.QueryEscape("https://app.example.com/CB") + "&response_type=code&state=s"},
		{"repeated client_id", "client_id=" + appClient + "&client_id=" + appClient + "&redirect_uri=" + url.QueryEscape(appRedirect) + "&response_type=code&state=s"},
		{"repeated redirect_uri", "client_id=" + appClient + "&redirect_uri=" + url.QueryEscape(appRedirect) + "&redirect_uri=" + url.QueryEscape(appRedirect) + "&response_type=code&state=s"},
		{"empty redirect_uri with one registered", "client_id=" + appClient + "&redirect_uri=&response_type=code&state=s"},
		{"omitted redirect with two registered", "client_id=" + twoClient + "&response_type=code&state=s"},
		// OIDC Core §3.1.2.1: required with openid, even with one registered.
		{"omitted redirect in an OpenID Connect request", "client_id=" + appClient + "&response_type=code&state=s&scope=openid+REPO_READ"},
		{"malformed query", "client_id=" + appClient + "&redirect_uri=%zz&response_type=code"},
		{"invalid response_type before client", "client_id=nope&response_type=token&state=s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.browser().get("/oauth2/authorize?" + tc.query)
			if r.status != http.StatusBadRequest {
				t.Errorf("status = %d, want 400", r.status)
			}
			if l := r.header.Get("Location"); l != "" {
				t.Errorf("Location = %q, want none", l)
			}
			checkPage(t, r)
		})
	}
}

// TestAuthorizeRedirectErrors: once the redirect URI is valid, errors go
// back to the client with error, state and iss (RFC 6749 §4.1.2.1, RFC 9207).
func TestAuthorizeRedirectErrors(t *testing.T) { testAuthorizeRedirectErrors(t, newEnv) }

func testAuthorizeRedirectErrors(t *testing.T, mk mkEnv) {
	e := mk(t, func(c *config.Config) {})
	pkce := mk(t, func(c *config.Config) { c.RequirePKCE = true })
	tests := []struct {
		name      string
		e         *env
		path      string
		base      string
		wantCode  string
		wantState string
	}{
		{"missing response_type", e, authorizeURL(map[string]string{"response_type": ""}), appRedirect, "invalid_request", "st-123"},
		{"token response_type", e, authorizeURL(map[string]string{"response_type": "token"}), appRedirect, "unsupported_response_type", "st-123"},
		{"plain method", e, authorizeURL(map[string]string{"code_challenge": testChallenge, "code_challenge_method": "plain"}), appRedirect, "invalid_request", "st-123"},
		{"challenge without method", e, authorizeURL(map[string]string{"code_challenge": testChallenge}), appRedirect, "invalid_request", "st-123"},
		{"method without challenge", e, authorizeURL(map[string]string{"code_challenge_method": "S256"}), appRedirect, "invalid_request", "st-123"},
		{"malformed challenge", e, authorizeURL(map[string]string{"code_challenge": "short", "code_challenge_method": "S256"}), appRedirect, "invalid_request", "st-123"},
		{"public without challenge", e, "/oauth2/authorize?client_id=" + pubClient + "&response_type=code&state=p", pubRedirect, "invalid_request", "p"},
		{"REQUIRE_PKCE", pkce, authorizeURL(nil), appRedirect, "invalid_request", "st-123"},
		{"unknown scope", e, authorizeURL(map[string]string{"scope": "REPO_READ NOPE"}), appRedirect, "invalid_scope", "st-123"},
		{"malformed scope", e, authorizeURL(map[string]string{"scope": "REPO_READ\"x"}), appRedirect, "invalid_scope", "st-123"},
		{"bad prompt", e, authorizeURL(map[string]string{"prompt": "sometimes"}), appRedirect, "invalid_request", "st-123"},
		{"none with login", e, authorizeURL(map[string]string{"prompt": "none login"}), appRedirect, "invalid_request", "st-123"},
		{"prompt none signed out", e, authorizeURL(map[string]string{"prompt": "none"}), appRedirect, "login_required", "st-123"},
		{"repeated scope", e, authorizeURL(nil) + "&scope=REPO_READ", appRedirect, "invalid_request", "st-123"},
		{"repeated state has no state", e, authorizeURL(nil) + "&state=again", appRedirect, "invalid_request", ""},
		{"no state", e, authorizeURL(map[string]string{"state": "", "response_type": "x"}), appRedirect, "unsupported_response_type", ""},
		{"alias path", e, strings.Replace(authorizeURL(map[string]string{"response_type": "token"}), "/oauth2/authorize", "/rest/oauth2/latest/authorize", 1), appRedirect, "unsupported_response_type", "st-123"},
		{"registered query kept", e, "/oauth2/authorize?client_id=" + queryClient + "&response_type=token&state=q", queryRedir, "unsupported_response_type", "q"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.e.browser().get(tc.path)
			if r.status != http.StatusFound {
				t.Fatalf("status = %d, want 302 (body %.200s)", r.status, r.body)
			}
			loc := r.location(t)
			q := loc.Query()
			if !strings.HasPrefix(loc.String(), tc.base) {
				t.Errorf("Location = %q, want it to start with %q", loc, tc.base)
			}
			if got := q.Get("error"); got != tc.wantCode {
				t.Errorf("error = %q, want %q", got, tc.wantCode)
			}
			if got := q.Get("state"); got != tc.wantState {
				t.Errorf("state = %q, want %q", got, tc.wantState)
			}
			if got := q.Get("iss"); got != testIssuer {
				t.Errorf("iss = %q, want %q", got, testIssuer)
			}
			if q.Has("code") {
				t.Errorf("error redirect carries a code")
			}
		})
	}
}

// TestLoginPage: a valid request without a session shows the login page
// with exactly one form, after every parameter was validated.
func TestLoginPage(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	path := authorizeURL(map[string]string{"code_challenge": testChallenge, "code_challenge_method": "S256"})
	r := b.get(path)
	if r.status != http.StatusOK {
		t.Fatalf("status = %d, want 200", r.status)
	}
	p := checkPage(t, r)
	if len(p.Forms) != 1 {
		t.Fatalf("got %d forms, want 1", len(p.Forms))
	}
	f := p.form(t, "/oauth2/login")
	for _, name := range []string{"username", "password", "return_to", "csrf"} {
		if _, ok := f.get(name); !ok {
			t.Errorf("login form has no %s field", name)
		}
	}
	rt, _ := f.get("return_to")
	u, err := url.Parse(rt)
	if err != nil || u.Path != "/oauth2/authorize" || u.Host != "" {
		t.Fatalf("return_to = %q, want a local authorize path", rt)
	}
	want, _ := url.Parse(path)
	if got, wantQ := u.Query(), want.Query(); fmt.Sprint(got) != fmt.Sprint(wantQ) {
		t.Errorf("return_to query = %v, want %v", got, wantQ)
	}
	tok, _ := f.get("csrf")
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "login_csrf" {
			cookie = c
		}
	}
	if cookie == nil || cookie.Value != tok || !cookie.HttpOnly {
		t.Errorf("login_csrf cookie = %+v, want HttpOnly with the form's token %q", cookie, tok)
	}
	if !strings.Contains(p.Text, "Build <Bot> & Co") {
		t.Errorf("login page does not name the application (text %q)", p.Text)
	}
	if strings.Contains(r.body, "<Bot>") {
		t.Errorf("application name is not escaped")
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://app.example.com") {
		t.Errorf("CSP = %q, want form-action to allow the client origin", csp)
	}
}

// flow signs alice in from an authorization request and returns the page
// that follows (consent page, or a redirect).
func (b *browser) flow(path string) *response {
	b.t.Helper()
	login := b.get(path)
	if login.status != http.StatusOK {
		b.t.Fatalf("GET %s: status %d, want 200 (login page)", path, login.status)
	}
	r := b.signIn(login, "alice", alicePass)
	if r.status != http.StatusSeeOther {
		b.t.Fatalf("login: status %d, want 303 (body %.300s)", r.status, r.body)
	}
	return b.get(r.header.Get("Location"))
}

// TestApprove walks the whole browser flow and checks the stored code.
func TestApprove(t *testing.T) { testApprove(t, newEnv) }

func testApprove(t *testing.T, mk mkEnv) {
	e := mk(t)
	b := e.browser()
	path := authorizeURL(map[string]string{"scope": "", "code_challenge": testChallenge, "code_challenge_method": "S256"})
	consent := b.flow(path)
	if consent.status != http.StatusOK {
		t.Fatalf("consent status = %d, want 200", consent.status)
	}
	p := checkPage(t, consent)
	if len(p.Forms) != 1 {
		t.Fatalf("got %d forms on the consent page, want 1", len(p.Forms))
	}
	f := p.form(t, "/oauth2/consent")
	// Ceiling REPO_ADMIN, alice REPO_WRITE: the page shows the capped scope.
	for _, want := range []string{"Build <Bot> & Co", "app.example.com", "Update projects and repositories", "REPO_WRITE"} {
		if !strings.Contains(p.Text, want) {
			t.Errorf("consent page lacks %q (text %q)", want, p.Text)
		}
	}
	if strings.Contains(p.Text, "Administer repositories") {
		t.Errorf("consent page shows a scope above the user's permissions")
	}
	if csp := consent.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://app.example.com") {
		t.Errorf("CSP = %q, want form-action to allow the client origin", csp)
	}
	var approve, deny bool
	for _, bt := range f.Buttons {
		approve = approve || bt.Name == "decision" && bt.Value == "approve"
		deny = deny || bt.Name == "decision" && bt.Value == "deny"
	}
	if !approve || !deny {
		t.Errorf("consent buttons = %+v, want decision=approve and decision=deny", f.Buttons)
	}
	if _, ok := f.get("scope"); ok {
		t.Errorf("consent form carries a scope the request did not send")
	}

	r := b.submit(f, "decision=approve", nil)
	if r.status != http.StatusSeeOther {
		t.Fatalf("approve: status = %d, want 303 (body %.300s)", r.status, r.body)
	}
	loc := r.location(t)
	q := loc.Query()
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != appRedirect {
		t.Errorf("redirect to %q, want %q", got, appRedirect)
	}
	if q.Get("state") != "st-123" || q.Get("iss") != testIssuer || q.Has("error") {
		t.Errorf("redirect query = %v, want state st-123, iss %s, no error", q, testIssuer)
	}
	code := q.Get("code")
	c, ok := e.store.code(shared.HashToken(code))
	if !ok {
		t.Fatalf("code %q is not stored under its hash", code)
	}
	// The approval created alice's grant for the link (a fresh random id),
	// and the code names it: the code is good only while that grant is.
	g := e.store.grant(aliceID, appClient)
	if len(g.ID) != 22 || !g.Active(g.ID) || g.UserID != aliceID || g.Username != "alice" || g.ClientID != appClient ||
		strings.Join(g.Scope, " ") != "REPO_WRITE" || !g.CreatedAt.Equal(e.clock.Now()) || !g.UpdatedAt.Equal(e.clock.Now()) {
		t.Errorf("grant = %+v, want an active grant of alice for %s with a 22-character id, REPO_WRITE, created now", g, appClient)
	}
	want := store.Code{
		Hash: shared.HashToken(code), ClientID: appClient, RedirectURI: appRedirect, Challenge: testChallenge,
		UserID: aliceID, Scope: []string{"REPO_WRITE"}, GrantID: g.ID, AuthTime: e.clock.Now(),
		CreatedAt: e.clock.Now(), ExpiresAt: e.clock.Now().Add(60 * time.Second),
	}
	if fmt.Sprintf("%+v", c) != fmt.Sprintf("%+v", want) {
		t.Errorf("stored code = %+v, want %+v", c, want)
	}
	if len(code) != 43 {
		t.Errorf("code length = %d, want 43 (256 bits)", len(code))
	}
}

// TestApproveOmittedRedirect: a request without redirect_uri stores "" and
// goes to the one registered URI, merging into its query.
func TestApproveOmittedRedirect(t *testing.T) { testApproveOmittedRedirect(t, newEnv) }

func testApproveOmittedRedirect(t *testing.T, mk mkEnv) {
	e := mk(t)
	b := e.browser()
	consent := b.flow("/oauth2/authorize?client_id=" + queryClient + "&response_type=code&state=x%20y")
	f := parsePage(t, consent.body).form(t, "/oauth2/consent")
	if _, ok := f.get("redirect_uri"); ok {
		t.Errorf("consent form carries a redirect_uri the request did not send")
	}
	r := b.submit(f, "decision=approve", nil)
	loc := r.header.Get("Location")
	if !strings.HasPrefix(loc, queryRedir+"&") {
		t.Fatalf("Location = %q, want %q followed by &", loc, queryRedir)
	}
	u := r.location(t)
	if u.Query().Get("tenant") != "1" || u.Query().Get("state") != "x y" {
		t.Errorf("query = %v, want tenant=1 and state \"x y\"", u.Query())
	}
	c, ok := e.store.code(shared.HashToken(u.Query().Get("code")))
	if !ok || c.RedirectURI != "" || c.Challenge != "" {
		t.Errorf("stored code = %+v (found %v), want RedirectURI and Challenge empty", c, ok)
	}
}

func TestDeny(t *testing.T) { testDeny(t, newEnv) }

func testDeny(t *testing.T, mk mkEnv) {
	e := mk(t)
	b := e.browser()
	consent := b.flow(authorizeURL(nil))
	f := parsePage(t, consent.body).form(t, "/oauth2/consent")
	r := b.submit(f, "decision=deny", nil)
	if r.status != http.StatusSeeOther {
		t.Fatalf("deny: status = %d, want 303", r.status)
	}
	q := r.location(t).Query()
	if q.Get("error") != "access_denied" || q.Get("state") != "st-123" || q.Get("iss") != testIssuer || q.Has("code") {
		t.Errorf("deny redirect query = %v, want error=access_denied, state, iss and no code", q)
	}
	if e.fake != nil && len(e.fake.codes) != 0 {
		t.Errorf("deny stored %d codes, want 0", len(e.fake.codes))
	}
}

// TestConsentPost covers the checks of POST /oauth2/consent.
func TestConsentPost(t *testing.T) { testConsentPost(t, newEnv) }

func testConsentPost(t *testing.T, mk mkEnv) {
	e := mk(t)
	b := e.browser()
	consent := b.flow(authorizeURL(nil))
	f := parsePage(t, consent.body).form(t, "/oauth2/consent")
	tests := []struct {
		name       string
		set        map[string]string
		wantStatus int
		wantError  string // "" with 303: a code
	}{
		{"wrong csrf", map[string]string{"csrf": "x"}, http.StatusForbidden, ""},
		{"missing csrf", map[string]string{"csrf": ""}, http.StatusForbidden, ""},
		{"redirect tampered", map[string]string{"redirect_uri": "https://evil.example.com/cb"}, http.StatusBadRequest, ""},
		{"client tampered", map[string]string{"client_id": "nope"}, http.StatusBadRequest, ""},
		{"scope tampered", map[string]string{"scope": "NOPE"}, http.StatusSeeOther, "invalid_scope"},
		{"challenge tampered", map[string]string{"code_challenge": "bad"}, http.StatusSeeOther, "invalid_request"},
		{"decision missing", map[string]string{"decision": ""}, http.StatusSeeOther, "invalid_request"},
		{"decision unknown", map[string]string{"decision": "maybe"}, http.StatusSeeOther, "invalid_request"},
		{"scope widened is capped", map[string]string{"scope": "SYSTEM_ADMIN"}, http.StatusSeeOther, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := url.Values{}
			for _, in := range f.Inputs {
				v.Set(in.Name, in.Value)
			}
			v.Set("decision", "approve")
			for k, val := range tc.set {
				if val == "" {
					v.Del(k)
				} else {
					v.Set(k, val)
				}
			}
			r := b.post("/oauth2/consent", v, "Origin", "null")
			if r.status != tc.wantStatus {
				t.Fatalf("status = %d, want %d (body %.300s)", r.status, tc.wantStatus, r.body)
			}
			if tc.wantStatus != http.StatusSeeOther {
				if l := r.header.Get("Location"); l != "" {
					t.Errorf("Location = %q, want none", l)
				}
				checkPage(t, r)
				return
			}
			q := r.location(t).Query()
			if got := q.Get("error"); got != tc.wantError {
				t.Errorf("error = %q, want %q", got, tc.wantError)
			}
			if q.Get("state") != "st-123" || q.Get("iss") != testIssuer {
				t.Errorf("query = %v, want state and iss", q)
			}
			if tc.wantError == "" {
				c, ok := e.store.code(shared.HashToken(q.Get("code")))
				if !ok || strings.Join(c.Scope, " ") != "REPO_WRITE" {
					t.Errorf("stored code %+v (found %v), want scope capped to REPO_WRITE", c, ok)
				}
			}
		})
	}
}

// TestConsentPostRepeated: a repeated client_id in the post is the page; a
// repeated state is a redirect.
func TestConsentPostRepeated(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	consent := b.flow(authorizeURL(nil))
	f := parsePage(t, consent.body).form(t, "/oauth2/consent")
	v := url.Values{}
	for _, in := range f.Inputs {
		v.Set(in.Name, in.Value)
	}
	v.Set("decision", "approve")
	body := v.Encode()
	for _, tc := range []struct {
		extra  string
		status int
	}{
		{"&client_id=" + appClient, http.StatusBadRequest},
		{"&state=two", http.StatusSeeOther},
		{"&decision=deny", http.StatusSeeOther},
	} {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/oauth2/consent", strings.NewReader(body+tc.extra))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r := b.do(req)
		if r.status != tc.status {
			t.Errorf("%s: status = %d, want %d", tc.extra, r.status, tc.status)
		}
		if tc.status == http.StatusSeeOther {
			if got := r.location(t).Query().Get("error"); got != "invalid_request" {
				t.Errorf("%s: error = %q, want invalid_request", tc.extra, got)
			}
		}
	}
}

// TestConsentPostSignedOut: a consent post without a session asks to sign
// in again, never issues a code.
func TestConsentPostSignedOut(t *testing.T) {
	e := newEnv(t)
	consent := e.browser().flow(authorizeURL(nil))
	f := parsePage(t, consent.body).form(t, "/oauth2/consent")
	r := e.browser().submit(f, "decision=approve", nil) // a browser without the cookie
	if r.status != http.StatusOK || r.header.Get("Location") != "" {
		t.Fatalf("status = %d, Location %q, want 200 login page", r.status, r.header.Get("Location"))
	}
	p := checkPage(t, r)
	lf := p.form(t, "/oauth2/login")
	if rt, _ := lf.get("return_to"); !strings.HasPrefix(rt, "/oauth2/authorize?") {
		t.Errorf("return_to = %q, want the authorization request", rt)
	}
	if e.fake != nil && len(e.fake.codes) != 0 {
		t.Errorf("stored %d codes, want 0", len(e.fake.codes))
	}
}

// TestEarlierGrant: an active grant that covers the request skips the
// consent page; prompt=consent, a revoked grant or a wider request do not.
func TestEarlierGrant(t *testing.T) { testEarlierGrant(t, newEnv) }

func testEarlierGrant(t *testing.T, mk mkEnv) {
	tests := []struct {
		name      string
		grant     store.Grant
		over      map[string]string
		wantCode  bool
		wantError string
	}{
		{"covering grant", store.Grant{Scope: []string{"REPO_WRITE"}}, nil, true, ""},
		{"covering grant, prompt none", store.Grant{Scope: []string{"REPO_WRITE"}}, map[string]string{"prompt": "none"}, true, ""},
		{"prompt consent", store.Grant{Scope: []string{"REPO_WRITE"}}, map[string]string{"prompt": "consent"}, false, ""},
		{"revoked grant", store.Grant{Scope: []string{"REPO_WRITE"}, Revoked: true}, nil, false, ""},
		{"narrower grant", store.Grant{Scope: []string{"PUBLIC_REPOS"}}, nil, false, ""},
		{"narrower grant, prompt none", store.Grant{Scope: []string{"PUBLIC_REPOS"}}, map[string]string{"prompt": "none"}, false, "consent_required"},
		{"other client", store.Grant{ClientID: pubClient, Scope: []string{"REPO_WRITE"}}, nil, false, ""},
		// A public client cannot be authenticated: its covering grant does
		// not skip the consent page (RFC 8252 §8.6), on another loopback
		// port neither.
		{"public client, covering grant", store.Grant{ClientID: pubClient, Scope: []string{"REPO_READ"}}, pubRequest(nil), false, ""},
		{"public client, covering grant, other port", store.Grant{ClientID: pubClient, Scope: []string{"REPO_READ"}},
			pubRequest(map[string]string{"redirect_uri": "http://127.0.0.1:31337/cb"}), false, ""},
		{"public client, covering grant, prompt none", store.Grant{ClientID: pubClient, Scope: []string{"REPO_READ"}},
			pubRequest(map[string]string{"prompt": "none"}), false, "consent_required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := mk(t)
			g := tc.grant
			g.ID, g.UserID, g.Username = "g1", aliceID, "alice"
			if g.ClientID == "" {
				g.ClientID = appClient
			}
			g.CreatedAt, g.UpdatedAt = e.clock.Now(), e.clock.Now()
			if g.Revoked {
				g.RevokedAt = e.clock.Now()
			}
			e.store.addGrant(g)
			b := e.browser()
			b.flow(authorizeURL(nil)) // sign in; ignore the first answer
			r := b.get(authorizeURL(tc.over))
			switch {
			case tc.wantCode:
				if r.status != http.StatusFound {
					t.Fatalf("status = %d, want 302 with a code", r.status)
				}
				q := r.location(t).Query()
				c, ok := e.store.code(shared.HashToken(q.Get("code")))
				if !ok || q.Get("iss") != testIssuer || q.Get("state") != "st-123" {
					t.Errorf("redirect query = %v, want a stored code with state and iss", q)
				}
				// The code is issued under the remembered grant, which is
				// left as it was.
				if c.GrantID != "g1" || c.UserID != aliceID || strings.Join(c.Scope, " ") != "REPO_READ" {
					t.Errorf("code = %+v, want grant g1, alice, REPO_READ", c)
				}
				if got := e.store.grant(aliceID, appClient); got.ID != "g1" || strings.Join(got.Scope, " ") != "REPO_WRITE" || !got.Active("g1") {
					t.Errorf("grant after a remembered consent = %+v, want g1 unchanged", got)
				}
			case tc.wantError != "":
				if r.status != http.StatusFound {
					t.Fatalf("status = %d, want 302", r.status)
				}
				if got := r.location(t).Query().Get("error"); got != tc.wantError {
					t.Errorf("error = %q, want %q", got, tc.wantError)
				}
			default:
				if r.status != http.StatusOK {
					t.Fatalf("status = %d, want 200 consent page", r.status)
				}
				parsePage(t, r.body).form(t, "/oauth2/consent")
			}
		})
	}
}

// pubRequest is authorizeURL's parameters for the public client, with a
// PKCE challenge, and over on top.
func pubRequest(over map[string]string) map[string]string {
	q := map[string]string{"client_id": pubClient, "redirect_uri": pubRedirect,
		"code_challenge": testChallenge, "code_challenge_method": "S256"}
	for k, v := range over {
		q[k] = v
	}
	return q
}

// TestPromptLogin: prompt=login shows the login page to a signed-in user,
// and signing in leads on to the consent page (no loop).
func TestPromptLogin(t *testing.T) { testPromptLogin(t, newEnv) }

func testPromptLogin(t *testing.T, mk mkEnv) {
	e := mk(t)
	b := e.browser()
	b.flow(authorizeURL(nil))
	r := b.get(authorizeURL(map[string]string{"prompt": "login consent"}))
	if r.status != http.StatusOK {
		t.Fatalf("status = %d, want 200", r.status)
	}
	p := parsePage(t, r.body)
	p.form(t, "/oauth2/login")
	next := b.signIn(r, "alice", alicePass)
	if next.status != http.StatusSeeOther {
		t.Fatalf("login: status = %d, want 303", next.status)
	}
	consent := b.get(next.header.Get("Location"))
	f := parsePage(t, consent.body).form(t, "/oauth2/consent")
	if got, _ := f.get("prompt"); got != "consent" {
		t.Errorf("carried prompt = %q, want consent", got)
	}
}

// TestSignedInUserGone: a session whose user was disabled or deleted counts
// as signed out.
func TestSignedInUserGone(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*fakeStore, time.Time)
	}{
		{"disabled", func(f *fakeStore, _ time.Time) { u := f.user(aliceID); u.Disabled = true; f.addUser(u) }},
		{"deleted", func(f *fakeStore, _ time.Time) { f.deleteUser(aliceID) }},
		// A new password ends the sessions begun before.
		{"credentials changed", func(f *fakeStore, now time.Time) {
			u := f.user(aliceID)
			u.CredentialsChangedAt = now.Add(time.Second)
			f.addUser(u)
		}},
		// A user deleted and created again under the same name is another
		// user (a new id): the old session does not speak for them.
		{"deleted and created again", func(f *fakeStore, now time.Time) {
			u := f.user(aliceID)
			f.deleteUser(aliceID)
			u.ID, u.CreatedAt, u.UpdatedAt, u.CredentialsChangedAt = "alice2AAAAAAAAAAAAAAAA", now, now, now.Add(-time.Hour)
			f.addUser(u)
		}},
		{"session expired", func(*fakeStore, time.Time) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			b := e.browser()
			b.flow(authorizeURL(nil))
			tc.change(e.fake, e.clock.Now())
			if tc.name == "session expired" {
				e.clock.Add(SessionTTL)
			}
			r := b.get(authorizeURL(nil))
			if r.status != http.StatusOK {
				t.Fatalf("status = %d, want 200", r.status)
			}
			parsePage(t, r.body).form(t, "/oauth2/login")
		})
	}
}

// TestStoreFailure: a store failure is a page before the redirect URI is
// known and a redirect after, with nothing internal shown.
func TestStoreFailure(t *testing.T) {
	e := newEnv(t)
	e.fake.setErr(fmt.Errorf("dynamodb: throttled secret-detail: %w", shared.ErrUnavailable))
	r := e.browser().get(authorizeURL(nil))
	if r.status != http.StatusServiceUnavailable || r.header.Get("Location") != "" {
		t.Errorf("status = %d, Location %q, want 503 page", r.status, r.header.Get("Location"))
	}
	if strings.Contains(r.body, "secret-detail") {
		t.Errorf("page shows internal detail")
	}

	e = newEnv(t)
	b := e.browser()
	b.flow(authorizeURL(nil))
	// Fail only after the link and the session were read: the lookup of
	// the session's user and grant.
	f := &failAfterLink{fakeStore: e.fake, err: errors.New("boom secret-detail")}
	e.h.store = f
	r = b.get(authorizeURL(nil))
	if r.status != http.StatusFound {
		t.Fatalf("status = %d, want 302", r.status)
	}
	q := r.location(t).Query()
	if q.Get("error") != "server_error" || q.Get("state") != "st-123" || strings.Contains(r.header.Get("Location"), "secret") {
		t.Errorf("redirect query = %v, want server_error with state and no detail", q)
	}
}

// failAfterLink fails every read of a user (and grant) and every session
// read on its own.
type failAfterLink struct {
	*fakeStore
	err error
}

func (f *failAfterLink) Fetch(ctx context.Context, k store.Keys) (store.Bundle, error) {
	if k.UserID != "" {
		return store.Bundle{}, f.err
	}
	return f.fakeStore.Fetch(ctx, k)
}

func (f *failAfterLink) GetSession(context.Context, string, time.Time) (store.Session, error) {
	return store.Session{}, f.err
}

// TestStoreFailurePages: store failures on sign-in, consent and the account
// page are 503 pages (or JSON) without internal detail and never redirect.
func TestStoreFailurePages(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	login := b.get(authorizeURL(nil))
	lf := parsePage(t, login.body).form(t, "/oauth2/login")
	consentBrowser := e.browser()
	consent := consentBrowser.flow(authorizeURL(nil))
	cf := parsePage(t, consent.body).form(t, "/oauth2/consent")
	accountBrowser, _ := signInAccount(t, e)

	e.fake.setErr(fmt.Errorf("dynamodb: secret-detail: %w", shared.ErrUnavailable))
	tests := []struct {
		name string
		do   func() *response
		json bool
	}{
		{"login", func() *response {
			return b.submit(lf, "", map[string]string{"username": "alice", "password": alicePass})
		}, false},
		{"consent", func() *response { return consentBrowser.submit(cf, "decision=approve", nil) }, false},
		{"account", func() *response { return accountBrowser.get(accountPath) }, false},
		{"account JSON", func() *response { return accountBrowser.get(accountPath, "Accept", "application/json") }, true},
		{"revoke", func() *response {
			return accountBrowser.post("/account/authorizations/"+appClient+"/revoke", url.Values{"csrf": {"x"}})
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.do()
			if r.status != http.StatusServiceUnavailable {
				t.Errorf("status = %d, want 503", r.status)
			}
			if l := r.header.Get("Location"); l != "" {
				t.Errorf("Location = %q, want none", l)
			}
			if strings.Contains(r.body, "secret-detail") || strings.Contains(r.body, "dynamodb") {
				t.Errorf("body shows internal detail: %.200s", r.body)
			}
			if tc.json {
				if !strings.Contains(r.body, `"temporarily_unavailable"`) {
					t.Errorf("body = %s, want temporarily_unavailable", r.body)
				}
				return
			}
			checkPage(t, r)
		})
	}
}

// TestPublicLoopback: a native app with PKCE may use any port on its
// registered loopback URI (RFC 8252 §7.3); the code goes to the port sent.
func TestPublicLoopback(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	sent := "http://127.0.0.1:5555/cb"
	q := url.Values{"client_id": {pubClient}, "redirect_uri": {sent}, "response_type": {"code"},
		"code_challenge": {testChallenge}, "code_challenge_method": {"S256"}}
	consent := b.flow("/rest/oauth2/latest/authorize?" + q.Encode())
	p := checkPage(t, consent)
	if !strings.Contains(p.Text, "127.0.0.1:5555") || !strings.Contains(p.Text, "Desktop App") {
		t.Errorf("consent page lacks the app or its redirect host (text %q)", p.Text)
	}
	if csp := consent.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' http://127.0.0.1:5555;") {
		t.Errorf("CSP = %q, want form-action with http://127.0.0.1:5555", csp)
	}
	r := b.submit(p.form(t, "/oauth2/consent"), "decision=approve", nil)
	loc := r.location(t)
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != sent {
		t.Fatalf("redirect to %q, want %q", got, sent)
	}
	if loc.Query().Has("state") {
		t.Errorf("redirect carries a state the request did not send")
	}
	c, ok := e.store.code(shared.HashToken(loc.Query().Get("code")))
	if !ok || c.RedirectURI != sent || c.Challenge != testChallenge || strings.Join(c.Scope, " ") != "REPO_READ" {
		t.Errorf("stored code = %+v (found %v), want redirect %s, the challenge, REPO_READ", c, ok, sent)
	}
}

// approveOn approves the consent page r and returns the stored code.
func approveOn(t *testing.T, e *env, b *browser, r *response) store.Code {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status = %d, want 200 consent page (body %.300s)", r.status, r.body)
	}
	f := parsePage(t, r.body).form(t, "/oauth2/consent")
	a := b.submit(f, "decision=approve", nil)
	if a.status != http.StatusSeeOther {
		t.Fatalf("approve: status = %d, want 303 (body %.300s)", a.status, a.body)
	}
	return codeOf(t, e, a)
}

// codeOf returns the stored code of the redirect r.
func codeOf(t *testing.T, e *env, r *response) store.Code {
	t.Helper()
	q := r.location(t).Query()
	c, ok := e.store.code(shared.HashToken(q.Get("code")))
	if !ok {
		t.Fatalf("redirect %v carries no stored code", q)
	}
	return c
}

// TestRememberedConsent: once alice approved a request, the next request
// the grant covers skips the consent page: the decision is the one grant
// record read with the user, and the code names that grant. The grant is
// not written again.
func TestRememberedConsent(t *testing.T) { testRememberedConsent(t, newEnv) }

func testRememberedConsent(t *testing.T, mk mkEnv) {
	e := mk(t)
	b := e.browser()
	first := approveOn(t, e, b, b.flow(authorizeURL(map[string]string{"scope": "REPO_WRITE"})))
	g := e.store.grant(aliceID, appClient)
	if !g.Active(first.GrantID) {
		t.Fatalf("grant %+v, want the active grant the code names (%s)", g, first.GrantID)
	}
	e.clock.Add(time.Minute)
	for _, scope := range []string{"REPO_WRITE", "REPO_READ", ""} {
		r := b.get(authorizeURL(map[string]string{"scope": scope, "state": "again"}))
		if r.status != http.StatusFound {
			t.Fatalf("scope %q: status = %d, want 302 with a code (no consent page)", scope, r.status)
		}
		if q := r.location(t).Query(); q.Get("state") != "again" || q.Get("iss") != testIssuer || q.Has("error") {
			t.Errorf("scope %q: redirect query = %v, want state, iss and no error", scope, q)
		}
		c := codeOf(t, e, r)
		if c.GrantID != first.GrantID || c.UserID != aliceID {
			t.Errorf("scope %q: code = %+v, want grant %s of alice", scope, c, first.GrantID)
		}
	}
	if got := e.store.grant(aliceID, appClient); got.ID != g.ID || !got.UpdatedAt.Equal(g.UpdatedAt) || !got.Active(g.ID) {
		t.Errorf("grant after remembered consents = %+v, want %+v unchanged", got, g)
	}
}

// TestReauthorize: approving again updates the one grant of alice for the
// link (same id, first creation time, latest approval time) and its scope
// becomes the union of the approvals, not the latest one.
func TestReauthorize(t *testing.T) { testReauthorize(t, newEnv) }

func testReauthorize(t *testing.T, mk mkEnv) {
	e := mk(t)
	b := e.browser()
	created := e.clock.Now()
	first := approveOn(t, e, b, b.flow(authorizeURL(map[string]string{"scope": "REPO_WRITE"})))
	e.clock.Add(time.Hour)
	second := approveOn(t, e, b, b.get(authorizeURL(map[string]string{"scope": "REPO_READ", "prompt": "consent"})))
	if second.GrantID != first.GrantID || strings.Join(second.Scope, " ") != "REPO_READ" {
		t.Errorf("second code = %+v, want grant %s and scope REPO_READ", second, first.GrantID)
	}
	grants, err := e.store.ListGrantsByUser(context.Background(), aliceID)
	if err != nil {
		t.Fatal(err)
	}
	if len(grants) != 1 {
		t.Fatalf("got %d grants of alice, want 1 (one per user and link): %+v", len(grants), grants)
	}
	g := grants[0]
	if g.ID != first.GrantID || g.ClientID != appClient || !g.Active(first.GrantID) ||
		!g.CreatedAt.Equal(created) || !g.UpdatedAt.Equal(e.clock.Now()) {
		t.Errorf("grant = %+v, want %s created %v, updated %v", g, first.GrantID, created, e.clock.Now())
	}
	if strings.Join(g.Scope, " ") != "REPO_WRITE" {
		t.Errorf("grant scope = %v, want REPO_WRITE (the union of REPO_WRITE and REPO_READ)", g.Scope)
	}
	// The union still covers the first approval: no consent page for it.
	r := b.get(authorizeURL(map[string]string{"scope": "REPO_WRITE"}))
	if r.status != http.StatusFound {
		t.Fatalf("status = %d, want 302 with a code: the grant's union covers REPO_WRITE", r.status)
	}
	if c := codeOf(t, e, r); c.GrantID != first.GrantID || strings.Join(c.Scope, " ") != "REPO_WRITE" {
		t.Errorf("code = %+v, want grant %s and REPO_WRITE", c, first.GrantID)
	}
}

// TestRevokeThenReauthorize: a code issued before alice revoked the app on
// the account page names the revoked grant, which is no longer active for
// it (the token endpoint refuses it); authorizing again asks for consent
// and creates a new grant with a new id, so the old code stays dead.
func TestRevokeThenReauthorize(t *testing.T) { testRevokeThenReauthorize(t, newEnv) }

func testRevokeThenReauthorize(t *testing.T, mk mkEnv) {
	e := mk(t)
	b := e.browser()
	old := approveOn(t, e, b, b.flow(authorizeURL(nil)))
	page := b.get(accountPath)
	f := parsePage(t, page.body).form(t, "/account/authorizations/"+appClient+"/revoke")
	if r := b.submit(f, "", nil); r.status != http.StatusSeeOther {
		t.Fatalf("revoke: status %d, want 303", r.status)
	}
	if g := e.store.grant(aliceID, appClient); g.Active(old.GrantID) || !g.Revoked {
		t.Errorf("grant after revocation = %+v, want revoked: the pending code must be refused", g)
	}
	e.clock.Add(time.Second)
	r := b.get(authorizeURL(nil))
	if r.status != http.StatusOK {
		t.Fatalf("after revocation: status %d, want 200 consent page (the revoked grant is not remembered)", r.status)
	}
	next := approveOn(t, e, b, r)
	g := e.store.grant(aliceID, appClient)
	if next.GrantID == old.GrantID || !g.Active(next.GrantID) || g.Active(old.GrantID) {
		t.Errorf("new code's grant %s, grant %+v; want a new active grant, not %s", next.GrantID, g, old.GrantID)
	}
	if !g.CreatedAt.Equal(e.clock.Now()) {
		t.Errorf("new grant created %v, want %v", g.CreatedAt, e.clock.Now())
	}
}

// TestApproveUserGone: a user disabled between the consent page and the
// approval gets access_denied and no grant or code.
func TestApproveUserGone(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	consent := b.flow(authorizeURL(nil))
	f := parsePage(t, consent.body).form(t, "/oauth2/consent")
	// Disabled after the session was read: the store's ApproveGrant
	// refuses (its transaction checks the user).
	e.h.store = &disableOnApprove{fakeStore: e.fake}
	r := b.submit(f, "decision=approve", nil)
	if r.status != http.StatusSeeOther {
		t.Fatalf("status = %d, want 303", r.status)
	}
	if q := r.location(t).Query(); q.Get("error") != "access_denied" || q.Has("code") {
		t.Errorf("redirect query = %v, want access_denied and no code", q)
	}
	if len(e.fake.codes) != 0 || len(e.fake.grants) != 0 {
		t.Errorf("got %d codes and %d grants, want none", len(e.fake.codes), len(e.fake.grants))
	}
}

// disableOnApprove disables alice just before ApproveGrant.
type disableOnApprove struct{ *fakeStore }

func (d *disableOnApprove) ApproveGrant(ctx context.Context, g store.Grant, merge func(a, b []string) []string, now time.Time) (store.Grant, error) {
	u := d.user(aliceID)
	u.Disabled = true
	d.addUser(u)
	return d.fakeStore.ApproveGrant(ctx, g, merge, now)
}

// TestRememberedConsentCoversProtocolScopes: an application approved for
// permissions alone gets the consent page before it learns the user's
// profile or email (the remembered consent covers only the OpenID Connect
// scopes the user approved); once approved, they are remembered too.
func TestRememberedConsentCoversProtocolScopes(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	consent := b.flow(authorizeURL(nil))
	if r := b.submit(parsePage(t, consent.body).form(t, "/oauth2/consent"), "decision=approve", nil); r.status != http.StatusSeeOther {
		t.Fatalf("approve: status %d, want 303", r.status)
	}
	oidc := authorizeURL(map[string]string{"scope": "openid email"})
	r := b.get(oidc)
	if r.status != http.StatusOK || !strings.Contains(r.body, "email address") {
		t.Fatalf("openid email after a plain approval: got %d (Location %q), want the consent page naming the email address", r.status, r.header.Get("Location"))
	}
	if a := b.submit(parsePage(t, r.body).form(t, "/oauth2/consent"), "decision=approve", nil); a.status != http.StatusSeeOther {
		t.Fatalf("approve openid email: status %d, want 303", a.status)
	}
	if again := b.get(oidc); again.status != http.StatusFound || !strings.Contains(again.header.Get("Location"), "code=") {
		t.Errorf("openid email again: got %d, want 302 with a code (remembered)", again.status)
	}
	if p := b.get(authorizeURL(map[string]string{"scope": "openid profile"})); p.status != http.StatusOK {
		t.Errorf("openid profile, never approved: got %d, want the consent page", p.status)
	}
}

// TestMaxAgeAndLoginHint: OpenID Connect's max_age asks a user whose
// sign-in is older to sign in again (prompt=none: login_required), without
// a loop afterwards, also for max_age=0; a recent enough sign-in goes on;
// login_hint pre-fills the login form's username; max_age must be a
// non-negative number.
func TestMaxAgeAndLoginHint(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	consent := b.flow(authorizeURL(nil)) // alice signed in: the consent page
	if r := b.submit(parsePage(t, consent.body).form(t, "/oauth2/consent"), "decision=approve", nil); r.status != http.StatusSeeOther {
		t.Fatalf("approve: status %d, want 303", r.status)
	}
	e.clock.Add(10 * time.Minute)

	// Recent enough: the consent is remembered, the code comes at once.
	if r := b.get(authorizeURL(map[string]string{"max_age": "3600"})); r.status != http.StatusFound {
		t.Errorf("max_age=3600 after a 10-minute-old sign-in: status %d, want 302 with a code", r.status)
	}
	// Too old, with prompt=none: login_required to the client.
	r := b.get(authorizeURL(map[string]string{"max_age": "60", "prompt": "none"}))
	if loc := r.header.Get("Location"); r.status != http.StatusFound || !strings.Contains(loc, "error=login_required") {
		t.Errorf("max_age=60, prompt=none: got %d to %q, want login_required", r.status, loc)
	}
	for _, maxAge := range []string{"60", "0"} {
		r := b.get(authorizeURL(map[string]string{"max_age": maxAge, "login_hint": "alice"}))
		if r.status != http.StatusOK {
			t.Fatalf("max_age=%s: status %d, want the login page", maxAge, r.status)
		}
		f := parsePage(t, r.body).form(t, "/oauth2/login")
		if v, _ := f.get("username"); v != "alice" {
			t.Errorf("login_hint: username field %q, want alice", v)
		}
		next := b.signIn(r, "alice", alicePass)
		if next.status != http.StatusSeeOther {
			t.Fatalf("max_age=%s, sign-in: status %d, want 303", maxAge, next.status)
		}
		if after := b.get(next.header.Get("Location")); after.status != http.StatusFound {
			t.Errorf("max_age=%s, after signing in again: status %d, want 302 with a code (no loop)", maxAge, after.status)
		}
	}
	for _, bad := range []string{"-1", "abc", "1.5"} {
		r := b.get(authorizeURL(map[string]string{"max_age": bad}))
		if loc := r.header.Get("Location"); !strings.Contains(loc, "error=invalid_request") {
			t.Errorf("max_age=%s: got %d to %q, want invalid_request", bad, r.status, loc)
		}
	}
}

// TestIDTokenHint: id_token_hint naming the signed-in user goes on;
// naming another user asks for a sign-in (prompt=none: login_required);
// a hint of another issuer or client, or not a JWT, is invalid_request; a
// request object is request_not_supported (OIDC Core §3.1.2.1, §6).
func TestIDTokenHint(t *testing.T) {
	hint := func(claims string) string {
		enc := base64.RawURLEncoding.EncodeToString
		return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc([]byte(claims)) + ".c2ln"
	}
	e := newEnv(t)
	b := e.browser()
	consent := b.flow(authorizeURL(nil))
	if r := b.submit(parsePage(t, consent.body).form(t, "/oauth2/consent"), "decision=approve", nil); r.status != http.StatusSeeOther {
		t.Fatalf("approve: status %d, want 303", r.status)
	}
	own := hint(`{"iss":"` + testIssuer + `","sub":"` + aliceID + `","aud":"` + appClient + `"}`)
	if r := b.get(authorizeURL(map[string]string{"id_token_hint": own, "prompt": "none"})); r.status != http.StatusFound ||
		!strings.Contains(r.header.Get("Location"), "code=") {
		t.Errorf("hint naming alice, prompt=none: got %d to %q, want a code", r.status, r.header.Get("Location"))
	}
	other := hint(`{"iss":"` + testIssuer + `","sub":"someoneElseAAAAAAAAAAA","aud":["` + appClient + `"]}`)
	r := b.get(authorizeURL(map[string]string{"id_token_hint": other, "prompt": "none"}))
	if loc := r.header.Get("Location"); r.status != http.StatusFound || !strings.Contains(loc, "error=login_required") {
		t.Errorf("hint naming another user, prompt=none: got %d to %q, want login_required", r.status, loc)
	}
	r = b.get(authorizeURL(map[string]string{"id_token_hint": other}))
	if r.status != http.StatusOK {
		t.Fatalf("hint naming another user: status %d, want the login page", r.status)
	}
	f := parsePage(t, r.body).form(t, "/oauth2/login")
	if rt, _ := f.get("return_to"); strings.Contains(rt, "id_token_hint") {
		t.Errorf("return_to %q keeps id_token_hint: signing in would ask again forever", rt)
	}
	for name, bad := range map[string]string{
		"another issuer": hint(`{"iss":"https://elsewhere.example","sub":"` + aliceID + `","aud":"` + appClient + `"}`),
		"another client": hint(`{"iss":"` + testIssuer + `","sub":"` + aliceID + `","aud":"other-client"}`),
		"not a JWT":      "not-a-jwt",
	} {
		r := b.get(authorizeURL(map[string]string{"id_token_hint": bad}))
		if loc := r.header.Get("Location"); !strings.Contains(loc, "error=invalid_request") {
			t.Errorf("hint from %s: got %d to %q, want invalid_request", name, r.status, loc)
		}
	}
	r = b.get(authorizeURL(map[string]string{"request": "eyJhbGciOiJub25lIn0.e30."}))
	if loc := r.header.Get("Location"); !strings.Contains(loc, "error=request_not_supported") {
		t.Errorf("request object: got %d to %q, want request_not_supported", r.status, loc)
	}
	r = b.get(authorizeURL(map[string]string{"request_uri": "https://app.example.com/request.jwt"}))
	if loc := r.header.Get("Location"); !strings.Contains(loc, "error=request_uri_not_supported") || !strings.Contains(loc, "state=st-123") {
		t.Errorf("request_uri: got %d to %q, want request_uri_not_supported with the state", r.status, loc)
	}
}

// TestOIDCOptionalParameters: an OpenID Connect request with display,
// ui_locales, claims_locales, acr_values, claims, no nonce and an unknown
// parameter, in another scope order, still gets its code (OIDC Core
// §3.1.2.1: the OP ignores what it does not support; the Basic OP plan's
// display, locales, acr_values, unknown-parameter, scope-order and no-nonce
// modules).
func TestOIDCOptionalParameters(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	// The user approves the OpenID Connect scopes once; later requests are
	// covered by that remembered consent.
	consent := b.flow(authorizeURL(map[string]string{"scope": "openid profile email REPO_READ"}))
	if r := b.submit(parsePage(t, consent.body).form(t, "/oauth2/consent"), "decision=approve", nil); r.status != http.StatusSeeOther {
		t.Fatalf("approve: status %d, want 303", r.status)
	}
	for name, over := range map[string]map[string]string{
		"display=page":   {"display": "page"},
		"display=popup":  {"display": "popup"},
		"ui_locales":     {"ui_locales": "fr-CA fr en"},
		"claims_locales": {"claims_locales": "fr"},
		"acr_values":     {"acr_values": "urn:mace:incommon:iap:silver"},
		"claims":         {"claims": `{"id_token":{"email":{"essential":true}}}`},
		"unknown":        {"extra_param": "foo"},
		"scope order":    {"scope": "email openid REPO_READ profile"},
	} {
		if _, ok := over["scope"]; !ok {
			over["scope"] = "openid REPO_READ"
		}
		r := b.get(authorizeURL(over))
		if loc := r.header.Get("Location"); r.status != http.StatusFound || !strings.Contains(loc, "code=") {
			t.Errorf("%s: got %d to %q, want a code", name, r.status, loc)
		}
	}
}

// TestAuthorizePost: the authorization request sent by POST, form-encoded,
// means what the GET means (OIDC Core §3.1.2.1): a code for a remembered
// consent, the same redirected errors; parameters in the query of a POST
// are refused with a page.
func TestAuthorizePost(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	consent := b.flow(authorizeURL(map[string]string{"scope": "openid REPO_READ"}))
	if r := b.submit(parsePage(t, consent.body).form(t, "/oauth2/consent"), "decision=approve", nil); r.status != http.StatusSeeOther {
		t.Fatalf("approve: status %d, want 303", r.status)
	}
	form := func(over map[string]string) url.Values {
		u, _ := url.Parse(authorizeURL(over))
		return u.Query()
	}
	r := b.post("/oauth2/authorize", form(map[string]string{"scope": "openid REPO_READ"}))
	if loc := r.header.Get("Location"); r.status != http.StatusSeeOther || !strings.Contains(loc, "code=") || !strings.Contains(loc, "state=st-123") {
		t.Errorf("POST authorize: got %d to %q, want 303 with a code and state", r.status, loc)
	}
	r = b.post("/oauth2/authorize", form(map[string]string{"response_type": "token"}))
	if loc := r.header.Get("Location"); !strings.Contains(loc, "error=unsupported_response_type") {
		t.Errorf("POST authorize, response_type=token: got %d to %q, want unsupported_response_type", r.status, loc)
	}
	r = b.post("/oauth2/authorize?client_id="+appClient, form(nil))
	if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
		t.Errorf("POST authorize with a query: got %d to %q, want a 400 page", r.status, r.header.Get("Location"))
	}
}

// TestMaxAgeAtConsentPost: max_age holds until the user approves. A consent
// page shown to a recent sign-in and approved after max_age has passed
// asks for a sign-in again instead of issuing a code with an older
// auth_time (OIDC Core §3.1.2.1); the consent after that sign-in issues it
// (no loop, even for a small max_age). Found by review.
func TestMaxAgeAtConsentPost(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.flow(authorizeURL(map[string]string{"scope": "REPO_WRITE"})) // alice signs in; this consent is not approved
	consent := b.get(authorizeURL(map[string]string{"max_age": "60"}))
	if consent.status != http.StatusOK || !strings.Contains(consent.body, `name="decision"`) {
		t.Fatalf("max_age=60 a moment after the sign-in: status %d, want the consent page", consent.status)
	}
	e.clock.Add(10 * time.Minute)
	r := b.submit(parsePage(t, consent.body).form(t, "/oauth2/consent"), "decision=approve", nil)
	if r.status != http.StatusOK || !strings.Contains(r.body, `name="password"`) {
		t.Fatalf("approve 10 minutes after the sign-in with max_age=60: got %d (Location %q), want the login page", r.status, r.header.Get("Location"))
	}
	next := b.signIn(r, "alice", alicePass)
	if next.status != http.StatusSeeOther {
		t.Fatalf("sign-in: status %d, want 303", next.status)
	}
	again := b.get(next.header.Get("Location"))
	if again.status != http.StatusOK {
		t.Fatalf("after signing in: status %d, want the consent page", again.status)
	}
	e.clock.Add(2 * time.Minute) // a slow decision right after the sign-in the request asked for
	if r := b.submit(parsePage(t, again.body).form(t, "/oauth2/consent"), "decision=approve", nil); r.status != http.StatusSeeOther ||
		!strings.Contains(r.header.Get("Location"), "code=") {
		t.Errorf("approve after the fresh sign-in: got %d to %q, want a code", r.status, r.header.Get("Location"))
	}
}
