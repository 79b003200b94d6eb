package store_test

import (
	"testing"
	"time"

	"github.com/applinks/applinks/shared/store"
)

// TestCredentialsChangedAt: set at creation, moved by a new password or by
// disabling the user, left alone by a change of permissions (the sign-in
// sessions begun before it are no longer valid).
func TestCredentialsChangedAt(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		if err := s.CreateUser(ctx(), store.User{Username: "alice", PasswordHash: "h1", CreatedAt: at, UpdatedAt: at}); err != nil {
			t.Fatal(err)
		}
		check := func(step string, want time.Time) {
			t.Helper()
			u, err := s.GetUser(ctx(), "alice")
			if err != nil || !u.CredentialsChangedAt.Equal(want) {
				t.Errorf("%s: CredentialsChangedAt = %v (%v), want %v", step, u.CredentialsChangedAt, err, want)
			}
		}
		check("created", at)
		perms := []string{"REPO_READ"}
		if _, err := s.UpdateUser(ctx(), "alice", store.UserUpdate{Permissions: &perms}, at.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		check("permissions changed", at)
		pw := "h2"
		if _, err := s.UpdateUser(ctx(), "alice", store.UserUpdate{PasswordHash: &pw}, at.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		check("password changed", at.Add(2*time.Minute))
		off := true
		if _, err := s.UpdateUser(ctx(), "alice", store.UserUpdate{Disabled: &off}, at.Add(3*time.Minute)); err != nil {
			t.Fatal(err)
		}
		check("disabled", at.Add(3*time.Minute))
	})
}
