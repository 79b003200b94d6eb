package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Device authorizations (RFC 8628): one item per user code, pk
// DEVICE#<sha256(user code)>, sk DEVICE, with a TTL at its expiry. The
// token function creates it (device authorization request), records each
// poll on it and redeems it; the authorize function records the user's
// decision on it. Both write it under the DEVICE# prefix and nothing else
// of theirs lives there.
const (
	devicePrefix = "DEVICE#"
	skDevice     = "DEVICE"
)

// Attributes of a device authorization.
const (
	aDeviceHash = "device_hash"
	aGranted    = "granted"
	aInterval   = "interval_s"
	aLastPoll   = "last_poll"
	aDecidedAt  = "decided_at"
)

// Device authorization states.
const (
	DevicePending  = "pending"  // waiting for the user
	DeviceApproved = "approved" // the user approved; not yet redeemed
	DeviceDenied   = "denied"   // the user denied
	DeviceRedeemed = "redeemed" // tokens issued once; never again
)

// Device is a device authorization (RFC 8628 §3.2). UserCodeHash is
// shared.HashToken of the normalized user code (the key); DeviceHash is
// shared.HashToken of the device code.
type Device struct {
	UserCodeHash string
	DeviceHash   string
	ClientID     string
	// Scope is the requested catalog scope (none: the link's ceiling);
	// Protocol the requested OpenID Connect scopes.
	Scope    []string
	Protocol []string
	Status   string
	// Interval is the current minimum time between two polls (RFC 8628
	// §3.5: it grows by 5 s at each slow_down); LastPoll the previous
	// poll, zero before the first.
	Interval time.Duration
	LastPoll time.Time
	// Set by the user's decision: who decided, the grant an approval made
	// or updated, the capped scope approved, when the user signed in
	// (auth_time) and when they decided.
	UserID    string
	GrantID   string
	Granted   []string
	AuthTime  time.Time
	DecidedAt time.Time
	// Resource is the resource indicator (RFC 8707) the device asked for
	// ("" for none), ResourceClientID its resource server's client id.
	Resource         string
	ResourceClientID string
	CreatedAt        time.Time
	ExpiresAt        time.Time
}

// DeviceDecision is the user's answer on the consent page.
type DeviceDecision struct {
	Approve  bool
	UserID   string
	GrantID  string   // approval: the grant ApproveGrant made or updated
	Granted  []string // approval: the capped scope
	AuthTime time.Time
}

func deviceKey(userCodeHash string) map[string]types.AttributeValue {
	return key(devicePrefix+userCodeHash, skDevice)
}

// CreateDevice stores a pending device authorization until d.ExpiresAt
// (TTL). ErrConflict when a live authorization already has its user code
// (the caller draws another); an expired one that DynamoDB has not reaped
// yet is replaced.
func (s *Store) CreateDevice(ctx context.Context, d Device, now time.Time) error {
	it := map[string]types.AttributeValue{
		aPK: str(devicePrefix + d.UserCodeHash), aSK: str(skDevice),
		aDeviceHash: str(d.DeviceHash), aClientID: str(d.ClientID),
		aScope: list(nonNil(d.Scope)), aProtocol: list(nonNil(d.Protocol)),
		aStatus: str(DevicePending), aInterval: num(int64(d.Interval / time.Second)),
		aCreatedAt: str(fmtTime(d.CreatedAt)), aExpiresAt: str(fmtTime(d.ExpiresAt)), aTTL: ttl(d.ExpiresAt),
	}
	setResource(it, d.Resource, d.ResourceClientID)
	e := newExpr()
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: s.tableName(), Item: it,
		ConditionExpression: aws.String("attribute_not_exists(" + e.n(aPK) + ") OR " +
			e.n(aExpiresAt) + " <= " + e.v(str(fmtTime(now)))),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	})
	if err != nil {
		return fmt.Errorf("create device authorization %s: %w", shortID(d.UserCodeHash), classify(err, false))
	}
	return nil
}

func decodeDevice(it item) Device {
	return Device{
		UserCodeHash:     strings.TrimPrefix(it.s(aPK), devicePrefix),
		DeviceHash:       it.s(aDeviceHash),
		ClientID:         it.s(aClientID),
		Scope:            it.l(aScope),
		Protocol:         it.l(aProtocol),
		Status:           it.s(aStatus),
		Interval:         time.Duration(it.n(aInterval)) * time.Second,
		LastPoll:         it.t(aLastPoll),
		UserID:           it.s(aUserID),
		GrantID:          it.s(aGrantID),
		Granted:          it.l(aGranted),
		AuthTime:         it.t(aAuthTime),
		DecidedAt:        it.t(aDecidedAt),
		Resource:         it.s(aResourceURI),
		ResourceClientID: it.s(aResourceClientID),
		CreatedAt:        it.t(aCreatedAt),
		ExpiresAt:        it.t(aExpiresAt),
	}
}

