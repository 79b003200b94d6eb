package e2e

import (
	"io"
	"net/http"
	"net/url"
	"testing"
)

// TestHeadEverywhere: every GET endpoint of the three functions (and the
// local callback page) answers HEAD with the GET's status, headers and
// Content-Length and no body; a 405 lists HEAD next to GET.
func TestHeadEverywhere(t *testing.T) {
	p := startProvider(t, nil)
	p.createUser("alice", "plum tractor velvet orbit", []string{"REPO_WRITE"})
	l := p.createLink("Demo app", p.issuer+"/local/callback", []string{"REPO_ADMIN"}, "confidential")
	authz := "/oauth2/authorize?" + url.Values{"response_type": {"code"}, "client_id": {l.ClientID}, "state": {"s"}}.Encode()

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path string, admin bool) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, p.issuer+path, nil)
		if admin {
			req.Header.Set("Authorization", "Bearer "+adminToken)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	for _, c := range []struct {
		fn, path string
		admin    bool
		status   int
	}{
		{"authorize", authz, false, 200},
		{"authorize", "/rest/oauth2/latest/authorize?" + url.Values{"client_id": {"nope"}}.Encode(), false, 400},
		{"authorize", "/account/authorizations", false, 200},
		{"authorize", "/oauth2/logout", false, 200},
		{"token", "/.well-known/oauth-authorization-server", false, 200},
		{"token", "/.well-known/jwks.json", false, 200},
		{"admin", "/admin/links", true, 200},
		{"admin", "/admin/links/" + l.ID, true, 200},
		{"admin", "/admin/links/" + l.ID + "/credentials", true, 200},
		{"admin", "/admin/links/" + l.ID + "/grants", true, 200},
		{"admin", "/admin/users/alice", true, 200},
		{"admin", "/admin/links", false, 401},
		{"local", "/local/callback?code=abc&state=s", false, 200},
	} {
		get, body := do("GET", c.path, c.admin)
		head, hbody := do("HEAD", c.path, c.admin)
		if get.StatusCode != c.status && !(c.path == "/oauth2/logout" && get.StatusCode == http.StatusSeeOther) {
			t.Errorf("%s GET %s: status %d, want %d", c.fn, c.path, get.StatusCode, c.status)
		}
		if head.StatusCode != get.StatusCode {
			t.Errorf("%s HEAD %s: status %d, GET %d", c.fn, c.path, head.StatusCode, get.StatusCode)
		}
		if len(hbody) != 0 {
			t.Errorf("%s HEAD %s: %d body bytes, want none", c.fn, c.path, len(hbody))
		}
		if head.ContentLength != int64(len(body)) {
			t.Errorf("%s HEAD %s: Content-Length %d, GET body %d bytes", c.fn, c.path, head.ContentLength, len(body))
		}
		for _, k := range []string{"Content-Type", "Cache-Control", "Content-Security-Policy", "Location"} {
			if head.Header.Get(k) != get.Header.Get(k) {
				t.Errorf("%s HEAD %s: %s %q, GET %q", c.fn, c.path, k, head.Header.Get(k), get.Header.Get(k))
			}
		}
	}
	for _, c := range []struct{ method, path, allow string }{
		{"POST", "/.well-known/jwks.json", "GET, HEAD"},
		{"PUT", "/oauth2/authorize", "GET, HEAD, POST"},
		{"PUT", "/oauth2/logout", "GET, HEAD, POST"},
		{"GET", "/oauth2/token", "POST"},
	} {
		resp, _ := do(c.method, c.path, false)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != c.allow {
			t.Errorf("%s %s: %d Allow %q, want 405 Allow %q", c.method, c.path, resp.StatusCode, resp.Header.Get("Allow"), c.allow)
		}
	}
}
