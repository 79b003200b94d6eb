package throttle_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
	"github.com/applinks/applinks/shared/throttle"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

func request(remote string, header ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/oauth2/login", nil)
	r.RemoteAddr = remote
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	return r
}

// TestSource: the source key of a request is its IPv4 address (IPv4-mapped
// IPv6 included) or its IPv6 /64; from the connection, whatever form
// RemoteAddr takes; from CloudFront-Viewer-Address only when trusted and
// well formed; never from X-Forwarded-For.
func TestSource(t *testing.T) {
	const cf = throttle.ViewerAddressHeader
	tests := []struct {
		name   string
		trust  bool
		r      *http.Request
		source string
	}{
		{"API Gateway IPv4 (no port)", false, request("203.0.113.7"), "203.0.113.7"},
		{"socket IPv4", false, request("203.0.113.7:50123"), "203.0.113.7"},
		{"API Gateway IPv6 (no port)", false, request("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64"},
		{"socket IPv6", false, request("[2001:db8:1:2:ffff::9]:443"), "2001:db8:1:2::/64"},
		{"another /64", false, request("[2001:db8:1:3::1]:443"), "2001:db8:1:3::/64"},
		{"IPv4-mapped IPv6", false, request("[::ffff:198.51.100.1]:80"), "198.51.100.1"},
		{"IPv4-mapped IPv6 without port", false, request("::ffff:198.51.100.1"), "198.51.100.1"},
		{"zone dropped", false, request("[fe80::1%eth0]:5"), "fe80::/64"},
		{"empty", false, request(""), throttle.UnknownSource},
		{"not an address", false, request("pipe"), throttle.UnknownSource},
		{"X-Forwarded-For ignored", false, request("203.0.113.7", "X-Forwarded-For", "198.51.100.1"), "203.0.113.7"},
		{"X-Forwarded-For ignored when trusting CloudFront", true, request("203.0.113.7", "X-Forwarded-For", "198.51.100.1"), "203.0.113.7"},
		{"viewer address not trusted", false, request("203.0.113.7", cf, "198.51.100.10:46532"), "203.0.113.7"},
		{"viewer IPv4", true, request("203.0.113.7", cf, "198.51.100.10:46532"), "198.51.100.10"},
		{"viewer IPv6 unbracketed", true, request("203.0.113.7", cf, "2001:db8:a:b:c::1:46532"), "2001:db8:a:b::/64"},
		{"viewer IPv6 bracketed", true, request("203.0.113.7", cf, "[2001:db8:a:b::1]:46532"), "2001:db8:a:b::/64"},
		{"viewer IPv4-mapped", true, request("203.0.113.7", cf, "::ffff:192.0.2.5:1"), "192.0.2.5"},
		{"viewer with spaces", true, request("203.0.113.7", cf, " 198.51.100.10:1 "), "198.51.100.10"},
		{"viewer without port", true, request("203.0.113.7", cf, "198.51.100.10"), "203.0.113.7"},
		{"viewer IPv6 without port", true, request("203.0.113.7", cf, "2001:db8::1"), "203.0.113.7"},
		{"viewer port too large", true, request("203.0.113.7", cf, "198.51.100.10:65536"), "203.0.113.7"},
		{"viewer port not a number", true, request("203.0.113.7", cf, "198.51.100.10:+1"), "203.0.113.7"},
		{"viewer not an address", true, request("203.0.113.7", cf, "attacker:1"), "203.0.113.7"},
		{"viewer zone", true, request("203.0.113.7", cf, "[fe80::1%eth0]:1"), "203.0.113.7"},
		{"two viewer values", true, request("203.0.113.7", cf, "198.51.100.10:1", cf, "198.51.100.11:1"), "203.0.113.7"},
		{"viewer header absent", true, request("203.0.113.7"), "203.0.113.7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := throttle.New(nil, throttle.Options{TrustViewerAddress: tc.trust})
			if got := l.Source(tc.r); got != tc.source {
				t.Errorf("Source(RemoteAddr %q, %v): got %q, want %q", tc.r.RemoteAddr, tc.r.Header, got, tc.source)
			}
		})
	}
}

