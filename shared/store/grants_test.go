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
