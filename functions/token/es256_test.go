package token

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/clocktest"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store"
)

// es256ID and es256Secret are the credentials of the link that asks for
// ES256 ID tokens (addES256Link).
const (
	es256ID     = "es256-client"
	es256Secret = "es256-secret"
)

// addES256Link seeds a confidential link with id_token_signed_response_alg
// ES256.
func (e *env) addES256Link() {
	e.t.Helper()
	_, _, err := e.st.CreateLink(context.Background(), store.NewLink{ID: "l-es256", ClientID: es256ID, Secret: es256Secret,
		Name: "ES256 app", ClientType: store.Confidential, Enabled: true, RedirectURIs: []string{redirect},
		Scopes: []string{"REPO_READ"}, IDTokenSignedResponseAlg: signing.ES256}, e.clock.Now())
	if err != nil {
		e.t.Fatalf("CreateLink: %v", err)
	}
}

// openidCode seeds an authorization code of clientID for alice with the
// openid scope and a nonce, as the authorize function would.
func (e *env) openidCode(clientID string) string {
	e.t.Helper()
	code, err := shared.NewToken(rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	g := e.grant(clientID, []string{"REPO_READ"})
	now := e.clock.Now()
	if err := e.st.CreateCode(context.Background(), store.Code{
		Hash: shared.HashToken(code), ClientID: clientID, UserID: e.aliceID, GrantID: g.ID, Scope: []string{"REPO_READ"},
		Protocol: []string{"openid"}, Nonce: "nonce-" + clientID, AuthTime: now.Add(-time.Second), CreatedAt: now, ExpiresAt: now.Add(time.Minute),
	}); err != nil {
		e.t.Fatalf("CreateCode: %v", err)
	}
	return code
}

// idTokens is a token response with its ID token.
type idTokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
}

func decodeIDTokens(t *testing.T, w *httptest.ResponseRecorder) idTokens {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("got %d %s, want 200", w.Code, w.Body)
	}
	var tk idTokens
	if err := json.Unmarshal(w.Body.Bytes(), &tk); err != nil || tk.IDToken == "" {
		t.Fatalf("decode %s: %v, want an ID token", w.Body, err)
	}
	return tk
}

// headerAlg is the alg of a compact JWS.
func headerAlg(t *testing.T, tok string) string {
	t.Helper()
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return jws.Signatures[0].Header.Algorithm
}

