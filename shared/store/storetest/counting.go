package storetest

import (
	"context"
	"maps"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/applinks/applinks/shared/store"
)

// Counts are the calls made per API operation, e.g. {"GetItem": 2}.
type Counts map[string]int

// Total is the number of calls of every operation.
func (c Counts) Total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// String lists the operations in name order, e.g. "GetItem=2 PutItem=1".
func (c Counts) String() string {
	names := make([]string, 0, len(c))
	for k := range c {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for i, k := range names {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Itoa(c[k]))
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// counter counts calls per operation; safe for concurrent use.
type counter struct {
	mu     sync.Mutex
	counts Counts
}

func (c *counter) add(op string) {
	c.mu.Lock()
	if c.counts == nil {
		c.counts = Counts{}
	}
	c.counts[op]++
	c.mu.Unlock()
}

// now returns a copy of the counts so far.
func (c *counter) now() Counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	got := maps.Clone(c.counts)
	if got == nil {
		got = Counts{}
	}
	return got
}

// take returns the counts so far and starts again from zero.
func (c *counter) take() Counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.counts
	c.counts = nil
	if got == nil {
		got = Counts{}
	}
	return got
}

// CountingDynamoDB wraps a store.DynamoDB and counts the calls of each
// operation: the one DynamoDB call counter of the tests (the store's
// call-count tests, bench/perf's round-trip budgets). It is safe for
// concurrent use.
type CountingDynamoDB struct {
	// Next is the wrapped client.
	Next store.DynamoDB

	calls counter
}

var _ store.DynamoDB = (*CountingDynamoDB)(nil)

// Calls returns the calls counted since the last Take (or the start).
func (d *CountingDynamoDB) Calls() Counts { return d.calls.now() }

// Take returns the calls counted since the last Take (or the start) and
// starts again from zero.
func (d *CountingDynamoDB) Take() Counts { return d.calls.take() }

// GetItem counts and forwards the call.
func (d *CountingDynamoDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	d.calls.add("GetItem")
	return d.Next.GetItem(ctx, in, opts...)
}

// PutItem counts and forwards the call.
func (d *CountingDynamoDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	d.calls.add("PutItem")
	return d.Next.PutItem(ctx, in, opts...)
}

// UpdateItem counts and forwards the call.
func (d *CountingDynamoDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	d.calls.add("UpdateItem")
	return d.Next.UpdateItem(ctx, in, opts...)
}

// DeleteItem counts and forwards the call.
func (d *CountingDynamoDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	d.calls.add("DeleteItem")
	return d.Next.DeleteItem(ctx, in, opts...)
}

// Query counts and forwards the call.
func (d *CountingDynamoDB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	d.calls.add("Query")
	return d.Next.Query(ctx, in, opts...)
}

// BatchGetItem counts and forwards the call.
func (d *CountingDynamoDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	d.calls.add("BatchGetItem")
	return d.Next.BatchGetItem(ctx, in, opts...)
}

// TransactWriteItems counts and forwards the call.
func (d *CountingDynamoDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	d.calls.add("TransactWriteItems")
	return d.Next.TransactWriteItems(ctx, in, opts...)
}

// CountingSecretsManager wraps a store.SecretsManager and counts the calls
// of each operation. It is safe for concurrent use.
type CountingSecretsManager struct {
	// Next is the wrapped client.
	Next store.SecretsManager

	calls counter
}

var _ store.SecretsManager = (*CountingSecretsManager)(nil)

// Take returns the calls counted since the last Take (or the start) and
// starts again from zero.
func (s *CountingSecretsManager) Take() Counts { return s.calls.take() }

// CreateSecret counts and forwards the call.
func (s *CountingSecretsManager) CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	s.calls.add("CreateSecret")
	return s.Next.CreateSecret(ctx, in, opts...)
}

// GetSecretValue counts and forwards the call.
func (s *CountingSecretsManager) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	s.calls.add("GetSecretValue")
	return s.Next.GetSecretValue(ctx, in, opts...)
}

// PutSecretValue counts and forwards the call.
func (s *CountingSecretsManager) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	s.calls.add("PutSecretValue")
	return s.Next.PutSecretValue(ctx, in, opts...)
}

// DeleteSecret counts and forwards the call.
func (s *CountingSecretsManager) DeleteSecret(ctx context.Context, in *secretsmanager.DeleteSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error) {
	s.calls.add("DeleteSecret")
	return s.Next.DeleteSecret(ctx, in, opts...)
}
