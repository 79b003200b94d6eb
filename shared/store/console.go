package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared"
)

// ConsoleSession is a signed-in session of the administrators' console,
// apart from the sign-in sessions of the end users' pages: its items live
// under a key prefix (CONSOLE#) that only the admin function may write, so
// a compromised authorize or token function cannot mint one. ID is
// shared.HashToken of the console cookie's value.
type ConsoleSession struct {
	ID     string
	UserID string
	CSRF   string // the CSRF token of the console's forms
	// CreatedAt is the sign-in; ConfirmedAt the latest proof of the
	// password (the sign-in, or the console's confirmation page).
	CreatedAt   time.Time
	ConfirmedAt time.Time
	// LastSeen is the latest request of the session (kept to within
	// ConsoleTouchEvery); the session ends when it is older than the idle
	// timeout.
	LastSeen  time.Time
	ExpiresAt time.Time // the absolute end
}

// ConsoleTouchEvery is how stale LastSeen may get before a request records
// a new one: one write a minute at most, however busy the administrator.
const ConsoleTouchEvery = time.Minute

const (
	consolePrefix = "CONSOLE#" // CONSOLE#<id hash>: a console session (admin function only)
	skConsole     = "CONSOLE"
	aConfirmedAt  = "confirmed_at"
	aLastSeen     = "last_seen"
)

// idleEnd is when a session seen last at lastSeen ends for idleness, never
// after its absolute end: the item's TTL.
func idleEnd(lastSeen, expires time.Time, idle time.Duration) time.Time {
	if end := lastSeen.Add(idle); end.Before(expires) {
		return end
	}
	return expires
}

// CreateConsoleSession stores a new console session (ErrConflict if the id
// exists); its TTL is the end of its first idle period.
func (s *Store) CreateConsoleSession(ctx context.Context, cs ConsoleSession, idle time.Duration) error {
	e := newExpr()
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: s.tableName(),
		Item: map[string]types.AttributeValue{
			aPK: str(consolePrefix + cs.ID), aSK: str(skConsole),
			aUserID: str(cs.UserID), aCSRF: str(cs.CSRF),
			aCreatedAt: str(fmtTime(cs.CreatedAt)), aConfirmedAt: str(fmtTime(cs.ConfirmedAt)),
			aLastSeen: str(fmtTime(cs.LastSeen)), aExpiresAt: str(fmtTime(cs.ExpiresAt)),
			aTTL: ttl(idleEnd(cs.LastSeen, cs.ExpiresAt, idle)),
		},
		ConditionExpression:      aws.String("attribute_not_exists(" + e.n(aPK) + ")"),
		ExpressionAttributeNames: e.Names(),
	})
	if err != nil {
		return fmt.Errorf("create console session %s: %w", shortID(cs.ID), classify(err, false))
	}
	return nil
}

// GetConsoleSession reads a console session by id hash; one past its
// absolute end or idle for idle or longer is ErrNotFound.
func (s *Store) GetConsoleSession(ctx context.Context, id string, idle time.Duration, now time.Time) (ConsoleSession, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.tableName(), Key: key(consolePrefix+id, skConsole), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return ConsoleSession{}, fmt.Errorf("get console session %s: %w", shortID(id), classify(err, false))
	}
	it := item(out.Item)
	cs := decodeConsoleSession(it)
	if out.Item == nil || !now.Before(idleEnd(cs.LastSeen, cs.ExpiresAt, idle)) {
		return ConsoleSession{}, fmt.Errorf("get console session %s: %w", shortID(id), shared.ErrNotFound)
	}
	return cs, nil
}

func decodeConsoleSession(it item) ConsoleSession {
	return ConsoleSession{
		ID: strings.TrimPrefix(it.s(aPK), consolePrefix), UserID: it.s(aUserID), CSRF: it.s(aCSRF),
		CreatedAt: it.t(aCreatedAt), ConfirmedAt: it.t(aConfirmedAt),
		LastSeen: it.t(aLastSeen), ExpiresAt: it.t(aExpiresAt),
	}
}

// TouchConsoleSession records a request of the session at now (its idle
// period starts again), and with confirmed also a proof of the password.
// A session that ended meanwhile (deleted, or idle for idle) is
// ErrNotFound: it is not brought back.
func (s *Store) TouchConsoleSession(ctx context.Context, id string, confirmed bool, idle time.Duration, now time.Time) (ConsoleSession, error) {
	e := newExpr()
	upd := "SET " + e.n(aLastSeen) + " = " + e.v(str(fmtTime(now)))
	if confirmed {
		upd += ", " + e.n(aConfirmedAt) + " = " + e.v(str(fmtTime(now)))
	}
	// The TTL follows the idle period (reads check the absolute end
	// themselves; the TTL only keeps the table small).
	upd += ", " + e.n(aTTL) + " = " + e.v(ttl(now.Add(idle)))
	cond := "attribute_exists(" + e.n(aPK) + ") AND " + e.n(aExpiresAt) + " > " + e.v(str(fmtTime(now))) +
		" AND " + e.n(aLastSeen) + " > " + e.v(str(fmtTime(now.Add(-idle))))
	out, err := s.updateItem(ctx, key(consolePrefix+id, skConsole), upd, cond, e)
	if err = classify(err, false); errors.Is(err, shared.ErrConflict) {
		err = shared.ErrNotFound // the condition failed: the session has ended
	}
	if err != nil {
		return ConsoleSession{}, fmt.Errorf("touch console session %s: %w", shortID(id), err)
	}
	return decodeConsoleSession(item(out.Attributes)), nil
}

// DeleteConsoleSession removes a console session (no error when absent).
func (s *Store) DeleteConsoleSession(ctx context.Context, id string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: s.tableName(), Key: key(consolePrefix+id, skConsole)})
	if err != nil {
		return fmt.Errorf("delete console session %s: %w", shortID(id), classify(err, false))
	}
	return nil
}
