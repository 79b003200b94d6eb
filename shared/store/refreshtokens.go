package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared"
)

// CreateSession stores a session with a TTL at ExpiresAt.
func (s *Store) CreateSession(ctx context.Context, sess Session) error {
	e := newExpr()
	it := map[string]types.AttributeValue{
		aPK: str(sessionPrefix + sess.ID), aSK: str(skSession),
		aUserID: str(sess.UserID), aCSRF: str(sess.CSRF),
		aCreatedAt: str(fmtTime(sess.CreatedAt)), aExpiresAt: str(fmtTime(sess.ExpiresAt)),
		aTTL: ttl(sess.ExpiresAt),
	}
	if !sess.AuthTime.IsZero() {
		it[aAuthTime] = str(fmtTime(sess.AuthTime)) // an upstream sign-in's auth_time
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                s.tableName(),
		Item:                     it,
		ConditionExpression:      aws.String("attribute_not_exists(" + e.n(aPK) + ")"),
		ExpressionAttributeNames: e.Names(),
	})
	if err != nil {
		return fmt.Errorf("create session %s: %w", shortID(sess.ID), classify(err, false))
	}
	return nil
}

// shortID is a prefix of a stored hash, enough to tell records apart in an
// error message without repeating a whole key.
func shortID(h string) string { return h[:min(len(h), 8)] }

// GetSession reads a session by id hash; an expired one is ErrNotFound
// (DynamoDB reaps expired items only eventually).
func (s *Store) GetSession(ctx context.Context, id string, now time.Time) (Session, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.tableName(), Key: key(sessionPrefix+id, skSession), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Session{}, fmt.Errorf("get session %s: %w", shortID(id), classify(err, false))
	}
	it := item(out.Item)
	if out.Item == nil || !now.Before(it.t(aExpiresAt)) {
		return Session{}, fmt.Errorf("get session %s: %w", shortID(id), shared.ErrNotFound)
	}
	return decodeSession(it), nil
}

func decodeSession(it item) Session {
	return Session{
		ID: strings.TrimPrefix(it.s(aPK), sessionPrefix), UserID: it.s(aUserID), CSRF: it.s(aCSRF),
		CreatedAt: it.t(aCreatedAt), ExpiresAt: it.t(aExpiresAt), AuthTime: it.t(aAuthTime),
	}
}

// DeleteSession removes a session (no error when absent).
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: s.tableName(), Key: key(sessionPrefix+id, skSession)})
	if err != nil {
		return fmt.Errorf("delete session %s: %w", shortID(id), classify(err, false))
	}
	return nil
}

// CreateCode stores an authorization code with a TTL at ExpiresAt
// (ErrConflict if the hash exists).
func (s *Store) CreateCode(ctx context.Context, c Code) error {
	it := map[string]types.AttributeValue{
		aPK: str(codePrefix + c.Hash), aSK: str(skCode),
		aClientID: str(c.ClientID), aRedirectURI: str(c.RedirectURI), aChallenge: str(c.Challenge),
		aUserID: str(c.UserID), aScope: list(nonNil(c.Scope)), aGrantID: str(c.GrantID),
		aProtocol: list(nonNil(c.Protocol)), aNonce: str(c.Nonce),
		aAuthTime: str(fmtTime(c.AuthTime)), aCreatedAt: str(fmtTime(c.CreatedAt)), aExpiresAt: str(fmtTime(c.ExpiresAt)),
		aUsed: boolean(false), aTTL: ttl(c.ExpiresAt),
	}
	setResource(it, c.Resource, c.ResourceClientID)
	e := newExpr()
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: s.tableName(), Item: it,
		ConditionExpression:      aws.String("attribute_not_exists(" + e.n(aPK) + ")"),
		ExpressionAttributeNames: e.Names(),
	})
	if err != nil {
		return fmt.Errorf("create code %s: %w", shortID(c.Hash), classify(err, false))
	}
	return nil
}

func decodeCode(it item) Code {
	return Code{
		Hash:             strings.TrimPrefix(it.s(aPK), codePrefix),
		ClientID:         it.s(aClientID),
		RedirectURI:      it.s(aRedirectURI),
		Challenge:        it.s(aChallenge),
		UserID:           it.s(aUserID),
		Scope:            it.l(aScope),
		GrantID:          it.s(aGrantID),
		AuthTime:         it.t(aAuthTime),
		Protocol:         it.l(aProtocol),
		Nonce:            it.s(aNonce),
		Resource:         it.s(aResourceURI),
		ResourceClientID: it.s(aResourceClientID),
		CreatedAt:        it.t(aCreatedAt),
		ExpiresAt:        it.t(aExpiresAt),
		Used:             it.b(aUsed),
	}
}

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

