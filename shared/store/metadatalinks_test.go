package store_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
)

func newMetadataLink(status string, at time.Time) store.NewMetadataLink {
	return store.NewMetadataLink{
		ClientID: "https://" + uniq("app") + ".example/oauth/client.json", Name: "Agent",
		RedirectURIs: []string{"http://127.0.0.1/callback"}, Scopes: []string{"REPO_READ"}, Status: status,
		Cache: store.MetadataCache{FetchedAt: at, CacheUntil: at.Add(time.Hour)},
	}
}

// TestMetadataLink: a metadata-document link, written under the authorize
// function's write policy as a CIMD# item (never LINK#), is found by its
// URL, by its id, in the listing and in Fetch; it is public with the
// default grant types and keeps its document's cache; a second creation
// is a conflict; a refresh records the document and can put it back to
// pending; the admin's update, status and deletion work on it, and the
// deletion revokes its grants.
func TestMetadataLink(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s := b.Store()
		authz := limitedStores(s)["authorize"]
		at := now()
		in := newMetadataLink(shared.StatusActive, at)
		l, err := authz.CreateMetadataLink(ctx(), in, at)
		if err != nil {
			t.Fatalf("CreateMetadataLink under the authorize policy: %v", err)
		}
		if !strings.HasPrefix(l.ID, store.MetadataLinkIDPrefix) || l.ID != store.MetadataLinkID(in.ClientID) {
			t.Fatalf("id %q", l.ID)
		}
		if n := countItems(t, b, "LINK#"); n != 0 {
			t.Errorf("%d LINK# items written, want 0", n)
		}
		if n := countItems(t, b, "CIMD#"); n != 1 {
			t.Errorf("%d CIMD# items written, want 1", n)
		}
		check := func(what string, got store.Link, status string) {
			t.Helper()
			if got.ClientID != in.ClientID || got.ID != l.ID || got.Origin != shared.OriginMetadataDocument || got.Status != status ||
				got.ClientType != store.Public || !slices.Equal(got.GrantTypes, shared.DefaultGrantTypes()) ||
				!slices.Equal(got.Scopes, in.Scopes) || !got.Enabled || got.Metadata == nil ||
				!got.Metadata.FetchedAt.Equal(at) || !got.Metadata.CacheUntil.Equal(at.Add(time.Hour)) {
				t.Errorf("%s: %+v (cache %+v), want the %s metadata link", what, got, got.Metadata, status)
			}
		}
		for what, get := range map[string]func() (store.Link, error){
			"GetLinkByClientID": func() (store.Link, error) { return s.GetLinkByClientID(ctx(), in.ClientID) },
			"GetLink":           func() (store.Link, error) { return s.GetLink(ctx(), l.ID) },
			"Fetch": func() (store.Link, error) {
				bd, err := s.Fetch(ctx(), store.Keys{ClientID: in.ClientID, TokenClientID: "other"})
				if err != nil || bd.Link == nil || bd.TokenLink != nil {
					return store.Link{}, errors.Join(err, errors.New("not fetched"))
				}
				return *bd.Link, nil
			},
		} {
			got, err := get()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			check(what, got, shared.StatusActive)
		}
		listed := false
		for cursor := ""; ; {
			page, next, err := s.ListLinks(ctx(), 100, cursor)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range page {
				listed = listed || x.ID == l.ID
			}
			if cursor = next; cursor == "" {
				break
			}
		}
		if !listed {
			t.Errorf("ListLinks does not list the metadata link")
		}
		if _, err := authz.CreateMetadataLink(ctx(), in, at); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("second creation: got %v, want ErrConflict", err)
		}

		// A refresh without a change of consequence keeps it active.
		later := at.Add(2 * time.Hour)
		r, err := authz.RefreshMetadataLink(ctx(), in.ClientID, store.MetadataRefresh{Name: "Agent 2", RedirectURIs: in.RedirectURIs,
			Cache: store.MetadataCache{FetchedAt: later, CacheUntil: later.Add(5 * time.Minute)}}, later)
		if err != nil || r.Name != "Agent 2" || r.Status != shared.StatusActive || !r.Metadata.CacheUntil.Equal(later.Add(5*time.Minute)) {
			t.Fatalf("refresh: %+v, %v", r, err)
		}
		if n := pending(t, s); n != 0 {
			t.Fatalf("%d pending, want 0", n)
		}
		r, err = authz.RefreshMetadataLink(ctx(), in.ClientID, store.MetadataRefresh{Name: "Agent 3", RedirectURIs: []string{"https://evil.example/cb"},
			Cache: store.MetadataCache{FetchedAt: later, CacheUntil: later.Add(time.Hour)}, BackToPending: true}, later)
		if err != nil || r.Status != shared.StatusPending || r.Usable() || !slices.Equal(r.RedirectURIs, []string{"https://evil.example/cb"}) {
			t.Fatalf("refresh back to pending: %+v, %v", r, err)
		}
		if n := pending(t, s); n != 1 {
			t.Fatalf("%d pending after the change, want 1", n)
		}
		// The administrator approves it (SetLinkStatus by its id).
		if a, err := s.SetLinkStatus(ctx(), l.ID, shared.StatusActive, later); err != nil || !a.Usable() {
			t.Fatalf("approve: %+v, %v", a, err)
		}
		if n := pending(t, s); n != 0 {
			t.Fatalf("%d pending after the approval, want 0", n)
		}
		// Disable through UpdateLink.
		off := false
		if u, err := s.UpdateLink(ctx(), l.ID, store.LinkUpdate{Enabled: &off}, later); err != nil || u.Enabled || u.Origin != shared.OriginMetadataDocument {
			t.Fatalf("disable: %+v, %v", u, err)
		}
		if got, _ := s.GetLinkByClientID(ctx(), in.ClientID); got.Usable() {
			t.Errorf("a disabled metadata link is usable")
		}
		// Delete revokes its grants.
		u := seedUser(t, s, uniq("alice"), later)
		g := approved(t, s, u, in.ClientID, later)
		if err := s.DeleteLink(ctx(), l.ID, later); err != nil {
			t.Fatalf("DeleteLink: %v", err)
		}
		if _, err := s.GetLink(ctx(), l.ID); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("GetLink after delete: %v", err)
		}
		if _, err := s.GetLinkByClientID(ctx(), in.ClientID); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("GetLinkByClientID after delete: %v", err)
		}
		if got, err := s.GetGrant(ctx(), u.ID, in.ClientID); err == nil && !got.Revoked || err == nil && got.ID != g.ID {
			t.Errorf("the grant after delete: %+v, %v; want revoked", got, err)
		}
		if n := countItems(t, b, "CIMD#"); n != 0 {
			t.Errorf("%d CIMD# items after delete, want 0", n)
		}
	})
}

