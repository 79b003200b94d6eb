package perf

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/local/server"
	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
	"github.com/applinks/applinks/tests/testkit/htmlform"
	"github.com/applinks/applinks/tests/testkit/oauthflow"
)

func TestMain(m *testing.M) {
	// The signing keyring logs its audit events through the default
	// logger when a request carries none; keep them out of the benchmark
	// output, whose lines the medians tool parses.
	slog.SetDefault(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	os.Exit(storetest.Main(m))
}

// The fixtures every benchmark and test uses.
const (
	issuer       = "http://127.0.0.1:8080"
	adminToken   = "perf-admin-token"
	callback     = "http://127.0.0.1/cb"
	userPassword = "plum tractor velvet orbit"
	// verifier is RFC 7636 Appendix B's code_verifier.
	verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)

// provider is the local runner's handler (server.New: the three handlers on
// one mux), driven in-process through httptest.
type provider struct {
	tb      testing.TB
	h       http.Handler
	st      *store.Store
	db      *MeteredDynamoDB
	sm      *storetest.CountingSecretsManager
	cookies map[string]*http.Cookie // the one browser of this provider
}

// backends are the engines a benchmark runs against, by sub-benchmark name.
var backends = []struct {
	name    string
	backend func(testing.TB) storetest.Backend
}{
	{"kumo", storetest.KumoBackend},
	{"dynamodb-local", storetest.DynamoLocalBackend},
}

// newProvider builds the handlers on a fresh table of b, calling AWS
// through the counting wrappers (capacity accounting on when capacity is
// true).
func newProvider(tb testing.TB, b storetest.Backend, capacity bool) *provider {
	tb.Helper()
	return newProviderAlg(tb, b, capacity, signing.RS256)
}

// newProviderAlg is newProvider whose access tokens are signed with alg:
// for ES256 the key set is written first and rotated to ES256 as of an
// hour ago, so that its ES256 key signs at once (a rotation's key signs
// only after the activation delay).
func newProviderAlg(tb testing.TB, b storetest.Backend, capacity bool, alg string) *provider {
	tb.Helper()
	db := NewMeteredDynamoDB(b.DynamoDB, capacity)
	sm := &storetest.CountingSecretsManager{Next: b.SecretsManager}
	st := store.New(db, sm, b.Options)
	if alg != signing.RS256 {
		past := time.Now().Add(-time.Hour)
		k, err := signing.New(context.Background(), st, signing.Options{Now: func() time.Time { return past }})
		if err == nil {
			_, err = k.Rotate(context.Background(), alg, time.Hour)
		}
		if err != nil {
			tb.Fatalf("key set rotated to %s: %v", alg, err)
		}
	}
	env := map[string]string{"ISSUER_URL": issuer, "ADMIN_TOKEN": adminToken}
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		tb.Fatal(err)
	}
	h, err := server.New(context.Background(), cfg, st, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatalf("provider: %v", err)
	}
	return &provider{tb: tb, h: h, st: st, db: db, sm: sm, cookies: map[string]*http.Cookie{}}
}

// serve runs one request through the handler and keeps the cookies it sets.
func (p *provider) serve(req *http.Request) *http.Response {
	for _, c := range p.cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	p.h.ServeHTTP(rec, req)
	resp := rec.Result()
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 {
			delete(p.cookies, c.Name)
		} else {
			p.cookies[c.Name] = &http.Cookie{Name: c.Name, Value: c.Value}
		}
	}
	return resp
}

// body reads resp's body.
func body(resp *http.Response) []byte {
	b, _ := io.ReadAll(resp.Body)
	return b
}

// adminCall calls the admin API and decodes a JSON answer of status want.
func (p *provider) adminCall(method, path string, in any, want int, out any) {
	p.tb.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		p.tb.Fatal(err)
	}
	req := httptest.NewRequest(method, issuer+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp := p.serve(req)
	data := body(resp)
	if resp.StatusCode != want {
		p.tb.Fatalf("%s %s: got status %d, want %d: %s", method, path, resp.StatusCode, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			p.tb.Fatalf("%s %s: decode: %v", method, path, err)
		}
	}
}

