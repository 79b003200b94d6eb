package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/clocktest"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/logtest"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
	"github.com/applinks/applinks/shared/web"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// testToken is the admin token of the test handlers.
const testToken = "test-admin-token-0123456789"

// fakeKeys records the rotations and key checks asked of it.
type fakeKeys struct {
	mu      sync.Mutex
	keeps   []time.Duration
	algs    []string // of each rotation, as asked
	ensured []string // EnsureKey's algorithms, in order
	has     map[string]bool
	err     error
}

func (k *fakeKeys) Rotate(ctx context.Context, alg string, keep time.Duration) (signing.Rotation, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.err != nil {
		return signing.Rotation{}, k.err
	}
	k.keeps = append(k.keeps, keep)
	k.algs = append(k.algs, alg)
	n := len(k.keeps)
	if alg == "" {
		alg = signing.RS256
	}
	return signing.Rotation{Alg: alg, KeyID: fmt.Sprintf("kid-%d", n), PreviousKeyID: fmt.Sprintf("kid-%d", n-1),
		ActiveFrom: time.Date(2026, 11, 28, 17, 10, n, 0, time.UTC), PreviousAccessAlg: signing.RS256}, nil
}

// EnsureKey stages a key of alg the first time it is asked for one.
func (k *fakeKeys) EnsureKey(ctx context.Context, alg string) (signing.Rotation, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.err != nil {
		return signing.Rotation{}, false, k.err
	}
	k.ensured = append(k.ensured, alg)
	if k.has[alg] {
		return signing.Rotation{}, false, nil
	}
	if k.has == nil {
		k.has = map[string]bool{}
	}
	k.has[alg] = true
	return signing.Rotation{Alg: alg, KeyID: "kid-" + alg, ActiveFrom: time.Date(2026, 11, 28, 17, 10, 0, 0, time.UTC)}, true, nil
}

// errStore fails every call with err: it proves how store failures are
// answered, without an engine.
type errStore struct{ err error }

func (s errStore) CreateLink(context.Context, store.NewLink, time.Time) (store.Link, string, error) {
	return store.Link{}, "", s.err
}
func (s errStore) GetLink(context.Context, string) (store.Link, error) { return store.Link{}, s.err }
func (s errStore) LastUses(context.Context, []store.LastUseRef) (map[store.LastUseRef]time.Time, error) {
	return nil, s.err
}
func (s errStore) RecordEvent(context.Context, string, []store.EventSubject, store.Event, string) error {
	return s.err
}
func (s errStore) ListEvents(context.Context, string, store.EventSubject, int, string, time.Time) ([]store.Event, string, error) {
	return nil, "", s.err
}
func (s errStore) ListLinks(context.Context, int, string) ([]store.Link, string, error) {
	return nil, "", s.err
}
func (s errStore) UpdateLink(context.Context, string, store.LinkUpdate, time.Time) (store.Link, error) {
	return store.Link{}, s.err
}
func (s errStore) DeleteLink(context.Context, string, time.Time) error { return s.err }
func (s errStore) GetLinkSecret(context.Context, string) (store.LinkSecret, error) {
	return store.LinkSecret{}, s.err
}
func (s errStore) RotateLinkSecret(context.Context, string, string, time.Duration, time.Time) (store.Link, error) {
	return store.Link{}, s.err
}
func (s errStore) ListGrantsByLink(context.Context, string, int, string) ([]store.Grant, string, error) {
	return nil, "", s.err
}
func (s errStore) CreateUser(context.Context, store.User) error                      { return s.err }
func (s errStore) RevokeUserGrants(context.Context, string, string, time.Time) error { return s.err }
func (s errStore) GetUserByName(context.Context, string) (store.User, error) {
	return store.User{}, s.err
}
func (s errStore) GetUser(context.Context, string) (store.User, error) { return store.User{}, s.err }
func (s errStore) GetGrant(context.Context, string, string) (store.Grant, error) {
	return store.Grant{}, s.err
}

