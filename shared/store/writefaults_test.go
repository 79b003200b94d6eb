package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
)

// redeemedBy is the redeemed_by attribute of the code codeHash: the first
// refresh token of the redemption that spent it ("" while unused).
func redeemedBy(t *testing.T, b storetest.Backend, codeHash string) string {
	t.Helper()
	v, _ := rawItem(t, b, "CODE#"+codeHash, "CODE")["redeemed_by"].(*types.AttributeValueMemberS)
	if v == nil {
		return ""
	}
	return v.Value
}

// writeFaults wraps a DynamoDB client for the two writes of a redemption
// or rotation (PutItem and UpdateItem): a hook refuses a write before it
// reaches the engine (nothing applied), and repeat sends each one twice
// and answers the second, as the SDK does when it retries a write whose
// first answer was lost (the first applied). It counts the writes sent.
type writeFaults struct {
	store.DynamoDB
	put    func(pk string) error
	update func(pk string) error
	repeat bool

	mu            sync.Mutex
	puts, updates int
}

func (f *writeFaults) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	f.mu.Lock()
	f.puts++
	f.mu.Unlock()
	if f.put != nil {
		if err := f.put(keyPK(in.Item)); err != nil {
			return nil, err
		}
	}
	if f.repeat {
		if _, err := f.DynamoDB.PutItem(ctx, in, opts...); err != nil {
			return nil, err
		}
	}
	return f.DynamoDB.PutItem(ctx, in, opts...)
}

func (f *writeFaults) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	f.mu.Lock()
	f.updates++
	f.mu.Unlock()
	if f.update != nil {
		if err := f.update(keyPK(in.Key)); err != nil {
			return nil, err
		}
	}
	if f.repeat {
		if _, err := f.DynamoDB.UpdateItem(ctx, in, opts...); err != nil {
			return nil, err
		}
	}
	return f.DynamoDB.UpdateItem(ctx, in, opts...)
}

// throttledWrite is DynamoDB's answer to a write over the table's capacity:
// nothing applied, the caller may retry.
func throttledWrite(string) error {
	return &types.ProvisionedThroughputExceededException{Message: aws.String("injected: throughput exceeded")}
}

// refuseOn refuses the writes of items whose partition key starts with
// prefix with refusal.
func refuseOn(prefix string, refusal func(string) error) func(string) error {
	return func(pk string) error {
		if strings.HasPrefix(pk, prefix) {
			return refusal(pk)
		}
		return nil
	}
}

// codeState reads the code and the token named t: whether the code is
// used, and t's status ("" when absent).
func codeState(t *testing.T, s *store.Store, code string, rt string) (used bool, status string) {
	t.Helper()
	b, err := s.Fetch(ctx(), store.Keys{CodeHash: code, RefreshHash: rt})
	if err != nil || b.Code == nil {
		t.Fatalf("Fetch(code %s) = %+v, %v", code, b.Code, err)
	}
	if b.Refresh != nil {
		status = b.Refresh.Status
	}
	return b.Code.Used, status
}

