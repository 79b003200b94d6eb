package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"

	"github.com/applinks/applinks/local/server"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
	"github.com/applinks/applinks/tests/testkit/htmlform"
	"github.com/applinks/applinks/tests/testkit/oauthflow"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

const adminToken = "e2e-admin-token-not-a-secret"

// provider is the local runner's handler on a loopback port, backed by the
// real store on DynamoDB Local.
type provider struct {
	t      *testing.T
	issuer string
	client *http.Client
	st     *store.Store // its store, for a test that moves time for it
}

func startProvider(t *testing.T, env map[string]string) *provider {
	t.Helper()
	return startProviderWith(t, env, nil)
}

// startProviderWith is startProvider whose configuration, once read from
// env, change changes (settings that are not read from the environment).
func startProviderWith(t *testing.T, env map[string]string, change func(*config.Config)) *provider {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	vars := map[string]string{"ISSUER_URL": issuer, "ADMIN_TOKEN": adminToken}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.FromEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	if change != nil {
		change(&cfg)
	}
	st := storetest.DynamoLocal(t)
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	h, err := server.New(context.Background(), cfg, st, logger)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return &provider{t: t, issuer: issuer, client: &http.Client{Timeout: 30 * time.Second}, st: st}
}

// admin calls the admin API and decodes the JSON answer into out (when not nil).
func (p *provider) admin(method, path string, body any, wantStatus int, out any) {
	p.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, p.issuer+path, rd)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		p.t.Fatalf("%s %s: got status %d (%s), want %d", method, path, resp.StatusCode, data, wantStatus)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			p.t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
}

