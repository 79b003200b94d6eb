package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
)

// refusing answers every transaction with err.
type refusing struct {
	store.DynamoDB
	err error
}

func (f refusing) TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return nil, f.err
}

// TestTransactionConflictClassified: a write refused because another was
// in flight on the item (a cancellation whose reasons hold
// TransactionConflict and no failed condition, or
// TransactionConflictException) is store.ErrTransactionConflict, which is
// also shared.ErrConflict; a failed condition is not, even beside a
// conflict on another item: it decides.
func TestTransactionConflictClassified(t *testing.T) {
	cancelled := func(codes ...string) error {
		e := &types.TransactionCanceledException{Message: aws.String("cancelled")}
		for _, c := range codes {
			e.CancellationReasons = append(e.CancellationReasons, types.CancellationReason{Code: aws.String(c)})
		}
		return e
	}
	for _, c := range []struct {
		name     string
		err      error
		inFlight bool
		class    error
	}{
		{"conflict", cancelled("TransactionConflict", "None"), true, shared.ErrConflict},
		{"conflict on the second item", cancelled("None", "TransactionConflict"), true, shared.ErrConflict},
		{"condition", cancelled("ConditionalCheckFailed", "None"), false, shared.ErrConflict},
		{"condition and conflict", cancelled("TransactionConflict", "ConditionalCheckFailed"), false, shared.ErrConflict},
		{"throttled and conflict", cancelled("TransactionConflict", "ThrottlingError"), false, shared.ErrUnavailable},
		{"no reasons (kumo)", cancelled(), false, shared.ErrConflict},
	} {
		s := store.New(refusing{err: c.err}, nil, store.Options{TableName: "t"})
		for op, err := range map[string]error{
			"RedeemCode":    s.RedeemCode(ctx(), "code", &store.RefreshToken{Hash: "rt"}, now()),
			"RotateRefresh": s.RotateRefresh(ctx(), store.RefreshToken{Hash: "a"}, store.RefreshToken{Hash: "b"}, now()),
		} {
			if got := errors.Is(err, store.ErrTransactionConflict); got != c.inFlight {
				t.Errorf("%s, %s: got %v, in flight %v, want %v", c.name, op, err, got, c.inFlight)
			}
			if !errors.Is(err, c.class) {
				t.Errorf("%s, %s: got %v, want %v", c.name, op, err, c.class)
			}
		}
	}
}

// refusingFirst refuses the first n UpdateItem calls with refusal
// (default TransactionConflictException), then passes them on.
type refusingFirst struct {
	store.DynamoDB
	n, calls int
	refusal  error
}

func (f *refusingFirst) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	f.calls++
	if f.calls <= f.n {
		if f.refusal != nil {
			return nil, f.refusal
		}
		return nil, &types.TransactionConflictException{Message: aws.String("Transaction is ongoing for the item")}
	}
	return f.DynamoDB.UpdateItem(ctx, in, opts...)
}

// TestRevokeGrantInFlight: RevokeGrant refused because a transaction is
// writing the grant (TransactionConflictException) tries again and lands;
// refused on every attempt it is ErrUnavailable, never the ErrNotFound of
// a failed condition (nothing was revoked). Before, a refusal was "no such
// grant", which the token endpoint takes for a grant already gone. The same
// for a global table with multi-Region strong consistency refusing the write
// because another region is writing the grant
// (ReplicatedWriteConflictException), which was an unclassified error (a
// 500) before.
func TestRevokeGrantInFlight(t *testing.T) {
	for name, refusal := range map[string]error{
		"TransactionConflictException": nil,
		"ReplicatedWriteConflictException": &types.ReplicatedWriteConflictException{
			Message: aws.String("One or more items in this request are being modified by a request in another Region"),
		},
	} {
		t.Run(name, func(t *testing.T) { revokeGrantInFlight(t, refusal) })
	}
}

func revokeGrantInFlight(t *testing.T, refusal error) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		at := now()
		g := approved(t, b.Store(), seedUser(t, b.Store(), "alice", at), "client", at)
		for _, c := range []struct {
			refusals int
			want     error // nil: revoked
		}{
			{3, nil},
			{5, shared.ErrUnavailable},
		} {
			db := &refusingFirst{DynamoDB: b.DynamoDB, n: c.refusals, refusal: refusal}
			got, err := store.New(db, b.SecretsManager, b.Options).RevokeGrant(ctx(), g.UserID, g.ClientID, g.ID, at)
			switch {
			case c.want == nil && (err != nil || !got.Revoked):
				t.Errorf("%d refusals: got %+v, %v, want the grant revoked", c.refusals, got, err)
			case c.want != nil && (!errors.Is(err, c.want) || errors.Is(err, shared.ErrNotFound) || errors.Is(err, shared.ErrConflict)):
				t.Errorf("%d refusals: got %v, want only %v", c.refusals, err, c.want)
			}
			if db.calls != min(c.refusals+1, 5) {
				t.Errorf("%d refusals: got %d attempts, want %d", c.refusals, db.calls, min(c.refusals+1, 5))
			}
		}
	})
}

// racing returns a store on b whose DynamoDB calls go through a
// storetest.Conflicts.
func racing(b storetest.Backend) (*store.Store, *storetest.Conflicts) {
	c := storetest.NewConflicts(b.DynamoDB)
	return store.New(c, b.SecretsManager, b.Options), c
}

