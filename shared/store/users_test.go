package store_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
)

func TestUsers(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s := b.Store()
		at := now()
		u := store.User{ID: uniq("uid"), Username: "Alice", PasswordHash: "$argon2id$x", Permissions: []string{"REPO_WRITE"}, CreatedAt: at, UpdatedAt: at}
		if err := s.CreateUser(ctx(), u); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		// The same name, in any case, or the same id: conflict, nothing written.
		for _, dup := range []store.User{
			{ID: uniq("uid"), Username: "Alice", CreatedAt: at},
			{ID: uniq("uid"), Username: "aLICE", CreatedAt: at},
			{ID: u.ID, Username: "someone-else", CreatedAt: at},
		} {
			if err := s.CreateUser(ctx(), dup); !errors.Is(err, shared.ErrConflict) {
				t.Errorf("CreateUser(%s, %s) = %v, want ErrConflict", dup.ID, dup.Username, err)
			}
		}
		if n := countItems(t, b, "USER#"); n != 1 {
			t.Errorf("%d user items after refused duplicates, want 1", n)
		}
		got, err := s.GetUser(ctx(), u.ID)
		if err != nil || got.ID != u.ID || got.Username != "Alice" || got.PasswordHash != u.PasswordHash ||
			!slices.Equal(got.Permissions, u.Permissions) || got.Disabled || !got.CreatedAt.Equal(at) {
			t.Errorf("GetUser = %+v, %v, want %+v", got, err, u)
		}
		for _, name := range []string{"Alice", "alice", "ALICE"} {
			if got, err := s.GetUserByName(ctx(), name); err != nil || got.ID != u.ID || got.Username != "Alice" {
				t.Errorf("GetUserByName(%s) = %+v, %v, want %s kept as Alice", name, got, err, u.ID)
			}
		}
		later := at.Add(time.Minute)
		perms, disabled := []string{}, true
		got, err = s.UpdateUser(ctx(), u.ID, store.UserUpdate{Permissions: &perms, Disabled: &disabled}, later)
		if err != nil || len(got.Permissions) != 0 || !got.Disabled || got.PasswordHash != u.PasswordHash || !got.UpdatedAt.Equal(later) {
			t.Errorf("UpdateUser = %+v, %v, want no permissions, disabled, same password, updated %v", got, err, later)
		}
		hash := "$argon2id$y"
		if got, err = s.UpdateUser(ctx(), u.ID, store.UserUpdate{PasswordHash: &hash}, later); err != nil || got.PasswordHash != hash || !got.Disabled {
			t.Errorf("UpdateUser(password) = %+v, %v", got, err)
		}
		admin, name, email, verified := true, "Alice Liddell", "alice@example.com", true
		got, err = s.UpdateUser(ctx(), u.ID, store.UserUpdate{Admin: &admin, Name: &name, Email: &email, EmailVerified: &verified}, later)
		if err != nil || !got.Admin || got.Name != name || got.Email != email || !got.EmailVerified || got.PasswordHash != hash {
			t.Errorf("UpdateUser(profile) = %+v, %v, want admin, name, email, verified, same password", got, err)
		}
		if got, err = s.GetUser(ctx(), u.ID); err != nil || !got.Admin || got.Name != name || got.Email != email || !got.EmailVerified {
			t.Errorf("GetUser after the profile update = %+v, %v", got, err)
		}
		for op, call := range map[string]func() error{
			"GetUser":       func() error { _, err := s.GetUser(ctx(), "no-such-id"); return err },
			"GetUserByName": func() error { _, err := s.GetUserByName(ctx(), "bob"); return err },
			"UpdateUser": func() error {
				_, err := s.UpdateUser(ctx(), "no-such-id", store.UserUpdate{Disabled: &disabled}, at)
				return err
			},
			"DeleteUser": func() error { return s.DeleteUser(ctx(), "no-such-id", at) },
		} {
			if err := call(); !errors.Is(err, shared.ErrNotFound) {
				t.Errorf("%s(unknown) = %v, want ErrNotFound", op, err)
			}
		}
		enabled := false
		if _, err := s.UpdateUser(ctx(), u.ID, store.UserUpdate{Disabled: &enabled}, later); err != nil {
			t.Fatal(err)
		}
		carol := seedUser(t, s, "carol", at)
		g1 := approved(t, s, got, "c1", at)
		g2 := approved(t, s, got, "c2", at)
		kept := approved(t, s, carol, "c1", at)
		if err := s.DeleteUser(ctx(), u.ID, later); err != nil {
			t.Fatalf("DeleteUser: %v", err)
		}
		if _, err := s.GetUser(ctx(), u.ID); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("GetUser after delete = %v, want ErrNotFound", err)
		}
		if _, err := s.GetUserByName(ctx(), "alice"); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("GetUserByName after delete = %v, want ErrNotFound", err)
		}
		for _, c := range []struct {
			g       store.Grant
			revoked bool
		}{{g1, true}, {g2, true}, {kept, false}} {
			if g, err := s.GetGrant(ctx(), c.g.UserID, c.g.ClientID); err != nil || g.Revoked != c.revoked {
				t.Errorf("grant %s after DeleteUser(alice): revoked %v, %v, want %v", c.g.ID, g.Revoked, err, c.revoked)
			}
		}
		// The name is free again, under a new id; nothing of the old user
		// belongs to the new one.
		again := seedUser(t, s, "alice", later)
		if again.ID == u.ID {
			t.Fatalf("re-created user has the old id %s", u.ID)
		}
		if gs, err := s.ListGrantsByUser(ctx(), again.ID); err != nil || len(gs) != 0 {
			t.Errorf("grants of the re-created user = %v, %v, want none", gs, err)
		}
		if _, err := s.GetGrant(ctx(), again.ID, "c1"); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("GetGrant(re-created user, c1) = %v, want ErrNotFound", err)
		}
		// ListUsers: by username key, paged.
		seedUser(t, s, "Bob", at)
		var names []string
		cursor := ""
		for range 5 {
			page, next, err := s.ListUsers(ctx(), 2, cursor)
			if err != nil {
				t.Fatalf("ListUsers: %v", err)
			}
			for _, u := range page {
				names = append(names, u.Username)
			}
			if cursor = next; cursor == "" {
				break
			}
		}
		if !slices.Equal(names, []string{"alice", "Bob", "carol"}) {
			t.Errorf("ListUsers = %v, want [alice Bob carol]", names)
		}
	})
}

