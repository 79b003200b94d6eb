package store_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
)

// selfRegistered is a fresh link request of origin with status (public
// when public is set: it is created in one transaction, without a secret).
func selfRegistered(origin, status string, public bool) store.NewLink {
	in := newLink("")
	in.Origin, in.Status = origin, status
	if public {
		in.ClientType, in.Secret = store.Public, ""
	}
	return in
}

func pendingCount(t *testing.T, s *store.Store) int {
	t.Helper()
	n, err := s.CountPendingLinks(ctx())
	if err != nil {
		t.Fatalf("CountPendingLinks: %v", err)
	}
	return n
}

// TestSetLinkStatusDynamic: pending links (public and confidential, of
// either origin) are counted;
// approving makes one usable and uncounted, rejecting keeps the link
// (readable, not usable, uncounted); a link made pending again is counted
// again, and a deleted one no more. An administrator's link cannot be
// approved or rejected (ErrNotSelfRegistered), and an unknown id is not
// found.
func TestSetLinkStatusDynamic(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		admin, _, err := s.CreateLink(ctx(), newLink(""), at)
		if err != nil {
			t.Fatal(err)
		}
		if n := pendingCount(t, s); n != 0 {
			t.Fatalf("pending with an admin link only: %d, want 0", n)
		}
		var pending []store.Link
		for i, in := range []store.NewLink{
			selfRegistered(shared.OriginDynamic, shared.StatusPending, false),
			selfRegistered(shared.OriginDynamic, shared.StatusPending, true),
			selfRegistered(shared.OriginMetadataDocument, shared.StatusPending, true),
		} {
			l, _, err := s.CreateLink(ctx(), in, at.Add(time.Duration(i)*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			pending = append(pending, l)
		}
		if _, _, err := s.CreateLink(ctx(), selfRegistered(shared.OriginDynamic, shared.StatusActive, false), at); err != nil {
			t.Fatal(err)
		}
		if n := pendingCount(t, s); n != 3 {
			t.Fatalf("pending: %d, want 3", n)
		}

		approved, err := s.SetLinkStatus(ctx(), pending[0].ID, shared.StatusActive, at.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if approved.Status != shared.StatusActive || approved.Origin != shared.OriginDynamic || !approved.Usable() ||
			!approved.UpdatedAt.Equal(at.Add(time.Minute)) {
			t.Fatalf("approved: status %q origin %q usable %v updated %v", approved.Status, approved.Origin, approved.Usable(), approved.UpdatedAt)
		}
		rejected, err := s.SetLinkStatus(ctx(), pending[1].ID, shared.StatusRejected, at.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if rejected.Status != shared.StatusRejected || rejected.Usable() {
			t.Fatalf("rejected: status %q usable %v", rejected.Status, rejected.Usable())
		}
		got, err := s.GetLinkByClientID(ctx(), pending[1].ClientID)
		if err != nil || got.Status != shared.StatusRejected {
			t.Fatalf("a rejected link reads back: %+v, %v", got, err)
		}
		if n := pendingCount(t, s); n != 1 {
			t.Fatalf("pending after an approval and a rejection: %d, want 1", n)
		}
		if _, err := s.SetLinkStatus(ctx(), pending[1].ID, shared.StatusPending, at.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if n := pendingCount(t, s); n != 2 {
			t.Fatalf("pending after one was made pending again: %d, want 2", n)
		}
		if err := s.DeleteLink(ctx(), pending[2].ID, at.Add(3*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if n := pendingCount(t, s); n != 1 {
			t.Fatalf("pending after a pending link's deletion: %d, want 1", n)
		}

		if _, err := s.SetLinkStatus(ctx(), admin.ID, shared.StatusRejected, at); !errors.Is(err, store.ErrNotSelfRegistered) || !errors.Is(err, shared.ErrConflict) {
			t.Fatalf("rejecting an admin link: %v, want ErrNotSelfRegistered", err)
		}
		if l, _ := s.GetLink(ctx(), admin.ID); l.Status != shared.StatusActive {
			t.Fatalf("the admin link's status: %q", l.Status)
		}
		if _, err := s.SetLinkStatus(ctx(), "no-such-link", shared.StatusActive, at); !errors.Is(err, shared.ErrNotFound) {
			t.Fatalf("unknown link: %v, want ErrNotFound", err)
		}
		if _, err := s.SetLinkStatus(ctx(), pending[2].ID, shared.StatusActive, at); !errors.Is(err, shared.ErrNotFound) {
			t.Fatalf("deleted link: %v, want ErrNotFound", err)
		}
		if _, err := s.SetLinkStatus(ctx(), pending[0].ID, "approved", at); err == nil {
			t.Fatal("an unknown status was accepted")
		}
	})
}

// TestListLinksBy: every filter, paged with limits 1 and 2, lists exactly
// the matching links in creation order, each once; pages may be short (a
// filter matching few links), but following next_cursor to its end is
// complete. A cursor of another listing is refused.
func TestListLinksBy(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		type made struct {
			id, origin, status string
		}
		var all []made
		kinds := []struct{ origin, status string }{
			{shared.OriginAdmin, shared.StatusActive},
			{shared.OriginDynamic, shared.StatusPending},
			{shared.OriginAdmin, shared.StatusActive},
			{shared.OriginAdmin, shared.StatusActive},
			{shared.OriginMetadataDocument, shared.StatusPending},
			{shared.OriginDynamic, shared.StatusActive},
			{shared.OriginAdmin, shared.StatusActive},
			{shared.OriginAdmin, shared.StatusActive},
			{shared.OriginAdmin, shared.StatusActive},
			{shared.OriginDynamic, shared.StatusRejected},
		}
		for i, k := range kinds {
			in := newLink("")
			if k.origin != shared.OriginAdmin {
				in = selfRegistered(k.origin, k.status, i%2 == 0)
			}
			if _, _, err := s.CreateLink(ctx(), in, at.Add(time.Duration(i)*time.Second)); err != nil {
				t.Fatal(err)
			}
			all = append(all, made{in.ID, k.origin, k.status})
		}
		filters := []store.LinkFilter{
			{},
			{Origin: shared.OriginAdmin},
			{Origin: shared.OriginDynamic},
			{Origin: shared.OriginMetadataDocument},
			{Status: shared.StatusActive},
			{Status: shared.StatusPending},
			{Status: shared.StatusRejected},
			{Origin: shared.OriginDynamic, Status: shared.StatusActive},
			{Origin: shared.OriginAdmin, Status: shared.StatusPending},
		}
		for _, f := range filters {
			var want []string
			for _, m := range all {
				if (f.Origin == "" || f.Origin == m.origin) && (f.Status == "" || f.Status == m.status) {
					want = append(want, m.id)
				}
			}
			for _, limit := range []int{1, 2} {
				var got []string
				cursor := ""
				for pages := 0; ; pages++ {
					if pages > len(all)+2 {
						t.Fatalf("filter %+v limit %d: the cursors do not end", f, limit)
					}
					links, next, err := s.ListLinksBy(ctx(), f, limit, cursor)
					if err != nil {
						t.Fatalf("filter %+v limit %d: %v", f, limit, err)
					}
					if len(links) > limit {
						t.Fatalf("filter %+v limit %d: a page of %d", f, limit, len(links))
					}
					for _, l := range links {
						if f.Origin != "" && l.Origin != f.Origin || f.Status != "" && l.Status != f.Status {
							t.Fatalf("filter %+v: listed %s (origin %q, status %q)", f, l.ID, l.Origin, l.Status)
						}
						got = append(got, l.ID)
					}
					if next == "" {
						break
					}
					cursor = next
				}
				if !slices.Equal(got, want) {
					t.Errorf("filter %+v limit %d: got %v, want %v", f, limit, got, want)
				}
			}
		}
		if _, _, err := s.ListLinksBy(ctx(), store.LinkFilter{Status: shared.StatusPending}, 1, "bm90IGEgY3Vyc29y"); !errors.Is(err, store.ErrInvalidCursor) {
			t.Fatalf("a bad cursor: %v, want ErrInvalidCursor", err)
		}
	})
}