// link is a registered confidential client.
type link struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// seed creates a user (permissions REPO_WRITE) and a confidential link
// (ceiling REPO_ADMIN, redirect URI callback) through the admin API.
func (p *provider) seed(username string) link {
	p.tb.Helper()
	p.seedUser(username)
	var l link
	p.adminCall(http.MethodPost, "/admin/links", map[string]any{
		"name": "Perf app", "redirect_uris": []string{callback}, "scopes": []string{"REPO_ADMIN"},
		"client_type": "confidential", "enabled": true,
	}, http.StatusCreated, &l)
	if l.ClientID == "" || l.ClientSecret == "" {
		p.tb.Fatal("create link: the answer lacks client_id or client_secret")
	}
	return l
}

// seedUser creates a user with permissions REPO_WRITE.
func (p *provider) seedUser(username string) {
	p.tb.Helper()
	p.adminCall(http.MethodPost, "/admin/users", map[string]any{
		"username": username, "password": userPassword, "permissions": []string{"REPO_WRITE"},
	}, http.StatusCreated, nil)
}

// authorizeURL is an authorization request of l with PKCE S256 for
// REPO_READ.
func authorizeURL(l link, state string) string {
	q := url.Values{
		"response_type": {"code"}, "client_id": {l.ClientID}, "redirect_uri": {callback},
		"scope": {"REPO_READ"}, "state": {state},
		"code_challenge": {shared.S256Challenge(verifier)}, "code_challenge_method": {"S256"},
	}
	return issuer + "/oauth2/authorize?" + q.Encode()
}

// get GETs an HTML page.
func (p *provider) get(u string) *http.Response {
	req := httptest.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Accept", "text/html")
	return p.serve(req)
}

// browser is oauthflow's Browser (the suites' one page-driving client)
// on p's handler: its requests go through serve, so its cookies are
// p.cookies; it follows no redirect.
func (p *provider) browser() *oauthflow.Browser {
	return &oauthflow.Browser{
		HTTP: &http.Client{Transport: handlerTransport{p}, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
		Origin: issuer,
		Accept: "text/html",
	}
}

// handlerTransport sends a client's request to the provider's handler, as
// the server would receive it (httptest.NewRequest), through serve.
type handlerTransport struct{ p *provider }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body io.Reader
	if req.Body != nil {
		body = req.Body
	}
	in := httptest.NewRequest(req.Method, req.URL.String(), body)
	for k, v := range req.Header {
		in.Header[k] = v
	}
	resp := t.p.serve(in)
	resp.Request = req
	return resp, nil
}

// postForm is the one <form method="post"> of a page, with the values to
// post in place of its hidden inputs' (Browser.Submit).
type postForm struct {
	page   oauthflow.Page
	form   htmlform.Form
	values url.Values
}

// page GETs u and requires a 200 page with one POST form.
func (p *provider) page(u string) *postForm {
	p.tb.Helper()
	pg, err := p.browser().Get(context.Background(), u)
	if err != nil {
		p.tb.Fatal(err)
	}
	if pg.Status != http.StatusOK {
		p.tb.Fatalf("GET %s: got status %d, want 200: %.300s", u, pg.Status, pg.Body)
	}
	f, err := pg.Form()
	if err != nil {
		p.tb.Fatalf("GET %s: %v", u, err)
	}
	return &postForm{page: pg, form: f, values: url.Values{}}
}

// submit posts f as a browser would and requires a 303; it returns the
// Location.
func (p *provider) submit(f *postForm) string {
	p.tb.Helper()
	r, err := p.browser().Submit(context.Background(), f.page, f.form, f.values)
	if err != nil {
		p.tb.Fatal(err)
	}
	return p.seeOther(r)
}

// seeOther requires r to be a 303 and returns its Location.
func (p *provider) seeOther(r oauthflow.Page) string {
	p.tb.Helper()
	if r.Status != http.StatusSeeOther {
		p.tb.Fatalf("POST %s: got status %d, want 303: %.300s", r.URL.Path, r.Status, r.Body)
	}
	next, err := r.Location()
	if err != nil {
		p.tb.Fatalf("POST %s: Location: %v", r.URL.Path, err)
	}
	return next.String()
}