// TestDeleteUserRacesApproval: approvals racing a deletion leave no active
// grant of the deleted user (the approval's transaction checks the user;
// the deletion reads the grants partition again, strongly consistent,
// after the user is gone).
// TestUsernameKeyIsASCII: UsernameKey lowers ASCII letters only, so no
// other character folds into a username: U+212A KELVIN SIGN, which
// strings.ToLower turns into an ASCII k, finds no user "kim", and counts
// no sign-in failure against kim.
func TestUsernameKeyIsASCII(t *testing.T) {
	for in, want := range map[string]string{
		"Alice.O-K_1@Example": "alice.o-k_1@example",
		"\u212Aim":            "\u212aim",
		"\u0130":              "\u0130", // LATIN CAPITAL I WITH DOT ABOVE: not "i̇"
		"\uff2b":              "\uff2b", // FULLWIDTH K
		"a\xffB":              "a\xffb",
	} {
		if got := store.UsernameKey(in); got != want {
			t.Errorf("UsernameKey(%q) = %q, want %q", in, got, want)
		}
	}
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		kim := store.User{ID: uniq("uid"), Username: "kim", PasswordHash: "$argon2id$x", CreatedAt: at, UpdatedAt: at}
		if err := s.CreateUser(ctx(), kim); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetUserByName(ctx(), "KIM"); err != nil || got.ID != kim.ID {
			t.Fatalf("GetUserByName(KIM) = %+v, %v, want kim", got, err)
		}
		for _, name := range []string{"\u212Aim", "\u212AIM", "\uff4bim"} {
			if got, err := s.GetUserByName(ctx(), name); !errors.Is(err, shared.ErrNotFound) {
				t.Errorf("GetUserByName(%q) = %+v, %v, want ErrNotFound", name, got, err)
			}
		}
		for range 3 {
			if _, err := s.ReserveLoginAttempt(ctx(), "\u212Aim", 3, time.Hour, at); err != nil {
				t.Fatal(err)
			}
		}
		if ok, err := s.ReserveLoginAttempt(ctx(), "kim", 3, time.Hour, at); !ok || err != nil {
			t.Errorf("kim after 3 attempts as \\u212Aim = %v, %v, want allowed (not the same window)", ok, err)
		}
	})
}

