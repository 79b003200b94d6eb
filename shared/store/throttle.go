package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared"
)

// Sign-in throttles: fixed-window counters of password checks, each item
// under the THROTTLE# partition-key prefix (the one the authorize function
// may write for them) with a TTL at the end of its window.
//
//   - The username throttle: pk THROTTLE#<username key>, sk THROTTLE
//     (ReserveLoginAttempt, ClearLoginFailures).
//   - Named counters: pk THROTTLE#<name>, sk COUNTER (ReserveAttempt,
//     ReleaseAttempt); shared/throttle names one per source address and
//     one across all sources.
//
// The sort key keeps the two kinds apart whatever was typed as a username:
// a username throttle never has sk COUNTER, so no username, however
// chosen, names a counter's item or resets it.

// skCounter is the sort key of a named counter.
const skCounter = "COUNTER"

// Counter is a fixed-window counter as a reservation left it.
type Counter struct {
	// Count is the number of attempts counted in the window, the one just
	// reserved included (when refused: the count that refused it).
	Count int64
	// WindowEnd is the end of the window, which began at its first
	// attempt.
	WindowEnd time.Time
}

// ReserveLoginAttempt counts one sign-in attempt for username (known or
// not; counted by UsernameKey, so Alice and alice share one window) before
// its password is checked, and reports whether it may go on: false when
// max attempts have been counted in the current window, which starts at
// the first attempt and lasts window. A failed attempt stays counted; a
// successful one clears the count (ClearLoginFailures). Reserving before
// checking bounds the passwords checked per window even when guesses
// arrive in parallel: each one must win a slot first. A username too long
// to be a key (maxIDBytes) is refused.
func (s *Store) ReserveLoginAttempt(ctx context.Context, username string, max int, window time.Duration, now time.Time) (bool, error) {
	if tooLong(username) {
		return false, nil
	}
	if max < 1 {
		return false, fmt.Errorf("reserve login attempt: max %d is not positive", max)
	}
	_, ok, err := s.reserve(ctx, throttlePrefix+UsernameKey(username), skThrottle, int64(max), window, now)
	if err != nil {
		// Not the username: what was typed there may be a password.
		return false, fmt.Errorf("reserve login attempt: %w", err)
	}
	return ok, nil
}

// LoginLockedUntil reads the username throttle of username: the end of its
// current window when max attempts are counted in it (every further
// sign-in is refused until then), the zero time otherwise. A consistent
// read; it counts nothing.
func (s *Store) LoginLockedUntil(ctx context.Context, username string, max int, now time.Time) (time.Time, error) {
	if tooLong(username) || max < 1 {
		return time.Time{}, nil
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.tableName(), Key: key(throttlePrefix+UsernameKey(username), skThrottle), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("read login failures: %w", classify(err, false))
	}
	it := item(out.Item)
	if out.Item == nil || it.n(aCount) < int64(max) || !now.Before(it.t(aWindowEnd)) {
		return time.Time{}, nil
	}
	return it.t(aWindowEnd), nil
}

// ClearLoginFailures forgets the failures of username.
func (s *Store) ClearLoginFailures(ctx context.Context, username string) error {
	if tooLong(username) {
		return nil
	}
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: s.tableName(), Key: key(throttlePrefix+UsernameKey(username), skThrottle),
	})
	if err != nil {
		return fmt.Errorf("clear login failures: %w", classify(err, false))
	}
	return nil
}

// ReserveAttempt counts one attempt on the counter name (a key chosen by
// the caller, 1 to 512 bytes) and reports whether it may go on: false when
// max attempts are already counted in the current window, which starts at
// the first attempt and lasts window. max 0 means no limit: the attempt is
// always counted, and the returned Count tells the caller how many there
// were. Counted attempts stay counted until the window ends, unless
// ReleaseAttempt takes one back.
//
// Atomic as ReserveLoginAttempt: concurrent reservations of one counter
// never win more than max slots between them.
func (s *Store) ReserveAttempt(ctx context.Context, name string, max int64, window time.Duration, now time.Time) (Counter, bool, error) {
	if name == "" || tooLong(name) || max < 0 || window <= 0 {
		return Counter{}, false, fmt.Errorf("reserve attempt: invalid counter %q (max %d, window %s)", name, max, window)
	}
	c, ok, err := s.reserve(ctx, throttlePrefix+name, skCounter, max, window, now)
	if err != nil {
		return Counter{}, false, fmt.Errorf("reserve attempt %q: %w", name, err)
	}
	return c, ok, nil
}

