package shared

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestConstructors(t *testing.T) {
	tests := []struct {
		e      *Error
		code   string
		status int
	}{
		{InvalidRequest("d"), "invalid_request", 400},
		{InvalidClient("d"), "invalid_client", 401},
		{InvalidGrant("d"), "invalid_grant", 400},
		{UnauthorizedClient("d"), "unauthorized_client", 400},
		{UnsupportedGrantType("d"), "unsupported_grant_type", 400},
		{UnsupportedResponseType("d"), "unsupported_response_type", 400},
		{UnsupportedTokenType("d"), "unsupported_token_type", 400},
		{InvalidScope("d"), "invalid_scope", 400},
		{AccessDenied("d"), "access_denied", 403},
		{ServerError(), "server_error", 500},
		{TemporarilyUnavailable(), "temporarily_unavailable", 503},
	}
	for _, tc := range tests {
		if tc.e.Code != tc.code || tc.e.Status != tc.status || !tc.e.Redirectable {
			t.Errorf("got %+v, want code %s, status %d, redirectable", tc.e, tc.code, tc.status)
		}
		if tc.e.Description == "" {
			t.Errorf("%s: got an empty description, want one", tc.code)
		}
	}
	if got, want := InvalidGrant("code expired").Error(), "invalid_grant: code expired"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := InvalidGrant("").Error(), "invalid_grant"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestConstructorsReturnFreshValues(t *testing.T) {
	a, b := ServerError(), ServerError()
	if a == b {
		t.Fatal("got the same pointer twice, want a fresh value per call")
	}
	a.Description = "changed"
	if ServerError().Description == "changed" {
		t.Error("changing one ServerError changed the next, want independent values")
	}
}

func TestNoRedirect(t *testing.T) {
	orig := InvalidRequest("bad redirect_uri")
	got := NoRedirect(orig)
	if got == orig {
		t.Fatal("got the same pointer, want a copy")
	}
	if got.Redirectable || !orig.Redirectable {
		t.Errorf("got Redirectable %v (original %v), want false (original true)", got.Redirectable, orig.Redirectable)
	}
	if got.Code != orig.Code || got.Description != orig.Description || got.Status != orig.Status {
		t.Errorf("got %+v, want the fields of %+v", got, orig)
	}
	if n := NoRedirect(nil); n.Code != CodeServerError || n.Redirectable {
		t.Errorf("NoRedirect(nil) = %+v, want non-redirectable server_error", n)
	}
}

func TestAsError(t *testing.T) {
	grant := InvalidGrant("code already used")
	secret := "dynamodb: table applinks: AccessDenied arn:aws:iam::123:role/x"
	tests := []struct {
		name string
		err  error
		want *Error // compared by code, or identity when same
		same bool
	}{
		{"error as is", grant, grant, true},
		{"wrapped error", fmt.Errorf("redeem: %w", grant), grant, true},
		{"joined error", errors.Join(errors.New(secret), grant), grant, true},
		{"unavailable", fmt.Errorf("get link: %s: %w", secret, ErrUnavailable), TemporarilyUnavailable(), false},
		{"not found is internal", fmt.Errorf("%s: %w", secret, ErrNotFound), ServerError(), false},
		{"anything else", errors.New(secret), ServerError(), false},
		{"nil", nil, ServerError(), false},
		{"nil *Error", (*Error)(nil), ServerError(), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := AsError(tc.err)
			if tc.same && got != tc.want {
				t.Fatalf("got %p %+v, want the same *Error %p", got, got, tc.want)
			}
			if got.Code != tc.want.Code || got.Status != tc.want.Status {
				t.Errorf("got %s %d, want %s %d", got.Code, got.Status, tc.want.Code, tc.want.Status)
			}
			if strings.Contains(got.Description, "dynamodb") || strings.Contains(got.Description, "arn:") {
				t.Errorf("got description %q, want no internal detail", got.Description)
			}
		})
	}
}

