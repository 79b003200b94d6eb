// Package embedded runs the store on kumo, an in-process AWS emulator, for
// `make run`: no AWS account, no Java, no Docker. The store is the real one
// (package store), so the local runner exercises the same code as Lambda.
//
// kumo keeps its data in memory. With Options.DataDir, this package keeps
// it across restarts itself, in a journal (DataDir/store.jsonl) of the
// writes kumo accepted: the SDK clients' transport records the body of
// every successful write to items and secrets and a goroutine appends it
// to the file, and fsyncs within 200 ms, so a request never waits for the
// disk. Start
// replays the journal into kumo and then rewrites it as the data it holds,
// so it does not grow from run to run.
//
// kumo's own persistence (KUMO_DATA_DIR, read in its package init) is not
// used: it marshals the whole store under the store's read lock about once
// a second, and every write waits for it (BENCHMARKS.md, "Tails"). When a
// process starts with it set anyway, kumo has loaded that snapshot, and
// Start copies it into a journal that does not exist yet (a migration).
//
// kumo's DynamoDB is lax (see shared/store/README.md): DynamoDB Local is
// the proof that the store is correct, kumo is a convenience.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/sivchari/kumo"

	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/table"
)

// Options configure Start.
type Options struct {
	// DataDir is the directory of the journal (created if missing); empty
	// keeps the data in memory only.
	DataDir string
	// Logger gets the start-up's lines (what was replayed, a torn last
	// line) and a journal that cannot be written; nil is slog.Default().
	Logger *slog.Logger
}

// Start starts kumo in-process, creates the table cfg.TableName if it does
// not exist yet (from package table, as everywhere else), replays and
// compacts the journal of o.DataDir, and returns the store on it, with a
// stop function that shuts kumo down and writes what the journal still
// holds. Call stop once, on shutdown, after the last request to the store.
func Start(ctx context.Context, cfg config.Config, o Options) (*store.Store, func(), error) {
	st, stop, _, err := start(ctx, cfg, o)
	return st, stop, err
}

// start is Start that also returns a client of kumo's own API.
func start(ctx context.Context, cfg config.Config, o Options) (*store.Store, func(), kumoClient, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	srv := kumo.NewServer()
	// kumo's handler called in-process; loopback HTTP to srv.URL only if
	// it cannot be reached.
	transport := Transport(srv)
	if transport == nil {
		t := awshttp.NewBuildableClient().GetTransport()
		t.MaxIdleConnsPerHost = 64
		transport = t
	}
	raw := kumoClient{url: srv.URL, hc: &http.Client{Transport: transport}}
	fail := func(err error) (*store.Store, func(), kumoClient, error) {
		srv.Close()
		return nil, nil, raw, fmt.Errorf("embedded store: %w", err)
	}

	// The table before any replay, whose records write into it; through
	// the transport, so that nothing of the start-up is journaled.
	rawDB := dynamodb.NewFromConfig(awsConfig(transport), endpoint(srv.URL))
	exists, err := store.CreateTable(ctx, rawDB, cfg.TableName)
	if err != nil {
		return fail(err)
	}
	var j *journal
	var rt http.RoundTripper = transport
	if o.DataDir == "" {
		if err := checkLayout(ctx, rawDB, cfg.TableName, exists); err != nil {
			return fail(err)
		}
	} else {
		if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
			return fail(err)
		}
		path := filepath.Join(o.DataDir, JournalFile)
		_, statErr := os.Stat(path)
		migrating := errors.Is(statErr, os.ErrNotExist) && os.Getenv("KUMO_DATA_DIR") != ""
		t0 := time.Now()
		rep, err := replay(ctx, raw, path)
		if err != nil {
			return fail(err)
		}
		if rep.torn > 0 {
			logger.Warn("embedded store: the journal's last line is incomplete (a write cut short by a crash); skipped",
				"file", path, "bytes", rep.torn)
		}
		if rep.failed > 0 {
			logger.Warn("embedded store: some journal records failed on replay", "file", path,
				"failed", rep.failed, "applied", rep.applied, "first", rep.firstFailure)
		}
		if err := checkLayout(ctx, rawDB, cfg.TableName, true); err != nil {
			return fail(err)
		}
		items, secrets, err := compact(ctx, raw, path, cfg.TableName, time.Now())
		if err != nil {
			return fail(fmt.Errorf("compact %s: %w", path, err))
		}
		if migrating {
			logger.Info("embedded store: copied the data kumo kept under KUMO_DATA_DIR into the journal",
				"from", os.Getenv("KUMO_DATA_DIR"), "file", path, "items", items, "secrets", secrets)
		}
		logger.Info("embedded store: data restored", "file", path, "replayed", rep.applied,
			"items", items, "secrets", secrets, "took", time.Since(t0).Round(time.Millisecond).String())
		if j, err = openJournal(path, logger); err != nil {
			return fail(err)
		}
		rt = newRecorder(transport, j)
	}

	awsCfg := awsConfig(rt)
	db := dynamodb.NewFromConfig(awsCfg, endpoint(srv.URL))
	sm := secretsmanager.NewFromConfig(awsCfg, func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	st := store.New(db, sm, store.Options{TableName: cfg.TableName, SecretPrefix: cfg.SecretPrefix})
	stop := func() {
		srv.Close()
		if j != nil {
			if err := j.close(); err != nil {
				logger.Error("embedded store: close the journal", "error", err.Error())
			}
		}
	}
	return st, stop, raw, nil
}

// awsConfig is the SDK configuration for kumo: a fixed region, requests
// through rt, and anonymous credentials, so that the SDK does not sign
// them: kumo reads no signature (it routes by X-Amz-Target, and by the
// signature's scope only the REST services this store does not call), and
// SigV4 signing was 15% of a refresh's CPU (BENCHMARKS.md). Only this
// package uses it, so only kumo gets unsigned requests: store.Open signs
// for AWS, DynamoDB Local and moto alike.
func awsConfig(rt http.RoundTripper) aws.Config {
	return aws.Config{
		Region:      "us-east-1",
		Credentials: aws.AnonymousCredentials{},
		HTTPClient:  &http.Client{Transport: rt},
	}
}

func endpoint(url string) func(*dynamodb.Options) {
	return func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(url) }
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
var ErrOldLayout = errors.New("the data kept under .local/ was written by an older version of the provider " +
	"(users were keyed by username); delete it (rm -rf .local/data .local/kumo) and start again")

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
