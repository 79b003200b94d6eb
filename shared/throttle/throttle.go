// Package throttle limits the password checks of sign-in, wherever a
// password is checked (the authorize function's sign-in, the console's
// password confirmation), with three limits:
//
//   - per username (known or not, in any letter case): MaxUsernameFailures
//     failed attempts within UsernameWindow refuse every further attempt
//     for it, the right password included, until the window ends; a right
//     password clears the count;
//   - per source: MaxSourceFailures failed attempts from one IPv4 address
//     or one IPv6 /64 within SourceWindow refuse every further attempt
//     from it, for any username, until the window ends; a right password
//     takes its own attempt back, so a crowd behind one address (an
//     office's NAT) spends the budget only with its mistakes;
//   - across all sources: once GlobalThreshold failed attempts are counted
//     within GlobalWindow, every attempt waits GlobalDelay (twice that
//     past twice the threshold, and so on, at most MaxGlobalDelay) before
//     its password is checked. This limit slows sign-in down and never
//     refuses it: a right password still signs in.
//
// Every attempt is counted before its password is checked (atomic
// conditional writes, store.ReserveAttempt and ReserveLoginAttempt), so
// guesses sent in parallel get no more checks than guesses sent one by
// one. A refused attempt gets the answer of a wrong password from the
// caller: nothing tells a throttled client that it is throttled.
//
// Callers:
//
//	a, err := limiter.Begin(r, username)   // before the check
//	if err != nil { ... }                  // the store failed
//	if !a.Allowed() { ... }                // the usual failure answer
//	... check the password ...
//	if right { limiter.Succeeded(ctx, a) }
package throttle

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// The limits (README "Sign-in throttling" explains the choice).
const (
	// MaxUsernameFailures failed attempts for one username within
	// UsernameWindow refuse it for the rest of the window.
	MaxUsernameFailures = 5
	UsernameWindow      = 15 * time.Minute
	// MaxSourceFailures failed attempts from one source within
	// SourceWindow refuse it for the rest of the window.
	MaxSourceFailures = 30
	SourceWindow      = 15 * time.Minute
	// GlobalThreshold failed attempts from all sources within
	// GlobalWindow slow every attempt down by GlobalDelay per multiple of
	// the threshold, at most MaxGlobalDelay.
	GlobalThreshold = 100
	GlobalWindow    = time.Minute
	GlobalDelay     = time.Second
	MaxGlobalDelay  = 3 * time.Second
)

// ViewerAddressHeader is the header CloudFront sets to the viewer's
// address and source port ("198.51.100.10:46532", IPv6 without brackets:
// "2001:db8::1:46532").
const ViewerAddressHeader = "CloudFront-Viewer-Address"

// Counter names (store.ReserveAttempt): GlobalCounter across all sources,
// SourceCounter(source) for one source.
const GlobalCounter = "GLOBAL"

// SourceCounter is the counter name of a source key (Limiter.Source).
func SourceCounter(source string) string { return "SOURCE#" + source }

// UnknownSource is the source key of a request whose address does not
// parse (never the case behind API Gateway or net/http's server): such
// requests share one counter.
const UnknownSource = "unknown"

// Usernames is the per-username throttle; *store.Store implements it.
type Usernames interface {
	// ReserveLoginAttempt counts one attempt for username before its
	// check; false when max are counted in the current window.
	ReserveLoginAttempt(ctx context.Context, username string, max int, window time.Duration, now time.Time) (bool, error)
	// ClearLoginFailures forgets the attempts of username.
	ClearLoginFailures(ctx context.Context, username string) error
}

// Counters are named fixed-window counters; *store.Store implements them.
type Counters interface {
	// ReserveAttempt counts one attempt on the counter name; false when
	// max (> 0) are counted in the current window.
	ReserveAttempt(ctx context.Context, name string, max int64, window time.Duration, now time.Time) (store.Counter, bool, error)
	// ReleaseAttempt takes back an attempt ReserveAttempt counted, while
	// its window lasts.
	ReleaseAttempt(ctx context.Context, name string, c store.Counter) error
}