// DecideDevice records the user's decision on a pending, unexpired device
// authorization (one conditional UpdateItem) and returns it as updated.
// ErrConflict when it is no longer pending (decided already), has expired
// or does not exist.
func (s *Store) DecideDevice(ctx context.Context, userCodeHash string, d DeviceDecision, now time.Time) (Device, error) {
	e := newExpr()
	up := update{e: e}
	status := DeviceDenied
	if d.Approve {
		status = DeviceApproved
		up.Set(aGrantID, str(d.GrantID))
		up.Set(aGranted, list(nonNil(d.Granted)))
		up.Set(aAuthTime, str(fmtTime(d.AuthTime)))
	}
	up.Set(aStatus, str(status))
	up.Set(aUserID, str(d.UserID))
	up.Set(aDecidedAt, str(fmtTime(now)))
	cond := e.n(aStatus) + " = " + e.v(str(DevicePending)) + " AND " + e.n(aExpiresAt) + " > " + e.v(str(fmtTime(now)))
	out, err := s.updateItem(ctx, deviceKey(userCodeHash), up.String(), cond, e)
	if err != nil {
		return Device{}, fmt.Errorf("decide device authorization %s: %w", shortID(userCodeHash), classify(err, false))
	}
	return decodeDevice(item(out.Attributes)), nil
}

// pollCondition is the condition that no other poll was recorded since
// the one the caller read (prev; zero: none).
func pollCondition(e *expr, prev time.Time) string {
	if prev.IsZero() {
		return "attribute_not_exists(" + e.n(aLastPoll) + ")"
	}
	return e.n(aLastPoll) + " = " + e.v(str(fmtTime(prev)))
}

// RecordDevicePoll records a poll at now with the interval that applies
// from now on (one conditional UpdateItem), provided that no other poll was
// recorded since prev, the previous poll the caller read (zero: none).
// ErrConflict when one was (two polls at once), or when the authorization
// does not exist.
func (s *Store) RecordDevicePoll(ctx context.Context, userCodeHash string, prev time.Time, interval time.Duration, now time.Time) error {
	e := newExpr()
	up := update{e: e}
	up.Set(aLastPoll, str(fmtTime(now)))
	up.Set(aInterval, num(int64(interval/time.Second)))
	cond := "attribute_exists(" + e.n(aPK) + ") AND " + pollCondition(e, prev)
	if _, err := s.updateItem(ctx, deviceKey(userCodeHash), up.String(), cond, e); err != nil {
		return fmt.Errorf("record device poll %s: %w", shortID(userCodeHash), classify(err, false))
	}
	return nil
}

// RedeemDevice atomically (one transaction, 1 call; without transactions,
// three ordered writes around the device authorization: notx.go) marks an approved,
// unexpired device authorization redeemed, recording the poll at now
// (condition: no other poll since prev), and writes the first refresh
// token rt of a new family of its grant (nil: none). ErrConflict when it
// is not approved any more (redeemed already), has expired, or another
// poll came in between: nothing is written then.
func (s *Store) RedeemDevice(ctx context.Context, userCodeHash string, prev time.Time, rt *RefreshToken, now time.Time) error {
	e := newExpr()
	up := update{e: e}
	up.Set(aStatus, str(DeviceRedeemed))
	up.Set(aLastPoll, str(fmtTime(now)))
	cond := e.n(aStatus) + " = " + e.v(str(DeviceApproved)) + " AND " +
		e.n(aExpiresAt) + " > " + e.v(str(fmtTime(now))) + " AND " + pollCondition(e, prev)
	if rt != nil && s.notx {
		up.Set(aCommitRT, str(rt.Hash)) // the commit point names its token (notx.go)
	}
	decide := types.TransactWriteItem{Update: &types.Update{
		TableName: s.tableName(), Key: deviceKey(userCodeHash),
		UpdateExpression:          aws.String(up.String()),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	}}
	var err error
	if s.notx {
		// The device authorization is the commit point: the token is
		// written pending before it, and made active after.
		err = s.issueAfter(ctx, rt, deviceKey(userCodeHash), "", decide)
	} else {
		items := []types.TransactWriteItem{decide}
		if rt != nil {
			items = append(items, s.putNew(refreshItem(*rt)))
		}
		err = s.transact(ctx, items)
	}
	if err != nil {
		return fmt.Errorf("redeem device authorization %s: %w", shortID(userCodeHash), err)
	}
	return nil
}
