package storetest

import (
	"context"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/table"
)

// Gates wraps a DynamoDB client and holds the first two UpdateItem calls of
// an item whose partition key starts with a chosen prefix, so that two
// requests meet at their conditional update: the single-use gate of a code
// exchange (CODE#) or a refresh (RT#<hash>), which each request sends after
// its reads and after writing its new refresh token. Meet then lets them
// reach the engine one after the other, in the order a test chooses; later
// updates of the item pass. Two single-item writes of one item are
// serialised by DynamoDB (and DynamoDB Local), so these are the orders AWS
// can produce. Build a store on it with Store.WithDynamoDB(g.Wrap); it is
// safe for concurrent use.
type Gates struct {
	store.DynamoDB
	mu      sync.Mutex
	prefix  string
	waiting []gate
	both    chan struct{}
	open    bool
}

// gate is one held update: release lets it through, done is closed once
// the engine has answered it.
type gate struct{ release, done chan struct{} }

var _ store.DynamoDB = (*Gates)(nil)

// Wrap wraps db (for Store.WithDynamoDB).
func (g *Gates) Wrap(db store.DynamoDB) store.DynamoDB {
	g.DynamoDB = db
	g.mu.Lock()
	if g.both == nil {
		g.both = make(chan struct{})
	}
	g.mu.Unlock()
	return g
}

// Hold arms the gates for the next two updates of an item whose partition
// key starts with prefix (nothing is held before).
func (g *Gates) Hold(prefix string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.prefix, g.waiting, g.open = prefix, nil, false
	g.both = make(chan struct{})
}

// UpdateItem holds the call while the gates are armed for its item (see
// Gates).
func (g *Gates) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	pk, _ := in.Key[table.PartitionKey].(*types.AttributeValueMemberS)
	g.mu.Lock()
	if g.open || g.prefix == "" || pk == nil || !strings.HasPrefix(pk.Value, g.prefix) || len(g.waiting) >= 2 {
		g.mu.Unlock()
		return g.DynamoDB.UpdateItem(ctx, in, opts...)
	}
	w := gate{release: make(chan struct{}), done: make(chan struct{})}
	g.waiting = append(g.waiting, w)
	if len(g.waiting) == 2 {
		close(g.both)
	}
	g.mu.Unlock()
	defer close(w.done)
	select {
	case <-w.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.DynamoDB.UpdateItem(ctx, in, opts...)
}

// Meet waits until two updates are held, lets the first to arrive (or,
// with secondFirst, the second) reach the engine, waits for its answer,
// then lets the other go. It returns false, letting everything through,
// when early is closed before two updates arrived (a request that ended
// before its gate: the requests never met).
func (g *Gates) Meet(secondFirst bool, early <-chan struct{}) bool {
	g.mu.Lock()
	both := g.both
	g.mu.Unlock()
	select {
	case <-both:
	case <-early:
		g.mu.Lock()
		g.open = true
		for _, w := range g.waiting {
			close(w.release)
		}
		g.mu.Unlock()
		return false
	}
	g.mu.Lock()
	first, second := g.waiting[0], g.waiting[1]
	g.mu.Unlock()
	if secondFirst {
		first, second = second, first
	}
	close(first.release)
	<-first.done
	close(second.release)
	return true
}

// GateOrders are Meet's two orders, named for subtests.
var GateOrders = []struct {
	Name        string
	SecondFirst bool
}{{"first arrival's gate first", false}, {"second arrival's gate first", true}}