// TestUnlessAdmin: UpdateUser with UnlessAdmin and DeleteUserUnlessAdmin
// change a user only while the user is not an administrator, checked in
// the write itself (a user made an administrator after the caller read it
// is not changed): ErrAdministrator, nothing written. For a user who is
// not an administrator they are UpdateUser and DeleteUser.
func TestUnlessAdmin(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s := b.Store()
		at := now()
		mk := func(name string, admin bool) store.User {
			u := store.User{ID: uniq("uid"), Username: name, PasswordHash: "$argon2id$old", Admin: admin, CreatedAt: at, UpdatedAt: at}
			if err := s.CreateUser(ctx(), u); err != nil {
				t.Fatal(err)
			}
			return u
		}
		root, alice := mk("root", true), mk("alice", false)
		hash, yes := "$argon2id$new", true
		later := at.Add(time.Minute)
		if _, err := s.UpdateUser(ctx(), root.ID, store.UserUpdate{PasswordHash: &hash, UnlessAdmin: true}, later); !errors.Is(err, store.ErrAdministrator) {
			t.Errorf("UpdateUser(root, UnlessAdmin) = %v, want ErrAdministrator", err)
		}
		if err := s.DeleteUserUnlessAdmin(ctx(), root.ID, later); !errors.Is(err, store.ErrAdministrator) {
			t.Errorf("DeleteUserUnlessAdmin(root) = %v, want ErrAdministrator", err)
		}
		if got, err := s.GetUser(ctx(), root.ID); err != nil || got.PasswordHash != root.PasswordHash || !got.UpdatedAt.Equal(at) {
			t.Errorf("root after refused changes = %+v, %v, want unchanged", got, err)
		}
		// alice is read as not an administrator, then made one: the
		// guarded update and deletion (as after that read) are refused.
		if _, err := s.UpdateUser(ctx(), alice.ID, store.UserUpdate{PasswordHash: &hash, UnlessAdmin: true}, later); err != nil {
			t.Fatalf("UpdateUser(alice, UnlessAdmin) = %v, want it applied", err)
		}
		if _, err := s.UpdateUser(ctx(), alice.ID, store.UserUpdate{Admin: &yes}, later); err != nil {
			t.Fatal(err)
		}
		other := "$argon2id$other"
		if _, err := s.UpdateUser(ctx(), alice.ID, store.UserUpdate{PasswordHash: &other, UnlessAdmin: true}, later); !errors.Is(err, store.ErrAdministrator) {
			t.Errorf("UpdateUser(alice made an administrator, UnlessAdmin) = %v, want ErrAdministrator", err)
		}
		if err := s.DeleteUserUnlessAdmin(ctx(), alice.ID, later); !errors.Is(err, store.ErrAdministrator) {
			t.Errorf("DeleteUserUnlessAdmin(alice made an administrator) = %v, want ErrAdministrator", err)
		}
		if got, err := s.GetUser(ctx(), alice.ID); err != nil || got.PasswordHash != hash {
			t.Errorf("alice = %+v, %v, want her first new password only", got, err)
		}
		// carol is made an administrator after DeleteUserUnlessAdmin
		// read her, just before its transaction (without transactions:
		// the deletion of her item, its commit point): the condition
		// refuses.
		carol := mk("carol", false)
		var promote func()
		before := func() error {
			if f := promote; f != nil {
				promote = nil
				f()
			}
			return nil
		}
		db := &faultyDB{DynamoDB: b.DynamoDB, transact: func(*dynamodb.TransactWriteItemsInput) error { return before() },
			del: func(in *dynamodb.DeleteItemInput) error {
				if keyPK(in.Key) == "USER#"+carol.ID {
					return before()
				}
				return nil
			}}
		promote = func() {
			if _, err := s.UpdateUser(ctx(), carol.ID, store.UserUpdate{Admin: &yes}, later); err != nil {
				t.Error(err)
			}
		}
		if err := store.New(db, b.SecretsManager, b.Options).DeleteUserUnlessAdmin(ctx(), carol.ID, later); !errors.Is(err, store.ErrAdministrator) {
			t.Errorf("DeleteUserUnlessAdmin(carol, made an administrator before its transaction) = %v, want ErrAdministrator", err)
		}
		if promote != nil {
			t.Error("the deletion never reached its commit point")
		}
		if got, err := s.GetUserByName(ctx(), "carol"); err != nil || !got.Admin {
			t.Errorf("carol = %+v, %v, want her, an administrator", got, err)
		}

		// Unguarded, an administrator changes and goes.
		if _, err := s.UpdateUser(ctx(), root.ID, store.UserUpdate{PasswordHash: &hash}, later); err != nil {
			t.Errorf("UpdateUser(root) = %v", err)
		}
		if err := s.DeleteUser(ctx(), root.ID, later); err != nil {
			t.Errorf("DeleteUser(root) = %v", err)
		}
		// Not an administrator: deleted; unknown: ErrNotFound.
		bob := mk("bob", false)
		if err := s.DeleteUserUnlessAdmin(ctx(), bob.ID, later); err != nil {
			t.Errorf("DeleteUserUnlessAdmin(bob) = %v", err)
		}
		if _, err := s.GetUserByName(ctx(), "bob"); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("bob after deletion: %v, want ErrNotFound", err)
		}
		if err := s.DeleteUserUnlessAdmin(ctx(), bob.ID, later); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("DeleteUserUnlessAdmin(deleted) = %v, want ErrNotFound", err)
		}
		if _, err := s.UpdateUser(ctx(), bob.ID, store.UserUpdate{PasswordHash: &hash, UnlessAdmin: true}, later); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("UpdateUser(deleted, UnlessAdmin) = %v, want ErrNotFound", err)
		}
	})
}

