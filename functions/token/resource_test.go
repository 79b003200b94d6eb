package token

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store"
)

// The resource servers of the resource indicator tests (RFC 8707).
const (
	rsAID     = "rs-a"
	rsASecret = "rs-a-secret"
	rsBID     = "rs-b"
	rsBSecret = "rs-b-secret"
	rsOffID   = "rs-off"
	resA      = "https://api.example.com/a"
	resA2     = "https://api.example.com/a2"
	resB      = "https://api.example.com/b"
	resOff    = "https://api.example.com/off"
)

// resourceServers seeds three resource servers: A (resources resA and
// resA2, scopes REPO_READ), B (resB, REPO_WRITE and ACCOUNT_WRITE), and a
// disabled one (resOff).
func (e *env) resourceServers() {
	e.t.Helper()
	for _, l := range []store.NewLink{
		{ID: "l-rs-a", ClientID: rsAID, Secret: rsASecret, ClientType: store.ResourceServer, Enabled: true,
			Scopes: []string{"REPO_READ"}, ResourceURIs: []string{resA, resA2}},
		{ID: "l-rs-b", ClientID: rsBID, Secret: rsBSecret, ClientType: store.ResourceServer, Enabled: true,
			Scopes: []string{"REPO_WRITE", "ACCOUNT_WRITE"}, ResourceURIs: []string{resB}},
		{ID: "l-rs-off", ClientID: rsOffID, Secret: "rs-off-secret", ClientType: store.ResourceServer, Enabled: false,
			Scopes: []string{"REPO_WRITE"}, ResourceURIs: []string{resOff}},
	} {
		l.Name = l.ID
		if _, _, err := e.st.CreateLink(context.Background(), l, e.clock.Now()); err != nil {
			e.t.Fatalf("CreateLink %s: %v", l.ID, err)
		}
	}
}

// resourceCode seeds a code of the confidential client for resource (of
// the resource server rsClientID) with scope, and the protocol scopes.
func (e *env) resourceCode(resource, rsClientID string, scope []string, protocol ...string) string {
	e.t.Helper()
	code, err := shared.NewToken(rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	g := e.grant(confID, scope)
	now := e.clock.Now()
	if err := e.st.CreateCode(context.Background(), store.Code{
		Hash: shared.HashToken(code), ClientID: confID, UserID: e.aliceID, GrantID: g.ID, Scope: scope, Protocol: protocol,
		Resource: resource, ResourceClientID: rsClientID, AuthTime: now.Add(-time.Second), CreatedAt: now, ExpiresAt: now.Add(time.Minute),
	}); err != nil {
		e.t.Fatal(err)
	}
	return code
}

// claims verifies an access token and returns its claims.
func (e *env) claims(tok string) signing.AccessClaims {
	e.t.Helper()
	c, err := e.keys.Verify(context.Background(), tok)
	if err != nil {
		e.t.Fatalf("verify access token: %v", err)
	}
	return c
}

// TestResourceAudience: a code for a resource gives access tokens whose
// aud is that resource and whose scope is capped by the resource server's
// scopes too, at the exchange and at every refresh; the family keeps the
// resource whether a request repeats it or omits it. Without a resource,
// aud is AUDIENCE and the scope is the link's as before. Both cost the same
// three DynamoDB calls.
func TestResourceAudience(t *testing.T) {
	e := newEnv(t, nil)
	e.resourceServers()
	// alice approved REPO_WRITE and ACCOUNT_WRITE; A allows REPO_READ only.
	code := e.resourceCode(resA, rsAID, []string{"REPO_WRITE", "ACCOUNT_WRITE"})
	e.calls.reset()
	tk := e.ok(e.post("/oauth2/token", basic(confID, confSecret), url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "resource": {resA}}))
	if n, m := e.calls.total(); n != 3 {
		t.Errorf("exchange with a resource: %d store calls %v, want 3 (Fetch, Fetch, RedeemCode)", n, m)
	}
	c := e.claims(tk.AccessToken)
	if c.Audience != resA || c.Scope != "REPO_READ" || tk.Scope != "REPO_READ" {
		t.Errorf("exchange: aud %q scope %q (response %q), want %q and REPO_READ", c.Audience, c.Scope, tk.Scope, resA)
	}
	for i, extra := range []url.Values{nil, {"resource": {resA}}, {"resource": {resA}, "scope": {"PUBLIC_REPOS"}}} {
		e.calls.reset()
		w := e.refresh(tk.RefreshToken, extra)
		if n, m := e.calls.total(); n != 3 {
			t.Errorf("refresh %d: %d store calls %v, want 3", i, n, m)
		}
		next := e.ok(w)
		c := e.claims(next.AccessToken)
		want := "REPO_READ"
		if extra.Has("scope") {
			want = "PUBLIC_REPOS"
		}
		if c.Audience != resA || c.Scope != want {
			t.Errorf("refresh %d: aud %q scope %q, want %q and %s", i, c.Audience, c.Scope, resA, want)
		}
		tk = next
	}
	// B caps less: the link's ceiling stays the limit.
	tkB := e.exchange(e.resourceCode(resB, rsBID, []string{"REPO_WRITE", "ACCOUNT_WRITE"}))
	if c := e.claims(tkB.AccessToken); c.Audience != resB || c.Scope != "ACCOUNT_WRITE REPO_WRITE" {
		t.Errorf("resource B: aud %q scope %q, want %q and ACCOUNT_WRITE REPO_WRITE", c.Audience, c.Scope, resB)
	}
	// No resource: AUDIENCE, the link's ceiling.
	plain := e.exchange(e.code(codeOpts{}))
	if c := e.claims(plain.AccessToken); c.Audience != e.cfg.Audience || c.Scope != "ACCOUNT_WRITE REPO_WRITE" {
		t.Errorf("no resource: aud %q scope %q, want AUDIENCE %q and ACCOUNT_WRITE REPO_WRITE", c.Audience, c.Scope, e.cfg.Audience)
	}
	if c := e.claims(e.ok(e.refresh(plain.RefreshToken, nil)).AccessToken); c.Audience != e.cfg.Audience {
		t.Errorf("refresh without a resource: aud %q, want AUDIENCE", c.Audience)
	}
}

