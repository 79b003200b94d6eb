package permissions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/clocktest"
	"github.com/applinks/applinks/shared/logtest"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/web"
)

const testIssuer = "https://auth.example.com"

// memSource is an in-memory signing.Source.
type memSource struct {
	mu  sync.Mutex
	doc []byte
}

func (m *memSource) GetSigningKeys(context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.doc == nil {
		return nil, shared.ErrNotFound
	}
	return bytes.Clone(m.doc), nil
}

func (m *memSource) CreateSigningKeys(_ context.Context, doc []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.doc != nil {
		return shared.ErrConflict
	}
	m.doc = bytes.Clone(doc)
	return nil
}

func (m *memSource) PutSigningKeys(_ context.Context, doc []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.doc = bytes.Clone(doc)
	return nil
}

// testSigner is one permission-request key set for the package's tests
// (an RSA key generation each would be slow).
var testSigner = sync.OnceValues(func() (*signing.RequestSigner, error) {
	return signing.NewRequestSigner(context.Background(), &memSource{}, signing.Options{})
})

// service is a permission service whose answer the test sets and changes.
type service struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	status  int
	body    string
	headers map[string]string
	// block, when set, holds every request until the channel closes or the
	// request's context ends.
	block chan struct{}
	calls int
	// last is the last request's body and headers.
	lastBody   []byte
	lastHeader http.Header
}

func newService(t *testing.T) *service {
	s := &service{t: t, status: 200, body: `{"permissions":["REPO_WRITE"]}`, headers: map[string]string{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		s.mu.Lock()
		if s.block != nil {
			close(s.block)
			s.block = nil
		}
		s.mu.Unlock()
		s.srv.Close()
	})
	return s
}

func (s *service) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.calls++
	s.lastBody, s.lastHeader = body, r.Header.Clone()
	status, resp, block := s.status, s.body, s.block
	for k, v := range s.headers {
		w.Header().Set(k, v)
	}
	s.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-r.Context().Done():
			return
		}
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, resp)
}

// answer sets the next answers: status, body and headers.
func (s *service) answer(status int, body string, headers ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.body = status, body
	s.headers = map[string]string{}
	for i := 0; i+1 < len(headers); i += 2 {
		s.headers[headers[i]] = headers[i+1]
	}
}

func (s *service) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

type fixture struct {
	svc    *service
	clock  *clocktest.Clock
	client *Client
	logs   *logtest.Buffer
	ctx    context.Context
}