// raceTwice runs write twice at once through a race of order and returns
// both answers: the loser's first when order.CommitLate, and then read()
// is called between the loser's answer and the winner's commit.
func raceTwice(t *testing.T, c *storetest.Conflicts, order storetest.RaceOrder, write func() error, read func()) []error {
	t.Helper()
	r := c.Race(order)
	answers := make(chan error, 2)
	for range 2 {
		go func() { answers <- write() }()
	}
	var errs []error
	for range 2 {
		err := <-answers
		select {
		case <-r.Raced():
		default:
			r.Abort()
			t.Errorf("a write ended before the race: %v", err)
		}
		errs = append(errs, err)
		if order.CommitLate && len(errs) == 1 {
			read()
		}
		r.Release()
	}
	return errs
}

// oneInFlight checks that exactly one of errs is nil and the other is
// store.ErrTransactionConflict.
func oneInFlight(t *testing.T, errs []error) {
	t.Helper()
	ok, inFlight := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrTransactionConflict) && errors.Is(err, shared.ErrConflict):
			inFlight++
		default:
			t.Errorf("got %v, want nil or ErrTransactionConflict", err)
		}
	}
	if ok != 1 || inFlight != 1 {
		t.Errorf("got %d successes and %d transaction conflicts, want 1 and 1", ok, inFlight)
	}
}

// TestRedeemCodeInFlight: two redemptions of one code whose transactions
// conflict, as on AWS (storetest.Conflicts; DynamoDB Local serialises
// them), in every order: one succeeds, the other is
// ErrTransactionConflict, not a failed condition; and before the winner
// commits, a strongly consistent read still shows the code unused, which
// is why the token endpoint must not read the code back to decide.
func TestRedeemCodeInFlight(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		for _, order := range storetest.RaceOrders {
			t.Run(order.String(), func(t *testing.T) {
				b := nb(t)
				s, c := racing(b)
				at := now()
				g := approved(t, s, seedUser(t, s, "alice", at), "client", at)
				code := newCode(t, s, g, at)
				errs := raceTwice(t, c, order, func() error {
					rt := newRefresh(g, at)
					return s.RedeemCode(ctx(), code.Hash, &rt, at)
				}, func() {
					if got, err := s.Fetch(ctx(), store.Keys{CodeHash: code.Hash}); err != nil || got.Code == nil || got.Code.Used {
						t.Errorf("the code before the winner commits: got %+v, %v, want unused", got.Code, err)
					}
				})
				oneInFlight(t, errs)
				if got, err := s.Fetch(ctx(), store.Keys{CodeHash: code.Hash}); err != nil || got.Code == nil || !got.Code.Used {
					t.Errorf("the code after the race: got %+v, %v, want used", got.Code, err)
				}
				if got := countItems(t, b, "RT#"); got != 1 {
					t.Errorf("%d refresh tokens written, want 1", got)
				}
				// Once the winner has committed, a redemption fails its
				// condition: a decided conflict.
				rt := newRefresh(g, at)
				if err := s.RedeemCode(ctx(), code.Hash, &rt, at); !errors.Is(err, shared.ErrConflict) ||
					errors.Is(err, store.ErrTransactionConflict) {
					t.Errorf("RedeemCode after the race: got %v, want ErrConflict, not in flight", err)
				}
			})
		}
	})
}

// TestRotateRefreshInFlight: two rotations of one refresh token whose
// transactions conflict, in every order: one succeeds, the other is
// ErrTransactionConflict; before the winner commits the token still reads
// active; afterwards it is rotated to the winner's successor.
func TestRotateRefreshInFlight(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		for _, order := range storetest.RaceOrders {
			t.Run(order.String(), func(t *testing.T) {
				b := nb(t)
				s, c := racing(b)
				at := now()
				g, rt := grantWithToken(t, s, at)
				nexts := make(chan store.RefreshToken, 2)
				errs := raceTwice(t, c, order, func() error {
					next := newRefresh(g, at.Add(time.Second))
					err := s.RotateRefresh(ctx(), rt, next, at.Add(time.Second))
					if err == nil {
						nexts <- next
					}
					return err
				}, func() {
					if got, err := s.Fetch(ctx(), store.Keys{RefreshHash: rt.Hash}); err != nil || got.Refresh == nil ||
						got.Refresh.Status != store.RefreshActive {
						t.Errorf("the token before the winner commits: got %+v, %v, want active", got.Refresh, err)
					}
				})
				oneInFlight(t, errs)
				if len(nexts) != 1 {
					t.Fatalf("%d successful rotations, want 1", len(nexts))
				}
				next := <-nexts
				if got, err := s.Fetch(ctx(), store.Keys{RefreshHash: rt.Hash}); err != nil || got.Refresh == nil ||
					got.Refresh.Status != store.RefreshRotated || got.Refresh.Successor != next.Hash {
					t.Errorf("the token after the race: got %+v, %v, want rotated to %s", got.Refresh, err, next.Hash)
				}
				if got := countItems(t, b, "RT#"); got != 2 {
					t.Errorf("%d refresh tokens, want 2 (old and one successor)", got)
				}
			})
		}
	})
}