// TestIDTokenAlgorithmOfLink: a link that asks for ES256 gets ES256 ID
// tokens on the code exchange and on refresh, which an unmodified
// coreos/go-oidc verifier set to ES256 accepts against the JWK Set the
// handler serves; other links keep RS256; access tokens stay RS256.
func TestIDTokenAlgorithmOfLink(t *testing.T) {
	e := newEnv(t, nil)
	e.addES256Link()
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	ctx := context.Background()
	keySet := oidc.NewRemoteKeySet(ctx, srv.URL+"/.well-known/jwks.json")

	es := decodeIDTokens(t, e.post("/oauth2/token", basic(es256ID, es256Secret), url.Values{
		"grant_type": {"authorization_code"}, "code": {e.openidCode(es256ID)}}))
	if got := headerAlg(t, es.IDToken); got != "ES256" {
		t.Errorf("ES256 link's ID token: got %s, want ES256", got)
	}
	if got := headerAlg(t, es.AccessToken); got != "RS256" {
		t.Errorf("ES256 link's access token: got %s, want RS256 (the key set's access-token algorithm)", got)
	}
	esVerifier := oidc.NewVerifier(issuer, keySet, &oidc.Config{ClientID: es256ID, SupportedSigningAlgs: []string{oidc.ES256},
		Now: e.clock.Now})
	idt, err := esVerifier.Verify(ctx, es.IDToken)
	if err != nil {
		t.Fatalf("go-oidc (ES256) Verify: %v", err)
	}
	if idt.Subject != e.aliceID || idt.Nonce != "nonce-"+es256ID {
		t.Errorf("ID token: got sub %q nonce %q", idt.Subject, idt.Nonce)
	}
	if err := idt.VerifyAccessToken(es.AccessToken); err != nil {
		t.Errorf("at_hash of the ES256 ID token: %v", err)
	}
	rsOnly := oidc.NewVerifier(issuer, keySet, &oidc.Config{ClientID: es256ID, Now: e.clock.Now})
	if _, err := rsOnly.Verify(ctx, es.IDToken); err == nil {
		t.Error("a go-oidc verifier left at RS256 accepted the ES256 ID token")
	}
	refreshed := decodeIDTokens(t, e.post("/oauth2/token", basic(es256ID, es256Secret), url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {es.RefreshToken}}))
	if got := headerAlg(t, refreshed.IDToken); got != "ES256" {
		t.Errorf("refreshed ID token: got %s, want ES256", got)
	}
	if _, err := esVerifier.Verify(ctx, refreshed.IDToken); err != nil {
		t.Errorf("go-oidc Verify of the refreshed ID token: %v", err)
	}

	rs := decodeIDTokens(t, e.post("/oauth2/token", basic(confID, confSecret), url.Values{
		"grant_type": {"authorization_code"}, "code": {e.openidCode(confID)}}))
	if got := headerAlg(t, rs.IDToken); got != "RS256" {
		t.Errorf("default link's ID token: got %s, want RS256", got)
	}
	if _, err := oidc.NewVerifier(issuer, keySet, &oidc.Config{ClientID: confID, Now: e.clock.Now}).Verify(ctx, rs.IDToken); err != nil {
		t.Errorf("go-oidc (default RS256) Verify: %v", err)
	}
}

// TestDiscoveryAlgorithms: discovery lists both ID token algorithms; no
// ..._signing_alg_values_supported for client authentication appears in
// either document, since no JWT client authentication is offered.
func TestDiscoveryAlgorithms(t *testing.T) {
	e := newEnv(t, nil)
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		w := e.do(req{method: http.MethodGet, path: path})
		var m map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for k := range m {
			if strings.HasSuffix(k, "_auth_signing_alg_values_supported") {
				t.Errorf("%s: has %s, but no endpoint takes a JWT client assertion", path, k)
			}
		}
		got, _ := json.Marshal(m["id_token_signing_alg_values_supported"])
		switch path {
		case "/.well-known/openid-configuration":
			if string(got) != `["RS256","ES256"]` {
				t.Errorf("id_token_signing_alg_values_supported: got %s, want [RS256 ES256]", got)
			}
		default:
			if string(got) != "null" {
				t.Errorf("RFC 8414 document: got id_token_signing_alg_values_supported %s, want none", got)
			}
		}
	}
}

