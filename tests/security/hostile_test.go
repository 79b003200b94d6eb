package security

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
	"github.com/applinks/applinks/tests/testkit/oauthflow"
)

// padded returns a form body of exactly n bytes: prefix then a padding
// parameter.
func padded(prefix string, n int) string {
	body := prefix + "&pad="
	return body + strings.Repeat("a", n-len(body))
}

// TestHostile_BodyOverLimit413: a body over web.MaxBodyBytes (64 KiB, the
// documented limit) is 413 on the token, revocation and introspection
// endpoints, sign-in, consent, the account page's forms and the admin API;
// a body of exactly the limit is read.
func TestHostile_BodyOverLimit413(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", "REPO_READ")
	l := e.link(store.Confidential)
	b := e.session(t, "alice", l)
	consent := b.consentPage(e.authURL(l, nil), "")
	cf := theForm(t, consent)
	signOut := b.get(e.issuer + "/oauth2/logout")
	af := theForm(t, signOut) // the sign-out form: its CSRF token is the session's
	over := web.MaxBodyBytes + 1
	form := "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name, path, ctype string
		body              func(n int) string
		hdr               []string
		browser           bool
	}{
		{"token", "/oauth2/token", form, func(n int) string { return padded("grant_type=refresh_token&refresh_token=x", n) },
			[]string{"Authorization", oauthflow.Basic(l.ClientID, l.ClientSecret)}, false},
		{"revocation", "/oauth2/revoke", form, func(n int) string { return padded("token=x", n) },
			[]string{"Authorization", oauthflow.Basic(l.ClientID, l.ClientSecret)}, false},
		{"introspection", "/oauth2/introspect", form, func(n int) string { return padded("token=x", n) },
			[]string{"Authorization", oauthflow.Basic(l.ClientID, l.ClientSecret)}, false},
		{"login", "/oauth2/login", form, func(n int) string {
			return padded("return_to=%2Faccount%2Fauthorizations&username=alice&password=x&csrf=x", n)
		}, nil, true},
		{"consent", "/oauth2/consent", form, func(n int) string {
			return padded(cf.Hidden.Encode()+"&decision=deny", n)
		}, nil, true},
		{"account revoke", "/account/authorizations/" + l.ClientID + "/revoke", form, func(n int) string {
			return padded("csrf="+url.QueryEscape(af.Hidden.Get("csrf")), n)
		}, nil, true},
		{"sign-out", "/oauth2/logout", form, func(n int) string {
			return padded("csrf="+url.QueryEscape(af.Hidden.Get("csrf")), n)
		}, nil, true},
		{"admin links", "/admin/links", "application/json", func(n int) string {
			head := `{"name":"`
			return head + strings.Repeat("a", n-len(head)-2) + `"}`
		}, []string{"Authorization", "Bearer " + adminToken}, false},
		{"admin users", "/admin/users", "application/json", func(n int) string {
			head := `{"username":"`
			return head + strings.Repeat("a", n-len(head)-2) + `"}`
		}, []string{"Authorization", "Bearer " + adminToken}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			send := func(body string) response {
				req, _ := http.NewRequest("POST", e.issuer+tc.path, strings.NewReader(body))
				req.Header.Set("Content-Type", tc.ctype)
				for i := 0; i+1 < len(tc.hdr); i += 2 {
					req.Header.Set(tc.hdr[i], tc.hdr[i+1])
				}
				if tc.browser {
					b.noFollow()
					return b.do(req).response
				}
				return read(t, e.http, req)
			}
			if r := send(tc.body(over)); r.status != http.StatusRequestEntityTooLarge {
				t.Errorf("%d bytes: got status %d, want 413", over, r.status)
			}
			if r := send(tc.body(web.MaxBodyBytes)); r.status == http.StatusRequestEntityTooLarge || r.status >= 500 {
				t.Errorf("%d bytes (the limit): got status %d, want the body read", web.MaxBodyBytes, r.status)
			}
		})
	}
}

