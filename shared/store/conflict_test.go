package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
)

// refusing answers every transaction and every UpdateItem with err, and
// accepts every PutItem without storing it.
type refusing struct {
	store.DynamoDB
	err error
}

func (f refusing) TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return nil, f.err
}

func (f refusing) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return nil, f.err
}

func (f refusing) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return &dynamodb.PutItemOutput{}, nil
}

// TestTransactionConflictClassified: a write refused because another was
// in flight on the item (a cancellation whose reasons hold
// TransactionConflict and no failed condition, or
// TransactionConflictException, or on a multi-Region strongly consistent
// table ReplicatedWriteConflictException) is store.ErrTransactionConflict,
// which is also shared.ErrConflict; a failed condition is not, even beside
// a conflict on another item: it decides. Transactions: ReplaceSuccessor;
// the single-item gates of RedeemCode and RotateRefresh.
func TestTransactionConflictClassified(t *testing.T) {
	cancelled := func(codes ...string) error {
		e := &types.TransactionCanceledException{Message: aws.String("cancelled")}
		for _, c := range codes {
			e.CancellationReasons = append(e.CancellationReasons, types.CancellationReason{Code: aws.String(c)})
		}
		return e
	}
	old := store.RefreshToken{Hash: "a", Status: store.RefreshRotated, Successor: "b"}
	for _, c := range []struct {
		name     string
		err      error
		inFlight bool
		class    error
		single   bool // an answer to a single-item write, else to a transaction
	}{
		{"conflict", cancelled("TransactionConflict", "None"), true, shared.ErrConflict, false},
		{"conflict on the second item", cancelled("None", "TransactionConflict"), true, shared.ErrConflict, false},
		{"condition", cancelled("ConditionalCheckFailed", "None"), false, shared.ErrConflict, false},
		{"condition and conflict", cancelled("TransactionConflict", "ConditionalCheckFailed"), false, shared.ErrConflict, false},
		{"throttled and conflict", cancelled("TransactionConflict", "ThrottlingError"), false, shared.ErrUnavailable, false},
		{"no reasons (kumo)", cancelled(), false, shared.ErrConflict, false},
		{"single: condition", &types.ConditionalCheckFailedException{Message: aws.String("failed")}, false, shared.ErrConflict, true},
		{"single: transaction in flight", &types.TransactionConflictException{Message: aws.String("ongoing")}, true, shared.ErrConflict, true},
		{"single: another region", &types.ReplicatedWriteConflictException{Message: aws.String("another region")}, true, shared.ErrConflict, true},
		{"single: throttled", &types.ProvisionedThroughputExceededException{Message: aws.String("exceeded")}, false, shared.ErrUnavailable, true},
	} {
		s := store.New(refusing{err: c.err}, nil, store.Options{TableName: "t"})
		ops := map[string]error{
			"ReplaceSuccessor": s.ReplaceSuccessor(ctx(), old, store.RefreshToken{Hash: "c"}, now()),
		}
		if c.single {
			ops = map[string]error{
				"RedeemCode":    s.RedeemCode(ctx(), "code", &store.RefreshToken{Hash: "rt"}, now()),
				"RotateRefresh": s.RotateRefresh(ctx(), store.RefreshToken{Hash: "a"}, store.RefreshToken{Hash: "b"}, now()),
			}
		}
		for op, err := range ops {
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

// TestRotateRefreshMeetsReplacement: the only transaction that writes a
// refresh token a rotation's gate may meet is ReplaceSuccessor of its
// predecessor (within the grace). On AWS the gate is then refused with
// TransactionConflictException (storetest.Conflicts; DynamoDB Local
// serialises them): RotateRefresh is ErrTransactionConflict, old is left
// as the transaction committed it (replaced, without a successor), and
// calling it again fails its condition, a decided conflict. Two
// rotations of one token are two single-item writes, which DynamoDB
// serialises (TestRotateRefreshConcurrent).
func TestRotateRefreshMeetsReplacement(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s, c := racing(b)
		at := now()
		g, first := grantWithToken(t, s, at)
		succ := newRefresh(g, at)
		if err := s.RotateRefresh(ctx(), first, succ, at); err != nil {
			t.Fatal(err)
		}
		pred, err := s.Fetch(ctx(), store.Keys{RefreshHash: first.Hash})
		if err != nil || pred.Refresh == nil {
			t.Fatalf("Fetch(first) = %+v, %v", pred.Refresh, err)
		}
		next := newRefresh(g, at)
		if noTx(b) {
			// Without transactions the replacement's decision is a
			// single-item write on the token too: DynamoDB orders the two,
			// and the rotation that comes second fails its condition.
			if err := s.ReplaceSuccessor(ctx(), *pred.Refresh, newRefresh(g, at), at); err != nil {
				t.Fatalf("ReplaceSuccessor: %v", err)
			}
		} else {
			r := c.Race(storetest.RaceOrder{})
			replaced := make(chan error, 1)
			go func() { replaced <- s.ReplaceSuccessor(ctx(), *pred.Refresh, newRefresh(g, at), at) }()
			<-r.Held()
			if err := s.RotateRefresh(ctx(), succ, next, at); !errors.Is(err, store.ErrTransactionConflict) {
				t.Errorf("RotateRefresh while a transaction writes the token: got %v, want ErrTransactionConflict", err)
			}
			if err := <-replaced; err != nil {
				t.Fatalf("ReplaceSuccessor: %v", err)
			}
		}
		got, err := s.Fetch(ctx(), store.Keys{RefreshHash: succ.Hash})
		if err != nil || got.Refresh == nil || got.Refresh.Status != store.RefreshReplaced || got.Refresh.Successor != "" {
			t.Errorf("the token after the race: got %+v, %v, want replaced, no successor", got.Refresh, err)
		}
		if err := s.RotateRefresh(ctx(), succ, next, at); !errors.Is(err, shared.ErrConflict) || errors.Is(err, store.ErrTransactionConflict) {
			t.Errorf("RotateRefresh again: got %v, want ErrConflict, not in flight", err)
		}
	})
}
