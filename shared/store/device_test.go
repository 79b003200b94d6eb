package store_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
)

// newDevice stores a pending device authorization of clientID created at
// at, valid for ttl, and returns it.
func newDevice(t *testing.T, s *store.Store, clientID string, at time.Time, ttl time.Duration) store.Device {
	t.Helper()
	d := store.Device{
		UserCodeHash: shared.HashToken(uniq("usercode")), DeviceHash: shared.HashToken(uniq("devicecode")),
		ClientID: clientID, Scope: []string{"REPO_READ"}, Protocol: []string{"openid"},
		Interval: 5 * time.Second, CreatedAt: at, ExpiresAt: at.Add(ttl),
	}
	if err := s.CreateDevice(ctx(), d, at); err != nil {
		t.Fatalf("CreateDevice: %v", err)
	}
	return d
}

func fetchDevice(t *testing.T, s *store.Store, hash string) *store.Device {
	t.Helper()
	b, err := s.Fetch(ctx(), store.Keys{DeviceUserCode: hash})
	if err != nil {
		t.Fatalf("Fetch(device): %v", err)
	}
	return b.Device
}

// TestDevice: a device authorization is created pending, read back with
// Fetch, polled (each poll conditional on the previous one), decided once,
// and redeemed once with its first refresh token; a user code still live
// cannot be created again, an expired one can.
func TestDevice(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s := b.Store()
		at := now()
		d := newDevice(t, s, "client", at, 10*time.Minute)
		got := fetchDevice(t, s, d.UserCodeHash)
		if got == nil || got.Status != store.DevicePending || got.DeviceHash != d.DeviceHash || got.ClientID != "client" ||
			!slices.Equal(got.Scope, d.Scope) || !slices.Equal(got.Protocol, d.Protocol) || got.Interval != 5*time.Second ||
			!got.LastPoll.IsZero() || !got.CreatedAt.Equal(at) || !got.ExpiresAt.Equal(d.ExpiresAt) {
			t.Fatalf("Fetch(device) = %+v, want %+v pending", got, d)
		}
		if it := rawItem(t, b, "DEVICE#"+d.UserCodeHash, "DEVICE"); it["ttl"] == nil {
			t.Error("device authorization has no TTL")
		}
		// The same user code while it lives: ErrConflict.
		dup := d
		dup.DeviceHash = "other"
		if err := s.CreateDevice(ctx(), dup, at.Add(time.Minute)); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("CreateDevice(live user code) = %v, want ErrConflict", err)
		}

		// Polls: the first needs no previous one; a poll whose caller read
		// a stale previous poll is refused.
		p1 := at.Add(5 * time.Second)
		if err := s.RecordDevicePoll(ctx(), d.UserCodeHash, time.Time{}, 5*time.Second, p1); err != nil {
			t.Fatalf("first RecordDevicePoll: %v", err)
		}
		if err := s.RecordDevicePoll(ctx(), d.UserCodeHash, time.Time{}, 5*time.Second, p1); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("RecordDevicePoll(stale previous) = %v, want ErrConflict", err)
		}
		p2 := p1.Add(2 * time.Second)
		if err := s.RecordDevicePoll(ctx(), d.UserCodeHash, p1, 10*time.Second, p2); err != nil {
			t.Fatalf("second RecordDevicePoll: %v", err)
		}
		if got := fetchDevice(t, s, d.UserCodeHash); !got.LastPoll.Equal(p2) || got.Interval != 10*time.Second {
			t.Errorf("after polls: last poll %v, interval %v; want %v, 10s", got.LastPoll, got.Interval, p2)
		}
		if err := s.RecordDevicePoll(ctx(), shared.HashToken("unknown"), time.Time{}, time.Second, p2); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("RecordDevicePoll(unknown) = %v, want ErrConflict", err)
		}

		// Not redeemable while pending.
		if err := s.RedeemDevice(ctx(), d.UserCodeHash, p2, nil, p2); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("RedeemDevice(pending) = %v, want ErrConflict", err)
		}

		// Approval, once.
		g := approved(t, s, seedUser(t, s, "alice", at), "client", at)
		dec := store.DeviceDecision{Approve: true, UserID: g.UserID, GrantID: g.ID, Granted: []string{"REPO_READ"}, AuthTime: at}
		ad, err := s.DecideDevice(ctx(), d.UserCodeHash, dec, p2)
		if err != nil {
			t.Fatalf("DecideDevice: %v", err)
		}
		if ad.Status != store.DeviceApproved || ad.UserID != g.UserID || ad.GrantID != g.ID || !slices.Equal(ad.Granted, dec.Granted) ||
			!ad.AuthTime.Equal(at) || !ad.DecidedAt.Equal(p2) || ad.DeviceHash != d.DeviceHash {
			t.Errorf("DecideDevice = %+v, want approved by %s", ad, g.UserID)
		}
		if _, err := s.DecideDevice(ctx(), d.UserCodeHash, store.DeviceDecision{UserID: "mallory"}, p2); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("second DecideDevice = %v, want ErrConflict", err)
		}

		// Redemption: a stale previous poll is refused, then once, with its
		// refresh token; then never again.
		rt := newRefresh(g, p2)
		if err := s.RedeemDevice(ctx(), d.UserCodeHash, p1, &rt, p2.Add(5*time.Second)); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("RedeemDevice(stale previous poll) = %v, want ErrConflict", err)
		}
		p3 := p2.Add(10 * time.Second)
		if err := s.RedeemDevice(ctx(), d.UserCodeHash, p2, &rt, p3); err != nil {
			t.Fatalf("RedeemDevice: %v", err)
		}
		bb, err := s.Fetch(ctx(), store.Keys{DeviceUserCode: d.UserCodeHash, RefreshHash: rt.Hash})
		if err != nil || bb.Device == nil || bb.Refresh == nil {
			t.Fatalf("Fetch after redemption = %+v, %v", bb, err)
		}
		if bb.Device.Status != store.DeviceRedeemed || !bb.Device.LastPoll.Equal(p3) || bb.Refresh.GrantID != g.ID {
			t.Errorf("after redemption: %+v, token %+v", *bb.Device, *bb.Refresh)
		}
		rt2 := newRefresh(g, p3)
		if err := s.RedeemDevice(ctx(), d.UserCodeHash, p3, &rt2, p3.Add(5*time.Second)); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("second RedeemDevice = %v, want ErrConflict", err)
		}
		if got := countItems(t, b, "RT#"); got != 1 {
			t.Errorf("%d refresh tokens, want 1", got)
		}
	})
}

