// Command loadgen drives a running provider (the local runner of `make run`)
// over loopback HTTP with concurrent clients and reports throughput and
// latency percentiles per operation:
//
//	refresh     POST /oauth2/token, grant_type=refresh_token (each client
//	            rotates its own refresh token)
//	introspect  POST /oauth2/introspect of an access token (RFC 7662)
//	codeflow    the whole browser flow of RFC 6749 §4.1 with PKCE (RFC
//	            7636): GET /oauth2/authorize (login page), POST the login
//	            form, GET /oauth2/authorize with the session (consent page),
//	            POST the consent form (approve), POST /oauth2/token
//	            (authorization_code); each step is also reported alone
//
// Before the timed runs it creates, through the admin API, one user and one
// confidential link, and each client signs in once to get its tokens; at
// the end it deletes both. The HTML forms are read by SPEC's contract: one
// <form method="post"> per page whose state travels in hidden inputs, login
// fields username and password, consent buttons name="decision" with values
// approve and deny.
//
// Every run is bounded by a count (-n, per operation) and a time (-duration,
// per operation), whichever comes first. It refuses any target that is not a
// loopback address (127.0.0.0/8, ::1, localhost), and checks the address it
// actually dials as well.
//
// Usage:
//
//	go run ./local/loadgen -issuer http://127.0.0.1:8080 -admin-token "$ADMIN_TOKEN" \
//	    -c 8 -n 2000 -duration 30s -op refresh,introspect,codeflow
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Getenv)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// Operations, in the order a run with -op all performs them.
const (
	opRefresh    = "refresh"
	opIntrospect = "introspect"
	opCodeFlow   = "codeflow"
)

var allOps = []string{opRefresh, opIntrospect, opCodeFlow}

// Bounds of the flags, so that no run is unbounded or floods the machine.
const (
	maxConcurrency = 256
	maxDuration    = 10 * time.Minute
)

// options are the parsed flags.
type options struct {
	issuer      string
	adminToken  string
	concurrency int
	count       int
	duration    time.Duration
	ops         []string
	timeout     time.Duration
	json        bool
}

// parseFlags reads the command line; defaults for -issuer and -admin-token
// come from ISSUER_URL and ADMIN_TOKEN.
func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var ops string
	issuer := getenv("ISSUER_URL")
	if issuer == "" {
		issuer = "http://127.0.0.1:8080"
	}
	fs.StringVar(&o.issuer, "issuer", issuer, "the provider's issuer URL (loopback only; default $ISSUER_URL or http://127.0.0.1:8080)")
	fs.StringVar(&o.adminToken, "admin-token", getenv("ADMIN_TOKEN"), "the local runner's admin token (default $ADMIN_TOKEN)")
	fs.IntVar(&o.concurrency, "c", 4, fmt.Sprintf("concurrent clients (1 to %d)", maxConcurrency))
	fs.IntVar(&o.count, "n", 1000, "operations per operation kind, at most")
	fs.DurationVar(&o.duration, "duration", 30*time.Second, fmt.Sprintf("time per operation kind, at most (up to %s)", maxDuration))
	fs.StringVar(&ops, "op", "all", "operations, comma-separated: refresh, introspect, codeflow, or all")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "timeout of one HTTP request")
	fs.BoolVar(&o.json, "json", false, "print the results as JSON instead of a table")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	o.issuer = strings.TrimSuffix(o.issuer, "/")
	if err := checkLoopbackURL(o.issuer); err != nil {
		return options{}, fmt.Errorf("-issuer: %w", err)
	}
	switch {
	case o.adminToken == "":
		return options{}, errors.New("-admin-token: required (or set ADMIN_TOKEN); `make run` prints it")
	case o.concurrency < 1 || o.concurrency > maxConcurrency:
		return options{}, fmt.Errorf("-c: %d is outside 1 to %d", o.concurrency, maxConcurrency)
	case o.count < 1:
		return options{}, fmt.Errorf("-n: %d is not positive", o.count)
	case o.duration <= 0 || o.duration > maxDuration:
		return options{}, fmt.Errorf("-duration: %s is outside (0, %s]", o.duration, maxDuration)
	case o.timeout <= 0:
		return options{}, fmt.Errorf("-timeout: %s is not positive", o.timeout)
	}
	var err error
	if o.ops, err = parseOps(ops); err != nil {
		return options{}, fmt.Errorf("-op: %w", err)
	}
	return o, nil
}

// parseOps reads the -op list.
func parseOps(s string) ([]string, error) {
	if strings.TrimSpace(s) == "all" {
		return allOps, nil
	}
	var ops []string
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		switch f {
		case opRefresh, opIntrospect, opCodeFlow:
		default:
			return nil, fmt.Errorf("unknown operation %q (want refresh, introspect, codeflow or all)", f)
		}
		if !seen[f] {
			seen[f] = true
			ops = append(ops, f)
		}
	}
	return ops, nil
}

// run parses args, prepares the fixtures, runs each operation in turn and
// writes the report to out. It fails when any request failed.
func run(ctx context.Context, args []string, out io.Writer, getenv func(string) string) error {
	o, err := parseFlags(args, getenv, out)
	if err != nil {
		return err
	}
	c := newClient(o.issuer, o.adminToken, o.concurrency, o.timeout)
	fx, err := c.setup(ctx)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	defer func() {
		// Cleanup runs even when ctx was cancelled (Ctrl-C), bounded.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := c.teardown(cctx, fx); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen: cleanup:", err)
		}
	}()

	var results []result
	for _, op := range o.ops {
		rs, err := runOp(ctx, c, fx, op, o)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		results = append(results, rs...)
	}
	if o.json {
		if err := writeJSON(out, o, results); err != nil {
			return err
		}
	} else {
		writeTable(out, o, results)
	}
	failed := 0
	for _, r := range results {
		if !strings.Contains(r.Op, "/") {
			failed += r.Errors
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d operations failed (see the report)", failed)
	}
	return ctx.Err()
}
