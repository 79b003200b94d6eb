package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// backendFunc hands out a fresh table and secret prefix on one engine.
type backendFunc func(testing.TB) storetest.Backend

// engines are the engines the conformance suite runs on: DynamoDB Local,
// the reference, in both modes of the store (with transactions, and
// without: Options.NoTransactions), and moto's server (what LocalStack builds on); kumo too
// when STORE_CONFORMANCE_KUMO is set, to survey its gaps (not a proof).
// With AWS_ENDPOINT_URL set, that endpoint alone (make test-localstack).
func engines() map[string]backendFunc {
	if os.Getenv("AWS_ENDPOINT_URL") != "" {
		return map[string]backendFunc{"endpoint": storetest.KumoBackend}
	}
	m := map[string]backendFunc{
		"dynamolocal": storetest.DynamoLocalBackend, "moto": storetest.MotoBackend,
		// The mode without transactions (for an MRSC global table), whose
		// client fails the test on any transaction.
		"dynamolocal-notx": storetest.DynamoLocalNoTxBackend,
	}
	if os.Getenv("STORE_CONFORMANCE_KUMO") != "" {
		m["kumo"] = storetest.KumoBackend
	}
	return m
}

var seq atomic.Int64

// uniq returns a name no other call of the test binary returns.
func uniq(prefix string) string { return fmt.Sprintf("%s-%d", prefix, seq.Add(1)) }

// newLink is a fresh confidential link request; a key comes from one
// principal (testScope).
func newLink(key string) store.NewLink {
	scope := ""
	if key != "" {
		scope = testScope
	}
	return store.NewLink{
		IdempotencyKey:         key,
		IdempotencyScope:       scope,
		ID:                     uniq("id"),
		ClientID:               uniq("client"),
		Secret:                 uniq("secret"),
		Name:                   "Jenkins",
		RedirectURIs:           []string{"https://ci.example/cb"},
		PostLogoutRedirectURIs: []string{"https://ci.example/signed-out"},
		Scopes:                 []string{"REPO_READ"},
		ClientType:             store.Confidential,
		Enabled:                true,
	}
}

// testScope is the principal newLink's idempotency keys come from.
const testScope = "api:admin-token"

// now is a whole-second time near the real clock (kumo reaps expired TTL
// items by the real clock).
func now() time.Time { return time.Now().UTC().Truncate(time.Second) }

func ctx() context.Context { return context.Background() }