// login signs username in through the login form of an authorization
// request of l; the session cookie stays in p.
func (p *provider) login(l link, username string) {
	p.tb.Helper()
	r, err := p.browser().SignIn(context.Background(), p.page(authorizeURL(l, "login")).page, username, userPassword)
	if err != nil {
		p.tb.Fatal(err)
	}
	p.seeOther(r)
}

// approve runs an authorization request of l with the session in p,
// approves the consent page and returns the code.
func (p *provider) approve(l link) string {
	p.tb.Helper()
	u, err := p.browser().Decide(context.Background(), p.page(authorizeURL(l, "s1")).page, "approve")
	if err != nil {
		p.tb.Fatal(err)
	}
	back := u.String()
	if !strings.HasPrefix(back, callback+"?") || u.Query().Get("code") == "" {
		p.tb.Fatalf("consent: got redirect %q, want the callback with a code", back)
	}
	return u.Query().Get("code")
}

// tokenResponse is RFC 6749 §5.1.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
}

// tokenRequest is a POST to the token endpoint with client_secret_basic.
func tokenRequest(l link, path string, form url.Values) *http.Request {
	req := httptest.NewRequest(http.MethodPost, issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	oauthflow.BasicAuth(req, l.ClientID, l.ClientSecret)
	return req
}

// exchangeForm is the code exchange of RFC 6749 §4.1.3 with PKCE.
func exchangeForm(code string) url.Values {
	return url.Values{
		"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {callback}, "code_verifier": {verifier},
	}
}

func refreshForm(rt string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
}

func introspectForm(at string) url.Values {
	return url.Values{"token": {at}}
}

// tokens calls the token endpoint and requires a 200 with both tokens.
func (p *provider) tokens(l link, form url.Values) tokenResponse {
	p.tb.Helper()
	resp := p.serve(tokenRequest(l, "/oauth2/token", form))
	data := body(resp)
	var t tokenResponse
	if resp.StatusCode != http.StatusOK || json.Unmarshal(data, &t) != nil || t.AccessToken == "" || t.RefreshToken == "" {
		p.tb.Fatalf("token (%s): got status %d: %.300s; want 200 with both tokens", form.Get("grant_type"), resp.StatusCode, data)
	}
	return t
}

// introspect requires that at is active (RFC 7662 §2.2).
func (p *provider) introspect(l link, at string) {
	p.tb.Helper()
	resp := p.serve(tokenRequest(l, "/oauth2/introspect", introspectForm(at)))
	data := body(resp)
	var v struct {
		Active bool `json:"active"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(data, &v) != nil || !v.Active {
		p.tb.Fatalf("introspect: got status %d: %.300s; want 200 and active", resp.StatusCode, data)
	}
}

// seedCode stores an authorization code for l and username directly (as
// the consent step would), so that benchmarks of the exchange need no
// browser flow per iteration.
func (p *provider) seedCode(l link, username, code string) {
	p.tb.Helper()
	ctx := context.Background()
	now := time.Now()
	u, err := p.st.GetUserByName(ctx, username)
	if err != nil {
		p.tb.Fatalf("seed code: %v", err)
	}
	id, err := shared.NewID(rand.Reader)
	if err != nil {
		p.tb.Fatal(err)
	}
	g, err := p.st.ApproveGrant(ctx, store.Grant{ID: id, UserID: u.ID, Username: u.Username, ClientID: l.ClientID,
		Scope: []string{"REPO_READ"}}, shared.DefaultCatalog().Union, now)
	if err != nil {
		p.tb.Fatalf("seed code: %v", err)
	}
	err = p.st.CreateCode(ctx, store.Code{
		Hash: shared.HashToken(code), ClientID: l.ClientID, RedirectURI: callback,
		Challenge: shared.S256Challenge(verifier), UserID: u.ID, GrantID: g.ID, AuthTime: now,
		Scope: []string{"REPO_READ"}, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute),
	})
	if err != nil {
		p.tb.Fatalf("seed code: %v", err)
	}
}