func TestDeleteUserRacesApproval(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		for round := range 5 {
			u := seedUser(t, s, uniq("racer"), at)
			errs := parallel(9, func(i int) error {
				if i == 0 {
					return s.DeleteUser(ctx(), u.ID, at)
				}
				_, err := s.ApproveGrant(ctx(), store.Grant{ID: uniq("grant"), UserID: u.ID, Username: u.Username,
					ClientID: fmt.Sprintf("client-%d", i), Scope: []string{"REPO_READ"}}, unionOf, at)
				if errors.Is(err, shared.ErrNotFound) {
					return nil
				}
				return err
			})
			for _, err := range errs {
				if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
			}
			gs, err := s.ListGrantsByUser(ctx(), u.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range gs {
				if !g.Revoked {
					t.Errorf("round %d: grant %s for %s of the deleted user is active", round, g.ID, g.ClientID)
				}
			}
		}
	})
}

func TestLoginThrottle(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		const window = 15 * time.Minute
		const max = 3
		reserve := func(user string, when time.Time) bool {
			t.Helper()
			ok, err := s.ReserveLoginAttempt(ctx(), user, max, window, when)
			if err != nil {
				t.Fatalf("ReserveLoginAttempt(%s): %v", user, err)
			}
			return ok
		}
		// The window starts at the first attempt (+1m) and ends at +16m.
		for i := 1; i <= max; i++ {
			if !reserve("alice", at.Add(time.Duration(i)*time.Minute)) {
				t.Errorf("attempt %d of %d: got refused, want reserved", i, max)
			}
		}
		if reserve("alice", at.Add(5*time.Minute)) {
			t.Errorf("attempt %d in the window: got reserved, want refused", max+1)
		}
		if !reserve("bob", at.Add(5*time.Minute)) {
			t.Errorf("another username: got refused, want reserved")
		}
		end := at.Add(time.Minute + window)
		if reserve("alice", end.Add(-time.Second)) {
			t.Errorf("a second before the window ends: got reserved, want refused")
		}
		if !reserve("alice", end) {
			t.Errorf("when the window has passed: got refused, want reserved (a new window)")
		}
		for i := 2; i <= max; i++ {
			if !reserve("alice", end.Add(window-time.Second)) {
				t.Errorf("attempt %d of the new window: got refused, want reserved", i)
			}
		}
		if reserve("alice", end.Add(window-time.Second)) {
			t.Errorf("attempt %d of the new window: got reserved, want refused", max+1)
		}
		if err := s.ClearLoginFailures(ctx(), "alice"); err != nil {
			t.Fatal(err)
		}
		if !reserve("alice", end.Add(window-time.Second)) {
			t.Errorf("after clear: got refused, want reserved")
		}
		// Concurrent attempts: exactly max of them win a slot.
		const n = 20
		var won atomic.Int64
		errs := parallel(n, func(int) error {
			ok, err := s.ReserveLoginAttempt(ctx(), "carol", max, window, at)
			if ok {
				won.Add(1)
			}
			return err
		})
		for _, err := range errs {
			if err != nil {
				t.Errorf("concurrent ReserveLoginAttempt: %v", err)
			}
		}
		if got := won.Load(); got != max {
			t.Errorf("%d concurrent attempts: got %d reserved, want %d", n, got, max)
		}
	})
}

