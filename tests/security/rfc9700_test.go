package security

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/tests/testkit/oauthflow"
)

// The RFC 9700 (OAuth 2.0 Security Best Current Practice) and OAuth 2.1
// checklist, one test per item, through HTTP against the assembled stack.

// noRedirect checks that r is the authorization endpoint's HTML error page:
// 400, no Location, the page headers.
func noRedirect(t *testing.T, r response) {
	t.Helper()
	if r.status != http.StatusBadRequest {
		t.Errorf("got status %d, want 400", r.status)
	}
	if loc := r.header.Get("Location"); loc != "" {
		t.Errorf("got Location %q, want none (an open redirector)", loc)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("got Content-Type %q, want an HTML page", ct)
	}
}

// TestRFC9700_ExactRedirectMatching: RFC 9700 §4.1.3, §2.1: the redirect
// URI is compared byte for byte with a registered one; only the port of a
// loopback http URI may vary (RFC 8252 §7.3).
func TestRFC9700_ExactRedirectMatching(t *testing.T) {
	e := newEnv(t, nil)
	const registered = "https://app.example.com/cb?tenant=1"
	l := e.link(store.Confidential, registered, "http://127.0.0.1:8400/loop")
	for _, tc := range []struct {
		redirect string
		ok       bool
	}{
		{registered, true},
		{"http://127.0.0.1:51004/loop", true}, // loopback: any port
		{"https://app.example.com/cb?tenant=2", false},
		{"https://app.example.com/cb?tenant=1&x=1", false},
		{"https://app.example.com/cb", false},
		{"https://app.example.com/cb/?tenant=1", false},
		{"https://app.example.com/CB?tenant=1", false},
		{"https://APP.example.com/cb?tenant=1", false},
		{"https://app.example.com:443/cb?tenant=1", false},
		{"http://app.example.com/cb?tenant=1", false},
		{"https://app.example.com.evil.example/cb?tenant=1", false},
		{"https://evil.example/cb?tenant=1", false},
		{"https://app.example.com/cb?tenant=1#frag", false},
		{"https://user@app.example.com/cb?tenant=1", false},
		{"https://app.example.com/cb/../cb?tenant=1", false},
		{"https://app.example.com/%63b?tenant=1", false},
		{"http://localhost:8400/loop", false}, // another loopback host
		{"http://127.0.0.1:8400/loop/x", false},
	} {
		t.Run(tc.redirect, func(t *testing.T) {
			r := e.do("GET", strings.TrimPrefix(e.authURL(l, map[string]string{"redirect_uri": tc.redirect}), e.issuer), nil)
			if tc.ok {
				if r.status != 200 || !strings.Contains(r.body, `name="password"`) {
					t.Errorf("got status %d, want 200 and the login page", r.status)
				}
				return
			}
			noRedirect(t, r)
		})
	}
}

