package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store/table"
	"github.com/applinks/applinks/shared/web"
)

// RevokedGrantTTL is how long a revoked grant stays in the table, still
// listed with its link (revoked, with when), as long as the activity
// events are kept; DynamoDB's TTL then removes it. An absent grant is as
// dead as a revoked one: every token and code names its grant's ID, and a
// new authorization gets a new ID (its item replaces the revoked one).
const RevokedGrantTTL = 90 * 24 * time.Hour

func grantKey(userID, clientID string) map[string]types.AttributeValue {
	return key(grantsPrefix+userID, skGrantPrefix+clientID)
}

func grantItem(g Grant) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		aPK: str(grantsPrefix + g.UserID), aSK: str(skGrantPrefix + g.ClientID),
		aID: str(g.ID), aUserID: str(g.UserID), aUsername: str(g.Username), aClientID: str(g.ClientID),
		aScope: list(nonNil(g.Scope)), aProtocol: list(nonNil(g.Protocol)), aCreatedAt: str(fmtTime(g.CreatedAt)),
		aUpdatedAt: str(fmtTime(g.UpdatedAt)), aRevoked: boolean(false),
		table.GSI1.PartitionKey: str(linkGrantsPrefix + g.ClientID),
		table.GSI1.SortKey:      str(creationKey(g.CreatedAt, g.UserID)),
	}
}

func decodeGrant(it item) Grant {
	return Grant{
		ID: it.s(aID), UserID: it.s(aUserID), Username: it.s(aUsername), ClientID: it.s(aClientID),
		Scope: it.l(aScope), Protocol: it.l(aProtocol), CreatedAt: it.t(aCreatedAt), UpdatedAt: it.t(aUpdatedAt),
		Revoked: it.b(aRevoked), RevokedAt: it.t(aRevokedAt),
	}
}

// userActive is the ConditionCheck that the user with id exists and is not
// disabled: a grant is only ever written for such a user, so a user's
// deletion or disabling, followed by a strongly consistent read of their
// grants partition, sees every grant there will ever be.
func (s *Store) userActive(id string) types.TransactWriteItem {
	e := newExpr()
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName: s.tableName(), Key: key(userPrefix+id, skUser),
		ConditionExpression:       aws.String("attribute_exists(" + e.n(aPK) + ") AND " + e.n(aDisabled) + " = " + e.v(boolean(false))),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	}}
}

// ApproveGrant records that the user g.UserID approved g.Scope for
// g.ClientID, and returns the grant as stored. When the user already has an
// active grant for the client, it is updated: its ID is kept, its scope
// becomes merge(stored, g.Scope) (the caller's rule, e.g. the union of the
// two in catalog order) and UpdatedAt moves to now. Otherwise a new grant
// is written with g.ID, a fresh random id chosen by the caller, replacing a
// revoked one. Each write is one transaction with a check that the user
// exists and is not disabled (ErrNotFound otherwise); a concurrent change
// of the grant is retried. Without transactions, the grant is written
// alone and the user read after it (approveNoTx). 2 to 3 calls (a read, a transaction, rarely
// another round).
func (s *Store) ApproveGrant(ctx context.Context, g Grant, merge func(stored, approved []string) []string, now time.Time) (Grant, error) {
	if g.ID == "" || tooLong(g.UserID, g.ClientID) {
		return Grant{}, fmt.Errorf("approve grant: %w", shared.ErrNotFound)
	}
	for range 3 {
		cur, err := s.GetGrant(ctx, g.UserID, g.ClientID)
		if err != nil && !errors.Is(err, shared.ErrNotFound) {
			return Grant{}, fmt.Errorf("approve grant: %w", err)
		}
		var write types.TransactWriteItem
		out := g
		if err == nil && !cur.Revoked {
			out = cur
			out.Scope = merge(cur.Scope, g.Scope)
			out.Protocol = unionOrdered(cur.Protocol, g.Protocol)
			out.UpdatedAt = now
			e := newExpr()
			up := update{e: e}
			up.Set(aScope, list(nonNil(out.Scope)))
			up.Set(aProtocol, list(nonNil(out.Protocol)))
			up.Set(aUpdatedAt, str(fmtTime(now)))
			write = types.TransactWriteItem{Update: &types.Update{
				TableName: s.tableName(), Key: grantKey(g.UserID, g.ClientID),
				UpdateExpression: aws.String(up.String()),
				ConditionExpression: aws.String(e.n(aID) + " = " + e.v(str(cur.ID)) + " AND " +
					e.n(aRevoked) + " = " + e.v(boolean(false))),
				ExpressionAttributeNames:  e.Names(),
				ExpressionAttributeValues: e.Values(),
			}}
		} else {
			out.CreatedAt, out.UpdatedAt, out.Revoked, out.RevokedAt = now, now, false, time.Time{}
			e := newExpr()
			write = types.TransactWriteItem{Put: &types.Put{
				TableName: s.tableName(), Item: grantItem(out),
				ConditionExpression: aws.String("attribute_not_exists(" + e.n(aPK) + ") OR " +
					e.n(aRevoked) + " = " + e.v(boolean(true))),
				ExpressionAttributeNames:  e.Names(),
				ExpressionAttributeValues: e.Values(),
			}}
		}
		var guard []types.TransactWriteItem
		if g.DynamicLink {
			guard = s.dynamicLinkGuard(g.ClientID, now)
		}
		if s.notx {
			err = s.approveNoTx(ctx, out, write, guard, now)
		} else {
			err = s.transact(ctx, append([]types.TransactWriteItem{write, s.userActive(g.UserID)}, guard...))
		}
		if err == nil {
			out.DynamicLink = false
			return out, nil
		}
		if !errors.Is(err, shared.ErrConflict) {
			return Grant{}, fmt.Errorf("approve grant: %w", err)
		}
		if g.DynamicLink {
			if _, lerr := s.GetLinkByClientID(ctx, g.ClientID); lerr != nil {
				return Grant{}, fmt.Errorf("approve grant: %w", lerr) // deleted meanwhile: ErrNotFound
			}
		}
		// The grant changed meanwhile, or the user is gone or disabled.
		u, uerr := s.GetUser(ctx, g.UserID)
		if uerr != nil {
			return Grant{}, fmt.Errorf("approve grant: %w", uerr)
		}
		if u.Disabled {
			return Grant{}, fmt.Errorf("approve grant: user disabled: %w", shared.ErrNotFound)
		}
	}
	return Grant{}, fmt.Errorf("approve grant: too much contention: %w", shared.ErrUnavailable)
}

