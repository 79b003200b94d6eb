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
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/sivchari/kumo"

	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store"
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
	if _, err := store.CreateTable(ctx, db, cfg.TableName); err != nil {
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

// flushInterval is kumo's snapshot interval (KUMO_PERSIST_FLUSH_INTERVAL_MS,
// default 1 s).
func flushInterval() time.Duration {
	if ms, err := strconv.Atoi(os.Getenv("KUMO_PERSIST_FLUSH_INTERVAL_MS")); err == nil && ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return time.Second
}
