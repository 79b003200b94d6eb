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

// Last use: when a link last issued tokens, and when each user's grant of
// it was last used (a code exchange, a refresh, a device-code
// redemption). The token function writes these items, never the link or
// grant items (its write prefixes hold LASTUSE#, not LINK#): one item per
// link (LASTUSE#<client_id> / LINK) and one per user's grant
// (LASTUSE#<client_id> / GRANT#<user id>, naming the grant's id).
const (
	lastUsePrefix       = "LASTUSE#"
	skLastUseLink       = "LINK"
	lastUseTTL          = 400 * 24 * time.Hour
	lastUseBatchMaxKeys = 100
)

// LastUseInterval is how stale a stored last use may get: a use writes
// only when the stored time is at least this old, so a link or grant costs
// at most one write an hour however often it is used.
const LastUseInterval = time.Hour

// LastUseRef names what was used: a link (UserID "") or the grant GrantID
// of user UserID for the link.
type LastUseRef struct {
	ClientID string
	UserID   string
	GrantID  string
}

func (r LastUseRef) key() map[string]types.AttributeValue {
	if r.UserID == "" {
		return key(lastUsePrefix+r.ClientID, skLastUseLink)
	}
	return key(lastUsePrefix+r.ClientID, skGrantPrefix+r.UserID)
}

// TouchLastUse records a use of r at now, unless the stored last use is
// less than LastUseInterval old (for a grant: of the same grant id). The
// condition on the write is the check, so concurrent uses write at most
// once an hour, with no read first. It returns the last use as stored
// afterwards (now when it wrote; the stored time when the condition failed,
// or the zero time when the engine does not return it) and whether it
// wrote.
func (s *Store) TouchLastUse(ctx context.Context, r LastUseRef, now time.Time) (time.Time, bool, error) {
	if r.ClientID == "" || tooLong(r.ClientID, r.UserID, r.GrantID) {
		return time.Time{}, false, fmt.Errorf("last use of %q: %w", r.ClientID, shared.ErrNotFound)
	}
	e := newExpr()
	u := &update{e: e}
	u.Set(aLastUsedAt, str(fmtTime(now)))
	u.Set(aClientID, str(r.ClientID))
	u.Set(aTTL, ttl(now.Add(lastUseTTL)))
	cond := "attribute_not_exists(" + e.n(aLastUsedAt) + ") OR " + e.n(aLastUsedAt) + " <= " + e.v(str(fmtTime(now.Add(-LastUseInterval))))
	if r.UserID != "" {
		u.Set(aUserID, str(r.UserID))
		u.Set(aGrantID, str(r.GrantID))
		cond += " OR " + e.n(aGrantID) + " <> " + e.v(str(r.GrantID))
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: s.tableName(), Key: r.key(),
		UpdateExpression:                    aws.String(u.String()),
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeNames:            e.Names(),
		ExpressionAttributeValues:           e.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return now, true, nil
	}
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return item(ccf.Item).t(aLastUsedAt), false, nil
	}
	if err = classify(err, false); errors.Is(err, shared.ErrConflict) {
		return time.Time{}, false, nil // a failed condition the engine did not detail
	}
	return time.Time{}, false, fmt.Errorf("record last use of %s: %w", r.ClientID, err)
}

// LastUses reads the last use of each of refs (a page of links, or of
// grants): one BatchGetItem per 100. A ref never used, or whose grant
// record names another grant id (an earlier grant, revoked), is absent
// from the result.
func (s *Store) LastUses(ctx context.Context, refs []LastUseRef) (map[LastUseRef]time.Time, error) {
	out := map[LastUseRef]time.Time{}
	type slot struct{ pk, sk string }
	want := map[slot]LastUseRef{}
	var keys []map[string]types.AttributeValue
	flush := func() error {
		if len(keys) == 0 {
			return nil
		}
		items, err := s.batchGet(ctx, "read last use", keys)
		if err != nil {
			return err
		}
		for _, it := range items {
			r, ok := want[slot{it.s(aPK), it.s(aSK)}]
			if !ok || (r.UserID != "" && it.s(aGrantID) != r.GrantID) {
				continue
			}
			out[r] = it.t(aLastUsedAt)
		}
		keys = keys[:0]
		return nil
	}
	for _, r := range refs {
		if r.ClientID == "" || tooLong(r.ClientID, r.UserID) {
			continue
		}
		k := r.key()
		sl := slot{k[aPK].(*types.AttributeValueMemberS).Value, k[aSK].(*types.AttributeValueMemberS).Value}
		if _, dup := want[sl]; dup {
			continue // BatchGetItem refuses a key twice
		}
		want[sl] = r
		keys = append(keys, k)
		if len(keys) == lastUseBatchMaxKeys {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}
