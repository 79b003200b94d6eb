package security

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/applinks/applinks/local/server"
	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/logtest"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
	"github.com/applinks/applinks/tests/testkit/htmlform"
	"github.com/applinks/applinks/tests/testkit/oauthflow"
)

// defaultLogs captures what is logged through slog's default logger (the
// signing keyring's audit line at start-up, outside any request).
var defaultLogs = &logtest.Buffer{}

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewJSONHandler(defaultLogs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	os.Exit(storetest.Main(m))
}

const (
	adminToken = "security-admin-token-Zx81qLw0"
	// callback is a registered redirect URI that is never contacted: the
	// browser stops at it.
	callback = "http://127.0.0.1:9/cb"
	password = "plum tractor velvet orbit"
)

// env is the provider as the local runner serves it (local/server on a
// loopback http.Server with the runner's limits), on a fresh table of
// DynamoDB Local (secrets on kumo), with every AWS call going through a
// Faults wrapper and every log line captured.
type env struct {
	t       *testing.T
	issuer  string
	http    *http.Client // follows no redirect
	backend storetest.Backend
	faults  *Faults
	logs    *logtest.Buffer // the provider's JSON log lines
	handler http.Handler
}

// newEnv starts a provider; vars override the configuration.
func newEnv(t *testing.T, vars map[string]string) *env {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	all := map[string]string{"ISSUER_URL": issuer, "ADMIN_TOKEN": adminToken}
	for k, v := range vars {
		all[k] = v
	}
	cfg, err := config.FromEnv(func(k string) string { return all[k] })
	if err != nil {
		t.Fatal(err)
	}
	b := backend(t)
	f := NewFaults()
	st := store.New(f.DynamoDB(b.DynamoDB), f.SecretsManager(b.SecretsManager), b.Options)
	logs := &logtest.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h, err := server.New(context.Background(), cfg, st, logger)
	if err != nil {
		t.Fatal(err)
	}
	// The limits of the local runner's http.Server (local/main.go).
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return &env{
		t: t, issuer: issuer, backend: b, faults: f, logs: logs, handler: h,
		http: &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
	}
}

// backend is the engine of newEnv: DynamoDB Local (the reference for
// DynamoDB behaviour), or kumo (what `make run` embeds) when
// SECURITY_ENGINE=kumo.
func backend(t *testing.T) storetest.Backend {
	if os.Getenv("SECURITY_ENGINE") == "kumo" {
		return storetest.KumoBackend(t)
	}
	return storetest.DynamoLocalBackend(t)
}

// response is a read HTTP response.
type response struct {
	status int
	header http.Header
	body   string
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	out := map[string]any{}
	if err := json.Unmarshal([]byte(r.body), &out); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
	return out
}

func (r response) location(t *testing.T) *url.URL {
	t.Helper()
	u, err := url.Parse(r.header.Get("Location"))
	if err != nil || r.header.Get("Location") == "" {
		t.Fatalf("got no Location (status %d): %s", r.status, r.body)
	}
	return u
}

func read(t *testing.T, c *http.Client, req *http.Request) response {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// do sends a request to the provider; hdr is name, value pairs.
func (e *env) do(method, path string, body io.Reader, hdr ...string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.issuer+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	return read(e.t, e.http, req)
}

// post sends a form; hdr as in do.
func (e *env) post(path string, form url.Values, hdr ...string) response {
	e.t.Helper()
	return e.do("POST", path, strings.NewReader(form.Encode()),
		append([]string{"Content-Type", "application/x-www-form-urlencoded"}, hdr...)...)
}

// adminCall calls the admin API with the admin token.
func (e *env) adminCall(method, path string, body any, hdr ...string) response {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	return e.do(method, path, rd, append([]string{"Authorization", "Bearer " + adminToken, "Content-Type", "application/json"}, hdr...)...)
}

// admin calls the admin API, wants status, and decodes the answer into out.
func (e *env) admin(method, path string, body any, want int, out any) {
	e.t.Helper()
	r := e.adminCall(method, path, body)
	if r.status != want {
		e.t.Fatalf("%s %s: got status %d (%s), want %d", method, path, r.status, r.body, want)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(r.body), out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", method, path, r.body, err)
		}
	}
}

