package store_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
)

// TestOversizedIdentifiers: an identifier longer than any the provider
// issues names no record. DynamoDB refuses keys over 2048 bytes with a
// ValidationException; the store must answer not found (or absent), never an
// internal error.
func TestOversizedIdentifiers(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		long := strings.Repeat("x", 3000)
		notFound := []struct {
			name string
			err  error
		}{
			{"GetLink", func() error { _, err := s.GetLink(ctx(), long); return err }()},
			{"GetLinkByClientID", func() error { _, err := s.GetLinkByClientID(ctx(), long); return err }()},
			{"UpdateLink", func() error { _, err := s.UpdateLink(ctx(), long, store.LinkUpdate{}, now()); return err }()},
			{"DeleteLink", s.DeleteLink(ctx(), long, now())},
			{"GetLinkSecret", func() error { _, err := s.GetLinkSecret(ctx(), long); return err }()},
			{"RotateLinkSecret", func() error { _, err := s.RotateLinkSecret(ctx(), long, "s", 0, now()); return err }()},
			{"GetUser", func() error { _, err := s.GetUser(ctx(), long); return err }()},
			{"UpdateUser", func() error { _, err := s.UpdateUser(ctx(), long, store.UserUpdate{}, now()); return err }()},
			{"DeleteUser", s.DeleteUser(ctx(), long, now())},
			{"GetUserByName", func() error { _, err := s.GetUserByName(ctx(), long); return err }()},
			{"GetGrant", func() error { _, err := s.GetGrant(ctx(), long, long); return err }()},
			{"RevokeGrant", func() error { _, err := s.RevokeGrant(ctx(), long, long, "", now()); return err }()},
			{"ApproveGrant", func() error {
				_, err := s.ApproveGrant(ctx(), store.Grant{ID: "g", UserID: long, ClientID: long}, unionOf, now())
				return err
			}()},
		}
		for _, tc := range notFound {
			if !errors.Is(tc.err, shared.ErrNotFound) {
				t.Errorf("%s(3000-byte id) = %v, want ErrNotFound", tc.name, tc.err)
			}
		}
		b, err := s.Fetch(ctx(), store.Keys{ClientID: long, RefreshHash: long, SessionID: long, UserID: long, GrantClientID: long, JTI: long, CodeHash: long})
		if err != nil || b.Link != nil || b.Refresh != nil || b.Grant != nil || b.User != nil || b.Session != nil || b.Code != nil || b.AccessRevoked {
			t.Errorf("Fetch(3000-byte keys) = %+v, %v, want an empty bundle", b, err)
		}
		if g, next, err := s.ListGrantsByLink(ctx(), long, 10, ""); err != nil || len(g) != 0 || next != "" {
			t.Errorf("ListGrantsByLink(3000-byte id) = %v, %q, %v, want nothing", g, next, err)
		}
		if g, err := s.ListGrantsByUser(ctx(), long); err != nil || len(g) != 0 {
			t.Errorf("ListGrantsByUser(3000-byte id) = %v, %v, want nothing", g, err)
		}
	})
}
