package token

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store"
)

// claims decodes an access token's claims without verifying it (the tests
// that verify use the JWKS).
func claims(t *testing.T, tok string) map[string]any {
	t.Helper()
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("parse access token: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &m); err != nil {
		t.Fatalf("decode claims: %v", err)
	}
	return m
}

func TestCodeExchangeClientAuthentication(t *testing.T) {
	tests := []struct {
		name  string
		code  codeOpts
		auth  string
		form  url.Values
		scope string
	}{
		{
			name: "client_secret_basic with form-urlencoded credentials",
			code: codeOpts{redirectURI: redirect},
			auth: basic(confID, confSecret),
			form: url.Values{"redirect_uri": {redirect}},
		},
		{
			name: "client_secret_post",
			code: codeOpts{redirectURI: redirect},
			form: url.Values{"redirect_uri": {redirect}, "client_id": {confID}, "client_secret": {confSecret}},
		},
		{
			name: "basic with the same client_id in the form",
			code: codeOpts{},
			auth: basic(confID, confSecret),
			form: url.Values{"client_id": {confID}},
		},
		{
			name:  "public client with PKCE",
			code:  codeOpts{clientID: publicID, challenge: shared.S256Challenge(verifier), scope: []string{"REPO_READ"}},
			form:  url.Values{"client_id": {publicID}, "code_verifier": {verifier}},
			scope: "REPO_READ",
		},
		{
			name: "omitted redirect_uri at authorization, registered one at token",
			code: codeOpts{},
			auth: basic(confID, confSecret),
			form: url.Values{"redirect_uri": {redirect2}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			code := e.code(tt.code)
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}}
			for k, v := range tt.form {
				form[k] = v
			}
			w := e.post("/oauth2/token", tt.auth, form)
			tk := e.ok(w)
			want := tt.scope
			if want == "" {
				want = "ACCOUNT_WRITE REPO_WRITE"
			}
			if tk.TokenType != "Bearer" || tk.Scope != want || tk.ExpiresIn != 3600 || tk.RefreshToken == "" || tk.AccessToken == "" {
				t.Errorf("got %+v, want Bearer, scope %q, expires_in 3600 and both tokens", tk, want)
			}
			for h, v := range map[string]string{"Cache-Control": "no-store", "Pragma": "no-cache", "Content-Type": "application/json"} {
				if got := w.Header().Get(h); got != v {
					t.Errorf("%s: got %q, want %q", h, got, v)
				}
			}
			c := claims(t, tk.AccessToken)
			clientID := tt.code.clientID
			if clientID == "" {
				clientID = confID
			}
			if c["client_id"] != clientID || c["sub"] != e.aliceID || c["username"] != alice || c["iss"] != issuer || c["aud"] != issuer || c["scope"] != want {
				t.Errorf("claims: got %v", c)
			}
			if c["jti"] == "" || c["grant_id"] == "" {
				t.Errorf("claims: got jti %v grant_id %v, want both", c["jti"], c["grant_id"])
			}
			if !e.audited("code_redeemed") {
				t.Error("no code_redeemed audit event")
			}
			e.noSecretsLogged(code, tk.AccessToken, tk.RefreshToken, confSecret, verifier)
		})
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	challenge := shared.S256Challenge(verifier)
	type tc struct {
		name   string
		vars   map[string]string
		code   *codeOpts // seeded and sent as "code" unless the form has one
		r      req
		status int
		err    string
		setup  func(e *env)
	}
	ac := func(kv ...string) url.Values {
		v := url.Values{"grant_type": {"authorization_code"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	conf := basic(confID, confSecret)
	big := strings.Repeat("a", 70<<10)
	tests := []tc{
		// Request shape.
		{name: "GET", r: req{method: http.MethodGet}, status: 405, err: "invalid_request"},
		{name: "PUT", r: req{method: http.MethodPut}, status: 405, err: "invalid_request"},
		{name: "credentials in query", code: &codeOpts{},
			r:      req{query: "client_id=" + url.QueryEscape(confID) + "&client_secret=" + url.QueryEscape(confSecret), form: ac()},
			status: 400, err: "invalid_request"},
		{name: "code in query", code: &codeOpts{}, r: req{auth: conf, query: "grant_type=authorization_code"}, status: 400, err: "invalid_request"},
		{name: "repeated parameter", r: req{auth: conf, body: "grant_type=authorization_code&code=a&code=b"}, status: 400, err: "invalid_request"},
		{name: "body too large", r: req{auth: conf, body: "grant_type=authorization_code&code=" + big}, status: 413, err: "invalid_request"},
		{name: "JSON body", r: req{auth: conf, body: `{"grant_type":"authorization_code"}`, ctype: "application/json"}, status: 400, err: "invalid_request"},
		{name: "no grant_type", r: req{auth: conf, form: url.Values{"code": {"x"}}}, status: 400, err: "invalid_request"},
		{name: "unknown grant_type", r: req{auth: conf, form: url.Values{"grant_type": {"password"}}}, status: 400, err: "unsupported_grant_type"},
		{name: "client_credentials", r: req{auth: conf, form: url.Values{"grant_type": {"client_credentials"}}}, status: 400, err: "unsupported_grant_type"},

		// Client authentication (RFC 6749 §2.3, §5.2).
		{name: "two methods", code: &codeOpts{}, r: req{auth: conf, form: ac("client_secret", confSecret)}, status: 400, err: "invalid_request"},
		{name: "basic and another client_id", code: &codeOpts{}, r: req{auth: conf, form: ac("client_id", otherID)}, status: 400, err: "invalid_request"},
		{name: "no client authentication", code: &codeOpts{}, r: req{form: ac()}, status: 401, err: "invalid_client"},
		{name: "unknown client", code: &codeOpts{}, r: req{auth: basic("nobody", "x"), form: ac()}, status: 401, err: "invalid_client"},
		{name: "disabled link", code: &codeOpts{clientID: offID}, r: req{auth: basic(offID, offSecret), form: ac()}, status: 401, err: "invalid_client"},
		{name: "wrong secret", code: &codeOpts{}, r: req{auth: basic(confID, confSecret+"x"), form: ac()}, status: 401, err: "invalid_client"},
		{name: "secret not form-urlencoded", code: &codeOpts{},
			r: req{auth: "Basic " + b64std(confID+":"+confSecret), form: ac()}, status: 401, err: "invalid_client"},
		{name: "wrong secret by post", code: &codeOpts{}, r: req{form: ac("client_id", confID, "client_secret", "nope")}, status: 401, err: "invalid_client"},
		{name: "confidential without secret", code: &codeOpts{}, r: req{form: ac("client_id", confID)}, status: 401, err: "invalid_client"},
		{name: "public client with a secret", code: &codeOpts{clientID: publicID, challenge: challenge},
			r: req{form: ac("client_id", publicID, "client_secret", "guess", "code_verifier", verifier)}, status: 401, err: "invalid_client"},
		{name: "public client by basic with a secret", code: &codeOpts{clientID: publicID, challenge: challenge},
			r: req{auth: basic(publicID, "guess"), form: ac("code_verifier", verifier)}, status: 401, err: "invalid_client"},
		{name: "confidential by basic without a secret", code: &codeOpts{},
			r: req{auth: basic(confID, ""), form: ac()}, status: 401, err: "invalid_client"},
		{name: "bearer scheme", code: &codeOpts{}, r: req{auth: "Bearer abc", form: ac()}, status: 401, err: "invalid_client"},
		{name: "malformed basic", code: &codeOpts{}, r: req{auth: "Basic !!!", form: ac()}, status: 401, err: "invalid_client"},
		{name: "resource server", r: req{auth: basic(rsID, rsSecret), form: ac("code", "x")}, status: 400, err: "unauthorized_client"},

		// The code (RFC 6749 §4.1.3).
		{name: "no code", r: req{auth: conf, form: ac()}, status: 400, err: "invalid_request"},
		{name: "unknown code", r: req{auth: conf, form: ac("code", "not-a-code")}, status: 400, err: "invalid_grant"},
		{name: "code of another client", code: &codeOpts{clientID: otherID}, r: req{auth: conf, form: ac()}, status: 400, err: "invalid_grant"},
		{name: "expired code", code: &codeOpts{ttl: time.Second}, setup: func(e *env) { e.clock.Add(2 * time.Second) },
			r: req{auth: conf, form: ac()}, status: 400, err: "invalid_grant"},
		{name: "redirect_uri missing", code: &codeOpts{redirectURI: redirect}, r: req{auth: conf, form: ac()}, status: 400, err: "invalid_grant"},
		{name: "redirect_uri differs", code: &codeOpts{redirectURI: redirect},
			r: req{auth: conf, form: ac("redirect_uri", redirect2)}, status: 400, err: "invalid_grant"},
		{name: "redirect_uri differs in case", code: &codeOpts{redirectURI: redirect},
			r: req{auth: conf, form: ac("redirect_uri", strings.ToUpper(redirect))}, status: 400, err: "invalid_grant"},
		{name: "redirect_uri unregistered when omitted at authorization", code: &codeOpts{},
			r: req{auth: conf, form: ac("redirect_uri", "https://evil.example.com/cb")}, status: 400, err: "invalid_grant"},

		// PKCE (RFC 7636 §4.6).
		{name: "verifier missing", code: &codeOpts{challenge: challenge}, r: req{auth: conf, form: ac()}, status: 400, err: "invalid_grant"},
		{name: "verifier wrong", code: &codeOpts{challenge: challenge},
			r: req{auth: conf, form: ac("code_verifier", strings.Repeat("x", 43))}, status: 400, err: "invalid_grant"},
		{name: "verifier malformed", code: &codeOpts{challenge: challenge},
			r: req{auth: conf, form: ac("code_verifier", "short")}, status: 400, err: "invalid_grant"},
		{name: "verifier without challenge", code: &codeOpts{}, r: req{auth: conf, form: ac("code_verifier", verifier)}, status: 400, err: "invalid_grant"},
		{name: "public client without PKCE", code: &codeOpts{clientID: publicID, scope: []string{"REPO_READ"}},
			r: req{form: ac("client_id", publicID)}, status: 400, err: "invalid_grant"},
		{name: "REQUIRE_PKCE without PKCE", vars: map[string]string{"REQUIRE_PKCE": "true"}, code: &codeOpts{},
			r: req{auth: conf, form: ac()}, status: 400, err: "invalid_grant"},

		// The user.
		{name: "user disabled", code: &codeOpts{}, setup: func(e *env) { e.setUser(store.UserUpdate{Disabled: ptr(true)}) },
			r: req{auth: conf, form: ac()}, status: 400, err: "invalid_grant"},
		{name: "user deleted", code: &codeOpts{}, setup: func(e *env) {
			if err := e.st.DeleteUser(context.Background(), e.aliceID, e.clock.Now()); err != nil {
				e.t.Fatalf("DeleteUser: %v", err)
			}
		}, r: req{auth: conf, form: ac()}, status: 400, err: "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.vars)
			r := tt.r
			if r.path == "" {
				r.path = "/oauth2/token"
			}
			code := ""
			if tt.code != nil {
				code = e.code(*tt.code)
				if r.form != nil && r.form.Get("code") == "" {
					r.form.Set("code", code)
				}
			}
			if tt.setup != nil {
				tt.setup(e)
			}
			w := e.do(r)
			oauthError(t, w, tt.status, tt.err)
			if tt.status == 405 && w.Header().Get("Allow") != "POST" {
				t.Errorf("Allow: got %q, want POST", w.Header().Get("Allow"))
			}
			e.noSecretsLogged(code, confSecret)
			// A refused request never redeems the code: the right request
			// still works afterwards (unless the refusal was about the
			// code itself).
		})
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func b64std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func ptr[T any](v T) *T { return &v }

// setUser updates alice.
func (e *env) setUser(u store.UserUpdate) {
	e.t.Helper()
	if _, err := e.st.UpdateUser(context.Background(), e.aliceID, u, e.clock.Now()); err != nil {
		e.t.Fatalf("UpdateUser: %v", err)
	}
}

func TestTokenAlias(t *testing.T) {
	e := newEnv(t, nil)
	code := e.code(codeOpts{})
	tk := e.ok(e.post("/rest/oauth2/latest/token", basic(confID, confSecret), url.Values{
		"grant_type": {"authorization_code"}, "code": {code},
	}))
	if tk.AccessToken == "" {
		t.Error("alias: got no access token")
	}
	w := e.do(req{method: http.MethodGet, path: "/rest/oauth2/latest/token"})
	oauthError(t, w, 405, "invalid_request")
}

func TestCodeReplayRevokesFirstTokens(t *testing.T) { testCodeReplay(t, newEnv(t, nil)) }

func testCodeReplay(t *testing.T, e *env) {
	code := e.code(codeOpts{})
	first := e.exchange(code)
	if !e.active(first.AccessToken) || !e.active(first.RefreshToken) {
		t.Fatal("first tokens inactive before replay")
	}
	w := e.post("/oauth2/token", basic(confID, confSecret), url.Values{"grant_type": {"authorization_code"}, "code": {code}})
	oauthError(t, w, 400, "invalid_grant")
	if e.active(first.AccessToken) {
		t.Error("access token of the first redemption: got active, want inactive")
	}
	if e.active(first.RefreshToken) {
		t.Error("refresh token of the first redemption: got active, want inactive")
	}
	oauthError(t, e.refresh(first.RefreshToken, nil), 400, "invalid_grant")
	for _, ev := range []string{"code_replay", "grant_revoked"} {
		if !e.audited(ev) {
			t.Errorf("no %s audit event", ev)
		}
	}
	e.noSecretsLogged(code, first.AccessToken, first.RefreshToken)
}

func TestConcurrentRedemptionRevokes(t *testing.T) {
	// Two redemptions racing: the loser's RedeemCode conflicts, it re-reads
	// the code and revokes the winner's grant.
	e := newEnv(t, nil)
	code := e.code(codeOpts{})
	first := e.exchange(code)
	// Simulate the race: the loser read the code before the winner wrote.
	e.calls.Store = &staleCode{Store: e.hst, hash: shared.HashToken(code)}
	w := e.post("/oauth2/token", basic(confID, confSecret), url.Values{"grant_type": {"authorization_code"}, "code": {code}})
	oauthError(t, w, 400, "invalid_grant")
	e.calls.Store = e.hst
	if e.active(first.AccessToken) {
		t.Error("winner's access token: got active, want inactive")
	}
}

// staleCode answers the first Fetch of a code as if it were unused.
type staleCode struct {
	Store
	hash string
	done bool
}

func (s *staleCode) Fetch(ctx context.Context, k store.Keys) (store.Bundle, error) {
	b, err := s.Store.Fetch(ctx, k)
	if err == nil && !s.done && k.CodeHash == s.hash && b.Code != nil {
		s.done = true
		c := *b.Code
		c.Used = false
		b.Code = &c
	}
	return b, err
}

func TestRefreshRotation(t *testing.T) { testRefreshRotation(t, newEnv(t, nil)) }

func testRefreshRotation(t *testing.T, e *env) {
	first := e.exchange(e.code(codeOpts{}))
	e.clock.Add(time.Minute)
	second := e.ok(e.refresh(first.RefreshToken, nil))
	if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
		t.Fatal("refresh returned the same tokens")
	}
	if second.Scope != "ACCOUNT_WRITE REPO_WRITE" {
		t.Errorf("scope: got %q, want ACCOUNT_WRITE REPO_WRITE", second.Scope)
	}
	c1, c2 := claims(t, first.AccessToken), claims(t, second.AccessToken)
	if c1["grant_id"] != c2["grant_id"] || c1["jti"] == c2["jti"] {
		t.Errorf("got grant %v/%v jti %v/%v, want same grant, new jti", c1["grant_id"], c2["grant_id"], c1["jti"], c2["jti"])
	}
	if e.active(first.RefreshToken) {
		t.Error("rotated refresh token: got active, want inactive")
	}
	third := e.ok(e.refresh(second.RefreshToken, nil))

	// The rotated first token presented again (grace 0): reuse, the whole
	// grant is revoked.
	oauthError(t, e.refresh(first.RefreshToken, nil), 400, "invalid_grant")
	if !e.audited("refresh_token_reuse") {
		t.Error("no refresh_token_reuse audit event")
	}
	for name, tok := range map[string]string{"third access": third.AccessToken, "third refresh": third.RefreshToken, "second access": second.AccessToken} {
		if e.active(tok) {
			t.Errorf("%s token after reuse: got active, want inactive", name)
		}
	}
	oauthError(t, e.refresh(third.RefreshToken, nil), 400, "invalid_grant")
	e.noSecretsLogged(first.RefreshToken, second.RefreshToken, third.RefreshToken)
}

func TestRefreshReuseGrace(t *testing.T) {
	testRefreshReuseGrace(t, newEnv(t, map[string]string{"REFRESH_REUSE_GRACE": "30s"}))
}

func testRefreshReuseGrace(t *testing.T, e *env) {
	a := e.exchange(e.code(codeOpts{}))
	e.ok(e.refresh(a.RefreshToken, nil)) // B: its answer is lost

	// Within the grace period, A again (a retry after a lost response)
	// replaces B by C, which the client uses from then on.
	e.clock.Add(10 * time.Second)
	c := e.ok(e.refresh(a.RefreshToken, nil))
	if !e.active(c.RefreshToken) {
		t.Fatal("C: got inactive, want active")
	}
	d := e.ok(e.refresh(c.RefreshToken, nil))
	if e.audited("refresh_token_reuse") {
		t.Error("a retry within the grace was audited as reuse")
	}

	// A again, still within the grace, after its successor C was used:
	// reuse.
	e.clock.Add(10 * time.Second)
	oauthError(t, e.refresh(a.RefreshToken, nil), 400, "invalid_grant")
	if e.active(d.RefreshToken) || e.active(d.AccessToken) {
		t.Error("D after reuse: got active, want inactive")
	}
	if !e.audited("refresh_token_reuse") {
		t.Error("no refresh_token_reuse audit event")
	}
}

func TestRefreshGraceTakeover(t *testing.T) {
	testRefreshGraceTakeover(t, newEnv(t, map[string]string{"REFRESH_REUSE_GRACE": "30s"}))
}

// testRefreshGraceTakeover is the takeover of issue 13: the client refreshes
// RT0 and gets RT1; an attacker who stole RT0 replays it within the grace
// and gets RT2. RT1 was replaced, so the client presenting it is reuse:
// the grant is revoked and RT2 is dead, also past the grace.
func testRefreshGraceTakeover(t *testing.T, e *env) {
	rt0 := e.exchange(e.code(codeOpts{}))
	e.clock.Add(time.Second)
	rt1 := e.ok(e.refresh(rt0.RefreshToken, nil)) // the client
	e.clock.Add(5 * time.Second)
	rt2 := e.ok(e.refresh(rt0.RefreshToken, nil)) // the attacker
	if e.audited("refresh_token_reuse") {
		t.Fatal("the replay within the grace was already audited as reuse")
	}
	if e.active(rt1.RefreshToken) {
		t.Error("RT1 after the replay: got active, want inactive (replaced)")
	}

	// The client presents RT1: reuse.
	w := e.refresh(rt1.RefreshToken, nil)
	oauthError(t, w, 400, "invalid_grant")
	if !strings.Contains(w.Body.String(), "already been used") {
		t.Errorf("RT1: got %s, want the reuse answer", w.Body)
	}
	if !e.audited("refresh_token_reuse") {
		t.Error("no refresh_token_reuse audit event")
	}
	for name, tok := range map[string]string{"RT2": rt2.RefreshToken, "RT2's access token": rt2.AccessToken, "RT1's access token": rt1.AccessToken} {
		if e.active(tok) {
			t.Errorf("%s after reuse: got active, want inactive", name)
		}
	}
	e.clock.Add(31 * time.Second)
	oauthError(t, e.refresh(rt2.RefreshToken, nil), 400, "invalid_grant")
	oauthError(t, e.refresh(rt0.RefreshToken, nil), 400, "invalid_grant")
	e.noSecretsLogged(rt0.RefreshToken, rt1.RefreshToken, rt2.RefreshToken)
}

func TestRefreshReuseAfterGrace(t *testing.T) {
	e := newEnv(t, map[string]string{"REFRESH_REUSE_GRACE": "30s"})
	a := e.exchange(e.code(codeOpts{}))
	b := e.ok(e.refresh(a.RefreshToken, nil))
	e.clock.Add(31 * time.Second)
	oauthError(t, e.refresh(a.RefreshToken, nil), 400, "invalid_grant")
	if e.active(b.RefreshToken) || e.active(b.AccessToken) {
		t.Error("B after reuse past the grace: got active, want inactive")
	}
	if !e.audited("refresh_token_reuse") {
		t.Error("no refresh_token_reuse audit event")
	}
}

func TestRefreshScope(t *testing.T) {
	tests := []struct {
		name      string
		scope     string // the refresh request's scope parameter
		demote    []string
		wantScope string
		wantErr   string
	}{
		{name: "absent", wantScope: "ACCOUNT_WRITE REPO_WRITE"},
		{name: "narrowing", scope: "REPO_READ", wantScope: "REPO_READ"},
		{name: "narrowing to an implied scope", scope: "PUBLIC_REPOS ACCOUNT_WRITE", wantScope: "PUBLIC_REPOS ACCOUNT_WRITE"},
		{name: "widening", scope: "REPO_ADMIN", wantErr: "invalid_scope"},
		{name: "unknown scope", scope: "NOPE", wantErr: "invalid_scope"},
		{name: "malformed scope", scope: "REPO_READ\"", wantErr: "invalid_scope"},
		{name: "user demoted", demote: []string{"REPO_READ"}, wantScope: "REPO_READ"},
		{name: "user demoted to nothing", demote: []string{}, wantScope: "PUBLIC_REPOS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			first := e.exchange(e.code(codeOpts{}))
			if tt.demote != nil {
				e.setUser(store.UserUpdate{Permissions: &tt.demote})
			}
			var extra url.Values
			if tt.scope != "" {
				extra = url.Values{"scope": {tt.scope}}
			}
			w := e.refresh(first.RefreshToken, extra)
			if tt.wantErr != "" {
				oauthError(t, w, 400, tt.wantErr)
				// A refused scope does not consume the token.
				e.ok(e.refresh(first.RefreshToken, nil))
				return
			}
			tk := e.ok(w)
			if tk.Scope != tt.wantScope {
				t.Errorf("scope: got %q, want %q", tk.Scope, tt.wantScope)
			}
			if got := claims(t, tk.AccessToken)["scope"]; got != tt.wantScope {
				t.Errorf("access token scope: got %v, want %q", got, tt.wantScope)
			}
			// The grant keeps the approved scope: a refresh without scope
			// after a narrowing one gets it back (capped by the user).
			next := e.ok(e.refresh(tk.RefreshToken, nil))
			want := "ACCOUNT_WRITE REPO_WRITE"
			if tt.demote != nil {
				want = tt.wantScope
			}
			if next.Scope != want {
				t.Errorf("next refresh scope: got %q, want %q", next.Scope, want)
			}
		})
	}
}

func TestPublicClientRefresh(t *testing.T) {
	e := newEnv(t, nil)
	code := e.code(codeOpts{clientID: publicID, challenge: shared.S256Challenge(verifier), scope: []string{"REPO_READ"}})
	tk := e.ok(e.post("/oauth2/token", "", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"client_id": {publicID}, "code_verifier": {verifier}}))
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.RefreshToken}}
	oauthError(t, e.post("/oauth2/token", "", form), 401, "invalid_client")
	form.Set("client_id", publicID)
	next := e.ok(e.post("/oauth2/token", "", form))
	if next.Scope != "REPO_READ" || next.RefreshToken == tk.RefreshToken {
		t.Errorf("got scope %q and refresh rotated %v, want REPO_READ and a new token", next.Scope, next.RefreshToken != tk.RefreshToken)
	}
}

