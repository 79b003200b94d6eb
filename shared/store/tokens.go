package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store/table"
	"github.com/applinks/applinks/shared/web"
)

// CreateSession stores a session with a TTL at ExpiresAt.
func (s *Store) CreateSession(ctx context.Context, sess Session) error {
	e := newExpr()
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: s.tableName(),
		Item: map[string]types.AttributeValue{
			aPK: str(sessionPrefix + sess.ID), aSK: str(skSession),
			aUsername: str(sess.Username), aCSRF: str(sess.CSRF),
			aCreatedAt: str(fmtTime(sess.CreatedAt)), aExpiresAt: str(fmtTime(sess.ExpiresAt)),
			aTTL: ttl(sess.ExpiresAt),
		},
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
	return Session{
		ID: id, Username: it.s(aUsername), CSRF: it.s(aCSRF),
		CreatedAt: it.t(aCreatedAt), ExpiresAt: it.t(aExpiresAt),
	}, nil
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
		aUsername: str(c.Username), aScope: list(nonNil(c.Scope)),
		aCreatedAt: str(fmtTime(c.CreatedAt)), aExpiresAt: str(fmtTime(c.ExpiresAt)),
		aUsed: boolean(false), aTTL: ttl(c.ExpiresAt),
	}
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
		Hash:        strings.TrimPrefix(it.s(aPK), codePrefix),
		ClientID:    it.s(aClientID),
		RedirectURI: it.s(aRedirectURI),
		Challenge:   it.s(aChallenge),
		Username:    it.s(aUsername),
		Scope:       it.l(aScope),
		CreatedAt:   it.t(aCreatedAt),
		ExpiresAt:   it.t(aExpiresAt),
		Used:        it.b(aUsed),
		GrantID:     it.s(aGrantID),
	}
}

func grantItem(g Grant) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{
		aPK: str(grantPrefix + g.ID), aSK: str(skGrant),
		aID: str(g.ID), aClientID: str(g.ClientID), aUsername: str(g.Username),
		aScope: list(nonNil(g.Scope)), aCreatedAt: str(fmtTime(g.CreatedAt)),
		aUpdatedAt: str(fmtTime(g.UpdatedAt)), aRevoked: boolean(g.Revoked),
		table.GSI1.PartitionKey: str(linkGrantsPrefix + g.ClientID),
		table.GSI1.SortKey:      str(creationKey(g.CreatedAt, g.ID)),
		table.GSI2.PartitionKey: str(userGrantsPrefix + g.Username),
		table.GSI2.SortKey:      str(creationKey(g.CreatedAt, g.ID)),
	}
	if g.Revoked {
		it[aRevokedAt] = str(fmtTime(g.RevokedAt))
	}
	return it
}

func decodeGrant(it item) Grant {
	return Grant{
		ID: it.s(aID), ClientID: it.s(aClientID), Username: it.s(aUsername),
		Scope: it.l(aScope), CreatedAt: it.t(aCreatedAt), UpdatedAt: it.t(aUpdatedAt),
		Revoked: it.b(aRevoked), RevokedAt: it.t(aRevokedAt),
	}
}

func refreshItem(rt RefreshToken) map[string]types.AttributeValue {
	status := rt.Status
	if status == "" {
		status = RefreshActive
	}
	it := map[string]types.AttributeValue{
		aPK: str(refreshPrefix + rt.Hash), aSK: str(skRefresh),
		aGrantID: str(rt.GrantID), aClientID: str(rt.ClientID), aUsername: str(rt.Username),
		aScope: list(nonNil(rt.Scope)), aStatus: str(status),
		aCreatedAt: str(fmtTime(rt.CreatedAt)), aExpiresAt: str(fmtTime(rt.ExpiresAt)),
		aTTL: ttl(rt.ExpiresAt),
	}
	return it
}