// unionOrdered is a followed by the members of b not in a.
func unionOrdered(a, b []string) []string {
	out := append([]string(nil), a...)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// GetGrant reads the grant of a user for a client, revoked or not (1
// strongly consistent GetItem; ErrNotFound).
func (s *Store) GetGrant(ctx context.Context, userID, clientID string) (Grant, error) {
	if userID == "" || clientID == "" || tooLong(userID, clientID) {
		return Grant{}, fmt.Errorf("get grant: %w", shared.ErrNotFound)
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.tableName(), Key: grantKey(userID, clientID), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Grant{}, fmt.Errorf("get grant of %s for %q: %w", userID, clientID, classify(err, false))
	}
	if out.Item == nil {
		return Grant{}, fmt.Errorf("get grant of %s for %q: %w", userID, clientID, shared.ErrNotFound)
	}
	return decodeGrant(out.Item), nil
}

// ListGrantsByLink lists the grants of a client id (one per user): the
// active ones and those revoked in the last RevokedGrantTTL, newest
// authorization first, with a cursor as in ListLinks. The index is
// eventually consistent: a grant revoked a moment ago may still read active
// here (GetGrant reads it as it is).
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

// ListGrantsByUser lists the grants of a user, one per link: the active
// ones and those revoked in the last RevokedGrantTTL (not yet reaped). One
// strongly consistent Query of the user's grants partition (more pages
// only past 1 MB, some thousands of links).
func (s *Store) ListGrantsByUser(ctx context.Context, userID string) ([]Grant, error) {
	if userID == "" || tooLong(userID) {
		return nil, nil
	}
	e := newExpr()
	in := &dynamodb.QueryInput{
		TableName:                 s.tableName(),
		KeyConditionExpression:    aws.String(e.n(aPK) + " = " + e.v(str(grantsPrefix+userID))),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
		ConsistentRead:            aws.Bool(true),
	}
	var grants []Grant
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list grants of user %s: %w", userID, classify(err, false))
		}
		for _, it := range out.Items {
			grants = append(grants, decodeGrant(it))
		}
		if out.LastEvaluatedKey == nil {
			return grants, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// RevokeGrant revokes the grant of userID for clientID (1 UpdateItem) and
// returns it: revoked, still in the link's listing, and removed by TTL
// after RevokedGrantTTL. From then on every code and token of it is refused
// (they name its ID, and a new authorization gets a new one). With id set,
// only the grant with that ID is revoked (reuse detection: a replayed token
// of an earlier grant must not end a newer one): ErrNotFound otherwise, as
// for an absent grant. Revoking a revoked grant keeps its first time. A
// transaction in flight on the grant (TransactionConflictException) is
// waited for (RetryInFlight): ErrUnavailable if it outlasts the retries,
// never ErrNotFound.
func (s *Store) RevokeGrant(ctx context.Context, userID, clientID, id string, now time.Time) (Grant, error) {
	if userID == "" || clientID == "" || tooLong(userID, clientID) {
		return Grant{}, fmt.Errorf("revoke grant: %w", shared.ErrNotFound)
	}
	e := newExpr()
	upd := "SET " + e.n(aRevoked) + " = " + e.v(boolean(true)) + ", " +
		e.n(aRevokedAt) + " = if_not_exists(" + e.n(aRevokedAt) + ", " + e.v(str(fmtTime(now))) + "), " +
		e.n(aTTL) + " = if_not_exists(" + e.n(aTTL) + ", " + e.v(ttl(now.Add(RevokedGrantTTL))) + ")"
	cond := "attribute_exists(" + e.n(aPK) + ")"
	if id != "" {
		cond += " AND " + e.n(aID) + " = " + e.v(str(id))
	}
	var out *dynamodb.UpdateItemOutput
	update := func() (err error) {
		out, err = s.updateItem(ctx, grantKey(userID, clientID), upd, cond, e)
		return classify(err, false)
	}
	// A transaction writing or checking the grant at that moment (an
	// approval, ReplaceSuccessor) refuses this write without deciding
	// anything: not a failed condition, and nothing was revoked.
	if err := RetryInFlight(ctx, update(), update); err != nil {
		return Grant{}, fmt.Errorf("revoke grant of %s for %q: %w", userID, clientID, notFoundOnConflict(err))
	}
	return decodeGrant(out.Attributes), nil
}

// RevokeUserGrants revokes every active grant of a user (incident
// response, and part of disabling, a new password and deletion): one
// strongly consistent Query of the user's grants partition, then one
// UpdateItem per active grant, each audited with reason.
func (s *Store) RevokeUserGrants(ctx context.Context, userID, reason string, now time.Time) error {
	grants, err := s.ListGrantsByUser(ctx, userID)
	if err != nil {
		return fmt.Errorf("revoke grants: %w", err)
	}
	for _, g := range grants {
		if g.Revoked {
			continue
		}
		if err := s.revokeAudited(ctx, g, reason, now); err != nil {
			return err
		}
	}
	return nil
}

// revokeLinkGrants revokes every active grant of a link (its deletion;
// revoked ones are skipped):
// the link's grants come from gsi1, which is eventually consistent; the
// handlers also refuse every token whose link is gone, so a grant the
// index had not shown yet is harmless.
func (s *Store) revokeLinkGrants(ctx context.Context, clientID, reason string, now time.Time) error {
	cursor := ""
	for {
		grants, next, err := s.ListGrantsByLink(ctx, clientID, clampLimit(100), cursor)
		if err != nil {
			return err
		}
		for _, g := range grants {
			if g.Revoked {
				continue
			}
			if err := s.revokeAudited(ctx, g, reason, now); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
}

// revokeAudited revokes g (only that incarnation) and audits it with
// reason (RevokeGrantAudited). A grant already gone or replaced is skipped.
func (s *Store) revokeAudited(ctx context.Context, g Grant, reason string, now time.Time) error {
	if _, err := RevokeGrantAudited(ctx, s, g.UserID, g.ClientID, g.ID, now, nil, "reason", reason); err != nil && !errors.Is(err, shared.ErrNotFound) {
		return err
	}
	return nil
}

// GrantRevoker is the store method RevokeGrantAudited calls (Store's
// RevokeGrant; each function's store interface has it).
type GrantRevoker interface {
	RevokeGrant(ctx context.Context, userID, clientID, id string, now time.Time) (Grant, error)
}

// AuditFunc writes one audit line (web.Audit's signature; the console's
// call.audit adds who and how, and records the event).
type AuditFunc func(ctx context.Context, event string, attrs ...any)

// RevokeGrantAudited is the one way a grant is revoked: RevokeGrant (its
// arguments and errors, ErrNotFound included, returned as they are), then
// the grant_revoked audit event (SPEC "Errors and logs": a revoked grant
// is an audit event, whoever revokes it) with the revoked grant's
// grant_id, client_id, user_id and username, followed by attrs (who or
// why: "reason", "by", "link_id"). audit nil is web.Audit.
func RevokeGrantAudited(ctx context.Context, s GrantRevoker, userID, clientID, id string, now time.Time, audit AuditFunc, attrs ...any) (Grant, error) {
	g, err := s.RevokeGrant(ctx, userID, clientID, id, now)
	if err != nil {
		return g, err
	}
	if audit == nil {
		audit = web.Audit
	}
	audit(ctx, "grant_revoked", append([]any{"grant_id", g.ID, "client_id", g.ClientID,
		"user_id", g.UserID, "username", g.Username}, attrs...)...)
	return g, nil
}
