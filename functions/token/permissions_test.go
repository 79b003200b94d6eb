package token

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/permissions"
	"github.com/applinks/applinks/shared/permissions/permissionstest"
)

// permEnv is a token handler with PERMISSION_SOURCE=service, asking svc.
type permEnv struct {
	*env
	svc *permissionstest.Service
}

// newPermEnv starts an environment whose permissions come from a
// permission service; vars are extra configuration variables.
func newPermEnv(t *testing.T, vars map[string]string) *permEnv {
	t.Helper()
	svc := permissionstest.New(t)
	all := map[string]string{"PERMISSION_SOURCE": "service", "PERMISSIONS_URL": svc.URL}
	for k, v := range vars {
		all[k] = v
	}
	var clock func() time.Time
	e := newEnv(t, all, func(o *Options) {
		c, err := permissions.New(permissions.Options{Issuer: o.Config.Issuer, URL: o.Config.Permissions.URL,
			Timeout: o.Config.Permissions.Timeout, MaxCache: o.Config.Permissions.Cache, Catalog: o.Config.Catalog,
			Signer: permissionstest.Signer(t), Now: func() time.Time { return clock() }})
		if err != nil {
			t.Fatal(err)
		}
		o.Permissions, o.PermissionKeys = c, permissionstest.Signer(t)
	})
	clock = e.clock.Now
	return &permEnv{env: e, svc: svc}
}

// scopeOf is the scope of a successful token response.
func (e *permEnv) scopeOf(w *httptest.ResponseRecorder) (string, string) {
	e.t.Helper()
	tk := e.ok(w)
	return tk.Scope, tk.RefreshToken
}

// TestPermissionServiceChangesShowAtRefresh: the service is asked at the
// code exchange and at every refresh (it sends max-age=0); lowered
// permissions show at the next refresh, raised ones never widen the scope
// beyond what the user approved (nor the link's scopes); a failure is 503
// temporarily_unavailable and leaves the refresh token unspent, so the
// client's retry works once the service is back.
func TestPermissionServiceChangesShowAtRefresh(t *testing.T) {
	e := newPermEnv(t, nil)
	e.svc.Grant(0, "REPO_WRITE", "ACCOUNT_WRITE")
	// alice approved REPO_READ and ACCOUNT_WRITE; the link allows
	// REPO_WRITE and ACCOUNT_WRITE.
	code := e.code(codeOpts{scope: []string{"ACCOUNT_WRITE", "REPO_READ"}})
	tk := e.exchange(code)
	if tk.Scope != "ACCOUNT_WRITE REPO_READ" {
		t.Fatalf("exchange: got scope %q, want ACCOUNT_WRITE REPO_READ", tk.Scope)
	}
	asked := e.svc.Asked()
	if len(asked) != 1 {
		t.Fatalf("got %d requests to the service at the exchange, want 1", len(asked))
	}
	b := asked[0].Body
	if b.Sub != e.aliceID || b.ClientID != confID || b.Username != alice || b.Upstream != nil ||
		!slices.Equal(b.Scopes, []string{"ACCOUNT_WRITE", "REPO_READ"}) {
		t.Errorf("request body: got %+v, want alice's id, %s and the approved scopes in catalog order", b, confID)
	}

	steps := []struct {
		name  string
		grant []string // nil: the service fails
		want  string
	}{
		{"lowered", []string{"PUBLIC_REPOS", "ACCOUNT_WRITE"}, "PUBLIC_REPOS ACCOUNT_WRITE"},
		{"none", []string{}, "PUBLIC_REPOS"},
		{"raised far beyond", []string{"SYSTEM_ADMIN"}, "ACCOUNT_WRITE REPO_READ"},
		{"failing", nil, ""},
		{"back", []string{"REPO_READ"}, "REPO_READ"},
	}
	rt := tk.RefreshToken
	for _, s := range steps {
		before := e.svc.Count()
		if s.grant == nil {
			e.svc.Answer(http.StatusInternalServerError, `{"permissions":["SYSTEM_ADMIN"]}`)
		} else {
			e.svc.Grant(0, s.grant...)
		}
		w := e.refresh(rt, nil)
		if e.svc.Count() != before+1 {
			t.Errorf("%s: got %d requests to the service, want 1", s.name, e.svc.Count()-before)
		}
		if s.grant == nil {
			oauthError(t, w, http.StatusServiceUnavailable, shared.CodeTemporarilyUnavailable)
			continue // rt stays unspent
		}
		var scope string
		scope, rt = e.scopeOf(w)
		if scope != s.want {
			t.Errorf("%s: got scope %q, want %q", s.name, scope, s.want)
		}
	}
	// The family still holds what alice approved: a refresh asking for it
	// is allowed, and capped by the service's answer.
	e.svc.Grant(0, "REPO_WRITE", "ACCOUNT_WRITE")
	if scope, _ := e.scopeOf(e.refresh(rt, url.Values{"scope": {"REPO_READ ACCOUNT_WRITE"}})); scope != "ACCOUNT_WRITE REPO_READ" {
		t.Errorf("narrowing refresh: got %q, want ACCOUNT_WRITE REPO_READ", scope)
	}
	e.noSecretsLogged(tk.RefreshToken, tk.AccessToken, code)
}

