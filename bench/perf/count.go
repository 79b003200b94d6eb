// Package perf holds the provider's performance evidence: benchmarks of the
// token, introspection and authorize handlers against the embedded backend
// (kumo) and DynamoDB Local, the round-trip budgets of the token endpoint
// enforced by tests, the DynamoDB capacity each flow consumes (the input of
// the cost model in BENCHMARKS.md), and the cold start of each Lambda
// binary under the Lambda Runtime Interface Emulator.
//
// Its non-test code is the counting wrappers of the SDK clients the store
// calls through (store.DynamoDB and store.SecretsManager). `make bench` runs
// it; BENCHMARKS.md explains the method and the numbers.
package perf

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
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

// Capacity is DynamoDB capacity consumed, in capacity units as DynamoDB
// reports them with ReturnConsumedCapacity=TOTAL (for an on-demand table,
// the read and write request units billed).
type Capacity struct {
	Read  float64 // from GetItem, Query, BatchGetItem
	Write float64 // from PutItem, UpdateItem, DeleteItem, TransactWriteItems
	// Missing counts calls whose answer carried no ConsumedCapacity (an
	// engine that does not report it, or a failed call).
	Missing int

	// RulesRead and RulesWrite are the request units AWS's published
	// rules give for the same calls, computed from the requests and
	// answers (see rules.go): the check on an engine whose own accounting
	// is simplified (DynamoDB Local does not charge transactional updates
	// and condition checks, nor empty queries).
	RulesRead  float64
	RulesWrite float64
	// MaxItemBytes is the size of the largest item a write wrote (by the
	// rules' measure, the larger of before and after for an update): the
	// write unit is 1 KB, so an item over 1024 bytes costs two.
	MaxItemBytes int
}

// CountingDynamoDB wraps a store.DynamoDB: it counts the calls of each
// operation and, when ConsumedCapacity is set, asks every call for its
// consumed capacity (ReturnConsumedCapacity=TOTAL, on a copy of the input)
// and sums it. It is safe for concurrent use.
type CountingDynamoDB struct {
	// Next is the wrapped client.
	Next store.DynamoDB
	// ConsumedCapacity turns on the capacity accounting.
	ConsumedCapacity bool

	calls counter
	mu    sync.Mutex
	cap   Capacity
}

var _ store.DynamoDB = (*CountingDynamoDB)(nil)

// Take returns the calls and capacity counted since the last Take (or the
// start), and resets both.
func (d *CountingDynamoDB) Take() (Counts, Capacity) {
	d.mu.Lock()
	c := d.cap
	d.cap = Capacity{}
	d.mu.Unlock()
	return d.calls.take(), c
}

// consumed adds the capacity of one answer.
func (d *CountingDynamoDB) consumed(write bool, cc ...types.ConsumedCapacity) {
	if !d.ConsumedCapacity {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(cc) == 0 {
		d.cap.Missing++
		return
	}
	for _, c := range cc {
		if c.CapacityUnits == nil {
			d.cap.Missing++
			continue
		}
		if write {
			d.cap.Write += *c.CapacityUnits
		} else {
			d.cap.Read += *c.CapacityUnits
		}
	}
}

// wrote records the sizes of items a write wrote.
func (d *CountingDynamoDB) wrote(items ...map[string]types.AttributeValue) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, it := range items {
		d.cap.MaxItemBytes = max(d.cap.MaxItemBytes, itemSize(it))
	}
}

// rules adds the request units of one call by AWS's rules.
func (d *CountingDynamoDB) rules(read, write float64) {
	if !d.ConsumedCapacity {
		return
	}
	d.mu.Lock()
	d.cap.RulesRead += read
	d.cap.RulesWrite += write
	d.mu.Unlock()
}

// one returns the single ConsumedCapacity of an answer, if any.
func one(c *types.ConsumedCapacity) []types.ConsumedCapacity {
	if c == nil {
		return nil
	}
	return []types.ConsumedCapacity{*c}
}

// total is the ReturnConsumedCapacity to ask for.
func (d *CountingDynamoDB) total() types.ReturnConsumedCapacity {
	if d.ConsumedCapacity {
		return types.ReturnConsumedCapacityTotal
	}
	return ""
}

// GetItem counts and forwards the call.
func (d *CountingDynamoDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	d.calls.add("GetItem")
	if d.ConsumedCapacity {
		c := *in
		c.ReturnConsumedCapacity = d.total()
		in = &c
	}
	out, err := d.Next.GetItem(ctx, in, opts...)
	if err == nil {
		d.consumed(false, one(out.ConsumedCapacity)...)
		d.rules(getItemUnits(in, out), 0)
	}
	return out, err
}