// TestDelay: nothing below the threshold, one GlobalDelay per multiple of
// it, at most MaxGlobalDelay.
func TestDelay(t *testing.T) {
	tests := []struct {
		count int64
		want  time.Duration
	}{
		{0, 0}, {1, 0}, {throttle.GlobalThreshold - 1, 0},
		{throttle.GlobalThreshold, time.Second}, {2*throttle.GlobalThreshold - 1, time.Second},
		{2 * throttle.GlobalThreshold, 2 * time.Second}, {3 * throttle.GlobalThreshold, 3 * time.Second},
		{100 * throttle.GlobalThreshold, throttle.MaxGlobalDelay}, {1 << 62, throttle.MaxGlobalDelay},
	}
	for _, tc := range tests {
		if got := throttle.Delay(tc.count); got != tc.want {
			t.Errorf("Delay(%d): got %s, want %s", tc.count, got, tc.want)
		}
	}
}

// sleeps records the delays asked for, without waiting.
type sleeps struct {
	mu  sync.Mutex
	got []time.Duration
	err error
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, d)
	return s.err
}

func (s *sleeps) asked() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.got...)
}

type env struct {
	t     *testing.T
	store *store.Store
	now   time.Time
	sleep *sleeps
	l     *throttle.Limiter
}

// newEnv is a Limiter on a fresh table in kumo, at a fixed time.
func newEnv(t *testing.T) *env {
	e := &env{t: t, store: storetest.Kumo(t), now: time.Now().UTC().Truncate(time.Second), sleep: &sleeps{}}
	e.l = throttle.New(e.store, throttle.Options{Now: func() time.Time { return e.now }, Sleep: e.sleep.sleep})
	return e
}

func (e *env) begin(remote, username string) *throttle.Attempt {
	e.t.Helper()
	a, err := e.l.Begin(request(remote), username)
	if err != nil {
		e.t.Fatalf("Begin(%s, %s): %v", remote, username, err)
	}
	return a
}

// TestLimiterPerSource: a source gets MaxSourceFailures attempts a window
// whatever the usernames, then is refused; other sources are not; a right
// password takes its attempt back.
func TestLimiterPerSource(t *testing.T) {
	e := newEnv(t)
	var last *throttle.Attempt
	for i := range throttle.MaxSourceFailures {
		last = e.begin("192.0.2.1", fmt.Sprintf("user%d", i))
		if !last.Allowed() {
			t.Fatalf("attempt %d of %d: refused by %s, want allowed", i+1, throttle.MaxSourceFailures, last.Refused)
		}
	}
	if a := e.begin("192.0.2.1:4444", "someone-else"); a.Refused != throttle.BySource {
		t.Errorf("attempt %d from one source: got refused %q, want %q", throttle.MaxSourceFailures+1, a.Refused, throttle.BySource)
	}
	if ok, _ := e.store.ReserveLoginAttempt(context.Background(), "someone-else", 1, time.Minute, e.now); !ok {
		t.Errorf("the username of an attempt the source's limit refused was counted; want it untouched")
	}
	if a := e.begin("192.0.2.2", "user0"); !a.Allowed() {
		t.Errorf("another source: refused by %s, want allowed", a.Refused)
	}
	if err := e.l.Succeeded(context.Background(), last); err != nil {
		t.Fatal(err)
	}
	if a := e.begin("192.0.2.1", "user-after-success"); !a.Allowed() {
		t.Errorf("after a right password from the source: refused by %s, want allowed (its attempt taken back)", a.Refused)
	}
	if a := e.begin("192.0.2.1", "user-after-success-2"); a.Allowed() {
		t.Errorf("a second attempt after one right password: allowed, want refused")
	}
	e.now = e.now.Add(throttle.SourceWindow)
	if a := e.begin("192.0.2.1", "next-window"); !a.Allowed() {
		t.Errorf("in the next window: refused by %s, want allowed", a.Refused)
	}
}

