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

func refreshItem(rt RefreshToken) map[string]types.AttributeValue {
	status := rt.Status
	if status == "" {
		status = RefreshActive
	}
	it := map[string]types.AttributeValue{
		aPK: str(refreshPrefix + rt.Hash), aSK: str(skRefresh),
		aGrantID: str(rt.GrantID), aClientID: str(rt.ClientID), aUserID: str(rt.UserID),
		aScope: list(nonNil(rt.Scope)), aStatus: str(status), aAuthTime: str(fmtTime(rt.AuthTime)),
		aProtocol:  list(nonNil(rt.Protocol)),
		aCreatedAt: str(fmtTime(rt.CreatedAt)), aExpiresAt: str(fmtTime(rt.ExpiresAt)),
		aTTL: ttl(rt.ExpiresAt),
	}
	setResource(it, rt.Resource, rt.ResourceClientID)
	return it
}

func decodeRefresh(it item) RefreshToken {
	return RefreshToken{
		Hash: strings.TrimPrefix(it.s(aPK), refreshPrefix), GrantID: it.s(aGrantID),
		ClientID: it.s(aClientID), UserID: it.s(aUserID), Scope: it.l(aScope), AuthTime: it.t(aAuthTime),
		Protocol: it.l(aProtocol), Resource: it.s(aResourceURI), ResourceClientID: it.s(aResourceClientID),
		Status: it.s(aStatus), CreatedAt: it.t(aCreatedAt), ExpiresAt: it.t(aExpiresAt),
		RotatedAt: it.t(aRotatedAt), Successor: it.s(aSuccessor),
	}
}

// putRefresh writes rt, a refresh token that has not been handed to anyone
// yet: one PutItem (one write unit: the item is about 0.5 KB, see the
// README's items). Its condition is that no token has its hash, or that
// the item is this very token, written by an earlier attempt of the same
// request (active, same grant, same creation time: an SDK retry after a
// lost answer, or RetryInFlight calling RotateRefresh again), so the write
// can be repeated. A hash taken by another token (a 256-bit collision, or
// a broken random source) is an unclassified error, never ErrConflict,
// which callers read as "the code or token was used".
func (s *Store) putRefresh(ctx context.Context, rt RefreshToken) error {
	e := newExpr()
	cond := "attribute_not_exists(" + e.n(aPK) + ") OR (" +
		e.n(aStatus) + " = " + e.v(str(RefreshActive)) + " AND " +
		e.n(aGrantID) + " = " + e.v(str(rt.GrantID)) + " AND " +
		e.n(aCreatedAt) + " = " + e.v(str(fmtTime(rt.CreatedAt))) + ")"
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: s.tableName(), Item: refreshItem(rt),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	})
	if err == nil {
		return nil
	}
	if err = classify(err, false); errors.Is(err, shared.ErrConflict) && !errors.Is(err, ErrTransactionConflict) {
		return fmt.Errorf("put refresh token %s: its hash is another token's (%v)", shortID(rt.Hash), err)
	}
	return fmt.Errorf("put refresh token %s: %w", shortID(rt.Hash), err)
}

// grantNotRevoked is the ConditionCheck that the grant a refresh token
// names is still its user's active grant for its client.
func (s *Store) grantNotRevoked(rt RefreshToken) types.TransactWriteItem {
	e := newExpr()
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName: s.tableName(), Key: grantKey(rt.UserID, rt.ClientID),
		ConditionExpression: aws.String(e.n(aID) + " = " + e.v(str(rt.GrantID)) + " AND " +
			e.n(aRevoked) + " = " + e.v(boolean(false))),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	}}
}