// TestPermissionServiceExchangeFailure: when the service fails (status,
// timeout, oversize answer, malformed), the exchange is 503
// temporarily_unavailable, the code is not redeemed (no RedeemCode; no
// replay): it works once the service answers, until it expires at
// AUTH_CODE_TTL.
func TestPermissionServiceExchangeFailure(t *testing.T) {
	e := newPermEnv(t, map[string]string{"PERMISSIONS_TIMEOUT": "300ms"})
	code := e.code(codeOpts{})
	e.calls.reset()
	failures := []struct {
		name string
		set  func()
	}{
		{"503", func() { e.svc.Answer(http.StatusServiceUnavailable, "") }},
		{"redirect", func() { e.svc.Answer(http.StatusFound, "", "Location", "https://elsewhere.example/") }},
		{"malformed", func() { e.svc.Answer(http.StatusOK, `{"permissions":"REPO_WRITE"}`) }},
		{"oversize", func() {
			e.svc.Answer(http.StatusOK, `{"permissions":["REPO_WRITE"],"pad":"`+strings.Repeat("x", permissions.MaxAnswerBytes)+`"}`)
		}},
		{"timeout", func() { e.svc.Grant(0, "REPO_WRITE"); e.svc.Block() }},
	}
	for _, f := range failures {
		f.set()
		w := e.post("/oauth2/token", basic(confID, confSecret), url.Values{"grant_type": {"authorization_code"}, "code": {code}})
		oauthError(t, w, http.StatusServiceUnavailable, shared.CodeTemporarilyUnavailable)
		if !strings.Contains(w.Body.String(), "permissions cannot be confirmed") {
			t.Errorf("%s: got %s, want a description saying the permissions cannot be confirmed", f.name, w.Body)
		}
	}
	e.svc.Unblock()
	if _, m := e.calls.total(); m["RedeemCode"] != 0 || m["RevokeGrant"] != 0 {
		t.Errorf("store calls while the service failed: %v, want no RedeemCode and no RevokeGrant", m)
	}
	e.svc.Grant(0, "REPO_WRITE")
	if tk := e.exchange(code); tk.Scope != "REPO_WRITE" {
		t.Errorf("after the service came back: got scope %q, want REPO_WRITE", tk.Scope)
	}

	// A code exchanged only after AUTH_CODE_TTL has expired, service or
	// not.
	late := e.code(codeOpts{ttl: time.Minute})
	e.svc.Answer(http.StatusInternalServerError, "")
	oauthError(t, e.post("/oauth2/token", basic(confID, confSecret), url.Values{"grant_type": {"authorization_code"}, "code": {late}}),
		http.StatusServiceUnavailable, shared.CodeTemporarilyUnavailable)
	e.svc.Grant(0, "REPO_WRITE")
	e.clock.Add(time.Minute)
	oauthError(t, e.post("/oauth2/token", basic(confID, confSecret), url.Values{"grant_type": {"authorization_code"}, "code": {late}}),
		http.StatusBadRequest, shared.CodeInvalidGrant)
}

