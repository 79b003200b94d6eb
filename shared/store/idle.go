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

// The idle clean-up of links that registered themselves (RFC 7591): a
// dynamic link unused for the policy's idle days, with no live grant, is
// deleted by a daily job. "Never a link with a live grant" must hold under
// concurrency, while the grants live in their users' partitions and the
// index that lists a link's grants is eventually consistent. So a consent
// to a dynamic link (ApproveGrant with Grant.DynamicLink) is one
// transaction that also checks that the link is active and records the
// consent's time in the link's consent item (CONSENTED#<client_id>, the
// authorize function's own prefix), and the clean-up turns the link to
// deleting in one transaction with checks that it was neither used nor
// consented to since the cut-off. Either the consent commits first (the
// clean-up's check fails) or the clean-up does (the consent's check
// fails); every grant older than the cut-off is in the index long before
// the clean-up reads it.
const (
	consentedPrefix = "CONSENTED#"
	skConsented     = "CONSENTED"
	aConsentedAt    = "consented_at"
)

func consentedKey(clientID string) map[string]types.AttributeValue {
	return key(consentedPrefix+clientID, skConsented)
}

// dynamicLinkGuard is what a consent to a dynamic link adds to
// ApproveGrant's transaction: the link is still active (not being deleted
// by the clean-up), and the consent's time is recorded.
func (s *Store) dynamicLinkGuard(clientID string, now time.Time) []types.TransactWriteItem {
	e := newExpr()
	check := types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName: s.tableName(), Key: key(linkPrefix+clientID, skLink),
		ConditionExpression:       aws.String(e.n(aState) + " = " + e.v(str(stateActive))),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	}}
	e2 := newExpr()
	u := update{e: e2}
	u.Set(aConsentedAt, str(fmtTime(now)))
	u.Set(aClientID, str(clientID))
	// Refused while the clean-up is closing the link (mode without
	// transactions: DeleteIdleLink sets closing first; see notx.go).
	mark := types.TransactWriteItem{Update: &types.Update{
		TableName: s.tableName(), Key: consentedKey(clientID),
		UpdateExpression:          aws.String(u.String()),
		ConditionExpression:       aws.String("attribute_not_exists(" + e2.n(aClosing) + ")"),
		ExpressionAttributeNames:  e2.Names(),
		ExpressionAttributeValues: e2.Values(),
	}}
	return []types.TransactWriteItem{check, mark}
}

// IdleCheck says what idle means for DeleteIdleLink.
type IdleCheck struct {
	// UnusedSince: the link was created, last used and last consented to
	// before it (now less the policy's idle days).
	UnusedSince time.Time
	// LiveSince: a grant not revoked and approved or used since then is
	// live (now less the refresh tokens' lifetime: an older grant has no
	// refresh token left that could still be redeemed).
	LiveSince time.Time
}

// DeleteIdleLink deletes the dynamic link clientID when it is idle and has
// no live grant, and reports whether it did; a link that is not dynamic,
// not idle, or has a live grant is left as it is (false, nil). The
// deletion is DeleteLink's: every grant of the link is revoked, its secret
// and items deleted.
func (s *Store) DeleteIdleLink(ctx context.Context, clientID string, idle IdleCheck, now time.Time) (bool, error) {
	l, err := s.GetLinkByClientID(ctx, clientID)
	if errors.Is(err, shared.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("delete idle link: %w", err)
	}
	if l.Origin != shared.OriginDynamic || !l.CreatedAt.Before(idle.UnusedSince) {
		return false, nil
	}
	live, err := s.hasLiveGrant(ctx, clientID, idle.LiveSince)
	if err != nil || live {
		return false, err
	}
	cutoff := str(fmtTime(idle.UnusedSince))
	e := newExpr()
	u := update{e: e}
	u.Set(aState, str(stateDeleting))
	u.Set(aUpdatedAt, str(fmtTime(now)))
	u.Remove(gsiLinks.PartitionKey)
	u.Remove(gsiLinks.SortKey)
	flip := types.TransactWriteItem{Update: &types.Update{
		TableName: s.tableName(), Key: key(linkPrefix+clientID, skLink),
		UpdateExpression: aws.String(u.String()),
		ConditionExpression: aws.String(e.n(aState) + " = " + e.v(str(stateActive)) + " AND " +
			e.n(aOrigin) + " = " + e.v(str(shared.OriginDynamic)) + " AND " + e.n(aCreatedAt) + " < " + e.v(cutoff)),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	}}
	notSince := func(k map[string]types.AttributeValue, attr string) types.TransactWriteItem {
		e := newExpr()
		return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName: s.tableName(), Key: k,
			ConditionExpression:       aws.String("attribute_not_exists(" + e.n(attr) + ") OR " + e.n(attr) + " < " + e.v(cutoff)),
			ExpressionAttributeNames:  e.Names(),
			ExpressionAttributeValues: e.Values(),
		}}
	}
	if s.notx {
		err = s.closeIdleNoTx(ctx, clientID, cutoff, flip)
	} else {
		err = s.transact(ctx, []types.TransactWriteItem{
			flip,
			notSince(LastUseRef{ClientID: clientID}.key(), aLastUsedAt),
			notSince(consentedKey(clientID), aConsentedAt),
		})
	}
	if err != nil {
		if errors.Is(err, shared.ErrConflict) {
			return false, nil // used, consented to or changed meanwhile
		}
		return false, fmt.Errorf("delete idle link %q: %w", clientID, err)
	}
	if err := s.DeleteLink(ctx, l.ID, now); err != nil {
		return false, fmt.Errorf("delete idle link: %w", err)
	}
	// The consent item goes with the link (a retry finds nothing to do).
	if _, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: s.tableName(), Key: consentedKey(clientID)}); err != nil {
		return true, fmt.Errorf("delete idle link %q: consent item: %w", clientID, classify(err, false))
	}
	return true, nil
}

// hasLiveGrant reports whether the link has a grant that is not revoked
// and was approved or used at or after since.
func (s *Store) hasLiveGrant(ctx context.Context, clientID string, since time.Time) (bool, error) {
	cursor := ""
	for {
		grants, next, err := s.ListGrantsByLink(ctx, clientID, 100, cursor)
		if err != nil {
			return false, fmt.Errorf("grants of %q: %w", clientID, err)
		}
		refs := make([]LastUseRef, 0, len(grants))
		for _, g := range grants {
			if g.Revoked {
				continue
			}
			if !g.UpdatedAt.Before(since) {
				return true, nil
			}
			refs = append(refs, LastUseRef{ClientID: clientID, UserID: g.UserID, GrantID: g.ID})
		}
		used, err := s.LastUses(ctx, refs)
		if err != nil {
			return false, err
		}
		for _, at := range used {
			if !at.Before(since) {
				return true, nil
			}
		}
		if next == "" {
			return false, nil
		}
		cursor = next
	}
}