// TestDeviceExpiry: an expired authorization can be neither decided nor
// redeemed, and its user code can be used again.
func TestDeviceExpiry(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		d := newDevice(t, s, "client", at, time.Minute)
		late := at.Add(time.Minute)
		if _, err := s.DecideDevice(ctx(), d.UserCodeHash, store.DeviceDecision{Approve: true, UserID: "u"}, late); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("DecideDevice(expired) = %v, want ErrConflict", err)
		}
		approvedOne := newDevice(t, s, "client", at, time.Minute)
		if _, err := s.DecideDevice(ctx(), approvedOne.UserCodeHash, store.DeviceDecision{Approve: true, UserID: "u", GrantID: "g"}, at); err != nil {
			t.Fatalf("DecideDevice: %v", err)
		}
		if err := s.RedeemDevice(ctx(), approvedOne.UserCodeHash, time.Time{}, nil, late); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("RedeemDevice(expired) = %v, want ErrConflict", err)
		}
		again := d
		again.DeviceHash, again.CreatedAt, again.ExpiresAt = "new", late, late.Add(10*time.Minute)
		if err := s.CreateDevice(ctx(), again, late); err != nil {
			t.Fatalf("CreateDevice(user code of an expired authorization) = %v, want success", err)
		}
		if got := fetchDevice(t, s, d.UserCodeHash); got.DeviceHash != "new" || got.Status != store.DevicePending {
			t.Errorf("re-created authorization = %+v, want the new one, pending", got)
		}
	})
}

// TestDeviceDecideConcurrent: of 20 concurrent decisions on one
// authorization, exactly one lands.
func TestDeviceDecideConcurrent(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		d := newDevice(t, s, "client", at, 10*time.Minute)
		const n = 20
		errs := parallel(n, func(i int) error {
			_, err := s.DecideDevice(ctx(), d.UserCodeHash, store.DeviceDecision{Approve: i%2 == 0, UserID: uniq("u"), GrantID: "g"}, at)
			return err
		})
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, shared.ErrConflict):
				t.Errorf("concurrent DecideDevice: %v, want nil or ErrConflict", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent decisions landed, want 1", ok, n)
		}
	})
}