// TestPermissionServiceReuseFirst: reuse detection runs before the service
// is asked: a rotated refresh token presented again revokes the grant
// (invalid_grant) even while the service is down, and the service is not
// asked; an invalid scope on refresh is invalid_scope, not asked either.
func TestPermissionServiceReuseFirst(t *testing.T) {
	e := newPermEnv(t, nil)
	e.svc.Grant(0, "REPO_WRITE", "ACCOUNT_WRITE")
	first := e.exchange(e.code(codeOpts{}))
	_, second := e.scopeOf(e.refresh(first.RefreshToken, nil))
	asked := e.svc.Count()
	e.svc.Answer(http.StatusInternalServerError, "")
	oauthError(t, e.refresh(second, url.Values{"scope": {"SYSTEM_ADMIN"}}), http.StatusBadRequest, shared.CodeInvalidScope)
	oauthError(t, e.refresh(second, url.Values{"scope": {"NOPE"}}), http.StatusBadRequest, shared.CodeInvalidScope)
	oauthError(t, e.refresh(first.RefreshToken, nil), http.StatusBadRequest, shared.CodeInvalidGrant)
	if !e.audited("refresh_token_reuse") {
		t.Error("no refresh_token_reuse audit event")
	}
	if e.svc.Count() != asked {
		t.Errorf("the service was asked %d more times, want 0 (reuse and scope checks come first)", e.svc.Count()-asked)
	}
	// The grant is revoked: the successor is dead too.
	e.svc.Grant(0, "REPO_WRITE")
	oauthError(t, e.refresh(second, nil), http.StatusBadRequest, shared.CodeInvalidGrant)
}

// TestPermissionServiceCache: the service's max-age keeps its answer per
// (user, client) up to PERMISSIONS_CACHE, so a change shows once the kept
// answer expires; with PERMISSIONS_CACHE=0 every refresh asks.
func TestPermissionServiceCache(t *testing.T) {
	t.Run("max-age 30 under PERMISSIONS_CACHE 60", func(t *testing.T) {
		e := newPermEnv(t, map[string]string{"PERMISSIONS_CACHE": "60"})
		e.svc.Grant(30, "REPO_WRITE", "ACCOUNT_WRITE")
		rt := e.exchange(e.code(codeOpts{})).RefreshToken
		e.svc.Grant(30, "REPO_READ")
		e.clock.Add(29 * time.Second)
		scope, rt := e.scopeOf(e.refresh(rt, nil))
		if scope != "ACCOUNT_WRITE REPO_WRITE" || e.svc.Count() != 1 {
			t.Errorf("at 29 s: got %q after %d requests, want the kept answer's ACCOUNT_WRITE REPO_WRITE after 1", scope, e.svc.Count())
		}
		e.clock.Add(time.Second)
		if scope, _ := e.scopeOf(e.refresh(rt, nil)); scope != "REPO_READ" || e.svc.Count() != 2 {
			t.Errorf("at 30 s: got %q after %d requests, want REPO_READ after 2", scope, e.svc.Count())
		}
	})
	t.Run("max-age 300 over PERMISSIONS_CACHE 10", func(t *testing.T) {
		e := newPermEnv(t, map[string]string{"PERMISSIONS_CACHE": "10"})
		e.svc.Grant(300, "REPO_WRITE", "ACCOUNT_WRITE")
		rt := e.exchange(e.code(codeOpts{})).RefreshToken
		e.svc.Grant(300, "REPO_READ")
		e.clock.Add(10 * time.Second)
		if scope, _ := e.scopeOf(e.refresh(rt, nil)); scope != "REPO_READ" || e.svc.Count() != 2 {
			t.Errorf("at 10 s: got %q after %d requests, want REPO_READ after 2", scope, e.svc.Count())
		}
	})
	t.Run("PERMISSIONS_CACHE 0", func(t *testing.T) {
		e := newPermEnv(t, map[string]string{"PERMISSIONS_CACHE": "0"})
		e.svc.Grant(300, "REPO_WRITE", "ACCOUNT_WRITE")
		rt := e.exchange(e.code(codeOpts{})).RefreshToken
		e.svc.Grant(300, "REPO_READ")
		if scope, _ := e.scopeOf(e.refresh(rt, nil)); scope != "REPO_READ" || e.svc.Count() != 2 {
			t.Errorf("got %q after %d requests, want REPO_READ after 2", scope, e.svc.Count())
		}
	})
}