func TestSessions(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		sess := store.Session{ID: uniq("sess"), UserID: "uid-alice", CSRF: "csrf", CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
		if err := s.CreateSession(ctx(), sess); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetSession(ctx(), sess.ID, at.Add(time.Minute))
		if err != nil || got.ID != sess.ID || got.UserID != "uid-alice" || got.CSRF != "csrf" ||
			!got.CreatedAt.Equal(at) || !got.ExpiresAt.Equal(sess.ExpiresAt) {
			t.Errorf("GetSession = %+v, %v, want %+v", got, err, sess)
		}
		if _, err := s.GetSession(ctx(), sess.ID, sess.ExpiresAt); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("GetSession(expired) = %v, want ErrNotFound", err)
		}
		if _, err := s.GetSession(ctx(), "nope", at); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("GetSession(unknown) = %v, want ErrNotFound", err)
		}
		if err := s.DeleteSession(ctx(), sess.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetSession(ctx(), sess.ID, at); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("GetSession after delete = %v, want ErrNotFound", err)
		}
		if err := s.DeleteSession(ctx(), sess.ID); err != nil {
			t.Errorf("DeleteSession(absent) = %v, want nil", err)
		}
	})
}

func TestSigningKeys(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		if _, err := s.GetSigningKeys(ctx()); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("GetSigningKeys(none) = %v, want ErrNotFound", err)
		}
		const n = 10
		errs := parallel(n, func(i int) error { return s.CreateSigningKeys(ctx(), []byte(`{"keys":[]}`)) })
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, shared.ErrConflict):
				t.Errorf("concurrent CreateSigningKeys: %v, want nil or ErrConflict", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent CreateSigningKeys succeeded, want 1", ok, n)
		}
		if got, err := s.GetSigningKeys(ctx()); err != nil || string(got) != `{"keys":[]}` {
			t.Errorf("GetSigningKeys = %s, %v", got, err)
		}
		if err := s.PutSigningKeys(ctx(), []byte(`{"keys":[1]}`)); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetSigningKeys(ctx()); err != nil || string(got) != `{"keys":[1]}` {
			t.Errorf("GetSigningKeys after put = %s, %v", got, err)
		}
	})
}