func newFixture(t *testing.T, maxCache, timeout time.Duration) *fixture {
	t.Helper()
	signer, err := testSigner()
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{svc: newService(t), clock: clocktest.New(time.Now().UTC().Truncate(time.Second)), logs: &logtest.Buffer{}}
	f.client, err = New(Options{Issuer: testIssuer, URL: f.svc.srv.URL + "/permissions", Timeout: timeout,
		MaxCache: maxCache, Catalog: shared.DefaultCatalog(), Signer: signer, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.ctx = web.WithLogger(context.Background(), slog.New(slog.NewJSONHandler(f.logs, nil)))
	return f
}

var alice = Request{Sub: "uid-alice", ClientID: "client-1", Scopes: []string{"REPO_WRITE", "ACCOUNT_WRITE"},
	Username: "alice", Email: "alice@example.com", EmailVerified: true}

func (f *fixture) ask(t *testing.T, r Request) []string {
	t.Helper()
	p, err := f.client.Permissions(f.ctx, r)
	if err != nil {
		t.Fatalf("Permissions: %v", err)
	}
	return p
}

// TestRequest: the body says who, for which client and which scopes, the
// email only when verified, upstream null; the JWT verifies with go-jose
// against the permission JWK Set (alone), with typ
// permissions-request+jwt, iss the issuer, aud PERMISSIONS_URL, sub the
// body's, exp 60 s after iat, a fresh jti each time.
func TestRequest(t *testing.T) {
	f := newFixture(t, 0, 2*time.Second)
	got := f.ask(t, alice)
	if !slices.Equal(got, []string{"REPO_WRITE"}) {
		t.Errorf("got %v, want [REPO_WRITE]", got)
	}
	var body map[string]any
	if err := json.Unmarshal(f.svc.lastBody, &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"sub": "uid-alice", "upstream": nil, "client_id": "client-1",
		"scopes": []any{"REPO_WRITE", "ACCOUNT_WRITE"}, "username": "alice",
		"email": "alice@example.com", "email_verified": true}
	if fmt.Sprint(body) != fmt.Sprint(want) {
		t.Errorf("body: got %v, want %v", body, want)
	}
	h := f.svc.lastHeader
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type: got %q, want application/json", ct)
	}
	auth, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
	if !ok {
		t.Fatalf("Authorization: got %q, want a Bearer JWT", h.Get("Authorization"))
	}
	c := verify(t, auth)
	if c.Issuer != testIssuer || !slices.Equal([]string(c.Audience), []string{f.svc.srv.URL + "/permissions"}) || c.Subject != "uid-alice" {
		t.Errorf("claims: got iss %q aud %v sub %q", c.Issuer, c.Audience, c.Subject)
	}
	if c.IssuedAt == nil || c.Expiry == nil || c.Expiry.Time().Sub(c.IssuedAt.Time()) != 60*time.Second ||
		!c.IssuedAt.Time().Equal(f.clock.Now()) {
		t.Errorf("iat %v exp %v: want iat now (%v) and exp 60 s later", c.IssuedAt, c.Expiry, f.clock.Now())
	}
	first := c.ID

	// An unverified email stays at home; no scopes is an empty list.
	bob := Request{Sub: "uid-bob", ClientID: "client-1", Username: "bob", Email: "bob@example.com"}
	f.ask(t, bob)
	body = nil
	if err := json.Unmarshal(f.svc.lastBody, &body); err != nil {
		t.Fatal(err)
	}
	if _, ok := body["email"]; ok || body["email_verified"] != false || fmt.Sprint(body["scopes"]) != "[]" || body["upstream"] != nil {
		t.Errorf("body for an unverified email: got %v, want no email, email_verified false, scopes [], upstream null", body)
	}
	auth, _ = strings.CutPrefix(f.svc.lastHeader.Get("Authorization"), "Bearer ")
	if c := verify(t, auth); c.ID == "" || c.ID == first || c.Subject != "uid-bob" {
		t.Errorf("second request: got jti %q (first %q) sub %q, want a new jti and sub uid-bob", c.ID, first, c.Subject)
	}

	// With an upstream link.
	up := alice
	up.Upstream = &Upstream{Issuer: "https://idp.example.com", Subject: "00u1"}
	f.ask(t, up)
	if !strings.Contains(string(f.svc.lastBody), `"upstream":{"issuer":"https://idp.example.com","subject":"00u1"}`) {
		t.Errorf("body: got %s, want the upstream link", f.svc.lastBody)
	}
}

// verify checks a request's JWT as a permission service would, with
// go-jose, against the permission-request JWK Set, and returns its claims.
func verify(t *testing.T, token string) jwt.Claims {
	t.Helper()
	signer, _ := testSigner()
	raw, err := signer.JWKS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("parse JWT: %v", err)
	}
	if typ := tok.Headers[0].ExtraHeaders[jose.HeaderType]; typ != TokenType {
		t.Errorf("typ: got %v, want %s", typ, TokenType)
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q: got %d keys in the JWK Set, want 1", tok.Headers[0].KeyID, len(keys))
	}
	var c jwt.Claims
	if err := tok.Claims(keys[0].Key, &c); err != nil {
		t.Fatalf("verify JWT: %v", err)
	}
	return c
}

// TestAnswerFiltered: names outside the catalog are ignored and logged
// (bounded), duplicates counted once; an empty list is no permissions.
func TestAnswerFiltered(t *testing.T) {
	f := newFixture(t, 0, 2*time.Second)
	f.svc.answer(200, `{"permissions":["REPO_READ","REPO_READ","repo_write","ROOT","`+strings.Repeat("X", 500)+`"],"extra":1}`)
	if got := f.ask(t, alice); !slices.Equal(got, []string{"REPO_READ"}) {
		t.Errorf("got %v, want [REPO_READ]", got)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, `"ignored":["repo_write","ROOT","`+strings.Repeat("X", 64)+`…"]`) || !strings.Contains(logs, `"ignored_count":3`) {
		t.Errorf("logs: got %s, want the three ignored names (the long one cut) and their count", logs)
	}
	f.svc.answer(200, `{"permissions":[]}`)
	if got := f.ask(t, alice); got == nil || len(got) != 0 {
		t.Errorf("got %#v, want an empty list", got)
	}
}