// TestRedeemCodeFailures: a redemption is two ordered writes, the first
// refresh token then the code's gate, and every failure between or of
// them leaves a state the client's retry gets through: a refused gate
// leaves the code unused and the token written but named by nothing
// (never handed out), and the retry with the same code succeeds; a refused
// put leaves nothing and sends no gate; a write whose answer was lost and
// which the SDK sends again succeeds (each write accepts its own earlier
// attempt), while another redemption is still refused; and a token hash
// taken by another token is an error of its own, never ErrConflict (which
// the token endpoint reads as a replayed code).
func TestRedeemCodeFailures(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		at := now()
		g := approved(t, b.Store(), seedUser(t, b.Store(), "alice", at), "client", at)

		t.Run("gate refused", func(t *testing.T) {
			db := &writeFaults{DynamoDB: b.DynamoDB, update: refuseOn("CODE#", throttledWrite)}
			s := store.New(db, b.SecretsManager, b.Options)
			c := newCode(t, s, g, at)
			rt := newRefresh(g, at)
			err := s.RedeemCode(ctx(), c.Hash, &rt, at)
			if !errors.Is(err, shared.ErrUnavailable) || errors.Is(err, shared.ErrConflict) {
				t.Errorf("RedeemCode with its gate refused: got %v, want ErrUnavailable only", err)
			}
			if used, status := codeState(t, s, c.Hash, rt.Hash); used || status != store.RefreshActive || redeemedBy(t, b, c.Hash) != "" {
				t.Errorf("after a refused gate: code used %v, token %q, named %q; want unused, the token written and named by nothing",
					used, status, redeemedBy(t, b, c.Hash))
			}
			// The client's retry, with the same code.
			retry := newRefresh(g, at)
			if err := b.Store().RedeemCode(ctx(), c.Hash, &retry, at); err != nil {
				t.Fatalf("the retry's RedeemCode: %v", err)
			}
			if used, _ := codeState(t, s, c.Hash, ""); !used || redeemedBy(t, b, c.Hash) != retry.Hash {
				t.Errorf("after the retry: code used %v, named %q; want used, naming the retry's token %q", used, redeemedBy(t, b, c.Hash), retry.Hash)
			}
		})

		t.Run("put refused", func(t *testing.T) {
			db := &writeFaults{DynamoDB: b.DynamoDB, put: refuseOn("RT#", throttledWrite)}
			s := store.New(db, b.SecretsManager, b.Options)
			c := newCode(t, s, g, at)
			rt := newRefresh(g, at)
			if err := s.RedeemCode(ctx(), c.Hash, &rt, at); !errors.Is(err, shared.ErrUnavailable) || errors.Is(err, shared.ErrConflict) {
				t.Errorf("RedeemCode with its put refused: got %v, want ErrUnavailable only", err)
			}
			if db.updates != 0 {
				t.Errorf("%d UpdateItem sent after the refused put, want 0: the code is spent only once its token is written", db.updates)
			}
			if used, status := codeState(t, s, c.Hash, rt.Hash); used || status != "" {
				t.Errorf("after a refused put: code used %v, token %q; want unused and no token", used, status)
			}
		})

		t.Run("answers lost, writes sent again", func(t *testing.T) {
			s := store.New(&writeFaults{DynamoDB: b.DynamoDB, repeat: true}, b.SecretsManager, b.Options)
			c := newCode(t, b.Store(), g, at)
			rt := newRefresh(g, at)
			if err := s.RedeemCode(ctx(), c.Hash, &rt, at); err != nil {
				t.Fatalf("RedeemCode whose writes were each sent twice: %v, want nil", err)
			}
			if used, status := codeState(t, s, c.Hash, rt.Hash); !used || status != store.RefreshActive || redeemedBy(t, b, c.Hash) != rt.Hash {
				t.Errorf("after it: code used %v, token %q, named %q; want used, active, naming %q", used, status, redeemedBy(t, b, c.Hash), rt.Hash)
			}
			other := newRefresh(g, at)
			if err := s.RedeemCode(ctx(), c.Hash, &other, at); !errors.Is(err, shared.ErrConflict) {
				t.Errorf("another redemption, sent twice: got %v, want ErrConflict", err)
			}
			// Without a refresh token the gate has a marker of its own.
			bare := newCode(t, b.Store(), g, at)
			if err := s.RedeemCode(ctx(), bare.Hash, nil, at); err != nil {
				t.Errorf("RedeemCode without a refresh token, sent twice: %v, want nil", err)
			}
			if err := s.RedeemCode(ctx(), bare.Hash, nil, at); !errors.Is(err, shared.ErrConflict) {
				t.Errorf("a second redemption without a refresh token: got %v, want ErrConflict", err)
			}
		})

		t.Run("hash taken", func(t *testing.T) {
			s := b.Store()
			c := newCode(t, s, g, at)
			_, taken := grantWithToken(t, s, at.Add(-time.Minute))
			rt := newRefresh(g, at)
			rt.Hash = taken.Hash
			err := s.RedeemCode(ctx(), c.Hash, &rt, at)
			if err == nil || errors.Is(err, shared.ErrConflict) {
				t.Errorf("RedeemCode with a taken token hash: got %v, want an error that is not ErrConflict", err)
			}
			if used, _ := codeState(t, s, c.Hash, ""); used {
				t.Error("the code was spent by a redemption whose token could not be written")
			}
		})
	})
}

