package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/oauth2"

	"github.com/applinks/applinks/local/server"
	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
	"github.com/applinks/applinks/shared/upstream/upstreamtest"
)

// Upstream sign-in end to end: the provider under test on
// http://127.0.0.1:PORT signs people in through a real OpenID Provider,
// either a second instance of this provider on http://localhost:PORT (a
// different host, so the two keep their cookies apart) or zitadel/oidc's
// example OP. Nothing of the upstream is faked.

// instance is a provider with its store's backend (for tests that look at
// or tamper with its items).
type instance struct {
	*provider
	backend storetest.Backend
	srv     *http.Server
}

// startInstance starts a provider whose issuer is http://host:PORT
// (listening on 127.0.0.1), on a fresh DynamoDB Local table.
func startInstance(t *testing.T, host string, env map[string]string) *instance {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	issuer := "http://" + host + ":" + port
	vars := map[string]string{"ISSUER_URL": issuer, "ADMIN_TOKEN": adminToken}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.FromEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	b := storetest.DynamoLocalBackend(t)
	h, err := server.New(context.Background(), cfg, b.Store(), slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return &instance{provider: &provider{t: t, issuer: issuer, client: &http.Client{Timeout: 30 * time.Second}}, backend: b, srv: srv}
}

// upstreamUser creates a user at the upstream instance with a verified
// (or not) email, and returns its id: the sub the upstream gives it.
func (up *instance) upstreamUser(name, email string, verified bool) string {
	up.t.Helper()
	var u struct {
		ID string `json:"id"`
	}
	up.admin("POST", "/admin/users", map[string]any{"username": name, "password": upstreamPassword, "name": "Person " + name,
		"email": email, "email_verified": verified}, 201, &u)
	return u.ID
}

const upstreamPassword = "marble orchid tundra piano"

// addIDP registers the downstream at the upstream instance (a confidential
// link to its callback) and the upstream at the downstream (an identity
// provider), and returns the provider's id.
func addIDP(t *testing.T, down *instance, up *instance, extra map[string]any) string {
	t.Helper()
	l := up.createLink("Downstream", down.issuer+"/oauth2/upstream/callback", []string{"REPO_READ"}, "confidential")
	body := map[string]any{"name": "Upstream SSO", "issuer": up.issuer, "client_id": l.ClientID, "client_secret": l.ClientSecret}
	for k, v := range extra {
		body[k] = v
	}
	var p struct {
		ID          string `json:"id"`
		RedirectURI string `json:"redirect_uri"`
	}
	down.admin("POST", "/admin/identity-providers", body, 201, &p)
	if p.RedirectURI != down.issuer+"/oauth2/upstream/callback" {
		t.Fatalf("redirect_uri %q", p.RedirectURI)
	}
	return p.ID
}

// app is an application registered at the downstream, and its
// authorization URL (PKCE S256).
type app struct {
	l        link
	redirect string
	verifier string
	cfg      *oauth2.Config
}

func newApp(t *testing.T, down *instance, scopes ...string) *app {
	t.Helper()
	redirect := "http://127.0.0.1:1/app/callback"
	if len(scopes) == 0 {
		scopes = []string{"REPO_WRITE"}
	}
	a := &app{l: down.createLink("Wiki", redirect, scopes, "confidential"), redirect: redirect, verifier: oauth2.GenerateVerifier()}
	a.cfg = &oauth2.Config{ClientID: a.l.ClientID, ClientSecret: a.l.ClientSecret, RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{AuthURL: down.issuer + "/oauth2/authorize", TokenURL: down.issuer + "/oauth2/token"},
		Scopes:   append([]string{"openid", "profile"}, scopes...)}
	return a
}

func (a *app) authURL(opts ...oauth2.AuthCodeOption) string {
	return a.cfg.AuthCodeURL("app-state", append(opts, oauth2.S256ChallengeOption(a.verifier))...)
}

var startLink = regexp.MustCompile(`href="(/(?:oauth2|console)/upstream/start\?[^"]+)"`)

// continueWith finds the "Continue with" link of a sign-in page.
func continueWith(t *testing.T, p page) string {
	t.Helper()
	m := startLink.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("%s: no Continue with link (status %d):\n%s", p.url, p.status, p.body)
	}
	return html.UnescapeString(m[1])
}

