package store_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store"
)

// TestRevokePendingCodes: the revocation marker of a user for a client is
// written in the user's partition with a TTL of MaxAuthCodeTTL plus the
// margin, read back with the user by GetUserForClient in one call, only
// moves forward, and leaves the user item and the other readers of the
// user alone.
func TestRevokePendingCodes(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		c := newCounter(b.DynamoDB)
		s := store.New(c, b.SecretsManager, b.Options)
		at := now().Add(123456789 * time.Nanosecond) // the marker keeps nanoseconds
		if err := s.CreateUser(ctx(), store.User{Username: "alice", PasswordHash: "h", Permissions: []string{"REPO_READ"},
			CreatedAt: at.Add(-time.Hour), UpdatedAt: at.Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		read := func(step, user, client string, want time.Time) {
			t.Helper()
			c.reset()
			u, got, err := s.GetUserForClient(ctx(), user, client)
			if err != nil || u.Username != user || len(u.Permissions) != 1 || !got.Equal(want) {
				t.Errorf("%s: GetUserForClient(%s, %s) = %+v, %v, %v, want the user and revoked at %v", step, user, client, u, got, err, want)
			}
			if n := c.total(); n != 1 || c.calls["BatchGetItem"] != 1 {
				t.Errorf("%s: GetUserForClient made %d DynamoDB calls (%v), want 1 BatchGetItem", step, n, c.calls)
			}
		}
		read("no marker", "alice", "app-b", time.Time{})

		if err := s.RevokePendingCodes(ctx(), "alice", "app-b", at); err != nil {
			t.Fatalf("RevokePendingCodes: %v", err)
		}
		read("marked", "alice", "app-b", at)
		read("other client", "alice", "app-c", time.Time{})
		// RevokedAt reads the marker alone, consistently, in one GetItem.
		c.reset()
		if got, err := s.RevokedAt(ctx(), "alice", "app-b"); err != nil || !got.Equal(at) {
			t.Errorf("RevokedAt(alice, app-b) = %v, %v, want %v", got, err, at)
		}
		if got, err := s.RevokedAt(ctx(), "alice", "app-c"); err != nil || !got.IsZero() {
			t.Errorf("RevokedAt(alice, app-c) = %v, %v, want zero", got, err)
		}
		if n := c.total(); n != 2 || c.calls["GetItem"] != 2 {
			t.Errorf("two RevokedAt made %d DynamoDB calls (%v), want 2 GetItem", n, c.calls)
		}

		it := rawItem(t, b, "USER#alice", "REVOKED#app-b")
		wantTTL := at.Add(config.MaxAuthCodeTTL + store.RevocationMarkerMargin)
		if got := attrS(it, "revoked_at"); got != at.UTC().Format("2006-01-02T15:04:05.000000000Z") {
			t.Errorf("marker revoked_at = %q, want %v at nanosecond precision", got, at)
		}
		if got, _ := strconv.ParseInt(attrN(it, "ttl"), 10, 64); got < wantTTL.Unix() || got > wantTTL.Unix()+1 {
			t.Errorf("marker ttl = %d, want %d (revoked_at + MaxAuthCodeTTL + margin)", got, wantTTL.Unix())
		}
		if attrS(it, "username") != "alice" || attrS(it, "client_id") != "app-b" {
			t.Errorf("marker = %v, want username and client_id", it)
		}

		// Only forward: an earlier revocation landing late keeps the later
		// time; a later one moves it.
		if err := s.RevokePendingCodes(ctx(), "alice", "app-b", at.Add(-time.Second)); err != nil {
			t.Fatalf("RevokePendingCodes(earlier): %v", err)
		}
		read("earlier revocation", "alice", "app-b", at)
		if err := s.RevokePendingCodes(ctx(), "alice", "app-b", at.Add(time.Second)); err != nil {
			t.Fatalf("RevokePendingCodes(later): %v", err)
		}
		read("later revocation", "alice", "app-b", at.Add(time.Second))

		// The user item and its other readers are untouched by the
		// marker in their partition.
		if u, err := s.GetUser(ctx(), "alice"); err != nil || u.Username != "alice" {
			t.Errorf("GetUser beside a marker = %+v, %v", u, err)
		}
		if bundle, err := s.Fetch(ctx(), store.Keys{Username: "alice"}); err != nil || bundle.User == nil || bundle.User.Username != "alice" {
			t.Errorf("Fetch(user) beside a marker = %+v, %v", bundle, err)
		}

		// A marker alone is not a user.
		if err := s.RevokePendingCodes(ctx(), "ghost", "app-b", at); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.GetUserForClient(ctx(), "ghost", "app-b"); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("GetUserForClient(unknown user with a marker) = %v, want ErrNotFound", err)
		}
		// Deleting the user leaves the marker to its TTL: a user created
		// again under the name is refused nothing it issues later.
		if err := s.DeleteUser(ctx(), "alice", at); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.GetUserForClient(ctx(), "alice", "app-b"); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("GetUserForClient(deleted user) = %v, want ErrNotFound", err)
		}
	})
}

