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
)

// The store without transactions (Options.NoTransactions, config
// STORE_TRANSACTIONS=off), for a DynamoDB global table with multi-Region
// strong consistency (MRSC), which refuses TransactWriteItems. Every change
// that a transaction makes in the default mode is made here by single-item
// conditional writes in an order around one commit point: the write whose
// condition decides. What is written before it is invisible to readers
// until the commit point names it (a pending refresh token, a pointer whose
// owner does not list it); what is written after it is rolled forward by
// whoever finds it unfinished, or is harmless when left (a pointer to
// nothing). docs/multi-region.md has the design, operation by operation;
// README.md the atomicity of each.
//
// The conditions are those of the transactional mode: each operation
// builds its items once and either sends them in one transaction or hands
// them to writeOne in its order.

// Attributes of the mode without transactions.
const (
	// aParentPK and aParentSK name the commit point of a pending refresh
	// token: the code, device authorization or refresh token whose
	// conditional write decides whether the token exists. The commit point
	// names the token in aCommitRT (a code, a device authorization),
	// aSuccessor (a rotated token) or aReplacedBy (a successor replaced
	// within the reuse grace).
	aParentPK = "parent_pk"
	aParentSK = "parent_sk"
	// aGraceOf is, on the pending token of ReplaceSuccessor, the rotated
	// token whose successor it becomes when rolled forward.
	aGraceOf    = "grace_of"
	aCommitRT   = "rt"
	aReplacedBy = "replaced_by"
	// aClaimedAt is when a pointer item (a username, an upstream identity,
	// an issuer, a resource URI) was written: a pointer its target does not
	// confirm is taken over only when older than orphanAfter, so a creation
	// in flight (pointer written, target not yet) keeps it.
	aClaimedAt = "claimed_at"
	// aClosing is set on CONSENTED#<client id> by the idle-link clean-up
	// before it deletes the link: a consent is refused from then on.
	aClosing = "closing"
)

// RefreshPending is the state of a refresh token written before its commit
// point (mode without transactions): it is valid only once the commit point
// names it, and Fetch then rolls it forward to active; otherwise it does not
// exist for readers.
const RefreshPending = "pending"

// orphanAfter is how old a pointer its target does not confirm must be
// before another writer takes it over: longer than any operation in flight
// takes between writing a pointer and its target.
const orphanAfter = 5 * time.Minute

// writeOne sends one item of a transaction as its own conditional write (a
// ConditionCheck has no single-item form: the callers read instead).
func (s *Store) writeOne(ctx context.Context, w types.TransactWriteItem) error {
	var err error
	switch {
	case w.Put != nil:
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: w.Put.TableName, Item: w.Put.Item, ConditionExpression: w.Put.ConditionExpression,
			ExpressionAttributeNames: w.Put.ExpressionAttributeNames, ExpressionAttributeValues: w.Put.ExpressionAttributeValues,
		})
	case w.Update != nil:
		_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: w.Update.TableName, Key: w.Update.Key, UpdateExpression: w.Update.UpdateExpression,
			ConditionExpression:      w.Update.ConditionExpression,
			ExpressionAttributeNames: w.Update.ExpressionAttributeNames, ExpressionAttributeValues: w.Update.ExpressionAttributeValues,
		})
	case w.Delete != nil:
		_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: w.Delete.TableName, Key: w.Delete.Key, ConditionExpression: w.Delete.ConditionExpression,
			ExpressionAttributeNames: w.Delete.ExpressionAttributeNames, ExpressionAttributeValues: w.Delete.ExpressionAttributeValues,
		})
	default:
		return errors.New("write one item: a condition check is not a write")
	}
	return classify(err, false)
}

// writeAll sends ws in order, each on its own (writeOne), and stops at the
// first failure.
func (s *Store) writeAll(ctx context.Context, ws []types.TransactWriteItem) error {
	for _, w := range ws {
		if err := s.writeOne(ctx, w); err != nil {
			return err
		}
	}
	return nil
}

// transact writes ws in one transaction, the default mode's way.
func (s *Store) transact(ctx context.Context, ws []types.TransactWriteItem) error {
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: ws})
	return classify(err, false)
}

// rolledForward runs a step after a commit point, which a reader may have
// run already: a failed condition means it did.
func rolledForward(err error) error {
	if errors.Is(err, shared.ErrConflict) && !errors.Is(err, ErrTransactionConflict) {
		return nil
	}
	return err
}