// rawItem reads an item directly, whatever its state.
func rawItem(t *testing.T, b storetest.Backend, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := b.DynamoDB.GetItem(ctx(), &dynamodb.GetItemInput{
		TableName:      aws.String(b.Options.TableName),
		Key:            map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("GetItem %s: %v", pk, err)
	}
	return out.Item
}

// secretExists reports whether the secret of a link's client id exists.
func secretExists(t *testing.T, b storetest.Backend, clientID string) bool {
	t.Helper()
	_, err := b.SecretsManager.GetSecretValue(ctx(), &secretsmanager.GetSecretValueInput{
		SecretId: aws.String(b.Options.SecretPrefix + "/links/" + clientID),
	})
	var nf *smtypes.ResourceNotFoundException
	switch {
	case err == nil:
		return true
	case errors.As(err, &nf):
		return false
	default:
		t.Fatalf("GetSecretValue %s: %v", clientID, err)
		return false
	}
}

// countItems counts the items of the table whose pk starts with prefix.
func countItems(t *testing.T, b storetest.Backend, prefix string) int {
	t.Helper()
	n := 0
	in := &dynamodb.ScanInput{TableName: aws.String(b.Options.TableName), ConsistentRead: aws.Bool(true)}
	for {
		out, err := b.DynamoDB.Scan(ctx(), in)
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
		for _, it := range out.Items {
			if pk, ok := it["pk"].(*types.AttributeValueMemberS); ok && strings.HasPrefix(pk.Value, prefix) {
				n++
			}
		}
		if out.LastEvaluatedKey == nil {
			return n
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// faultyDB fails the calls its hooks choose; a nil hook passes through.
type faultyDB struct {
	store.DynamoDB
	update   func(*dynamodb.UpdateItemInput) error
	transact func(*dynamodb.TransactWriteItemsInput) error
	get      func(*dynamodb.GetItemInput) error
	// put and del: the single-item writes, which the store without
	// transactions makes in their place (a crash between two of them).
	put func(*dynamodb.PutItemInput) error
	del func(*dynamodb.DeleteItemInput) error
}

func (f *faultyDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if f.put != nil {
		if err := f.put(in); err != nil {
			return nil, err
		}
	}
	return f.DynamoDB.PutItem(ctx, in, opts...)
}

func (f *faultyDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	if f.del != nil {
		if err := f.del(in); err != nil {
			return nil, err
		}
	}
	return f.DynamoDB.DeleteItem(ctx, in, opts...)
}

// noTx reports whether b's store runs without transactions (its writes are
// single items, so a fault is injected on those).
func noTx(b storetest.Backend) bool { return b.Options.NoTransactions }

func (f *faultyDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if f.update != nil {
		if err := f.update(in); err != nil {
			return nil, err
		}
	}
	return f.DynamoDB.UpdateItem(ctx, in, opts...)
}

func (f *faultyDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if f.transact != nil {
		if err := f.transact(in); err != nil {
			return nil, err
		}
	}
	return f.DynamoDB.TransactWriteItems(ctx, in, opts...)
}

func (f *faultyDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if f.get != nil {
		if err := f.get(in); err != nil {
			return nil, err
		}
	}
	return f.DynamoDB.GetItem(ctx, in, opts...)
}

// faultySM fails the Secrets Manager calls its hooks choose.
type faultySM struct {
	store.SecretsManager
	create func(*secretsmanager.CreateSecretInput) error
	put    func(*secretsmanager.PutSecretValueInput) error
	// putAfter fails a put after it took effect (a lost answer).
	putAfter func(*secretsmanager.PutSecretValueInput) error
	get      func(*secretsmanager.GetSecretValueInput) error
}

func (f *faultySM) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	if f.get != nil {
		if err := f.get(in); err != nil {
			return nil, err
		}
	}
	return f.SecretsManager.GetSecretValue(ctx, in, opts...)
}

func (f *faultySM) CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	if f.create != nil {
		if err := f.create(in); err != nil {
			return nil, err
		}
	}
	return f.SecretsManager.CreateSecret(ctx, in, opts...)
}

func (f *faultySM) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	if f.put != nil {
		if err := f.put(in); err != nil {
			return nil, err
		}
	}
	out, err := f.SecretsManager.PutSecretValue(ctx, in, opts...)
	if err == nil && f.putAfter != nil {
		if err := f.putAfter(in); err != nil {
			return nil, err
		}
	}
	return out, err
}

// keyPK is the partition key of a request's key.
func keyPK(k map[string]types.AttributeValue) string {
	if v, ok := k["pk"].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// errInjected is the failure the fault wrappers inject.
var errInjected = errors.New("injected failure")

// once returns a hook that fails the first call match accepts, then passes.
func once[T any](match func(T) bool) func(T) error {
	var done atomic.Bool
	return func(in T) error {
		if match(in) && done.CompareAndSwap(false, true) {
			return errInjected
		}
		return nil
	}
}

// parallel runs f in n goroutines at once and returns their errors.
func parallel(n int, f func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// hasValue reports whether a request's expression values hold the string v.
func hasValue(values map[string]types.AttributeValue, v string) bool {
	for _, av := range values {
		if s, ok := av.(*types.AttributeValueMemberS); ok && s.Value == v {
			return true
		}
	}
	return false
}

// hasName reports whether a request's expressions name attribute name.
func hasName(names map[string]string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

// seedUser creates a user named username with a fresh id.
func seedUser(t *testing.T, s *store.Store, username string, at time.Time) store.User {
	t.Helper()
	u := store.User{ID: uniq("uid"), Username: username, PasswordHash: "$argon2id$x", CreatedAt: at, UpdatedAt: at}
	if err := s.CreateUser(ctx(), u); err != nil {
		t.Fatalf("CreateUser(%s): %v", username, err)
	}
	return u
}

// unionOf is a catalog-free merge for ApproveGrant: the scopes of both, in
// order, without repeats.
func unionOf(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// approved records u's approval of clientID (scope REPO_READ) and returns
// the grant.
func approved(t *testing.T, s *store.Store, u store.User, clientID string, at time.Time) store.Grant {
	t.Helper()
	g, err := s.ApproveGrant(ctx(), store.Grant{ID: uniq("grant"), UserID: u.ID, Username: u.Username, ClientID: clientID,
		Scope: []string{"REPO_READ"}}, unionOf, at)
	if err != nil {
		t.Fatalf("ApproveGrant(%s, %s): %v", u.Username, clientID, err)
	}
	return g
}

// newCode stores a fresh code of grant g and returns it.
func newCode(t *testing.T, s *store.Store, g store.Grant, at time.Time) store.Code {
	t.Helper()
	c := store.Code{
		Hash: uniq("code"), ClientID: g.ClientID, RedirectURI: "https://ci.example/cb",
		Challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", UserID: g.UserID, GrantID: g.ID,
		Scope: []string{"REPO_READ"}, AuthTime: at.Add(-time.Second), CreatedAt: at, ExpiresAt: at.Add(time.Minute),
	}
	if err := s.CreateCode(ctx(), c); err != nil {
		t.Fatalf("CreateCode: %v", err)
	}
	return c
}

func newRefresh(g store.Grant, at time.Time) store.RefreshToken {
	return store.RefreshToken{Hash: uniq("rt"), GrantID: g.ID, ClientID: g.ClientID, UserID: g.UserID,
		Scope: g.Scope, AuthTime: at.Add(-time.Second), Status: store.RefreshActive, CreatedAt: at, ExpiresAt: at.Add(24 * time.Hour)}
}

// grantWithToken approves a grant for a new user, and redeems a code of it
// with a first refresh token.
func grantWithToken(t *testing.T, s *store.Store, at time.Time) (store.Grant, store.RefreshToken) {
	t.Helper()
	g := approved(t, s, seedUser(t, s, uniq("alice"), at), "client", at)
	c := newCode(t, s, g, at)
	rt := newRefresh(g, at)
	if err := s.RedeemCode(ctx(), c.Hash, &rt, at); err != nil {
		t.Fatalf("RedeemCode: %v", err)
	}
	return g, rt
}