// TestFailuresFailClosed: every failed exchange is ErrUnavailable and
// keeps nothing: the next question asks again.
func TestFailuresFailClosed(t *testing.T) {
	big := `{"permissions":["REPO_READ"],"pad":"` + strings.Repeat("x", MaxAnswerBytes) + `"}`
	tests := []struct {
		name    string
		status  int
		body    string
		headers []string
		reason  string
	}{
		{"server error", 500, `{"permissions":["SYSTEM_ADMIN"]}`, nil, "status 500"},
		{"forbidden", 403, ``, nil, "status 403"},
		{"redirect", 302, ``, []string{"Location", "/elsewhere"}, "redirects are not followed"},
		{"not JSON", 200, `REPO_READ`, nil, "is not"},
		{"trailing data", 200, `{"permissions":["REPO_READ"]} {}`, nil, "is not"},
		{"an array", 200, `["REPO_READ"]`, nil, "is not"},
		{"no list", 200, `{"perms":["REPO_READ"]}`, nil, "no permissions list"},
		{"null list", 200, `{"permissions":null}`, nil, "no permissions list"},
		{"not strings", 200, `{"permissions":["REPO_READ",1]}`, nil, "is not"},
		{"a string", 200, `{"permissions":"REPO_READ"}`, nil, "is not"},
		{"oversize", 200, big, nil, "above the limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, time.Minute, 2*time.Second)
			f.svc.answer(tc.status, tc.body, append([]string{"Cache-Control", "max-age=60"}, tc.headers...)...)
			_, err := f.client.Permissions(f.ctx, alice)
			if !errors.Is(err, shared.ErrUnavailable) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("got %v, want ErrUnavailable saying %q", err, tc.reason)
			}
			if e := shared.AsError(err); e.Code != shared.CodeTemporarilyUnavailable || e.Status != http.StatusServiceUnavailable {
				t.Errorf("rendered as %s %d, want temporarily_unavailable 503", e.Code, e.Status)
			}
			// Nothing kept: the service is asked again, and its good
			// answer is used.
			f.svc.answer(200, `{"permissions":["REPO_READ"]}`)
			if got := f.ask(t, alice); !slices.Equal(got, []string{"REPO_READ"}) {
				t.Errorf("after the failure: got %v, want [REPO_READ]", got)
			}
			if got := f.svc.count(); got != 2 {
				t.Errorf("got %d requests to the service, want 2 (the failure kept nothing)", got)
			}
		})
	}
}

// TestOversizeChunked: an answer without Content-Length is cut at
// MaxAnswerBytes too.
func TestOversizeChunked(t *testing.T) {
	f := newFixture(t, 0, 2*time.Second)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"permissions":["REPO_READ"],"pad":"`)
		w.(http.Flusher).Flush() // chunked: no Content-Length
		for range MaxAnswerBytes / 1024 {
			_, _ = io.WriteString(w, strings.Repeat("x", 1024))
		}
		_, _ = io.WriteString(w, `"}`)
	}))
	defer srv.Close()
	f.client.o.URL = srv.URL
	_, err := f.client.Permissions(f.ctx, alice)
	if !errors.Is(err, shared.ErrUnavailable) || !strings.Contains(err.Error(), "above the limit") {
		t.Errorf("got %v, want ErrUnavailable for an answer above the limit", err)
	}
}

// TestTimeout: a service that does not answer within the timeout, or
// stops in the middle of its body, is a failure when the timeout ends
// (not when the service gives up).
func TestTimeout(t *testing.T) {
	t.Run("no answer", func(t *testing.T) {
		f := newFixture(t, time.Minute, 200*time.Millisecond)
		f.svc.mu.Lock()
		f.svc.block = make(chan struct{})
		f.svc.mu.Unlock()
		start := time.Now()
		_, err := f.client.Permissions(f.ctx, alice)
		if !errors.Is(err, shared.ErrUnavailable) || !strings.Contains(err.Error(), "no answer within the timeout") {
			t.Errorf("got %v, want ErrUnavailable: no answer within the timeout", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %s, want about the 200 ms timeout", d)
		}
	})
	t.Run("stalled body", func(t *testing.T) {
		f := newFixture(t, time.Minute, 200*time.Millisecond)
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "40")
			_, _ = io.WriteString(w, `{"permissions":[`)
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(release)
		f.client.o.URL = srv.URL
		_, err := f.client.Permissions(f.ctx, alice)
		if !errors.Is(err, shared.ErrUnavailable) || !strings.Contains(err.Error(), "timeout") {
			t.Errorf("got %v, want ErrUnavailable: no answer within the timeout", err)
		}
	})
}