// pendingRefresh is the put of rt in state pending, naming its commit point
// (and, for ReplaceSuccessor, the rotated token graceOf).
func (s *Store) pendingRefresh(rt RefreshToken, parent map[string]types.AttributeValue, graceOf string) types.TransactWriteItem {
	rt.Status = RefreshPending
	it := refreshItem(rt)
	it[aParentPK], it[aParentSK] = parent[aPK], parent[aSK]
	if graceOf != "" {
		it[aGraceOf] = str(graceOf)
	}
	return s.putNew(it)
}

// activateRefresh turns a pending refresh token active (condition: still
// pending; a failed one means a reader rolled it forward).
func (s *Store) activateRefresh(ctx context.Context, hash string) error {
	e := newExpr()
	_, err := s.updateItem(ctx, key(refreshPrefix+hash, skRefresh),
		"SET "+e.n(aStatus)+" = "+e.v(str(RefreshActive)),
		e.n(aStatus)+" = "+e.v(str(RefreshPending)), e)
	return rolledForward(classify(err, false))
}

// dropPending deletes a pending refresh token whose commit point failed
// (best effort: left, it is never valid, and its TTL or the sweeper
// removes it).
func (s *Store) dropPending(ctx context.Context, hash string) {
	e := newExpr()
	_, _ = s.db.DeleteItem(context.WithoutCancel(ctx), &dynamodb.DeleteItemInput{
		TableName: s.tableName(), Key: key(refreshPrefix+hash, skRefresh),
		ConditionExpression:       aws.String(e.n(aStatus) + " = " + e.v(str(RefreshPending))),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	})
}

// issueAfter is the shape of every change that issues the first or the
// next refresh token without a transaction: rt is written pending, naming
// the commit point parent; decide, the commit point's conditional write,
// names rt (aCommitRT, aSuccessor or aReplacedBy) and decides; then the
// steps of after (each a failed condition meaning a reader did it) and rt
// becomes active. A failed decide drops the pending token and is the
// answer; a failure after it leaves a state Fetch rolls forward.
func (s *Store) issueAfter(ctx context.Context, rt *RefreshToken, parent map[string]types.AttributeValue, graceOf string,
	decide types.TransactWriteItem, after ...types.TransactWriteItem) error {
	if rt != nil {
		if err := s.writeOne(ctx, s.pendingRefresh(*rt, parent, graceOf)); err != nil {
			return err
		}
	}
	if err := s.writeOne(ctx, decide); err != nil {
		if rt != nil {
			s.dropPending(ctx, rt.Hash)
		}
		return err
	}
	for _, w := range after {
		if err := rolledForward(s.writeOne(ctx, w)); err != nil {
			return err
		}
	}
	if rt != nil {
		return s.activateRefresh(ctx, rt.Hash)
	}
	return nil
}

// resolvePending decides what a pending refresh token read by Fetch is: its
// commit point names it (a crash, or a writer still at work, after the
// decision), and it is rolled forward and returned active; or it does not,
// and the token does not exist (nil). One strongly consistent read, only for
// a token found pending.
func (s *Store) resolvePending(ctx context.Context, raw item) (*RefreshToken, error) {
	rt := decodeRefresh(raw)
	parent := key(raw.s(aParentPK), raw.s(aParentSK))
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: s.tableName(), Key: parent, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("read the commit point of refresh token %s: %w", shortID(rt.Hash), classify(err, false))
	}
	p := item(out.Item)
	if out.Item == nil || (p.s(aCommitRT) != rt.Hash && p.s(aSuccessor) != rt.Hash && p.s(aReplacedBy) != rt.Hash) {
		return nil, nil
	}
	if old := raw.s(aGraceOf); old != "" {
		if err := rolledForward(s.writeOne(ctx, s.moveSuccessor(old, p.s(aPK)[len(refreshPrefix):], rt.Hash))); err != nil {
			return nil, fmt.Errorf("roll refresh token %s forward: %w", shortID(rt.Hash), err)
		}
	}
	if err := s.activateRefresh(ctx, rt.Hash); err != nil {
		return nil, fmt.Errorf("roll refresh token %s forward: %w", shortID(rt.Hash), err)
	}
	rt.Status = RefreshActive
	return &rt, nil
}

