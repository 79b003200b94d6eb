package security

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
)

// secrets collects every secret value a test saw, by kind.
type secrets map[string][]string

func (s secrets) add(kind string, values ...string) {
	for _, v := range values {
		if v != "" {
			s[kind] = append(s[kind], v)
		}
	}
}

// TestSecretsNeverLogged runs every flow (admin: create link and user,
// view and rotate credentials; sign-in success and failure; consent; code
// exchange; refresh; introspection; revocation; account revoke; the
// failures of each) with the provider's logger captured, and checks that no
// client secret, password, code, token, session cookie or the admin token
// appears in any log line. Every line must be JSON.
func TestSecretsNeverLogged(t *testing.T) {
	e := newEnv(t, nil)
	seen := secrets{}
	seen.add("admin token", adminToken)
	seen.add("password", password)

	e.user("alice", "REPO_READ")
	rs := e.link(store.ResourceServer)
	l := e.link(store.Confidential)
	pub := e.link(store.Public)
	seen.add("client secret", rs.ClientSecret, l.ClientSecret)
	var creds link
	e.admin("GET", "/admin/links/"+l.ID+"/credentials", nil, 200, &creds)
	seen.add("client secret", creds.ClientSecret)
	var rotated link
	e.admin("POST", "/admin/links/"+l.ID+"/credentials/rotate", map[string]any{"overlap_seconds": 60}, 200, &rotated)
	seen.add("client secret", rotated.ClientSecret)
	e.admin("PATCH", "/admin/users/alice", map[string]any{"password": password + " v2"}, 200, nil)
	e.admin("PATCH", "/admin/users/alice", map[string]any{"password": password}, 200, nil)
	seen.add("password", password+" v2")
	l.ClientSecret = rotated.ClientSecret

	// Sign-in failures: a wrong password, an unknown user.
	b := e.browser()
	p := b.get(e.authURL(l, nil))
	wrong := "wrong password 8QeT1"
	seen.add("password", wrong)
	b.submit(p, theForm(t, p), map[string]string{"username": "alice", "password": wrong})
	b.submit(p, theForm(t, p), map[string]string{"username": "mallory", "password": wrong})
	// A password typed into the username field (an unknown username).
	b.submit(p, theForm(t, p), map[string]string{"username": password, "password": wrong})

	// Sign-in, consent, exchange, refresh, introspection, revocation.
	v, challenge := verifier("z")
	seen.add("code verifier", v)
	p = b.consentPage(e.authURL(l, map[string]string{"code_challenge": challenge, "code_challenge_method": "S256"}), "alice")
	for _, c := range b.HTTP.Jar.Cookies(p.url) {
		seen.add("cookie "+c.Name, c.Value)
	}
	seen.add("session csrf", theForm(t, p).Hidden.Get("csrf"))
	b.noFollow()
	code := b.submit(p, theForm(t, p), map[string]string{"decision": "approve"}).location(t).Query().Get("code")
	seen.add("code", code)
	g := e.exchange(l, code, v)
	seen.add("access token", g.access)
	seen.add("refresh token", g.refresh)
	r := e.refresh(l, g.refresh)
	g2 := grant{access: str(r.json(t)["access_token"]), refresh: str(r.json(t)["refresh_token"])}
	seen.add("access token", g2.access)
	seen.add("refresh token", g2.refresh)
	e.introspect(l, g2.access)
	e.introspect(rs, g2.refresh)
	e.clientPost("/oauth2/revoke", l, url.Values{"token": {g2.access}})
	// Failures that carry secrets: a replayed code, a reused refresh
	// token, a wrong client secret, a wrong verifier, a code in the query.
	e.token(l, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {v}})
	e.refresh(l, g.refresh)
	e.token(link{ClientID: l.ClientID, ClientSecret: "wrong-secret-Jq9"}, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {g2.refresh}})
	seen.add("client secret", "wrong-secret-Jq9")
	// Client id and secret swapped (an unknown client_id that is a secret).
	e.token(link{ClientID: l.ClientSecret, ClientSecret: l.ClientID}, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {g2.refresh}})
	e.post("/oauth2/token?code="+url.QueryEscape(code)+"&client_secret="+url.QueryEscape(l.ClientSecret), url.Values{"grant_type": {"authorization_code"}})
	e.do("GET", "/oauth2/token?client_secret="+url.QueryEscape(l.ClientSecret)+"&code="+url.QueryEscape(code), nil)

	// A public client's flow, and the account page's revocation.
	pv, pc := verifier("p")
	p = b.consentPage(e.authURL(pub, map[string]string{"code_challenge": pc, "code_challenge_method": "S256"}), "alice")
	pcode := b.submit(p, theForm(t, p), map[string]string{"decision": "approve"}).location(t).Query().Get("code")
	seen.add("code", pcode)
	pg := e.exchange(pub, pcode, pv)
	seen.add("access token", pg.access)
	seen.add("refresh token", pg.refresh)
	account := b.get(e.issuer + "/account/authorizations")
	for _, f := range forms(t, account.body) {
		if strings.HasSuffix(f.Action, "/revoke") {
			if r := b.submit(account, f, nil); r.status != http.StatusSeeOther {
				t.Errorf("account revoke: got status %d, want 303", r.status)
			}
		}
	}
	// Admin failures: a wrong admin token, a deleted link.
	e.do("GET", "/admin/links", nil, "Authorization", "Bearer "+adminToken+"x")
	e.admin("DELETE", "/admin/links/"+l.ID, nil, 204, nil)

	logs := e.logs.String() + defaultLogs.String()
	lines := 0
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines++
		if !json.Valid(sc.Bytes()) {
			t.Errorf("log line is not JSON: %s", sc.Text())
		}
	}
	if lines < 40 || !strings.Contains(logs, `"audit":true`) || !strings.Contains(logs, `"request_id"`) {
		t.Fatalf("got %d log lines, want the request and audit lines of every flow", lines)
	}
	// The lines about the code replay name the code by its hash prefix:
	// the search below looks where secrets would be.
	if !strings.Contains(logs, shared.HashPrefix(code)) {
		t.Errorf("no log line names the replayed code by its hash prefix %s", shared.HashPrefix(code))
	}
	for kind, values := range seen {
		for _, v := range values {
			parts := []string{v}
			if strings.Count(v, ".") == 2 { // a JWT: its signature alone is a secret too
				parts = append(parts, v[strings.LastIndex(v, ".")+1:])
			}
			for _, part := range parts {
				for _, form := range []string{part, url.QueryEscape(part)} {
					if strings.Contains(logs, form) {
						t.Errorf("a %s appears in the logs: %s", kind, lineWith(logs, form))
					}
				}
			}
		}
	}
}

func lineWith(logs, s string) string {
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}