func decodeRefresh(it item) RefreshToken {
	return RefreshToken{
		Hash: strings.TrimPrefix(it.s(aPK), refreshPrefix), GrantID: it.s(aGrantID),
		ClientID: it.s(aClientID), Username: it.s(aUsername), Scope: it.l(aScope),
		Status: it.s(aStatus), CreatedAt: it.t(aCreatedAt), ExpiresAt: it.t(aExpiresAt),
		RotatedAt: it.t(aRotatedAt), Successor: it.s(aSuccessor),
	}
}

// RedeemCode atomically (one transaction, 1 call) marks the code used with
// g.ID, and writes the grant g and its first refresh token rt (rt may be
// nil when no refresh token is issued). ErrConflict when the code was
// already used or has expired: nothing is written then.
func (s *Store) RedeemCode(ctx context.Context, codeHash string, g Grant, rt *RefreshToken, now time.Time) error {
	e := newExpr()
	upd := "SET " + e.n(aUsed) + " = " + e.v(boolean(true)) + ", " + e.n(aGrantID) + " = " + e.v(str(g.ID))
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
		s.putNew(grantItem(g)),
	}
	if rt != nil {
		items = append(items, s.putNew(refreshItem(*rt)))
	}
	if _, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
		return fmt.Errorf("redeem code %s: %w", shortID(codeHash), classify(err, false))
	}
	return nil
}

// grantNotRevoked is the ConditionCheck that a grant exists and is not
// revoked.
func (s *Store) grantNotRevoked(grantID string) types.TransactWriteItem {
	e := newExpr()
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName: s.tableName(), Key: key(grantPrefix+grantID, skGrant),
		ConditionExpression:       aws.String("attribute_exists(" + e.n(aPK) + ") AND " + e.n(aRevoked) + " = " + e.v(boolean(false))),
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
		s.grantNotRevoked(old.GrantID),
	}
	if _, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
		return fmt.Errorf("replace successor of %s: %w", shortID(old.Hash), classify(err, false))
	}
	return nil
}

// GetGrant reads a grant (ErrNotFound).
func (s *Store) GetGrant(ctx context.Context, id string) (Grant, error) {
	if tooLong(id) {
		return Grant{}, fmt.Errorf("get grant: %w", shared.ErrNotFound)
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.tableName(), Key: key(grantPrefix+id, skGrant), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Grant{}, fmt.Errorf("get grant %q: %w", id, classify(err, false))
	}
	if out.Item == nil {
		return Grant{}, fmt.Errorf("get grant %q: %w", id, shared.ErrNotFound)
	}
	return decodeGrant(out.Item), nil
}

// ListGrantsByLink lists the grants of a client id, newest first, with a
// cursor as in ListLinks.
func (s *Store) ListGrantsByLink(ctx context.Context, clientID string, limit int, cursor string) ([]Grant, string, error) {
	if tooLong(clientID) {
		return nil, "", nil
	}
	items, next, err := s.queryPage(ctx, gsiLinks, linkGrantsPrefix+clientID, false, limit, cursor)
	if err != nil {
		return nil, "", fmt.Errorf("list grants of link %q: %w", clientID, err)
	}
	grants := make([]Grant, len(items))
	for i, it := range items {
		grants[i] = decodeGrant(it)
	}
	return grants, next, nil
}

// ListGrantsByUser lists every grant of a user (active and revoked), newest
// first.
func (s *Store) ListGrantsByUser(ctx context.Context, username string) ([]Grant, error) {
	if tooLong(username) {
		return nil, nil
	}
	items, err := s.queryAll(ctx, gsiUserGrants, userGrantsPrefix+username, false)
	if err != nil {
		return nil, fmt.Errorf("list grants of user %q: %w", username, err)
	}
	grants := make([]Grant, len(items))
	for i, it := range items {
		grants[i] = decodeGrant(it)
	}
	return grants, nil
}

