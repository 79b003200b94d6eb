package token

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/clocktest"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/logtest"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
	"github.com/applinks/applinks/shared/store/table"
	"github.com/applinks/applinks/shared/web"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

const issuer = "https://auth.example.com"

// The seeded links and user of every test environment.
const (
	confID     = "conf client:1 é+/" // needs form-urlencoding in Basic credentials
	confSecret = "s3cr+t:/ %é&="     // idem
	otherID    = "other-client"
	otherSec   = "other-secret"
	publicID   = "public-client"
	rsID       = "resource-server"
	rsSecret   = "rs-secret"
	offID      = "disabled-client"
	offSecret  = "disabled-secret"
	alice      = "alice"
	redirect   = "https://app.example.com/callback"
	redirect2  = "https://app.example.com/other"
	verifier   = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)

// memSource is an in-memory signing.Source, so that most tests share one
// keyring instead of generating an RSA key each.
type memSource struct {
	mu  sync.Mutex
	doc []byte
}

func (m *memSource) GetSigningKeys(context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.doc == nil {
		return nil, shared.ErrNotFound
	}
	return m.doc, nil
}

func (m *memSource) CreateSigningKeys(_ context.Context, doc []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.doc != nil {
		return shared.ErrConflict
	}
	m.doc = doc
	return nil
}

func (m *memSource) PutSigningKeys(_ context.Context, doc []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.doc = doc
	return nil
}

var sharedKeys = sync.OnceValues(func() (*signing.Keyring, error) {
	return signing.New(context.Background(), &memSource{}, signing.Options{Issuer: issuer})
})

// counting wraps a Store, counts its calls (each one DynamoDB request) and
// can make a method fail.
type counting struct {
	Store
	mu    sync.Mutex
	calls map[string]int
	fail  map[string]error
	// touches counts TouchLastUse calls apart from calls: the tests of
	// the other operations' costs count the flows' own requests.
	touches int
}

func (c *counting) hit(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[name]++
	return c.fail[name]
}

func (c *counting) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = map[string]int{}
}

func (c *counting) total() (int, map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, m := 0, map[string]int{}
	for k, v := range c.calls {
		n += v
		m[k] = v
	}
	return n, m
}

func (c *counting) setFail(name string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fail[name] = err
}

func (c *counting) Fetch(ctx context.Context, k store.Keys) (store.Bundle, error) {
	if err := c.hit("Fetch"); err != nil {
		return store.Bundle{}, err
	}
	c.mu.Lock()
	err := c.fail["FetchUser"] // a failure of the Fetch that reads a user
	c.mu.Unlock()
	if err != nil && k.UserID != "" {
		return store.Bundle{}, err
	}
	return c.Store.Fetch(ctx, k)
}

func (c *counting) RedeemCode(ctx context.Context, h string, rt *store.RefreshToken, now time.Time) error {
	if err := c.hit("RedeemCode"); err != nil {
		return err
	}
	return c.Store.RedeemCode(ctx, h, rt, now)
}

func (c *counting) RotateRefresh(ctx context.Context, old, next store.RefreshToken, now time.Time) error {
	if err := c.hit("RotateRefresh"); err != nil {
		return err
	}
	return c.Store.RotateRefresh(ctx, old, next, now)
}

func (c *counting) ReplaceSuccessor(ctx context.Context, old, next store.RefreshToken, now time.Time) error {
	if err := c.hit("ReplaceSuccessor"); err != nil {
		return err
	}
	return c.Store.ReplaceSuccessor(ctx, old, next, now)
}

func (c *counting) RevokeGrant(ctx context.Context, userID, clientID, id string, now time.Time) (store.Grant, error) {
	if err := c.hit("RevokeGrant"); err != nil {
		return store.Grant{}, err
	}
	return c.Store.RevokeGrant(ctx, userID, clientID, id, now)
}

func (c *counting) RevokeAccessToken(ctx context.Context, jti string, exp time.Time) error {
	if err := c.hit("RevokeAccessToken"); err != nil {
		return err
	}
	return c.Store.RevokeAccessToken(ctx, jti, exp)
}

func (c *counting) TouchLastUse(ctx context.Context, r store.LastUseRef, now time.Time) (time.Time, bool, error) {
	c.mu.Lock()
	c.touches++
	err := c.fail["TouchLastUse"]
	c.mu.Unlock()
	if err != nil {
		return time.Time{}, false, err
	}
	return c.Store.TouchLastUse(ctx, r, now)
}

func (c *counting) touched() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.touches
}

// env is a token handler on a fresh kumo table with seeded links and user.
type env struct {
	t     *testing.T
	st    *store.Store
	calls *counting
	clock *clocktest.Clock
	cfg   config.Config
	keys  *signing.Keyring
	h     http.Handler
	logs  *logtest.Buffer // the log lines of concurrent requests
	// hst is the handler's store: e.st under the token function's write
	// policy.
	hst *store.Store
	// aliceID is the id of the seeded user alice: the sub of her tokens.
	aliceID string
	// refused counts the "code refused" log lines seen so far, by reason
	// (refusedFor).
	refused map[string]int
}

