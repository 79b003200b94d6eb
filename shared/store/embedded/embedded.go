// Package embedded runs the store on kumo, an in-process AWS emulator, for
// `make run`: no AWS account, no Java, no Docker. The store is the real one
// (package store), so the local runner exercises the same code as Lambda.
//
// kumo keeps its data in memory and, when KUMO_DATA_DIR is set in the
// process environment at start-up (kumo reads it in its package init, so
// setting it from main is too late), snapshots it to that directory about
// once a second and loads it at the next start. kumo's DynamoDB is lax (see
// shared/store/README.md): DynamoDB Local is the proof that the store is
// correct, kumo is a convenience.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/sivchari/kumo"

	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/table"
)

// DataDir is the directory kumo persists to ("" when data lives only in
// memory): KUMO_DATA_DIR as it was when the process started.
func DataDir() string { return os.Getenv("KUMO_DATA_DIR") }

// Start starts kumo in-process, creates the table cfg.TableName if it does
// not exist yet (from package table, as everywhere else) and returns the
// store on it, with a stop function that shuts kumo down after its last
// snapshot is written. Call stop once, on shutdown.
func Start(ctx context.Context, cfg config.Config) (*store.Store, func(), error) {
	srv := kumo.NewServer()
	awsCfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}
	db := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	sm := secretsmanager.NewFromConfig(awsCfg, func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	exists, err := store.CreateTable(ctx, db, cfg.TableName)
	if err == nil {
		err = checkLayout(ctx, db, cfg.TableName, exists)
	}
	if err != nil {
		srv.Close()
		return nil, nil, fmt.Errorf("embedded store: %w", err)
	}
	st := store.New(db, sm, store.Options{TableName: cfg.TableName, SecretPrefix: cfg.SecretPrefix})
	stop := func() {
		// Close drains in-flight requests; kumo's public API has no flush,
		// so wait for its background snapshot to catch the last writes.
		srv.Close()
		if DataDir() != "" {
			time.Sleep(flushInterval() + 500*time.Millisecond)
		}
	}
	return st, stop, nil
}

// Layout is the version of the table's data layout that this code reads
// and writes: 2 since users have immutable ids and grants are one record
// per user and link (1, unmarked, keyed users by username). No deployed
// table holds data yet, so there is no migration; only the data a `make
// run` kept under .local/ can be older.
const Layout = "2"

// The layout marker item.
var layoutKey = map[string]types.AttributeValue{
	table.PartitionKey: &types.AttributeValueMemberS{Value: "META#layout"},
	table.SortKey:      &types.AttributeValueMemberS{Value: "META"},
}

// ErrOldLayout is Start's answer for data kept by an older version.
var ErrOldLayout = errors.New("the data under KUMO_DATA_DIR was written by an older version of the provider " +
	"(users were keyed by username); delete it (rm -rf .local/kumo) and start again")

// checkLayout marks a new or empty table with Layout, and refuses a table
// that holds data but no marker (written before the marker existed) or
// another layout's marker.
func checkLayout(ctx context.Context, db *dynamodb.Client, name string, existed bool) error {
	mark := func() error {
		item := map[string]types.AttributeValue{"version": &types.AttributeValueMemberS{Value: Layout}}
		for k, v := range layoutKey {
			item[k] = v
		}
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(name), Item: item})
		return err
	}
	if !existed {
		return mark()
	}
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(name), Key: layoutKey, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return fmt.Errorf("read the layout marker: %w", err)
	}
	if out.Item != nil {
		if v, _ := out.Item["version"].(*types.AttributeValueMemberS); v != nil && v.Value == Layout {
			return nil
		}
		return ErrOldLayout
	}
	scan, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(name), Limit: aws.Int32(1)})
	if err != nil {
		return fmt.Errorf("look for old data: %w", err)
	}
	if len(scan.Items) > 0 {
		return ErrOldLayout
	}
	return mark()
}

// flushInterval is kumo's snapshot interval (KUMO_PERSIST_FLUSH_INTERVAL_MS,
// default 1 s).
func flushInterval() time.Duration {
	if ms, err := strconv.Atoi(os.Getenv("KUMO_PERSIST_FLUSH_INTERVAL_MS")); err == nil && ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return time.Second
}
