package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// TestOpenIDClientNode signs a user in with the Node.js library
// openid-client (panva, v6, pinned in local/tools/package.json), unmodified
// and with its default settings, against the local runner on DynamoDB Local:
// a third well-known relying party beside go-oidc (TestOpenIDConnect) and
// zitadel's (TestZitadelRelyingParty).
//
// The relying party is local/tools/openid-client-rp.mjs, run by node: it
// discovers the provider, builds the authorization URL (PKCE S256, state,
// nonce, scope openid profile email REPO_READ) and prints it; the test's
// browser signs in and approves, and the test hands the URL the provider
// redirected to back on node's stdin. The script then calls
// authorizationCodeGrant (state, iss per RFC 9207, the verifier, the ID
// token's claims and nonce, as the library checks by default),
// fetchUserInfo (its sub against the ID token's), refreshTokenGrant and
// buildEndSessionUrl, and prints what it got as one JSON line.
//
// The library's only non-default option is allowInsecureRequests, because
// the local issuer is plain http. By default it does not verify the ID
// token's signature (OIDC Core §3.1.3.7 lets a client that gets it straight
// from the token endpoint skip that) nor its at_hash (optional in the code
// flow, §3.1.3.8), so the test checks both itself with the JWKS.
//
// It asserts that sub is the user's id from POST /admin/users, the profile
// and email claims, auth_time at the sign-in, UserInfo's sub and email, a
// refreshed ID token keeping sub and auth_time with no nonce and a later
// iat, rotated tokens, and an end-session URL at the issuer's /oauth2/logout
// with the hint; the browser follows that URL, confirms the sign-out and
// lands on the registered post-logout URI with the state.
func TestOpenIDClientNode(t *testing.T) {
	tools, err := filepath.Abs("../../local/tools")
	if err != nil {
		t.Fatal(err)
	}
	version := openidClientInstalled(t, tools)

	p := startProvider(t, nil)
	const pw = "plum tractor velvet orbit"
	var u struct {
		ID string `json:"id"`
	}
	p.admin("POST", "/admin/users", map[string]any{"username": "katherine", "password": pw, "permissions": []string{"REPO_WRITE"},
		"name": "Katherine Johnson", "email": "katherine@example.com", "email_verified": true}, 201, &u)
	if u.ID == "" {
		t.Fatal("POST /admin/users returned no id")
	}
	const appName = "Node openid-client app"
	l := p.createLink(appName, callbackURL, []string{"REPO_READ"}, "confidential")
	const signedOutURI = "http://127.0.0.1:9/signed-out" // never contacted, like callbackURL
	p.admin("PATCH", "/admin/links/"+l.ID, map[string]any{"post_logout_redirect_uris": []string{signedOutURI}}, 200, nil)

	rp := startNodeRP(t, tools, map[string]string{
		"OIDC_ISSUER":                   p.issuer,
		"OIDC_CLIENT_ID":                l.ClientID,
		"OIDC_CLIENT_SECRET":            l.ClientSecret,
		"OIDC_REDIRECT_URI":             callbackURL,
		"OIDC_POST_LOGOUT_REDIRECT_URI": signedOutURI,
	})
	var start struct {
		AuthorizationURL string `json:"authorization_url"`
	}
	rp.read("authorization_url", &start)
	authURL, err := url.Parse(start.AuthorizationURL)
	if err != nil {
		t.Fatalf("authorization URL from buildAuthorizationUrl: %v", err)
	}
	aq := authURL.Query()
	if withoutQuery(authURL) != p.issuer+"/oauth2/authorize" ||
		aq.Get("response_type") != "code" || aq.Get("client_id") != l.ClientID || aq.Get("redirect_uri") != callbackURL ||
		aq.Get("scope") != "openid profile email REPO_READ" || aq.Get("code_challenge_method") != "S256" ||
		aq.Get("code_challenge") == "" || aq.Get("state") == "" || aq.Get("nonce") == "" {
		t.Errorf("authorization URL from buildAuthorizationUrl: %s", authURL)
	}

	// The browser stops at any URL of the never-contacted client origin: the
	// callback now and the post-logout redirect at the end.
	b := newBrowser(t, "http://127.0.0.1:9/")
	cb := b.authorize(authURL.String(), "katherine", pw, "approve")
	signedIn := time.Now()
	if q := cb.Query(); q.Get("code") == "" || q.Get("state") != aq.Get("state") || q.Get("iss") != p.issuer {
		t.Fatalf("redirect to the application: %v, want code, the state and iss", cb)
	}
	rp.write(cb.String())

	var out struct {
		Result struct {
			State       string         `json:"state"`
			Nonce       string         `json:"nonce"`
			Scope       string         `json:"scope"`
			TokenType   string         `json:"token_type"`
			AccessToken string         `json:"access_token"`
			IDToken     string         `json:"id_token"`
			HasRefresh  bool           `json:"has_refresh_token"`
			Claims      map[string]any `json:"claims"`
			UserInfo    map[string]any `json:"userinfo"`
			EndSession  string         `json:"end_session_url"`
			Refreshed   struct {
				Scope       string         `json:"scope"`
				AccessToken string         `json:"access_token"`
				IDToken     *string        `json:"id_token"`
				Rotated     bool           `json:"refresh_token_rotated"`
				Claims      map[string]any `json:"claims"`
			} `json:"refreshed"`
		} `json:"result"`
	}
	rp.read("result", &out)
	rp.wait()
	r := out.Result
	t.Logf("openid-client %s: signed in as %v", version, r.Claims["sub"])

	// The code exchange, as authorizationCodeGrant returned it.
	if r.State != aq.Get("state") || r.Nonce != aq.Get("nonce") {
		t.Errorf("script's state %q and nonce %q are not the authorization URL's %v", r.State, r.Nonce, aq)
	}
	if r.Scope != "REPO_READ openid profile email" || r.TokenType != "bearer" || !r.HasRefresh {
		t.Errorf("token response: scope %q token_type %q refresh token %v; want REPO_READ openid profile email, bearer (the library lowercases it), a refresh token",
			r.Scope, r.TokenType, r.HasRefresh)
	}
	c := r.Claims
	if c["sub"] != u.ID || c["iss"] != p.issuer || !audienceHas(c["aud"], l.ClientID) || (c["azp"] != nil && c["azp"] != l.ClientID) || c["nonce"] != r.Nonce {
		t.Errorf("ID token claims: sub %v iss %v aud %v azp %v nonce %v; want sub %s, iss %s, aud %s, the nonce %s",
			c["sub"], c["iss"], c["aud"], c["azp"], c["nonce"], u.ID, p.issuer, l.ClientID, r.Nonce)
	}
	if c["name"] != "Katherine Johnson" || c["preferred_username"] != "katherine" || c["email"] != "katherine@example.com" || c["email_verified"] != true {
		t.Errorf("ID token claims: name %v preferred_username %v email %v email_verified %v, want katherine's",
			c["name"], c["preferred_username"], c["email"], c["email_verified"])
	}
	authTime, _ := c["auth_time"].(float64)
	if at := time.Unix(int64(authTime), 0); authTime == 0 || at.After(signedIn.Add(time.Second)) || signedIn.Sub(at) > time.Minute {
		t.Errorf("auth_time %v, want the sign-in, about %v", c["auth_time"], signedIn)
	}
	// What the library does not check by default: the signature and at_hash.
	if signed := verifyIDToken(t, p, r.IDToken); signed["sub"] != u.ID || signed["nonce"] != r.Nonce {
		t.Errorf("ID token verified with the JWKS: sub %v nonce %v, want what the library reported", signed["sub"], signed["nonce"])
	} else if signed["at_hash"] != atHash(r.AccessToken) {
		t.Errorf("ID token at_hash %v, want %s (the access token's)", signed["at_hash"], atHash(r.AccessToken))
	}

	// fetchUserInfo, which checks the response's sub against the ID token's.
	if ui := r.UserInfo; ui["sub"] != u.ID || ui["email"] != "katherine@example.com" || ui["email_verified"] != true || ui["name"] != "Katherine Johnson" {
		t.Errorf("fetchUserInfo: %v, want katherine's sub %s, email, name", ui, u.ID)
	}

	// refreshTokenGrant: a fresh ID token keeping sub and auth_time, no
	// nonce, a later iat; access and refresh tokens rotated.
	f := r.Refreshed
	if f.IDToken == nil || f.Claims == nil {
		t.Fatalf("refreshTokenGrant: no ID token (SPEC promises a fresh one), scope %q", f.Scope)
	}
	c2 := f.Claims
	if c2["sub"] != u.ID || c2["auth_time"] != c["auth_time"] || c2["nonce"] != nil || !audienceHas(c2["aud"], l.ClientID) ||
		!(num(c2["iat"]) > num(c["iat"])) || c2["email"] != "katherine@example.com" {
		t.Errorf("refreshed ID token: sub %v auth_time %v nonce %v aud %v iat %v email %v; want sub %s, auth_time %v, no nonce, iat after %v, the email",
			c2["sub"], c2["auth_time"], c2["nonce"], c2["aud"], c2["iat"], c2["email"], u.ID, c["auth_time"], c["iat"])
	}
	if signed := verifyIDToken(t, p, *f.IDToken); signed["sub"] != u.ID || signed["at_hash"] != atHash(f.AccessToken) {
		t.Errorf("refreshed ID token verified with the JWKS: sub %v at_hash %v, want %s and %s", signed["sub"], signed["at_hash"], u.ID, atHash(f.AccessToken))
	}
	if f.AccessToken == "" || f.AccessToken == r.AccessToken || !f.Rotated || f.Scope != "REPO_READ openid profile email" {
		t.Errorf("refreshTokenGrant: new access token %v, refresh token rotated %v, scope %q; want both and the same scope",
			f.AccessToken != r.AccessToken, f.Rotated, f.Scope)
	}

	// buildEndSessionUrl: the issuer's end_session_endpoint with the hint,
	// client_id, the post-logout URI and the state.
	es, err := url.Parse(r.EndSession)
	if err != nil {
		t.Fatalf("end-session URL: %v", err)
	}
	eq := es.Query()
	if withoutQuery(es) != p.issuer+"/oauth2/logout" || eq.Get("id_token_hint") != *f.IDToken ||
		eq.Get("client_id") != l.ClientID || eq.Get("post_logout_redirect_uri") != signedOutURI || eq.Get("state") != "st-bye" {
		t.Fatalf("end-session URL from buildEndSessionUrl: %s, want %s/oauth2/logout with the refreshed ID token, client_id, %s and the state",
			es, p.issuer, signedOutURI)
	}
	// The browser follows it: the provider asks, the confirmation ends the
	// session and sends the browser to the post-logout URI with the state.
	confirm := b.get(es.String())
	if confirm.status != http.StatusOK || confirm.url.Path != "/oauth2/logout" || !strings.Contains(confirm.body, appName+"</strong> asks to sign you out") {
		t.Fatalf("end-session URL: got %d at %s, want the provider's confirmation page:\n%.600s", confirm.status, confirm.url, confirm.body)
	}
	done := b.submit(confirm, parseForm(t, confirm), nil)
	if done.status != http.StatusSeeOther {
		t.Fatalf("confirming the sign-out: got %d, want 303 to %s:\n%.600s", done.status, signedOutURI, done.body)
	}
	if to := redirectTarget(t, done); to.String() != signedOutURI+"?state=st-bye" {
		t.Errorf("after confirming: redirected to %s, want %s?state=st-bye", to, signedOutURI)
	}
	if acct := b.get(p.issuer + "/account/authorizations"); !strings.Contains(acct.body, `name="password"`) {
		t.Errorf("the provider session survived the logout: the account page is not the sign-in form")
	}
}