// newEnv starts an environment on kumo; vars are extra configuration
// variables, opts change the handler's options.
func newEnv(t *testing.T, vars map[string]string, opts ...func(*Options)) *env {
	t.Helper()
	return newEnvOn(t, storetest.Kumo(t), vars, opts...)
}

// newEnvOn starts an environment on st.
func newEnvOn(t *testing.T, st *store.Store, vars map[string]string, opts ...func(*Options)) *env {
	t.Helper()
	all := map[string]string{"ISSUER_URL": issuer}
	for k, v := range vars {
		all[k] = v
	}
	cfg, err := config.FromEnv(func(k string) string { return all[k] })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	keys, err := sharedKeys()
	if err != nil {
		t.Fatalf("keyring: %v", err)
	}
	e := &env{t: t, st: st, cfg: cfg, keys: keys,
		clock: clocktest.New(time.Now().UTC().Truncate(time.Second)), logs: &logtest.Buffer{}}
	// The handler's store refuses every write outside the token function's
	// IAM write prefixes (table.WritePrefixes, as dynamodb:LeadingKeys
	// would in AWS), so every test proves that policy is enough; seeding
	// goes through e.st.
	e.hst = e.st.WithDynamoDB(func(db store.DynamoDB) store.DynamoDB {
		return storetest.LeadingKeys(db, table.WritePrefixes["token"])
	})
	e.calls = &counting{Store: e.hst, calls: map[string]int{}, fail: map[string]error{}}
	o := Options{Config: cfg, Store: e.calls, Keys: keys, Now: e.clock.Now}
	for _, f := range opts {
		f(&o)
	}
	h, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.h = web.Middleware(h, slog.New(slog.NewJSONHandler(e.logs, nil)), nil)

	ctx := context.Background()
	for _, l := range []store.NewLink{
		{ID: "l-conf", ClientID: confID, Secret: confSecret, ClientType: store.Confidential, Enabled: true,
			RedirectURIs: []string{redirect, redirect2}, Scopes: []string{"REPO_WRITE", "ACCOUNT_WRITE"}},
		{ID: "l-other", ClientID: otherID, Secret: otherSec, ClientType: store.Confidential, Enabled: true,
			RedirectURIs: []string{redirect}, Scopes: []string{"REPO_WRITE"}},
		{ID: "l-public", ClientID: publicID, ClientType: store.Public, Enabled: true,
			RedirectURIs: []string{"http://127.0.0.1/cb"}, Scopes: []string{"REPO_READ"}},
		{ID: "l-rs", ClientID: rsID, Secret: rsSecret, ClientType: store.ResourceServer, Enabled: true},
		{ID: "l-off", ClientID: offID, Secret: offSecret, ClientType: store.Confidential, Enabled: false,
			RedirectURIs: []string{redirect}, Scopes: []string{"REPO_READ"}},
	} {
		l.Name = l.ID
		if _, _, err := e.st.CreateLink(ctx, l, e.clock.Now()); err != nil {
			t.Fatalf("CreateLink %s: %v", l.ID, err)
		}
	}
	// alice exists before she signs in: a code created at the very instant
	// of her creation is refused (see codeHolder).
	created := e.clock.Now().Add(-time.Minute)
	e.aliceID = "uid-" + alice + "-" + shared.HashPrefix(t.Name())
	if err := e.st.CreateUser(ctx, store.User{ID: e.aliceID, Username: alice, PasswordHash: "unused",
		Permissions: []string{"REPO_WRITE", "ACCOUNT_WRITE"}, CreatedAt: created, UpdatedAt: created}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	return e
}

// grant is alice's grant for clientID as her approval on the consent page
// leaves it (created, or the active one updated with scope).
func (e *env) grant(clientID string, scope []string) store.Grant {
	e.t.Helper()
	id, err := shared.NewID(rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	g, err := e.st.ApproveGrant(context.Background(), store.Grant{ID: id, UserID: e.aliceID, Username: alice,
		ClientID: clientID, Scope: scope}, e.cfg.Catalog.Union, e.clock.Now())
	if err != nil {
		e.t.Fatalf("ApproveGrant: %v", err)
	}
	return g
}

// codeOpts describe an authorization code to seed.
type codeOpts struct {
	clientID    string
	redirectURI string   // "" when the authorization request omitted it
	challenge   string   // S256 challenge, "" for none
	scope       []string // default REPO_WRITE ACCOUNT_WRITE
	ttl         time.Duration
}

// code seeds an authorization code as the authorize function would and
// returns it.
func (e *env) code(o codeOpts) string {
	e.t.Helper()
	code, err := shared.NewToken(rand.Reader)
	if err != nil {
		e.t.Fatalf("NewToken: %v", err)
	}
	if o.clientID == "" {
		o.clientID = confID
	}
	if o.scope == nil {
		o.scope = []string{"REPO_WRITE", "ACCOUNT_WRITE"}
	}
	if o.ttl == 0 {
		o.ttl = time.Minute
	}
	g := e.grant(o.clientID, o.scope)
	now := e.clock.Now()
	err = e.st.CreateCode(context.Background(), store.Code{
		Hash: shared.HashToken(code), ClientID: o.clientID, RedirectURI: o.redirectURI, Challenge: o.challenge,
		UserID: e.aliceID, GrantID: g.ID, Scope: o.scope, AuthTime: now.Add(-time.Second), CreatedAt: now, ExpiresAt: now.Add(o.ttl),
	})
	if err != nil {
		e.t.Fatalf("CreateCode: %v", err)
	}
	return code
}

// basic returns client_secret_basic credentials (RFC 6749 §2.3.1: each part
// form-urlencoded, then Base64).
func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// req is a request to the handler.
type req struct {
	method string // default POST
	path   string
	form   url.Values
	auth   string // Authorization header
	query  string
	body   string // raw body instead of form
	ctype  string // default form content type
}

// do serves r and returns the response.
func (e *env) do(r req) *httptest.ResponseRecorder {
	e.t.Helper()
	if r.method == "" {
		r.method = http.MethodPost
	}
	body := r.body
	if body == "" && r.form != nil {
		body = r.form.Encode()
	}
	target := r.path
	if r.query != "" {
		target += "?" + r.query
	}
	hr := httptest.NewRequest(r.method, target, strings.NewReader(body))
	if r.ctype == "" {
		r.ctype = "application/x-www-form-urlencoded"
	}
	hr.Header.Set("Content-Type", r.ctype)
	if r.auth != "" {
		hr.Header.Set("Authorization", r.auth)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, hr)
	return w
}

// post sends form to path with Authorization auth.
func (e *env) post(path, auth string, form url.Values) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.do(req{path: path, form: form, auth: auth})
}

// tokens is a decoded successful token response.
type tokens struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope"`
	RefreshToken string `json:"refresh_token"`
}