// TestRFC9700_NoOpenRedirector: RFC 9700 §4.11.1, RFC 6749 §4.1.2.1: until
// client_id and redirect_uri are validated, every error is a 400 page and
// never a redirect, even when other parameters are wrong too.
func TestRFC9700_NoOpenRedirector(t *testing.T) {
	e := newEnv(t, nil)
	l := e.link(store.Confidential)
	two := e.link(store.Confidential, callback, "https://app.example.com/cb")
	disabled := e.link(store.Confidential)
	e.admin("PATCH", "/admin/links/"+disabled.ID, map[string]any{"enabled": false}, 200, nil)
	rs := e.link(store.ResourceServer)
	evil := "https://evil.example/steal"
	for _, tc := range []struct {
		name  string
		query string
	}{
		{"unknown client", url.Values{"client_id": {"no-such-client"}, "redirect_uri": {evil}, "response_type": {"code"}}.Encode()},
		{"unknown client, registered redirect", url.Values{"client_id": {"no-such-client"}, "redirect_uri": {callback}, "response_type": {"code"}}.Encode()},
		{"missing client_id", url.Values{"redirect_uri": {callback}, "response_type": {"code"}}.Encode()},
		{"mismatched redirect_uri", url.Values{"client_id": {l.ClientID}, "redirect_uri": {evil}, "response_type": {"code"}}.Encode()},
		{"mismatched redirect_uri and bad response_type", url.Values{"client_id": {l.ClientID}, "redirect_uri": {evil}, "response_type": {"token"}}.Encode()},
		{"redirect_uri present but empty", "client_id=" + l.ClientID + "&redirect_uri=&response_type=code"},
		{"redirect_uri omitted with two registered", url.Values{"client_id": {two.ClientID}, "response_type": {"code"}}.Encode()},
		{"repeated client_id", "client_id=" + l.ClientID + "&client_id=" + l.ClientID + "&redirect_uri=" + url.QueryEscape(callback) + "&response_type=code"},
		{"repeated redirect_uri", "client_id=" + l.ClientID + "&redirect_uri=" + url.QueryEscape(callback) + "&redirect_uri=" + url.QueryEscape(evil) + "&response_type=code"},
		{"repeated identical redirect_uri", "client_id=" + l.ClientID + "&redirect_uri=" + url.QueryEscape(callback) + "&redirect_uri=" + url.QueryEscape(callback) + "&response_type=code"},
		{"disabled link", url.Values{"client_id": {disabled.ClientID}, "redirect_uri": {callback}, "response_type": {"code"}}.Encode()},
		{"resource server link", url.Values{"client_id": {rs.ClientID}, "redirect_uri": {evil}, "response_type": {"code"}}.Encode()},
		{"malformed query", "client_id=" + l.ClientID + "&redirect_uri=%zz&response_type=code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noRedirect(t, e.do("GET", "/oauth2/authorize?"+tc.query, nil))
		})
	}
	// The login form's return_to is the other place a redirect could be
	// steered: only local authorization requests and the account page.
	e.user("alice", "REPO_READ")
	for _, to := range []string{evil, "//evil.example/x", "/\\evil.example", "https:evil.example", "/oauth2/authorize\r\nLocation: " + evil, "javascript:alert(1)"} {
		t.Run("login return_to "+to, func(t *testing.T) {
			b := e.browser()
			b.noFollow()
			p := b.get(e.authURL(l, nil))
			r := b.submit(p, theForm(t, p), map[string]string{"return_to": to, "username": "alice", "password": password})
			if loc := r.header.Get("Location"); loc != "" && (!strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, "/\\")) {
				t.Errorf("got Location %q, want none or a local path", loc)
			}
		})
	}
}

// TestRFC9700_PKCEDowngradeRefused: RFC 9700 §4.8.2, RFC 7636 §4.6: a code
// bound to a challenge needs the matching verifier; a verifier for a code
// without a challenge is refused; the plain method is refused at the
// authorization endpoint.
func TestRFC9700_PKCEDowngradeRefused(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", "REPO_READ")
	l := e.link(store.Confidential)
	v, challenge := verifier("a")
	wrong, _ := verifier("b")
	withPKCE := map[string]string{"code_challenge": challenge, "code_challenge_method": "S256"}
	for _, tc := range []struct {
		name     string
		params   map[string]string
		verifier string // "" sends none
	}{
		{"challenge, no verifier", withPKCE, ""},
		{"challenge, wrong verifier", withPKCE, wrong},
		{"challenge, the challenge as verifier", withPKCE, challenge},
		{"no challenge, a verifier", nil, v},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code := e.code(l, "alice", tc.params)
			f := url.Values{"grant_type": {"authorization_code"}, "code": {code}}
			if tc.verifier != "" {
				f.Set("code_verifier", tc.verifier)
			}
			oauthError(t, e.token(l, f), 400, "invalid_grant")
		})
	}
	for _, tc := range []struct {
		name   string
		params map[string]string
	}{
		{"plain method", map[string]string{"code_challenge": v, "code_challenge_method": "plain"}},
		{"challenge without method (plain)", map[string]string{"code_challenge": challenge}},
		{"method without challenge", map[string]string{"code_challenge_method": "S256"}},
	} {
		t.Run("authorize: "+tc.name, func(t *testing.T) {
			r := e.do("GET", strings.TrimPrefix(e.authURL(l, tc.params), e.issuer), nil)
			if r.status != http.StatusFound {
				t.Fatalf("got status %d, want 302 to the client with invalid_request", r.status)
			}
			if got := r.location(t).Query().Get("error"); got != "invalid_request" {
				t.Errorf("got error %q, want invalid_request", got)
			}
		})
	}
	t.Run("public client without PKCE", func(t *testing.T) {
		pub := e.link(store.Public)
		r := e.do("GET", strings.TrimPrefix(e.authURL(pub, nil), e.issuer), nil)
		if r.status != http.StatusFound || r.location(t).Query().Get("error") != "invalid_request" {
			t.Errorf("got status %d Location %q, want 302 with invalid_request", r.status, r.header.Get("Location"))
		}
	})
}

