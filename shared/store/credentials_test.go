package store_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// TestCredentialsChangedAt: set at creation, moved by a new password or by
// disabling the user, left alone by a change of permissions (the sign-in
// sessions begun before it are no longer valid).
func TestCredentialsChangedAt(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		id := uniq("uid")
		if err := s.CreateUser(ctx(), store.User{ID: id, Username: "alice", PasswordHash: "h1", CreatedAt: at, UpdatedAt: at}); err != nil {
			t.Fatal(err)
		}
		check := func(step string, want time.Time) {
			t.Helper()
			u, err := s.GetUser(ctx(), id)
			if err != nil || !u.CredentialsChangedAt.Equal(want) {
				t.Errorf("%s: CredentialsChangedAt = %v (%v), want %v", step, u.CredentialsChangedAt, err, want)
			}
		}
		check("created", at)
		perms := []string{"REPO_READ"}
		if _, err := s.UpdateUser(ctx(), id, store.UserUpdate{Permissions: &perms}, at.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		check("permissions changed", at)
		pw := "h2"
		if _, err := s.UpdateUser(ctx(), id, store.UserUpdate{PasswordHash: &pw}, at.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		check("password changed", at.Add(2*time.Minute))
		off := true
		if _, err := s.UpdateUser(ctx(), id, store.UserUpdate{Disabled: &off}, at.Add(3*time.Minute)); err != nil {
			t.Fatal(err)
		}
		check("disabled", at.Add(3*time.Minute))
	})
}

// TestRevokeAllAudited: the grants revoked by deleting a link or a user are
// audit events (grant_revoked with the reason), like every other revocation.
func TestRevokeAllAudited(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		var logs bytes.Buffer
		c := web.WithLogger(ctx(), slog.New(slog.NewJSONHandler(&logs, nil)))
		in := newLink("")
		if _, _, err := s.CreateLink(c, in, at); err != nil {
			t.Fatal(err)
		}
		g := approved(t, s, seedUser(t, s, "bob", at), in.ClientID, at)
		// carol's grant was revoked before: still listed with the link,
		// but the deletion does not revoke it again.
		old := approved(t, s, seedUser(t, s, "carol", at), in.ClientID, at)
		if _, err := s.RevokeGrant(ctx(), old.UserID, in.ClientID, old.ID, at); err != nil {
			t.Fatal(err)
		}
		waitForIndex(t, s, in.ClientID)
		if err := s.DeleteLink(c, in.ID, at.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		want := `"event":"grant_revoked","grant_id":"` + g.ID + `"`
		if !strings.Contains(logs.String(), want) || !strings.Contains(logs.String(), `"reason":"link_deleted"`) {
			t.Errorf("logs after DeleteLink:\n%s\nwant a line with %s and reason link_deleted", logs.String(), want)
		}
		if strings.Contains(logs.String(), old.ID) {
			t.Errorf("logs after DeleteLink:\n%s\nwant no line for the grant %s revoked before", logs.String(), old.ID)
		}
		if r, err := s.GetGrant(ctx(), old.UserID, in.ClientID); err != nil || !r.RevokedAt.Equal(at) {
			t.Errorf("grant revoked before the deletion = %+v, %v, want its revocation time kept", r, err)
		}
	})
}

// waitForIndex waits until the link's grants are visible in its index
// (eventually consistent on AWS; at once on the local engines).
func waitForIndex(t *testing.T, s *store.Store, clientID string) {
	t.Helper()
	for i := 0; i < 50; i++ {
		if g, _, err := s.ListGrantsByLink(ctx(), clientID, 10, ""); err == nil && len(g) > 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("grants of %s never appeared in the index", clientID)
}
