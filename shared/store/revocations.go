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
	"github.com/applinks/applinks/shared/config"
)

// RevocationMarkerMargin is added to config.MaxAuthCodeTTL to give a
// revocation marker its lifetime: no authorization code outlives
// MaxAuthCodeTTL, and the margin covers the clock skew between the
// instance that issued a code, the one that redeems it and DynamoDB's TTL
// reaper (which never deletes an item before its TTL, only later).
const RevocationMarkerMargin = 5 * time.Minute

// revocationKey is the key of the revocation marker of username for
// clientID: an item in the user's partition, so that the token endpoint
// reads it with the user in one BatchGetItem.
func revocationKey(username, clientID string) map[string]types.AttributeValue {
	return key(userPrefix+username, skRevokedPrefix+clientID)
}

// RevokePendingCodes records that username revoked clientID at now (1
// UpdateItem): from then on the token endpoint refuses every authorization
// code of username for clientID created at or before now (see
// GetUserForClient). The marker expires after config.MaxAuthCodeTTL plus
// RevocationMarkerMargin, when every code it could refuse has expired.
//
// The stored time only moves forward: a concurrent revocation that wrote a
// later time first is kept (the write's condition fails, which is
// success). An identifier too long to name a record (see maxIDBytes) names
// no link, so no code either: nothing to revoke, nil.
func (s *Store) RevokePendingCodes(ctx context.Context, username, clientID string, now time.Time) error {
	if tooLong(username, clientID) {
		return nil
	}
	at := fmtTime(now)
	e := newExpr()
	up := update{e: e}
	up.Set(aUsername, str(username))
	up.Set(aClientID, str(clientID))
	up.Set(aRevokedAt, str(at))
	up.Set(aTTL, ttl(now.Add(config.MaxAuthCodeTTL+RevocationMarkerMargin)))
	cond := "attribute_not_exists(" + e.n(aPK) + ") OR " + e.n(aRevokedAt) + " < " + e.v(str(at))
	_, err := s.updateItem(ctx, revocationKey(username, clientID), up.String(), cond, e)
	if err = classify(err, false); err != nil && !errors.Is(err, shared.ErrConflict) {
		return fmt.Errorf("revoke pending codes of %q for %q: %w", username, clientID, err)
	}
	return nil
}

// GetUserForClient reads a user and the user's revocation marker for
// clientID together, with one strongly consistent BatchGetItem (1 call:
// the code exchange's read of the user). revokedAt is the time of the
// latest RevokePendingCodes of username for clientID, zero when none. A
// marker past its TTL that DynamoDB has not reaped yet may still be read:
// harmless, every code it refuses has expired too. ErrNotFound when the
// user does not exist.
func (s *Store) GetUserForClient(ctx context.Context, username, clientID string) (u User, revokedAt time.Time, err error) {
	if tooLong(username) {
		return User{}, time.Time{}, fmt.Errorf("get user: %w", shared.ErrNotFound)
	}
	keys := []map[string]types.AttributeValue{key(userPrefix+username, skUser)}
	if !tooLong(clientID) {
		keys = append(keys, revocationKey(username, clientID))
	}
	items, err := s.batchGet(ctx, "get user for client", keys)
	if err != nil {
		return User{}, time.Time{}, err
	}
	found := false
	for _, it := range items {
		switch it.s(aSK) {
		case skUser:
			u, found = decodeUser(it), true
		case skRevokedPrefix + clientID:
			revokedAt = it.t(aRevokedAt)
		}
	}
	if !found {
		return User{}, time.Time{}, fmt.Errorf("get user %q: %w", username, shared.ErrNotFound)
	}
	return u, revokedAt, nil
}

// RevokedAt returns the time of the latest RevokePendingCodes of username
// for clientID (one strongly consistent GetItem), zero when none. The
// account page confirms a revocation by it: unlike the grant listing (an
// eventually consistent index), it is current at once.
func (s *Store) RevokedAt(ctx context.Context, username, clientID string) (time.Time, error) {
	if tooLong(username, clientID) {
		return time.Time{}, nil
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.tableName(), Key: revocationKey(username, clientID), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("revoked at %q for %q: %w", username, clientID, classify(err, false))
	}
	if out.Item == nil {
		return time.Time{}, nil
	}
	return item(out.Item).t(aRevokedAt), nil
}