func (s errStore) RevokeGrant(context.Context, string, string, string, time.Time) (store.Grant, error) {
	return store.Grant{}, s.err
}
func (s errStore) UpdateUser(context.Context, string, store.UserUpdate, time.Time) (store.User, error) {
	return store.User{}, s.err
}
func (s errStore) DeleteUser(context.Context, string, time.Time) error { return s.err }
func (s errStore) DeleteUserUnlessAdmin(context.Context, string, time.Time) error {
	return s.err
}
func (s errStore) ListUsers(context.Context, int, string) ([]store.User, string, error) {
	return nil, "", s.err
}
func (s errStore) CreateConsoleSession(context.Context, store.ConsoleSession, time.Duration) error {
	return s.err
}
func (s errStore) GetConsoleSession(context.Context, string, time.Duration, time.Time) (store.ConsoleSession, error) {
	return store.ConsoleSession{}, s.err
}
func (s errStore) TouchConsoleSession(context.Context, string, bool, time.Duration, time.Time) (store.ConsoleSession, error) {
	return store.ConsoleSession{}, s.err
}
func (s errStore) DeleteConsoleSession(context.Context, string) error { return s.err }
func (s errStore) ReserveLoginAttempt(context.Context, string, int, time.Duration, time.Time) (bool, error) {
	return false, s.err
}
func (s errStore) ClearLoginFailures(context.Context, string) error { return s.err }
func (s errStore) LoginLockedUntil(context.Context, string, int, time.Time) (time.Time, error) {
	return time.Time{}, s.err
}
func (s errStore) GetSigningKeys(context.Context) ([]byte, error) { return nil, s.err }

func (s errStore) ReserveAttempt(context.Context, string, int64, time.Duration, time.Time) (store.Counter, bool, error) {
	return store.Counter{}, false, s.err
}
func (s errStore) ReleaseAttempt(context.Context, string, store.Counter) error { return s.err }

func (s errStore) GetPasskeys(context.Context, string) ([]store.Passkey, error) { return nil, s.err }
func (s errStore) AddPasskey(context.Context, store.Passkey, int) error         { return s.err }
func (s errStore) UsePasskey(context.Context, store.Passkey, time.Time) error   { return s.err }
func (s errStore) RemovePasskey(context.Context, string, string) error          { return s.err }
func (s errStore) RemovePasskeys(context.Context, string, time.Time) error      { return s.err }
func (s errStore) CreatePasskeyEnrollment(context.Context, store.PasskeyEnrollment) error {
	return s.err
}
func (s errStore) GetPasskeyEnrollment(context.Context, string, time.Time) (store.PasskeyEnrollment, error) {
	return store.PasskeyEnrollment{}, s.err
}
func (s errStore) EnrollPasskey(context.Context, string, store.Passkey, int, time.Time) error {
	return s.err
}
func (s errStore) PutPasskeyCeremony(context.Context, store.PasskeyCeremony) error { return s.err }
func (s errStore) GetPasskeyCeremony(context.Context, string, time.Time) (store.PasskeyCeremony, error) {
	return store.PasskeyCeremony{}, s.err
}
func (s errStore) TakePasskeyCeremony(context.Context, string, string, time.Time) (store.PasskeyCeremony, error) {
	return store.PasskeyCeremony{}, s.err
}

var _ Store = errStore{}

// env is a Handler under test, wrapped in web.Middleware so that its log
// lines (audit events included) are captured.
type env struct {
	t     *testing.T
	h     http.Handler
	st    Store
	keys  *fakeKeys
	clock *clocktest.Clock
	cfg   config.Config
	logs  logtest.Buffer
}

func testConfig(t *testing.T) config.Config {
	t.Helper()
	cfg, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatalf("config.FromEnv: %v", err)
	}
	return cfg
}

