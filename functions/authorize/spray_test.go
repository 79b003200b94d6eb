package authorize

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/throttle"
)

// countingStore counts the users looked up for a password check: one per
// check (an unknown username is a lookup and a dummy verification).
type countingStore struct {
	Store
	lookups atomic.Int64
}

func (c *countingStore) GetUserByName(ctx context.Context, username string) (store.User, error) {
	c.lookups.Add(1)
	return c.Store.GetUserByName(ctx, username)
}

// countChecks makes e's handler count its password checks.
func countChecks(e *env) *countingStore {
	c := &countingStore{Store: e.h.store}
	e.h.store = c
	return c
}

// signInFrom posts the login form as if from remote (a RemoteAddr: what
// API Gateway's adapter or the socket gives) with the extra header lines
// (name, value, ...), and returns the status and the page's message.
func signInFrom(t *testing.T, e *env, remote, username, pw string, header ...string) (int, string) {
	t.Helper()
	form := url.Values{"csrf": {"tok"}, "return_to": {accountPath}, "username": {username}, "password": {pw}}
	r := httptest.NewRequest(http.MethodPost, "/oauth2/login", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.AddCookie(&http.Cookie{Name: e.h.cookies.LoginCSRF, Value: "tok"})
	r.RemoteAddr = remote
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w.Code, errorText(t, &response{status: w.Code, body: w.Body.String()})
}

// sprayUsers is the number of usernames a password-spraying test tries,
// with one password each, from one source.
const sprayUsers = 40

// TestSpraySource: 40 usernames with one password from one source get
// only the per-source limit's checks; the rest fail with the usual message
// and no check; another source is unaffected, and signs in.
func TestSpraySource(t *testing.T) { testSpraySource(t, newEnv) }

func testSpraySource(t *testing.T, mk mkEnv) {
	e := mk(t)
	c := countChecks(e)
	for i := range sprayUsers {
		status, msg := signInFrom(t, e, "203.0.113.7", fmt.Sprintf("user%02d", i), "Summer2026!")
		if status != http.StatusOK || msg != msgLoginFailed {
			t.Fatalf("attempt %d: got %d %q, want 200 %q", i+1, status, msg, msgLoginFailed)
		}
	}
	if got := c.lookups.Load(); got != throttle.MaxSourceFailures {
		t.Errorf("%d usernames from one source: got %d password checks, want %d (the per-source limit)", sprayUsers, got, throttle.MaxSourceFailures)
	}
	// The right password from the throttled source fails like a wrong one.
	if status, msg := signInFrom(t, e, "203.0.113.7:4242", "alice", alicePass); status != http.StatusOK || msg != msgLoginFailed {
		t.Errorf("right password from the throttled source: got %d %q, want 200 %q", status, msg, msgLoginFailed)
	}
	if status, _ := signInFrom(t, e, "198.51.100.20", "alice", alicePass); status != http.StatusSeeOther {
		t.Errorf("right password from another source: got %d, want 303 (signed in)", status)
	}
}

// TestSprayIPv6Prefix: the addresses of one IPv6 /64 are one source; the
// next /64 is another.
func TestSprayIPv6Prefix(t *testing.T) { testSprayIPv6Prefix(t, newEnv) }

func testSprayIPv6Prefix(t *testing.T, mk mkEnv) {
	e := mk(t)
	c := countChecks(e)
	for i := range sprayUsers {
		// API Gateway's sourceIp has no port; a socket's has one.
		remote := fmt.Sprintf("2001:db8:5:6:%x::%x", i, i+1)
		if i%2 == 1 {
			remote = "[" + remote + "]:443"
		}
		signInFrom(t, e, remote, fmt.Sprintf("user%02d", i), "Summer2026!")
	}
	if got := c.lookups.Load(); got != throttle.MaxSourceFailures {
		t.Errorf("%d usernames from one /64: got %d password checks, want %d", sprayUsers, got, throttle.MaxSourceFailures)
	}
	if status, _ := signInFrom(t, e, "2001:db8:5:7::1", "alice", alicePass); status != http.StatusSeeOther {
		t.Errorf("right password from the next /64: got %d, want 303 (signed in)", status)
	}
}

// TestSprayViewerAddress: CloudFront-Viewer-Address is ignored unless the
// configuration trusts it (and X-Forwarded-For always is): a client that
// varies it spraying from one address gets the per-source limit.
func TestSprayViewerAddress(t *testing.T) { testSprayViewerAddress(t, newEnv) }

func testSprayViewerAddress(t *testing.T, mk mkEnv) {
	e := mk(t)
	c := countChecks(e)
	for i := range sprayUsers {
		signInFrom(t, e, "203.0.113.7", fmt.Sprintf("user%02d", i), "Summer2026!",
			"CloudFront-Viewer-Address", fmt.Sprintf("198.51.100.%d:1234", i),
			"X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i))
	}
	if got := c.lookups.Load(); got != throttle.MaxSourceFailures {
		t.Errorf("%d usernames from one address with varied CloudFront-Viewer-Address: got %d password checks, want %d", sprayUsers, got, throttle.MaxSourceFailures)
	}

	// Trusted (TRUST_CLOUDFRONT_VIEWER_ADDRESS: the API is reachable
	// solely through CloudFront): each viewer is its own source, and the
	// shared edge address is not one.
	e = mk(t, func(c *config.Config) { c.TrustCloudFrontViewerAddress = true })
	c = countChecks(e)
	for i := range sprayUsers {
		signInFrom(t, e, "203.0.113.7", fmt.Sprintf("user%02d", i), "Summer2026!",
			"CloudFront-Viewer-Address", fmt.Sprintf("198.51.100.%d:1234", i))
	}
	if got := c.lookups.Load(); got != sprayUsers {
		t.Errorf("%d viewers behind one CloudFront address, trusted: got %d password checks, want %d", sprayUsers, got, sprayUsers)
	}
	// One viewer over its limit, behind the same edge address as before.
	for i := range throttle.MaxSourceFailures {
		signInFrom(t, e, "203.0.113.7", fmt.Sprintf("other%02d", i), "Summer2026!", "CloudFront-Viewer-Address", "2001:db8:9:9::1:5555")
	}
	if status, _ := signInFrom(t, e, "203.0.113.7", "alice", alicePass, "CloudFront-Viewer-Address", "2001:db8:9:9:ffff::2:5556"); status != http.StatusOK {
		t.Errorf("right password from a viewer /64 over its limit: got %d, want 200 (refused)", status)
	}
	if status, _ := signInFrom(t, e, "203.0.113.7", "alice", alicePass, "CloudFront-Viewer-Address", "198.51.100.200:1"); status != http.StatusSeeOther {
		t.Errorf("right password from another viewer: got %d, want 303 (signed in)", status)
	}
}

// sleepRecorder records the sign-in slow-downs the handler asks for and
// returns at once: tests assert the delay asked for, never a time measured.
type sleepRecorder struct {
	mu  sync.Mutex
	got []time.Duration
}

func (s *sleepRecorder) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, d)
	return nil
}