// TestLimiterPerUsername: the username limit still holds across sources,
// and a right password clears it.
func TestLimiterPerUsername(t *testing.T) {
	e := newEnv(t)
	var last *throttle.Attempt
	for i := range throttle.MaxUsernameFailures {
		if last = e.begin(fmt.Sprintf("198.51.100.%d", i), "alice"); !last.Allowed() {
			t.Fatalf("attempt %d: refused by %s, want allowed", i+1, last.Refused)
		}
	}
	if a := e.begin("198.51.100.200", "ALICE"); a.Refused != throttle.ByUsername {
		t.Errorf("attempt %d for alice: got refused %q, want %q", throttle.MaxUsernameFailures+1, a.Refused, throttle.ByUsername)
	}
	if err := e.l.Succeeded(context.Background(), last); err != nil {
		t.Fatal(err)
	}
	if a := e.begin("198.51.100.201", "alice"); !a.Allowed() {
		t.Errorf("after a right password: refused by %s, want allowed", a.Refused)
	}
}

// TestLimiterGlobal: past GlobalThreshold counted attempts every attempt
// is slowed down, never refused; a right password takes its attempt back
// from the global count. The delay is asked of the sleeper, not measured.
func TestLimiterGlobal(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for range throttle.GlobalThreshold - 1 {
		if _, _, err := e.store.ReserveAttempt(ctx, throttle.GlobalCounter, 0, throttle.GlobalWindow, e.now); err != nil {
			t.Fatal(err)
		}
	}
	a := e.begin("192.0.2.1", "alice")
	if !a.Allowed() || a.Delay != throttle.GlobalDelay {
		t.Fatalf("attempt %d of the window: got allowed %v, delay %s, want allowed after %s", throttle.GlobalThreshold, a.Allowed(), a.Delay, throttle.GlobalDelay)
	}
	if got := e.sleep.asked(); len(got) != 1 || got[0] != throttle.GlobalDelay {
		t.Errorf("sleeps asked for: got %v, want [%s]", got, throttle.GlobalDelay)
	}
	if err := e.l.Succeeded(ctx, a); err != nil {
		t.Fatal(err)
	}
	// The success took its attempt back: the next one is the threshold's
	// again, not one more.
	if b := e.begin("192.0.2.2", "bob"); b.Delay != throttle.GlobalDelay {
		t.Errorf("after a success: got delay %s, want %s", b.Delay, throttle.GlobalDelay)
	}
	for range throttle.GlobalThreshold {
		e.store.ReserveAttempt(ctx, throttle.GlobalCounter, 0, throttle.GlobalWindow, e.now)
	}
	if b := e.begin("192.0.2.3", "carol"); !b.Allowed() || b.Delay != 2*throttle.GlobalDelay {
		t.Errorf("past twice the threshold: got allowed %v, delay %s, want allowed after %s", b.Allowed(), b.Delay, 2*throttle.GlobalDelay)
	}
	e.now = e.now.Add(throttle.GlobalWindow)
	if b := e.begin("192.0.2.4", "dave"); b.Delay != 0 {
		t.Errorf("in the next window: got delay %s, want none", b.Delay)
	}
	// The request ending during the delay ends the attempt with an error.
	for range throttle.GlobalThreshold {
		e.store.ReserveAttempt(ctx, throttle.GlobalCounter, 0, throttle.GlobalWindow, e.now)
	}
	e.sleep.err = context.Canceled
	if _, err := e.l.Begin(request("192.0.2.5"), "erin"); !errors.Is(err, context.Canceled) {
		t.Errorf("Begin with the context cancelled during the delay: got %v, want context.Canceled", err)
	}
}

// failingGlobal fails the global counter alone.
type failingGlobal struct{ *store.Store }

func (f failingGlobal) ReserveAttempt(ctx context.Context, name string, max int64, window time.Duration, now time.Time) (store.Counter, bool, error) {
	if name == throttle.GlobalCounter {
		return store.Counter{}, false, fmt.Errorf("global: %w", shared.ErrUnavailable)
	}
	return f.Store.ReserveAttempt(ctx, name, max, window, now)
}