func TestRefreshErrors(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(e *env, rt string) (auth string, form url.Values)
		status int
		err    string
	}{
		{name: "missing refresh_token", setup: func(e *env, rt string) (string, url.Values) {
			return basic(confID, confSecret), url.Values{"grant_type": {"refresh_token"}}
		}, status: 400, err: "invalid_request"},
		{name: "unknown token", setup: func(e *env, rt string) (string, url.Values) {
			return basic(confID, confSecret), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}}
		}, status: 400, err: "invalid_grant"},
		{name: "another client's token", setup: func(e *env, rt string) (string, url.Values) {
			return basic(otherID, otherSec), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		}, status: 400, err: "invalid_grant"},
		{name: "expired token", setup: func(e *env, rt string) (string, url.Values) {
			e.clock.Add(e.cfg.RefreshTokenTTL)
			return basic(confID, confSecret), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		}, status: 400, err: "invalid_grant"},
		{name: "user disabled", setup: func(e *env, rt string) (string, url.Values) {
			e.setUser(store.UserUpdate{Disabled: ptr(true)})
			return basic(confID, confSecret), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		}, status: 400, err: "invalid_grant"},
		{name: "wrong secret", setup: func(e *env, rt string) (string, url.Values) {
			return basic(confID, "x"), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		}, status: 401, err: "invalid_client"},
		{name: "resource server", setup: func(e *env, rt string) (string, url.Values) {
			return basic(rsID, rsSecret), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		}, status: 400, err: "unauthorized_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			first := e.exchange(e.code(codeOpts{}))
			auth, form := tt.setup(e, first.RefreshToken)
			oauthError(t, e.post("/oauth2/token", auth, form), tt.status, tt.err)
		})
	}
}