// legacyKeys is a keyring on a key set as written before ES256 (its RS256
// keys alone), on the clock now.
func legacyKeys(t *testing.T, now func() time.Time) *signing.Keyring {
	t.Helper()
	src := &memSource{}
	if _, err := signing.New(context.Background(), src, signing.Options{}); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(src.doc, &doc); err != nil {
		t.Fatal(err)
	}
	delete(doc, "other_algs")
	src.doc, _ = json.Marshal(doc)
	k, err := signing.New(context.Background(), src, signing.Options{Issuer: issuer, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestES256LinkBeforeItsKeySigns: on a key set written before ES256, an
// ES256 link's code exchange with openid answers temporarily_unavailable
// and leaves the code unredeemed until the ES256 key that EnsureKey
// staged signs; then the same code is exchanged.
func TestES256LinkBeforeItsKeySigns(t *testing.T) {
	// The keyring's clock runs apart from the handler's, so that the key
	// can become active while the code is still valid.
	keyClock := clocktest.New(time.Now())
	keys := legacyKeys(t, keyClock.Now)
	e := newEnv(t, nil, func(o *Options) { o.Keys = keys })
	e.addES256Link()
	code := e.openidCode(es256ID)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}}
	oauthError(t, e.post("/oauth2/token", basic(es256ID, es256Secret), form), http.StatusServiceUnavailable, "temporarily_unavailable")
	rot, staged, err := keys.EnsureKey(context.Background(), signing.ES256)
	if err != nil || !staged {
		t.Fatalf("EnsureKey: %v, staged %v", err, staged)
	}
	oauthError(t, e.post("/oauth2/token", basic(es256ID, es256Secret), form), http.StatusServiceUnavailable, "temporarily_unavailable")
	keyClock.Add(rot.ActiveFrom.Sub(keyClock.Now()))
	tk := decodeIDTokens(t, e.post("/oauth2/token", basic(es256ID, es256Secret), form))
	if got := headerAlg(t, tk.IDToken); got != "ES256" {
		t.Errorf("ID token once the key signs: got %s, want ES256", got)
	}
}

// gatedSource is a signing.Source whose reads wait for gate to close, or
// fail with fail when set; started reports each read.
type gatedSource struct {
	memSource
	gate    chan struct{}
	started chan struct{}
	mu      sync.Mutex
	fail    error
}

func (g *gatedSource) GetSigningKeys(ctx context.Context) ([]byte, error) {
	g.started <- struct{}{}
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	g.mu.Lock()
	err := g.fail
	g.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return g.memSource.GetSigningKeys(ctx)
}

// TestColdStartDoesNotWaitForKeys: with the keyring's read still under way
// (signing.Start, as the token function's INIT leaves it), the requests
// that sign nothing are answered (metadata, discovery, introspection of a
// token that is not ours); a code exchange waits for the keys, after its
// own store reads, and succeeds once they arrive.
func TestColdStartDoesNotWaitForKeys(t *testing.T) {
	src := &gatedSource{gate: make(chan struct{}), started: make(chan struct{}, 10)}
	if _, err := signing.New(context.Background(), &src.memSource, signing.Options{}); err != nil {
		t.Fatal(err)
	}
	keys, err := signing.Start(context.Background(), src, signing.Options{Issuer: issuer})
	if err != nil {
		t.Fatal(err)
	}
	<-src.started
	e := newEnv(t, nil, func(o *Options) { o.Keys = keys })
	// Each answered while the read stays blocked (it would block them
	// for good): within bounds the time a wait would last.
	within(t, "metadata and discovery", func() {
		for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
			if w := e.do(req{method: http.MethodGet, path: path}); w.Code != http.StatusOK {
				t.Errorf("%s during the key read: got %d", path, w.Code)
			}
		}
	})
	within(t, "introspection", func() {
		if got := e.introspect(basic(confID, confSecret), "unknown-opaque-token"); got["active"] != false {
			t.Errorf("introspection of an unknown token during the key read: got %v", got)
		}
		if got := e.introspect(basic(confID, confSecret), "not.a.jwt"); got["active"] != false {
			t.Errorf("introspection of a malformed JWT during the key read: got %v", got)
		}
	})
	code := e.code(codeOpts{})
	e.calls.reset()
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() {
		done <- e.post("/oauth2/token", basic(confID, confSecret), url.Values{"grant_type": {"authorization_code"}, "code": {code}})
	}()
	// The exchange makes its reads (the link and code, then the user and
	// grant) while the keys are still being read, then waits for them.
	waitFor(t, func() bool { n, _ := e.calls.total(); return n >= 2 })
	select {
	case w := <-done:
		t.Fatalf("the code exchange answered before the keys were read: %d %s", w.Code, w.Body)
	default:
	}
	close(src.gate)
	w := <-done
	tk := e.ok(w)
	if _, by := e.calls.total(); by["Fetch"] != 2 || by["RedeemCode"] != 1 {
		t.Errorf("store calls of the exchange: got %v, want 2 Fetch and 1 RedeemCode", by)
	}
	if got := e.introspect(basic(confID, confSecret), tk.AccessToken); got["active"] != true {
		t.Errorf("introspection of the new access token: got %v", got)
	}
}

// within runs f, failing the test when f has not returned after 10 s
// (a request that waits for a key read that never ends).
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no answer within 10s: it waits for the key read", what)
	}
}

