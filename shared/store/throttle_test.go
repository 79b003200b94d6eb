package store_test

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared/store"
)

// TestAttemptCounters: a named counter counts in a fixed window that
// starts at its first attempt, refuses beyond max (max 0: never, and the
// count tells how many), restarts when the window has passed, and gives
// back a released attempt only within the window it was counted in. The
// item carries the window's end as its TTL.
func TestAttemptCounters(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s := b.Store()
		at := now()
		const window = 15 * time.Minute
		const max = 3
		reserve := func(name string, max int64, when time.Time) (store.Counter, bool) {
			t.Helper()
			c, ok, err := s.ReserveAttempt(ctx(), name, max, window, when)
			if err != nil {
				t.Fatalf("ReserveAttempt(%s): %v", name, err)
			}
			return c, ok
		}
		// The window starts at the first attempt (+1m) and ends at +16m.
		end := at.Add(time.Minute + window)
		var last store.Counter
		for i := 1; i <= max; i++ {
			c, ok := reserve("SOURCE#192.0.2.1", max, at.Add(time.Duration(i)*time.Minute))
			if !ok || c.Count != int64(i) || !c.WindowEnd.Equal(end) {
				t.Errorf("attempt %d of %d: got %+v, %v, want count %d, window end %s, reserved", i, max, c, ok, i, end)
			}
			last = c
		}
		if c, ok := reserve("SOURCE#192.0.2.1", max, at.Add(5*time.Minute)); ok || c.Count != max {
			t.Errorf("attempt %d in the window: got %+v, %v, want count %d, refused", max+1, c, ok, max)
		}
		if _, ok := reserve("SOURCE#192.0.2.2", max, at.Add(5*time.Minute)); !ok {
			t.Errorf("another counter: got refused, want reserved")
		}
		it := rawItem(t, b, "THROTTLE#SOURCE#192.0.2.1", "COUNTER")
		if v, ok := it["ttl"].(*types.AttributeValueMemberN); !ok || v.Value != strconv.FormatInt(end.Unix(), 10) {
			t.Errorf("item ttl: got %v, want %d (the window's end)", it["ttl"], end.Unix())
		}

		// A release gives one slot back, once per reservation; the count
		// never goes below zero.
		if err := s.ReleaseAttempt(ctx(), "SOURCE#192.0.2.1", last); err != nil {
			t.Fatal(err)
		}
		if c, ok := reserve("SOURCE#192.0.2.1", max, at.Add(6*time.Minute)); !ok || c.Count != max {
			t.Errorf("after a release: got %+v, %v, want count %d, reserved", c, ok, max)
		}
		if _, ok := reserve("SOURCE#192.0.2.1", max, at.Add(6*time.Minute)); ok {
			t.Errorf("after a release and a reservation: got reserved, want refused")
		}
		for range max + 2 {
			if err := s.ReleaseAttempt(ctx(), "SOURCE#192.0.2.3", store.Counter{Count: 1, WindowEnd: end}); err != nil {
				t.Fatalf("release of a counter with nothing counted: %v", err)
			}
		}
		if c, ok := reserve("SOURCE#192.0.2.3", max, at.Add(7*time.Minute)); !ok || c.Count != 1 {
			t.Errorf("after releases of nothing: got %+v, %v, want count 1 (no negative count)", c, ok)
		}

		// A new window: the count restarts at 1, and a release of an
		// attempt of the old window leaves it alone.
		if _, ok := reserve("SOURCE#192.0.2.1", max, end.Add(-time.Second)); ok {
			t.Errorf("a second before the window ends: got reserved, want refused")
		}
		c, ok := reserve("SOURCE#192.0.2.1", max, end)
		if !ok || c.Count != 1 || !c.WindowEnd.Equal(end.Add(window)) {
			t.Errorf("when the window has passed: got %+v, %v, want count 1 in a new window ending %s", c, ok, end.Add(window))
		}
		reserve("SOURCE#192.0.2.1", max, end)
		if err := s.ReleaseAttempt(ctx(), "SOURCE#192.0.2.1", last); err != nil {
			t.Fatal(err)
		}
		if c, _ := reserve("SOURCE#192.0.2.1", max, end); c.Count != 3 {
			t.Errorf("after releasing an attempt of the old window: got count %d, want 3 (nothing released)", c.Count)
		}

		// max 0: never refused, and the count says how many.
		for i := 1; i <= max+2; i++ {
			if c, ok := reserve("GLOBAL", 0, at); !ok || c.Count != int64(i) {
				t.Errorf("unlimited counter, attempt %d: got %+v, %v, want count %d, reserved", i, c, ok, i)
			}
		}
		if c, ok := reserve("GLOBAL", 0, at.Add(window)); !ok || c.Count != 1 {
			t.Errorf("unlimited counter in a new window: got %+v, %v, want count 1", c, ok)
		}

		// Bad names are errors, not items.
		for _, name := range []string{"", strings.Repeat("x", 513)} {
			if _, _, err := s.ReserveAttempt(ctx(), name, max, window, at); err == nil {
				t.Errorf("ReserveAttempt(%d bytes): got nil, want an error", len(name))
			}
		}
	})
}