// ReleaseAttempt takes back one attempt that ReserveAttempt counted on the
// counter name in the window c describes (what it returned), so that an
// attempt that turned out well does not count. One conditional UpdateItem:
// ADD -1 while the window is still that one and the count is positive;
// when the window has ended or restarted, or nothing is counted, it does
// nothing (no error).
func (s *Store) ReleaseAttempt(ctx context.Context, name string, c Counter) error {
	if name == "" || tooLong(name) || c.WindowEnd.IsZero() {
		return fmt.Errorf("release attempt: invalid counter %q", name)
	}
	e := newExpr()
	upd := "ADD " + e.n(aCount) + " " + e.v(num(-1))
	cond := e.n(aWindowEnd) + " = " + e.v(str(fmtTime(c.WindowEnd))) + " AND " + e.n(aCount) + " > " + e.v(num(0))
	_, err := s.updateItem(ctx, key(throttlePrefix+name, skCounter), upd, cond, e)
	if err == nil {
		return nil
	}
	if err = classify(err, false); errors.Is(err, shared.ErrConflict) {
		return nil
	}
	return fmt.Errorf("release attempt %q: %w", name, err)
}

// reserve is the fixed window of ReserveLoginAttempt and ReserveAttempt on
// the item pk/sk (max 0: no limit).
//
// One conditional UpdateItem adds 1 while there is no record, or the
// window is open and the count below max (if_not_exists sets the window's
// end and TTL on the first attempt); it returns the item as updated. When
// its condition fails, a consistent read tells a full window (refused)
// from a passed one, which a conditional put restarts at 1; losing that
// race to a concurrent attempt tries again.
func (s *Store) reserve(ctx context.Context, pk, sk string, max int64, window time.Duration, now time.Time) (Counter, bool, error) {
	k := key(pk, sk)
	end := now.Add(window)
	for range 3 {
		e := newExpr()
		upd := "SET " + e.n(aWindowEnd) + " = if_not_exists(" + e.n(aWindowEnd) + ", " + e.v(str(fmtTime(end))) + "), " +
			e.n(aTTL) + " = if_not_exists(" + e.n(aTTL) + ", " + e.v(ttl(end)) + ") ADD " +
			e.n(aCount) + " " + e.v(num(1))
		open := e.n(aWindowEnd) + " > " + e.v(str(fmtTime(now)))
		if max > 0 {
			open = "(" + open + " AND " + e.n(aCount) + " < " + e.v(num(max)) + ")"
		}
		cond := "attribute_not_exists(" + e.n(aPK) + ") OR " + open
		out, err := s.updateItem(ctx, k, upd, cond, e)
		if err == nil {
			it := item(out.Attributes)
			return Counter{Count: it.n(aCount), WindowEnd: it.t(aWindowEnd)}, true, nil
		}
		if err = classify(err, false); !errors.Is(err, shared.ErrConflict) {
			return Counter{}, false, err
		}
		got, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: s.tableName(), Key: k, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return Counter{}, false, classify(err, false)
		}
		it := item(got.Item)
		if got.Item != nil && now.Before(it.t(aWindowEnd)) {
			if max > 0 && it.n(aCount) >= max {
				return Counter{Count: it.n(aCount), WindowEnd: it.t(aWindowEnd)}, false, nil
			}
			continue // cleared, released or restarted meanwhile: try again
		}
		// The window has passed: start a new one, unless a concurrent
		// attempt just did.
		e = newExpr()
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: s.tableName(),
			Item: map[string]types.AttributeValue{
				aPK: str(pk), aSK: str(sk),
				aCount: num(1), aWindowEnd: str(fmtTime(end)), aTTL: ttl(end),
			},
			ConditionExpression: aws.String("attribute_not_exists(" + e.n(aPK) + ") OR " +
				e.n(aWindowEnd) + " <= " + e.v(str(fmtTime(now)))),
			ExpressionAttributeNames:  e.Names(),
			ExpressionAttributeValues: e.Values(),
		})
		if err == nil {
			return Counter{Count: 1, WindowEnd: end}, true, nil
		}
		if err = classify(err, false); !errors.Is(err, shared.ErrConflict) {
			return Counter{}, false, err
		}
	}
	return Counter{}, false, fmt.Errorf("too much contention: %w", shared.ErrUnavailable)
}
