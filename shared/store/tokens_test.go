package store_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
)

// newCode stores a fresh code for clientID and username and returns it.
func newCode(t *testing.T, s *store.Store, clientID, username string, at time.Time) store.Code {
	t.Helper()
	c := store.Code{
		Hash: uniq("code"), ClientID: clientID, RedirectURI: "https://ci.example/cb",
		Challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", Username: username,
		Scope: []string{"REPO_READ"}, CreatedAt: at, ExpiresAt: at.Add(time.Minute),
	}
	if err := s.CreateCode(ctx(), c); err != nil {
		t.Fatalf("CreateCode: %v", err)
	}
	return c
}

func newGrant(clientID, username string, at time.Time) store.Grant {
	return store.Grant{ID: uniq("grant"), ClientID: clientID, Username: username,
		Scope: []string{"REPO_READ"}, CreatedAt: at, UpdatedAt: at}
}

func newRefresh(g store.Grant, at time.Time) store.RefreshToken {
	return store.RefreshToken{Hash: uniq("rt"), GrantID: g.ID, ClientID: g.ClientID, Username: g.Username,
		Scope: g.Scope, Status: store.RefreshActive, CreatedAt: at, ExpiresAt: at.Add(24 * time.Hour)}
}

// redeemed creates and redeems a code, returning the grant id.
func redeemed(t *testing.T, s *store.Store, clientID, username string, at time.Time) string {
	t.Helper()
	c := newCode(t, s, clientID, username, at)
	g := newGrant(clientID, username, at)
	if err := s.RedeemCode(ctx(), c.Hash, g, nil, at); err != nil {
		t.Fatalf("RedeemCode: %v", err)
	}
	return g.ID
}

// grantWithToken redeems a code with a first refresh token.
func grantWithToken(t *testing.T, s *store.Store, at time.Time) (store.Grant, store.RefreshToken) {
	t.Helper()
	c := newCode(t, s, "client", "alice", at)
	g := newGrant("client", "alice", at)
	rt := newRefresh(g, at)
	if err := s.RedeemCode(ctx(), c.Hash, g, &rt, at); err != nil {
		t.Fatalf("RedeemCode: %v", err)
	}
	return g, rt
}

func TestRedeemCode(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		c := newCode(t, s, "client", "alice", at)
		b, err := s.Fetch(ctx(), store.Keys{CodeHash: c.Hash})
		if err != nil || b.Code == nil {
			t.Fatalf("Fetch(code) = %+v, %v", b.Code, err)
		}
		if got := *b.Code; got.Hash != c.Hash || got.ClientID != c.ClientID || got.RedirectURI != c.RedirectURI ||
			got.Challenge != c.Challenge || got.Username != c.Username || !slices.Equal(got.Scope, c.Scope) ||
			!got.CreatedAt.Equal(c.CreatedAt) || !got.ExpiresAt.Equal(c.ExpiresAt) || got.Used || got.GrantID != "" {
			t.Errorf("Fetch(code) = %+v, want %+v", got, c)
		}
		g := newGrant("client", "alice", at)
		rt := newRefresh(g, at)
		if err := s.RedeemCode(ctx(), c.Hash, g, &rt, at); err != nil {
			t.Fatalf("RedeemCode: %v", err)
		}
		b, err = s.Fetch(ctx(), store.Keys{CodeHash: c.Hash, GrantID: g.ID, RefreshHash: rt.Hash})
		if err != nil || b.Code == nil || b.Grant == nil || b.Refresh == nil {
			t.Fatalf("Fetch after redemption = %+v, %v, want code, grant and token", b, err)
		}
		if !b.Code.Used || b.Code.GrantID != g.ID {
			t.Errorf("redeemed code: used %v grant %q, want true %q", b.Code.Used, b.Code.GrantID, g.ID)
		}
		if b.Grant.ClientID != "client" || b.Grant.Username != "alice" || b.Grant.Revoked || !b.Grant.CreatedAt.Equal(at) {
			t.Errorf("grant = %+v", *b.Grant)
		}
		if b.Refresh.Status != store.RefreshActive || b.Refresh.GrantID != g.ID || !b.Refresh.ExpiresAt.Equal(rt.ExpiresAt) {
			t.Errorf("refresh token = %+v", *b.Refresh)
		}
		// Second redemption: conflict, and nothing written.
		g2 := newGrant("client", "alice", at)
		rt2 := newRefresh(g2, at)
		if err := s.RedeemCode(ctx(), c.Hash, g2, &rt2, at); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("second RedeemCode = %v, want ErrConflict", err)
		}
		b, err = s.Fetch(ctx(), store.Keys{CodeHash: c.Hash, GrantID: g2.ID, RefreshHash: rt2.Hash})
		if err != nil || b.Grant != nil || b.Refresh != nil || b.Code.GrantID != g.ID {
			t.Errorf("after a refused redemption: grant %v, token %v, code grant %q; want nothing new", b.Grant, b.Refresh, b.Code.GrantID)
		}
		// Expired and unknown codes.
		expired := newCode(t, s, "client", "alice", at.Add(-2*time.Minute))
		if err := s.RedeemCode(ctx(), expired.Hash, newGrant("client", "alice", at), nil, at); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("RedeemCode(expired) = %v, want ErrConflict", err)
		}
		if err := s.RedeemCode(ctx(), "unknown", newGrant("client", "alice", at), nil, at); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("RedeemCode(unknown) = %v, want ErrConflict", err)
		}
	})
}