// TestRFC9700_CodeSingleUseReplayRevokes: RFC 6749 §4.1.2, RFC 9700 §4.5:
// a code works once; presenting it again fails and revokes every token
// issued from it.
func TestRFC9700_CodeSingleUseReplayRevokes(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", "REPO_READ")
	l := e.link(store.Confidential)
	code := e.code(l, "alice", nil)
	g := e.exchange(l, code, "")
	if !e.active(l, g.access) || !e.active(l, g.refresh) {
		t.Fatal("tokens inactive before the replay")
	}
	oauthError(t, e.token(l, url.Values{"grant_type": {"authorization_code"}, "code": {code}}), 400, "invalid_grant")
	for name, tok := range map[string]string{"access": g.access, "refresh": g.refresh} {
		if e.active(l, tok) {
			t.Errorf("%s token after the replay: got active, want inactive", name)
		}
	}
	oauthError(t, e.refresh(l, g.refresh), 400, "invalid_grant")
}

// TestRFC9700_CodeBoundToClientAndRedirect: RFC 6749 §4.1.3: a code is
// redeemed only by the client it was issued to, with the redirect_uri of
// the authorization request.
func TestRFC9700_CodeBoundToClientAndRedirect(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", "REPO_READ")
	const other = "https://app.example.com/cb"
	l := e.link(store.Confidential, callback, other)
	thief := e.link(store.Confidential, callback)
	code := e.code(l, "alice", map[string]string{"redirect_uri": callback})
	for _, tc := range []struct {
		name string
		as   link
		form url.Values
	}{
		{"another client", thief, url.Values{"redirect_uri": {callback}}},
		{"another client, posting the owner's id", link{ClientID: l.ClientID, ClientSecret: thief.ClientSecret}, url.Values{"redirect_uri": {callback}}},
		{"redirect_uri missing", l, url.Values{}},
		{"another registered redirect_uri", l, url.Values{"redirect_uri": {other}}},
		{"redirect_uri with a trailing slash", l, url.Values{"redirect_uri": {callback + "/"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.form.Set("grant_type", "authorization_code")
			tc.form.Set("code", code)
			r := e.token(tc.as, tc.form)
			if r.status == 200 {
				t.Fatalf("got 200 (%s), want an error", r.body)
			}
			if tc.as.ClientSecret == thief.ClientSecret && tc.as.ClientID == l.ClientID {
				oauthError(t, r, 401, "invalid_client")
				return
			}
			oauthError(t, r, 400, "invalid_grant")
		})
	}
}

// TestRFC9700_RefreshRotationReuseRevokesGrant: RFC 9700 §4.14.2: refresh
// tokens rotate, and a rotated token presented again revokes the grant.
func TestRFC9700_RefreshRotationReuseRevokesGrant(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", "REPO_READ")
	l := e.link(store.Confidential)
	g := e.exchange(l, e.code(l, "alice", nil), "")
	r := e.refresh(l, g.refresh)
	if r.status != 200 {
		t.Fatalf("refresh: got %d (%s), want 200", r.status, r.body)
	}
	next := grant{access: str(r.json(t)["access_token"]), refresh: str(r.json(t)["refresh_token"])}
	if next.refresh == "" || next.refresh == g.refresh {
		t.Fatalf("refresh: got refresh token %q, want a new one", next.refresh)
	}
	if e.active(l, g.refresh) {
		t.Error("rotated refresh token: got active, want inactive")
	}
	oauthError(t, e.refresh(l, g.refresh), 400, "invalid_grant")
	for name, tok := range map[string]string{"first access": g.access, "second access": next.access, "second refresh": next.refresh} {
		if e.active(l, tok) {
			t.Errorf("%s token after reuse: got active, want inactive (grant revoked)", name)
		}
	}
	oauthError(t, e.refresh(l, next.refresh), 400, "invalid_grant")
}

// TestRFC9207_IssInAuthorizationResponses: RFC 9207 §2, RFC 9700 §4.4.2:
// every authorization response carries iss, success and error alike.
func TestRFC9207_IssInAuthorizationResponses(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", "REPO_READ")
	l := e.link(store.Confidential)
	check := func(t *testing.T, q url.Values, wantErr string) {
		t.Helper()
		if got := q.Get("iss"); got != e.issuer {
			t.Errorf("iss: got %q, want %q", got, e.issuer)
		}
		if got := q.Get("state"); got != "st-1" {
			t.Errorf("state: got %q, want st-1", got)
		}
		if got := q.Get("error"); got != wantErr {
			t.Errorf("error: got %q, want %q", got, wantErr)
		}
	}
	t.Run("success", func(t *testing.T) {
		q := e.browser().approve(e.authURL(l, nil), "alice")
		if q.Get("code") == "" {
			t.Error("no code")
		}
		check(t, q, "")
	})
	t.Run("access_denied", func(t *testing.T) {
		b := e.browser()
		p := b.consentPage(e.authURL(l, map[string]string{"prompt": "consent"}), "alice")
		r := b.submit(p, theForm(t, p), map[string]string{"decision": "deny"})
		check(t, r.location(t).Query(), "access_denied")
	})
	t.Run("error before sign-in", func(t *testing.T) {
		r := e.do("GET", strings.TrimPrefix(e.authURL(l, map[string]string{"scope": "NO_SUCH_SCOPE"}), e.issuer), nil)
		check(t, r.location(t).Query(), "invalid_scope")
	})
	t.Run("metadata", func(t *testing.T) {
		m := e.do("GET", "/.well-known/oauth-authorization-server", nil).json(t)
		if m["authorization_response_iss_parameter_supported"] != true || m["issuer"] != e.issuer {
			t.Errorf("metadata: got iss support %v issuer %v, want true and %s",
				m["authorization_response_iss_parameter_supported"], m["issuer"], e.issuer)
		}
	})
}

// TestRFC9700_SeeOtherAfterPost: RFC 9700 §4.12: a redirect that answers a
// POST is 303, so the browser does not re-post the credentials.
func TestRFC9700_SeeOtherAfterPost(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", "REPO_READ")
	l := e.link(store.Confidential)
	b := e.browser()
	b.noFollow()
	login := b.get(e.authURL(l, nil))
	r := b.login(login, "alice")
	if r.status != http.StatusSeeOther {
		t.Errorf("login: got status %d, want 303", r.status)
	}
	consent := b.get(e.issuer + r.header.Get("Location"))
	for _, decision := range []string{"deny", "approve"} {
		r := b.submit(consent, theForm(t, consent), map[string]string{"decision": decision})
		if r.status != http.StatusSeeOther {
			t.Errorf("consent %s: got status %d, want 303", decision, r.status)
		}
		if decision == "approve" {
			e.exchange(l, r.location(t).Query().Get("code"), "") // the grant the account page lists
		}
	}
	account := b.get(e.issuer + "/account/authorizations")
	f := forms(t, account.body)
	var revoke *form
	for i := range f {
		if strings.HasSuffix(f[i].Action, "/revoke") {
			revoke = &f[i]
		}
	}
	if revoke == nil {
		t.Fatalf("account page: no revoke form:\n%s", account.body)
	}
	if r := b.submit(account, *revoke, nil); r.status != http.StatusSeeOther {
		t.Errorf("account revoke: got status %d, want 303", r.status)
	}
}

// TestRFC6749_NoStoreOnTokenResponses: RFC 6749 §5.1, §5.2: token
// responses, successful or not, carry Cache-Control: no-store.
func TestRFC6749_NoStoreOnTokenResponses(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", "REPO_READ")
	l := e.link(store.Confidential)
	code := e.code(l, "alice", nil)
	success := e.token(l, url.Values{"grant_type": {"authorization_code"}, "code": {code}})
	g := grant{refresh: str(success.json(t)["refresh_token"])}
	for name, r := range map[string]response{
		"code exchange":  success,
		"refresh":        e.refresh(l, g.refresh),
		"invalid_grant":  e.token(l, url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}}),
		"invalid_client": e.token(link{ClientID: l.ClientID, ClientSecret: "wrong"}, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}),
		"invalid_request": e.post("/oauth2/token", url.Values{"grant_type": {"authorization_code"}},
			"Authorization", oauthflow.Basic(l.ClientID, l.ClientSecret)),
		"unsupported_grant_type": e.token(l, url.Values{"grant_type": {"password"}}),
		"introspection":          e.clientPost("/oauth2/introspect", l, url.Values{"token": {"x"}}),
		"revocation":             e.clientPost("/oauth2/revoke", l, url.Values{"token": {"x"}}),
	} {
		if cc := r.header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
			t.Errorf("%s (status %d): got Cache-Control %q, want no-store", name, r.status, cc)
		}
	}
}