// TestPermissionServiceJWT: the request's JWT verifies with go-oidc against
// the handler's /.well-known/permissions-jwks.json, with iss the issuer,
// aud PERMISSIONS_URL, exp at most 60 s after iat, typ
// permissions-request+jwt; the token JWK Set does not hold its key, and
// the store calls of an exchange and a refresh are those of stored
// permissions.
func TestPermissionServiceJWT(t *testing.T) {
	e := newPermEnv(t, nil)
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	e.svc.Grant(0, "REPO_WRITE")
	e.calls.reset()
	tk := e.exchange(e.code(codeOpts{}))
	if n, m := e.calls.total(); n != 3 {
		t.Errorf("exchange: got %d store calls %v, want 3", n, m)
	}
	e.calls.reset()
	e.scopeOf(e.refresh(tk.RefreshToken, nil))
	if n, m := e.calls.total(); n != 3 {
		t.Errorf("refresh: got %d store calls %v, want 3", n, m)
	}
	asked := e.svc.Asked()
	if len(asked) != 2 {
		t.Fatalf("got %d requests, want 2", len(asked))
	}
	ctx := context.Background()
	keys := oidc.NewRemoteKeySet(ctx, srv.URL+"/.well-known/permissions-jwks.json")
	v := oidc.NewVerifier(issuer, keys, &oidc.Config{ClientID: e.svc.URL, SupportedSigningAlgs: []string{"RS256"},
		Now: e.clock.Now})
	for _, a := range asked {
		if a.ContentType != "application/json" {
			t.Errorf("Content-Type: got %q", a.ContentType)
		}
		raw, ok := strings.CutPrefix(a.Authorization, "Bearer ")
		if !ok {
			t.Fatalf("Authorization: got %q, want Bearer", a.Authorization)
		}
		tok, err := v.Verify(ctx, raw)
		if err != nil {
			t.Fatalf("go-oidc against permissions-jwks.json: %v", err)
		}
		if tok.Subject != e.aliceID || tok.Subject != a.Body.Sub || !tok.IssuedAt.Equal(e.clock.Now()) ||
			tok.Expiry.Sub(tok.IssuedAt) != 60*time.Second {
			t.Errorf("claims: sub %q iat %v exp %v, want sub %s, iat now, exp 60 s later", tok.Subject, tok.IssuedAt, tok.Expiry, e.aliceID)
		}
		jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
		if err != nil {
			t.Fatal(err)
		}
		if typ := jws.Signatures[0].Header.ExtraHeaders[jose.HeaderType]; typ != "permissions-request+jwt" {
			t.Errorf("typ: got %v, want permissions-request+jwt", typ)
		}
		// Not in the token JWK Set.
		resp, err := http.Get(srv.URL + "/.well-known/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		var set jose.JSONWebKeySet
		err = json.NewDecoder(resp.Body).Decode(&set)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if k := set.Key(jws.Signatures[0].Header.KeyID); len(k) != 0 {
			t.Error("the token JWK Set holds the permission-request key")
		}
	}
	// Nor does a token verifier accept the request as an access token.
	raw, _ := strings.CutPrefix(asked[0].Authorization, "Bearer ")
	if _, err := e.keys.Verify(ctx, raw); err == nil {
		t.Error("the token keyring verified a permission request")
	}
	// And a wrong audience is refused by the service's verifier.
	other := oidc.NewVerifier(issuer, keys, &oidc.Config{ClientID: "https://other.example.com/p", Now: e.clock.Now})
	if _, err := other.Verify(ctx, raw); err == nil {
		t.Error("a verifier for another audience accepted the request")
	}
}

// TestPermissionsJWKSNotFoundWhenStored: with stored permissions there is
// no permission-request key set; the document is 404, and New refuses the
// service source without a client.
func TestPermissionsJWKSNotFoundWhenStored(t *testing.T) {
	e := newEnv(t, nil)
	w := e.do(req{method: http.MethodGet, path: "/.well-known/permissions-jwks.json"})
	if w.Code != http.StatusNotFound {
		t.Errorf("got %d %s, want 404", w.Code, w.Body)
	}
	cfg := e.cfg
	cfg.Permissions.Source = "service"
	cfg.Permissions.URL = "https://perms.example.com/p"
	if _, err := New(Options{Config: cfg, Store: e.calls, Keys: e.keys}); err == nil {
		t.Error("New with PERMISSION_SOURCE=service and no client: got nil, want an error")
	}
}