// throughUpstream follows a start URL (relative to base) to the upstream
// instance, signs in there as user (and approves the downstream the first
// time), and returns the page the browser ends on: the downstream's next
// page, or the application's redirect (status 3xx, b.stopAt).
func throughUpstream(t *testing.T, b *browser, base, start, user string) page {
	t.Helper()
	p := b.get(base + start)
	if strings.Contains(p.body, `name="password"`) && strings.HasPrefix(p.url.String(), "http://localhost") {
		p = b.submit(p, parseForm(t, p), url.Values{"username": {user}, "password": {upstreamPassword}})
	}
	if strings.Contains(p.body, `name="decision"`) && strings.HasPrefix(p.url.String(), "http://localhost") {
		p = b.submit(p, parseForm(t, p), url.Values{"decision": {"approve"}})
	}
	return p
}

// approveAndExchange approves the downstream's consent page when it is
// there and exchanges the code, returning the token response's ID token
// claims and the access token's.
func approveAndExchange(t *testing.T, b *browser, down *instance, a *app, p page) (idClaims, atClaims map[string]any) {
	t.Helper()
	if p.status == http.StatusOK && strings.Contains(p.body, `name="decision"`) {
		p = b.submit(p, parseForm(t, p), url.Values{"decision": {"approve"}})
	}
	if p.status != http.StatusSeeOther && p.status != http.StatusFound {
		t.Fatalf("want the redirect to the application, got %d at %s:\n%s", p.status, p.url, p.body)
	}
	cb := redirectTarget(t, p)
	if cb.Query().Get("code") == "" || cb.Query().Get("iss") != down.issuer {
		t.Fatalf("redirect to the application: %s", cb)
	}
	tok, err := a.cfg.Exchange(context.Background(), cb.Query().Get("code"), oauth2.VerifierOption(a.verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	return jwtClaims(t, raw), down.claims(tok.AccessToken)
}

// jwtClaims reads a JWT's claims (the signature is the ID token's
// business of other tests).
func jwtClaims(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// userOf reads a downstream user by name through the admin API.
func userOf(down *instance, name string) map[string]any {
	var u map[string]any
	down.admin("GET", "/admin/users/"+name, nil, 200, &u)
	return u
}

// TestUpstreamSignIn: a person signs in to an application through the
// upstream (another instance of this provider): the first sign-in creates
// a user (create_users) named from preferred_username, with no
// permissions, whose sub is the downstream's own id; auth_time is the
// upstream's; a second sign-in is the same user; PKCE, state and nonce
// went to the upstream.
func TestUpstreamSignIn(t *testing.T) {
	up := startInstance(t, "localhost", nil)
	down := startInstance(t, "127.0.0.1", nil)
	adaSub := up.upstreamUser("ada", "ada@example.com", true)
	pid := addIDP(t, down, up, map[string]any{"create_users": true})
	a := newApp(t, down)

	b := newBrowser(t, a.redirect)
	login := b.get(a.authURL())
	start := continueWith(t, login)
	if !strings.Contains(login.body, "Continue with Upstream SSO") || !strings.Contains(login.body, `name="password"`) {
		t.Errorf("the sign-in page lacks the provider's link or the password form")
	}
	// What the downstream sends the browser to at the upstream.
	b.HTTP.CheckRedirect = func(req *http.Request, via []*http.Request) error { return http.ErrUseLastResponse }
	r := b.get(down.issuer + start)
	b.HTTP.CheckRedirect = nil
	loc, _ := url.Parse(r.header.Get("Location"))
	q := loc.Query()
	if r.status != http.StatusFound || !strings.HasPrefix(loc.String(), up.issuer+"/oauth2/authorize?") || q.Get("code_challenge_method") != "S256" ||
		q.Get("code_challenge") == "" || q.Get("state") == "" || q.Get("nonce") == "" || q.Get("redirect_uri") != down.issuer+"/oauth2/upstream/callback" {
		t.Fatalf("start: %d %s", r.status, loc)
	}
	b = newBrowser(t, a.redirect)
	b.get(a.authURL())
	before := time.Now().Add(-2 * time.Second)
	p := throughUpstream(t, b, down.issuer, start, "ada")
	idc, atc := approveAndExchange(t, b, down, a, p)

	u := userOf(down, "ada")
	id, _ := u["id"].(string)
	if !strings.HasPrefix(id, store.SignInUserPrefix) || u["created_by"] != "upstream_sign_in" || u["admin"] != false {
		t.Fatalf("the created user: %v", u)
	}
	if upl, _ := u["upstream"].(map[string]any); upl["provider"] != pid || upl["issuer"] != up.issuer || upl["subject"] != adaSub {
		t.Errorf("the created user's upstream identity: %v", u["upstream"])
	}
	if perms, _ := u["permissions"].([]any); len(perms) != 0 || u["email"] != "ada@example.com" || u["email_verified"] != true || u["name"] != "Person ada" {
		t.Errorf("the created user's profile and permissions: %v", u)
	}
	if idc["sub"] != id || atc["sub"] != id || strings.Fields(atc["scope"].(string))[0] != "PUBLIC_REPOS" {
		t.Errorf("tokens: id %v, access %v; want sub %s and the baseline scope", idc, atc, id)
	}
	at := time.Unix(int64(idc["auth_time"].(float64)), 0)
	if at.Before(before.Truncate(time.Second)) || at.After(time.Now()) {
		t.Errorf("auth_time %v, want the upstream sign-in (after %v)", at, before)
	}

	// Again, in a new browser: the same user, no second one.
	b = newBrowser(t, a.redirect)
	p = throughUpstream(t, b, down.issuer, continueWith(t, b.get(a.authURL())), "ada")
	idc, _ = approveAndExchange(t, b, down, a, p)
	if idc["sub"] != id {
		t.Errorf("second sign-in: sub %v, want %s", idc["sub"], id)
	}
}

// TestUpstreamPreLinked: without create_users only a user linked
// beforehand signs in; the link is (issuer, sub), never the email; with
// PERMISSION_SOURCE=claims the permissions come from the claim through
// the map, kept on the user.
func TestUpstreamPreLinked(t *testing.T) {
	up := startInstance(t, "localhost", nil)
	down := startInstance(t, "127.0.0.1", map[string]string{"PERMISSION_SOURCE": "claims"})
	adaSub := up.upstreamUser("ada", "bob@example.com", true)
	pid := addIDP(t, down, up, map[string]any{"permissions_claim": "preferred_username", "permission_map": map[string][]string{"ada": {"REPO_WRITE"}}})
	a := newApp(t, down)
	// A local bob with the same email: an email is never enough.
	down.admin("POST", "/admin/users", map[string]any{"username": "bob", "password": "amber falcon river stone", "email": "bob@example.com", "email_verified": true}, 201, nil)

	b := newBrowser(t, a.redirect)
	p := throughUpstream(t, b, down.issuer, continueWith(t, b.get(a.authURL())), "ada")
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "No account is linked to your Upstream SSO account") ||
		!strings.Contains(p.body, "Choose another way to sign in") {
		t.Fatalf("an unlinked identity: got %d:\n%s", p.status, p.body)
	}
	down.admin("PATCH", "/admin/users/bob", map[string]any{"upstream": map[string]any{"provider": pid, "subject": adaSub}}, 200, nil)
	b = newBrowser(t, a.redirect)
	p = throughUpstream(t, b, down.issuer, continueWith(t, b.get(a.authURL())), "ada")
	idc, atc := approveAndExchange(t, b, down, a, p)
	bob := userOf(down, "bob")
	if idc["sub"] != bob["id"] || strings.Fields(atc["scope"].(string))[0] != "REPO_WRITE" {
		t.Errorf("pre-linked sign-in: sub %v (bob is %v), scope %v; want bob with REPO_WRITE from the claim", idc["sub"], bob["id"], atc["scope"])
	}
	if perms, _ := bob["permissions"].([]any); len(perms) != 1 || perms[0] != "REPO_WRITE" {
		t.Errorf("bob's kept permissions: %v", bob["permissions"])
	}
}

// TestUpstreamUsernameCollision: with create_users, an upstream username
// that a local user already has (in any case) is refused on a page, and
// never merged: the local user stays unlinked, no user is created.
func TestUpstreamUsernameCollision(t *testing.T) {
	up := startInstance(t, "localhost", nil)
	down := startInstance(t, "127.0.0.1", nil)
	up.upstreamUser("Ada", "ada@example.com", true)
	addIDP(t, down, up, map[string]any{"create_users": true})
	a := newApp(t, down)
	down.admin("POST", "/admin/users", map[string]any{"username": "ada", "password": "copper meadow signal frost"}, 201, nil)

	b := newBrowser(t, a.redirect)
	p := throughUpstream(t, b, down.issuer, continueWith(t, b.get(a.authURL())), "Ada")
	if p.status != http.StatusConflict || !strings.Contains(p.body, "The username Ada is already taken") || !strings.Contains(p.body, "never merged") {
		t.Fatalf("a taken username: got %d:\n%s", p.status, p.body)
	}
	if u := userOf(down, "ada"); u["upstream"] != nil || u["created_by"] != "administrator" {
		t.Errorf("the local ada was touched: %v", u)
	}
	if n := countPrefix(t, down, "USER#"+store.SignInUserPrefix); n != 0 {
		t.Errorf("%d users created", n)
	}
}

// countPrefix counts the items of an instance's table whose pk starts with
// prefix.
func countPrefix(t *testing.T, in *instance, prefix string) int {
	t.Helper()
	out, err := in.backend.DynamoDB.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(in.backend.Options.TableName), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, it := range out.Items {
		if pk, ok := it["pk"].(*types.AttributeValueMemberS); ok && strings.HasPrefix(pk.Value, prefix) {
			n++
		}
	}
	return n
}

// TestUpstreamEmailDomains: a provider limited to example.com admits a
// verified example.com email, and refuses the same domain unverified.
func TestUpstreamEmailDomains(t *testing.T) {
	up := startInstance(t, "localhost", nil)
	down := startInstance(t, "127.0.0.1", nil)
	up.upstreamUser("ann", "ann@example.com", false)
	up.upstreamUser("eve", "eve@example.com", true)
	addIDP(t, down, up, map[string]any{"create_users": true, "email_domains": []string{"example.com"}})
	a := newApp(t, down)

	b := newBrowser(t, a.redirect)
	p := throughUpstream(t, b, down.issuer, continueWith(t, b.get(a.authURL())), "ann")
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "verified email address") {
		t.Fatalf("an unverified email in the domain: got %d:\n%s", p.status, p.body)
	}
	b = newBrowser(t, a.redirect)
	p = throughUpstream(t, b, down.issuer, continueWith(t, b.get(a.authURL())), "eve")
	approveAndExchange(t, b, down, a, p)
}

// callbackOf runs a sign-in at the upstream but stops at the downstream's
// callback, and returns its URL (code, state, iss) without sending it.
func callbackOf(t *testing.T, b *browser, down *instance, a *app, user string) string {
	t.Helper()
	start := continueWith(t, b.get(a.authURL()))
	stop := b.stopAt
	b.stopAt = down.issuer + "/oauth2/upstream/callback"
	defer func() { b.stopAt = stop }()
	p := throughUpstream(t, b, down.issuer, start, user)
	if p.status != http.StatusSeeOther && p.status != http.StatusFound {
		t.Fatalf("want the upstream's redirect to the callback, got %d at %s:\n%s", p.status, p.url, p.body)
	}
	return p.header.Get("Location")
}

// TestUpstreamStateAndIss: the state is bound to the browser that started
// the sign-in and works once; an iss other than the provider's is
// refused; a tampered nonce is refused. Each refusal is a page, with the
// other ways in.
func TestUpstreamStateAndIss(t *testing.T) {
	up := startInstance(t, "localhost", nil)
	down := startInstance(t, "127.0.0.1", nil)
	up.upstreamUser("ada", "ada@example.com", true)
	addIDP(t, down, up, map[string]any{"create_users": true})
	a := newApp(t, down)

	// Another browser (an attacker who got the victim to start, or the
	// other way round) cannot finish it; and then it is used up.
	b := newBrowser(t, a.redirect)
	cb := callbackOf(t, b, down, a, "ada")
	other := newBrowser(t, a.redirect)
	if p := other.get(cb); p.status != http.StatusBadRequest || !strings.Contains(p.body, "started in another browser") {
		t.Errorf("the callback in another browser: got %d:\n%s", p.status, p.body)
	}
	if p := b.get(cb); p.status != http.StatusBadRequest || !strings.Contains(p.body, "This sign-in has expired") {
		t.Errorf("the callback after another browser used its state: got %d", p.status)
	}

	// Single use: a callback that worked does not work again.
	b = newBrowser(t, a.redirect)
	cb = callbackOf(t, b, down, a, "ada")
	if p := b.get(cb); p.status != http.StatusOK || !strings.Contains(p.body, `name="decision"`) {
		t.Fatalf("the callback: got %d:\n%s", p.status, p.body)
	}
	if p := b.get(cb); p.status != http.StatusBadRequest || !strings.Contains(p.body, "This sign-in has expired") {
		t.Errorf("the callback replayed: got %d", p.status)
	}

	// iss (RFC 9207) of another issuer.
	b = newBrowser(t, a.redirect)
	cb = callbackOf(t, b, down, a, "ada")
	u, _ := url.Parse(cb)
	q := u.Query()
	if q.Get("iss") != up.issuer {
		t.Fatalf("the upstream's iss: %q", q.Get("iss"))
	}
	q.Set("iss", "http://localhost:1")
	u.RawQuery = q.Encode()
	if p := b.get(u.String()); p.status != http.StatusBadRequest || !strings.Contains(p.body, "could not be verified") {
		t.Errorf("another iss: got %d:\n%s", p.status, p.body)
	}

	// The nonce kept for the flow no longer matches the ID token's.
	b = newBrowser(t, a.redirect)
	cb = callbackOf(t, b, down, a, "ada")
	u, _ = url.Parse(cb)
	tamperFlow(t, down, u.Query().Get("state"), "nonce", "not-the-nonce-sent")
	if p := b.get(cb); p.status != http.StatusBadRequest || !strings.Contains(p.body, "could not be verified") {
		t.Errorf("a nonce that does not match: got %d:\n%s", p.status, p.body)
	}
}

// tamperFlow sets attribute name of the flow of state in the downstream's
// table.
func tamperFlow(t *testing.T, in *instance, state, name, value string) {
	t.Helper()
	e := map[string]string{"#a": name}
	_, err := in.backend.DynamoDB.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName: aws.String(in.backend.Options.TableName),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "UPFLOW#" + shared.HashToken(state)},
			"sk": &types.AttributeValueMemberS{Value: "UPFLOW"}},
		UpdateExpression:          aws.String("SET #a = :v"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeNames:  e,
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: value}},
	})
	if err != nil {
		t.Fatalf("tamper with the flow: %v", err)
	}
}

