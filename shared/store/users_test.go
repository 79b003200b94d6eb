package store_test

import (
	"context"
	"errors"
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
		s := nb(t).Store()
		at := now()
		u := store.User{Username: "alice", PasswordHash: "$argon2id$x", Permissions: []string{"REPO_WRITE"}, CreatedAt: at, UpdatedAt: at}
		if err := s.CreateUser(ctx(), u); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		if err := s.CreateUser(ctx(), u); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("CreateUser(duplicate) = %v, want ErrConflict", err)
		}
		got, err := s.GetUser(ctx(), "alice")
		if err != nil || got.Username != u.Username || got.PasswordHash != u.PasswordHash ||
			!slices.Equal(got.Permissions, u.Permissions) || got.Disabled || !got.CreatedAt.Equal(at) {
			t.Errorf("GetUser = %+v, %v, want %+v", got, err, u)
		}
		later := at.Add(time.Minute)
		perms, disabled := []string{}, true
		got, err = s.UpdateUser(ctx(), "alice", store.UserUpdate{Permissions: &perms, Disabled: &disabled}, later)
		if err != nil || len(got.Permissions) != 0 || !got.Disabled || got.PasswordHash != u.PasswordHash || !got.UpdatedAt.Equal(later) {
			t.Errorf("UpdateUser = %+v, %v, want no permissions, disabled, same password, updated %v", got, err, later)
		}
		hash := "$argon2id$y"
		if got, err = s.UpdateUser(ctx(), "alice", store.UserUpdate{PasswordHash: &hash}, later); err != nil || got.PasswordHash != hash || !got.Disabled {
			t.Errorf("UpdateUser(password) = %+v, %v", got, err)
		}
		admin, name, email, verified := true, "Alice Liddell", "alice@example.com", true
		got, err = s.UpdateUser(ctx(), "alice", store.UserUpdate{Admin: &admin, Name: &name, Email: &email, EmailVerified: &verified}, later)
		if err != nil || !got.Admin || got.Name != name || got.Email != email || !got.EmailVerified || got.PasswordHash != hash {
			t.Errorf("UpdateUser(profile) = %+v, %v, want admin, name, email, verified, same password", got, err)
		}
		if got, err = s.GetUser(ctx(), "alice"); err != nil || !got.Admin || got.Name != name || got.Email != email || !got.EmailVerified {
			t.Errorf("GetUser after the profile update = %+v, %v", got, err)
		}
		for op, call := range map[string]func() error{
			"GetUser": func() error { _, err := s.GetUser(ctx(), "bob"); return err },
			"UpdateUser": func() error {
				_, err := s.UpdateUser(ctx(), "bob", store.UserUpdate{Disabled: &disabled}, at)
				return err
			},
			"DeleteUser": func() error { return s.DeleteUser(ctx(), "bob", at) },
		} {
			if err := call(); !errors.Is(err, shared.ErrNotFound) {
				t.Errorf("%s(unknown) = %v, want ErrNotFound", op, err)
			}
		}
		g1 := redeemed(t, s, "c1", "alice", at)
		g2 := redeemed(t, s, "c2", "alice", at)
		kept := redeemed(t, s, "c1", "carol", at)
		if err := s.DeleteUser(ctx(), "alice", later); err != nil {
			t.Fatalf("DeleteUser: %v", err)
		}
		if _, err := s.GetUser(ctx(), "alice"); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("GetUser after delete = %v, want ErrNotFound", err)
		}
		for id, want := range map[string]bool{g1: true, g2: true, kept: false} {
			if g, err := s.GetGrant(ctx(), id); err != nil || g.Revoked != want {
				t.Errorf("grant %s after DeleteUser(alice): revoked %v, %v, want %v", id, g.Revoked, err, want)
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
		sess := store.Session{ID: uniq("sess"), Username: "alice", CSRF: "csrf", CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
		if err := s.CreateSession(ctx(), sess); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetSession(ctx(), sess.ID, at.Add(time.Minute))
		if err != nil || got.ID != sess.ID || got.Username != "alice" || got.CSRF != "csrf" ||
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
			err = s.RedeemCode(ctx(), "code", newGrant("c", "u", now()), nil, now())
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
