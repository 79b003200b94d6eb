// Package perf holds the provider's performance evidence: benchmarks of the
// token, introspection and authorize handlers against the embedded backend
// (kumo) and DynamoDB Local, the round-trip budgets of the token endpoint
// enforced by tests, the DynamoDB capacity each flow consumes (the input of
// the cost model in BENCHMARKS.md), and the cold start of each Lambda
// binary under the Lambda Runtime Interface Emulator.
//
// Its non-test code is the capacity accounting of the DynamoDB calls
// (MeteredDynamoDB, over storetest's call counter) and AWS's published
// capacity rules (rules.go). `make bench` runs it; BENCHMARKS.md explains
// the method and the numbers.
package perf

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
)

// Capacity is DynamoDB capacity consumed, in capacity units as DynamoDB
// reports them with ReturnConsumedCapacity=TOTAL (for an on-demand table,
// the read and write request units billed).
type Capacity struct {
	Read  float64 // from GetItem, Query, BatchGetItem
	Write float64 // from PutItem, UpdateItem, DeleteItem, TransactWriteItems
	// Missing counts successful calls whose answer carried no
	// ConsumedCapacity (an engine that does not report it); a failed call
	// is not metered.
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

// MeteredDynamoDB wraps a store.DynamoDB: it counts the calls of each
// operation (through storetest.CountingDynamoDB, the tests' one call
// counter) and, when ConsumedCapacity is set, asks every call for its
// consumed capacity (ReturnConsumedCapacity=TOTAL, on a copy of the input)
// and sums it; with it off, a call is only counted (the benchmarks measure
// the handlers, not the metering). It is safe for concurrent use.
type MeteredDynamoDB struct {
	// ConsumedCapacity turns on the capacity accounting.
	ConsumedCapacity bool

	calls *storetest.CountingDynamoDB // counts, then calls the wrapped client
	mu    sync.Mutex
	cap   Capacity
}

var _ store.DynamoDB = (*MeteredDynamoDB)(nil)

// NewMeteredDynamoDB wraps next, with the capacity accounting on when
// capacity is true.
func NewMeteredDynamoDB(next store.DynamoDB, capacity bool) *MeteredDynamoDB {
	return &MeteredDynamoDB{ConsumedCapacity: capacity, calls: &storetest.CountingDynamoDB{Next: next}}
}

// Take returns the calls and capacity counted since the last Take (or the
// start), and resets both.
func (d *MeteredDynamoDB) Take() (storetest.Counts, Capacity) {
	d.mu.Lock()
	c := d.cap
	d.cap = Capacity{}
	d.mu.Unlock()
	return d.calls.Take(), c
}

// consumed adds the capacity of one answer.
func (d *MeteredDynamoDB) consumed(write bool, cc ...types.ConsumedCapacity) {
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
func (d *MeteredDynamoDB) wrote(items ...map[string]types.AttributeValue) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, it := range items {
		d.cap.MaxItemBytes = max(d.cap.MaxItemBytes, itemSize(it))
	}
}

// rules adds the request units of one call by AWS's rules.
func (d *MeteredDynamoDB) rules(read, write float64) {
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

// GetItem counts, meters and forwards the call.
func (d *MeteredDynamoDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if !d.ConsumedCapacity {
		return d.calls.GetItem(ctx, in, opts...)
	}
	c := *in
	c.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	in = &c
	out, err := d.calls.GetItem(ctx, in, opts...)
	if err == nil {
		d.consumed(false, one(out.ConsumedCapacity)...)
		d.rules(getItemUnits(in, out), 0)
	}
	return out, err
}

// PutItem counts, meters and forwards the call.
func (d *MeteredDynamoDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if !d.ConsumedCapacity {
		return d.calls.PutItem(ctx, in, opts...)
	}
	c := *in
	c.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	in = &c
	out, err := d.calls.PutItem(ctx, in, opts...)
	if err == nil {
		d.consumed(true, one(out.ConsumedCapacity)...)
		d.rules(0, putUnits(in.Item, 1))
		d.wrote(in.Item)
	}
	return out, err
}

// UpdateItem counts, meters and forwards the call.
func (d *MeteredDynamoDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if !d.ConsumedCapacity {
		return d.calls.UpdateItem(ctx, in, opts...)
	}
	c := *in
	c.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	in = &c
	before, known := d.peek(ctx, in.TableName, in.Key)
	out, err := d.calls.UpdateItem(ctx, in, opts...)
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

// peek reads an item for the capacity rules, uncounted: an update costs by the larger of its item's sizes
// before and after. It reports whether the read succeeded (an absent item
// is nil, known).
func (d *MeteredDynamoDB) peek(ctx context.Context, table *string, key map[string]types.AttributeValue) (map[string]types.AttributeValue, bool) {
	out, err := d.calls.Next.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, false
	}
	return out.Item, true
}

// peekUpdates reads the items of a transaction's Update items (see peek).
func (d *MeteredDynamoDB) peekUpdates(ctx context.Context, in *dynamodb.TransactWriteItemsInput) map[int]map[string]types.AttributeValue {
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

// DeleteItem counts, meters and forwards the call.
func (d *MeteredDynamoDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	if !d.ConsumedCapacity {
		return d.calls.DeleteItem(ctx, in, opts...)
	}
	c := *in
	c.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	in = &c
	out, err := d.calls.DeleteItem(ctx, in, opts...)
	if err == nil {
		d.consumed(true, one(out.ConsumedCapacity)...)
		d.rules(0, 1)
	}
	return out, err
}

// Query counts, meters and forwards the call.
func (d *MeteredDynamoDB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if !d.ConsumedCapacity {
		return d.calls.Query(ctx, in, opts...)
	}
	c := *in
	c.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	in = &c
	out, err := d.calls.Query(ctx, in, opts...)
	if err == nil {
		d.consumed(false, one(out.ConsumedCapacity)...)
		d.rules(queryUnits(in, out), 0)
	}
	return out, err
}

// BatchGetItem counts, meters and forwards the call.
func (d *MeteredDynamoDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	if !d.ConsumedCapacity {
		return d.calls.BatchGetItem(ctx, in, opts...)
	}
	c := *in
	c.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	in = &c
	out, err := d.calls.BatchGetItem(ctx, in, opts...)
	if err == nil {
		d.consumed(false, out.ConsumedCapacity...)
		d.rules(batchGetUnits(in, out), 0)
	}
	return out, err
}

// TransactWriteItems counts, meters and forwards the call.
func (d *MeteredDynamoDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if !d.ConsumedCapacity {
		return d.calls.TransactWriteItems(ctx, in, opts...)
	}
	c := *in
	c.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	in = &c
	before := d.peekUpdates(ctx, in)
	out, err := d.calls.TransactWriteItems(ctx, in, opts...)
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
