package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"

	"github.com/applinks/applinks/functions/admin"
	"github.com/applinks/applinks/local/server"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
	"github.com/applinks/applinks/shared/throttle"
	"github.com/applinks/applinks/tests/testkit/htmlform"
	"github.com/applinks/applinks/tests/testkit/oauthflow"
)

// TestTwoRegions runs the provider as a deployment in two regions would:
// two runners, each the whole provider built from its own configuration
// and its own *store.Store and SDK clients (so its own signing-key cache,
// its own handlers' memory), on one table of DynamoDB Local and one secret
// prefix (secrets on kumo), behind one issuer. Each request of every flow
// goes to either runner at random, from a seed the test logs
// (TWO_REGIONS_SEED=<seed> replays one): the authorization code flow with
// sign-in and consent, the exchange, refresh, introspection, UserInfo,
// revocation, RP-initiated logout, the device grant, the console (sign in
// on one runner, act on the other), and a signing-key rotation through the
// admin API. After each step that takes something away, both runners are
// asked, and both must refuse: nothing passes that one runner alone would
// refuse. The races that matter are sent to both runners at once
// (goroutines released together): a code redeemed twice, a refresh token
// used twice, a revocation racing a refresh.
func TestTwoRegions(t *testing.T) {
	seeds := []uint64{}
	if s := os.Getenv("TWO_REGIONS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("TWO_REGIONS_SEED=%q: %v", s, err)
		}
		seeds = append(seeds, n)
	} else {
		base := uint64(time.Now().UnixNano())
		seeds = append(seeds, base, base+1, base+2)
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Logf("seed %d; replay with TWO_REGIONS_SEED=%d go test -run TestTwoRegions ./tests/e2e", seed, seed)
			g := startRegions(t, seed)
			g.run()
		})
	}
}

// The two runners' indexes and names.
const (
	regionA = 0
	regionB = 1
)

var regionNames = [2]string{"A", "B"}

const (
	regionPass = "plum tractor velvet orbit"
	rootPass   = "a long administrator password"
	// signedOutURL is the link's post-logout redirect URI, never contacted.
	signedOutURL = "http://127.0.0.1:9/signed-out"
)

// regionClock is real time moved forward by an offset: the one clock of
// both runners, as regions share the time of day. Moving it forward takes
// both past the signing keys' refresh interval, a rotation's active_from
// or the console's confirmation lifetime without waiting for them.
type regionClock struct{ offset atomic.Int64 }

func (c *regionClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func (c *regionClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// regions is the two runners behind one issuer. It is the HTTP transport
// of every client of the test: a request to the issuer goes to the runner
// its context names (on), or else to one the seeded generator picks, as a
// DNS answer would send it to either region. The issuer's own address
// serves the same routing, for a client that does not use the transport.
type regions struct {
	t      *testing.T
	issuer string
	host   string    // the issuer's host:port
	addrs  [2]string // each runner's own host:port
	clock  *regionClock
	base   *http.Transport
	logs   [2]*syncWriter

	mu     sync.Mutex
	rng    *rand.Rand
	trace  []string
	served [2]int
	last   int
	moves  int // picked requests that went to the other runner than the one before
}

type regionKey struct{}

// on makes the requests of ctx go to runner i.
func on(ctx context.Context, i int) context.Context { return context.WithValue(ctx, regionKey{}, i) }

func startRegions(t *testing.T, seed uint64) *regions {
	t.Helper()
	front, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &regions{
		t: t, issuer: "http://" + front.Addr().String(), host: front.Addr().String(),
		clock: &regionClock{}, base: &http.Transport{MaxIdleConnsPerHost: 16},
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), last: -1,
		logs: [2]*syncWriter{{}, {}},
	}
	t.Cleanup(g.base.CloseIdleConnections)
	t.Cleanup(func() {
		if t.Failed() {
			g.mu.Lock()
			t.Logf("requests (seed %d):\n%s", seed, strings.Join(g.trace, "\n"))
			g.mu.Unlock()
			for i, l := range g.logs {
				t.Logf("runner %s's warnings and errors:\n%s", regionNames[i], warnings(l.String()))
			}
		}
	})
	proxy := &httputil.ReverseProxy{Transport: g, Rewrite: func(r *httputil.ProxyRequest) {
		r.Out.URL.Scheme, r.Out.URL.Host, r.Out.Host = "http", g.host, g.host
	}}
	frontSrv := &http.Server{Handler: proxy, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = frontSrv.Serve(front) }()
	t.Cleanup(func() { _ = frontSrv.Close() })

	// One table and secret prefix; each runner has its own clients and
	// store on them. Both start at once: concurrent first starts must end
	// with one signing-key set.
	b := storetest.DynamoLocalBackend(t)
	handlers := [2]http.Handler{}
	errs := [2]error{}
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			vars := map[string]string{"ISSUER_URL": g.issuer, "ADMIN_TOKEN": adminToken, "PROVIDER_NAME": "Example Corp"}
			cfg, err := config.FromEnv(func(k string) string { return vars[k] })
			if err != nil {
				errs[i] = err
				return
			}
			cfg.DevicePollInterval = time.Second // DeviceAccessToken waits it before each poll
			db, sm := storetest.Clients(b.DynamoDBEndpoint, b.SecretsManagerEndpoint)
			st := store.New(db, sm, b.Options)
			logger := slog.New(slog.NewJSONHandler(g.logs[i], nil))
			handlers[i], errs[i] = server.NewWith(context.Background(), cfg, st, logger, server.Options{Now: g.clock.Now})
		})
	}
	wg.Wait()
	for i := range 2 {
		if errs[i] != nil {
			t.Fatalf("runner %s: %v", regionNames[i], errs[i])
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		g.addrs[i] = ln.Addr().String()
		srv := &http.Server{Handler: handlers[i], ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
	}
	return g
}

// RoundTrip sends req to a runner (see regions).
func (g *regions) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != g.host {
		return nil, fmt.Errorf("regions: %s is not the issuer", req.URL.Redacted())
	}
	i, forced := req.Context().Value(regionKey{}).(int)
	g.mu.Lock()
	if !forced {
		i = g.rng.IntN(2)
		if g.last >= 0 && i != g.last {
			g.moves++
		}
		g.last = i
	}
	g.served[i]++
	how := "random"
	if forced {
		how = "chosen"
	}
	g.trace = append(g.trace, fmt.Sprintf("%4d %s (%s) %s %s", len(g.trace)+1, regionNames[i], how, req.Method, req.URL.Path))
	g.mu.Unlock()
	out := req.Clone(req.Context())
	out.URL.Host = g.addrs[i]
	out.Host = g.host
	resp, err := g.base.RoundTrip(out)
	if resp != nil {
		resp.Request = req // the client's view: the issuer's URL
	}
	return resp, err
}