// throttled answers every call with err.
type throttled struct {
	store.DynamoDB
	err error
}

func (f throttled) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return nil, f.err
}

func (f throttled) TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return nil, f.err
}

func (f throttled) BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	return nil, f.err
}

// TestErrorClassification: throttling, 5xx, timeouts and unreachable
// engines are ErrUnavailable; a cancelled transaction is ErrConflict
// unless it was throttled.
func TestErrorClassification(t *testing.T) {
	reason := func(code string) *types.TransactionCanceledException {
		return &types.TransactionCanceledException{Message: aws.String("cancelled"),
			CancellationReasons: []types.CancellationReason{{Code: aws.String("None")}, {Code: aws.String(code)}}}
	}
	for _, c := range []struct {
		name string
		err  error
		want error
	}{
		{"throttling", &smithy.GenericAPIError{Code: "ThrottlingException"}, shared.ErrUnavailable},
		{"provisioned throughput", &types.ProvisionedThroughputExceededException{}, shared.ErrUnavailable},
		{"request limit", &types.RequestLimitExceeded{}, shared.ErrUnavailable},
		{"internal server error", &types.InternalServerError{}, shared.ErrUnavailable},
		{"deadline", context.DeadlineExceeded, shared.ErrUnavailable},
		{"5xx", &smithyhttp.ResponseError{Err: errors.New("bad gateway"),
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: http.StatusBadGateway}}}, shared.ErrUnavailable},
		{"4xx validation", &smithy.GenericAPIError{Code: "ValidationException"}, nil},
		{"transaction throttled", reason("ThrottlingError"), shared.ErrUnavailable},
		{"transaction condition", reason("ConditionalCheckFailed"), shared.ErrConflict},
		{"transaction without reasons (kumo)", &types.TransactionCanceledException{}, shared.ErrConflict},
	} {
		s := store.New(throttled{err: c.err}, nil, store.Options{TableName: "t"})
		_, err := s.GetUser(ctx(), "alice")
		if strings.HasPrefix(c.name, "transaction") {
			// A transaction (RedeemCode and RotateRefresh are single-item
			// writes: TestTransactionConflictClassified).
			err = s.ReplaceSuccessor(ctx(), store.RefreshToken{Hash: "a", Status: store.RefreshRotated, Successor: "b"},
				store.RefreshToken{Hash: "c"}, now())
		}
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
		for _, other := range []error{shared.ErrNotFound, shared.ErrConflict, shared.ErrUnavailable} {
			if other != c.want && errors.Is(err, other) {
				t.Errorf("%s: %v is also %v", c.name, err, other)
			}
		}
	}
	// Fetch passes it on too.
	s := store.New(throttled{err: &types.ProvisionedThroughputExceededException{}}, nil, store.Options{TableName: "t"})
	if _, err := s.Fetch(ctx(), store.Keys{ClientID: "c"}); !errors.Is(err, shared.ErrUnavailable) {
		t.Errorf("Fetch throttled: got %v, want ErrUnavailable", err)
	}
}

// TestUnreachable: an engine that refuses connections is ErrUnavailable.
func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	db, sm := storetest.Clients(url, url)
	s := store.New(db, sm, store.Options{TableName: "t", SecretPrefix: "p"})
	c, cancel := context.WithTimeout(ctx(), 30*time.Second)
	defer cancel()
	if _, err := s.GetUser(c, "alice"); !errors.Is(err, shared.ErrUnavailable) {
		t.Errorf("GetUser(refused) = %v, want ErrUnavailable", err)
	}
	if _, err := s.GetSigningKeys(c); !errors.Is(err, shared.ErrUnavailable) {
		t.Errorf("GetSigningKeys(refused) = %v, want ErrUnavailable", err)
	}
}
