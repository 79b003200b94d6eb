// Package security holds the provider's security and reliability evidence:
// tests that drive the whole stack (local/server, as deployed) over HTTP
// against DynamoDB Local, one per promise of SECURITY.md, and the
// fault-injection wrappers those tests put between the store and the AWS
// SDK clients.
//
// A Faults value wraps a store.DynamoDB and a store.SecretsManager, counts
// every call made through either (one sequence across both services) and,
// when armed, fails the N-th call with an injected throttling error, a 500
// or a timeout. The wrappers sit above the SDK's own retries, so an
// injected fault is what the store sees once the SDK has given up.
package security

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/applinks/applinks/shared/store"
)

// Kind is the kind of an injected fault.
type Kind int

// The kinds of fault. Throttle and ServerFault fail the call without
// sending it; Timeout sends it, lets it take effect, and then loses the
// answer, the case where a client cannot know whether a write happened.
const (
	// Throttle is DynamoDB's ProvisionedThroughputExceededException or
	// Secrets Manager's ThrottlingException.
	Throttle Kind = iota
	// ServerFault is a 500: DynamoDB's InternalServerError or Secrets
	// Manager's InternalServiceError.
	ServerFault
	// Timeout is context.DeadlineExceeded after the call took effect.
	Timeout
)

// Kinds lists every Kind, for tests that try each.
var Kinds = []Kind{Throttle, ServerFault, Timeout}

func (k Kind) String() string {
	switch k {
	case Throttle:
		return "throttle"
	case ServerFault:
		return "500"
	case Timeout:
		return "timeout"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Marker is part of every injected error's text, so a test can check that
// no internal detail reached a response or was lost from the logs.
const Marker = "injected-fault-7f3a"

// Faults counts the calls made through its wrappers and fails the armed
// one. It is safe for concurrent use; the counting is meaningful when one
// request runs at a time.
type Faults struct {
	mu     sync.Mutex
	calls  []string // operations since the last Arm or Count
	failAt int      // 1-based index of the call to fail; 0: none
	kind   Kind
	fired  bool
}

// NewFaults returns a disarmed Faults.
func NewFaults() *Faults { return &Faults{} }

// Count starts counting calls afresh with no fault armed.
func (f *Faults) Count() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls, f.failAt, f.fired = nil, 0, false
}

// Arm starts counting calls afresh and fails the n-th one (1-based) with k.
func (f *Faults) Arm(n int, k Kind) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls, f.failAt, f.kind, f.fired = nil, n, k, false
}

// Disarm stops injecting faults; counting goes on.
func (f *Faults) Disarm() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failAt = 0
}

// Calls returns the operations called since the last Count or Arm, in
// order, e.g. "DynamoDB.GetItem".
func (f *Faults) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// Fired reports whether the armed fault was injected.
func (f *Faults) Fired() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fired
}

// next records a call of op and reports whether it must fail, and how.
func (f *Faults) next(op string) (bool, Kind) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, op)
	if f.failAt > 0 && len(f.calls) == f.failAt {
		f.fired = true
		return true, f.kind
	}
	return false, 0
}

// call runs one SDK call through f: as it is, or failed as armed. The
// injected error is shaped like the SDK's: an *smithy.OperationError
// wrapping the service's modelled error (or context.DeadlineExceeded).
func call[T any](f *Faults, service, op string, run func() (*T, error)) (*T, error) {
	fail, kind := f.next(service + "." + op)
	if !fail {
		return run()
	}
	var err error
	switch kind {
	case Timeout:
		_, _ = run() // the request reached the service; its answer is lost
		err = fmt.Errorf("%s: %w", Marker, context.DeadlineExceeded)
	case Throttle:
		if service == "DynamoDB" {
			err = &ddbtypes.ProvisionedThroughputExceededException{Message: aws.String(Marker + ": throughput exceeded")}
		} else {
			err = &smithy.GenericAPIError{Code: "ThrottlingException", Message: Marker + ": rate exceeded", Fault: smithy.FaultClient}
		}
	default:
		if service == "DynamoDB" {
			err = &ddbtypes.InternalServerError{Message: aws.String(Marker + ": internal server error")}
		} else {
			err = &smtypes.InternalServiceError{Message: aws.String(Marker + ": internal service error")}
		}
	}
	return nil, &smithy.OperationError{ServiceID: service, OperationName: op, Err: err}
}

// DynamoDB wraps db so that its calls are counted and can be failed.
func (f *Faults) DynamoDB(db store.DynamoDB) store.DynamoDB { return &faultyDynamoDB{f: f, db: db} }

// SecretsManager wraps sm so that its calls are counted and can be failed.
func (f *Faults) SecretsManager(sm store.SecretsManager) store.SecretsManager {
	return &faultySecretsManager{f: f, sm: sm}
}

type faultyDynamoDB struct {
	f  *Faults
	db store.DynamoDB
}

var _ store.DynamoDB = (*faultyDynamoDB)(nil)

func (d *faultyDynamoDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return call(d.f, "DynamoDB", "GetItem", func() (*dynamodb.GetItemOutput, error) { return d.db.GetItem(ctx, in, opts...) })
}

func (d *faultyDynamoDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return call(d.f, "DynamoDB", "PutItem", func() (*dynamodb.PutItemOutput, error) { return d.db.PutItem(ctx, in, opts...) })
}

func (d *faultyDynamoDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return call(d.f, "DynamoDB", "UpdateItem", func() (*dynamodb.UpdateItemOutput, error) { return d.db.UpdateItem(ctx, in, opts...) })
}

func (d *faultyDynamoDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return call(d.f, "DynamoDB", "DeleteItem", func() (*dynamodb.DeleteItemOutput, error) { return d.db.DeleteItem(ctx, in, opts...) })
}

func (d *faultyDynamoDB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return call(d.f, "DynamoDB", "Query", func() (*dynamodb.QueryOutput, error) { return d.db.Query(ctx, in, opts...) })
}

func (d *faultyDynamoDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	return call(d.f, "DynamoDB", "BatchGetItem", func() (*dynamodb.BatchGetItemOutput, error) { return d.db.BatchGetItem(ctx, in, opts...) })
}

func (d *faultyDynamoDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return call(d.f, "DynamoDB", "TransactWriteItems", func() (*dynamodb.TransactWriteItemsOutput, error) {
		return d.db.TransactWriteItems(ctx, in, opts...)
	})
}

type faultySecretsManager struct {
	f  *Faults
	sm store.SecretsManager
}

var _ store.SecretsManager = (*faultySecretsManager)(nil)

func (s *faultySecretsManager) CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	return call(s.f, "SecretsManager", "CreateSecret", func() (*secretsmanager.CreateSecretOutput, error) { return s.sm.CreateSecret(ctx, in, opts...) })
}

func (s *faultySecretsManager) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return call(s.f, "SecretsManager", "GetSecretValue", func() (*secretsmanager.GetSecretValueOutput, error) { return s.sm.GetSecretValue(ctx, in, opts...) })
}

func (s *faultySecretsManager) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	return call(s.f, "SecretsManager", "PutSecretValue", func() (*secretsmanager.PutSecretValueOutput, error) { return s.sm.PutSecretValue(ctx, in, opts...) })
}

func (s *faultySecretsManager) DeleteSecret(ctx context.Context, in *secretsmanager.DeleteSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error) {
	return call(s.f, "SecretsManager", "DeleteSecret", func() (*secretsmanager.DeleteSecretOutput, error) { return s.sm.DeleteSecret(ctx, in, opts...) })
}
