// Package clocktest provides a settable clock for tests of code that takes
// its time from a func() time.Time (the Now option of the handlers and of
// signing.New), so that expiry and rotation can be tested without waiting.
//
// It is test support: no Lambda function may import it (shared/lambdahttp's
// TestLambdaDependencies refuses it).
package clocktest

import (
	"sync"
	"time"
)

// Clock is a clock that stands still until Add moves it. It is safe for
// concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a Clock reading now.
func New(now time.Time) *Clock {
	return &Clock{now: now}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