// TestHostile_MalformedJSON400WithReason: the admin API answers malformed
// JSON with 400 invalid_request and a message naming the problem.
func TestHostile_MalformedJSON400WithReason(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		body, reason string
	}{
		{``, "empty"},
		{`{`, "malformed JSON"},
		{`{"name": }`, "malformed JSON at offset"},
		{`{"name": "a",}`, "malformed JSON"},
		{`[1, 2]`, "JSON object"},
		{`"name"`, "JSON object"},
		{`{"name": 5}`, "name"},
		{`{"enabled": "yes"}`, "enabled"},
		{`{"redirect_uris": "https://a.example/cb"}`, "redirect_uris"},
		{`{"name": "a", "nmae": "b"}`, "unknown field"},
		{`{"name": "a"} {"name": "b"}`, "trailing"},
		{`{"name": "a"}]`, "trailing"},
	} {
		t.Run(tc.body, func(t *testing.T) {
			r := e.do("POST", "/admin/links", strings.NewReader(tc.body),
				"Authorization", "Bearer "+adminToken, "Content-Type", "application/json")
			if r.status != http.StatusBadRequest {
				t.Fatalf("got status %d (%s), want 400", r.status, r.body)
			}
			m := r.json(t)
			if m["error"] != "invalid_request" || !strings.Contains(str(m["message"]), tc.reason) {
				t.Errorf("got %s, want invalid_request with a message naming %q", r.body, tc.reason)
			}
		})
	}
}

// TestHostile_AmbiguousJSONKeys: encoding/json matches keys to fields
// case-insensitively and lets the last of a repeated key win, so
// {"name":"x","NAME":"y"} used to create a link named "y" (issue 13). The
// admin API now answers 400 invalid_request naming the key, and creates
// nothing.
func TestHostile_AmbiguousJSONKeys(t *testing.T) {
	e := newEnv(t, nil)
	before := len(e.links())
	for _, tc := range []struct {
		path, body, reason string
	}{
		{"/admin/links", `{"name":"x","NAME":"y","redirect_uris":["https://a.example/cb"]}`, `key "NAME" differs from the field "name" only by letter case`},
		{"/admin/links", `{"name":"x","redirect_uris":["https://a.example/cb"],"Client_Type":"public"}`, `key "Client_Type"`},
		{"/admin/links", `{"name":"x","name":"y","redirect_uris":["https://a.example/cb"]}`, `key "name" is repeated`},
		{"/admin/links", `{"name":"x","redirect_uris":["https://a.example/cb"],"scopes":["PUBLIC_REPOS"],"scopes":["SYSTEM_ADMIN"]}`, `key "scopes" is repeated`},
		{"/admin/users", `{"username":"mallory","password":"a long passphrase","Permissions":["SYSTEM_ADMIN"]}`, `key "Permissions"`},
	} {
		t.Run(tc.body, func(t *testing.T) {
			r := e.do("POST", tc.path, strings.NewReader(tc.body),
				"Authorization", "Bearer "+adminToken, "Content-Type", "application/json")
			if r.status != http.StatusBadRequest {
				t.Fatalf("got status %d (%s), want 400", r.status, r.body)
			}
			if m := r.json(t); m["error"] != "invalid_request" || !strings.Contains(str(m["message"]), tc.reason) {
				t.Errorf("got %s, want invalid_request with a message naming %q", r.body, tc.reason)
			}
		})
	}
	if after := len(e.links()); after != before {
		t.Errorf("got %d links after the refused requests, want %d", after, before)
	}
	e.admin("GET", "/admin/users/mallory", nil, 404, nil)
}