// TestCache: an answer is kept per (user, client) for its max-age (less
// Age), at most MaxCache; no-store, no-cache, no max-age or MaxCache 0
// keep nothing, and max-age=0 makes the next question see a change.
func TestCache(t *testing.T) {
	t.Run("max-age under the cap", func(t *testing.T) {
		f := newFixture(t, time.Minute, 2*time.Second)
		f.svc.answer(200, `{"permissions":["REPO_WRITE"]}`, "Cache-Control", "private, max-age=30")
		f.ask(t, alice)
		f.svc.answer(200, `{"permissions":["REPO_READ"]}`)
		f.clock.Add(29 * time.Second)
		if got := f.ask(t, alice); !slices.Equal(got, []string{"REPO_WRITE"}) || f.svc.count() != 1 {
			t.Errorf("at 29 s: got %v after %d requests, want the kept [REPO_WRITE] after 1", got, f.svc.count())
		}
		// Another client of the same user, another user of the same client:
		// asked afresh.
		other := alice
		other.ClientID = "client-2"
		f.ask(t, other)
		other = alice
		other.Sub = "uid-bob"
		f.ask(t, other)
		if f.svc.count() != 3 {
			t.Errorf("got %d requests, want 3 (the cache is per user and client)", f.svc.count())
		}
		f.clock.Add(time.Second)
		if got := f.ask(t, alice); !slices.Equal(got, []string{"REPO_READ"}) || f.svc.count() != 4 {
			t.Errorf("at 30 s: got %v after %d requests, want the new [REPO_READ] after 4", got, f.svc.count())
		}
	})
	t.Run("max-age over the cap", func(t *testing.T) {
		f := newFixture(t, time.Minute, 2*time.Second)
		f.svc.answer(200, `{"permissions":["REPO_WRITE"]}`, "Cache-Control", "max-age=3600")
		f.ask(t, alice)
		f.clock.Add(59 * time.Second)
		f.ask(t, alice)
		if f.svc.count() != 1 {
			t.Errorf("at 59 s: got %d requests, want 1", f.svc.count())
		}
		f.clock.Add(time.Second)
		f.ask(t, alice)
		if f.svc.count() != 2 {
			t.Errorf("at 60 s (PERMISSIONS_CACHE): got %d requests, want 2", f.svc.count())
		}
	})
	t.Run("Age", func(t *testing.T) {
		f := newFixture(t, time.Minute, 2*time.Second)
		f.svc.answer(200, `{"permissions":["REPO_WRITE"]}`, "Cache-Control", "max-age=30", "Age", "20")
		f.ask(t, alice)
		f.clock.Add(9 * time.Second)
		f.ask(t, alice)
		f.clock.Add(time.Second)
		f.ask(t, alice)
		if f.svc.count() != 2 {
			t.Errorf("got %d requests, want 2 (kept for max-age 30 less Age 20)", f.svc.count())
		}
	})
	for _, cc := range []string{"", "max-age=0", "no-store", "no-cache, max-age=60", "max-age=60, no-store", "max-age=x", "max-age=60, max-age=30", "public"} {
		t.Run("Cache-Control "+cc, func(t *testing.T) {
			f := newFixture(t, time.Minute, 2*time.Second)
			f.svc.answer(200, `{"permissions":["REPO_WRITE"]}`, "Cache-Control", cc)
			f.ask(t, alice)
			f.svc.answer(200, `{"permissions":["REPO_READ"]}`, "Cache-Control", cc)
			if got := f.ask(t, alice); !slices.Equal(got, []string{"REPO_READ"}) || f.svc.count() != 2 {
				t.Errorf("got %v after %d requests, want the changed [REPO_READ] after 2 (nothing kept)", got, f.svc.count())
			}
		})
	}
	t.Run("PERMISSIONS_CACHE 0", func(t *testing.T) {
		f := newFixture(t, 0, 2*time.Second)
		f.svc.answer(200, `{"permissions":["REPO_WRITE"]}`, "Cache-Control", "max-age=300")
		f.ask(t, alice)
		f.ask(t, alice)
		if f.svc.count() != 2 {
			t.Errorf("got %d requests, want 2 (no cache)", f.svc.count())
		}
	})
	t.Run("kept answers are copies", func(t *testing.T) {
		f := newFixture(t, time.Minute, 2*time.Second)
		f.svc.answer(200, `{"permissions":["REPO_WRITE"]}`, "Cache-Control", "max-age=60")
		got := f.ask(t, alice)
		got[0] = "SYSTEM_ADMIN"
		if again := f.ask(t, alice); !slices.Equal(again, []string{"REPO_WRITE"}) {
			t.Errorf("got %v, want [REPO_WRITE]: a caller's change must not reach the cache", again)
		}
	})
}

