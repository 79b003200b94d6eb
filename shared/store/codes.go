package store

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

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

// aRedeemedBy is the attribute of a redeemed code naming its redemption:
// the hash of the first refresh token it wrote, or a random marker when it
// wrote none. It makes RedeemCode's write repeatable by the same
// redemption (an SDK retry after a lost answer) and by no other.
const aRedeemedBy = "redeemed_by"

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