// waitFor polls cond until it holds, failing after 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestKeyReadFailure: when the key set cannot be read, a request that signs
// (a code exchange) or verifies (introspection, revocation and UserInfo of
// a JWT) answers temporarily_unavailable (503) with one log line of its
// own besides the request line, and leaves the code unredeemed; requests
// that need no key are served.
func TestKeyReadFailure(t *testing.T) {
	src := &gatedSource{gate: make(chan struct{}), started: make(chan struct{}, 1000)}
	close(src.gate)
	issued, err := signing.New(context.Background(), &src.memSource, signing.Options{})
	if err != nil {
		t.Fatal(err)
	}
	src.fail = fmt.Errorf("secrets manager: %w", shared.ErrUnavailable)
	keys, err := signing.Start(context.Background(), src, signing.Options{Issuer: issuer})
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Wait(context.Background()); !errors.Is(err, shared.ErrUnavailable) {
		t.Fatalf("Wait: got %v, want ErrUnavailable", err)
	}
	e := newEnv(t, nil, func(o *Options) { o.Keys = keys })
	now := time.Now()
	jwt, err := issued.Sign(context.Background(), signing.AccessClaims{Issuer: issuer, Subject: e.aliceID, Audience: issuer,
		ClientID: confID, JTI: "j-1", IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	code := e.code(codeOpts{})
	for _, tc := range []struct {
		name string
		r    req
	}{
		{"code exchange", req{path: "/oauth2/token", auth: basic(confID, confSecret), form: url.Values{"grant_type": {"authorization_code"}, "code": {code}}}},
		{"introspection of a JWT", req{path: "/oauth2/introspect", auth: basic(confID, confSecret), form: url.Values{"token": {jwt}}}},
		{"revocation of a JWT", req{path: "/oauth2/revoke", auth: basic(confID, confSecret), form: url.Values{"token": {jwt}}}},
		{"jwks", req{method: http.MethodGet, path: "/.well-known/jwks.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.logLines())
			w := e.do(tc.r)
			if tc.r.method == http.MethodGet {
				if w.Code != http.StatusServiceUnavailable {
					t.Errorf("got %d, want 503", w.Code)
				}
			} else {
				oauthError(t, w, http.StatusServiceUnavailable, "temporarily_unavailable")
			}
			checkOneLine(t, e.logLines()[before:])
		})
	}
	before := len(e.logLines())
	w := e.do(req{method: http.MethodGet, path: "/oauth2/userinfo", auth: "Bearer " + jwt})
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("userinfo: got %d, want 503", w.Code)
	}
	checkOneLine(t, e.logLines()[before:])
	if w := e.do(req{method: http.MethodGet, path: "/.well-known/openid-configuration"}); w.Code != http.StatusOK {
		t.Errorf("discovery: got %d, want 200", w.Code)
	}
	// The code was not redeemed: once the keys can be read (a second
	// later, the keyring's retry interval), it is exchanged.
	src.mu.Lock()
	src.fail = nil
	src.mu.Unlock()
	waitFor(t, func() bool { return keys.Wait(context.Background()) == nil })
	e.exchange(code)
}

// logLines are the JSON log lines written so far, decoded.
func (e *env) logLines() []map[string]any {
	e.t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(e.logs.String(), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			e.t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// checkOneLine checks that the lines of one request are its request line
// and one error line about the signing keys.
func checkOneLine(t *testing.T, lines []map[string]any) {
	t.Helper()
	var own []map[string]any
	for _, l := range lines {
		if l["msg"] != "request" {
			own = append(own, l)
		}
	}
	if len(own) != 1 || own[0]["level"] != "ERROR" || !strings.Contains(fmt.Sprint(own[0]["err"]), "signing keys") {
		t.Errorf("log lines of the request besides the request line: got %v, want one error about the signing keys", own)
	}
	if len(lines) != 2 {
		t.Errorf("log lines of the request: got %d (%v), want 2", len(lines), lines)
	}
}