// TestDialLoopbackOnly: with a plain-http URL the dialer connects only to
// loopback addresses, whatever the name resolved to (checked on the
// resolved address: no connection is attempted here).
func TestDialLoopbackOnly(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:80": true, "127.1.2.3:8080": true, "[::1]:443": true, "[::ffff:127.0.0.1]:80": true,
		"10.0.0.1:80": false, "192.168.1.1:80": false, "169.254.169.254:80": false, "[fd00::1]:80": false,
		"[::]:80": false, "0.0.0.0:80": false, "93.184.216.34:80": false, "localhost:80": false, "garbage": false,
	} {
		err := dialLoopbackOnly("tcp", addr, nil)
		if (err == nil) != ok {
			t.Errorf("%s: got %v, want allowed %v", addr, err, ok)
		}
	}
	// And it is in the path: a plain-http URL on localhost reaches the
	// service through the hardened transport.
	signer, _ := testSigner()
	svc := newService(t)
	port := svc.srv.URL[strings.LastIndex(svc.srv.URL, ":")+1:]
	c, err := New(Options{Issuer: testIssuer, URL: "http://localhost:" + port + "/p", Timeout: 2 * time.Second,
		Catalog: shared.DefaultCatalog(), Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Permissions(context.Background(), alice); err != nil {
		t.Errorf("http://localhost: got %v, want an answer", err)
	}
	if tr, ok := c.client.Transport.(*http.Transport); !ok || tr.Proxy != nil {
		t.Error("the transport may use a proxy from the environment; want none")
	}
}

// TestNoRedirectFollowed: a redirect is a failure, and its target is never
// asked (the signed request goes nowhere else).
func TestNoRedirectFollowed(t *testing.T) {
	f := newFixture(t, 0, 2*time.Second)
	var hit sync.Mutex
	hits := 0
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit.Lock()
		hits++
		hit.Unlock()
		_, _ = io.WriteString(w, `{"permissions":["SYSTEM_ADMIN"]}`)
	}))
	defer target.Close()
	for _, status := range []int{301, 302, 303, 307, 308} {
		f.svc.answer(status, "", "Location", target.URL)
		if _, err := f.client.Permissions(f.ctx, alice); !errors.Is(err, shared.ErrUnavailable) {
			t.Errorf("%d: got %v, want ErrUnavailable", status, err)
		}
	}
	hit.Lock()
	defer hit.Unlock()
	if hits != 0 {
		t.Errorf("the redirect target was asked %d times, want 0", hits)
	}
}

func TestNewRefuses(t *testing.T) {
	signer, _ := testSigner()
	good := Options{Issuer: testIssuer, URL: "https://perms.example.com/p", Timeout: time.Second, Catalog: shared.DefaultCatalog(), Signer: signer}
	for name, mod := range map[string]func(*Options){
		"no issuer":      func(o *Options) { o.Issuer = "" },
		"no catalog":     func(o *Options) { o.Catalog = nil },
		"no signer":      func(o *Options) { o.Signer = nil },
		"no timeout":     func(o *Options) { o.Timeout = 0 },
		"negative cache": func(o *Options) { o.MaxCache = -time.Second },
		"relative URL":   func(o *Options) { o.URL = "/p" },
		"ftp URL":        func(o *Options) { o.URL = "ftp://perms.example.com/p" },
	} {
		o := good
		mod(&o)
		if _, err := New(o); err == nil {
			t.Errorf("%s: got nil, want an error", name)
		}
	}
	c, err := New(good)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Permissions(context.Background(), Request{ClientID: "c"}); err == nil {
		t.Error("a request without sub: got nil, want an error")
	}
}
