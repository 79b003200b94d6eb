package store_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
)

func TestRedeemCode(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		eng := nb(t)
		s := eng.Store()
		at := now()
		g := approved(t, s, seedUser(t, s, "alice", at), "client", at)
		c := newCode(t, s, g, at)
		b, err := s.Fetch(ctx(), store.Keys{CodeHash: c.Hash})
		if err != nil || b.Code == nil {
			t.Fatalf("Fetch(code) = %+v, %v", b.Code, err)
		}
		if got := *b.Code; got.Hash != c.Hash || got.ClientID != c.ClientID || got.RedirectURI != c.RedirectURI ||
			got.Challenge != c.Challenge || got.UserID != c.UserID || got.GrantID != g.ID || !slices.Equal(got.Scope, c.Scope) ||
			!got.CreatedAt.Equal(c.CreatedAt) || !got.ExpiresAt.Equal(c.ExpiresAt) || !got.AuthTime.Equal(c.AuthTime) || got.Used {
			t.Errorf("Fetch(code) = %+v, want %+v", got, c)
		}
		rt := newRefresh(g, at)
		if err := s.RedeemCode(ctx(), c.Hash, &rt, at); err != nil {
			t.Fatalf("RedeemCode: %v", err)
		}
		b, err = s.Fetch(ctx(), store.Keys{CodeHash: c.Hash, UserID: g.UserID, GrantClientID: "client", RefreshHash: rt.Hash})
		if err != nil || b.Code == nil || b.Grant == nil || b.Refresh == nil || b.User == nil {
			t.Fatalf("Fetch after redemption = %+v, %v, want code, grant, user and token", b, err)
		}
		if !b.Code.Used {
			t.Errorf("redeemed code: used %v, want true", b.Code.Used)
		}
		if !b.Grant.Active(g.ID) || b.Grant.UserID != g.UserID || b.Grant.Username != "alice" {
			t.Errorf("grant = %+v, want the active grant %s", *b.Grant, g.ID)
		}
		if b.Refresh.Status != store.RefreshActive || b.Refresh.GrantID != g.ID || b.Refresh.UserID != g.UserID ||
			!b.Refresh.ExpiresAt.Equal(rt.ExpiresAt) || !b.Refresh.AuthTime.Equal(rt.AuthTime) {
			t.Errorf("refresh token = %+v, want %+v", *b.Refresh, rt)
		}
		// Second redemption: conflict, decided by the code. Its token was
		// written before the gate refused it, but the code names the first
		// redemption's, and the caller never hands the second out.
		rt2 := newRefresh(g, at)
		if err := s.RedeemCode(ctx(), c.Hash, &rt2, at); !errors.Is(err, shared.ErrConflict) || errors.Is(err, store.ErrTransactionConflict) {
			t.Errorf("second RedeemCode = %v, want ErrConflict, not in flight", err)
		}
		if got := redeemedBy(t, eng, c.Hash); got != rt.Hash {
			t.Errorf("after a refused redemption: the code names %q, want the first token %q", got, rt.Hash)
		}
		// Expired and unknown codes.
		expired := newCode(t, s, g, at.Add(-2*time.Minute))
		if err := s.RedeemCode(ctx(), expired.Hash, nil, at); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("RedeemCode(expired) = %v, want ErrConflict", err)
		}
		if err := s.RedeemCode(ctx(), "unknown", nil, at); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("RedeemCode(unknown) = %v, want ErrConflict", err)
		}
	})
}

func TestRedeemCodeConcurrent(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s := b.Store()
		at := now()
		g := approved(t, s, seedUser(t, s, "alice", at), "client", at)
		c := newCode(t, s, g, at)
		const n = 20
		tokens := make([]store.RefreshToken, n)
		errs := parallel(n, func(i int) error {
			tokens[i] = newRefresh(g, at)
			return s.RedeemCode(ctx(), c.Hash, &tokens[i], at)
		})
		ok, winner := 0, ""
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
				winner = tokens[i].Hash
			case !errors.Is(err, shared.ErrConflict):
				t.Errorf("concurrent RedeemCode: %v, want nil or ErrConflict", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent redemptions succeeded, want 1", ok, n)
		}
		if got := countItems(t, b, "GRANTS#"); got != 1 {
			t.Errorf("%d grants, want 1", got)
		}
		// Each redemption wrote its token before the gate; the code names
		// the winner's, the only one handed out.
		if got := redeemedBy(t, b, c.Hash); got != winner {
			t.Errorf("the code names %q, want the winner's token %q", got, winner)
		}
	})
}