// TestHostile_InvisibleCharactersInNames: link names, usernames and user
// display names with a bidirectional control or a zero-width character
// (U+200B-U+200F, U+202A-U+202E, U+2066-U+2069, U+061C, U+FEFF) are 422
// with the character named (shared.CheckName), on create and on update.
func TestHostile_InvisibleCharactersInNames(t *testing.T) {
	e := newEnv(t, nil)
	l := e.link(store.Confidential)
	e.user("alice")
	for _, tc := range []struct {
		method, path, body, reason string
	}{
		{"POST", "/admin/links", `{"name":"abc\u202egpj.exe","redirect_uris":["https://a.example/cb"]}`, "name: must not contain the bidirectional control character U+202E"},
		{"POST", "/admin/links", `{"name":"Jen\u200bkins","redirect_uris":["https://a.example/cb"]}`, "name: must not contain the zero-width character U+200B"},
		{"POST", "/admin/links", `{"name":"\ufeffJenkins","redirect_uris":["https://a.example/cb"]}`, "U+FEFF"},
		{"PATCH", "/admin/links/" + l.ID, `{"name":"a\u061cb"}`, "U+061C"},
		{"PATCH", "/admin/links/" + l.ID, `{"name":"a\u2068b"}`, "U+2068"},
		{"POST", "/admin/users", `{"username":"ad\u200bmin","password":"a long passphrase"}`, "username: must not contain the zero-width character U+200B"},
		{"POST", "/admin/users", `{"username":"bob","password":"a long passphrase","name":"Bob\u200e"}`, "name: must not contain the bidirectional control character U+200E"},
		{"PATCH", "/admin/users/alice", `{"name":"Al\u200dice"}`, "U+200D"},
	} {
		t.Run(tc.method+" "+tc.body, func(t *testing.T) {
			r := e.do(tc.method, tc.path, strings.NewReader(tc.body),
				"Authorization", "Bearer "+adminToken, "Content-Type", "application/json")
			if r.status != http.StatusUnprocessableEntity {
				t.Fatalf("got status %d (%s), want 422", r.status, r.body)
			}
			if m := r.json(t); m["error"] != "validation_failed" || !strings.Contains(str(m["message"]), tc.reason) {
				t.Errorf("got %s, want validation_failed naming %q", r.body, tc.reason)
			}
		})
	}
	e.admin("GET", "/admin/users/bob", nil, 404, nil)
}

// TestHostile_NonUTF8Refused: bytes that are not UTF-8 in form values,
// query strings, JSON strings, paths and headers are refused with a 4xx,
// never a 5xx.
func TestHostile_NonUTF8Refused(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", "REPO_READ")
	l := e.link(store.Confidential)
	auth := oauthflow.Basic(l.ClientID, l.ClientSecret)
	formCT := "application/x-www-form-urlencoded"
	admin := []string{"Authorization", "Bearer " + adminToken, "Content-Type", "application/json"}
	for _, tc := range []struct {
		name, method, path, body string
		hdr                      []string
	}{
		{"token form value", "POST", "/oauth2/token", "grant_type=refresh_token&refresh_token=%FF%FE", []string{"Content-Type", formCT, "Authorization", auth}},
		{"token form name", "POST", "/oauth2/token", "grant_type=refresh_token&refresh_token=x&%FF=1", []string{"Content-Type", formCT, "Authorization", auth}},
		{"token raw body bytes", "POST", "/oauth2/token", "grant_type=refresh_token&refresh_token=\xff\xfe", []string{"Content-Type", formCT, "Authorization", auth}},
		{"token Basic credentials", "POST", "/oauth2/token", "grant_type=refresh_token&refresh_token=x", []string{"Content-Type", formCT, "Authorization", oauthflow.Basic("\xff", "\xfe")}},
		{"introspect token", "POST", "/oauth2/introspect", "token=%C3%28", []string{"Content-Type", formCT, "Authorization", auth}},
		{"authorize client_id", "GET", "/oauth2/authorize?response_type=code&client_id=%FF", "", nil},
		{"authorize state", "GET", "/oauth2/authorize?response_type=code&client_id=" + l.ClientID + "&state=%FF%FE", "", nil},
		{"authorize scope", "GET", "/oauth2/authorize?response_type=code&client_id=" + l.ClientID + "&scope=%C0%AF", "", nil},
		{"login username", "POST", "/oauth2/login", "return_to=%2Faccount%2Fauthorizations&username=%FF&password=x&csrf=x", []string{"Content-Type", formCT}},
		{"consent fields", "POST", "/oauth2/consent", "client_id=%FF&decision=approve&csrf=x", []string{"Content-Type", formCT}},
		{"admin link name", "POST", "/admin/links", "{\"name\": \"\xff\xfe\", \"redirect_uris\": [\"" + callback + "\"]}", admin},
		{"admin escaped surrogate", "POST", "/admin/links", `{"name": "\ud800", "redirect_uris": ["` + callback + `"]}`, admin},
		{"admin redirect uri", "POST", "/admin/links", "{\"name\": \"x\", \"redirect_uris\": [\"https://a.example/\xff\"]}", admin},
		{"admin username", "POST", "/admin/users", "{\"username\": \"\xff\", \"password\": \"long enough password\"}", admin},
		{"admin path", "GET", "/admin/links/%FF%FE", "", admin},
		{"admin query", "GET", "/admin/links?cursor=%FF", "", admin},
		{"admin Idempotency-Key", "POST", "/admin/links", `{"name": "x", "redirect_uris": ["` + callback + `"]}`, append([]string{"Idempotency-Key", "\xff\xfe"}, admin...)},
		{"account revoke path", "POST", "/account/authorizations/%FF/revoke", "csrf=x", []string{"Content-Type", formCT}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, strings.NewReader(tc.body), tc.hdr...)
			switch {
			case r.status >= 400 && r.status < 500:
			case r.status == http.StatusFound && r.header.Get("Location") != "":
				// After the redirect URI is validated: the error goes to
				// the client.
				if got := r.location(t).Query().Get("error"); got == "" {
					t.Errorf("got a redirect without an error: %s", r.header.Get("Location"))
				}
			default:
				t.Errorf("got status %d (%s), want a 4xx", r.status, r.body)
			}
		})
	}
}