// framed checks the anti-framing headers of a page.
func framed(t *testing.T, name string, r response) {
	t.Helper()
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("%s: got CSP %q, want frame-ancestors 'none'", name, csp)
	}
	if x := r.header.Get("X-Frame-Options"); x != "DENY" {
		t.Errorf("%s: got X-Frame-Options %q, want DENY", name, x)
	}
	// RFC 9700 §4.2.4: no Referer leaks a code or state from a page.
	if rp := r.header.Get("Referrer-Policy"); rp != "no-referrer" {
		t.Errorf("%s: got Referrer-Policy %q, want no-referrer", name, rp)
	}
	if cc := r.header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("%s: got Cache-Control %q, want no-store", name, cc)
	}
}

// TestRFC9700_AntiFraming: RFC 9700 §4.16: every page (login, consent,
// account, errors) forbids framing (clickjacking).
func TestRFC9700_AntiFraming(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", "REPO_READ")
	l := e.link(store.Confidential)
	b := e.browser()
	login := b.get(e.authURL(l, nil))
	framed(t, "login page", login.response)
	consent := b.login(login, "alice")
	framed(t, "consent page", consent.response)
	framed(t, "account page", b.get(e.issuer+"/account/authorizations").response)
	framed(t, "authorize error page", e.do("GET", "/oauth2/authorize?client_id=nope", nil))
	framed(t, "CSRF refusal", b.submit(consent, theForm(t, consent), map[string]string{"decision": "approve", "csrf": "wrong"}).response)
}