// newEnv builds a handler on st authenticated by auth (BearerToken(testToken)
// when nil).
func newEnv(t *testing.T, st Store, auth Authenticator) *env {
	t.Helper()
	if auth == nil {
		auth = BearerToken(testToken)
	}
	e := &env{t: t, st: st, keys: &fakeKeys{}, clock: clocktest.New(time.Now().UTC().Truncate(time.Second)), cfg: testConfig(t)}
	h, err := New(Options{Config: e.cfg, Store: st, Keys: e.keys, Auth: auth, Now: e.clock.Now})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	log := slog.New(slog.NewJSONHandler(&e.logs, nil))
	e.h = web.Middleware(h, log, nil)
	return e
}

// newStoreEnv is newEnv on a fresh store in kumo.
func newStoreEnv(t *testing.T) *env {
	t.Helper()
	return newEnv(t, storetest.Kumo(t), nil)
}

// logText returns everything logged so far.
func (e *env) logText() string { return e.logs.String() }

// audits returns the audit events logged so far, each as its decoded line.
func (e *env) audits(event string) []map[string]any {
	e.t.Helper()
	out, err := e.logs.Audits(event)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// req builds a request with the admin token; header pairs follow body.
func req(method, path, body string, header ...string) *http.Request {
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, path, nil)
	} else {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	}
	r.Header.Set("Authorization", "Bearer "+testToken)
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			r.Header.Del(header[i])
		} else {
			r.Header.Set(header[i], header[i+1])
		}
	}
	return r
}

// serve runs r through the handler.
func (e *env) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// do runs a request and checks its status, returning the decoded body (nil
// for an empty one).
func (e *env) do(wantStatus int, method, path, body string, header ...string) map[string]any {
	e.t.Helper()
	w := e.serve(req(method, path, body, header...))
	if w.Code != wantStatus {
		e.t.Fatalf("%s %s: got status %d, want %d; body %s", method, path, w.Code, wantStatus, w.Body.String())
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		e.t.Errorf("%s %s: got Cache-Control %q, want no-store", method, path, cc)
	}
	if w.Body.Len() == 0 {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		e.t.Fatalf("%s %s: body is not a JSON object: %q", method, path, w.Body.String())
	}
	return m
}

// checkError checks an error body's code and that its message contains
// want.
func checkError(t *testing.T, body map[string]any, code, want string) {
	t.Helper()
	if body["error"] != code {
		t.Errorf("got error %v, want %q (body %v)", body["error"], code, body)
	}
	msg, _ := body["message"].(string)
	if msg == "" || !strings.Contains(msg, want) {
		t.Errorf("got message %q, want it to contain %q", msg, want)
	}
}