// pending counts the pending links.
func pending(t *testing.T, s *store.Store) int {
	t.Helper()
	n, err := s.CountPendingLinks(ctx())
	if err != nil {
		t.Fatalf("CountPendingLinks: %v", err)
	}
	return n
}

// TestPendingLinks: pending links of either origin are counted (a
// metadata link, a public and a confidential dynamic one) and leave the
// count when approved, rejected or deleted; SetLinkStatus refuses an
// administrator's link, an unknown id and an unknown status; the
// authorize function's policy cannot write a LINK# item.
func TestPendingLinks(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		m, err := s.CreateMetadataLink(ctx(), newMetadataLink(shared.StatusPending, at), at)
		if err != nil || m.Usable() {
			t.Fatalf("pending metadata link: %+v, %v", m, err)
		}
		pub := newLink("")
		pub.ClientType, pub.Secret, pub.Origin, pub.Status = store.Public, "", shared.OriginDynamic, shared.StatusPending
		conf := newLink("")
		conf.Origin, conf.Status = shared.OriginDynamic, shared.StatusPending
		for _, in := range []store.NewLink{pub, conf} {
			if _, _, err := s.CreateLink(ctx(), in, at); err != nil {
				t.Fatal(err)
			}
		}
		if n := pending(t, s); n != 3 {
			t.Fatalf("%d pending, want 3", n)
		}
		if l, err := s.SetLinkStatus(ctx(), pub.ID, shared.StatusActive, at); err != nil || !l.Usable() {
			t.Fatalf("approve the dynamic link: %+v, %v", l, err)
		}
		if l, err := s.SetLinkStatus(ctx(), m.ID, shared.StatusRejected, at); err != nil || l.Status != shared.StatusRejected || l.Usable() {
			t.Fatalf("reject the metadata link: %+v, %v", l, err)
		}
		if n := pending(t, s); n != 1 {
			t.Fatalf("%d pending, want 1", n)
		}
		if err := s.DeleteLink(ctx(), conf.ID, at); err != nil {
			t.Fatal(err)
		}
		if n := pending(t, s); n != 0 {
			t.Fatalf("%d pending after the delete, want 0", n)
		}
		admin := newLink("")
		if _, _, err := s.CreateLink(ctx(), admin, at); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetLinkStatus(ctx(), admin.ID, shared.StatusRejected, at); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("SetLinkStatus of an admin link: got %v, want ErrConflict", err)
		}
		for _, id := range []string{"nope", "m.nope", store.MetadataLinkIDPrefix} {
			if _, err := s.SetLinkStatus(ctx(), id, shared.StatusActive, at); !errors.Is(err, shared.ErrNotFound) {
				t.Errorf("SetLinkStatus(%q): got %v, want ErrNotFound", id, err)
			}
		}
		if _, err := s.SetLinkStatus(ctx(), m.ID, "approved", at); err == nil {
			t.Errorf("an unknown status was accepted")
		}
		authz := limitedStores(s)["authorize"]
		if _, _, err := authz.CreateLink(ctx(), newLink(""), at); err == nil {
			t.Errorf("the authorize function's policy wrote a LINK# item")
		}
		if _, _, err := s.CreateLink(ctx(), store.NewLink{ID: "x", ClientID: "https://app.example/c.json", Name: "x",
			ClientType: store.Public, Enabled: true}, at); err == nil {
			t.Errorf("CreateLink took a metadata document's client id")
		}
	})
}