// openidClientInstalled fails the test, in one line, unless node is on PATH
// and local/tools/node_modules holds the openid-client that package.json
// pins; it returns that version.
func openidClientInstalled(t *testing.T, tools string) string {
	t.Helper()
	return nodePackageInstalled(t, tools, "openid-client")
}

// nodePackageInstalled fails the test, in one line, unless node is on PATH
// and local/tools/node_modules holds the version of pkg that package.json
// pins; it returns that version.
func nodePackageInstalled(t *testing.T, tools, pkg string) string {
	t.Helper()
	const fix = "run `make tools` (it runs npm ci in local/tools; node and npm come from apt-get install nodejs npm)"
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is not on PATH: %s", fix)
	}
	var manifest struct {
		DevDependencies map[string]string `json:"devDependencies"`
		Version         string            `json:"version"`
	}
	data, err := os.ReadFile(filepath.Join(tools, "package.json"))
	if err == nil {
		err = json.Unmarshal(data, &manifest)
	}
	want := manifest.DevDependencies[pkg]
	if err != nil || want == "" {
		t.Fatalf("local/tools/package.json does not pin %s (%v)", pkg, err)
	}
	manifest.Version = ""
	data, err = os.ReadFile(filepath.Join(tools, "node_modules", filepath.FromSlash(pkg), "package.json"))
	if err == nil {
		err = json.Unmarshal(data, &manifest)
	}
	if err != nil || manifest.Version != want {
		t.Fatalf("%s %s is not installed in local/tools/node_modules (found %q): %s", pkg, want, manifest.Version, fix)
	}
	return want
}