// TestRevokePendingCodesOversized: an identifier too long for a key names
// no record: the marker write is a no-op, never an internal error, and the
// read answers as for no marker (or ErrNotFound for such a user).
func TestRevokePendingCodesOversized(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		if err := s.CreateUser(ctx(), store.User{Username: "alice", CreatedAt: at, UpdatedAt: at}); err != nil {
			t.Fatal(err)
		}
		long := strings.Repeat("x", 3000)
		if err := s.RevokePendingCodes(ctx(), "alice", long, at); err != nil {
			t.Errorf("RevokePendingCodes(alice, 3000-byte client id) = %v, want nil", err)
		}
		if u, rev, err := s.GetUserForClient(ctx(), "alice", long); err != nil || u.Username != "alice" || !rev.IsZero() {
			t.Errorf("GetUserForClient(alice, 3000-byte client id) = %+v, %v, %v, want alice and no marker", u, rev, err)
		}
		if err := s.RevokePendingCodes(ctx(), long, "app", at); err != nil {
			t.Errorf("RevokePendingCodes(3000-byte username) = %v, want nil", err)
		}
		if _, _, err := s.GetUserForClient(ctx(), long, "app"); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("GetUserForClient(3000-byte username) = %v, want ErrNotFound", err)
		}
	})
}

// TestTimesKeepNanoseconds: the two times the code exchange compares, a
// code's CreatedAt and a user's CredentialsChangedAt, come back from the
// store exactly as written, to the nanosecond (what the comparison's
// soundness rests on).
func TestTimesKeepNanoseconds(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now().Add(987654321 * time.Nanosecond)
		if err := s.CreateUser(ctx(), store.User{Username: "alice", CreatedAt: at, UpdatedAt: at}); err != nil {
			t.Fatal(err)
		}
		changed := at.Add(time.Nanosecond)
		pw := "h2"
		if _, err := s.UpdateUser(ctx(), "alice", store.UserUpdate{PasswordHash: &pw}, changed); err != nil {
			t.Fatal(err)
		}
		code := newCode(t, s, "app", "alice", at.Add(2*time.Nanosecond))
		u, _, err := s.GetUserForClient(ctx(), "alice", "app")
		if err != nil || !u.CredentialsChangedAt.Equal(changed) {
			t.Errorf("CredentialsChangedAt = %v (%v), want %v", u.CredentialsChangedAt, err, changed)
		}
		b, err := s.Fetch(ctx(), store.Keys{CodeHash: code.Hash})
		if err != nil || b.Code == nil || !b.Code.CreatedAt.Equal(at.Add(2*time.Nanosecond)) {
			t.Errorf("code CreatedAt = %+v (%v), want %v", b.Code, err, at.Add(2*time.Nanosecond))
		}
	})
}

func attrS(it map[string]types.AttributeValue, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func attrN(it map[string]types.AttributeValue, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberN); ok {
		return v.Value
	}
	return ""
}