// TestUpstreamDown: an upstream that does not answer gives a page that
// says so and offers the other ways in; never a stack trace.
func TestUpstreamDown(t *testing.T) {
	up := startInstance(t, "localhost", nil)
	down := startInstance(t, "127.0.0.1", nil)
	addIDP(t, down, up, nil)
	a := newApp(t, down)
	_ = up.srv.Close()
	b := newBrowser(t, a.redirect)
	login := b.get(a.authURL())
	p := b.get(down.issuer + continueWith(t, login))
	if p.status != http.StatusServiceUnavailable || !strings.Contains(p.body, "Upstream SSO is not answering") || !strings.Contains(p.body, "Choose another way to sign in") {
		t.Fatalf("upstream down: got %d:\n%s", p.status, p.body)
	}
	for _, leak := range []string{"goroutine", "panic", "dial tcp", "connection refused"} {
		if strings.Contains(p.body, leak) {
			t.Errorf("the page shows %q", leak)
		}
	}
	// "Choose another way to sign in" is the sign-in page again.
	if m := regexp.MustCompile(`href="([^"]+)">Choose another way`).FindStringSubmatch(p.body); m == nil ||
		!strings.Contains(b.get(down.issuer+html.UnescapeString(m[1])).body, `name="password"`) {
		t.Errorf("the other ways in do not lead to the sign-in page")
	}
}