// replaceSuccessorNoTx is ReplaceSuccessor without a transaction. The
// commit point is the current successor turning replaced (condition:
// active), naming next; then old's successor moves to next and next
// becomes active, which Fetch rolls forward after a crash. The grant check
// is a strongly consistent read after the decision: a revocation landing
// after it ends the new tokens at their next use, as for RotateRefresh.
func (s *Store) replaceSuccessorNoTx(ctx context.Context, old, next RefreshToken, succ, move types.TransactWriteItem) error {
	// The grant is read before the decision, so a grant revoked earlier
	// leaves the successor as it was (as the transaction's ConditionCheck
	// does), and again after it, for a revocation landing in between.
	if err := s.grantStillActive(ctx, old); err != nil {
		return err
	}
	if err := s.issueAfter(ctx, &next, key(refreshPrefix+old.Successor, skRefresh), old.Hash, succ, move); err != nil {
		return err
	}
	return s.grantStillActive(ctx, old)
}

// grantStillActive is ErrConflict when the grant rt names is revoked or gone.
func (s *Store) grantStillActive(ctx context.Context, rt RefreshToken) error {
	g, err := s.GetGrant(ctx, rt.UserID, rt.ClientID)
	if errors.Is(err, shared.ErrNotFound) || (err == nil && !g.Active(rt.GrantID)) {
		return fmt.Errorf("grant revoked: %w", shared.ErrConflict)
	}
	return err
}

// approveNoTx is ApproveGrant's write of g (as written: its id is the
// stored one) without a transaction: for a dynamic
// link the consent item first (condition: the idle clean-up is not closing
// the link), then a strongly consistent read that the link is active, then
// the grant write alone, then a strongly consistent read of the user, and
// the grant just written revoked again when the user is gone or disabled
// (DeleteUser revokes the grants after deleting the user, so a late
// approval is revoked by one side or the other). A failure is a conflict
// for ApproveGrant's loop, which then finds out why.
func (s *Store) approveNoTx(ctx context.Context, g Grant, write types.TransactWriteItem, guard []types.TransactWriteItem, now time.Time) error {
	if len(guard) > 0 {
		if err := s.writeOne(ctx, guard[1]); err != nil {
			if errors.Is(err, shared.ErrConflict) && !errors.Is(err, ErrTransactionConflict) {
				return fmt.Errorf("the idle clean-up is closing the link: %w", shared.ErrNotFound)
			}
			return err
		}
		if it, err := s.getLinkItem(ctx, g.ClientID); err != nil {
			return err
		} else if activeLink(it) == nil {
			return fmt.Errorf("link not active: %w", shared.ErrConflict)
		}
	}
	if err := s.writeOne(ctx, write); err != nil {
		return err
	}
	u, err := s.GetUser(ctx, g.UserID)
	if err == nil && !u.Disabled {
		return nil
	}
	if err != nil && !errors.Is(err, shared.ErrNotFound) {
		return err
	}
	if _, rerr := s.RevokeGrant(ctx, g.UserID, g.ClientID, g.ID, now); rerr != nil && !errors.Is(rerr, shared.ErrNotFound) {
		return rerr
	}
	return fmt.Errorf("user gone or disabled: %w", shared.ErrConflict)
}

// closeIdleNoTx is the idle clean-up's decision without a transaction. The
// clean-up and a consent meet on one item, CONSENTED#<client id>: the
// clean-up sets closing on it (condition: no consent since the cut-off),
// and a consent writes its time there on condition that closing is absent,
// before its grant. So either the consent lands first and this condition
// fails, or closing does and the consent is refused. Then the link's last
// use is read (strongly consistent), and the link turns to deleting
// (flip). A use or a change found in between reopens the link (closing
// removed) and is ErrConflict; a token use racing the flip is ended by
// DeleteLink's revocation of the grants.
func (s *Store) closeIdleNoTx(ctx context.Context, clientID string, cutoff types.AttributeValue, flip types.TransactWriteItem) error {
	e := newExpr()
	u := update{e: e}
	u.Set(aClosing, boolean(true))
	u.Set(aClientID, str(clientID))
	cond := "attribute_not_exists(" + e.n(aConsentedAt) + ") OR " + e.n(aConsentedAt) + " < " + e.v(cutoff)
	if _, err := s.updateItem(ctx, consentedKey(clientID), u.String(), cond, e); err != nil {
		return classify(err, false)
	}
	reopen := func(cause error) error {
		e := newExpr()
		_, _ = s.db.UpdateItem(context.WithoutCancel(ctx), &dynamodb.UpdateItemInput{
			TableName: s.tableName(), Key: consentedKey(clientID),
			UpdateExpression: aws.String("REMOVE " + e.n(aClosing)), ExpressionAttributeNames: e.Names(),
		})
		return cause
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.tableName(), Key: LastUseRef{ClientID: clientID}.key(), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return reopen(classify(err, false))
	}
	if at, ok := out.Item[aLastUsedAt].(*types.AttributeValueMemberS); ok && at.Value >= cutoff.(*types.AttributeValueMemberS).Value {
		return reopen(fmt.Errorf("used since the cut-off: %w", shared.ErrConflict))
	}
	if err := s.writeOne(ctx, flip); err != nil {
		return reopen(err)
	}
	return nil
}

