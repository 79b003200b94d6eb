package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
)

func TestRotateRefresh(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		g, rt := grantWithToken(t, s, at)
		next := newRefresh(g, at.Add(time.Minute))
		if err := s.RotateRefresh(ctx(), rt, next, at.Add(time.Minute)); err != nil {
			t.Fatalf("RotateRefresh: %v", err)
		}
		b, err := s.Fetch(ctx(), store.Keys{RefreshHash: rt.Hash})
		if err != nil || b.Refresh == nil || b.Refresh.Status != store.RefreshRotated || b.Refresh.Successor != next.Hash ||
			!b.Refresh.RotatedAt.Equal(at.Add(time.Minute)) {
			t.Errorf("old token after rotation = %+v, %v, want rotated with successor %s", b.Refresh, err, next.Hash)
		}
		b, err = s.Fetch(ctx(), store.Keys{RefreshHash: next.Hash})
		if err != nil || b.Refresh == nil || b.Refresh.Status != store.RefreshActive {
			t.Errorf("new token = %+v, %v, want active", b.Refresh, err)
		}
		// Rotating the old token again: conflict, decided by old; its
		// successor stays the first rotation's.
		again := newRefresh(g, at)
		if err := s.RotateRefresh(ctx(), rt, again, at); !errors.Is(err, shared.ErrConflict) || errors.Is(err, store.ErrTransactionConflict) {
			t.Errorf("second RotateRefresh = %v, want ErrConflict, not in flight", err)
		}
		if b, _ := s.Fetch(ctx(), store.Keys{RefreshHash: rt.Hash}); b.Refresh == nil || b.Refresh.Successor != next.Hash {
			t.Errorf("old token after a refused rotation = %+v, want its successor still %s", b.Refresh, next.Hash)
		}
		// The grant is the caller's to check (see RotateRefresh): rotation
		// itself does not read it.
	})
}

func TestRotateRefreshConcurrent(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s := b.Store()
		at := now()
		g, rt := grantWithToken(t, s, at)
		const n = 20
		nexts := make([]store.RefreshToken, n)
		errs := parallel(n, func(i int) error {
			nexts[i] = newRefresh(g, at)
			return s.RotateRefresh(ctx(), rt, nexts[i], at)
		})
		ok, winner := 0, ""
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
				winner = nexts[i].Hash
			case !errors.Is(err, shared.ErrConflict):
				t.Errorf("concurrent RotateRefresh: %v", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent rotations succeeded, want 1", ok, n)
		}
		// Each rotation wrote its successor before the gate; old names the
		// winner's, the only one handed out.
		if got, err := s.Fetch(ctx(), store.Keys{RefreshHash: rt.Hash}); err != nil || got.Refresh == nil ||
			got.Refresh.Status != store.RefreshRotated || got.Refresh.Successor != winner {
			t.Errorf("old token = %+v, %v, want rotated to the winner's %s", got.Refresh, err, winner)
		}
	})
}

func TestReplaceSuccessor(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		g, rt := grantWithToken(t, s, at)
		succ := newRefresh(g, at)
		if err := s.RotateRefresh(ctx(), rt, succ, at); err != nil {
			t.Fatal(err)
		}
		fetch := func(h string) store.RefreshToken {
			t.Helper()
			b, err := s.Fetch(ctx(), store.Keys{RefreshHash: h})
			if err != nil || b.Refresh == nil {
				t.Fatalf("Fetch(%s) = %v, %v", h, b.Refresh, err)
			}
			return *b.Refresh
		}
		old := fetch(rt.Hash) // rotated, successor succ
		repl := newRefresh(g, at)
		if err := s.ReplaceSuccessor(ctx(), old, repl, at); err != nil {
			t.Fatalf("ReplaceSuccessor: %v", err)
		}
		// Replaced, not revoked: presenting it is reuse (issue 13).
		if got := fetch(succ.Hash).Status; got != store.RefreshReplaced {
			t.Errorf("replaced successor status = %q, want replaced", got)
		}
		if got := fetch(rt.Hash); got.Successor != repl.Hash || got.Status != store.RefreshRotated {
			t.Errorf("old token = %+v, want rotated with successor %s", got, repl.Hash)
		}
		if got := fetch(repl.Hash).Status; got != store.RefreshActive {
			t.Errorf("replacement status = %q, want active", got)
		}
		// The replaced successor cannot start a second chain.
		if err := s.RotateRefresh(ctx(), fetch(succ.Hash), newRefresh(g, at), at); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("RotateRefresh of the replaced successor = %v, want ErrConflict", err)
		}
		// The stale view (successor succ) no longer matches: conflict.
		if err := s.ReplaceSuccessor(ctx(), old, newRefresh(g, at), at); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("ReplaceSuccessor with a stale successor = %v, want ErrConflict", err)
		}
		// A successor already used (rotated itself) cannot be replaced.
		used := newRefresh(g, at)
		if err := s.RotateRefresh(ctx(), repl, used, at); err != nil {
			t.Fatal(err)
		}
		if err := s.ReplaceSuccessor(ctx(), fetch(rt.Hash), newRefresh(g, at), at); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("ReplaceSuccessor of a used successor = %v, want ErrConflict", err)
		}
		// A revoked grant blocks it.
		if _, err := s.RevokeGrant(ctx(), g.UserID, g.ClientID, g.ID, at); err != nil {
			t.Fatal(err)
		}
		if err := s.ReplaceSuccessor(ctx(), fetch(repl.Hash), newRefresh(g, at), at); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("ReplaceSuccessor on a revoked grant = %v, want ErrConflict", err)
		}
		if got := fetch(used.Hash).Status; got != store.RefreshActive {
			t.Errorf("successor after a refused replacement = %q, want active", got)
		}
	})
}