// setResource records a resource indicator (RFC 8707) and its resource
// server on the item of a code, refresh token or device authorization;
// without one the item is as it was before resource indicators.
func setResource(it map[string]types.AttributeValue, resource, clientID string) {
	if resource != "" {
		it[aResourceURI] = str(resource)
		it[aResourceClientID] = str(clientID)
	}
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

// aRedeemedBy is the attribute of a redeemed code naming its redemption:
// the hash of the first refresh token it wrote, or a random marker when it
// wrote none. It makes RedeemCode's write repeatable by the same
// redemption (an SDK retry after a lost answer) and by no other.
const aRedeemedBy = "redeemed_by"

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

// RedeemCode redeems the code codeHash with two ordered single-item writes
// (2 calls, 2 write units; no transaction, which would cost 4): first the
// first refresh token rt of a new family of the code's grant (rt may be
// nil when no refresh token is issued: then only the second write), then
// the code's single-use gate, an UpdateItem `used = true` on condition
// that the code exists, is unused and unexpired. ErrConflict when the code
// was already used or has expired: that is decided by the gate, evaluated
// against the code as committed (a single-item write never sees an
// uncommitted one), so the caller may read the code back to tell which.
//
// The order is what makes the two writes safe without a transaction: a
// token is usable only by whoever holds it, and the caller hands rt to
// the client only after both writes succeeded. So
//   - a failure between the writes (the gate refused, throttled, the
//     function stopped) leaves rt written but never disclosed, and the
//     code unused: the client's retry with the same code works, and rt
//     stays an active item nobody can present until its TTL removes it;
//   - two redemptions at once each write their own token, one passes the
//     gate, and the other's token is never disclosed (the caller treats
//     the code as replayed and revokes the grant anyway);
//   - a code is never spent without its token written first, so no client
//     is left with a spent code and no family.
//
// The gate also records redeemed_by (rt's hash, or a random marker) and
// accepts its own earlier write (`redeemed_by = mine`), so an SDK retry of
// a write whose answer was lost succeeds instead of reading as a replay;
// the put accepts its own earlier write the same way (putRefresh). The
// grant is not written: the user's approval did that (ApproveGrant), and
// the caller checked just before that the code's grant is still active;
// every use of rt checks it again.
func (s *Store) RedeemCode(ctx context.Context, codeHash string, rt *RefreshToken, now time.Time) error {
	marker := "none." + rand.Text()
	if rt != nil {
		if err := s.putRefresh(ctx, *rt); err != nil {
			return fmt.Errorf("redeem code %s: %w", shortID(codeHash), err)
		}
		marker = rt.Hash
	}
	e := newExpr()
	upd := "SET " + e.n(aUsed) + " = " + e.v(boolean(true)) + ", " + e.n(aRedeemedBy) + " = " + e.v(str(marker))
	mine := e.v(str(marker))
	cond := "attribute_exists(" + e.n(aPK) + ") AND ((" + e.n(aUsed) + " = " + e.v(boolean(false)) +
		" AND " + e.n(aExpiresAt) + " > " + e.v(str(fmtTime(now))) + ") OR " + e.n(aRedeemedBy) + " = " + mine + ")"
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: s.tableName(), Key: key(codePrefix+codeHash, skCode),
		UpdateExpression:          aws.String(upd),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	})
	if err != nil {
		return fmt.Errorf("redeem code %s: %w", shortID(codeHash), classify(err, false))
	}
	return nil
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

// RevokeAccessToken records jti as revoked until exp (TTL).
func (s *Store) RevokeAccessToken(ctx context.Context, jti string, exp time.Time) error {
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: s.tableName(),
		Item: map[string]types.AttributeValue{
			aPK: str(jtiPrefix + jti), aSK: str(skJTI),
			aExpiresAt: str(fmtTime(exp)), aTTL: ttl(exp),
		},
	})
	if err != nil {
		return fmt.Errorf("revoke access token %q: %w", jti, classify(err, false))
	}
	return nil
}

// fetchAttempts bounds the retries of unprocessed keys in Fetch.
const fetchAttempts = 5

// Fetch reads every record named by k with one strongly consistent
// BatchGetItem (1 call; the token endpoint's read path). Keys DynamoDB
// leaves unprocessed (throttling) are retried a few times, then the result
// is ErrUnavailable. A link that is not active is absent; a code and a
// session are returned even when expired (the caller checks ExpiresAt).
func (s *Store) Fetch(ctx context.Context, k Keys) (Bundle, error) {
	return s.fetch(ctx, k)
}