// TestPasswordSignInOff: with PASSWORD_SIGN_IN=off the sign-in page has no
// password form, only the providers (and Cancel), and a posted password
// signs no one in, right or wrong.
func TestPasswordSignInOff(t *testing.T) {
	up := startInstance(t, "localhost", nil)
	down := startInstance(t, "127.0.0.1", map[string]string{"PASSWORD_SIGN_IN": "off"})
	addIDP(t, down, up, nil)
	a := newApp(t, down)
	down.admin("POST", "/admin/users", map[string]any{"username": "carl", "password": "velvet canyon orbit pine"}, 201, nil)
	b := newBrowser(t, a.redirect)
	p := b.get(a.authURL())
	if strings.Contains(p.body, `name="password"`) || !strings.Contains(p.body, "Continue with Upstream SSO") {
		t.Fatalf("the sign-in page with PASSWORD_SIGN_IN=off:\n%s", p.body)
	}
	f := parseForm(t, p)
	r := b.submit(p, f, url.Values{"username": {"carl"}, "password": {"velvet canyon orbit pine"}})
	if r.status != http.StatusForbidden || strings.Contains(r.body, `name="decision"`) {
		t.Errorf("a right password posted: got %d", r.status)
	}
	if f.HasButton("cancel", "cancel") {
		if r := b.submit(p, f, url.Values{"cancel": {"cancel"}}); r.status != http.StatusSeeOther || redirectTarget(t, r).Query().Get("error") != "access_denied" {
			t.Errorf("Cancel: got %d", r.status)
		}
	} else {
		t.Errorf("no Cancel on the sign-in page")
	}
}