func TestRevoke(t *testing.T) {
	conf := basic(confID, confSecret)
	t.Run("refresh token revokes the grant", func(t *testing.T) {
		e := newEnv(t, nil)
		tk := e.exchange(e.code(codeOpts{}))
		w := e.post("/oauth2/revoke", conf, url.Values{"token": {tk.RefreshToken}, "token_type_hint": {"refresh_token"}})
		if w.Code != 200 || w.Body.Len() != 0 {
			t.Fatalf("got %d %q, want 200 and an empty body", w.Code, w.Body)
		}
		if e.active(tk.AccessToken) || e.active(tk.RefreshToken) {
			t.Error("tokens of a revoked grant: got active, want inactive")
		}
		oauthError(t, e.refresh(tk.RefreshToken, nil), 400, "invalid_grant")
		if !e.audited("grant_revoked") {
			t.Error("no grant_revoked audit event")
		}
	})
	t.Run("access token", func(t *testing.T) {
		e := newEnv(t, nil)
		tk := e.exchange(e.code(codeOpts{}))
		// A wrong hint is only a hint (RFC 7009 §2.1).
		w := e.post("/oauth2/revoke", conf, url.Values{"token": {tk.AccessToken}, "token_type_hint": {"refresh_token"}})
		if w.Code != 200 {
			t.Fatalf("got %d %s, want 200", w.Code, w.Body)
		}
		if e.active(tk.AccessToken) {
			t.Error("revoked access token: got active, want inactive")
		}
		if !e.active(tk.RefreshToken) {
			t.Error("refresh token after revoking the access token: got inactive, want active")
		}
	})
	t.Run("unsupported hint is ignored", func(t *testing.T) {
		e := newEnv(t, nil)
		tk := e.exchange(e.code(codeOpts{}))
		w := e.post("/oauth2/revoke", conf, url.Values{"token": {tk.AccessToken}, "token_type_hint": {"id_token"}})
		if w.Code != 200 || e.active(tk.AccessToken) {
			t.Errorf("got %d, active %v, want 200 and inactive", w.Code, e.active(tk.AccessToken))
		}
	})
	t.Run("another client's tokens are unchanged", func(t *testing.T) {
		e := newEnv(t, nil)
		tk := e.exchange(e.code(codeOpts{}))
		for _, tok := range []string{tk.AccessToken, tk.RefreshToken} {
			w := e.post("/oauth2/revoke", basic(otherID, otherSec), url.Values{"token": {tok}})
			if w.Code != 200 {
				t.Errorf("got %d, want 200", w.Code)
			}
		}
		if !e.active(tk.AccessToken) || !e.active(tk.RefreshToken) {
			t.Error("tokens revoked by another client: got inactive, want active")
		}
	})
	t.Run("unknown token", func(t *testing.T) {
		e := newEnv(t, nil)
		for _, tok := range []string{"nope", "a.b.c"} {
			if w := e.post("/oauth2/revoke", conf, url.Values{"token": {tok}}); w.Code != 200 {
				t.Errorf("%q: got %d, want 200", tok, w.Code)
			}
		}
	})
	t.Run("public client revokes its token", func(t *testing.T) {
		e := newEnv(t, nil)
		code := e.code(codeOpts{clientID: publicID, challenge: shared.S256Challenge(verifier), scope: []string{"REPO_READ"}})
		tk := e.ok(e.post("/oauth2/token", "", url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"client_id": {publicID}, "code_verifier": {verifier}}))
		if w := e.post("/oauth2/revoke", "", url.Values{"token": {tk.RefreshToken}, "client_id": {publicID}}); w.Code != 200 {
			t.Fatalf("got %d %s, want 200", w.Code, w.Body)
		}
		if e.introspect(basic(rsID, rsSecret), tk.AccessToken)["active"] != false {
			t.Error("public client's grant after revocation: got active, want inactive")
		}
	})
	t.Run("errors", func(t *testing.T) {
		e := newEnv(t, nil)
		oauthError(t, e.post("/oauth2/revoke", "", url.Values{"token": {"x"}}), 401, "invalid_client")
		oauthError(t, e.post("/oauth2/revoke", basic(confID, "bad"), url.Values{"token": {"x"}}), 401, "invalid_client")
		oauthError(t, e.post("/oauth2/revoke", conf, url.Values{}), 400, "invalid_request")
		oauthError(t, e.do(req{method: http.MethodGet, path: "/oauth2/revoke"}), 405, "invalid_request")
		oauthError(t, e.do(req{path: "/oauth2/revoke", auth: conf, query: "token=x"}), 400, "invalid_request")
	})
}