// pick is a runner chosen by the seeded generator.
func (g *regions) pick() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.rng.IntN(2)
}

// client is an HTTP client through the regions that follows no redirect.
func (g *regions) client() *http.Client {
	return &http.Client{Transport: g, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// ctx is a context whose oauth2 calls go through the regions.
func (g *regions) ctx() context.Context {
	return context.WithValue(context.Background(), oauth2.HTTPClient, g.client())
}

// either is the provider as its clients see it: each request to either
// runner.
func (g *regions) either() *provider { return &provider{t: g.t, issuer: g.issuer, client: g.client()} }

// at is runner i alone.
func (g *regions) at(i int) *provider {
	return &provider{t: g.t, issuer: g.issuer, client: &http.Client{Transport: pinned{g, i}, Timeout: 30 * time.Second}}
}

// pinned sends every request to one runner.
type pinned struct {
	g *regions
	i int
}

func (p pinned) RoundTrip(req *http.Request) (*http.Response, error) {
	return p.g.RoundTrip(req.WithContext(on(req.Context(), p.i)))
}

// browser is a user agent with cookies, through the regions, that stops at
// any address outside the issuer (the application's redirect URIs).
func (g *regions) browser() *browser {
	return &browser{t: g.t, stopAt: "http://127.0.0.1:9/", Browser: oauthflow.NewBrowser(g, 30*time.Second, func(req *http.Request) bool {
		return req.URL.Host == g.host
	})}
}

// getOn is b's GET of u sent to runner i.
func getOn(b *browser, i int, u string) page {
	b.t.Helper()
	req, _ := http.NewRequestWithContext(on(context.Background(), i), "GET", u, nil)
	return b.do(req)
}

// world is what the flows share: the user, the links, the administrator.
type world struct {
	aliceID string
	app     link // confidential, code flow, with a post-logout redirect
	cli     link // public, device grant
	appConf *oauth2.Config
}

func (g *regions) run() {
	t := g.t
	start := time.Now()
	w := g.setup()
	g.codeFlow(w)
	g.logout(w)
	g.signInLimit()
	g.deviceFlow(w)
	g.devicePollInterval(w)
	g.raceLinkCreation()
	b := g.browser() // one session for the races: consent each time, one sign-in
	g.raceCode(w, b)
	g.raceRefresh(w, b)
	for range 3 {
		g.raceRevokeRefresh(w, b)
	}
	g.rotation(w, b)
	g.console(w)

	g.mu.Lock()
	defer g.mu.Unlock()
	t.Logf("%d requests in %s: %d to A, %d to B; %d of the random picks moved to the other runner",
		len(g.trace), time.Since(start).Round(time.Millisecond), g.served[0], g.served[1], g.moves)
	// Every seed must have sent steps to both runners and moved between
	// them often, or the flows proved nothing about two regions.
	if g.served[0] < 20 || g.served[1] < 20 || g.moves < 10 {
		t.Errorf("served %v with %d moves: want both runners used and at least 10 moves", g.served, g.moves)
	}
}

// setup creates, through either runner, alice, an administrator, and the
// links; both runners start with the same JWK Set.
func (g *regions) setup() world {
	t := g.t
	p := g.either()
	var u struct {
		ID string `json:"id"`
	}
	p.admin("POST", "/admin/users", map[string]any{"username": "alice", "password": regionPass, "permissions": []string{"REPO_WRITE"},
		"name": "Alice Liddell", "email": "alice@example.com", "email_verified": true}, 201, &u)
	p.admin("POST", "/admin/users", map[string]any{"username": "root", "password": rootPass}, 201, nil)
	p.admin("PUT", "/admin/users/root/admin", map[string]any{"admin": true}, 200, nil)
	var w world
	w.aliceID = u.ID
	p.admin("POST", "/admin/links", map[string]any{
		"name": "Demo app", "redirect_uris": []string{callbackURL}, "post_logout_redirect_uris": []string{signedOutURL},
		"scopes": []string{"REPO_WRITE"}, "client_type": "confidential", "enabled": true,
	}, 201, &w.app)
	p.admin("POST", "/admin/links", map[string]any{"name": "Deploy CLI", "client_type": "public", "scopes": []string{"REPO_WRITE"},
		"grant_types": []string{"refresh_token", grantDevice}}, 201, &w.cli)
	w.appConf = oauthConfig(p, w.app, "/oauth2", oauth2.AuthStyleInHeader, "REPO_READ", "openid", "email")
	// Both read the link the other created.
	for i := range 2 {
		g.at(i).admin("GET", "/admin/links/"+w.app.ID, nil, 200, nil)
	}
	a, b := g.jwks(regionA), g.jwks(regionB)
	if !sameKeys(a, b) || len(a.Keys) != 2 {
		t.Fatalf("JWK Sets after both started: A %v, B %v; want the same two keys (concurrent first starts end with one key set)", kids(a), kids(b))
	}
	return w
}

// jwks is runner i's JWK Set.
func (g *regions) jwks(i int) jose.JSONWebKeySet {
	g.t.Helper()
	resp, err := g.at(i).client.Get(g.issuer + "/.well-known/jwks.json")
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil || resp.StatusCode != 200 {
		g.t.Fatalf("runner %s's JWKS: status %d, %v", regionNames[i], resp.StatusCode, err)
	}
	return set
}

func kids(s jose.JSONWebKeySet) []string {
	var out []string
	for _, k := range s.Keys {
		out = append(out, k.KeyID)
	}
	return out
}

func sameKeys(a, b jose.JSONWebKeySet) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// verifyBoth verifies a JWT (access or ID token) with each runner's JWK
// Set and returns its claims and kid.
func (g *regions) verifyBoth(raw string) (map[string]any, string) {
	g.t.Helper()
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		g.t.Fatalf("parse %q: %v", raw, err)
	}
	kid := tok.Headers[0].KeyID
	var out map[string]any
	for i := range 2 {
		set := g.jwks(i)
		keys := set.Key(kid)
		if len(keys) != 1 {
			g.t.Fatalf("kid %s: %d keys in runner %s's JWKS, want 1", kid, len(keys), regionNames[i])
		}
		out = map[string]any{}
		if err := tok.Claims(keys[0].Key, &out); err != nil {
			g.t.Fatalf("verify with runner %s's JWKS: %v", regionNames[i], err)
		}
	}
	return out, kid
}

// authorizeCode runs an authorization of conf in b (each step on either
// runner) and returns the code.
func (g *regions) authorizeCode(b *browser, conf *oauth2.Config, state string, opts ...oauth2.AuthCodeOption) string {
	g.t.Helper()
	cb := b.authorize(conf.AuthCodeURL(state, opts...), "alice", regionPass, "approve")
	q := cb.Query()
	if q.Get("state") != state || q.Get("iss") != g.issuer || q.Get("code") == "" {
		g.t.Fatalf("callback %s: want state %s, iss %s and a code", cb, state, g.issuer)
	}
	return q.Get("code")
}

// grant is an exchanged code: its tokens.
func (g *regions) grant(w world, b *browser) *oauth2.Token {
	g.t.Helper()
	v := oauth2.GenerateVerifier()
	code := g.authorizeCode(b, w.appConf, "st-"+strconv.Itoa(g.pick()), oauth2.S256ChallengeOption(v))
	tok, err := w.appConf.Exchange(g.ctx(), code, oauth2.VerifierOption(v))
	if err != nil {
		g.t.Fatalf("exchange: %v", err)
	}
	return tok
}

// tokenCall is a raw token request's outcome.
type tokenCall struct {
	status int
	err    string // the OAuth error code
	access string
	rt     string
}

// token posts form to runner i's token endpoint as the app.
func (g *regions) token(ctx context.Context, l link, form url.Values) tokenCall {
	req, _ := http.NewRequestWithContext(ctx, "POST", g.issuer+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if l.ClientSecret != "" {
		oauthflow.BasicAuth(req, l.ClientID, l.ClientSecret)
	}
	resp, err := g.client().Do(req)
	if err != nil {
		return tokenCall{status: -1, err: err.Error()}
	}
	defer resp.Body.Close()
	var body struct {
		Error        string `json:"error"`
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return tokenCall{status: resp.StatusCode, err: body.Error, access: body.AccessToken, rt: body.RefreshToken}
}

// refused asserts that both runners refuse to refresh with rt and call
// tok inactive (introspection) and unauthorized (UserInfo).
func (g *regions) refused(what string, l link, access, rt string) {
	g.t.Helper()
	for i := range 2 {
		if rt != "" {
			if r := g.token(on(context.Background(), i), l, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}); r.status != 400 || r.err != "invalid_grant" {
				g.t.Errorf("%s: refresh on runner %s: got %d %s, want 400 invalid_grant", what, regionNames[i], r.status, r.err)
			}
		}
		if access != "" {
			if got := g.at(i).introspect(l, access)["active"]; got != false {
				g.t.Errorf("%s: introspection on runner %s: active=%v, want false", what, regionNames[i], got)
			}
			if st := g.userinfo(i, access); st != http.StatusUnauthorized {
				g.t.Errorf("%s: UserInfo on runner %s: got %d, want 401", what, regionNames[i], st)
			}
		}
	}
}

// active asserts that both runners call access active for the app.
func (g *regions) active(what string, w world, access string) {
	g.t.Helper()
	for i := range 2 {
		if got := g.at(i).introspect(w.app, access); got["active"] != true || got["sub"] != w.aliceID {
			g.t.Errorf("%s: introspection on runner %s: %v, want active for alice", what, regionNames[i], got)
		}
	}
}

// userinfo asks runner i's UserInfo with access and returns the status.
func (g *regions) userinfo(i int, access string) int {
	g.t.Helper()
	req, _ := http.NewRequestWithContext(on(context.Background(), i), "GET", g.issuer+"/oauth2/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := g.client().Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// codeFlow: sign-in and consent, exchange with PKCE, both JWK Sets verify
// the tokens; the code replayed on each runner is refused and revokes the
// grant on both; a fresh authorization in the same browser session (no
// second sign-in), a refresh, introspection and UserInfo on both, and a
// revocation seen by both.
func (g *regions) codeFlow(w world) {
	t := g.t
	b := g.browser()
	v := oauth2.GenerateVerifier()
	code := g.authorizeCode(b, w.appConf, "st-1", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("nonce", "n-1"))
	tok, err := w.appConf.Exchange(g.ctx(), code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	c, _ := g.verifyBoth(tok.AccessToken)
	if c["sub"] != w.aliceID || c["client_id"] != w.app.ClientID || c["iss"] != g.issuer {
		t.Errorf("access token claims %v", c)
	}
	id, _ := tok.Extra("id_token").(string)
	if ic, _ := g.verifyBoth(id); ic["nonce"] != "n-1" || ic["aud"] != w.app.ClientID || ic["sub"] != w.aliceID {
		t.Errorf("ID token claims %v", ic)
	}
	g.active("after the exchange", w, tok.AccessToken)
	for i := range 2 {
		r := g.token(on(context.Background(), i), w.app, url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {callbackURL}, "code_verifier": {v}})
		if r.status != 400 || r.err != "invalid_grant" {
			t.Errorf("code replayed on runner %s: got %d %s, want 400 invalid_grant", regionNames[i], r.status, r.err)
		}
	}
	g.refused("after the code's replay", w.app, tok.AccessToken, tok.RefreshToken)

	// The same browser session: consent again (the grant was revoked),
	// no sign-in.
	tok = g.grant(w, b)
	g.active("a fresh grant", w, tok.AccessToken)
	for i := range 2 {
		if st := g.userinfo(i, tok.AccessToken); st != 200 {
			t.Errorf("UserInfo on runner %s: got %d, want 200", regionNames[i], st)
		}
	}
	old := *tok
	old.Expiry = time.Now().Add(-time.Minute)
	refreshed, err := w.appConf.TokenSource(g.ctx(), &old).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if refreshed.RefreshToken == tok.RefreshToken || refreshed.AccessToken == tok.AccessToken {
		t.Error("refresh issued no new pair")
	}
	g.active("after the refresh", w, refreshed.AccessToken)
	g.either().revoke(w.app, refreshed.RefreshToken)
	g.refused("after the revocation", w.app, refreshed.AccessToken, refreshed.RefreshToken)
}

// logout: RP-initiated logout, asked and confirmed on either runner,
// ends the session on both.
func (g *regions) logout(w world) {
	t := g.t
	b := g.browser()
	tok := g.grant(w, b)
	id, _ := tok.Extra("id_token").(string)
	q := url.Values{"id_token_hint": {id}, "post_logout_redirect_uri": {signedOutURL}, "state": {"bye"}}
	pg := b.get(g.issuer + "/oauth2/logout?" + q.Encode())
	if pg.status != 200 {
		t.Fatalf("logout: got %d, want the confirmation page", pg.status)
	}
	pg = b.submit(pg, parseForm(t, pg), nil)
	if loc := pg.header.Get("Location"); pg.status != http.StatusSeeOther || loc != signedOutURL+"?state=bye" {
		t.Fatalf("logout confirmed: got %d to %q, want 303 to %s?state=bye", pg.status, loc, signedOutURL)
	}
	authURL := w.appConf.AuthCodeURL("after-logout")
	for i := range 2 {
		if pg := getOn(b, i, authURL); pg.status != 200 || !strings.Contains(pg.body, `name="password"`) {
			t.Errorf("after logout, runner %s: got %d, want the sign-in page", regionNames[i], pg.status)
		}
	}
}

// deviceFlow: unmodified x/oauth2 polls either runner while the person
// confirms the code, signs in and allows on either; the device code is
// then spent on both.
func (g *regions) deviceFlow(w world) {
	t := g.t
	conf := &oauth2.Config{ClientID: w.cli.ClientID, Scopes: []string{"REPO_READ"}, Endpoint: oauth2.Endpoint{
		DeviceAuthURL: g.issuer + "/oauth2/device_authorization", TokenURL: g.issuer + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams}}
	ctx, cancel := context.WithTimeout(g.ctx(), time.Minute)
	defer cancel()
	da, err := conf.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("DeviceAuth: %v", err)
	}
	polled := poll(ctx, conf, da)
	b := g.browser()
	pg := b.get(da.VerificationURIComplete)
	pg = b.submit(pg, parseForm(t, pg), url.Values{"user_code": {da.UserCode}})
	if pg.status != 200 || !strings.Contains(pg.body, `name="password"`) {
		t.Fatalf("after the code: %d, want the sign-in page", pg.status)
	}
	pg = b.submit(pg, parseForm(t, pg), url.Values{"username": {"alice"}, "password": {regionPass}})
	if pg.status != 200 || !strings.Contains(pg.body, da.UserCode) {
		t.Fatalf("after sign-in: %d, want the consent page with the code", pg.status)
	}
	pg = b.submit(pg, parseForm(t, pg), url.Values{"decision": {"approve"}})
	if pg.status != 200 {
		t.Fatalf("approve: %d", pg.status)
	}
	r := wait(t, polled, time.Minute)
	if r.err != nil || r.tok.AccessToken == "" || r.tok.RefreshToken == "" {
		t.Fatalf("DeviceAccessToken: %+v, %v", r.tok, r.err)
	}
	if c, _ := g.verifyBoth(r.tok.AccessToken); c["client_id"] != w.cli.ClientID || c["sub"] != w.aliceID {
		t.Errorf("device access token claims %v", c)
	}
	for i := range 2 {
		got := g.token(on(context.Background(), i), link{}, url.Values{"grant_type": {grantDevice}, "device_code": {da.DeviceCode},
			"client_id": {w.cli.ClientID}})
		if got.status != 400 || got.err != "invalid_grant" {
			t.Errorf("device code again on runner %s: got %d %s, want 400 invalid_grant", regionNames[i], got.status, got.err)
		}
	}
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: r.tok.RefreshToken}).Token(); err != nil {
		t.Errorf("device refresh: %v", err)
	}
}

// signInLimit: wrong passwords for one username sent to either runner
// count together: after the limit, the right password is refused by
// both.
func (g *regions) signInLimit() {
	t := g.t
	g.either().admin("POST", "/admin/users", map[string]any{"username": "bob", "password": regionPass}, 201, nil)
	b := g.browser()
	pg := b.get(g.issuer + "/account/authorizations")
	for range throttle.MaxUsernameFailures {
		if pg.status != 200 || !strings.Contains(pg.body, `name="password"`) {
			t.Fatalf("sign-in page: got %d", pg.status)
		}
		pg = b.submit(pg, parseForm(t, pg), url.Values{"username": {"bob"}, "password": {"wrong password"}})
	}
	for i := range 2 {
		if pg.status != 200 || !strings.Contains(pg.body, `name="password"`) {
			t.Fatalf("sign-in page: got %d", pg.status)
		}
		pg = b.submitOn(i, pg, parseForm(t, pg), url.Values{"username": {"bob"}, "password": {regionPass}})
		if !strings.Contains(pg.body, `name="password"`) || strings.Contains(pg.body, "Signed in as") {
			t.Errorf("the right password after %d failures on either runner, runner %s: got %d, want the sign-in page again",
				throttle.MaxUsernameFailures, regionNames[i], pg.status)
		}
	}
}

// devicePollInterval: a poll on one runner and another on the other
// runner less than the interval later is slow_down, as on one runner.
func (g *regions) devicePollInterval(w world) {
	t := g.t
	var da struct {
		DeviceCode string `json:"device_code"`
		Interval   int    `json:"interval"`
	}
	req, _ := http.NewRequest("POST", g.issuer+"/oauth2/device_authorization",
		strings.NewReader(url.Values{"client_id": {w.cli.ClientID}, "scope": {"REPO_READ"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := g.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&da)
	resp.Body.Close()
	if err != nil || da.DeviceCode == "" || da.Interval <= 0 {
		t.Fatalf("device authorization: %d %+v %v", resp.StatusCode, da, err)
	}
	x := g.pick()
	form := url.Values{"grant_type": {grantDevice}, "device_code": {da.DeviceCode}, "client_id": {w.cli.ClientID}}
	first := g.token(on(context.Background(), x), link{}, form)
	sent := time.Now()
	second := g.token(on(context.Background(), 1-x), link{}, form)
	took := time.Since(sent)
	if first.err != "authorization_pending" {
		t.Errorf("first poll on %s: got %d %s, want authorization_pending", regionNames[x], first.status, first.err)
	}
	// A loaded machine may take the interval between the two: then
	// authorization_pending is right.
	if second.err != "slow_down" && (second.err != "authorization_pending" || took < time.Duration(da.Interval)*time.Second) {
		t.Errorf("a poll on %s right after one on %s: got %d %s after %s, want slow_down", regionNames[1-x], regionNames[x], second.status, second.err, took)
	}
}

// raceLinkCreation: one link creation with an Idempotency-Key sent to
// both runners at once creates one link; both answers are that link.
func (g *regions) raceLinkCreation() {
	t := g.t
	body, _ := json.Marshal(map[string]any{"name": "Racing app", "redirect_uris": []string{callbackURL},
		"scopes": []string{"REPO_READ"}, "client_type": "confidential", "enabled": true})
	create := func(i int) func() link {
		return func() link {
			req, _ := http.NewRequestWithContext(on(context.Background(), i), "POST", g.issuer+"/admin/links", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+adminToken)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "race-1")
			resp, err := g.client().Do(req)
			if err != nil {
				return link{ID: err.Error()}
			}
			defer resp.Body.Close()
			var l link
			if err := json.NewDecoder(resp.Body).Decode(&l); err != nil || resp.StatusCode != http.StatusCreated {
				return link{ID: fmt.Sprintf("status %d (%v)", resp.StatusCode, err)}
			}
			return l
		}
	}
	ls := together(create(regionA), create(regionB))
	if ls[0] != ls[1] || ls[0].ClientSecret == "" {
		t.Errorf("one creation sent to both runners: got %+v and %+v, want the same link", ls[0], ls[1])
	}
	var all struct {
		Links []struct {
			Name string `json:"name"`
		} `json:"links"`
	}
	g.either().admin("GET", "/admin/links", nil, 200, &all)
	n := 0
	for _, l := range all.Links {
		if l.Name == "Racing app" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("got %d links named Racing app, want 1", n)
	}
}

// together runs each function at the same moment (goroutines released
// together) and returns their results.
func together[T any](fs ...func() T) []T {
	out := make([]T, len(fs))
	var ready, done sync.WaitGroup
	release := make(chan struct{})
	for i, f := range fs {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-release
			out[i] = f()
		}()
	}
	ready.Wait()
	close(release)
	done.Wait()
	return out
}

// split returns the one 200 and the other of two token calls; it fails
// the test unless exactly one succeeded and the other is invalid_grant.
func (g *regions) split(what string, rs []tokenCall) (won tokenCall, ok bool) {
	g.t.Helper()
	wins := 0
	for _, r := range rs {
		switch {
		case r.status == 200:
			wins++
			won = r
		case r.status != 400 || r.err != "invalid_grant":
			g.t.Errorf("%s: got %d %s, want 200 or 400 invalid_grant", what, r.status, r.err)
		}
	}
	if wins != 1 {
		g.t.Errorf("%s: %d succeeded (%+v), want exactly 1", what, wins, rs)
		return won, false
	}
	return won, true
}

// raceCode: one code redeemed on both runners at once: one succeeds, the
// other is invalid_grant, and the replay revoked the winner's tokens.
func (g *regions) raceCode(w world, b *browser) {
	v := oauth2.GenerateVerifier()
	code := g.authorizeCode(b, w.appConf, "race-code", oauth2.S256ChallengeOption(v))
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callbackURL}, "code_verifier": {v}}
	rs := together(
		func() tokenCall { return g.token(on(context.Background(), regionA), w.app, form) },
		func() tokenCall { return g.token(on(context.Background(), regionB), w.app, form) })
	if won, ok := g.split("code redeemed on both", rs); ok {
		g.refused("the winner of a double redemption", w.app, won.access, won.rt)
	}
}