// nodeRP is a script of local/tools (openid-client-rp.mjs,
// mcp-client.mjs) running under node, spoken to by lines of JSON on its
// stdout and plain lines on its stdin.
type nodeRP struct {
	t      *testing.T
	name   string // what the failures call it
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  *bufio.Scanner
	stderr *syncWriter
}

func startNodeRP(t *testing.T, tools string, env map[string]string) *nodeRP {
	t.Helper()
	return startNodeScript(t, tools, "openid-client-rp.mjs", "openid-client relying party", env)
}

// startNodeScript runs local/tools/script under node with env added to the
// test's environment; name is what failures call it.
func startNodeScript(t *testing.T, tools, script, name string, env map[string]string) *nodeRP {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	// Run from local/tools, next to package.json and node_modules: the
	// script's bare imports ("openid-client", "@modelcontextprotocol/sdk/...")
	// resolve there by Node's lookup from the script's own folder.
	cmd := exec.CommandContext(ctx, "node", filepath.Join(tools, script))
	cmd.Dir = tools
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	r := &nodeRP{t: t, name: name, cmd: cmd, stderr: &syncWriter{}}
	cmd.Stderr = r.stderr
	var err error
	if r.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r.lines = bufio.NewScanner(stdout)
	r.lines.Buffer(make([]byte, 0, 64<<10), 4<<20)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting node: %v", err)
	}
	t.Cleanup(func() {
		cancel() // kills node if the test stopped before it finished
		_ = cmd.Wait()
	})
	return r
}