type link struct {
	ID           string `json:"id"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// createUser creates a user and returns its id.
func (p *provider) createUser(name, password string, perms []string) string {
	var u struct {
		ID string `json:"id"`
	}
	p.admin("POST", "/admin/users", map[string]any{"username": name, "password": password, "permissions": perms}, 201, &u)
	if u.ID == "" {
		p.t.Fatalf("created user %s has no id", name)
	}
	return u.ID
}

func (p *provider) createLink(name, redirect string, scopes []string, clientType string) link {
	var l link
	p.admin("POST", "/admin/links", map[string]any{
		"name": name, "redirect_uris": []string{redirect}, "scopes": scopes, "client_type": clientType, "enabled": true,
	}, 201, &l)
	if l.ClientID == "" || (clientType != "public" && l.ClientSecret == "") {
		p.t.Fatalf("created link %+v lacks credentials", l)
	}
	return l
}

// browser is oauthflow's Browser (the suites' one page-driving client)
// for a test: it fails the test where the Browser returns an error. It
// follows redirects except those to a URL starting with stopAt (the
// client's redirect URI).
type browser struct {
	t *testing.T
	*oauthflow.Browser
	stopAt string
}

func newBrowser(t *testing.T, stopAt string) *browser {
	b := &browser{t: t, stopAt: stopAt}
	b.Browser = oauthflow.NewBrowser(nil, 30*time.Second, func(req *http.Request) bool {
		return !strings.HasPrefix(req.URL.String(), b.stopAt)
	})
	return b
}

// page is an answer the browser read (oauthflow.Page).
type page struct {
	url    *url.URL
	status int
	header http.Header
	body   string
}

func pageOf(p oauthflow.Page) page {
	return page{url: p.URL, status: p.Status, header: p.Header, body: p.Body}
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

// parseForm reads the one <form method="post"> of a page.
func parseForm(t *testing.T, p page) htmlform.Form {
	t.Helper()
	f, err := p.raw().Form()
	if err != nil {
		t.Fatalf("%v:\n%s", err, p.body)
	}
	return f
}

// submit posts f from the page from with extra's values in place of its
// hidden inputs'.
func (b *browser) submit(from page, f htmlform.Form, extra url.Values) page {
	b.t.Helper()
	return b.must(b.Submit(context.Background(), from.raw(), f, extra))
}

// authorize drives sign-in and consent from an authorization URL, whose
// first answer must be a page (the login or consent page), and returns the
// redirect that reached the client.
func (b *browser) authorize(authURL, user, password, decision string) *url.URL {
	b.t.Helper()
	p := b.get(authURL)
	if p.status != 200 {
		b.t.Fatalf("authorize: got status %d, want 200 (login page): %s", p.status, p.body)
	}
	loc, err := b.AuthorizeFrom(context.Background(), p.raw(), user, password, decision)
	if err != nil {
		b.t.Fatal(err)
	}
	return loc
}

// redirectTarget is the Location of a redirect, as written.
func redirectTarget(t *testing.T, p page) *url.URL {
	t.Helper()
	loc, err := url.Parse(p.header.Get("Location"))
	if err != nil || loc.String() == "" {
		t.Fatalf("no Location in redirect (status %d)", p.status)
	}
	return loc
}

// claims decodes an access token after verifying it with the JWKS.
func (p *provider) claims(accessToken string) map[string]any {
	p.t.Helper()
	resp, err := p.client.Get(p.issuer + "/.well-known/jwks.json")
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		p.t.Fatal(err)
	}
	tok, err := jwt.ParseSigned(accessToken, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		p.t.Fatal(err)
	}
	if typ := tok.Headers[0].ExtraHeaders["typ"]; typ != "at+jwt" {
		p.t.Errorf("access token typ: got %v, want at+jwt", typ)
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		p.t.Fatalf("kid %q: got %d keys in the JWKS, want 1", tok.Headers[0].KeyID, len(keys))
	}
	out := map[string]any{}
	if err := tok.Claims(keys[0].Key, &out); err != nil {
		p.t.Fatalf("verify access token with the JWKS: %v", err)
	}
	return out
}

// introspect asks the introspection endpoint as the given client.
func (p *provider) introspect(l link, tok string) map[string]any {
	p.t.Helper()
	req, _ := http.NewRequest("POST", p.issuer+"/oauth2/introspect", strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	oauthflow.BasicAuth(req, l.ClientID, l.ClientSecret)
	resp, err := p.client.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		p.t.Fatalf("introspect: got status %d (%s), want 200", resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		p.t.Fatal(err)
	}
	return out
}

func (p *provider) revoke(l link, tok string) {
	p.t.Helper()
	req, _ := http.NewRequest("POST", p.issuer+"/oauth2/revoke", strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	oauthflow.BasicAuth(req, l.ClientID, l.ClientSecret)
	resp, err := p.client.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		p.t.Fatalf("revoke: got status %d, want 200", resp.StatusCode)
	}
}

const callbackURL = "http://127.0.0.1:9/cb" // never contacted: the browser stops there

func oauthConfig(p *provider, l link, prefix string, style oauth2.AuthStyle, scopes ...string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     l.ClientID,
		ClientSecret: l.ClientSecret,
		RedirectURL:  callbackURL,
		Scopes:       scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:   p.issuer + prefix + "/authorize",
			TokenURL:  p.issuer + prefix + "/token",
			AuthStyle: style,
		},
	}
}

// TestEndToEnd drives the whole product with golang.org/x/oauth2: the admin
// creates a user and a link; the user signs in and consents; the client
// exchanges the code with PKCE, refreshes, introspects, revokes.
func TestEndToEnd(t *testing.T) {
	for _, tc := range []struct {
		name   string
		prefix string
		style  oauth2.AuthStyle
	}{
		{"spec paths, client_secret_basic", "/oauth2", oauth2.AuthStyleInHeader},
		{"bitbucket paths, client_secret_post", "/rest/oauth2/latest", oauth2.AuthStyleInParams},
	} {
		t.Run(tc.name, func(t *testing.T) {
			codeFlow(t, startProvider(t, nil), tc.prefix, tc.style)
		})
	}
}

// codeFlow is one whole authorization on p: a user and a link, sign-in and
// consent, the code exchanged with PKCE (and refused the second time, which
// revokes its grant), a fresh authorization, a refresh, introspection and
// revocation. It returns the link.
func codeFlow(t *testing.T, p *provider, prefix string, style oauth2.AuthStyle) link {
	t.Helper()
	ctx := context.Background()
	aliceID := p.createUser("alice", "plum tractor velvet orbit", []string{"REPO_WRITE"})
	l := p.createLink("Demo app", callbackURL, []string{"REPO_ADMIN"}, "confidential")
	conf := oauthConfig(p, l, prefix, style, "REPO_READ")

	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("st-123", oauth2.S256ChallengeOption(verifier))
	cb := newBrowser(t, callbackURL).authorize(authURL, "alice", "plum tractor velvet orbit", "approve")
	q := cb.Query()
	if got := q.Get("state"); got != "st-123" {
		t.Errorf("state: got %q, want st-123", got)
	}
	if got := q.Get("iss"); got != p.issuer {
		t.Errorf("iss: got %q, want %q", got, p.issuer)
	}
	code := q.Get("code")
	if code == "" {
		t.Fatalf("no code in %s", cb)
	}

	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if got := tok.Extra("scope"); got != "REPO_READ" {
		t.Errorf("scope: got %v, want REPO_READ", got)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	c := p.claims(tok.AccessToken)
	for k, want := range map[string]any{"iss": p.issuer, "sub": aliceID, "username": "alice", "client_id": l.ClientID, "scope": "REPO_READ", "aud": p.issuer} {
		if c[k] != want {
			t.Errorf("claim %s: got %v, want %v", k, c[k], want)
		}
	}
	if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err == nil {
		t.Error("second redemption of the code: got success, want invalid_grant")
	}
	if got := p.introspect(l, tok.AccessToken)["active"]; got != false {
		t.Errorf("after code replay, introspect first access token: got active=%v, want false", got)
	}

	// A fresh authorization (the earlier grant was revoked by the replay).
	verifier = oauth2.GenerateVerifier()
	cb = newBrowser(t, callbackURL).authorize(conf.AuthCodeURL("s2", oauth2.S256ChallengeOption(verifier)),
		"alice", "plum tractor velvet orbit", "approve")
	tok, err = conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}

	// Refresh through a TokenSource by presenting an expired token.
	old := *tok
	old.Expiry = time.Now().Add(-time.Minute)
	refreshed, err := conf.TokenSource(ctx, &old).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if refreshed.AccessToken == tok.AccessToken || refreshed.RefreshToken == tok.RefreshToken {
		t.Error("refresh did not issue a new access token and a rotated refresh token")
	}
	if got := p.introspect(l, refreshed.AccessToken); got["active"] != true || got["scope"] != "REPO_READ" {
		t.Errorf("introspect refreshed token: got %v, want active with scope REPO_READ", got)
	}
	p.revoke(l, refreshed.RefreshToken)
	if got := p.introspect(l, refreshed.AccessToken)["active"]; got != false {
		t.Errorf("after revoking the grant, introspect access token: got active=%v, want false", got)
	}
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshed.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token(); err == nil {
		t.Error("refresh with a revoked grant: got success, want invalid_grant")
	}
	return l
}

type scopeCase struct {
	Name    string   `json:"name"`
	Ceiling []string `json:"ceiling"`
	User    []string `json:"user"`
	Request *string  `json:"request"`
	Granted []string `json:"granted"`
	Error   string   `json:"error"`
}

// TestScopeCappingThroughHTTP proves scope capping through the HTTP API for
// the authorize cases of the scope vectors, and a refresh after the admin
// lowers the user's permissions.
func TestScopeCappingThroughHTTP(t *testing.T) {
	data, err := os.ReadFile("../../shared/testdata/scopes.json")
	if err != nil {
		t.Fatal(err)
	}
	var vectors struct {
		Authorize []scopeCase `json:"authorize"`
	}
	if err := json.Unmarshal(data, &vectors); err != nil {
		t.Fatal(err)
	}
	p := startProvider(t, nil)
	ctx := context.Background()
	ran := 0
	for i, tc := range vectors.Authorize {
		if tc.Error != "" {
			continue
		}
		ran++
		t.Run(tc.Name, func(t *testing.T) {
			user := fmt.Sprintf("user%d", i)
			p.createUser(user, "quiet harbor maple kite", tc.User)
			l := p.createLink("App "+tc.Name, callbackURL, tc.Ceiling, "confidential")
			conf := oauthConfig(p, l, "/oauth2", oauth2.AuthStyleInHeader)
			opts := []oauth2.AuthCodeOption{}
			if tc.Request != nil {
				opts = append(opts, oauth2.SetAuthURLParam("scope", *tc.Request))
			}
			cb := newBrowser(t, callbackURL).authorize(conf.AuthCodeURL("s", opts...), user, "quiet harbor maple kite", "approve")
			tok, err := conf.Exchange(ctx, cb.Query().Get("code"))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if got, want := tok.Extra("scope"), strings.Join(tc.Granted, " "); got != want {
				t.Errorf("granted scope: got %v, want %q", got, want)
			}
		})
	}
	if ran < 5 {
		t.Fatalf("ran %d scope cases, want at least 5", ran)
	}

	t.Run("refresh after the admin lowers the user's permissions", func(t *testing.T) {
		p.createUser("demoted", "quiet harbor maple kite", []string{"REPO_WRITE"})
		l := p.createLink("Demotion app", callbackURL, []string{"REPO_WRITE"}, "confidential")
		conf := oauthConfig(p, l, "/oauth2", oauth2.AuthStyleInHeader)
		cb := newBrowser(t, callbackURL).authorize(conf.AuthCodeURL("s"), "demoted", "quiet harbor maple kite", "approve")
		tok, err := conf.Exchange(ctx, cb.Query().Get("code"))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		if got := tok.Extra("scope"); got != "REPO_WRITE" {
			t.Fatalf("scope before demotion: got %v, want REPO_WRITE", got)
		}
		p.admin("PATCH", "/admin/users/demoted", map[string]any{"permissions": []string{"REPO_READ"}}, 200, nil)
		tok.Expiry = time.Now().Add(-time.Minute)
		refreshed, err := conf.TokenSource(ctx, tok).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if got := refreshed.Extra("scope"); got != "REPO_READ" {
			t.Errorf("scope after demotion: got %v, want REPO_READ", got)
		}
		if got := p.claims(refreshed.AccessToken)["scope"]; got != "REPO_READ" {
			t.Errorf("access token scope after demotion: got %v, want REPO_READ", got)
		}
	})
}

// TestLocalRunnerOnMoto runs the local runner as `make run` does (its
// binary, built from ./local) with AWS_ENDPOINT_URL naming moto's server
// (the endpoint mode meant for LocalStack): the runner opens the store
// through the endpoint variables alone, creates its table on the
// endpoint, serves, and one whole code flow, a signing-key rotation and a
// link deletion go through it; SIGTERM then ends it cleanly.
func TestLocalRunnerOnMoto(t *testing.T) {
	ep := storetest.MotoEndpoint(t)
	names := storetest.Fresh(t, ep, ep) // the runner creates the table; both are deleted at the end
	port, err := storetest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	issuer := fmt.Sprintf("http://127.0.0.1:%d", port)
	for _, v := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "ISSUER_URL"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	// store.Open reads the endpoint, region and credentials from the
	// process environment, as in a real run.
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": ep, "TABLE_NAME": names.TableName, "SECRET_PREFIX": names.SecretPrefix,
		"LISTEN_ADDR": fmt.Sprintf("127.0.0.1:%d", port), "ADMIN_TOKEN": adminToken,
	} {
		t.Setenv(k, v)
	}

	bin := filepath.Join(t.TempDir(), "local")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/applinks/applinks/local").CombinedOutput(); err != nil {
		t.Fatalf("go build ./local: %v\n%s", err, out)
	}
	var banner, logs syncWriter
	cmd := exec.Command(bin)
	cmd.Env = os.Environ()
	cmd.Stdout, cmd.Stderr = &banner, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var exitErr error
	exited := make(chan struct{}) // closed when the runner has exited, with exitErr
	go func() { exitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-exited
		if exitErr != nil {
			t.Errorf("the runner after the flow: %v\n%s", exitErr, logs.String())
		}
	})
	p := &provider{t: t, issuer: issuer, client: &http.Client{Timeout: 30 * time.Second}}
	waitServing(t, p, exited, logs.String)
	ctx := context.Background()
	if got := banner.String(); !strings.Contains(got, "storage      AWS_ENDPOINT_URL") || !strings.Contains(got, "issuer       "+issuer) {
		t.Errorf("banner:\n%s\nwant the issuer %s and storage AWS_ENDPOINT_URL", got, issuer)
	}

	l := codeFlow(t, p, "/oauth2", oauth2.AuthStyleInHeader)

	// The records are in moto: the table the runner created, and the
	// link's secret under SECRET_PREFIX.
	db, sm := storetest.Clients(ep, ep)
	if _, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(names.TableName)}); err != nil {
		t.Errorf("the runner's table %s on moto: %v", names.TableName, err)
	}
	secretID := names.SecretPrefix + "/links/" + l.ClientID
	if _, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretID)}); err != nil {
		t.Errorf("the link's secret %s on moto: %v", secretID, err)
	}

	var rotated struct {
		Rotated bool   `json:"rotated"`
		Kid     string `json:"kid"`
	}
	p.admin("POST", "/admin/signing-keys/rotate", nil, 200, &rotated)
	if !rotated.Rotated || rotated.Kid == "" {
		t.Errorf("signing-key rotation = %+v, want rotated with a kid", rotated)
	}
	resp, err := p.client.Get(issuer + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	err = json.NewDecoder(resp.Body).Decode(&set)
	resp.Body.Close()
	if err != nil || len(set.Key(rotated.Kid)) != 1 || len(set.Keys) != 3 {
		t.Errorf("JWKS after rotation: %d keys (%v), want 3 (RS256, ES256 and the pending %s)", len(set.Keys), err, rotated.Kid)
	}

	var got link
	p.admin("GET", "/admin/links/"+l.ID+"/credentials", nil, 200, &got)
	if got.ClientSecret != l.ClientSecret {
		t.Errorf("credentials view: got another secret than the one created")
	}
	p.admin("DELETE", "/admin/links/"+l.ID, nil, 204, nil)
	p.admin("GET", "/admin/links/"+l.ID, nil, 404, nil)
	_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretID)})
	var nf *smtypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("the link's secret after deleting the link: %v, want ResourceNotFoundException", err)
	}
}

// waitServing waits until p answers its metadata, or fails when the
// runner ends (exited is closed), with its logs.
func waitServing(t *testing.T, p *provider, exited <-chan struct{}, logs func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			t.Fatalf("the runner ended before serving:\n%s", logs())
		default:
		}
		if resp, err := p.client.Get(p.issuer + "/.well-known/oauth-authorization-server"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s not serving after 30 s", p.issuer)
}

// syncWriter is an io.Writer for the runner's banner, read by the test.
type syncWriter struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (w *syncWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(b)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