// TestResourceInvalidTarget: a token request that names another resource
// than its grant's is invalid_target and spends nothing (the code and the
// refresh token still work afterwards); so is a resource whose server was
// disabled or dropped the URI, and two resource parameters.
func TestResourceInvalidTarget(t *testing.T) {
	e := newEnv(t, nil)
	e.resourceServers()
	scope := []string{"REPO_WRITE", "ACCOUNT_WRITE"}

	codeA := e.resourceCode(resA, rsAID, scope)
	for name, extra := range map[string]url.Values{
		"another resource":    {"resource": {resB}},
		"another URI of A":    {"resource": {resA2}},
		"another case":        {"resource": {strings.ToUpper(resA)}},
		"a trailing slash":    {"resource": {resA + "/"}},
		"two resources":       {"resource": {resA, resA}},
		"an unknown resource": {"resource": {"https://nowhere.example.com/"}},
		"a disabled resource": {"resource": {resOff}},
		"a client's redirect": {"resource": {redirect}},
	} {
		form := url.Values{"grant_type": {"authorization_code"}, "code": {codeA}}
		for k, v := range extra {
			form[k] = v
		}
		w := e.post("/oauth2/token", basic(confID, confSecret), form)
		t.Run("exchange/"+name, func(t *testing.T) { oauthError(t, w, 400, "invalid_target") })
	}
	tk := e.exchange(codeA) // still unredeemed

	// A code without a resource cannot be turned into one for a resource.
	plainCode := e.code(codeOpts{})
	oauthError(t, e.post("/oauth2/token", basic(confID, confSecret), url.Values{
		"grant_type": {"authorization_code"}, "code": {plainCode}, "resource": {resA}}), 400, "invalid_target")
	plain := e.exchange(plainCode)

	// Refresh: the family's resource, never another one.
	oauthError(t, e.refresh(tk.RefreshToken, url.Values{"resource": {resB}}), 400, "invalid_target")
	oauthError(t, e.refresh(tk.RefreshToken, url.Values{"resource": {resA, resB}}), 400, "invalid_target")
	oauthError(t, e.refresh(plain.RefreshToken, url.Values{"resource": {resA}}), 400, "invalid_target")
	tk = e.ok(e.refresh(tk.RefreshToken, nil)) // unspent by the refusals
	if c := e.claims(tk.AccessToken); c.Audience != resA {
		t.Errorf("refresh after refusals: aud %q, want %q", c.Audience, resA)
	}
	plain = e.ok(e.refresh(plain.RefreshToken, nil))
	if c := e.claims(plain.AccessToken); c.Audience != e.cfg.Audience {
		t.Errorf("refresh of a family without a resource: aud %q, want AUDIENCE", c.Audience)
	}

	// A disabled, then re-enabled resource server; a dropped URI.
	ctx := context.Background()
	off, on := false, true
	codeB := e.resourceCode(resB, rsBID, scope)
	tkB := e.exchange(e.resourceCode(resB, rsBID, scope))
	if _, err := e.st.UpdateLink(ctx, "l-rs-b", store.LinkUpdate{Enabled: &off}, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	oauthError(t, e.post("/oauth2/token", basic(confID, confSecret), url.Values{"grant_type": {"authorization_code"}, "code": {codeB}}), 400, "invalid_target")
	oauthError(t, e.refresh(tkB.RefreshToken, nil), 400, "invalid_target")
	if _, err := e.st.UpdateLink(ctx, "l-rs-b", store.LinkUpdate{Enabled: &on}, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	tkB = e.ok(e.refresh(tkB.RefreshToken, nil))
	onlyA2 := []string{resA2}
	if _, err := e.st.UpdateLink(ctx, "l-rs-a", store.LinkUpdate{ResourceURIs: &onlyA2}, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	oauthError(t, e.refresh(tk.RefreshToken, nil), 400, "invalid_target")
}

// TestResourceIntrospection: a resource server with resource URIs sees as
// active only the access tokens for one of them; one without any sees only
// the tokens for AUDIENCE; the client sees its own tokens whatever their
// audience. A token asked for resource A is inactive to resource B.
func TestResourceIntrospection(t *testing.T) {
	e := newEnv(t, nil)
	e.resourceServers()
	scope := []string{"REPO_WRITE", "ACCOUNT_WRITE"}
	forA := e.exchange(e.resourceCode(resA, rsAID, scope)).AccessToken
	forA2 := e.exchange(e.resourceCode(resA2, rsAID, scope)).AccessToken
	forB := e.exchange(e.resourceCode(resB, rsBID, scope)).AccessToken
	plain := e.exchange(e.code(codeOpts{})).AccessToken
	for _, tc := range []struct {
		caller, tok, name string
		auth              string
		active            bool
	}{
		{"A", forA, "token for A", basic(rsAID, rsASecret), true},
		{"A", forA2, "token for A's other URI", basic(rsAID, rsASecret), true},
		{"A", forB, "token for B", basic(rsAID, rsASecret), false},
		{"A", plain, "token for AUDIENCE", basic(rsAID, rsASecret), false},
		{"B", forA, "token for A", basic(rsBID, rsBSecret), false},
		{"B", forB, "token for B", basic(rsBID, rsBSecret), true},
		{"resource server without URIs", forA, "token for A", basic(rsID, rsSecret), false},
		{"resource server without URIs", plain, "token for AUDIENCE", basic(rsID, rsSecret), true},
		{"the client", forA, "token for A", basic(confID, confSecret), true},
		{"the client", plain, "token for AUDIENCE", basic(confID, confSecret), true},
		{"another client", forA, "token for A", basic(otherID, otherSec), false},
	} {
		got := e.introspect(tc.auth, tc.tok)
		if (got["active"] == true) != tc.active {
			t.Errorf("%s introspects a %s: active %v, want %v", tc.caller, tc.name, got["active"], tc.active)
		}
		if tc.active && tc.tok == forA && got["aud"] != resA {
			t.Errorf("%s introspects a %s: aud %v, want %q", tc.caller, tc.name, got["aud"], resA)
		}
		if !tc.active && len(got) != 1 {
			t.Errorf("%s introspects a %s: %v, want only active false", tc.caller, tc.name, got)
		}
	}
}

// TestResourceUserInfo: UserInfo accepts only tokens for AUDIENCE: a
// token for a resource (with openid) is invalid_token.
func TestResourceUserInfo(t *testing.T) {
	e := newEnv(t, nil)
	e.resourceServers()
	scope := []string{"REPO_WRITE", "ACCOUNT_WRITE"}
	forA := e.exchange(e.resourceCode(resA, rsAID, scope, "openid")).AccessToken
	w := e.do(req{method: http.MethodGet, path: "/oauth2/userinfo", auth: "Bearer " + forA})
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("userinfo with a token for a resource: %d %q, want 401 invalid_token", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	plain := e.exchange(e.resourceCode("", "", scope, "openid")).AccessToken
	if w := e.do(req{method: http.MethodGet, path: "/oauth2/userinfo", auth: "Bearer " + plain}); w.Code != http.StatusOK {
		t.Errorf("userinfo with a token for AUDIENCE: %d %s, want 200", w.Code, w.Body)
	}
}

// TestResourceDevice: the device authorization request may name one
// resource of an enabled resource server (else invalid_target, two are
// invalid_target); the device authorization remembers it, and its tokens
// are for it, capped by its server; the polls may repeat it, not change it.
func TestResourceDevice(t *testing.T) {
	e := newEnv(t, nil)
	e.deviceLinks()
	e.resourceServers()
	for name, form := range map[string]url.Values{
		"unknown":             publicForm(devPublicID, "resource", "https://nowhere.example.com/"),
		"disabled server":     publicForm(devPublicID, "resource", resOff),
		"not a resource URI":  publicForm(devPublicID, "resource", redirect),
		"another case":        publicForm(devPublicID, "resource", strings.ToUpper(resA)),
		"two resources":       {"client_id": {devPublicID}, "resource": {resA, resB}},
		"two, one registered": {"client_id": {devPublicID}, "resource": {resA, "https://nowhere.example.com/"}},
	} {
		w := e.post("/oauth2/device_authorization", "", form)
		t.Run(name, func(t *testing.T) { oauthError(t, w, 400, "invalid_target") })
	}
	e.calls.reset()
	da := e.authorizeDevice("", publicForm(devPublicID, "resource", resB))
	if n, m := e.calls.total(); n != 3 {
		t.Errorf("device authorization with a resource: %d store calls %v, want 3 (Fetch, Fetch, CreateDevice)", n, m)
	}
	e.decide(da.UserCode, devPublicID, true, []string{"REPO_READ"})
	oauthError(t, e.poll("", publicForm(devPublicID, "resource", resA), da.DeviceCode), 400, "invalid_target")
	tk := e.ok(e.poll("", publicForm(devPublicID, "resource", resB), da.DeviceCode))
	if c := e.claims(tk.AccessToken); c.Audience != resB || c.Scope != "REPO_READ" {
		t.Errorf("device tokens: aud %q scope %q, want %q and REPO_READ", c.Audience, c.Scope, resB)
	}
	// The family keeps it: a refresh of the public client.
	w := e.post("/oauth2/token", "", url.Values{"grant_type": {"refresh_token"}, "client_id": {devPublicID}, "refresh_token": {tk.RefreshToken}})
	if c := e.claims(e.ok(w).AccessToken); c.Audience != resB {
		t.Errorf("device family refresh: aud %q, want %q", c.Audience, resB)
	}
	// A, capping REPO_READ for a link whose ceiling is REPO_READ: the same.
	da = e.authorizeDevice("", publicForm(devPublicID, "resource", resA2))
	e.decide(da.UserCode, devPublicID, true, []string{"REPO_READ"})
	if c := e.claims(e.ok(e.poll("", publicForm(devPublicID), da.DeviceCode)).AccessToken); c.Audience != resA2 {
		t.Errorf("device tokens for A2: aud %q, want %q", c.Audience, resA2)
	}
}

// TestResourcePermissionService: with PERMISSION_SOURCE=service the
// service is asked about the scope capped by the resource server too.
func TestResourcePermissionService(t *testing.T) {
	e := newPermEnv(t, nil)
	e.resourceServers()
	e.svc.Grant(0, "REPO_WRITE", "ACCOUNT_WRITE")
	tk := e.exchange(e.resourceCode(resA, rsAID, []string{"REPO_WRITE", "ACCOUNT_WRITE"}))
	if tk.Scope != "REPO_READ" {
		t.Errorf("scope %q, want REPO_READ", tk.Scope)
	}
	asked := e.svc.Asked()
	if len(asked) != 1 || !slices.Equal(asked[0].Body.Scopes, []string{"REPO_READ"}) {
		t.Fatalf("asked %+v, want once about [REPO_READ] (capped by the resource server)", asked)
	}
	e.ok(e.refresh(tk.RefreshToken, nil))
	if asked := e.svc.Asked(); len(asked) != 2 || !slices.Equal(asked[1].Body.Scopes, []string{"REPO_READ"}) {
		t.Errorf("refresh asked %+v, want about [REPO_READ]", asked)
	}
}