// PutItem counts and forwards the call.
func (d *CountingDynamoDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	d.calls.add("PutItem")
	if d.ConsumedCapacity {
		c := *in
		c.ReturnConsumedCapacity = d.total()
		in = &c
	}
	out, err := d.Next.PutItem(ctx, in, opts...)
	if err == nil {
		d.consumed(true, one(out.ConsumedCapacity)...)
		d.rules(0, putUnits(in.Item, 1))
		d.wrote(in.Item)
	}
	return out, err
}

// UpdateItem counts and forwards the call.
func (d *CountingDynamoDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	d.calls.add("UpdateItem")
	if d.ConsumedCapacity {
		c := *in
		c.ReturnConsumedCapacity = d.total()
		in = &c
	}
	before, known := d.peek(ctx, in.TableName, in.Key)
	out, err := d.Next.UpdateItem(ctx, in, opts...)
	if err == nil {
		d.consumed(true, one(out.ConsumedCapacity)...)
		after, knownAfter := d.peek(ctx, in.TableName, in.Key)
		if known && knownAfter {
			d.rules(0, updateSizedUnits(before, after, 1))
			d.wrote(before, after)
		} else {
			d.rules(0, updateUnits(in.UpdateExpression, in.ExpressionAttributeNames, 1))
		}
	}
	return out, err
}

// peek reads an item for the capacity rules, uncounted and only with
// ConsumedCapacity on: an update costs by the larger of its item's sizes
// before and after. It reports whether the read succeeded (an absent item
// is nil, known).
func (d *CountingDynamoDB) peek(ctx context.Context, table *string, key map[string]types.AttributeValue) (map[string]types.AttributeValue, bool) {
	if !d.ConsumedCapacity {
		return nil, false
	}
	out, err := d.Next.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, false
	}
	return out.Item, true
}

// peekUpdates reads the items of a transaction's Update items (see peek).
func (d *CountingDynamoDB) peekUpdates(ctx context.Context, in *dynamodb.TransactWriteItemsInput) map[int]map[string]types.AttributeValue {
	got := map[int]map[string]types.AttributeValue{}
	for i, it := range in.TransactItems {
		if it.Update == nil {
			continue
		}
		if item, ok := d.peek(ctx, it.Update.TableName, it.Update.Key); ok && item != nil {
			got[i] = item
		}
	}
	return got
}

// DeleteItem counts and forwards the call.
func (d *CountingDynamoDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	d.calls.add("DeleteItem")
	if d.ConsumedCapacity {
		c := *in
		c.ReturnConsumedCapacity = d.total()
		in = &c
	}
	out, err := d.Next.DeleteItem(ctx, in, opts...)
	if err == nil {
		d.consumed(true, one(out.ConsumedCapacity)...)
		d.rules(0, 1)
	}
	return out, err
}

// Query counts and forwards the call.
func (d *CountingDynamoDB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	d.calls.add("Query")
	if d.ConsumedCapacity {
		c := *in
		c.ReturnConsumedCapacity = d.total()
		in = &c
	}
	out, err := d.Next.Query(ctx, in, opts...)
	if err == nil {
		d.consumed(false, one(out.ConsumedCapacity)...)
		d.rules(queryUnits(in, out), 0)
	}
	return out, err
}

// BatchGetItem counts and forwards the call.
func (d *CountingDynamoDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	d.calls.add("BatchGetItem")
	if d.ConsumedCapacity {
		c := *in
		c.ReturnConsumedCapacity = d.total()
		in = &c
	}
	out, err := d.Next.BatchGetItem(ctx, in, opts...)
	if err == nil {
		d.consumed(false, out.ConsumedCapacity...)
		d.rules(batchGetUnits(in, out), 0)
	}
	return out, err
}

// TransactWriteItems counts and forwards the call.
func (d *CountingDynamoDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	d.calls.add("TransactWriteItems")
	if d.ConsumedCapacity {
		c := *in
		c.ReturnConsumedCapacity = d.total()
		in = &c
	}
	before := d.peekUpdates(ctx, in)
	out, err := d.Next.TransactWriteItems(ctx, in, opts...)
	if err == nil {
		d.consumed(true, out.ConsumedCapacity...)
		after := d.peekUpdates(ctx, in)
		sized := map[int][2]map[string]types.AttributeValue{}
		for i := range in.TransactItems {
			if before[i] != nil || after[i] != nil {
				sized[i] = [2]map[string]types.AttributeValue{before[i], after[i]}
			}
		}
		d.rules(0, transactWriteUnits(in, sized))
		for _, it := range in.TransactItems {
			if it.Put != nil {
				d.wrote(it.Put.Item)
			}
		}
		for _, b := range sized {
			d.wrote(b[0], b[1])
		}
	}
	return out, err
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
// resets them.
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