// createLinkNoTx writes CreateLink's items one at a time: the link (always
// pending without transactions: invisible), its id pointer, then the
// idempotency record, which decides between two creations with one key. The
// loser deletes what it wrote and resumes the winner's. A crash leaves a
// pending link, invisible, that the sweeper removes.
func (s *Store) createLinkNoTx(ctx context.Context, l Link, items []types.TransactWriteItem) error {
	if err := s.writeOne(ctx, items[0]); err != nil {
		return err
	}
	for i, w := range items[1:] {
		if err := s.writeOne(ctx, w); err != nil {
			undo := []types.TransactWriteItem{}
			if i == 1 {
				undo = append(undo, types.TransactWriteItem{Delete: &types.Delete{TableName: s.tableName(), Key: key(linkIDPrefix+l.ID, skLinkID)}})
			}
			ep := newExpr()
			undo = append(undo, types.TransactWriteItem{Delete: &types.Delete{
				TableName: s.tableName(), Key: linkKey(l.ClientID),
				ConditionExpression:       aws.String(ep.n(aState) + " = " + ep.v(str(statePending))),
				ExpressionAttributeNames:  ep.Names(),
				ExpressionAttributeValues: ep.Values(),
			}})
			_ = s.writeAll(context.WithoutCancel(ctx), undo)
			return err
		}
	}
	return nil
}

// abandonNoTx is abandonLink's clean-up without a transaction: the link
// turns deleting (condition: pending; an active link, a lost success
// answer, stops it here), so no activation can follow; then the
// idempotency record, the link item and its id pointer are deleted.
// rest holds the deletions of the id pointer and then the record.
func (s *Store) abandonNoTx(ctx context.Context, clientID string, rest []types.TransactWriteItem) error {
	e := newExpr()
	u := update{e: e}
	u.Set(aState, str(stateDeleting))
	if _, err := s.updateItem(ctx, linkKey(clientID), u.String(), e.n(aState)+" = "+e.v(str(statePending)), e); err != nil {
		return classify(err, false)
	}
	ed := newExpr()
	del := types.TransactWriteItem{Delete: &types.Delete{
		TableName: s.tableName(), Key: linkKey(clientID),
		ConditionExpression:       aws.String(ed.n(aState) + " = " + ed.v(str(stateDeleting))),
		ExpressionAttributeNames:  ed.Names(),
		ExpressionAttributeValues: ed.Values(),
	}}
	return s.writeAll(ctx, append(append(rest[1:], del), rest[0]))
}

// claimPointer writes the pointer item it, whose attribute owner names its
// target, on condition that it is new or already this target's. A pointer
// another target holds is ErrConflict, unless its target does not confirm
// it (held false: the target is gone, or no longer names it: left by a
// crash) and it was written more than orphanAfter ago; it is then taken
// over, on condition that it is still as read.
func (s *Store) claimPointer(ctx context.Context, it map[string]types.AttributeValue, owner string,
	held func(context.Context, item) (bool, error), now time.Time) error {
	it[aClaimedAt] = str(fmtTime(now))
	me := it[owner]
	put := func(cond string, e *expr) error {
		_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: s.tableName(), Item: it, ConditionExpression: aws.String(cond),
			ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
		})
		return classify(err, false)
	}
	e := newExpr()
	err := put("attribute_not_exists("+e.n(aPK)+") OR "+e.n(owner)+" = "+e.v(me), e)
	if !errors.Is(err, shared.ErrConflict) || errors.Is(err, ErrTransactionConflict) {
		return err
	}
	out, rerr := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: s.tableName(), Key: key(item(it).s(aPK), item(it).s(aSK)), ConsistentRead: aws.Bool(true)})
	if rerr != nil {
		return classify(rerr, false)
	}
	cur := item(out.Item)
	if out.Item == nil {
		return err // released meanwhile: the caller may try again
	}
	if taken, herr := s.pointerTaken(ctx, cur, held, now); herr != nil || taken {
		if herr != nil {
			return herr
		}
		return err
	}
	e = newExpr()
	cond := e.n(owner) + " = " + e.v(cur[owner]) + " AND "
	if c, ok := cur[aClaimedAt]; ok {
		cond += e.n(aClaimedAt) + " = " + e.v(c)
	} else {
		cond += "attribute_not_exists(" + e.n(aClaimedAt) + ")"
	}
	return put(cond, e)
}

