package store_test

import (
	"testing"

	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
)

// TestEnsureTable: the local runner's endpoint mode creates a missing table
// once and leaves an existing one alone.
func TestEnsureTable(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		o := storetest.Fresh(t, b.DynamoDBEndpoint, b.SecretsManagerEndpoint)
		o.NoTransactions = b.Options.NoTransactions
		s := store.New(b.DynamoDB, b.SecretsManager, o)
		if exists, err := s.EnsureTable(ctx()); err != nil || exists {
			t.Fatalf("first EnsureTable = %v, %v, want created", exists, err)
		}
		if exists, err := s.EnsureTable(ctx()); err != nil || !exists {
			t.Fatalf("second EnsureTable = %v, %v, want exists", exists, err)
		}
		if err := s.CreateUser(ctx(), store.User{ID: uniq("uid"), Username: "alice", CreatedAt: now(), UpdatedAt: now()}); err != nil {
			t.Errorf("CreateUser on the ensured table: %v", err)
		}
	})
}