// TestRegistrationAttempt: MaxRegistrationsPerSource attempts per source
// in a window, the next one refused; another source has its own count;
// the window's end starts a new one. Under the authorize policy.
func TestRegistrationAttempt(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := limitedStores(nb(t).Store())["authorize"]
		at := now()
		src := uniq("198.51.100.7")
		for i := 1; i <= store.MaxRegistrationsPerSource; i++ {
			if ok, err := s.RegistrationAttempt(ctx(), src, at); err != nil || !ok {
				t.Fatalf("attempt %d: %v, %v", i, ok, err)
			}
		}
		if ok, err := s.RegistrationAttempt(ctx(), src, at.Add(time.Minute)); err != nil || ok {
			t.Fatalf("attempt %d: %v, %v; want refused", store.MaxRegistrationsPerSource+1, ok, err)
		}
		if ok, err := s.RegistrationAttempt(ctx(), uniq("2001:db8:1:2::/64"), at); err != nil || !ok {
			t.Fatalf("another source: %v, %v", ok, err)
		}
		if ok, err := s.RegistrationAttempt(ctx(), src, at.Add(store.RegistrationWindow)); err != nil || !ok {
			t.Fatalf("after the window: %v, %v", ok, err)
		}
		if store.MaxRegistrationsPerSource != 20 || store.RegistrationWindow != time.Hour || store.MaxPendingLinks != 100 {
			t.Errorf("limits %d per %s, %d pending; want 20 per hour, 100", store.MaxRegistrationsPerSource, store.RegistrationWindow, store.MaxPendingLinks)
		}
	})
}