func TestRedeemCodeConcurrent(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s := b.Store()
		at := now()
		c := newCode(t, s, "client", "alice", at)
		const n = 20
		errs := parallel(n, func(int) error {
			g := newGrant("client", "alice", at)
			rt := newRefresh(g, at)
			return s.RedeemCode(ctx(), c.Hash, g, &rt, at)
		})
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, shared.ErrConflict):
				t.Errorf("concurrent RedeemCode: %v, want nil or ErrConflict", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent redemptions succeeded, want 1", ok, n)
		}
		if got := countItems(t, b, "GRANT#"); got != 1 {
			t.Errorf("%d grants written, want 1", got)
		}
		if got := countItems(t, b, "RT#"); got != 1 {
			t.Errorf("%d refresh tokens written, want 1", got)
		}
	})
}

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
		// Rotating the old token again: conflict, nothing written.
		again := newRefresh(g, at)
		if err := s.RotateRefresh(ctx(), rt, again, at); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("second RotateRefresh = %v, want ErrConflict", err)
		}
		if b, _ := s.Fetch(ctx(), store.Keys{RefreshHash: again.Hash}); b.Refresh != nil {
			t.Error("a refused rotation wrote its token")
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
		errs := parallel(n, func(int) error {
			return s.RotateRefresh(ctx(), rt, newRefresh(g, at), at)
		})
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, shared.ErrConflict):
				t.Errorf("concurrent RotateRefresh: %v", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent rotations succeeded, want 1", ok, n)
		}
		if got := countItems(t, b, "RT#"); got != 2 {
			t.Errorf("%d refresh tokens, want 2 (old and one successor)", got)
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
		if err := s.RevokeGrant(ctx(), g.ID, at); err != nil {
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

func TestGrants(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		var ids []string
		for i := range 5 {
			ids = append(ids, redeemed(t, s, "client", []string{"alice", "bob"}[i%2], at.Add(time.Duration(i)*time.Second)))
		}
		redeemed(t, s, "other", "alice", at)
		g, err := s.GetGrant(ctx(), ids[0])
		if err != nil || g.ID != ids[0] || g.ClientID != "client" || g.Username != "alice" || !slices.Equal(g.Scope, []string{"REPO_READ"}) {
			t.Errorf("GetGrant = %+v, %v", g, err)
		}
		if _, err := s.GetGrant(ctx(), "nope"); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("GetGrant(unknown) = %v, want ErrNotFound", err)
		}
		// By link, newest first, two per page.
		var got []string
		cursor := ""
		for range 5 {
			page, next, err := s.ListGrantsByLink(ctx(), "client", 2, cursor)
			if err != nil {
				t.Fatalf("ListGrantsByLink: %v", err)
			}
			for _, g := range page {
				got = append(got, g.ID)
			}
			if cursor = next; cursor == "" {
				break
			}
		}
		want := slices.Clone(ids)
		slices.Reverse(want)
		if !slices.Equal(got, want) {
			t.Errorf("ListGrantsByLink = %v, want %v", got, want)
		}
		byUser, err := s.ListGrantsByUser(ctx(), "alice")
		if err != nil || len(byUser) != 4 {
			t.Errorf("ListGrantsByUser(alice) = %d grants, %v, want 4", len(byUser), err)
		}
		// Revocation is idempotent and keeps the first time.
		if err := s.RevokeGrant(ctx(), ids[0], at.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeGrant(ctx(), ids[0], at.Add(2*time.Hour)); err != nil {
			t.Errorf("second RevokeGrant = %v, want nil", err)
		}
		g, err = s.GetGrant(ctx(), ids[0])
		if err != nil || !g.Revoked || !g.RevokedAt.Equal(at.Add(time.Hour)) {
			t.Errorf("revoked grant = %+v, %v, want revoked at +1h", g, err)
		}
		if err := s.RevokeGrant(ctx(), "nope", at); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("RevokeGrant(unknown) = %v, want ErrNotFound", err)
		}
		byUser, _ = s.ListGrantsByUser(ctx(), "alice")
		revoked := 0
		for _, g := range byUser {
			if g.Revoked {
				revoked++
			}
		}
		if len(byUser) != 4 || revoked != 1 {
			t.Errorf("ListGrantsByUser after a revocation: %d grants, %d revoked; want 4, 1", len(byUser), revoked)
		}
	})
}