// TestLimiterGlobalCounterFails: a global counter that cannot be written
// (throttled under a flood) slows the attempt down and lets it through;
// the per-source and per-username counters still count. Their failure is
// an error.
func TestLimiterGlobalCounterFails(t *testing.T) {
	e := newEnv(t)
	s := &sleeps{}
	l := throttle.New(failingGlobal{e.store}, throttle.Options{Now: func() time.Time { return e.now }, Sleep: s.sleep})
	a, err := l.Begin(request("192.0.2.1"), "alice")
	if err != nil || !a.Allowed() || a.Delay != throttle.GlobalDelay {
		t.Fatalf("Begin with the global counter failing: got %+v, %v, want allowed after %s", a, err, throttle.GlobalDelay)
	}
	if got := s.asked(); len(got) != 1 {
		t.Errorf("sleeps asked for: got %v, want one", got)
	}
	if err := l.Succeeded(context.Background(), a); err != nil {
		t.Errorf("Succeeded: %v", err)
	}
	broken := throttle.New(errStore{}, throttle.Options{})
	if _, err := broken.Begin(request("192.0.2.1"), "alice"); !errors.Is(err, shared.ErrUnavailable) {
		t.Errorf("Begin with the store failing: got %v, want ErrUnavailable", err)
	}
}

type errStore struct{}

func (errStore) ReserveLoginAttempt(context.Context, string, int, time.Duration, time.Time) (bool, error) {
	return false, shared.ErrUnavailable
}
func (errStore) ClearLoginFailures(context.Context, string) error { return shared.ErrUnavailable }
func (errStore) ReserveAttempt(context.Context, string, int64, time.Duration, time.Time) (store.Counter, bool, error) {
	return store.Counter{}, false, shared.ErrUnavailable
}
func (errStore) ReleaseAttempt(context.Context, string, store.Counter) error {
	return shared.ErrUnavailable
}

// TestLimiterParallel: a burst from one source gets no more checks than
// the limit, however many usernames it spreads over.
func TestLimiterParallel(t *testing.T) {
	e := newEnv(t)
	const n = 2 * throttle.MaxSourceFailures
	var mu sync.Mutex
	allowed := 0
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			a, err := e.l.Begin(request("[2001:db8:7:7::"+fmt.Sprint(i+1)+"]:1"), "user"+fmt.Sprint(i))
			if err != nil {
				t.Errorf("Begin: %v", err)
				return
			}
			if a.Allowed() {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if allowed != throttle.MaxSourceFailures {
		t.Errorf("%d parallel attempts from one /64: got %d allowed, want %d", n, allowed, throttle.MaxSourceFailures)
	}
	if got := e.sleep.asked(); len(got) != 0 {
		t.Errorf("sleeps asked for below the global threshold: got %v, want none", got)
	}
}

// TestSourceBehindAPIGateway: through the Lambda adapter the functions use
// (aws-lambda-go-api-proxy's httpadapter.NewV2), the source is the event's
// requestContext.http.sourceIp, which the adapter sets as RemoteAddr
// without a port; a viewer header in the event counts only when trusted.
func TestSourceBehindAPIGateway(t *testing.T) {
	tests := []struct {
		sourceIP string
		trust    bool
		want     string
	}{
		{"203.0.113.7", false, "203.0.113.7"},
		{"2001:db8:1:2:aaaa::7", false, "2001:db8:1:2::/64"},
		{"203.0.113.7", true, "2001:db8:9:9::/64"},
	}
	for _, tc := range tests {
		l := throttle.New(nil, throttle.Options{TrustViewerAddress: tc.trust})
		adapter := httpadapter.NewV2(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, l.Source(r))
		}))
		ev := events.APIGatewayV2HTTPRequest{
			RawPath: "/oauth2/login",
			Headers: map[string]string{
				"x-forwarded-for":           "198.51.100.1",
				"cloudfront-viewer-address": "2001:db8:9:9::1:443",
			},
			RequestContext: events.APIGatewayV2HTTPRequestContext{
				DomainName: "api.example.com",
				HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodPost, Path: "/oauth2/login", SourceIP: tc.sourceIP},
			},
		}
		resp, err := adapter.ProxyWithContext(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Body != tc.want {
			t.Errorf("sourceIp %s, trust %v: got source %q, want %q", tc.sourceIP, tc.trust, resp.Body, tc.want)
		}
	}
}
