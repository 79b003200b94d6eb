package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/table"
)

// RaceOrder says how two transactions that write one item at once end.
// On AWS, DynamoDB cancels one of them with a TransactionConflict
// cancellation reason for that item, and either may be the one; the other
// commits, but not necessarily before the cancelled one's caller has been
// answered and has read the item again (it then still sees the item as it
// was). DynamoDB Local serialises such transactions instead, so without
// Conflicts no test sees any of this.
type RaceOrder struct {
	// FirstLoses cancels the transaction that arrived first (it was still
	// in flight when the second began); otherwise the second is
	// cancelled.
	FirstLoses bool
	// CommitLate holds the winner until Race.Release: the loser is answered
	// at once, and whatever its caller does next (reads see the item as it
	// was; a write of the item is cancelled or refused as a conflict)
	// happens before the winner commits. Otherwise the winner commits
	// before the loser is answered.
	CommitLate bool
}

func (o RaceOrder) String() string {
	first, commit := "second loses", "winner commits first"
	if o.FirstLoses {
		first = "first loses"
	}
	if o.CommitLate {
		commit = "winner commits last"
	}
	return first + ", " + commit
}

// RaceOrders lists every RaceOrder, for tests that try each.
var RaceOrders = []RaceOrder{{}, {CommitLate: true}, {FirstLoses: true}, {FirstLoses: true, CommitLate: true}}

// Conflicts wraps a DynamoDB client and passes every call through, except
// while a race armed with Race is running: then the first two
// TransactWriteItems calls that write one item meet as they can on AWS
// (see RaceOrder). Build a store on it with store.New or
// Store.WithDynamoDB; it is safe for concurrent use.
type Conflicts struct {
	store.DynamoDB
	mu   sync.Mutex
	race *Race
}

var _ store.DynamoDB = (*Conflicts)(nil)

// NewConflicts wraps db.
func NewConflicts(db store.DynamoDB) *Conflicts { return &Conflicts{DynamoDB: db} }

// Race is one armed race of a Conflicts.
type Race struct {
	c     *Conflicts
	order RaceOrder
	// Guarded by c.mu.
	state raceState
	items map[string]bool // the items the first transaction writes

	held      chan struct{} // closed when the first transaction is held
	second    chan struct{} // closed when a second transaction of one of items arrives
	flush     chan struct{} // closed when a single-item write of one of items arrives first
	release   chan struct{} // closed by Release
	committed chan struct{} // closed when the winner's call has returned from the engine
	cancelled chan struct{} // closed when the loser has been answered
	aborted   chan struct{} // closed by Abort
	relOnce   sync.Once
	abortOnce sync.Once
}

type raceState int

const (
	armed   raceState = iota // waiting for a first transaction
	holding                  // the first is held, waiting for a second on one of its items
	racing                   // the loser is (or will be) cancelled; the winner is in flight
	over                     // the winner has returned, or the race was aborted: pass through
)

// Race arms a race: the next TransactWriteItems call is held until another
// one that writes one of its items arrives; then one is cancelled with a
// TransactionConflict reason for the items both write and the other
// commits, as order says. Until the winner's call has returned, any
// further transaction writing one of those items is cancelled the same
// way, and a PutItem, UpdateItem or DeleteItem of one is refused with
// TransactionConflictException (AWS's answer to a write of an item a
// transaction is writing); reads pass, and see the items as they were.
// A single-item write of one of the held transaction's items that comes
// before any second transaction lets that transaction commit, and is then
// refused the same way (it arrived while the transaction was in flight),
// so a caller that tries again finds it committed.
// Arming a race while another runs panics.
func (c *Conflicts) Race(order RaceOrder) *Race {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.race != nil && c.race.state != over {
		panic("storetest: a race is already armed")
	}
	r := &Race{c: c, order: order, held: make(chan struct{}), second: make(chan struct{}),
		flush: make(chan struct{}), release: make(chan struct{}),
		committed: make(chan struct{}), cancelled: make(chan struct{}), aborted: make(chan struct{})}
	c.race = r
	return r
}

// Held is closed when the first transaction is held.
func (r *Race) Held() <-chan struct{} { return r.held }

// Raced is closed when a second transaction writing an item of the first
// has arrived: the race is decided.
func (r *Race) Raced() <-chan struct{} { return r.second }

// Cancelled is closed when the loser has been answered.
func (r *Race) Cancelled() <-chan struct{} { return r.cancelled }

// Committed is closed when the winner's call has returned from the engine.
func (r *Race) Committed() <-chan struct{} { return r.committed }

// Release lets a winner held by CommitLate go to the engine. It may be
// called more than once, and before the race.
func (r *Race) Release() { r.relOnce.Do(func() { close(r.release) }) }

// Abort ends the race: a held transaction goes to the engine as it is, and
// everything passes through from now on. For a test whose second
// transaction never came (it fails instead of hanging).
func (r *Race) Abort() {
	r.abortOnce.Do(func() {
		r.c.mu.Lock()
		r.state = over
		r.c.mu.Unlock()
		close(r.aborted)
		r.Release()
	})
}