func TestIntrospect(t *testing.T) {
	e := newEnv(t, nil)
	tk := e.exchange(e.code(codeOpts{}))
	c := claims(t, tk.AccessToken)

	got := e.introspect(basic(confID, confSecret), tk.AccessToken)
	want := map[string]any{
		"active": true, "scope": "ACCOUNT_WRITE REPO_WRITE", "client_id": confID, "username": alice,
		"sub": e.aliceID, "aud": issuer, "iss": issuer, "token_type": "Bearer",
		"exp": c["exp"], "iat": c["iat"], "jti": c["jti"], "grant_id": c["grant_id"],
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("access token %s: got %v, want %v", k, got[k], v)
		}
	}

	rt := e.introspect(basic(confID, confSecret), tk.RefreshToken)
	for k, v := range map[string]any{"active": true, "token_type": "refresh_token", "client_id": confID,
		"username": alice, "scope": "ACCOUNT_WRITE REPO_WRITE", "grant_id": c["grant_id"]} {
		if rt[k] != v {
			t.Errorf("refresh token %s: got %v, want %v", k, rt[k], v)
		}
	}

	inactive := func(name, auth, tok string) {
		t.Helper()
		w := e.post("/oauth2/introspect", auth, url.Values{"token": {tok}})
		if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"active":false}` {
			t.Errorf("%s: got %d %s, want 200 {\"active\":false}", name, w.Code, w.Body)
		}
	}
	inactive("access token, another client", basic(otherID, otherSec), tk.AccessToken)
	inactive("refresh token, another client", basic(otherID, otherSec), tk.RefreshToken)
	inactive("garbage", basic(confID, confSecret), "garbage")
	inactive("forged JWT", basic(confID, confSecret), tk.AccessToken[:len(tk.AccessToken)-4]+"AAAA")
	if e.introspect(basic(rsID, rsSecret), tk.AccessToken)["active"] != true {
		t.Error("access token by the resource server: got inactive, want active")
	}
	// A resource server never sees a refresh token as active (issue 13):
	// one that checks only "active" would take it for an access token.
	inactive("refresh token, the resource server", basic(rsID, rsSecret), tk.RefreshToken)

	// Errors: authentication is required, with a secret.
	oauthError(t, e.post("/oauth2/introspect", "", url.Values{"token": {tk.AccessToken}}), 401, "invalid_client")
	oauthError(t, e.post("/oauth2/introspect", "", url.Values{"token": {tk.AccessToken}, "client_id": {publicID}}), 401, "invalid_client")
	oauthError(t, e.post("/oauth2/introspect", basic(rsID, "x"), url.Values{"token": {tk.AccessToken}}), 401, "invalid_client")
	oauthError(t, e.post("/oauth2/introspect", basic(confID, confSecret), url.Values{}), 400, "invalid_request")

	// Expiry.
	e.clock.Add(e.cfg.AccessTokenTTL)
	inactive("expired access token", basic(confID, confSecret), tk.AccessToken)
	e.clock.Add(e.cfg.RefreshTokenTTL)
	inactive("expired refresh token", basic(confID, confSecret), tk.RefreshToken)
}

func TestIntrospectDisabledUser(t *testing.T) {
	e := newEnv(t, nil)
	tk := e.exchange(e.code(codeOpts{}))
	e.setUser(store.UserUpdate{Disabled: ptr(true)})
	if e.active(tk.AccessToken) || e.active(tk.RefreshToken) {
		t.Error("tokens of a disabled user: got active, want inactive")
	}
}

// TestIntrospectLinkGone: the tokens of a disabled or deleted link are
// inactive, also for a resource server (which introspects every access
// token), and active again when a disabled link is enabled.
func TestIntrospectLinkGone(t *testing.T) {
	e := newEnv(t, nil)
	tk := e.exchange(e.code(codeOpts{}))
	link, err := e.st.GetLinkByClientID(context.Background(), confID)
	if err != nil {
		t.Fatal(err)
	}
	// The resource server sees the access token; the refresh token only
	// its own client sees, and never while its link is disabled or gone
	// (the client cannot authenticate then).
	byRS := func() bool { return e.introspect(basic(rsID, rsSecret), tk.AccessToken)["active"] == true }
	byOwner := func() bool {
		w := e.post("/oauth2/introspect", basic(confID, confSecret), url.Values{"token": {tk.RefreshToken}})
		return w.Code == 200 && strings.Contains(w.Body.String(), `"active":true`)
	}
	if a, r := byRS(), byOwner(); !a || !r {
		t.Fatalf("before: access active %v, refresh active %v, want both active", a, r)
	}
	if _, err := e.st.UpdateLink(context.Background(), link.ID, store.LinkUpdate{Enabled: ptr(false)}, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if a, r := byRS(), byOwner(); a || r {
		t.Errorf("link disabled: access active %v, refresh active %v, want both inactive", a, r)
	}
	if _, err := e.st.UpdateLink(context.Background(), link.ID, store.LinkUpdate{Enabled: ptr(true)}, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if a, r := byRS(), byOwner(); !a || !r {
		t.Errorf("link enabled again: access active %v, refresh active %v, want both active", a, r)
	}
	if err := e.st.DeleteLink(context.Background(), link.ID, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if a, r := byRS(), byOwner(); a || r {
		t.Errorf("link deleted: access active %v, refresh active %v, want both inactive", a, r)
	}
}

// TestEmptyParametersAreOmitted: RFC 6749 §3.2, "parameters sent without a
// value MUST be treated as if they were omitted from the request"; and a
// public client may name itself by Basic with an empty password.
func TestEmptyParametersAreOmitted(t *testing.T) {
	e := newEnv(t, nil)
	challenge := shared.S256Challenge(verifier)
	code := e.code(codeOpts{})
	e.ok(e.post("/oauth2/token", basic(confID, confSecret), url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {""}, "code_verifier": {""}, "client_id": {""},
	}))
	code = e.code(codeOpts{clientID: publicID, challenge: challenge})
	e.ok(e.post("/oauth2/token", basic(publicID, ""), url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
	}))
	code = e.code(codeOpts{clientID: publicID, challenge: challenge})
	e.ok(e.post("/oauth2/token", "", url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "client_id": {publicID}, "client_secret": {""},
	}))
}

func TestMetadata(t *testing.T) {
	e := newEnv(t, nil)
	w := e.do(req{method: http.MethodGet, path: "/.well-known/oauth-authorization-server"})
	if w.Code != 200 {
		t.Fatalf("got %d, want 200", w.Code)
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("decode: %v", err)
	}
	want := map[string]any{
		"issuer":                                         issuer,
		"authorization_endpoint":                         issuer + "/oauth2/authorize",
		"token_endpoint":                                 issuer + "/oauth2/token",
		"revocation_endpoint":                            issuer + "/oauth2/revoke",
		"introspection_endpoint":                         issuer + "/oauth2/introspect",
		"device_authorization_endpoint":                  issuer + "/oauth2/device_authorization",
		"jwks_uri":                                       issuer + "/.well-known/jwks.json",
		"response_types_supported":                       []any{"code"},
		"response_modes_supported":                       []any{"query"},
		"grant_types_supported":                          []any{"authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"},
		"token_endpoint_auth_methods_supported":          []any{"client_secret_basic", "client_secret_post", "none"},
		"revocation_endpoint_auth_methods_supported":     []any{"client_secret_basic", "client_secret_post", "none"},
		"introspection_endpoint_auth_methods_supported":  []any{"client_secret_basic", "client_secret_post"},
		"code_challenge_methods_supported":               []any{"S256"},
		"authorization_response_iss_parameter_supported": true,
		"scopes_supported": []any{"PUBLIC_REPOS", "ACCOUNT_WRITE", "REPO_READ", "REPO_WRITE", "REPO_ADMIN",
			"PROJECT_ADMIN", "ADMIN_WRITE", "SYSTEM_ADMIN"},
	}
	for k, v := range want {
		g, _ := json.Marshal(m[k])
		x, _ := json.Marshal(v)
		if string(g) != string(x) {
			t.Errorf("%s: got %s, want %s", k, g, x)
		}
	}
	oauthErr := e.do(req{path: "/.well-known/oauth-authorization-server"})
	if oauthErr.Code != 405 || oauthErr.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST metadata: got %d Allow %q, want 405 GET, HEAD", oauthErr.Code, oauthErr.Header().Get("Allow"))
	}
}

func TestJWKSVerifiesIssuedToken(t *testing.T) {
	e := newEnv(t, nil)
	tk := e.exchange(e.code(codeOpts{}))
	w := e.do(req{method: http.MethodGet, path: "/.well-known/jwks.json"})
	if w.Code != 200 {
		t.Fatalf("got %d, want 200", w.Code)
	}
	// The max-age is the one a staged rotation waits for (5 minutes).
	if signing.JWKSMaxAge != 5*time.Minute {
		t.Errorf("signing.JWKSMaxAge: got %v, want 5m", signing.JWKSMaxAge)
	}
	want := "public, max-age=" + strconv.Itoa(int(signing.JWKSMaxAge/time.Second))
	if got := w.Header().Get("Cache-Control"); got != want {
		t.Errorf("Cache-Control: got %q, want %q", got, want)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(w.Body.Bytes(), &set); err != nil {
		t.Fatalf("decode JWKS: %v", err)
	}
	jws, err := jose.ParseSignedCompact(tk.AccessToken, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	h := jws.Signatures[0].Header
	if h.ExtraHeaders[jose.HeaderType] != "at+jwt" {
		t.Errorf("typ: got %v, want at+jwt", h.ExtraHeaders[jose.HeaderType])
	}
	keys := set.Key(h.KeyID)
	if len(keys) != 1 || !keys[0].IsPublic() {
		t.Fatalf("JWKS: got %d keys for kid %q, want one public key", len(keys), h.KeyID)
	}
	if _, err := jws.Verify(keys[0]); err != nil {
		t.Errorf("verify with the JWKS: %v", err)
	}
}

func TestStoreFailures(t *testing.T) {
	tests := []struct {
		name, method string
		err          error
		status       int
		code         string
	}{
		{"fetch unavailable", "Fetch", shared.ErrUnavailable, 503, "temporarily_unavailable"},
		{"fetch broken", "Fetch", errInternal, 500, "server_error"},
		{"redeem unavailable", "RedeemCode", shared.ErrUnavailable, 503, "temporarily_unavailable"},
		{"user broken", "FetchUser", errInternal, 500, "server_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			code := e.code(codeOpts{})
			e.calls.setFail(tt.method, tt.err)
			w := e.post("/oauth2/token", basic(confID, confSecret), url.Values{"grant_type": {"authorization_code"}, "code": {code}})
			oauthError(t, w, tt.status, tt.code)
			if strings.Contains(w.Body.String(), "secret detail") {
				t.Errorf("response leaks the internal error: %s", w.Body)
			}
			if !strings.Contains(e.logs.String(), "secret detail") && tt.err == errInternal {
				t.Error("internal error not logged")
			}
			// The code was not consumed by a failed exchange.
			e.calls.setFail(tt.method, nil)
			e.exchange(code)
		})
	}
}

var errInternal = errorString("dynamodb: secret detail")

type errorString string

func (e errorString) Error() string { return string(e) }

func TestBudgets(t *testing.T) {
	e := newEnv(t, nil)
	code := e.code(codeOpts{})
	check := func(name string, max int) {
		t.Helper()
		n, by := e.calls.total()
		if n > max {
			t.Errorf("%s: got %d store calls %v, want at most %d", name, n, by, max)
		}
		e.calls.reset()
	}
	e.calls.reset()
	tk := e.exchange(code)
	check("code exchange", 3)
	tk2 := e.ok(e.refresh(tk.RefreshToken, nil))
	check("refresh", 3)
	e.introspect(basic(confID, confSecret), tk2.AccessToken)
	check("introspect access token", 1)
	e.introspect(basic(confID, confSecret), tk2.RefreshToken)
	check("introspect refresh token", 2)
	e.post("/oauth2/revoke", basic(confID, confSecret), url.Values{"token": {tk2.AccessToken}})
	check("revoke access token", 2)
}

func TestOAuth2Client(t *testing.T) {
	// golang.org/x/oauth2 as a real client: both authentication styles,
	// PKCE and a refresh through a TokenSource.
	e := newEnv(t, nil)
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		cfg := oauth2.Config{ClientID: confID, ClientSecret: confSecret, RedirectURL: redirect,
			Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/oauth2/token", AuthStyle: style}}
		code := e.code(codeOpts{redirectURI: redirect, challenge: oauth2.S256ChallengeFromVerifier(verifier)})
		ctx := context.Background()
		tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("style %d: Exchange: %v", style, err)
		}
		if tok.Extra("scope") != "ACCOUNT_WRITE REPO_WRITE" || tok.RefreshToken == "" || tok.Expiry.IsZero() {
			t.Errorf("style %d: got %+v scope %v", style, tok, tok.Extra("scope"))
		}
		tok.Expiry = time.Now().Add(-time.Minute)
		next, err := cfg.TokenSource(ctx, tok).Token()
		if err != nil {
			t.Fatalf("style %d: refresh: %v", style, err)
		}
		if next.AccessToken == tok.AccessToken || next.RefreshToken == tok.RefreshToken {
			t.Errorf("style %d: refresh returned the old tokens", style)
		}
	}
}