func TestNewRequiresDependencies(t *testing.T) {
	cfg := testConfig(t)
	noCatalog := cfg
	noCatalog.Catalog = nil
	noTTL := cfg
	noTTL.AccessTokenTTL = 0
	full := Options{Config: cfg, Store: errStore{}, Keys: &fakeKeys{}, Auth: BearerToken("x")}
	tests := []struct {
		name   string
		change func(o *Options)
		want   string
	}{
		{"no store", func(o *Options) { o.Store = nil }, "store"},
		{"no keys", func(o *Options) { o.Keys = nil }, "signing keys"},
		{"no auth", func(o *Options) { o.Auth = nil }, "authenticator"},
		{"no catalog", func(o *Options) { o.Config = noCatalog }, "catalog"},
		{"no access token ttl", func(o *Options) { o.Config = noTTL }, "ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := full
			tt.change(&o)
			_, err := New(o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
	if _, err := New(full); err != nil {
		t.Errorf("got error %v with every dependency, want nil", err)
	}
}

func TestRouting(t *testing.T) {
	e := newEnv(t, errStore{err: fmt.Errorf("get: %w", shared.ErrNotFound)}, nil)
	tests := []struct {
		method, path string
		status       int
		allow        string
	}{
		{http.MethodPut, "/admin/links", 405, "GET, HEAD, POST"},
		{http.MethodDelete, "/admin/links", 405, "GET, HEAD, POST"},
		{http.MethodPost, "/admin/links/abc", 405, "GET, HEAD, PATCH, DELETE"},
		{http.MethodPut, "/admin/links/abc", 405, "GET, HEAD, PATCH, DELETE"},
		{http.MethodPost, "/admin/links/abc/credentials", 405, "GET, HEAD"},
		{http.MethodGet, "/admin/links/abc/credentials/rotate", 405, "POST"},
		{http.MethodDelete, "/admin/links/abc/grants", 405, "GET, HEAD"},
		{http.MethodGet, "/admin/users", 405, "POST"},
		{http.MethodPost, "/admin/users/alice", 405, "GET, HEAD, PATCH, DELETE"},
		{http.MethodGet, "/admin/signing-keys/rotate", 405, "POST"},
		{http.MethodGet, "/admin/", 404, ""},
		{http.MethodGet, "/admin/nothing", 404, ""},
		{http.MethodGet, "/admin/links/", 404, ""},
		{http.MethodGet, "/admin/links//credentials", 404, ""},
		{http.MethodGet, "/admin/links/abc/secrets", 404, ""},
		{http.MethodGet, "/admin/links/abc/credentials/rotate/now", 404, ""},
		{http.MethodGet, "/admin/users/alice/grants", 405, "DELETE"},
		{http.MethodGet, "/admin/users/alice/grants/x", 404, ""},
		{http.MethodGet, "/other", 404, ""},
		// The store says not found: routed to a handler.
		{http.MethodGet, "/admin/links/abc", 404, ""},
		{http.MethodGet, "/admin/users/alice", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			w := e.serve(req(tt.method, tt.path, ""))
			if w.Code != tt.status {
				t.Fatalf("got status %d, want %d; body %s", w.Code, tt.status, w.Body.String())
			}
			if got := w.Header().Get("Allow"); got != tt.allow {
				t.Errorf("got Allow %q, want %q", got, tt.allow)
			}
			var b errorBody
			if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil || b.Error == "" || b.Message == "" {
				t.Errorf("got body %q, want a JSON error with error and message", w.Body.String())
			}
			if tt.status == 405 && b.Error != "method_not_allowed" {
				t.Errorf("got error %q, want method_not_allowed", b.Error)
			}
			if tt.status == 404 && b.Error != "not_found" {
				t.Errorf("got error %q, want not_found", b.Error)
			}
		})
	}
}

func TestStoreFailures(t *testing.T) {
	const internal = "dynamodb: table applinks is on fire"
	tests := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"unavailable", fmt.Errorf("%s: %w", internal, shared.ErrUnavailable), 503, "unavailable"},
		{"internal", errors.New(internal), 500, "internal"},
		{"not found", fmt.Errorf("%s: %w", internal, shared.ErrNotFound), 404, "not_found"},
		{"conflict", fmt.Errorf("%s: %w", internal, shared.ErrConflict), 409, "conflict"},
	}
	calls := []struct{ method, path, body string }{
		{http.MethodGet, "/admin/links", ""},
		{http.MethodGet, "/admin/links/abc", ""},
		{http.MethodPatch, "/admin/links/abc", `{"name":"x"}`},
		{http.MethodDelete, "/admin/links/abc", ""},
		{http.MethodGet, "/admin/links/abc/credentials", ""},
		{http.MethodPost, "/admin/links/abc/credentials/rotate", ""},
		{http.MethodGet, "/admin/links/abc/grants", ""},
		{http.MethodGet, "/admin/users/alice", ""},
		{http.MethodPatch, "/admin/users/alice", `{"disabled":true}`},
		{http.MethodDelete, "/admin/users/alice", ""},
	}
	for _, tt := range tests {
		for _, c := range calls {
			t.Run(tt.name+" "+c.method+" "+c.path, func(t *testing.T) {
				e := newEnv(t, errStore{err: tt.err}, nil)
				body := e.do(tt.status, c.method, c.path, c.body)
				if body["error"] != tt.code {
					t.Errorf("got error %v, want %q", body["error"], tt.code)
				}
				if msg, _ := body["message"].(string); strings.Contains(msg, "fire") {
					t.Errorf("got message %q, want no internal detail", msg)
				}
				if tt.status == 500 && !strings.Contains(e.logText(), internal) {
					t.Errorf("got logs %q, want the internal error logged", e.logText())
				}
			})
		}
	}
	t.Run("create link unavailable", func(t *testing.T) {
		e := newEnv(t, errStore{err: fmt.Errorf("x: %w", shared.ErrUnavailable)}, nil)
		e.do(503, http.MethodPost, "/admin/links", `{"name":"a","redirect_uris":["https://a.example/cb"]}`)
	})
	t.Run("create user internal", func(t *testing.T) {
		e := newEnv(t, errStore{err: errors.New(internal)}, nil)
		body := e.do(500, http.MethodPost, "/admin/users", `{"username":"bob","password":"correct horse"}`)
		checkError(t, body, "internal", "could not complete")
	})
}