func (s *sleepRecorder) asked() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

// TestSprayGlobal: past the global threshold of failed attempts (from
// sources each under its own limit), every sign-in is slowed down, and the
// right password still signs in; a wrong one still fails.
func TestSprayGlobal(t *testing.T) { testSprayGlobal(t, newEnv) }

func testSprayGlobal(t *testing.T, mk mkEnv) {
	e := mk(t)
	if status, _ := signInFrom(t, e, "192.0.2.1", "alice", alicePass); status != http.StatusSeeOther || len(e.sleeps.asked()) != 0 {
		t.Fatalf("below the threshold: got %d and slow-downs %v, want 303 and none", status, e.sleeps.asked())
	}
	// Failures from elsewhere fill the window (as many sources would).
	for range throttle.GlobalThreshold {
		if _, _, err := e.store.ReserveAttempt(context.Background(), throttle.GlobalCounter, 0, throttle.GlobalWindow, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if status, msg := signInFrom(t, e, "192.0.2.2", "alice", "wrong"); status != http.StatusOK || msg != msgLoginFailed {
		t.Errorf("a wrong password past the threshold: got %d %q, want 200 %q", status, msg, msgLoginFailed)
	}
	if status, _ := signInFrom(t, e, "192.0.2.3", "alice", alicePass); status != http.StatusSeeOther {
		t.Errorf("the right password past the threshold: got %d, want 303 (signed in, slowly)", status)
	}
	want := []time.Duration{throttle.GlobalDelay, throttle.GlobalDelay}
	if got := e.sleeps.asked(); !slices.Equal(got, want) {
		t.Errorf("slow-downs asked for: got %v, want %v", got, want)
	}
	// The window passes: no slow-down.
	e.clock.Add(throttle.GlobalWindow)
	if status, _ := signInFrom(t, e, "192.0.2.4", "alice", alicePass); status != http.StatusSeeOther || len(e.sleeps.asked()) != len(want) {
		t.Errorf("in the next window: got %d and slow-downs %v, want 303 and no new one", status, e.sleeps.asked())
	}
}
