package store

import (
	"context"
	"fmt"
	"time"
)

// Limits of unauthenticated link creation (a metadata document's first
// use, a dynamic registration): at most MaxRegistrationsPerSource new
// links per source address (an IPv4 address or an IPv6 /64, as
// throttle.Limiter.Source names it) per RegistrationWindow, and at most
// MaxPendingLinks pending links in all (CountPendingLinks); beyond either,
// the caller answers 429.
const (
	MaxRegistrationsPerSource = 20
	RegistrationWindow        = time.Hour
	MaxPendingLinks           = 100
)

// registrationCounterPrefix names the counters of RegistrationAttempt:
// THROTTLE#REG#<source> (sk COUNTER), under the THROTTLE# prefix that the
// authorize function may write.
const registrationCounterPrefix = "REG#"

// RegistrationAttempt counts one attempt to create a link from source (a
// source key: an IPv4 address or an IPv6 /64) and reports whether it may
// go on: false once MaxRegistrationsPerSource were counted within the
// current RegistrationWindow, which starts at the first attempt. Atomic
// (ReserveAttempt): concurrent attempts never win more slots between them.
func (s *Store) RegistrationAttempt(ctx context.Context, source string, now time.Time) (bool, error) {
	if source == "" {
		return false, fmt.Errorf("registration attempt: no source")
	}
	_, ok, err := s.ReserveAttempt(ctx, registrationCounterPrefix+source, MaxRegistrationsPerSource, RegistrationWindow, now)
	if err != nil {
		return false, fmt.Errorf("registration attempt: %w", err)
	}
	return ok, nil
}