func TestMalformedRequests(t *testing.T) {
	e := newEnv(t, errStore{err: errors.New("the store must not be reached")}, nil)
	big := `{"name":"` + strings.Repeat("x", web.MaxBodyBytes) + `"}`
	tests := []struct {
		name, method, path, body, contentType string
		status                                int
		code, msg                             string
	}{
		{"syntax", "POST", "/admin/links", `{"name":`, "", 400, "invalid_request", "JSON"},
		{"not an object", "POST", "/admin/links", `["a"]`, "", 400, "invalid_request", "JSON object"},
		{"unknown field", "POST", "/admin/links", `{"name":"a","secret":"x"}`, "", 400, "invalid_request", `unknown field "secret"`},
		{"wrong type", "POST", "/admin/links", `{"name":5}`, "", 400, "invalid_request", `"name"`},
		{"trailing data", "POST", "/admin/links", `{"name":"a"} {}`, "", 400, "invalid_request", "trailing"},
		{"key differing by case", "POST", "/admin/links", `{"name":"x","NAME":"y","redirect_uris":["https://a.example/cb"]}`, "", 400, "invalid_request", `key "NAME" differs from the field "name" only by letter case`},
		{"repeated key", "POST", "/admin/links", `{"name":"x","name":"y","redirect_uris":["https://a.example/cb"]}`, "", 400, "invalid_request", `key "name" is repeated`},
		{"patch key differing by case", "PATCH", "/admin/links/abc", `{"Enabled":false}`, "", 400, "invalid_request", `key "Enabled"`},
		{"user repeated key", "POST", "/admin/users", `{"username":"a","password":"correct horse","permissions":[],"permissions":["SYSTEM_ADMIN"]}`, "", 400, "invalid_request", `key "permissions" is repeated`},
		{"rotate key differing by case", "POST", "/admin/links/abc/credentials/rotate", `{"Overlap_Seconds":5}`, "", 400, "invalid_request", `key "Overlap_Seconds"`},
		{"empty body", "POST", "/admin/links", "", "", 400, "invalid_request", "empty"},
		{"content type", "POST", "/admin/links", `{"name":"a"}`, "text/plain", 400, "invalid_request", "application/json"},
		{"too large", "POST", "/admin/links", big, "", 413, "payload_too_large", "larger than"},
		{"too large patch", "PATCH", "/admin/links/abc", big, "", 413, "payload_too_large", "larger than"},
		{"too large rotate", "POST", "/admin/links/abc/credentials/rotate", big, "", 413, "payload_too_large", "larger than"},
		{"too large user", "POST", "/admin/users", big, "", 413, "payload_too_large", "larger than"},
		{"user syntax", "POST", "/admin/users", `{`, "", 400, "invalid_request", "JSON"},
		{"user unknown field", "POST", "/admin/users", `{"username":"a","role":"x"}`, "", 400, "invalid_request", `unknown field "role"`},
		{"user patch syntax", "PATCH", "/admin/users/alice", `nope`, "", 400, "invalid_request", "JSON"},
		{"rotate overlap type", "POST", "/admin/links/abc/credentials/rotate", `{"overlap_seconds":"1h"}`, "", 400, "invalid_request", "overlap_seconds"},
		{"rotate unknown field", "POST", "/admin/links/abc/credentials/rotate", `{"overlap":5}`, "", 400, "invalid_request", "unknown field"},
		{"signing key body", "POST", "/admin/signing-keys/rotate", `{"keep":5}`, "", 400, "invalid_request", "unknown field"},
		{"limit repeated", "GET", "/admin/links?limit=1&limit=2", "", "", 400, "invalid_request", "repeated"},
		{"limit zero", "GET", "/admin/links?limit=0", "", "", 422, "validation_failed", "limit: "},
		{"limit too big", "GET", "/admin/links?limit=101", "", "", 422, "validation_failed", "limit: "},
		{"limit not a number", "GET", "/admin/links?limit=ten", "", "", 422, "validation_failed", "limit: "},
		{"grants limit", "GET", "/admin/links/abc/grants?limit=-1", "", "", 422, "validation_failed", "limit: "},
		{"idempotency key too long", "POST", "/admin/links", `{}`, "", 400, "invalid_request", "Idempotency-Key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.contentType != "" {
				hdr = append(hdr, "Content-Type", tt.contentType)
			}
			if tt.name == "idempotency key too long" {
				hdr = append(hdr, "Idempotency-Key", strings.Repeat("k", MaxIdempotencyKey+1))
			}
			body := e.do(tt.status, tt.method, tt.path, tt.body, hdr...)
			checkError(t, body, tt.code, tt.msg)
		})
	}
	if strings.Contains(e.logText(), "the store must not be reached") {
		t.Errorf("a malformed request reached the store")
	}
}