// TestHostile_HugeHeaders: the local runner's http.Server refuses headers
// over 16 KiB (plus net/http's 4 KiB of slack) with 431 before any handler runs, and the handlers
// themselves (as behind API Gateway, which has its own limits) answer a
// 1 MB cookie or Authorization header without a 5xx.
func TestHostile_HugeHeaders(t *testing.T) {
	e := newEnv(t, nil)
	l := e.link(store.Confidential)
	huge := strings.Repeat("a", 1<<20)
	t.Run("runner", func(t *testing.T) {
		// net/http allows 4 KiB of slack over MaxHeaderBytes.
		for _, size := range []int{24 << 10, 1 << 20} {
			req, _ := http.NewRequest("GET", e.issuer+"/oauth2/authorize?client_id="+l.ClientID, nil)
			req.Header.Set("Cookie", "session="+huge[:size])
			resp, err := e.http.Do(req)
			if err != nil {
				// The server may close the connection while the client is
				// still writing a 1 MB header: refused either way.
				var ne net.Error
				if size < 1<<20 && !(errorAs(err, &ne)) {
					t.Errorf("%d-byte cookie: %v", size, err)
				}
				continue
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
				t.Errorf("%d-byte cookie: got status %d, want 431", size, resp.StatusCode)
			}
		}
	})
	t.Run("handlers", func(t *testing.T) {
		for _, tc := range []struct {
			method, path, header string
		}{
			{"GET", "/oauth2/authorize?response_type=code&client_id=" + l.ClientID, "Cookie"},
			{"GET", "/account/authorizations", "Cookie"},
			{"POST", "/oauth2/consent", "Cookie"},
			{"POST", "/oauth2/token", "Authorization"},
			{"POST", "/oauth2/introspect", "Authorization"},
			{"GET", "/admin/links", "Authorization"},
			{"POST", "/admin/links", "Idempotency-Key"},
		} {
			for _, value := range []string{"session=" + huge, "login_csrf=" + huge + "; session=" + huge, "Basic " + huge, "Bearer " + huge, huge} {
				req := httptest.NewRequest(tc.method, tc.path, strings.NewReader("token=x"))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				if tc.header != "Authorization" {
					req.Header.Set("Authorization", "Bearer "+adminToken)
				}
				req.Header.Set(tc.header, value)
				w := httptest.NewRecorder()
				e.handler.ServeHTTP(w, req)
				if w.Code >= 500 {
					t.Errorf("%s %s with a 1 MB %s: got status %d, want no 5xx", tc.method, tc.path, tc.header, w.Code)
				}
			}
		}
	})
}

