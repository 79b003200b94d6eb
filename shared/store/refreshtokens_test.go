package store_test

import (
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
)

// seedUser creates a user named username with a fresh id.
func seedUser(t *testing.T, s *store.Store, username string, at time.Time) store.User {
	t.Helper()
	u := store.User{ID: uniq("uid"), Username: username, PasswordHash: "$argon2id$x", CreatedAt: at, UpdatedAt: at}
	if err := s.CreateUser(ctx(), u); err != nil {
		t.Fatalf("CreateUser(%s): %v", username, err)
	}
	return u
}

// unionOf is a catalog-free merge for ApproveGrant: the scopes of both, in
// order, without repeats.
func unionOf(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// approved records u's approval of clientID (scope REPO_READ) and returns
// the grant.
func approved(t *testing.T, s *store.Store, u store.User, clientID string, at time.Time) store.Grant {
	t.Helper()
	g, err := s.ApproveGrant(ctx(), store.Grant{ID: uniq("grant"), UserID: u.ID, Username: u.Username, ClientID: clientID,
		Scope: []string{"REPO_READ"}}, unionOf, at)
	if err != nil {
		t.Fatalf("ApproveGrant(%s, %s): %v", u.Username, clientID, err)
	}
	return g
}

// newCode stores a fresh code of grant g and returns it.
func newCode(t *testing.T, s *store.Store, g store.Grant, at time.Time) store.Code {
	t.Helper()
	c := store.Code{
		Hash: uniq("code"), ClientID: g.ClientID, RedirectURI: "https://ci.example/cb",
		Challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", UserID: g.UserID, GrantID: g.ID,
		Scope: []string{"REPO_READ"}, AuthTime: at.Add(-time.Second), CreatedAt: at, ExpiresAt: at.Add(time.Minute),
	}
	if err := s.CreateCode(ctx(), c); err != nil {
		t.Fatalf("CreateCode: %v", err)
	}
	return c
}

func newRefresh(g store.Grant, at time.Time) store.RefreshToken {
	return store.RefreshToken{Hash: uniq("rt"), GrantID: g.ID, ClientID: g.ClientID, UserID: g.UserID,
		Scope: g.Scope, AuthTime: at.Add(-time.Second), Status: store.RefreshActive, CreatedAt: at, ExpiresAt: at.Add(24 * time.Hour)}
}

// grantWithToken approves a grant for a new user, and redeems a code of it
// with a first refresh token.
func grantWithToken(t *testing.T, s *store.Store, at time.Time) (store.Grant, store.RefreshToken) {
	t.Helper()
	g := approved(t, s, seedUser(t, s, uniq("alice"), at), "client", at)
	c := newCode(t, s, g, at)
	rt := newRefresh(g, at)
	if err := s.RedeemCode(ctx(), c.Hash, &rt, at); err != nil {
		t.Fatalf("RedeemCode: %v", err)
	}
	return g, rt
}

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

func TestGrants(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s := b.Store()
		at := now()
		users := []store.User{seedUser(t, s, "alice", at), seedUser(t, s, "bob", at), seedUser(t, s, "carol", at)}
		var ids []string
		for i, u := range users {
			ids = append(ids, approved(t, s, u, "client", at.Add(time.Duration(i)*time.Second)).ID)
		}
		approved(t, s, users[0], "other", at)

		// Authorizing again updates the one record: same id, union of the
		// scopes (and of the OpenID Connect scopes), later UpdatedAt; no
		// second item.
		later := at.Add(time.Hour)
		again, err := s.ApproveGrant(ctx(), store.Grant{ID: uniq("grant"), UserID: users[0].ID, Username: "alice",
			ClientID: "client", Scope: []string{"ACCOUNT_WRITE"}, Protocol: []string{"openid", "email"}}, unionOf, later)
		if err != nil || again.ID != ids[0] || !slices.Equal(again.Scope, []string{"REPO_READ", "ACCOUNT_WRITE"}) ||
			!slices.Equal(again.Protocol, []string{"openid", "email"}) ||
			!again.CreatedAt.Equal(at) || !again.UpdatedAt.Equal(later) {
			t.Errorf("ApproveGrant again = %+v, %v, want id %s, both scopes, created %v, updated %v", again, err, ids[0], at, later)
		}
		for range 3 {
			approved(t, s, users[0], "client", later)
		}
		if got := countItems(t, b, "GRANTS#"); got != 4 {
			t.Errorf("%d grant items after repeated authorizations, want 4 (one per user and link)", got)
		}
		g, err := s.GetGrant(ctx(), users[0].ID, "client")
		if err != nil || g.ID != ids[0] || g.ClientID != "client" || g.Username != "alice" || g.UserID != users[0].ID ||
			!slices.Equal(g.Protocol, []string{"openid", "email"}) {
			t.Errorf("GetGrant = %+v, %v", g, err)
		}
		if _, err := s.GetGrant(ctx(), users[0].ID, "nope"); !errors.Is(err, shared.ErrNotFound) {
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
		byUser, err := s.ListGrantsByUser(ctx(), users[0].ID)
		if err != nil || len(byUser) != 2 {
			t.Errorf("ListGrantsByUser(alice) = %d grants, %v, want 2 (one per link)", len(byUser), err)
		}
		// Revocation with another id is refused; with the id or "" it is
		// idempotent and keeps the first time; the grant leaves the link's
		// listing and gets a TTL.
		if _, err := s.RevokeGrant(ctx(), users[0].ID, "client", "not-its-id", at); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("RevokeGrant(other id) = %v, want ErrNotFound", err)
		}
		if _, err := s.RevokeGrant(ctx(), users[0].ID, "client", ids[0], at.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RevokeGrant(ctx(), users[0].ID, "client", "", at.Add(2*time.Hour)); err != nil {
			t.Errorf("second RevokeGrant = %v, want nil", err)
		}
		g, err = s.GetGrant(ctx(), users[0].ID, "client")
		if err != nil || !g.Revoked || !g.RevokedAt.Equal(at.Add(time.Hour)) || g.Active(ids[0]) {
			t.Errorf("revoked grant = %+v, %v, want revoked at +1h", g, err)
		}
		raw := rawItem(t, b, "GRANTS#"+users[0].ID, "GRANT#client")
		if exp, ok := raw["ttl"].(*types.AttributeValueMemberN); !ok || exp.Value != strconv.FormatInt(at.Add(time.Hour).Add(store.RevokedGrantTTL).Unix(), 10) ||
			raw["gsi1pk"] == nil {
			t.Errorf("revoked grant item = %v, want a ttl RevokedGrantTTL after the first revocation and still gsi1pk", raw)
		}
		if _, err := s.RevokeGrant(ctx(), users[0].ID, "nope", "", at); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("RevokeGrant(unknown) = %v, want ErrNotFound", err)
		}
		// The revoked grant stays listed with its link, revoked, with when.
		listed, _, err := s.ListGrantsByLink(ctx(), "client", 10, "")
		if err != nil || len(listed) != 3 {
			t.Fatalf("ListGrantsByLink after a revocation: %d grants, %v, want 3", len(listed), err)
		}
		if r := listed[2]; r.ID != ids[0] || !r.Revoked || !r.RevokedAt.Equal(at.Add(time.Hour)) || r.Username != "alice" {
			t.Errorf("ListGrantsByLink's revoked grant = %+v, want alice's %s revoked at +1h", r, ids[0])
		}
		for _, g := range listed[:2] {
			if g.Revoked {
				t.Errorf("ListGrantsByLink: %+v revoked, want active", g)
			}
		}
		// Authorizing after a revocation makes a new grant with a new id.
		fresh := approved(t, s, users[0], "client", at.Add(3*time.Hour))
		if fresh.ID == ids[0] || fresh.Revoked || !fresh.CreatedAt.Equal(at.Add(3*time.Hour)) {
			t.Errorf("grant after a revocation = %+v, want a new id, active, created now", fresh)
		}
		// It replaces the revoked record: one grant of alice listed, active,
		// and no TTL on its item.
		if listed, _, _ := s.ListGrantsByLink(ctx(), "client", 10, ""); len(listed) != 3 || listed[0].ID != fresh.ID || listed[0].Revoked {
			t.Errorf("ListGrantsByLink after authorizing again = %+v, want 3 grants, alice's new one first", listed)
		}
		if raw := rawItem(t, b, "GRANTS#"+users[0].ID, "GRANT#client"); raw["ttl"] != nil {
			t.Errorf("grant after a revocation: item %v has a ttl, want none", raw)
		}
		// No grant for a user that is gone or disabled.
		if _, err := s.ApproveGrant(ctx(), store.Grant{ID: uniq("grant"), UserID: "no-such-user", ClientID: "client"}, unionOf, at); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("ApproveGrant(unknown user) = %v, want ErrNotFound", err)
		}
		disabled := true
		if _, err := s.UpdateUser(ctx(), users[2].ID, store.UserUpdate{Disabled: &disabled}, at); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ApproveGrant(ctx(), store.Grant{ID: uniq("grant"), UserID: users[2].ID, ClientID: "client"}, unionOf, at); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("ApproveGrant(disabled user) = %v, want ErrNotFound", err)
		}
		// RevokeUserGrants: every active grant of the user.
		if err := s.RevokeUserGrants(ctx(), users[0].ID, "test", at); err != nil {
			t.Fatal(err)
		}
		byUser, _ = s.ListGrantsByUser(ctx(), users[0].ID)
		for _, g := range byUser {
			if !g.Revoked {
				t.Errorf("after RevokeUserGrants: %+v still active", g)
			}
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
// by client id, a user and a grant cost one request each; a redemption and
// a rotation two single-item writes, no transaction.
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
		u := seedUser(t, s, "alice", at)
		g := approved(t, s, u, in.ClientID, at)
		code := newCode(t, s, g, at)
		rt := newRefresh(g, at)
		sess := store.Session{ID: uniq("sess"), UserID: u.ID, CSRF: "csrf", CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
		if err := s.CreateSession(ctx(), sess); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeAccessToken(ctx(), "jti", at.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		for _, step := range []struct {
			name  string
			call  func() error
			calls int
		}{
			// Two ordered single writes each, no transaction (2 write
			// units instead of 4).
			{"RedeemCode", func() error { return s.RedeemCode(ctx(), code.Hash, &rt, at) }, 2},
			{"Fetch", func() error {
				bundle, err := s.Fetch(ctx(), store.Keys{ClientID: in.ClientID, CodeHash: code.Hash, RefreshHash: rt.Hash,
					SessionID: sess.ID, UserID: u.ID, GrantClientID: in.ClientID, JTI: "jti"})
				if err == nil && (bundle.Link == nil || bundle.Code == nil || bundle.Refresh == nil || bundle.Grant == nil ||
					bundle.User == nil || bundle.Session == nil || !bundle.AccessRevoked) {
					t.Errorf("Fetch(all) = %+v, want every record", bundle)
				}
				if err == nil && (bundle.Session.UserID != u.ID || bundle.User.ID != u.ID || bundle.Grant.ID != g.ID) {
					t.Errorf("Fetch(all) = session %+v, user %+v, grant %+v; want %s's", bundle.Session, bundle.User, bundle.Grant, u.ID)
				}
				return err
			}, 1},
			{"Fetch(absent)", func() error {
				bundle, err := s.Fetch(ctx(), store.Keys{ClientID: "x", CodeHash: "x", RefreshHash: "x", SessionID: "x",
					UserID: "x", GrantClientID: "x", JTI: "x"})
				if err == nil && (bundle.Link != nil || bundle.Code != nil || bundle.Refresh != nil || bundle.Grant != nil ||
					bundle.User != nil || bundle.Session != nil || bundle.AccessRevoked) {
					t.Errorf("Fetch(absent) = %+v, want nothing", bundle)
				}
				return err
			}, 1},
			{"RotateRefresh", func() error { return s.RotateRefresh(ctx(), rt, newRefresh(g, at), at) }, 2},
			{"GetLinkByClientID", func() error { _, err := s.GetLinkByClientID(ctx(), in.ClientID); return err }, 1},
			{"GetUser", func() error { _, err := s.GetUser(ctx(), u.ID); return err }, 1},
			{"GetGrant", func() error { _, err := s.GetGrant(ctx(), u.ID, in.ClientID); return err }, 1},
		} {
			c.reset()
			if err := step.call(); err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			want := step.calls
			if got := c.total(); got != want || c.calls["TransactWriteItems"] != 0 {
				t.Errorf("%s made %d DynamoDB calls (%v), want %d and no transaction", step.name, got, c.calls, want)
			}
		}
		c.reset()
		if bundle, err := s.Fetch(ctx(), store.Keys{}); err != nil || c.total() != 0 || bundle != (store.Bundle{}) {
			t.Errorf("Fetch(no keys) = %+v, %v with %d calls, want an empty bundle and no call", bundle, err, c.total())
		}
	})
}