// TestRFC9700_CSRFOnEveryForm: RFC 9700 §4.7, RFC 6749 §10.12: the login,
// consent and account-revoke forms refuse a post without the right CSRF
// token, and accept Origin: null with it.
func TestRFC9700_CSRFOnEveryForm(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", "REPO_READ")
	l := e.link(store.Confidential)

	t.Run("login", func(t *testing.T) {
		for _, tok := range []string{"", "wrong-token-wrong-token-wrong-token-wrong-t"} {
			b := e.browser()
			p := b.get(e.authURL(l, nil))
			f := theForm(t, p)
			if f.Hidden.Get("csrf") == "" {
				t.Fatalf("login form has no csrf field: %v", f.Hidden)
			}
			f.Hidden.Del("csrf")
			r := b.submit(p, f, map[string]string{"username": "alice", "password": password, "csrf": tok})
			if r.status != http.StatusForbidden || strings.Contains(r.body, `name="decision"`) {
				t.Errorf("csrf %q: got status %d, want 403 and no sign-in", tok, r.status)
			}
		}
		b := e.browser()
		if r := b.login(b.get(e.authURL(l, nil)), "alice"); !strings.Contains(r.body, `name="decision"`) {
			t.Errorf("Origin: null with the right token: got status %d, want the consent page", r.status)
		}
	})

	t.Run("consent", func(t *testing.T) {
		b := e.browser()
		p := b.consentPage(e.authURL(l, map[string]string{"prompt": "consent"}), "alice")
		f := theForm(t, p)
		for _, tok := range []string{"", "wrong"} {
			g := form{Action: f.Action, Hidden: url.Values{}}
			for k, v := range f.Hidden {
				if k != "csrf" {
					g.Hidden[k] = v
				}
			}
			r := b.submit(p, g, map[string]string{"decision": "approve", "csrf": tok})
			if r.status != http.StatusForbidden || r.header.Get("Location") != "" {
				t.Errorf("csrf %q: got status %d Location %q, want 403 and no redirect", tok, r.status, r.header.Get("Location"))
			}
		}
		r := b.submit(p, f, map[string]string{"decision": "approve"})
		if r.status != http.StatusSeeOther || r.location(t).Query().Get("code") == "" {
			t.Errorf("Origin: null with the right token: got status %d, want 303 with a code", r.status)
		}
	})

	t.Run("sign-out", func(t *testing.T) {
		b := e.browser()
		b.consentPage(e.authURL(l, map[string]string{"prompt": "consent"}), "alice")
		account := b.get(e.issuer + "/oauth2/logout") // the sign-out page
		var out form
		for _, f := range forms(t, account.body) {
			if strings.HasSuffix(f.Action, "/logout") {
				out = f
			}
		}
		if out.Action == "" {
			t.Fatalf("no sign-out form on the sign-out page:\n%s", account.body)
		}
		b.noFollow()
		for _, tok := range []string{"", "wrong"} {
			r := b.submit(account, form{Action: out.Action, Hidden: url.Values{}}, map[string]string{"csrf": tok})
			if r.status != http.StatusForbidden {
				t.Errorf("csrf %q: got status %d, want 403", tok, r.status)
			}
		}
		if p := b.get(e.issuer + "/account/authorizations"); strings.Contains(p.body, `name="password"`) {
			t.Fatal("a forged sign-out ended the session")
		}
		if r := b.submit(account, out, nil); r.status != http.StatusSeeOther {
			t.Errorf("Origin: null with the right token: got status %d, want 303", r.status)
		}
		if p := b.get(e.issuer + "/account/authorizations"); !strings.Contains(p.body, `name="password"`) {
			t.Error("after signing out: got the account page, want the login page")
		}
	})

	t.Run("account revoke", func(t *testing.T) {
		b := e.browser()
		p := b.consentPage(e.authURL(l, map[string]string{"prompt": "consent"}), "alice")
		code := b.submit(p, theForm(t, p), map[string]string{"decision": "approve"}).location(t).Query().Get("code")
		g := e.exchange(l, code, "")
		account := b.get(e.issuer + "/account/authorizations")
		var revoke form
		for _, f := range forms(t, account.body) {
			if strings.HasSuffix(f.Action, "/revoke") {
				revoke = f
			}
		}
		if revoke.Action == "" {
			t.Fatalf("no revoke form on the account page:\n%s", account.body)
		}
		for _, tok := range []string{"", "wrong"} {
			f := form{Action: revoke.Action, Hidden: url.Values{}}
			r := b.submit(account, f, map[string]string{"csrf": tok})
			if r.status != http.StatusForbidden {
				t.Errorf("csrf %q: got status %d, want 403", tok, r.status)
			}
			if !e.active(l, g.refresh) {
				t.Fatalf("csrf %q: the grant was revoked by a forged post", tok)
			}
		}
		b.noFollow()
		if r := b.submit(account, revoke, nil); r.status != http.StatusSeeOther {
			t.Errorf("Origin: null with the right token: got status %d, want 303", r.status)
		}
		if e.active(l, g.refresh) {
			t.Error("after the revoke: got refresh token active, want inactive")
		}
	})
}