// queryAll reads every item of partition pk of index g, page by page.
func (s *Store) queryAll(ctx context.Context, g table.Index, pk string, forward bool) ([]item, error) {
	e := newExpr()
	in := &dynamodb.QueryInput{
		TableName:                 s.tableName(),
		IndexName:                 aws.String(g.Name),
		KeyConditionExpression:    aws.String(e.n(g.PartitionKey) + " = " + e.v(str(pk))),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
		ScanIndexForward:          aws.Bool(forward),
	}
	var items []item
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, classify(err, false)
		}
		for _, it := range out.Items {
			items = append(items, it)
		}
		if out.LastEvaluatedKey == nil {
			return items, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// revokeAll revokes every grant in partition pk of index g that is not
// revoked yet.
func (s *Store) revokeAll(ctx context.Context, g table.Index, pk, reason string, now time.Time) error {
	items, err := s.queryAll(ctx, g, pk, true)
	if err != nil {
		return err
	}
	for _, it := range items {
		if it.b(aRevoked) {
			continue
		}
		if err := s.RevokeGrant(ctx, it.s(aID), now); err != nil {
			return err
		}
		// SPEC "Errors and logs": a revoked grant is an audit event, whoever
		// revokes it; the handlers log the others.
		web.Audit(ctx, "grant_revoked", "grant_id", it.s(aID), "client_id", it.s(aClientID),
			"username", it.s(aUsername), "reason", reason)
	}
	return nil
}

// RevokeGrant marks a grant revoked (idempotent; ErrNotFound when absent).
// From then on every token of it is inactive: refresh and introspection
// check the grant. The first revocation time is kept.
func (s *Store) RevokeGrant(ctx context.Context, id string, now time.Time) error {
	if tooLong(id) {
		return fmt.Errorf("revoke grant: %w", shared.ErrNotFound)
	}
	e := newExpr()
	upd := "SET " + e.n(aRevoked) + " = " + e.v(boolean(true)) + ", " +
		e.n(aRevokedAt) + " = if_not_exists(" + e.n(aRevokedAt) + ", " + e.v(str(fmtTime(now))) + "), " +
		e.n(aUpdatedAt) + " = " + e.v(str(fmtTime(now)))
	_, err := s.updateItem(ctx, key(grantPrefix+id, skGrant), upd, "attribute_exists("+e.n(aPK)+")", e)
	if err != nil {
		return fmt.Errorf("revoke grant %q: %w", id, notFoundOnConflict(classify(err, false)))
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
// is ErrUnavailable. A link that is not active is absent; a code is
// returned even when expired (the caller checks ExpiresAt).
func (s *Store) Fetch(ctx context.Context, k Keys) (Bundle, error) {
	b, err := s.fetch(ctx, k)
	if err == nil && k.TokenClientID != "" && k.TokenClientID == k.ClientID {
		b.TokenLink = b.Link
	}
	return b, err
}

func (s *Store) fetch(ctx context.Context, k Keys) (Bundle, error) {
	var keys []map[string]types.AttributeValue
	add := func(v, prefix, sk string) {
		if v != "" && !tooLong(v) {
			keys = append(keys, key(prefix+v, sk))
		}
	}
	add(k.ClientID, linkPrefix, skLink)
	add(k.CodeHash, codePrefix, skCode)
	add(k.RefreshHash, refreshPrefix, skRefresh)
	add(k.GrantID, grantPrefix, skGrant)
	add(k.Username, userPrefix, skUser)
	add(k.JTI, jtiPrefix, skJTI)
	if k.TokenClientID != k.ClientID {
		add(k.TokenClientID, linkPrefix, skLink) // BatchGetItem refuses a key twice
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
		case pk == linkPrefix+k.ClientID && it.s(aSK) == skLink:
			b.Link = activeLink(it)
		case pk == linkPrefix+k.TokenClientID && it.s(aSK) == skLink:
			b.TokenLink = activeLink(it)
		case pk == codePrefix+k.CodeHash:
			c := decodeCode(it)
			b.Code = &c
		case pk == refreshPrefix+k.RefreshHash:
			rt := decodeRefresh(it)
			b.Refresh = &rt
		case pk == grantPrefix+k.GrantID:
			g := decodeGrant(it)
			b.Grant = &g
		case pk == userPrefix+k.Username && it.s(aSK) == skUser:
			u := decodeUser(it)
			b.User = &u
		case pk == jtiPrefix+k.JTI:
			b.AccessRevoked = true
		}
	}
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