func TestWriteTokenError(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		status  int
		body    string
		wwwAuth string
	}{
		{"invalid_grant", InvalidGrant("code expired"), 400, `{"error":"invalid_grant","error_description":"code expired"}`, ""},
		{"invalid_client", InvalidClient("client authentication failed"), 401, `{"error":"invalid_client","error_description":"client authentication failed"}`, `Basic realm="oauth2"`},
		{"no description", &Error{Code: "invalid_request", Status: 400}, 400, `{"error":"invalid_request"}`, ""},
		{"hand-built without status", &Error{Code: "invalid_client"}, 401, `{"error":"invalid_client"}`, `Basic realm="oauth2"`},
		{"hand-built access_denied", &Error{Code: "access_denied"}, 403, `{"error":"access_denied"}`, ""},
		{"hand-built server_error", &Error{Code: "server_error", Status: 200}, 500, `{"error":"server_error"}`, ""},
		{"hand-built temporarily_unavailable", &Error{Code: "temporarily_unavailable"}, 503, `{"error":"temporarily_unavailable"}`, ""},
		{"hand-built other", &Error{Code: "invalid_grant"}, 400, `{"error":"invalid_grant"}`, ""},
		{"internal", fmt.Errorf("put item: secret detail"), 500, `{"error":"server_error","error_description":"the server could not complete the request"}`, ""},
		{"unavailable", fmt.Errorf("throttled: %w", ErrUnavailable), 503, `{"error":"temporarily_unavailable","error_description":"the service is temporarily unavailable, try again later"}`, ""},
		{"escaping", InvalidRequest(`bad "x" <y>`), 400, `{"error":"invalid_request","error_description":"bad 'x' \u003cy\u003e"}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteTokenError(rec, tc.err)
			res := rec.Result()
			if res.StatusCode != tc.status {
				t.Errorf("got status %d, want %d", res.StatusCode, tc.status)
			}
			if got := strings.TrimSpace(rec.Body.String()); got != tc.body {
				t.Errorf("got body %s, want %s", got, tc.body)
			}
			for k, want := range map[string]string{
				"Cache-Control":    "no-store",
				"Pragma":           "no-cache",
				"WWW-Authenticate": tc.wwwAuth,
			} {
				if got := res.Header.Get(k); got != want {
					t.Errorf("got %s %q, want %q", k, got, want)
				}
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("got Content-Type %q, want application/json", ct)
			}
			var m map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
				t.Errorf("body is not JSON: %v", err)
			}
		})
	}
}

func TestWriteAuthorizeErrorRedirect(t *testing.T) {
	const iss = "https://auth.example.com"
	tests := []struct {
		name   string
		method string
		target AuthorizeTarget
		err    error
		status int
		want   string
	}{
		{
			"GET plain", http.MethodGet,
			AuthorizeTarget{RedirectURI: "https://app.example.com/cb", State: "xyz", Issuer: iss},
			InvalidScope("unknown scope"), http.StatusFound,
			"https://app.example.com/cb?error=invalid_scope&error_description=unknown+scope&iss=https%3A%2F%2Fauth.example.com&state=xyz",
		},
		{
			"POST uses 303", http.MethodPost,
			AuthorizeTarget{RedirectURI: "https://app.example.com/cb", State: "s", Issuer: iss},
			AccessDenied("the user denied the request"), http.StatusSeeOther,
			"https://app.example.com/cb?error=access_denied&error_description=the+user+denied+the+request&iss=https%3A%2F%2Fauth.example.com&state=s",
		},
		{
			"existing query kept byte for byte", http.MethodGet,
			AuthorizeTarget{RedirectURI: "https://app.example.com/cb?tenant=a%2Fb&z=1", State: "s", Issuer: iss},
			&Error{Code: "invalid_request", Status: 400, Redirectable: true}, http.StatusFound,
			"https://app.example.com/cb?tenant=a%2Fb&z=1&error=invalid_request&iss=https%3A%2F%2Fauth.example.com&state=s",
		},
		{
			"trailing question mark", http.MethodGet,
			AuthorizeTarget{RedirectURI: "https://app.example.com/cb?", Issuer: iss},
			&Error{Code: "invalid_request", Status: 400, Redirectable: true}, http.StatusFound,
			"https://app.example.com/cb?error=invalid_request&iss=https%3A%2F%2Fauth.example.com",
		},
		{
			"state escaped, no empty state", http.MethodGet,
			AuthorizeTarget{RedirectURI: "com.example.app:/cb", State: "a b&c=d#e?f", Issuer: iss},
			&Error{Code: "invalid_request", Status: 400, Redirectable: true}, http.StatusFound,
			"com.example.app:/cb?error=invalid_request&iss=https%3A%2F%2Fauth.example.com&state=a+b%26c%3Dd%23e%3Ff",
		},
		{
			"internal error redirected generic", http.MethodGet,
			AuthorizeTarget{RedirectURI: "http://127.0.0.1:5000/cb", Issuer: iss},
			errors.New("secret internal detail"), http.StatusFound,
			"http://127.0.0.1:5000/cb?error=server_error&error_description=the+server+could+not+complete+the+request&iss=https%3A%2F%2Fauth.example.com",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteAuthorizeError(rec, httptest.NewRequest(tc.method, "/oauth2/authorize", nil), tc.target, tc.err)
			if rec.Code != tc.status {
				t.Errorf("got status %d, want %d", rec.Code, tc.status)
			}
			loc := rec.Header().Get("Location")
			if loc != tc.want {
				t.Errorf("got Location %q, want %q", loc, tc.want)
			}
			if tc.target.State != "" {
				u, err := url.Parse(loc)
				if err != nil {
					t.Fatal(err)
				}
				if got := u.Query().Get("state"); got != tc.target.State {
					t.Errorf("got state %q after decoding, want %q", got, tc.target.State)
				}
			}
			if strings.Contains(loc, "secret") {
				t.Errorf("got Location %q, want no internal detail", loc)
			}
		})
	}
}

func TestWriteAuthorizeErrorPage(t *testing.T) {
	tests := []struct {
		name   string
		target AuthorizeTarget
		err    error
		status int
	}{
		{"no redirect URI yet", AuthorizeTarget{State: "s", Issuer: "https://i"}, InvalidRequest("unknown client_id <b>x</b>"), 400},
		{"NoRedirect never redirects", AuthorizeTarget{RedirectURI: "https://app.example.com/cb", State: "s"}, NoRedirect(InvalidRequest("redirect_uri does not match")), 400},
		{"invalid_client as a page is 400", AuthorizeTarget{}, NoRedirect(InvalidClient("unknown client")), 400},
		{"access_denied as a page is 400", AuthorizeTarget{}, NoRedirect(AccessDenied("link disabled")), 400},
		{"server error keeps 500", AuthorizeTarget{}, errors.New("secret internal detail"), 500},
		{"unavailable keeps 503", AuthorizeTarget{}, fmt.Errorf("x: %w", ErrUnavailable), 503},
		{"unparsable redirect URI falls back on the page", AuthorizeTarget{RedirectURI: "https://a.example/%zz"}, InvalidScope("x"), 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteAuthorizeError(rec, httptest.NewRequest(http.MethodPost, "/oauth2/authorize", nil), tc.target, tc.err)
			if rec.Code != tc.status {
				t.Errorf("got status %d, want %d", rec.Code, tc.status)
			}
			if loc := rec.Header().Get("Location"); loc != "" {
				t.Errorf("got Location %q, want none", loc)
			}
			checkPageHeaders(t, rec.Header(), "")
			body := rec.Body.String()
			for _, want := range []string{`<html lang="en">`, "<title>", `name="viewport"`, AsError(tc.err).Code} {
				if !strings.Contains(body, want) {
					t.Errorf("got a body without %q", want)
				}
			}
			for _, bad := range []string{"<b>", "secret", "<script", "src=", "href="} {
				if strings.Contains(body, bad) {
					t.Errorf("got a body containing %q, want escaped text and no external assets", bad)
				}
			}
		})
	}
}

func TestWriteAuthorizeErrorPageEscapes(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteAuthorizeError(rec, httptest.NewRequest(http.MethodGet, "/", nil), AuthorizeTarget{}, InvalidRequest(`<script>alert("x")</script>`))
	if body := rec.Body.String(); !strings.Contains(body, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;") {
		t.Errorf("got body %s, want the description escaped", body)
	}
}

func TestCleanDescription(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text, with (punctuation)!", "plain text, with (punctuation)!"},
		{`say "hi" \ bye`, "say 'hi' / bye"},
		{"tab\tnew\nline", "tab?new?line"},
		{"caf\u00e9", "caf??"},
		{strings.Repeat("a", 400), strings.Repeat("a", 300)},
	}
	for _, tc := range tests {
		if got := cleanDescription(tc.in); got != tc.want {
			t.Errorf("cleanDescription(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