// TestAttemptCountersConcurrent: concurrent reservations win at most max
// slots, and an unlimited counter hands out every count exactly once.
func TestAttemptCountersConcurrent(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		const n, max = 20, 3
		var won atomic.Int64
		var mu sync.Mutex
		var counts []int64
		errs := parallel(2*n, func(i int) error {
			if i%2 == 0 {
				_, ok, err := s.ReserveAttempt(ctx(), "SOURCE#2001:db8::/64", max, time.Minute, at)
				if ok {
					won.Add(1)
				}
				return err
			}
			c, _, err := s.ReserveAttempt(ctx(), "GLOBAL", 0, time.Minute, at)
			mu.Lock()
			counts = append(counts, c.Count)
			mu.Unlock()
			return err
		})
		for _, err := range errs {
			if err != nil {
				t.Errorf("concurrent ReserveAttempt: %v", err)
			}
		}
		if got := won.Load(); got != max {
			t.Errorf("%d concurrent attempts: got %d reserved, want %d", n, got, max)
		}
		slices.Sort(counts)
		for i, c := range counts {
			if c != int64(i+1) {
				t.Errorf("unlimited counter under %d concurrent attempts: got counts %v, want 1 to %d once each", n, counts, n)
				break
			}
		}
	})
}

// TestCountersApartFromUsernames: a counter and a username throttle never
// share an item, even when the username typed is the counter's name in
// any case: the sort keys differ.
func TestCountersApartFromUsernames(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		for _, name := range []string{"GLOBAL", "global", "SOURCE#192.0.2.9"} {
			if _, ok, err := s.ReserveAttempt(ctx(), name, 1, time.Hour, at); !ok || err != nil {
				t.Fatalf("ReserveAttempt(%s): %v, %v", name, ok, err)
			}
		}
		for _, username := range []string{"GLOBAL", "global", "SOURCE#192.0.2.9", "source#192.0.2.9"} {
			ok, err := s.ReserveLoginAttempt(ctx(), username, 1, time.Hour, at)
			if err != nil || !ok {
				t.Errorf("username %q after the counters filled: got %v, %v, want reserved", username, ok, err)
			}
			if err := s.ClearLoginFailures(ctx(), username); err != nil {
				t.Fatal(err)
			}
		}
		for _, name := range []string{"GLOBAL", "global", "SOURCE#192.0.2.9"} {
			if _, ok, err := s.ReserveAttempt(ctx(), name, 1, time.Hour, at); ok || err != nil {
				t.Errorf("counter %s after usernames of its name were cleared: got %v, %v, want still full", name, ok, err)
			}
		}
	})
}

// TestLoginLockedUntil: a username is locked (until its window's end) once
// max failures are counted, in any letter case; not before, not after the
// window, not after ClearLoginFailures; reading counts nothing.
func TestLoginLockedUntil(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		locked := func(when time.Time) time.Time {
			t.Helper()
			until, err := s.LoginLockedUntil(ctx(), "Carol", 3, when)
			if err != nil {
				t.Fatal(err)
			}
			return until
		}
		if u := locked(at); !u.IsZero() {
			t.Errorf("no failures: locked until %v", u)
		}
		for i := range 3 {
			if u := locked(at); !u.IsZero() {
				t.Errorf("%d failures: locked until %v, want not locked", i, u)
			}
			if ok, err := s.ReserveLoginAttempt(ctx(), "carol", 3, time.Hour, at); !ok || err != nil {
				t.Fatalf("ReserveLoginAttempt %d: %v, %v", i, ok, err)
			}
		}
		if u := locked(at.Add(time.Minute)); !u.Equal(at.Add(time.Hour)) {
			t.Errorf("3 failures: locked until %v, want %v", u, at.Add(time.Hour))
		}
		if u := locked(at.Add(time.Hour)); !u.IsZero() {
			t.Errorf("after the window: locked until %v", u)
		}
		if err := s.ClearLoginFailures(ctx(), "CAROL"); err != nil {
			t.Fatal(err)
		}
		if u := locked(at.Add(time.Minute)); !u.IsZero() {
			t.Errorf("after ClearLoginFailures: locked until %v", u)
		}
	})
}