func TestIdempotencyKey(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   string
		ok     bool
	}{
		{"absent", nil, "", true},
		{"simple", []string{"create-1"}, "create-1", true},
		{"printable with space", []string{"a b ~!"}, "a b ~!", true},
		{"longest", []string{strings.Repeat("k", MaxIdempotencyKey)}, strings.Repeat("k", MaxIdempotencyKey), true},
		{"empty", []string{""}, "", false},
		{"too long", []string{strings.Repeat("k", MaxIdempotencyKey+1)}, "", false},
		{"control", []string{"a\tb"}, "", false},
		{"non-ASCII", []string{"clé"}, "", false},
		{"repeated", []string{"a", "b"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/admin/links", nil)
			for _, v := range tt.values {
				r.Header.Add("Idempotency-Key", v)
			}
			got, err := idempotencyKey(r)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("got (%q, %v), want (%q, ok=%v)", got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestRotateSigningKey(t *testing.T) {
	e := newEnv(t, errStore{}, nil)
	body := e.do(200, http.MethodPost, "/admin/signing-keys/rotate", "")
	if body["rotated"] != true {
		t.Errorf("got body %v, want rotated: true", body)
	}
	e.do(200, http.MethodPost, "/admin/signing-keys/rotate", "{}")
	want := e.cfg.AccessTokenTTL + 5*time.Minute
	if len(e.keys.keeps) != 2 || e.keys.keeps[0] != want || e.keys.keeps[1] != want {
		t.Errorf("got rotations keeping %v, want two keeping %v", e.keys.keeps, want)
	}
	if a := e.audits("signing_key_rotated"); len(a) != 2 || a[0]["principal"] != tokenPrincipal ||
		a[0]["kid"] != "kid-1" || a[0]["previous_kid"] != "kid-0" || a[1]["kid"] != "kid-2" {
		t.Errorf("got audit events %v, want two by %q naming kid-1 (over kid-0), then kid-2", a, tokenPrincipal)
	}
	if body["kid"] != "kid-1" || body["active_from"] != "2026-11-28T17:10:01Z" {
		t.Errorf("got body %v, want the rotator's kid-1 and its active_from", body)
	}

	e.keys.err = fmt.Errorf("put signing keys: %w", shared.ErrUnavailable)
	checkError(t, e.do(503, http.MethodPost, "/admin/signing-keys/rotate", ""), "unavailable", "try again")
}

// TestRotateSigningKeyStaged rotates the key set on the store, through the
// admin function's Rotator and through the local runner's Keyring: the
// response tells which key signs from when, and a keyring reading the store
// (another instance) already publishes it.
func TestRotateSigningKeyStaged(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	clock := func() time.Time { return now }
	for name, open := range map[string]func(*store.Store) (KeyRotator, error){
		"rotator": func(st *store.Store) (KeyRotator, error) { return signing.NewRotator(st, signing.Options{Now: clock}) },
		"keyring": func(st *store.Store) (KeyRotator, error) { return signing.New(ctx, st, signing.Options{Now: clock}) },
	} {
		t.Run(name, func(t *testing.T) {
			st := storetest.Kumo(t)
			keys, err := open(st)
			if err != nil {
				t.Fatalf("open %s: %v", name, err)
			}
			h, err := New(Options{Config: testConfig(t), Store: st, Keys: keys, Auth: BearerToken(testToken), Now: clock})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			w := httptest.NewRecorder()
			web.Middleware(h, slog.New(slog.DiscardHandler), nil).ServeHTTP(w, req(http.MethodPost, "/admin/signing-keys/rotate", ""))
			if w.Code != http.StatusOK {
				t.Fatalf("got status %d, want 200; body %s", w.Code, w.Body.String())
			}
			var body map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("decode body %q: %v", w.Body.String(), err)
			}
			want := now.Add(10 * time.Minute).Format(time.RFC3339)
			kid, _ := body["kid"].(string)
			if body["rotated"] != true || body["active_from"] != want || kid == "" {
				t.Errorf("got body %v, want rotated true, a kid, active_from %s", body, want)
			}
			other, err := signing.New(ctx, st, signing.Options{Now: clock})
			if err != nil {
				t.Fatalf("signing.New: %v", err)
			}
			raw, err := other.JWKS(ctx)
			if err != nil {
				t.Fatalf("JWKS: %v", err)
			}
			var set struct {
				Keys []struct {
					KeyID string `json:"kid"`
				} `json:"keys"`
			}
			if err := json.Unmarshal(raw, &set); err != nil || len(set.Keys) != 3 || set.Keys[2].KeyID != kid {
				t.Errorf("JWKS after rotate: got %s (%v), want 3 keys (RS256, ES256, pending), the third %q", raw, err, kid)
			}

			// Rotating again while the key is pending is refused (issue
			// 13): replacing it would let an instance that read the set
			// sign with a key no longer published.
			w = httptest.NewRecorder()
			web.Middleware(h, slog.New(slog.DiscardHandler), nil).ServeHTTP(w, req(http.MethodPost, "/admin/signing-keys/rotate", ""))
			if w.Code != http.StatusConflict || w.Header().Get("Retry-After") != "600" {
				t.Errorf("second rotate: got %d with Retry-After %q, want 409 with 600", w.Code, w.Header().Get("Retry-After"))
			}
			var conflict map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &conflict); err != nil {
				t.Fatalf("decode body %q: %v", w.Body.String(), err)
			}
			checkError(t, conflict, "conflict", "pending: key "+kid+" starts signing at "+want)
			fresh, err := signing.New(ctx, st, signing.Options{Now: clock})
			if err != nil {
				t.Fatalf("signing.New: %v", err)
			}
			if again, err := fresh.JWKS(ctx); err != nil || !bytes.Equal(again, raw) {
				t.Errorf("JWKS after the refused rotate: got %s (%v), want it unchanged %s", again, err, raw)
			}
		})
	}
}