// TestRotateRefreshFailures: a rotation is two ordered writes, the next
// token then old's gate, and every failure leaves a family the client's
// retry gets through, never a rotated token whose successor is missing: a
// refused gate leaves old active and next written but named by nothing
// (never handed out), and the retry rotates old to its own successor; a
// refused put leaves old active and sends no gate; writes sent again after
// a lost answer succeed, while another rotation is still refused; a gate
// refused because a transaction was writing old is ErrTransactionConflict,
// and the same call again (RetryInFlight) goes through.
func TestRotateRefreshFailures(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		at := now()
		read := func(s *store.Store, h string) *store.RefreshToken {
			t.Helper()
			got, err := s.Fetch(ctx(), store.Keys{RefreshHash: h})
			if err != nil {
				t.Fatalf("Fetch(%s): %v", h, err)
			}
			return got.Refresh
		}

		t.Run("gate refused", func(t *testing.T) {
			g, old := grantWithToken(t, b.Store(), at)
			db := &writeFaults{DynamoDB: b.DynamoDB, update: refuseOn("RT#"+old.Hash, throttledWrite)}
			s := store.New(db, b.SecretsManager, b.Options)
			next := newRefresh(g, at)
			if err := s.RotateRefresh(ctx(), old, next, at); !errors.Is(err, shared.ErrUnavailable) || errors.Is(err, shared.ErrConflict) {
				t.Errorf("RotateRefresh with its gate refused: got %v, want ErrUnavailable only", err)
			}
			if o := read(s, old.Hash); o == nil || o.Status != store.RefreshActive || o.Successor != "" {
				t.Errorf("old after a refused gate = %+v, want active, no successor", o)
			}
			if n := read(s, next.Hash); n == nil || n.Status != store.RefreshActive {
				t.Errorf("next after a refused gate = %+v, want written (never handed out)", n)
			}
			retry := newRefresh(g, at)
			if err := b.Store().RotateRefresh(ctx(), old, retry, at); err != nil {
				t.Fatalf("the retry's RotateRefresh: %v", err)
			}
			if o := read(s, old.Hash); o == nil || o.Status != store.RefreshRotated || o.Successor != retry.Hash {
				t.Errorf("old after the retry = %+v, want rotated to the retry's %s", o, retry.Hash)
			}
		})

		t.Run("put refused", func(t *testing.T) {
			g, old := grantWithToken(t, b.Store(), at)
			db := &writeFaults{DynamoDB: b.DynamoDB, put: refuseOn("RT#", throttledWrite)}
			s := store.New(db, b.SecretsManager, b.Options)
			next := newRefresh(g, at)
			if err := s.RotateRefresh(ctx(), old, next, at); !errors.Is(err, shared.ErrUnavailable) || errors.Is(err, shared.ErrConflict) {
				t.Errorf("RotateRefresh with its put refused: got %v, want ErrUnavailable only", err)
			}
			if db.updates != 0 {
				t.Errorf("%d UpdateItem sent after the refused put, want 0: old is rotated only once its successor is written", db.updates)
			}
			if o, n := read(s, old.Hash), read(s, next.Hash); o == nil || o.Status != store.RefreshActive || n != nil {
				t.Errorf("after a refused put: old %+v, next %+v; want old active and no next", o, n)
			}
		})

		t.Run("answers lost, writes sent again", func(t *testing.T) {
			g, old := grantWithToken(t, b.Store(), at)
			s := store.New(&writeFaults{DynamoDB: b.DynamoDB, repeat: true}, b.SecretsManager, b.Options)
			next := newRefresh(g, at)
			if err := s.RotateRefresh(ctx(), old, next, at); err != nil {
				t.Fatalf("RotateRefresh whose writes were each sent twice: %v, want nil", err)
			}
			if o := read(s, old.Hash); o == nil || o.Status != store.RefreshRotated || o.Successor != next.Hash {
				t.Errorf("old = %+v, want rotated to %s", o, next.Hash)
			}
			if err := s.RotateRefresh(ctx(), old, newRefresh(g, at), at); !errors.Is(err, shared.ErrConflict) {
				t.Errorf("another rotation of old, sent twice: got %v, want ErrConflict", err)
			}
		})

		t.Run("gate in flight, called again", func(t *testing.T) {
			g, old := grantWithToken(t, b.Store(), at)
			inFlight := func(string) error {
				return &types.TransactionConflictException{Message: aws.String("injected: Transaction is ongoing for the item")}
			}
			refused := 0
			db := &writeFaults{DynamoDB: b.DynamoDB, update: func(pk string) error {
				if refused == 0 && pk == "RT#"+old.Hash {
					refused++
					return inFlight(pk)
				}
				return nil
			}}
			s := store.New(db, b.SecretsManager, b.Options)
			next := newRefresh(g, at)
			if err := s.RotateRefresh(ctx(), old, next, at); !errors.Is(err, store.ErrTransactionConflict) {
				t.Fatalf("RotateRefresh with its gate in flight: got %v, want ErrTransactionConflict", err)
			}
			if err := s.RotateRefresh(ctx(), old, next, at); err != nil {
				t.Fatalf("the same RotateRefresh again: %v, want nil (its put is repeatable)", err)
			}
			if o := read(s, old.Hash); o == nil || o.Successor != next.Hash {
				t.Errorf("old = %+v, want rotated to %s", o, next.Hash)
			}
		})
	})
}