// TestConsoleThroughUpstream: an administrator linked to an upstream
// identity signs in to the console through it; the flow goes from the
// authorize function's callback to the admin function's, which redeems
// the code itself; with prompt=login the sign-in counts as the fresh
// confirmation. A linked non-administrator is refused.
func TestConsoleThroughUpstream(t *testing.T) {
	up := startInstance(t, "localhost", nil)
	down := startInstance(t, "127.0.0.1", nil)
	rootSub := up.upstreamUser("root", "root@example.com", true)
	annSub := up.upstreamUser("ann", "ann@example.com", true)
	pid := addIDP(t, down, up, nil)
	down.admin("POST", "/admin/users", map[string]any{"username": "root", "upstream": map[string]any{"provider": pid, "subject": rootSub}}, 201, nil)
	down.admin("PUT", "/admin/users/root/admin", map[string]any{"admin": true}, 200, nil)
	down.admin("POST", "/admin/users", map[string]any{"username": "ann", "upstream": map[string]any{"provider": pid, "subject": annSub}}, 201, nil)

	b := newBrowser(t, "never")
	login := b.get(down.issuer + "/console/login?return_to=%2Fconsole%2Fusers")
	start := continueWith(t, login)
	if !strings.HasPrefix(start, "/console/upstream/start?") {
		t.Fatalf("the console's link: %s", start)
	}
	p := throughUpstream(t, b, down.issuer, start, "root")
	if p.status != http.StatusOK || !strings.HasPrefix(p.url.String(), down.issuer+"/console/upstream/callback?") ||
		p.header.Get("Refresh") != "0; url=/console/users" {
		t.Fatalf("the console's callback: %d at %s, Refresh %q:\n%s", p.status, p.url, p.header.Get("Refresh"), p.body)
	}
	p = b.get(down.issuer + "/console/users")
	if p.status != http.StatusOK || !strings.Contains(p.body, "Signed in as <strong>root</strong>") {
		t.Fatalf("the console after the upstream sign-in: %d:\n%s", p.status, p.body)
	}
	// Fresh: a page that asks for the confirmation opens at once.
	if p := b.get(down.issuer + "/console/identity-providers/new"); p.status != http.StatusOK || !strings.Contains(p.body, "Add identity provider") {
		t.Errorf("a confirmed page after the upstream sign-in: %d at %s", p.status, p.url)
	}

	b = newBrowser(t, "never")
	p = throughUpstream(t, b, down.issuer, continueWith(t, b.get(down.issuer+"/console/login")), "ann")
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "not linked to an administrator") {
		t.Errorf("a non-administrator through the upstream: %d:\n%s", p.status, p.body)
	}
	if p := b.get(down.issuer + "/console/links"); !strings.Contains(p.url.Path, "/console/login") {
		t.Errorf("ann reached %s", p.url)
	}
}