func TestRevokeAccessToken(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		if err := s.RevokeAccessToken(ctx(), "jti-1", at.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		for jti, want := range map[string]bool{"jti-1": true, "jti-2": false} {
			b, err := s.Fetch(ctx(), store.Keys{JTI: jti})
			if err != nil || b.AccessRevoked != want {
				t.Errorf("Fetch(jti %s).AccessRevoked = %v, %v, want %v", jti, b.AccessRevoked, err, want)
			}
		}
	})
}

// TestFetchOneCall: Fetch reads every record in one request, and a link
// by client id, a user, a redemption and a rotation cost one request each.
func TestFetchOneCall(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		c := newCounter(b.DynamoDB)
		s := store.New(c, b.SecretsManager, b.Options)
		at := now()
		in := newLink("")
		if _, _, err := s.CreateLink(ctx(), in, at); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateUser(ctx(), store.User{Username: "alice", CreatedAt: at, UpdatedAt: at}); err != nil {
			t.Fatal(err)
		}
		code := newCode(t, s, in.ClientID, "alice", at)
		g := newGrant(in.ClientID, "alice", at)
		rt := newRefresh(g, at)
		if err := s.RevokeAccessToken(ctx(), "jti", at.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		for _, step := range []struct {
			name string
			call func() error
		}{
			{"RedeemCode", func() error { return s.RedeemCode(ctx(), code.Hash, g, &rt, at) }},
			{"Fetch", func() error {
				bundle, err := s.Fetch(ctx(), store.Keys{ClientID: in.ClientID, CodeHash: code.Hash, RefreshHash: rt.Hash,
					GrantID: g.ID, Username: "alice", JTI: "jti"})
				if err == nil && (bundle.Link == nil || bundle.Code == nil || bundle.Refresh == nil || bundle.Grant == nil ||
					bundle.User == nil || !bundle.AccessRevoked) {
					t.Errorf("Fetch(all) = %+v, want every record", bundle)
				}
				return err
			}},
			{"Fetch(absent)", func() error {
				bundle, err := s.Fetch(ctx(), store.Keys{ClientID: "x", CodeHash: "x", RefreshHash: "x", GrantID: "x", Username: "x", JTI: "x"})
				if err == nil && (bundle.Link != nil || bundle.Code != nil || bundle.Refresh != nil || bundle.Grant != nil ||
					bundle.User != nil || bundle.AccessRevoked) {
					t.Errorf("Fetch(absent) = %+v, want nothing", bundle)
				}
				return err
			}},
			{"RotateRefresh", func() error { return s.RotateRefresh(ctx(), rt, newRefresh(g, at), at) }},
			{"GetLinkByClientID", func() error { _, err := s.GetLinkByClientID(ctx(), in.ClientID); return err }},
			{"GetUser", func() error { _, err := s.GetUser(ctx(), "alice"); return err }},
		} {
			c.reset()
			if err := step.call(); err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			if got := c.total(); got != 1 {
				t.Errorf("%s made %d DynamoDB calls (%v), want 1", step.name, got, c.calls)
			}
		}
		c.reset()
		if bundle, err := s.Fetch(ctx(), store.Keys{}); err != nil || c.total() != 0 || bundle != (store.Bundle{}) {
			t.Errorf("Fetch(no keys) = %+v, %v with %d calls, want an empty bundle and no call", bundle, err, c.total())
		}
	})
}
