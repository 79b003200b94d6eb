package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
	"github.com/applinks/applinks/shared/store/table"
)

// TestDeleteIdleLink: the idle clean-up deletes a dynamic link created,
// used and consented to before the cut-off with no live grant (revoking an
// old grant it still has), and leaves alone an administrator's link, a
// link used or consented to since, and one with a live grant. A consent
// that races the clean-up loses cleanly: after the link turned to deleting
// it is refused (ErrNotFound), and a consent recorded since the cut-off
// keeps the link even when its grant was revoked (the check is in the
// clean-up's transaction, not only in the grants' index).
func TestDeleteIdleLink(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		old := at.Add(-40 * 24 * time.Hour)
		idle := store.IdleCheck{UnusedSince: at.Add(-30 * 24 * time.Hour), LiveSince: at.Add(-90 * 24 * time.Hour)}
		user := store.User{ID: uniq("uid"), Username: uniq("alice"), CreatedAt: old, UpdatedAt: old}
		if err := s.CreateUser(ctx(), user); err != nil {
			t.Fatal(err)
		}
		link := func(origin string, created time.Time) store.Link {
			in := newLink("")
			in.Origin = origin
			l, _, err := s.CreateLink(ctx(), in, created)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		// Consents are the authorize function's, under its write prefixes.
		authz := s.WithDynamoDB(func(db store.DynamoDB) store.DynamoDB {
			return storetest.LeadingKeys(db, table.WritePrefixes["authorize"])
		})
		approve := func(l store.Link, when time.Time) store.Grant {
			g, err := authz.ApproveGrant(ctx(), store.Grant{ID: uniq("grant"), UserID: user.ID, Username: user.Username, ClientID: l.ClientID,
				Scope: []string{"REPO_READ"}, DynamicLink: l.Origin == shared.OriginDynamic}, unionOf, when)
			if err != nil {
				t.Fatal(err)
			}
			return g
		}
		deleted := func(l store.Link) bool {
			t.Helper()
			ok, err := s.DeleteIdleLink(ctx(), l.ClientID, idle, at)
			if err != nil {
				t.Fatalf("DeleteIdleLink(%s): %v", l.Name, err)
			}
			_, gerr := s.GetLink(ctx(), l.ID)
			if ok != errors.Is(gerr, shared.ErrNotFound) {
				t.Fatalf("DeleteIdleLink(%s) = %v, but GetLink: %v", l.Name, ok, gerr)
			}
			return ok
		}

		if l := link(shared.OriginAdmin, old); deleted(l) {
			t.Error("an administrator's idle link was deleted")
		}
		if l := link(shared.OriginDynamic, at.Add(-time.Hour)); deleted(l) {
			t.Error("a dynamic link created an hour ago was deleted")
		}
		used := link(shared.OriginDynamic, old)
		if _, _, err := s.TouchLastUse(ctx(), store.LastUseRef{ClientID: used.ClientID}, at.Add(-24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if deleted(used) {
			t.Error("a dynamic link used yesterday was deleted")
		}
		liveGrant := link(shared.OriginDynamic, old)
		approve(liveGrant, old) // approved 40 days ago: its refresh tokens may still be redeemed
		if deleted(liveGrant) {
			t.Error("a dynamic link with a live grant was deleted")
		}
		consented := link(shared.OriginDynamic, old)
		g := approve(consented, at.Add(-time.Hour))
		if _, err := s.RevokeGrant(ctx(), user.ID, consented.ClientID, g.ID, at.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		if deleted(consented) {
			t.Error("a dynamic link consented to an hour ago was deleted (its grant revoked since)")
		}

		idleLink := link(shared.OriginDynamic, old)
		stale := approve(idleLink, at.Add(-100*24*time.Hour))
		if !deleted(idleLink) {
			t.Fatal("an idle dynamic link with only a stale grant was kept")
		}
		if got, err := s.GetGrant(ctx(), user.ID, idleLink.ClientID); err == nil && !got.Revoked {
			t.Errorf("the deleted link's grant %s is still active", stale.ID)
		}
		if _, err := s.ApproveGrant(ctx(), store.Grant{ID: uniq("grant"), UserID: user.ID, ClientID: idleLink.ClientID,
			Scope: []string{"REPO_READ"}, DynamicLink: true}, unionOf, at); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("a consent to the deleted dynamic link: %v, want ErrNotFound", err)
		}
		if again, err := s.DeleteIdleLink(ctx(), idleLink.ClientID, idle, at); again || err != nil {
			t.Errorf("a second clean-up: %v, %v; want false, nil", again, err)
		}
	})
}