// TestRFC6749_TokenEndpointRefusesGETAndQueryCredentials: RFC 6749 §3.2
// (POST only), RFC 9700 §4.3.2 / OAuth 2.1 §3.2: no credentials in the URL.
func TestRFC6749_TokenEndpointRefusesGETAndQueryCredentials(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", "REPO_READ")
	l := e.link(store.Confidential)
	code := e.code(l, "alice", nil)
	q := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {l.ClientID}, "client_secret": {l.ClientSecret}}
	for _, path := range []string{"/oauth2/token", "/rest/oauth2/latest/token"} {
		r := e.do("GET", path+"?"+q.Encode(), nil)
		if r.status != http.StatusMethodNotAllowed {
			t.Errorf("GET %s: got status %d, want 405", path, r.status)
		}
	}
	oauthError(t, e.post("/oauth2/token?"+url.Values{"client_secret": {l.ClientSecret}}.Encode(),
		url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {l.ClientID}}), 400, "invalid_request")
	oauthError(t, e.post("/oauth2/token?"+q.Encode(), url.Values{}), 400, "invalid_request")
	oauthError(t, e.post("/oauth2/introspect?"+url.Values{"client_secret": {l.ClientSecret}}.Encode(),
		url.Values{"token": {"x"}, "client_id": {l.ClientID}}), 400, "invalid_request")
	// The code was not spent by the refused requests.
	e.exchange(l, code, "")
}