// RotateRefresh rotates the active token old to next with two ordered
// single-item writes (2 calls, 2 write units; a transaction of the same two
// items costs 4): first next is written (putRefresh), then the gate, an
// UpdateItem of old `status = rotated, successor = next, rotated_at` on
// condition that old is still active. ErrConflict when old is no longer
// active (decided against old as committed: the caller may read it back);
// ErrTransactionConflict when a transaction is writing old at that moment
// (ReplaceSuccessor of its predecessor, within REFRESH_REUSE_GRACE) or, on
// a multi-Region strongly consistent table, another region is: the gate
// was not applied, and calling RotateRefresh again with the same next is
// safe.
//
// Why next first: the caller hands next to the client only after both
// writes. So a rotated token's successor always exists before it is named,
// and no failure leaves the family as a rotated token whose successor was
// never written (which a retry would find "rotated" and take for reuse,
// revoking the grant, or lose the user's refresh silently). A failure
// between the two writes (the gate refused, throttled, the function
// stopped) leaves old active, so the client's retry with old works, and
// next an active item that nobody holds, never disclosed, until its TTL
// removes it. Of two rotations at once, each writes its own next, one
// passes the gate and the other's next is never disclosed; the caller then
// reads old (rotated) and routes the request as reuse, or as a retry
// within the grace (ReplaceSuccessor, which finds the winner's successor
// written and active). The gate accepts its own earlier write (`status =
// rotated AND successor = next`), so an SDK retry after a lost answer
// succeeds instead of reading as reuse.
//
// The grant is not checked here: the caller reads it (with the user, in one
// Fetch) just before. A ConditionCheck needs a transaction, which would
// double both writes and add two units, for one case only: a revocation
// landing between that read and these writes. The rotation then goes
// through, but its tokens are inactive at once, because introspection and
// every refresh check the grant.
func (s *Store) RotateRefresh(ctx context.Context, old RefreshToken, next RefreshToken, now time.Time) error {
	if err := s.putRefresh(ctx, next); err != nil {
		return fmt.Errorf("rotate refresh token %s: %w", shortID(old.Hash), err)
	}
	e := newExpr()
	succ := e.v(str(next.Hash))
	upd := "SET " + e.n(aStatus) + " = " + e.v(str(RefreshRotated)) + ", " +
		e.n(aRotatedAt) + " = " + e.v(str(fmtTime(now))) + ", " +
		e.n(aSuccessor) + " = " + succ
	cond := e.n(aStatus) + " = " + e.v(str(RefreshActive)) + " OR (" +
		e.n(aStatus) + " = " + e.v(str(RefreshRotated)) + " AND " + e.n(aSuccessor) + " = " + succ + ")"
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: s.tableName(), Key: key(refreshPrefix+old.Hash, skRefresh),
		UpdateExpression:          aws.String(upd),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	})
	if err != nil {
		return fmt.Errorf("rotate refresh token %s: %w", shortID(old.Hash), classify(err, false))
	}
	return nil
}

// ReplaceSuccessor is rotation within REFRESH_REUSE_GRACE: old is already
// rotated; atomically its successor (condition: still active, unused) is
// marked RefreshReplaced, next becomes old's successor and is written, and
// the grant is checked not revoked. ErrConflict when any condition fails.
//
// The successor is marked replaced, not revoked, so that presenting it
// later is recognisably reuse: whoever holds it either lost the answer that
// carried it (and never presents it) or had its chain taken over by a
// replay of old, and the token endpoint then revokes the grant. So at most
// one chain of the grant stays usable, and never the one a client lost
// without the grant being revoked.
func (s *Store) ReplaceSuccessor(ctx context.Context, old RefreshToken, next RefreshToken, now time.Time) error {
	if old.Successor == "" || old.Successor == next.Hash {
		return fmt.Errorf("replace successor of %s: no successor to replace: %w", shortID(old.Hash), shared.ErrConflict)
	}
	es := newExpr()
	// replaced_by names next: the commit point without transactions
	// (notx.go), and a record of what took the successor's place.
	succUpd := "SET " + es.n(aStatus) + " = " + es.v(str(RefreshReplaced)) + ", " + es.n(aReplacedBy) + " = " + es.v(str(next.Hash))
	succCond := es.n(aStatus) + " = " + es.v(str(RefreshActive))
	succ := types.TransactWriteItem{Update: &types.Update{
		TableName: s.tableName(), Key: key(refreshPrefix+old.Successor, skRefresh),
		UpdateExpression:          aws.String(succUpd),
		ConditionExpression:       aws.String(succCond),
		ExpressionAttributeNames:  es.Names(),
		ExpressionAttributeValues: es.Values(),
	}}
	move := s.moveSuccessor(old.Hash, old.Successor, next.Hash)
	var err error
	if s.notx {
		err = s.replaceSuccessorNoTx(ctx, old, next, succ, move)
	} else {
		err = s.transact(ctx, []types.TransactWriteItem{succ, move, s.putNew(refreshItem(next)), s.grantNotRevoked(old)})
	}
	if err != nil {
		return fmt.Errorf("replace successor of %s: %w", shortID(old.Hash), err)
	}
	return nil
}

// moveSuccessor is the update that makes next the successor of the rotated
// token old in place of succ (condition: old still rotated, to succ).
func (s *Store) moveSuccessor(old, succ, next string) types.TransactWriteItem {
	eo := newExpr()
	return types.TransactWriteItem{Update: &types.Update{
		TableName: s.tableName(), Key: key(refreshPrefix+old, skRefresh),
		UpdateExpression: aws.String("SET " + eo.n(aSuccessor) + " = " + eo.v(str(next))),
		ConditionExpression: aws.String(eo.n(aStatus) + " = " + eo.v(str(RefreshRotated)) + " AND " +
			eo.n(aSuccessor) + " = " + eo.v(str(succ))),
		ExpressionAttributeNames:  eo.Names(),
		ExpressionAttributeValues: eo.Values(),
	}}
}