func (s *Store) fetch(ctx context.Context, k Keys) (Bundle, error) {
	var keys []map[string]types.AttributeValue
	add := func(v, prefix, sk string) {
		if v != "" && !tooLong(v) {
			keys = append(keys, key(prefix+v, sk))
		}
	}
	// Up to three names of links; BatchGetItem refuses a key twice.
	var links []string
	for _, id := range []string{k.ClientID, k.TokenClientID, k.ResourceClientID} {
		if id != "" && !slices.Contains(links, id) {
			links = append(links, id)
			if !tooLong(id) {
				keys = append(keys, linkKey(id))
			}
		}
	}
	add(k.CodeHash, codePrefix, skCode)
	add(k.RefreshHash, refreshPrefix, skRefresh)
	add(k.SessionID, sessionPrefix, skSession)
	add(k.UserID, userPrefix, skUser)
	if ck := s.claimsKey(k.UserID); ck != nil {
		keys = append(keys, ck)
	}
	if k.UserID != "" && k.GrantClientID != "" && !tooLong(k.UserID, k.GrantClientID) {
		keys = append(keys, grantKey(k.UserID, k.GrantClientID))
	}
	add(k.JTI, jtiPrefix, skJTI)
	add(k.DeviceUserCode, devicePrefix, skDevice)
	resourcePK := ""
	if k.ResourceURI != "" {
		rk := resourceKey(k.ResourceURI)
		resourcePK = item(rk).s(aPK)
		keys = append(keys, rk)
	}
	var b Bundle
	if len(keys) == 0 {
		return b, nil
	}
	items, err := s.batchGet(ctx, "fetch", keys)
	if err != nil {
		return Bundle{}, err
	}
	for _, it := range items {
		switch pk := it.s(aPK); {
		case (strings.HasPrefix(pk, linkPrefix) || strings.HasPrefix(pk, metadataLinkPrefix)) && it.s(aSK) == skLink:
			l := activeLink(it)
			id := it.s(aClientID)
			if id == k.ClientID {
				b.Link = l
			}
			if id == k.TokenClientID {
				b.TokenLink = l
			}
			if id == k.ResourceClientID {
				b.ResourceLink = l
			}
		case pk == codePrefix+k.CodeHash:
			c := decodeCode(it)
			b.Code = &c
		case pk == refreshPrefix+k.RefreshHash:
			rt := decodeRefresh(it)
			b.Refresh = &rt
			if rt.Status == RefreshPending {
				// Written before its commit point (notx.go): valid only
				// once that names it.
				if b.Refresh, err = s.resolvePending(ctx, it); err != nil {
					return Bundle{}, fmt.Errorf("fetch: %w", err)
				}
			}
		case pk == sessionPrefix+k.SessionID:
			sess := decodeSession(it)
			b.Session = &sess
		case pk == grantsPrefix+k.UserID && it.s(aSK) == skGrantPrefix+k.GrantClientID:
			g := decodeGrant(it)
			b.Grant = &g
		case pk == userPrefix+k.UserID && it.s(aSK) == skUser:
			u := decodeUser(it)
			b.User = &u
		case pk == jtiPrefix+k.JTI:
			b.AccessRevoked = true
		case pk == devicePrefix+k.DeviceUserCode && it.s(aSK) == skDevice:
			d := decodeDevice(it)
			b.Device = &d
		case pk == resourcePK && it.s(aSK) == skResource && it.s(aResourceURI) == k.ResourceURI:
			b.Resource = &Resource{URI: k.ResourceURI, ClientID: it.s(aClientID)}
		}
	}
	s.applyClaims(&b, k.UserID, items)
	return b, nil
}

// batchGet reads keys (at most 100, none twice) with one strongly
// consistent BatchGetItem. Keys DynamoDB leaves unprocessed (throttling)
// are retried a few times, then the result is ErrUnavailable; op names the
// caller in errors.
func (s *Store) batchGet(ctx context.Context, op string, keys []map[string]types.AttributeValue) ([]item, error) {
	var items []item
	req := map[string]types.KeysAndAttributes{s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
	for attempt := 0; ; attempt++ {
		out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, classify(err, false))
		}
		for _, raw := range out.Responses[s.table] {
			items = append(items, item(raw))
		}
		left, ok := out.UnprocessedKeys[s.table]
		if !ok || len(left.Keys) == 0 {
			return items, nil
		}
		if attempt+1 >= fetchAttempts {
			return nil, fmt.Errorf("%s: keys left unprocessed: %w", op, shared.ErrUnavailable)
		}
		req = map[string]types.KeysAndAttributes{s.table: left}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: %w", op, classify(ctx.Err(), false))
		case <-time.After(time.Duration(10<<attempt) * time.Millisecond):
		}
	}
}