// read decodes the next line of node's stdout, a JSON object with key, into
// v; node's exit or any other line fails the test with node's stderr.
func (r *nodeRP) read(key string, v any) {
	r.t.Helper()
	if !r.lines.Scan() {
		err := r.cmd.Wait()
		r.t.Fatalf("%s exited (%v) before printing %s; its stderr:\n%s", r.name, err, key, r.stderr)
	}
	line := r.lines.Bytes()
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(line, &obj); err != nil || obj[key] == nil {
		r.t.Fatalf("%s printed %q, want a JSON object with %s (%v); its stderr:\n%s", r.name, line, key, err, r.stderr)
	}
	if err := json.Unmarshal(line, v); err != nil {
		r.t.Fatalf("decoding %s from the %s: %v: %s", key, r.name, err, line)
	}
}

func (r *nodeRP) write(line string) {
	r.t.Helper()
	if _, err := fmt.Fprintln(r.stdin, line); err != nil {
		err := r.cmd.Wait()
		r.t.Fatalf("%s exited (%v) before reading the callback; its stderr:\n%s", r.name, err, r.stderr)
	}
}

// wait expects node to exit 0 after its last line.
func (r *nodeRP) wait() {
	r.t.Helper()
	_ = r.stdin.Close()
	for r.lines.Scan() {
		r.t.Errorf("%s printed more: %s", r.name, r.lines.Text())
	}
	if err := r.cmd.Wait(); err != nil {
		r.t.Fatalf("%s: %v; its stderr:\n%s", r.name, err, r.stderr)
	}
	if s := r.stderr.String(); s != "" {
		r.t.Logf("%s's stderr (it exited 0):\n%s", r.name, s)
	}
}

// verifyIDToken checks an ID token's RS256 signature with the provider's
// JWKS and returns its claims.
func verifyIDToken(t *testing.T, p *provider, raw string) map[string]any {
	t.Helper()
	resp, err := p.client.Get(p.issuer + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("ID token kid %q: got %d keys in the JWKS, want 1", tok.Headers[0].KeyID, len(keys))
	}
	out := map[string]any{}
	if err := tok.Claims(keys[0].Key, &out); err != nil {
		t.Fatalf("verify the ID token with the JWKS: %v", err)
	}
	return out
}

// atHash is OIDC Core §3.1.3.6's at_hash for RS256: the left half of the
// access token's SHA-256, base64url without padding.
func atHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// withoutQuery is u without its query and fragment.
func withoutQuery(u *url.URL) string {
	v := *u
	v.RawQuery, v.Fragment = "", ""
	return v.String()
}

// num is a decoded JSON number, 0 for anything else.
func num(v any) float64 {
	f, _ := v.(float64)
	return f
}

// audienceHas reports whether a decoded aud claim (a string or an array)
// names the client.
func audienceHas(aud any, clientID string) bool {
	switch a := aud.(type) {
	case string:
		return a == clientID
	case []any:
		return slices.Contains(a, any(clientID))
	}
	return false
}