type link struct {
	ID           string `json:"id"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

func (e *env) user(name string, perms ...string) {
	e.t.Helper()
	e.admin("POST", "/admin/users", map[string]any{"username": name, "password": password, "permissions": perms}, 201, nil)
}

// link registers a link with the given client type and redirect URIs
// (callback when none).
func (e *env) link(clientType string, redirects ...string) link {
	e.t.Helper()
	if len(redirects) == 0 && clientType != store.ResourceServer {
		redirects = []string{callback}
	}
	var l link
	e.admin("POST", "/admin/links", map[string]any{
		"name": "App " + clientType, "redirect_uris": redirects, "scopes": []string{"REPO_WRITE"},
		"client_type": clientType, "enabled": true,
	}, 201, &l)
	return l
}

// authURL is an authorization request of l; params override the defaults
// (response_type=code, state); an empty value removes a parameter.
func (e *env) authURL(l link, params map[string]string) string {
	q := url.Values{"response_type": {"code"}, "client_id": {l.ClientID}, "state": {"st-1"}}
	for k, v := range params {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	return e.issuer + "/oauth2/authorize?" + q.Encode()
}

// browser is oauthflow's Browser (the suites' one page-driving client)
// for a test of e: it fails the test where the Browser returns an error.
// It follows redirects within the provider and stops at any other origin
// (the client's redirect URI).
type browser struct {
	t *testing.T
	e *env
	*oauthflow.Browser
}

func (e *env) browser() *browser {
	return &browser{t: e.t, e: e, Browser: oauthflow.NewBrowser(nil, 30*time.Second, oauthflow.Within(e.issuer))}
}

// noFollow makes the browser stop at every redirect.
func (b *browser) noFollow() {
	b.HTTP.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
}

// page is a response the browser read, with the URL it ended at
// (oauthflow.Page).
type page struct {
	response
	url *url.URL
}

func pageOf(p oauthflow.Page) page {
	return page{response: response{status: p.Status, header: p.Header, body: p.Body}, url: p.URL}
}

func (p page) raw() oauthflow.Page {
	return oauthflow.Page{URL: p.url, Status: p.status, Header: p.header, Body: p.body}
}

// must is p, or the test's end on err.
func (b *browser) must(p oauthflow.Page, err error) page {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
	return pageOf(p)
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	return b.must(b.Do(req))
}

func (b *browser) get(u string) page {
	b.t.Helper()
	return b.must(b.Get(context.Background(), u))
}

// form is a <form method="post"> of a page.
type form = htmlform.Form

// forms reads every post form of a page.
func forms(t *testing.T, body string) []form {
	t.Helper()
	parsed, err := htmlform.Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return parsed
}

// theForm returns the page's only post form.
func theForm(t *testing.T, p page) form {
	t.Helper()
	f, err := p.raw().Form()
	if err != nil {
		t.Fatalf("%v:\n%s", err, p.body)
	}
	return f
}

// submit posts f from p with extra fields set (an empty value removes the
// field), with Origin: null as browsers send under no-referrer.
func (b *browser) submit(p page, f form, extra map[string]string) page {
	b.t.Helper()
	set := url.Values{}
	for k, v := range extra {
		if v == "" {
			set[k] = nil
		} else {
			set[k] = []string{v}
		}
	}
	return b.must(b.Submit(context.Background(), p.raw(), f, set))
}

// login signs in from the login page p; it returns the page after the
// redirects (consent, account page or the client's redirect).
func (b *browser) login(p page, user string) page {
	b.t.Helper()
	return b.must(b.SignIn(context.Background(), p.raw(), user, password))
}

// consentPage opens authURL, signing in as user when asked, and returns
// the consent page.
func (b *browser) consentPage(authURL, user string) page {
	b.t.Helper()
	return b.must(b.ConsentPage(context.Background(), authURL, user, password))
}

// approve drives authURL to the client's redirect and returns the
// redirect's query: through the consent page, or at once when the user's
// grant for the client already covers the request (a remembered consent:
// an earlier approval, without prompt=consent).
func (b *browser) approve(authURL, user string) url.Values {
	b.t.Helper()
	loc, err := b.Authorize(context.Background(), authURL, user, password, "approve")
	if err != nil {
		b.t.Fatal(err)
	}
	return loc.Query()
}

// grant is what a client holds after a code exchange.
type grant struct {
	access, refresh string
}

// code obtains an authorization code for l as user, with a fresh browser;
// params override the authorization request.
func (e *env) code(l link, user string, params map[string]string) string {
	e.t.Helper()
	q := e.browser().approve(e.authURL(l, params), user)
	c := q.Get("code")
	if c == "" {
		e.t.Fatalf("no code in the redirect: %v", q)
	}
	return c
}

// token posts to the token endpoint as l with client_secret_basic (or
// client_id in the form for a public link).
func (e *env) token(l link, form url.Values) response {
	e.t.Helper()
	return e.clientPost("/oauth2/token", l, form)
}

func (e *env) clientPost(path string, l link, form url.Values) response {
	e.t.Helper()
	if l.ClientSecret == "" {
		form.Set("client_id", l.ClientID)
		return e.post(path, form)
	}
	return e.post(path, form, "Authorization", oauthflow.Basic(l.ClientID, l.ClientSecret))
}

// exchange redeems code with verifier (none when empty) and wants 200.
func (e *env) exchange(l link, code, verifier string) grant {
	e.t.Helper()
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}}
	if verifier != "" {
		f.Set("code_verifier", verifier)
	}
	r := e.token(l, f)
	if r.status != 200 {
		e.t.Fatalf("exchange: got status %d (%s), want 200", r.status, r.body)
	}
	m := r.json(e.t)
	g := grant{access: str(m["access_token"]), refresh: str(m["refresh_token"])}
	if g.access == "" || g.refresh == "" {
		e.t.Fatalf("exchange: got %s, want an access and a refresh token", r.body)
	}
	return g
}

// refresh uses a refresh token as l.
func (e *env) refresh(l link, rt string) response {
	e.t.Helper()
	return e.token(l, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

// introspect asks about tok as l (which must be confidential) and returns
// the answer.
func (e *env) introspect(l link, tok string) map[string]any {
	e.t.Helper()
	r := e.clientPost("/oauth2/introspect", l, url.Values{"token": {tok}})
	if r.status != 200 {
		e.t.Fatalf("introspect: got status %d (%s), want 200", r.status, r.body)
	}
	return r.json(e.t)
}

func (e *env) active(l link, tok string) bool {
	e.t.Helper()
	return e.introspect(l, tok)["active"] == true
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// oauthError checks an RFC 6749 §5.2 error response.
func oauthError(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Errorf("got status %d (%s), want %d", r.status, r.body, status)
	}
	var body struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil || body.Error != code {
		t.Errorf("got body %q, want error %q", r.body, code)
	}
}

// verifier returns a PKCE verifier and its S256 challenge.
func verifier(seed string) (string, string) {
	v := strings.Repeat(seed, 64)[:64]
	return v, shared.S256Challenge(v)
}

// secretNames lists the names of the link secrets under the store's
// prefix (not the signing keys).
func (e *env) secretNames() map[string]bool {
	e.t.Helper()
	out := map[string]bool{}
	in := &secretsmanager.ListSecretsInput{}
	for {
		res, err := e.backend.SecretsManager.ListSecrets(context.Background(), in)
		if err != nil {
			e.t.Fatalf("list secrets: %v", err)
		}
		for _, s := range res.SecretList {
			if n := aws.ToString(s.Name); strings.HasPrefix(n, e.backend.Options.SecretPrefix+"/links/") {
				out[n] = true
			}
		}
		if res.NextToken == nil || *res.NextToken == "" {
			return out
		}
		in.NextToken = res.NextToken
	}
}

// linkSecretName is the name the store gives a link's secret.
func (e *env) linkSecretName(clientID string) string {
	return e.backend.Options.SecretPrefix + "/links/" + clientID
}

// linkView is a link of the admin listing.
type linkView struct {
	ID         string `json:"id"`
	ClientID   string `json:"client_id"`
	ClientType string `json:"client_type"`
}

// links lists every link through the admin API.
func (e *env) links() []linkView {
	e.t.Helper()
	var all []linkView
	cursor := ""
	for {
		var page struct {
			Links      []linkView `json:"links"`
			NextCursor string     `json:"next_cursor"`
		}
		path := "/admin/links?limit=100"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		e.admin("GET", path, nil, 200, &page)
		all = append(all, page.Links...)
		if page.NextCursor == "" {
			return all
		}
		cursor = page.NextCursor
	}
}

// grantView is a grant of the admin listing.
type grantView struct {
	ID      string `json:"grant_id"`
	Revoked bool   `json:"revoked"`
}

func (e *env) grants(l link) []grantView {
	e.t.Helper()
	var page struct {
		Grants []grantView `json:"grants"`
	}
	e.admin("GET", "/admin/links/"+l.ID+"/grants?limit=100", nil, 200, &page)
	return page.Grants
}

// userID is the id of the user named name (the admin API's answer).
func (e *env) userID(name string) string {
	e.t.Helper()
	var u struct {
		ID string `json:"id"`
	}
	e.admin("GET", "/admin/users/"+url.PathEscape(name), nil, 200, &u)
	if u.ID == "" {
		e.t.Fatalf("user %s has no id", name)
	}
	return u.ID
}

// userGrants reads every grant record of the user named name straight from
// the store (active and recently revoked: the admin listing of a link
// shows only active ones).
func (e *env) userGrants(name string) []store.Grant {
	e.t.Helper()
	st := store.New(e.backend.DynamoDB, e.backend.SecretsManager, e.backend.Options)
	gs, err := st.ListGrantsByUser(context.Background(), e.userID(name))
	if err != nil {
		e.t.Fatalf("list grants of %s: %v", name, err)
	}
	return gs
}

// errorAs is errors.As for tests that only ask whether err is of a kind.
func errorAs(err error, target any) bool { return errors.As(err, target) }