// TestHostile_OversizedIdentifiers: identifiers longer than DynamoDB allows
// in a key (2048 bytes for a partition key) are the client's error, never
// a 5xx from a ValidationException of the real engine.
func TestHostile_OversizedIdentifiers(t *testing.T) {
	e := newEnv(t, nil)
	l := e.link(store.Confidential)
	long := strings.Repeat("x", 3000)
	formCT := "application/x-www-form-urlencoded"
	admin := []string{"Authorization", "Bearer " + adminToken, "Content-Type", "application/json"}
	for _, tc := range []struct {
		name, method, path, body string
		hdr                      []string
	}{
		{"token Basic client_id", "POST", "/oauth2/token", "grant_type=refresh_token&refresh_token=x", []string{"Content-Type", formCT, "Authorization", oauthflow.Basic(long, "s")}},
		{"token form client_id", "POST", "/oauth2/token", "grant_type=refresh_token&refresh_token=x&client_id=" + long + "&client_secret=s", []string{"Content-Type", formCT}},
		{"token public client_id", "POST", "/oauth2/token", "grant_type=authorization_code&code=x&client_id=" + long, []string{"Content-Type", formCT}},
		{"introspect client_id", "POST", "/oauth2/introspect", "token=x", []string{"Content-Type", formCT, "Authorization", oauthflow.Basic(long, "s")}},
		{"revoke client_id", "POST", "/oauth2/revoke", "token=x", []string{"Content-Type", formCT, "Authorization", oauthflow.Basic(long, "s")}},
		{"token long refresh token", "POST", "/oauth2/token", "grant_type=refresh_token&refresh_token=" + long, []string{"Content-Type", formCT, "Authorization", oauthflow.Basic(l.ClientID, l.ClientSecret)}},
		{"authorize client_id", "GET", "/oauth2/authorize?response_type=code&client_id=" + long, "", nil},
		{"login username", "POST", "/oauth2/login", "return_to=%2Faccount%2Fauthorizations&username=" + long + "&password=x&csrf=x", []string{"Content-Type", formCT, "Cookie", "login_csrf=x"}},
		{"admin link id", "GET", "/admin/links/" + long, "", admin},
		{"admin link grants", "GET", "/admin/links/" + long + "/grants", "", admin},
		{"admin link credentials", "GET", "/admin/links/" + long + "/credentials", "", admin},
		{"admin link patch", "PATCH", "/admin/links/" + long, `{"name":"x"}`, admin},
		{"admin link delete", "DELETE", "/admin/links/" + long, "", admin},
		{"admin user", "GET", "/admin/users/" + long, "", admin},
		{"admin user patch", "PATCH", "/admin/users/" + long, `{"disabled":true}`, admin},
		{"admin user delete", "DELETE", "/admin/users/" + long, "", admin},
		{"admin create user", "POST", "/admin/users", `{"username":"` + long + `","password":"long enough password"}`, admin},
		{"admin cursor", "GET", "/admin/links?cursor=" + long, "", admin},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, strings.NewReader(tc.body), tc.hdr...)
			if tc.name == "login username" {
				// A failed sign-in is the login page again, never a sign-in.
				if r.status != http.StatusOK || !strings.Contains(r.body, `name="password"`) {
					t.Errorf("got status %d, want the login page again", r.status)
				}
				return
			}
			if r.status < 400 || r.status >= 500 {
				t.Errorf("got status %d (%.200s), want a 4xx", r.status, r.body)
			}
		})
	}
}