// ok decodes a 200 token response, failing the test otherwise.
func (e *env) ok(w *httptest.ResponseRecorder) tokens {
	e.t.Helper()
	if w.Code != http.StatusOK {
		e.t.Fatalf("got status %d body %s, want 200", w.Code, w.Body)
	}
	var tk tokens
	if err := json.Unmarshal(w.Body.Bytes(), &tk); err != nil {
		e.t.Fatalf("decode %s: %v", w.Body, err)
	}
	return tk
}

// oauthError checks an error response's status and code.
func oauthError(t *testing.T, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	var body struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	if w.Code != status || body.Error != code {
		t.Errorf("got %d %q (body %s), want %d %q", w.Code, body.Error, w.Body, status, code)
	}
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control: got %q, want no-store", got)
	}
	if code == "invalid_client" && w.Header().Get("WWW-Authenticate") == "" {
		t.Error("invalid_client without WWW-Authenticate")
	}
}

// exchange redeems code for the confidential client with Basic credentials.
func (e *env) exchange(code string) tokens {
	e.t.Helper()
	return e.ok(e.post("/oauth2/token", basic(confID, confSecret), url.Values{
		"grant_type": {"authorization_code"}, "code": {code},
	}))
}

// refresh uses a refresh token of the confidential client.
func (e *env) refresh(rt string, extra url.Values) *httptest.ResponseRecorder {
	e.t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	for k, v := range extra {
		form[k] = v
	}
	return e.post("/oauth2/token", basic(confID, confSecret), form)
}

// introspect asks about tok with the given client credentials and returns
// the decoded response.
func (e *env) introspect(auth, tok string) map[string]any {
	e.t.Helper()
	w := e.post("/oauth2/introspect", auth, url.Values{"token": {tok}})
	if w.Code != http.StatusOK {
		e.t.Fatalf("introspect: got %d %s, want 200", w.Code, w.Body)
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		e.t.Fatalf("decode %s: %v", w.Body, err)
	}
	return m
}

// active reports whether introspection by the confidential client says tok
// is active.
func (e *env) active(tok string) bool {
	e.t.Helper()
	return e.introspect(basic(confID, confSecret), tok)["active"] == true
}

// noSecretsLogged fails when a log line holds any of the given values.
func (e *env) noSecretsLogged(values ...string) {
	e.t.Helper()
	logs := e.logs.String()
	for _, v := range values {
		if v != "" && strings.Contains(logs, v) {
			e.t.Errorf("logs hold a secret value %.12s...", v)
		}
	}
}

// audited reports whether an audit event was logged.
func (e *env) audited(event string) bool {
	e.t.Helper()
	a, err := e.logs.Audits(event)
	if err != nil {
		e.t.Fatal(err)
	}
	return len(a) > 0
}