// TestRFC6749_RepeatedParameterInvalidRequest: RFC 6749 §3.1, §3.2:
// parameters must not be included more than once.
func TestRFC6749_RepeatedParameterInvalidRequest(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", "REPO_READ")
	l := e.link(store.Confidential)
	base := "client_id=" + l.ClientID + "&redirect_uri=" + url.QueryEscape(callback)
	for _, extra := range []string{
		"&response_type=code&response_type=code",
		"&response_type=code&scope=REPO_READ&scope=REPO_READ",
		"&response_type=code&state=a&state=b",
		"&response_type=code&code_challenge_method=S256&code_challenge_method=S256",
	} {
		t.Run("authorize"+extra, func(t *testing.T) {
			r := e.do("GET", "/oauth2/authorize?"+base+extra, nil)
			if r.status != http.StatusFound {
				t.Fatalf("got status %d, want 302 to the validated redirect URI", r.status)
			}
			loc := r.location(t)
			if !strings.HasPrefix(loc.String(), callback+"?") || loc.Query().Get("error") != "invalid_request" {
				t.Errorf("got Location %s, want %s with error=invalid_request", loc, callback)
			}
		})
	}
	code := e.code(l, "alice", nil)
	for _, body := range []string{
		"grant_type=authorization_code&grant_type=authorization_code&code=" + code,
		"grant_type=authorization_code&code=" + code + "&code=" + code,
		"grant_type=authorization_code&code=" + code + "&redirect_uri=a&redirect_uri=b",
	} {
		t.Run("token "+strings.ReplaceAll(body, code, "CODE"), func(t *testing.T) {
			r := e.do("POST", "/oauth2/token", strings.NewReader(body),
				"Content-Type", "application/x-www-form-urlencoded", "Authorization", oauthflow.Basic(l.ClientID, l.ClientSecret))
			oauthError(t, r, 400, "invalid_request")
		})
	}
}

// TestRFC6749_InvalidClient401WithWWWAuthenticate: RFC 6749 §5.2:
// invalid_client is 401 with a WWW-Authenticate challenge.
func TestRFC6749_InvalidClient401WithWWWAuthenticate(t *testing.T) {
	e := newEnv(t, nil)
	l := e.link(store.Confidential)
	form := func(extra ...string) url.Values {
		f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}
		for i := 0; i+1 < len(extra); i += 2 {
			f.Set(extra[i], extra[i+1])
		}
		return f
	}
	for name, r := range map[string]response{
		"wrong secret (basic)":   e.post("/oauth2/token", form(), "Authorization", oauthflow.Basic(l.ClientID, "wrong")),
		"unknown client (basic)": e.post("/oauth2/token", form(), "Authorization", oauthflow.Basic("nobody", "x")),
		"wrong secret (post)":    e.post("/oauth2/token", form("client_id", l.ClientID, "client_secret", "wrong")),
		"unknown client (post)":  e.post("/oauth2/token", form("client_id", "nobody", "client_secret", "x")),
		"no authentication":      e.post("/oauth2/token", form()),
		"malformed Basic":        e.post("/oauth2/token", form(), "Authorization", "Basic !!!"),
		"introspection":          e.post("/oauth2/introspect", url.Values{"token": {"x"}}, "Authorization", oauthflow.Basic(l.ClientID, "wrong")),
		"revocation":             e.post("/oauth2/revoke", url.Values{"token": {"x"}}, "Authorization", oauthflow.Basic(l.ClientID, "wrong")),
	} {
		t.Run(name, func(t *testing.T) {
			oauthError(t, r, 401, "invalid_client")
			if r.header.Get("WWW-Authenticate") == "" {
				t.Error("got no WWW-Authenticate, want a challenge")
			}
		})
	}
}