// TestUpstreamZitadel: the same sign-in through zitadel/oidc's example OP
// (exampleop.SetupServer): the username comes from its UserInfo.
func TestUpstreamZitadel(t *testing.T) {
	down := startInstance(t, "127.0.0.1", nil)
	issuer := upstreamtest.StartZitadel(t, map[string]string{"downstream": down.issuer + "/oauth2/upstream/callback"})
	down.admin("POST", "/admin/identity-providers", map[string]any{"name": "Zitadel", "issuer": issuer, "client_id": "downstream",
		"client_secret": "secret", "create_users": true}, 201, nil)
	a := newApp(t, down)
	b := newBrowser(t, a.redirect)
	start := continueWith(t, b.get(a.authURL()))
	// The example OP's login form: id (hidden), username, password.
	p := b.get(down.issuer + start)
	if !strings.Contains(p.url.Path, "/login/username") {
		t.Fatalf("the example OP's login: %s", p.url)
	}
	f := parseForm(t, p)
	p = b.submit(p, f, url.Values{"username": {upstreamtest.Username}, "password": {upstreamtest.Password}})
	idc, _ := approveAndExchange(t, b, down, a, p)
	u := userOf(down, upstreamtest.Username)
	if idc["sub"] != u["id"] || u["email"] != "test-user@zitadel.ch" {
		t.Errorf("through zitadel: sub %v, user %v", idc["sub"], u)
	}
}