// pointerTaken reports whether the pointer cur counts for its target: the
// target confirms it (held), or it is younger than orphanAfter (a writer may
// be between the pointer and its target).
func (s *Store) pointerTaken(ctx context.Context, cur item, held func(context.Context, item) (bool, error), now time.Time) (bool, error) {
	if ok, err := held(ctx, cur); err != nil || ok {
		return ok, err
	}
	return now.Sub(cur.t(aClaimedAt)) < orphanAfter, nil
}

// resourceHeld: a resource URI's pointer counts when the link it names is
// active and lists the URI.
func (s *Store) resourceHeld(ctx context.Context, p item) (bool, error) {
	it, err := s.getLinkItem(ctx, p.s(aClientID))
	if err != nil {
		return false, err
	}
	l := activeLink(it)
	return l != nil && slices.Contains(l.ResourceURIs, p.s(aResourceURI)), nil
}

// withResources is a change of a link's resource URIs without a
// transaction: the pointers of added are claimed first (a *ResourceTakenError
// when one is another link's), then decide, the link's conditional update,
// commits; the pointers of removed are released after it. A failure before
// the commit releases the pointers claimed; a crash leaves pointers the
// link does not list, which count for nobody.
func (s *Store) withResources(ctx context.Context, clientID string, added, removed []string, decide types.TransactWriteItem, now time.Time) error {
	var claimed []string
	release := func(cause error) error {
		// Not the pointers the link lists as it stands: the commit of a
		// concurrent change (or of this one, whose answer was lost) may
		// be why decide failed.
		ctx := context.WithoutCancel(ctx)
		it, err := s.getLinkItem(ctx, clientID)
		if err != nil {
			return cause
		}
		var listed []string
		if l := activeLink(it); l != nil {
			listed = l.ResourceURIs
		}
		_ = s.writeAll(ctx, s.releaseResources(minus(claimed, listed), clientID))
		return cause
	}
	for _, r := range added {
		p := resourceKey(r)
		p[aResourceURI] = str(r)
		p[aClientID] = str(clientID)
		if err := s.claimPointer(ctx, p, aClientID, s.resourceHeld, now); err != nil {
			if errors.Is(err, shared.ErrConflict) && !errors.Is(err, ErrTransactionConflict) {
				return release(fmt.Errorf("%w (%w)", &ResourceTakenError{URI: r}, err))
			}
			return release(err)
		}
		claimed = append(claimed, r)
	}
	if err := s.writeOne(ctx, decide); err != nil {
		return release(err)
	}
	for _, w := range s.releaseResources(removed, clientID) {
		if err := rolledForward(s.writeOne(ctx, w)); err != nil {
			return err
		}
	}
	return nil
}

// releaseResources are the deletions of the pointers of uris that name
// clientID.
func (s *Store) releaseResources(uris []string, clientID string) []types.TransactWriteItem {
	var ws []types.TransactWriteItem
	for _, r := range uris {
		ws = append(ws, s.deleteResource(r, clientID))
	}
	return ws
}

// decideThen writes decide, whose condition decides, and then the steps of
// after, each of which a reader or a retry may have done already (a failed
// condition is taken for that).
func (s *Store) decideThen(ctx context.Context, decide types.TransactWriteItem, after ...types.TransactWriteItem) error {
	return s.issueAfter(ctx, nil, nil, "", decide, after...)
}

// pointerClaim is a pointer item to claim before its target is written:
// owner is the attribute naming the target, held tells whether a pointer
// found there is confirmed by its target (claimPointer). A nil it is no
// pointer to claim.
type pointerClaim struct {
	it    map[string]types.AttributeValue
	owner string
	held  func(context.Context, item) (bool, error)
}