// TestRFC9700_RevokedCredentialsRefused: credentials and tokens stop
// working the moment they are revoked: a client secret replaced with no
// overlap, a disabled or deleted link, a disabled or deleted user.
func TestRFC9700_RevokedCredentialsRefused(t *testing.T) {
	e := newEnv(t, nil)
	rs := e.link(store.ResourceServer)
	refreshFails := func(t *testing.T, l link, g grant, status int, code string) {
		t.Helper()
		oauthError(t, e.refresh(l, g.refresh), status, code)
		for name, tok := range map[string]string{"access": g.access, "refresh": g.refresh} {
			if e.active(rs, tok) {
				t.Errorf("%s token: got active, want inactive", name)
			}
		}
	}
	t.Run("client secret rotated without overlap", func(t *testing.T) {
		l := e.link(store.Confidential)
		var rotated link
		e.admin("POST", "/admin/links/"+l.ID+"/credentials/rotate", map[string]any{"overlap_seconds": 0}, 200, &rotated)
		oauthError(t, e.token(l, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}), 401, "invalid_client")
		l.ClientSecret = rotated.ClientSecret
		oauthError(t, e.token(l, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}), 400, "invalid_grant")
	})
	t.Run("client secret rotated with overlap", func(t *testing.T) {
		l := e.link(store.Confidential)
		e.admin("POST", "/admin/links/"+l.ID+"/credentials/rotate", map[string]any{"overlap_seconds": 600}, 200, nil)
		oauthError(t, e.token(l, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}), 400, "invalid_grant")
		e.admin("POST", "/admin/links/"+l.ID+"/credentials/rotate", map[string]any{"overlap_seconds": 0}, 200, nil)
		oauthError(t, e.token(l, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}), 401, "invalid_client")
	})
	t.Run("link disabled", func(t *testing.T) {
		e.user("dora", "REPO_READ")
		l := e.link(store.Confidential)
		g := e.exchange(l, e.code(l, "dora", nil), "")
		e.admin("PATCH", "/admin/links/"+l.ID, map[string]any{"enabled": false}, 200, nil)
		oauthError(t, e.refresh(l, g.refresh), 401, "invalid_client")
		noRedirect(t, e.do("GET", strings.TrimPrefix(e.authURL(l, nil), e.issuer), nil))
	})
	t.Run("link deleted", func(t *testing.T) {
		e.user("dave", "REPO_READ")
		l := e.link(store.Confidential)
		g := e.exchange(l, e.code(l, "dave", nil), "")
		e.admin("DELETE", "/admin/links/"+l.ID, nil, 204, nil)
		refreshFails(t, l, g, 401, "invalid_client")
		e.admin("GET", "/admin/links/"+l.ID+"/credentials", nil, 404, nil)
	})
	for _, change := range []string{"disabled", "deleted"} {
		t.Run("user "+change, func(t *testing.T) {
			name := "user-" + change
			e.user(name, "REPO_READ")
			l := e.link(store.Confidential)
			g := e.exchange(l, e.code(l, name, nil), "")
			if change == "disabled" {
				e.admin("PATCH", "/admin/users/"+name, map[string]any{"disabled": true}, 200, nil)
			} else {
				e.admin("DELETE", "/admin/users/"+name, nil, 204, nil)
			}
			refreshFails(t, l, g, 400, "invalid_grant")
		})
	}
}

// TestRFC9700_NoScopeEscalation: a client gets no more than the link's
// ceiling and the user's permissions, whatever it asks, and a refresh may
// narrow the scope but never widen it (RFC 6749 §6: invalid_scope).
func TestRFC9700_NoScopeEscalation(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", "REPO_READ")
	l := e.link(store.Confidential) // ceiling REPO_WRITE
	code := e.code(l, "alice", map[string]string{"scope": "SYSTEM_ADMIN REPO_ADMIN"})
	r := e.token(l, url.Values{"grant_type": {"authorization_code"}, "code": {code}})
	if r.status != 200 || str(r.json(t)["scope"]) != "REPO_READ" {
		t.Fatalf("exchange: got %d %s, want 200 with scope REPO_READ", r.status, r.body)
	}
	rt := str(r.json(t)["refresh_token"])
	for _, scope := range []string{"REPO_WRITE", "REPO_READ ACCOUNT_WRITE", "SYSTEM_ADMIN"} {
		oauthError(t, e.token(l, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {scope}}), 400, "invalid_scope")
	}
	r = e.token(l, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {"PUBLIC_REPOS"}})
	if r.status != 200 || str(r.json(t)["scope"]) != "PUBLIC_REPOS" {
		t.Errorf("narrowing refresh: got %d %s, want 200 with scope PUBLIC_REPOS", r.status, r.body)
	}
}