// Store is what the Limiter counts in. It must be safe for concurrent use.
type Store interface {
	Usernames
	Counters
}

var _ Store = (*store.Store)(nil)

// Options configure a Limiter.
type Options struct {
	// TrustViewerAddress takes the source from the CloudFront-Viewer-Address
	// header (config.Config.TrustCloudFrontViewerAddress). Only for an API
	// that nothing but CloudFront can reach: anyone else can set the
	// header.
	TrustViewerAddress bool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Sleep waits d or until ctx ends (default: a timer); tests record the
	// delay instead.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Limiter applies the three limits. It is safe for concurrent use.
type Limiter struct {
	store       Store
	trustViewer bool
	now         func() time.Time
	sleep       func(context.Context, time.Duration) error
}

// New returns a Limiter counting in st.
func New(st Store, o Options) *Limiter {
	l := &Limiter{store: st, trustViewer: o.TrustViewerAddress, now: o.Now, sleep: o.Sleep}
	if l.now == nil {
		l.now = time.Now
	}
	if l.sleep == nil {
		l.sleep = sleep
	}
	return l
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Limits that refuse an attempt (Attempt.Refused).
const (
	BySource   = "source"
	ByUsername = "username"
)

// Attempt is one sign-in attempt as Begin decided it.
type Attempt struct {
	// Source is the source key the attempt was counted under (for logs).
	Source string
	// Refused names the limit that refused the attempt (BySource,
	// ByUsername); "" when its password may be checked.
	Refused string
	// Delay is how long the attempt waited before its check (the global
	// limit); 0 when it did not.
	Delay time.Duration

	username      string
	source        store.Counter
	global        store.Counter
	globalCounted bool
}

// Allowed reports whether the attempt's password may be checked.
func (a *Attempt) Allowed() bool { return a.Refused == "" }

// Begin counts a password check of username from r's source before it
// happens, and decides: refused by the source's or the username's limit
// (Allowed false; the caller answers as for a wrong password), or allowed,
// after waiting out the global limit's delay when it applies. The error
// is the store's (or the request's context ending during the delay); a
// failing global counter is no error but slows the attempt down, as an
// attack that throttles the counter would.
func (l *Limiter) Begin(r *http.Request, username string) (*Attempt, error) {
	ctx := r.Context()
	now := l.now()
	a := &Attempt{Source: l.Source(r), username: username}
	// The source first: a source over its limit touches no username's
	// count, so spraying from one address cannot lock many users out.
	c, ok, err := l.store.ReserveAttempt(ctx, SourceCounter(a.Source), MaxSourceFailures, SourceWindow, now)
	if err != nil {
		return nil, fmt.Errorf("sign-in limit per source: %w", err)
	}
	if !ok {
		a.Refused = BySource
		return a, nil
	}
	a.source = c
	ok, err = l.store.ReserveLoginAttempt(ctx, username, MaxUsernameFailures, UsernameWindow, now)
	if err != nil {
		return nil, fmt.Errorf("sign-in limit per username: %w", err)
	}
	if !ok {
		a.Refused = ByUsername
		return a, nil
	}
	g, _, err := l.store.ReserveAttempt(ctx, GlobalCounter, 0, GlobalWindow, now)
	log := web.Logger(ctx)
	switch {
	case err != nil:
		log.Warn("global sign-in counter failed: slowing the attempt down", "err", err.Error())
		a.Delay = GlobalDelay
	default:
		a.global, a.globalCounted = g, true
		if a.Delay = Delay(g.Count); a.Delay > 0 {
			log.Warn("sign-in slowed down", "failures_in_window", g.Count, "delay_ms", a.Delay.Milliseconds())
		}
	}
	if a.Delay > 0 {
		if err := l.sleep(ctx, a.Delay); err != nil {
			return nil, fmt.Errorf("sign-in slow-down: %w", err)
		}
	}
	return a, nil
}

// Delay is the global limit's delay when count attempts are counted in
// the current window (the attempt being decided included): none below
// GlobalThreshold, then GlobalDelay per multiple of it, at most
// MaxGlobalDelay.
func Delay(count int64) time.Duration {
	n := count / GlobalThreshold
	if n <= 0 {
		return 0
	}
	if n >= int64(MaxGlobalDelay/GlobalDelay) {
		return MaxGlobalDelay
	}
	return time.Duration(n) * GlobalDelay
}

// Succeeded records that the password of a (allowed by Begin) was right:
// the username's failures are forgotten, and the attempt is taken back
// from the source's and the global count, which so count failures only.
// The errors, joined, are for a log line: the sign-in goes on.
func (l *Limiter) Succeeded(ctx context.Context, a *Attempt) error {
	if a == nil || !a.Allowed() {
		return nil
	}
	errs := []error{
		l.store.ClearLoginFailures(ctx, a.username),
		l.store.ReleaseAttempt(ctx, SourceCounter(a.Source), a.source),
	}
	if a.globalCounted {
		errs = append(errs, l.store.ReleaseAttempt(ctx, GlobalCounter, a.global))
	}
	return errors.Join(errs...)
}

// Source is the key r's source is counted under: its IPv4 address
// ("203.0.113.7"; an IPv4-mapped IPv6 address counts as IPv4), or the /64
// of its IPv6 address ("2001:db8:1:2::/64": one subscriber's network,
// from which any number of addresses can be used), or UnknownSource.
//
// The address is the connection's: r.RemoteAddr, which API Gateway's
// adapter (aws-lambda-go-api-proxy) sets to requestContext.http.sourceIp
// (no port) and net/http's server to the socket's peer (host:port). With
// TrustViewerAddress, the CloudFront-Viewer-Address header's address
// instead (when it is one well-formed value; otherwise the connection's,
// with a warning). X-Forwarded-For is never read: any client can write
// it.
func (l *Limiter) Source(r *http.Request) string {
	if l.trustViewer {
		vs := r.Header.Values(ViewerAddressHeader)
		if len(vs) == 1 {
			if a, ok := ParseViewerAddress(vs[0]); ok {
				return sourceKey(a)
			}
		}
		web.Logger(r.Context()).Warn("no well-formed "+ViewerAddressHeader+" header: the sign-in limits use the connection's address", "values", len(vs))
	}
	if a, ok := parseRemoteAddr(r.RemoteAddr); ok {
		return sourceKey(a)
	}
	return UnknownSource
}

// sourceKey is the counter key of address a.
func sourceKey(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}

// parseRemoteAddr reads an http.Request's RemoteAddr: "ip:port",
// "[ipv6]:port", or a bare address (API Gateway's sourceIp).
func parseRemoteAddr(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), true
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return a, true
	}
	return netip.Addr{}, false
}

// ParseViewerAddress reads a CloudFront-Viewer-Address value: an address,
// a colon and the viewer's source port. CloudFront writes IPv6 addresses
// without brackets ("2001:db8::1:46532": the port follows the last
// colon); the bracketed form is accepted too. A zone, a missing or
// invalid port, or anything else is refused.
func ParseViewerAddress(v string) (netip.Addr, bool) {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "[") {
		ap, err := netip.ParseAddrPort(v)
		if err != nil || ap.Addr().Zone() != "" {
			return netip.Addr{}, false
		}
		return ap.Addr(), true
	}
	i := strings.LastIndexByte(v, ':')
	if i < 0 {
		return netip.Addr{}, false
	}
	host, port := v[:i], v[i+1:]
	if len(port) == 0 || len(port) > 5 || strings.Trim(port, "0123456789") != "" {
		return netip.Addr{}, false
	}
	if p, err := strconv.Atoi(port); err != nil || p > 65535 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a, true
}