// raceRefresh: one refresh token used on both runners at once: one
// succeeds, the other is invalid_grant, and reuse detection revoked the
// grant, the winner's new pair with it.
func (g *regions) raceRefresh(w world, b *browser) {
	tok := g.grant(w, b)
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
	rs := together(
		func() tokenCall { return g.token(on(context.Background(), regionA), w.app, form) },
		func() tokenCall { return g.token(on(context.Background(), regionB), w.app, form) })
	if won, ok := g.split("refresh token used on both", rs); ok {
		g.refused("the winner of a double refresh", w.app, won.access, won.rt)
	}
	g.refused("the raced refresh token", w.app, tok.AccessToken, tok.RefreshToken)
}

// raceRevokeRefresh: a revocation on one runner racing a refresh on the
// other: whatever the order, nothing issued is active afterwards.
func (g *regions) raceRevokeRefresh(w world, b *browser) {
	t := g.t
	tok := g.grant(w, b)
	rev := g.pick()
	var revStatus int
	rs := together(
		func() tokenCall {
			req, _ := http.NewRequestWithContext(on(context.Background(), rev), "POST", g.issuer+"/oauth2/revoke",
				strings.NewReader(url.Values{"token": {tok.RefreshToken}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			oauthflow.BasicAuth(req, w.app.ClientID, w.app.ClientSecret)
			resp, err := g.client().Do(req)
			if err == nil {
				resp.Body.Close()
				revStatus = resp.StatusCode
			}
			return tokenCall{}
		},
		func() tokenCall {
			return g.token(on(context.Background(), 1-rev), w.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
		})
	if revStatus != 200 {
		t.Errorf("revocation racing a refresh: got %d, want 200", revStatus)
	}
	r := rs[1]
	if r.status != 200 && (r.status != 400 || r.err != "invalid_grant") {
		t.Errorf("refresh racing a revocation: got %d %s, want 200 or invalid_grant", r.status, r.err)
	}
	g.refused("a revocation racing a refresh: the first pair", w.app, tok.AccessToken, tok.RefreshToken)
	if r.status == 200 {
		g.refused("a revocation racing a refresh: the refresh's pair", w.app, r.access, r.rt)
	}
}

// rotation: a signing-key rotation through the admin API of one runner.
// Its new key is in that runner's JWK Set at once; the other runner reads
// the key set again within the refresh interval (active_from minus the
// JWK Set's cache lifetime), and from then both publish the same set.
// From active_from both sign with the new key, and each verifies the
// other's tokens.
func (g *regions) rotation(w world, b *browser) {
	t := g.t
	tok := g.grant(w, b)
	x := g.pick()
	y := 1 - x
	before := g.clock.Now()
	var rot struct {
		Kid        string    `json:"kid"`
		ActiveFrom time.Time `json:"active_from"`
	}
	g.at(x).admin("POST", "/admin/signing-keys/rotate", nil, 200, &rot)
	after := g.clock.Now()
	if set := g.jwks(x); len(set.Key(rot.Kid)) != 1 {
		t.Fatalf("runner %s's JWKS right after its rotation lacks the new key %s", regionNames[x], rot.Kid)
	}
	// The other runner's cache may not hold the new key yet (it read the
	// set less than the refresh interval ago): that is the window the
	// activation delay covers. It reads the stored set to rotate, so
	// one rotation at a time holds across runners.
	if set := g.jwks(y); len(set.Key(rot.Kid)) == 0 {
		t.Logf("runner %s's JWKS right after the rotation on %s: %v, without the new key until its next read", regionNames[y], regionNames[x], kids(set))
	}
	g.at(y).admin("POST", "/admin/signing-keys/rotate", nil, http.StatusConflict, nil)
	// The documented delay: every instance re-reads the key set within
	// the refresh interval, and every cached JWK Set has expired
	// JWKSMaxAge after that.
	const delay = 10 * time.Minute
	if rot.ActiveFrom.Before(before.Add(delay).Truncate(time.Second)) || rot.ActiveFrom.After(after.Add(delay)) {
		t.Fatalf("active_from %s: want %s after the rotation (between %s and %s)", rot.ActiveFrom, delay, before, after)
	}
	refresh := delay - signing.JWKSMaxAge
	// Before active_from, tokens are still signed with the old key, which
	// both publish.
	r := g.token(context.Background(), w.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	if r.status != 200 {
		t.Fatalf("refresh before active_from: %d %s", r.status, r.err)
	}
	if _, kid := g.verifyBoth(r.access); kid == rot.Kid {
		t.Errorf("a token signed with the pending key %s before active_from", kid)
	}
	// Both runners last read the set before the rotation ended: past
	// that by the refresh interval, both must serve the new key.
	g.clock.Advance(refresh)
	g.waitFor(fmt.Sprintf("runner %s to publish the key rotated on %s", regionNames[y], regionNames[x]), func() bool {
		set := g.jwks(y)
		return len(set.Key(rot.Kid)) == 1
	})
	if a, b := g.jwks(regionA), g.jwks(regionB); !sameKeys(a, b) || len(a.Keys) != 3 {
		t.Errorf("JWK Sets after the refresh interval: A %v, B %v; want the same three keys", kids(a), kids(b))
	}
	g.clock.Advance(rot.ActiveFrom.Sub(g.clock.Now()) + time.Second)
	rt := r.rt
	for _, i := range []int{x, y} {
		r := g.token(on(context.Background(), i), w.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
		if r.status != 200 {
			t.Fatalf("refresh on runner %s after active_from: %d %s", regionNames[i], r.status, r.err)
		}
		if _, kid := g.verifyBoth(r.access); kid != rot.Kid {
			t.Errorf("runner %s signs with %s after active_from, want the new key %s", regionNames[i], kid, rot.Kid)
		}
		g.active(fmt.Sprintf("a token of runner %s signed with the new key", regionNames[i]), w, r.access)
		rt = r.rt
	}
}

// waitFor polls cond until it holds (10 s at most).
func (g *regions) waitFor(what string, cond func() bool) {
	g.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			g.t.Fatalf("waited 10 s for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// console: the administrator signs in on one runner and creates a link on
// the other; once the confirmation has lapsed, both ask for it again,
// the password is confirmed on either, and both then show the
// credentials; signing out on one ends the session on both.
func (g *regions) console(w world) {
	t := g.t
	x := g.pick()
	y := 1 - x
	b := g.browser()
	pg := getOn(b, x, g.issuer+"/console/login")
	pg = b.submitOn(x, pg, consoleForm(t, pg, "password"), url.Values{"username": {"root"}, "password": {rootPass}})
	if pg.status != 200 || !strings.HasSuffix(pg.url.Path, "/console/links") {
		t.Fatalf("console sign-in on %s: got %d at %s, want the links page", regionNames[x], pg.status, pg.url)
	}
	pg = getOn(b, y, g.issuer+"/console/links/new")
	if pg.status != 200 {
		t.Fatalf("create form on %s: got %d, want 200 (the session of %s)", regionNames[y], pg.status, regionNames[x])
	}
	pg = b.submitOn(y, pg, consoleForm(t, pg, "redirect_uri"), url.Values{"app_type": {"external"}, "direction": {"incoming"},
		"name": {"Build server"}, "redirect_uri": {callbackURL}, "client_type": {"confidential"}, "scope": {"REPO_READ"}})
	if pg.status != 200 || !strings.HasSuffix(pg.url.Path, "/created") {
		t.Fatalf("create on %s: got %d at %s, want the created page", regionNames[y], pg.status, pg.url)
	}
	linkPath := strings.TrimSuffix(pg.url.Path, "/created")
	var creds link
	g.either().admin("GET", "/admin/links/"+pathBase(linkPath)+"/credentials", nil, 200, &creds)
	if creds.ClientSecret == "" || !strings.Contains(pg.body, creds.ClientSecret) {
		t.Fatalf("created page: want the link's secret on it")
	}

	g.clock.Advance(admin.ConfirmTTL + time.Second)
	credsURL := g.issuer + linkPath + "/credentials"
	noFollow := *b.HTTP
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	nb := &browser{t: t, Browser: &oauthflow.Browser{HTTP: &noFollow}}
	for i := range 2 {
		if pg := getOn(nb, i, credsURL); pg.status != http.StatusSeeOther || !strings.HasPrefix(pg.header.Get("Location"), "/console/confirm?") {
			t.Errorf("credentials after the confirmation lapsed, runner %s: got %d to %q, want the confirmation", regionNames[i], pg.status, pg.header.Get("Location"))
		}
	}
	pg = getOn(b, x, credsURL) // followed to the confirmation page
	pg = b.submitOn(y, pg, consoleForm(t, pg, "password"), url.Values{"password": {rootPass}})
	if pg.status != 200 || !strings.Contains(pg.body, creds.ClientSecret) {
		t.Fatalf("confirmed on %s: got %d at %s, want the credentials", regionNames[y], pg.status, pg.url)
	}
	for i := range 2 {
		if pg := getOn(nb, i, credsURL); pg.status != 200 || !strings.Contains(pg.body, creds.ClientSecret) {
			t.Errorf("credentials on runner %s after the confirmation: got %d, want the secret", regionNames[i], pg.status)
		}
	}
	// Sign out on one runner: the session has ended on both.
	pg = getOn(b, x, g.issuer+"/console/links")
	out := consoleFormAction(t, pg, "/console/logout")
	pg = b.submitOn(x, pg, out, nil)
	for i := range 2 {
		if pg := getOn(nb, i, g.issuer+"/console/links"); pg.status != http.StatusSeeOther || !strings.HasPrefix(pg.header.Get("Location"), "/console/login") {
			t.Errorf("console after signing out, runner %s: got %d to %q, want the sign-in page", regionNames[i], pg.status, pg.header.Get("Location"))
		}
	}
}

func pathBase(p string) string { return p[strings.LastIndex(p, "/")+1:] }

// consoleForm is the page's post form that has the field named field.
func consoleForm(t *testing.T, pg page, field string) htmlform.Form {
	t.Helper()
	forms, err := htmlform.Parse([]byte(pg.body))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range forms {
		if f.Fields[field] {
			return f
		}
	}
	t.Fatalf("%s (%d): no form with %s:\n%s", pg.url, pg.status, field, pg.body)
	return htmlform.Form{}
}

// consoleFormAction is the page's post form to action.
func consoleFormAction(t *testing.T, pg page, action string) htmlform.Form {
	t.Helper()
	forms, err := htmlform.Parse([]byte(pg.body))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range forms {
		if f.Action == action {
			return f
		}
	}
	t.Fatalf("%s (%d): no form to %s", pg.url, pg.status, action)
	return htmlform.Form{}
}

// submitOn is submit sent to runner i.
func (b *browser) submitOn(i int, from page, f htmlform.Form, extra url.Values) page {
	b.t.Helper()
	return b.must(b.Submit(on(context.Background(), i), from.raw(), f, extra))
}

// warnings keeps the log lines at WARN and above.
func warnings(logs string) string {
	var out []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, `"level":"WARN"`) || strings.Contains(l, `"level":"ERROR"`) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

var _ http.RoundTripper = (*regions)(nil)