// TestDeviceRedeemConcurrent: of 20 concurrent redemptions of one approved
// authorization, exactly one succeeds and one refresh token is written.
func TestDeviceRedeemConcurrent(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s := b.Store()
		at := now()
		g := approved(t, s, seedUser(t, s, "alice", at), "client", at)
		d := newDevice(t, s, "client", at, 10*time.Minute)
		if _, err := s.DecideDevice(ctx(), d.UserCodeHash, store.DeviceDecision{Approve: true, UserID: g.UserID, GrantID: g.ID}, at); err != nil {
			t.Fatalf("DecideDevice: %v", err)
		}
		const n = 20
		errs := parallel(n, func(int) error {
			rt := newRefresh(g, at)
			return s.RedeemDevice(ctx(), d.UserCodeHash, time.Time{}, &rt, at.Add(5*time.Second))
		})
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, shared.ErrConflict):
				t.Errorf("concurrent RedeemDevice: %v, want nil or ErrConflict", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent redemptions succeeded, want 1", ok, n)
		}
		if got := countItems(t, b, "RT#"); got != 1 {
			t.Errorf("%d refresh tokens written, want 1", got)
		}
	})
}

// TestLinkGrantTypes: a link stores its grant types; one stored without
// them (before links had them) reads as the default; a resource server has
// none; an update replaces them.
func TestLinkGrantTypes(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s := b.Store()
		at := now()
		in := newLink("")
		in.GrantTypes = []string{shared.GrantTypeDeviceCode, shared.GrantTypeRefreshToken}
		in.RedirectURIs = nil
		l, _, err := s.CreateLink(ctx(), in, at)
		if err != nil {
			t.Fatalf("CreateLink: %v", err)
		}
		got, err := s.GetLinkByClientID(ctx(), l.ClientID)
		if err != nil || !slices.Equal(got.GrantTypes, in.GrantTypes) || !got.AllowsGrant(shared.GrantTypeDeviceCode) || got.AllowsGrant(shared.GrantTypeAuthorizationCode) {
			t.Errorf("GetLinkByClientID = %v, %v; want grant types %v", got.GrantTypes, err, in.GrantTypes)
		}
		def, _, err := s.CreateLink(ctx(), newLink(""), at)
		if err != nil || !slices.Equal(def.GrantTypes, shared.DefaultGrantTypes()) {
			t.Errorf("CreateLink without grant types: %v, %v; want the default", def.GrantTypes, err)
		}
		rsIn := newLink("")
		rsIn.ClientType, rsIn.RedirectURIs, rsIn.PostLogoutRedirectURIs = store.ResourceServer, nil, nil
		rs, _, err := s.CreateLink(ctx(), rsIn, at)
		if err != nil || len(rs.GrantTypes) != 0 {
			t.Errorf("resource server link: grant types %v, %v; want none", rs.GrantTypes, err)
		}
		// A link item written before grant types existed.
		old := newLink("")
		ol, _, err := s.CreateLink(ctx(), old, at)
		if err != nil {
			t.Fatal(err)
		}
		removeAttribute(t, b, "LINK#"+ol.ClientID, "LINK", "grant_types")
		if got, err := s.GetLinkByClientID(ctx(), ol.ClientID); err != nil || !slices.Equal(got.GrantTypes, shared.DefaultGrantTypes()) {
			t.Errorf("a link stored without grant types reads %v, %v; want the default", got.GrantTypes, err)
		}
		all := slices.Clone(shared.GrantTypes)
		up, err := s.UpdateLink(ctx(), ol.ID, store.LinkUpdate{GrantTypes: &all}, at)
		if err != nil || !slices.Equal(up.GrantTypes, all) {
			t.Errorf("UpdateLink(grant types) = %v, %v; want %v", up.GrantTypes, err, all)
		}
	})
}

// removeAttribute removes one attribute of an item directly, as if the
// item had been written before the attribute existed.
func removeAttribute(t *testing.T, b storetest.Backend, pk, sk, name string) {
	t.Helper()
	_, err := b.DynamoDB.UpdateItem(ctx(), &dynamodb.UpdateItemInput{
		TableName:                aws.String(b.Options.TableName),
		Key:                      map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}},
		UpdateExpression:         aws.String("REMOVE #a"),
		ExpressionAttributeNames: map[string]string{"#a": name},
	})
	if err != nil {
		t.Fatalf("remove %s of %s: %v", name, pk, err)
	}
}
