package store

import (
	"context"
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

// RedeemCode atomically (one transaction, 1 call) marks the code used and
// writes the first refresh token rt of a new family of its grant (rt may be
// nil when no refresh token is issued). ErrConflict when the code was
// already used or has expired: nothing is written then. The grant is not
// written: the user's approval did that (ApproveGrant), and the caller
// checked just before that the code's grant is still active.
func (s *Store) RedeemCode(ctx context.Context, codeHash string, rt *RefreshToken, now time.Time) error {
	e := newExpr()
	upd := "SET " + e.n(aUsed) + " = " + e.v(boolean(true))
	cond := "attribute_exists(" + e.n(aPK) + ") AND " + e.n(aUsed) + " = " + e.v(boolean(false)) +
		" AND " + e.n(aExpiresAt) + " > " + e.v(str(fmtTime(now)))
	items := []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: s.tableName(), Key: key(codePrefix+codeHash, skCode),
			UpdateExpression:          aws.String(upd),
			ConditionExpression:       aws.String(cond),
			ExpressionAttributeNames:  e.Names(),
			ExpressionAttributeValues: e.Values(),
		}},
	}
	if rt != nil {
		items = append(items, s.putNew(refreshItem(*rt)))
	}
	if _, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
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

// RotateRefresh atomically (one transaction of two items, 1 call) marks old
// rotated (condition: still active) with next as its successor and writes
// next. ErrConflict when old is no longer active: nothing is written then.
//
// The grant is not checked here: the caller reads it (with the user, in one
// Fetch) just before. A transaction item costs two write units, so a
// ConditionCheck on the grant would add a third of the refresh's cost, for
// one case only: a revocation landing between that read and this write.
// The rotation then goes through, but its tokens are inactive at once,
// because introspection and every refresh check the grant.
func (s *Store) RotateRefresh(ctx context.Context, old RefreshToken, next RefreshToken, now time.Time) error {
	e := newExpr()
	upd := "SET " + e.n(aStatus) + " = " + e.v(str(RefreshRotated)) + ", " +
		e.n(aRotatedAt) + " = " + e.v(str(fmtTime(now))) + ", " +
		e.n(aSuccessor) + " = " + e.v(str(next.Hash))
	cond := e.n(aStatus) + " = " + e.v(str(RefreshActive))
	items := []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: s.tableName(), Key: key(refreshPrefix+old.Hash, skRefresh),
			UpdateExpression:          aws.String(upd),
			ConditionExpression:       aws.String(cond),
			ExpressionAttributeNames:  e.Names(),
			ExpressionAttributeValues: e.Values(),
		}},
		s.putNew(refreshItem(next)),
	}
	if _, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
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
	succUpd := "SET " + es.n(aStatus) + " = " + es.v(str(RefreshReplaced))
	succCond := es.n(aStatus) + " = " + es.v(str(RefreshActive))
	eo := newExpr()
	oldUpd := "SET " + eo.n(aSuccessor) + " = " + eo.v(str(next.Hash))
	oldCond := eo.n(aStatus) + " = " + eo.v(str(RefreshRotated)) + " AND " +
		eo.n(aSuccessor) + " = " + eo.v(str(old.Successor))
	items := []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: s.tableName(), Key: key(refreshPrefix+old.Successor, skRefresh),
			UpdateExpression:          aws.String(succUpd),
			ConditionExpression:       aws.String(succCond),
			ExpressionAttributeNames:  es.Names(),
			ExpressionAttributeValues: es.Values(),
		}},
		{Update: &types.Update{
			TableName: s.tableName(), Key: key(refreshPrefix+old.Hash, skRefresh),
			UpdateExpression:          aws.String(oldUpd),
			ConditionExpression:       aws.String(oldCond),
			ExpressionAttributeNames:  eo.Names(),
			ExpressionAttributeValues: eo.Values(),
		}},
		s.putNew(refreshItem(next)),
		s.grantNotRevoked(old),
	}
	if _, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
		return fmt.Errorf("replace successor of %s: %w", shortID(old.Hash), classify(err, false))
	}
	return nil
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
