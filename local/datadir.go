package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store/embedded"
)

// Where `make run` keeps the embedded emulator's data: a journal of the
// writes (embedded.JournalFile) in LOCAL_DATA_DIR, default .local/data.
//
// kumo's own persistence (KUMO_DATA_DIR, which kumo reads in its package
// init) snapshots the whole store under its lock about once a second, and
// every write waits for it; it is not used. A `make run` of an earlier
// version kept its data there (.local/kumo): when the journal does not
// exist yet, that data is copied into it once, in a process started with
// KUMO_DATA_DIR set (kumo loads the snapshot), which then starts again
// without it. Once the journal exists, KUMO_DATA_DIR is ignored, with one
// line.

// defaultKumoDir is where `make run` used to keep kumo's snapshots.
var defaultKumoDir = filepath.Join(".local", "kumo")

// localDataDir is LOCAL_DATA_DIR, default .local/data, made absolute.
func localDataDir(getenv func(string) string) (string, error) {
	dir := getenv("LOCAL_DATA_DIR")
	if dir == "" {
		dir = filepath.Join(".local", "data")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("LOCAL_DATA_DIR: %w", err)
	}
	return abs, nil
}

type kumoAction int

const (
	kumoNone         kumoAction = iota // no KUMO_DATA_DIR, nothing to migrate
	kumoIgnore                         // start again without KUMO_DATA_DIR
	kumoMigrateFirst                   // start again with KUMO_DATA_DIR=kumoDir, to migrate
	kumoMigrate                        // kumo holds the snapshot: copy it, start again without
)

type kumoPlan struct {
	action  kumoAction
	kumoDir string // kumoMigrateFirst: the directory of the old snapshots
	note    string // the one line to print
}

// hasSnapshot reports whether dir holds kumo's snapshot of DynamoDB or
// Secrets Manager.
func hasSnapshot(dir string, exists func(string) bool) bool {
	return exists(filepath.Join(dir, "dynamodb.json")) || exists(filepath.Join(dir, "secretsmanager.json"))
}

// planKumoDataDir decides what to do with kumo's own data directory.
func planKumoDataDir(getenv func(string) string, dataDir string, exists func(string) bool) kumoPlan {
	journal := filepath.Join(dataDir, embedded.JournalFile)
	kumoDir := getenv("KUMO_DATA_DIR")
	switch {
	case kumoDir != "" && !exists(journal) && hasSnapshot(kumoDir, exists):
		return kumoPlan{action: kumoMigrate, note: fmt.Sprintf(
			"copied the data kumo kept in KUMO_DATA_DIR=%s into %s; kumo's own snapshots are no longer used (that directory can be deleted)",
			kumoDir, journal)}
	case kumoDir != "":
		return kumoPlan{action: kumoIgnore, note: fmt.Sprintf(
			"KUMO_DATA_DIR=%s is ignored: kumo's snapshots stall every write; the data is kept in %s (LOCAL_DATA_DIR)",
			kumoDir, journal)}
	case getenv("LOCAL_DATA_DIR") == "" && !exists(journal) && hasSnapshot(defaultKumoDir, exists):
		abs, err := filepath.Abs(defaultKumoDir)
		if err != nil {
			return kumoPlan{}
		}
		return kumoPlan{action: kumoMigrateFirst, kumoDir: abs}
	}
	return kumoPlan{}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// migrate starts the embedded store on dataDir in this process, whose kumo
// loaded KUMO_DATA_DIR's snapshot: the start-up's compaction writes it
// into the journal.
func migrate(ctx context.Context, cfg config.Config, dataDir string) error {
	// Its lines other than warnings would repeat the runner's one line.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	_, stop, err := embedded.Start(ctx, cfg, embedded.Options{DataDir: dataDir, Logger: logger})
	if err != nil {
		return fmt.Errorf("copy KUMO_DATA_DIR's data: %w", err)
	}
	stop()
	return nil
}

// reexec runs this program again, with KUMO_DATA_DIR=kumoDir, or without
// KUMO_DATA_DIR when kumoDir is "".
func reexec(kumoDir string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	env := slices.DeleteFunc(os.Environ(), func(e string) bool { return strings.HasPrefix(e, "KUMO_DATA_DIR=") })
	if kumoDir != "" {
		env = append(env, "KUMO_DATA_DIR="+kumoDir)
	}
	return syscall.Exec(exe, os.Args, env)
}