// itemID names an item by its key.
func itemID(key map[string]types.AttributeValue) string {
	s := func(name string) string {
		if v, ok := key[name].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	return s(table.PartitionKey) + "\x00" + s(table.SortKey)
}

// transactItems returns the item each element of in writes or checks.
func transactItems(in *dynamodb.TransactWriteItemsInput) []string {
	out := make([]string, len(in.TransactItems))
	for i, it := range in.TransactItems {
		switch {
		case it.Put != nil:
			out[i] = itemID(it.Put.Item)
		case it.Update != nil:
			out[i] = itemID(it.Update.Key)
		case it.Delete != nil:
			out[i] = itemID(it.Delete.Key)
		case it.ConditionCheck != nil:
			out[i] = itemID(it.ConditionCheck.Key)
		}
	}
	return out
}

// conflictOf is AWS's cancellation of a transaction of items for a
// conflict on those in held: TransactionConflict for each of them, None
// for the others, in the order of the request.
func conflictOf(items []string, held map[string]bool) error {
	reasons := make([]types.CancellationReason, len(items))
	codes := make([]string, len(items))
	for i, id := range items {
		codes[i] = "None"
		if held[id] {
			codes[i] = "TransactionConflict"
			reasons[i].Message = aws.String("Transaction is ongoing for the item")
		}
		reasons[i].Code = aws.String(codes[i])
	}
	return &types.TransactionCanceledException{
		Message: aws.String("Transaction cancelled, please refer cancellation reasons for specific reasons [" +
			strings.Join(codes, ", ") + "]"),
		CancellationReasons: reasons,
	}
}

func overlaps(items []string, held map[string]bool) bool {
	for _, id := range items {
		if held[id] {
			return true
		}
	}
	return false
}

// TransactWriteItems plays the armed race, if any (see Race).
func (c *Conflicts) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	items := transactItems(in)
	c.mu.Lock()
	r := c.race
	switch {
	case r == nil || r.state == over:
		c.mu.Unlock()
	case r.state == armed:
		r.state = holding
		r.items = map[string]bool{}
		for _, id := range items {
			r.items[id] = true
		}
		c.mu.Unlock()
		close(r.held)
		select {
		case <-r.second:
			return r.play(ctx, r.order.FirstLoses, items, in, opts)
		case <-r.flush:
			return r.commit(ctx, in, opts)
		case <-r.aborted:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	case overlaps(items, r.items) && r.state == holding:
		r.state = racing
		close(r.second)
		c.mu.Unlock()
		return r.play(ctx, !r.order.FirstLoses, items, in, opts)
	case overlaps(items, r.items): // racing: a transaction is in flight on the item
		c.mu.Unlock()
		return nil, conflictOf(items, r.items)
	default:
		c.mu.Unlock()
	}
	return c.DynamoDB.TransactWriteItems(ctx, in, opts...)
}

// play ends one side of the race: the loser is cancelled, the winner goes
// to the engine, in the order r.order says.
func (r *Race) play(ctx context.Context, lose bool, items []string, in *dynamodb.TransactWriteItemsInput, opts []func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if lose {
		if !r.order.CommitLate {
			select {
			case <-r.committed:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		defer close(r.cancelled)
		return nil, conflictOf(items, r.items)
	}
	if r.order.CommitLate {
		select {
		case <-r.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return r.commit(ctx, in, opts)
}

// commit sends the winner to the engine and ends the race.
func (r *Race) commit(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts []func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	out, err := r.c.DynamoDB.TransactWriteItems(ctx, in, opts...)
	r.c.mu.Lock()
	r.state = over
	r.c.mu.Unlock()
	close(r.committed)
	return out, err
}

// checkWrite refuses a single-item write of an item a racing transaction
// holds, as AWS does (see Conflicts.Race).
func (c *Conflicts) checkWrite(ctx context.Context, op string, key map[string]types.AttributeValue) error {
	c.mu.Lock()
	r := c.race
	if r == nil || (r.state != holding && r.state != racing) || !r.items[itemID(key)] {
		c.mu.Unlock()
		return nil
	}
	if r.state == holding {
		// No second transaction yet: the held one commits, then this
		// write is refused.
		r.state = racing
		close(r.flush)
		c.mu.Unlock()
		select {
		case <-r.committed:
		case <-ctx.Done():
			return ctx.Err()
		}
	} else {
		c.mu.Unlock()
	}
	return &types.TransactionConflictException{Message: aws.String(fmt.Sprintf(
		"%s: Transaction is ongoing for the item", op))}
}

// PutItem refuses an item a racing transaction holds (see Race).
func (c *Conflicts) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if err := c.checkWrite(ctx, "PutItem", in.Item); err != nil {
		return nil, err
	}
	return c.DynamoDB.PutItem(ctx, in, opts...)
}

// UpdateItem refuses an item a racing transaction holds (see Race).
func (c *Conflicts) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if err := c.checkWrite(ctx, "UpdateItem", in.Key); err != nil {
		return nil, err
	}
	return c.DynamoDB.UpdateItem(ctx, in, opts...)
}

// DeleteItem refuses an item a racing transaction holds (see Race).
func (c *Conflicts) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	if err := c.checkWrite(ctx, "DeleteItem", in.Key); err != nil {
		return nil, err
	}
	return c.DynamoDB.DeleteItem(ctx, in, opts...)
}