// withPointers claims ps in order, then writes decide, the target, which
// commits; a failure releases the pointers claimed (condition: still naming
// the target). A crash leaves pointers their target does not confirm:
// readers follow a pointer only to a target that names it back, and another
// writer takes such a pointer over after orphanAfter.
func (s *Store) withPointers(ctx context.Context, ps []pointerClaim, decide types.TransactWriteItem, now time.Time) error {
	var claimed []pointerClaim
	release := func(cause error) error {
		for _, p := range claimed {
			e := newExpr()
			_, _ = s.db.DeleteItem(context.WithoutCancel(ctx), &dynamodb.DeleteItemInput{
				TableName: s.tableName(), Key: key(item(p.it).s(aPK), item(p.it).s(aSK)),
				ConditionExpression:       aws.String(e.n(p.owner) + " = " + e.v(p.it[p.owner])),
				ExpressionAttributeNames:  e.Names(),
				ExpressionAttributeValues: e.Values(),
			})
		}
		return cause
	}
	for _, p := range ps {
		if p.it == nil {
			continue
		}
		if err := s.claimPointer(ctx, p.it, p.owner, p.held, now); err != nil {
			return release(err)
		}
		claimed = append(claimed, p)
	}
	if err := s.writeOne(ctx, decide); err != nil {
		return release(err)
	}
	return nil
}

// userItem reads the user item of id (strongly consistent), nil when absent.
func (s *Store) userItem(ctx context.Context, id string) (item, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: s.tableName(), Key: key(userPrefix+id, skUser), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, classify(err, false)
	}
	return out.Item, nil
}

// usernameHeld: a username pointer counts when its user exists with that
// name (in any letter case).
func (s *Store) usernameHeld(ctx context.Context, p item) (bool, error) {
	u, err := s.userItem(ctx, p.s(aUserID))
	return u != nil && usernamePrefix+UsernameKey(u.s(aUsername)) == p.s(aPK), err
}

// upstreamHeld: an upstream identity's pointer counts when its user names
// that identity.
func (s *Store) upstreamHeld(ctx context.Context, p item) (bool, error) {
	u, err := s.userItem(ctx, p.s(aUserID))
	return u != nil && upstreamPrefix+u.s(aUpstreamKey) == p.s(aPK), err
}

// upstreamClaim is the claim of id's pointer for userID (none unless
// needed).
func (s *Store) upstreamClaim(id *UpstreamIdentity, userID string, needed bool) pointerClaim {
	if !needed || id == nil {
		return pointerClaim{}
	}
	return pointerClaim{it: upstreamPointer(id, userID), owner: aUserID, held: s.upstreamHeld}
}

// issuerHeld: an issuer's pointer counts when the provider it names exists.
func (s *Store) issuerHeld(ctx context.Context, p item) (bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: s.tableName(), Key: key(idpsPK, skIDPPrefix+p.s(aID)), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return false, classify(err, false)
	}
	return out.Item != nil, nil
}

// createUserNoTx is CreateUser (and CreateSignInUser) without a
// transaction: the username's pointer, then the upstream identity's, then
// the user (condition: new), the commit point.
func (s *Store) createUserNoTx(ctx context.Context, u User, pointer, userItem map[string]types.AttributeValue) error {
	return s.withPointers(ctx, []pointerClaim{
		{it: pointer, owner: aUserID, held: s.usernameHeld},
		s.upstreamClaim(u.Upstream, u.ID, true),
	}, s.putNew(userItem), u.CreatedAt)
}

// enrollNoTx is EnrollPasskey without a transaction: the user is read
// (strongly consistent), the enrollment link spent (its conditions: one
// use), the passkey added (its own limit), and the user read again; on a
// user who is no longer an enabled administrator the passkey is removed.
func (s *Store) enrollNoTx(ctx context.Context, p Passkey, spend, add types.TransactWriteItem) error {
	admin := func() (bool, error) {
		u, err := s.userItem(ctx, p.UserID)
		return u != nil && u.b(aAdmin) && !u.b(aDisabled), err
	}
	// Read before too, so that a refusal known at once leaves the link
	// unspent, as the transaction's check does.
	if ok, err := admin(); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("user not an enabled administrator: %w", shared.ErrConflict)
		}
		return err
	}
	if err := s.writeOne(ctx, spend); err != nil {
		return err
	}
	if err := s.writeOne(ctx, add); err != nil {
		return err
	}
	if ok, err := admin(); err != nil || ok {
		return err
	}
	if err := s.RemovePasskey(ctx, p.UserID, p.ID); err != nil && !errors.Is(err, shared.ErrNotFound) {
		return err
	}
	return fmt.Errorf("user not an enabled administrator: %w", shared.ErrConflict)
}
