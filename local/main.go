// Command local runs the provider on one port for a laptop with nothing but
// Go: the three functions' handlers (admin, authorize, token) on one
// http.ServeMux, backed by the real store code against an embedded,
// in-process AWS emulator (kumo) whose data is kept in a journal under
// LOCAL_DATA_DIR (default .local/data).
//
// With AWS_ENDPOINT_URL set it uses that endpoint instead (LocalStack,
// DynamoDB Local); with TABLE_NAME set and no endpoint, real AWS.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/applinks/applinks/functions/admin"
	"github.com/applinks/applinks/local/server"
	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/awsprofile"
	"github.com/applinks/applinks/shared/store/embedded"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 {
		if err := command(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "local:", err)
			os.Exit(2)
		}
		return
	}
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(1)
	}
}

// run starts the provider and serves until ctx is done.
func run(ctx context.Context, getenv func(string) string, out io.Writer) error {
	env := getenv
	// The issuer follows LISTEN_ADDR unless ISSUER_URL is set.
	if getenv("ISSUER_URL") == "" && getenv("LISTEN_ADDR") != "" {
		issuer, err := issuerFor(getenv("LISTEN_ADDR"))
		if err != nil {
			return err
		}
		env = overlay(getenv, map[string]string{"ISSUER_URL": issuer})
	}
	cfg, err := config.FromEnv(env)
	if err != nil {
		return err
	}
	mode := backendMode(getenv)
	var dataDir string
	if mode == modeEmbedded {
		if dataDir, err = localDataDir(getenv); err != nil {
			return err
		}
		switch plan := planKumoDataDir(getenv, dataDir, fileExists); plan.action {
		case kumoIgnore:
			fmt.Fprintln(os.Stderr, "local:", plan.note)
			return reexec("")
		case kumoMigrateFirst:
			return reexec(plan.kumoDir)
		case kumoMigrate:
			if err := migrate(ctx, cfg, dataDir); err != nil {
				return err
			}
			fmt.Fprintln(os.Stderr, "local:", plan.note)
			return reexec("")
		}
	}
	adminToken := cfg.AdminToken
	if adminToken == "" {
		if adminToken, err = shared.NewToken(rand.Reader); err != nil {
			return fmt.Errorf("generate admin token: %w", err)
		}
		cfg.AdminToken = adminToken
	}

	pprofLn, err := listenPprof(getenv("PPROF_ADDR"))
	if err != nil {
		return err
	}
	if pprofLn != nil {
		defer pprofLn.Close()
		fmt.Fprintf(out, "pprof at http://%s/debug/pprof/ (PPROF_ADDR)\n", pprofLn.Addr())
		go servePprof(pprofLn)
	}

	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	slog.SetDefault(logger)
	st, closeStore, err := openStore(ctx, cfg, mode, dataDir)
	if err != nil {
		return err
	}
	defer closeStore()
	h, err := server.New(ctx, cfg, st, logger)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("LISTEN_ADDR: %w", err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	printBanner(out, cfg, storageOf(mode, dataDir), getenv("ADMIN_TOKEN") == "")
	go cleanDaily(ctx, st, cfg, logger)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// cleanDaily runs the idle-link clean-up at start and then every 24 hours
// until ctx is done: what the daily schedule does in AWS.
func cleanDaily(ctx context.Context, st *store.Store, cfg config.Config, logger *slog.Logger) {
	tick := time.NewTicker(24 * time.Hour)
	defer tick.Stop()
	for {
		// A failure is logged by CleanIdleLinks; the next day retries.
		_, _ = admin.CleanIdleLinks(ctx, st, cfg, time.Now(), logger)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// command runs a one-off command of the local runner:
//
//	go run ./local cleanup   the idle-link clean-up, once
//
// It opens the store as the runner would, except the embedded emulator,
// whose data a running `make run` holds in memory (and which runs the
// clean-up itself, daily).
func command(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	if len(args) != 1 || args[0] != "cleanup" {
		return fmt.Errorf("unknown command %q; the one command is: go run ./local cleanup", strings.Join(args, " "))
	}
	mode := backendMode(getenv)
	if mode == modeEmbedded {
		return errors.New("cleanup needs AWS_ENDPOINT_URL or TABLE_NAME: `make run` cleans the embedded emulator's links itself, daily")
	}
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	st, closeStore, err := openStore(ctx, cfg, mode, "")
	if err != nil {
		return err
	}
	defer closeStore()
	rep, err := admin.CleanIdleLinks(ctx, st, cfg, time.Now(), logger)
	fmt.Fprintf(out, "idle dynamic links: %d checked, %d deleted, %d failed\n", rep.Checked, rep.Deleted, rep.Failed)
	return err
}

// issuerFor derives the issuer from LISTEN_ADDR (host:port): the address
// itself, or http://127.0.0.1:port when it names every interface (0.0.0.0,
// ::, or no host), which is what a browser on this machine reaches.
func issuerFor(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("LISTEN_ADDR: %q is not host:port", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("LISTEN_ADDR: %q needs a port from 1 to 65535", addr)
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "127.0.0.1"
	}
	if !shared.IsLoopbackHost(host) {
		return "", fmt.Errorf("LISTEN_ADDR: %q is not a loopback address; set ISSUER_URL to the https URL clients use", addr)
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// overlay returns a getenv that answers from m first.
func overlay(getenv func(string) string, m map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := m[k]; ok {
			return v
		}
		return getenv(k)
	}
}

type backend int

const (
	modeEmbedded backend = iota // kumo in-process
	modeEndpoint                // AWS_ENDPOINT_URL (LocalStack, DynamoDB Local)
	modeAWS                     // real AWS: TABLE_NAME set, no endpoint
)

func (b backend) String() string {
	switch b {
	case modeEndpoint:
		return "AWS_ENDPOINT_URL"
	case modeAWS:
		return "AWS"
	}
	return "embedded emulator"
}

func backendMode(getenv func(string) string) backend {
	switch {
	case getenv("AWS_ENDPOINT_URL") != "":
		return modeEndpoint
	case getenv("TABLE_NAME") != "":
		return modeAWS
	}
	return modeEmbedded
}

// storageOf describes the backend for the banner, with where the embedded
// emulator's data is kept.
func storageOf(mode backend, dataDir string) string {
	if mode == modeEmbedded {
		return mode.String() + ", data in " + filepath.Join(dataDir, embedded.JournalFile)
	}
	return mode.String()
}

func printBanner(out io.Writer, cfg config.Config, storage string, generated bool) {
	tokenNote := ""
	if generated {
		tokenNote = " (generated for this run; set ADMIN_TOKEN to keep one)"
	}
	cb := cfg.Issuer + server.CallbackPath
	// Under ADMIN_MFA=required the administrator of step 0 also needs a
	// passkey, set up through a one-time enrollment link.
	mfa, enroll := "password, then a passkey for administrators who have one", ""
	if cfg.AdminMFA == config.AdminMFARequired {
		mfa = "password, then a passkey: ADMIN_MFA=required"
		enroll = `
  #    ADMIN_MFA=required: the administrator also needs a passkey; this prints a
  #    one-time link (15 minutes) to open in the browser, where the password and
  #    then the passkey set it up
  curl -s -X POST "$ISSUER/admin/users/admin/admin/passkey-enrollment" -H "Authorization: Bearer $ADMIN_TOKEN"
`
	}
	fmt.Fprintf(out, `
Incoming application links: OAuth 2.0 and OpenID Connect provider
  issuer       %s
  storage      %s
  admin token  %s%s
  console      %s/console/ (sign-in: %s)
  discovery    %s/.well-known/openid-configuration

Try it (copy and paste into another shell; README.md "Quick start" shows each answer):

  export ISSUER=%s ADMIN_TOKEN=%s

  # 0. an administrator: a user with a generated password (keep it: common
  #    passwords are refused), then the administrator flag (set only by PUT
  #    .../admin); open $ISSUER/console/ and sign in as admin to create links,
  #    view their credentials and manage users in the browser
  ADMIN_PASSWORD=$(openssl rand -base64 18); echo "admin's password: $ADMIN_PASSWORD"
  curl -s -X POST "$ISSUER/admin/users" -H "Authorization: Bearer $ADMIN_TOKEN" \
    -H 'Content-Type: application/json' \
    -d '{"username":"admin","password":"'"$ADMIN_PASSWORD"'"}'
  curl -s -X PUT "$ISSUER/admin/users/admin/admin" -H "Authorization: Bearer $ADMIN_TOKEN" \
    -H 'Content-Type: application/json' -d '{"admin":true}'
%s
  # 1. a user who can sign in, with a generated password
  ALICE_PASSWORD=$(openssl rand -base64 18); echo "alice's password: $ALICE_PASSWORD"
  curl -s -X POST "$ISSUER/admin/users" -H "Authorization: Bearer $ADMIN_TOKEN" \
    -H 'Content-Type: application/json' \
    -d '{"username":"alice","password":"'"$ALICE_PASSWORD"'","permissions":["REPO_WRITE"]}'

  # 2. an application link; its id names it in admin paths, client_id is for OAuth
  LINK=$(curl -s -X POST "$ISSUER/admin/links" -H "Authorization: Bearer $ADMIN_TOKEN" \
    -H 'Content-Type: application/json' \
    -d '{"name":"Demo app","redirect_uris":["%s"],"scopes":["REPO_ADMIN"],"client_type":"confidential"}')
  echo "$LINK"
  field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
  export LINK_ID=$(echo "$LINK" | field id) CLIENT_ID=$(echo "$LINK" | field client_id) CLIENT_SECRET=$(echo "$LINK" | field client_secret)

  # 3. open this in a browser, sign in as alice (with $ALICE_PASSWORD), allow access
  echo "$ISSUER/oauth2/authorize?response_type=code&client_id=$CLIENT_ID&scope=REPO_READ&state=demo"

  # 4. the callback page shows the code: exchange it within %d seconds, once
  #    (a second exchange of the same code revokes the tokens of the first)
  curl -s -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=authorization_code -d code=<code> "$ISSUER/oauth2/token"

`, cfg.Issuer, storage, cfg.AdminToken, tokenNote, cfg.Issuer, mfa, cfg.Issuer, cfg.Issuer, cfg.AdminToken, enroll, cb, int(cfg.AuthCodeTTL.Seconds()))
}

// openStore opens the store for the chosen backend; the returned func
// releases what it started.
func openStore(ctx context.Context, cfg config.Config, mode backend, dataDir string) (*store.Store, func(), error) {
	switch mode {
	case modeEmbedded:
		return embedded.Start(ctx, cfg, embedded.Options{DataDir: dataDir})
	case modeAWS:
		// The SDK's default chain (profiles, SSO), which the Lambda
		// binaries leave out.
		st, err := awsprofile.Open(ctx, cfg)
		if err != nil {
			return nil, nil, err
		}
		return st, func() {}, nil
	default:
		st, err := store.Open(ctx, cfg)
		if err != nil {
			return nil, nil, err
		}
		// DynamoDB Local or LocalStack without the CDK stack: create the
		// table on first start.
		if _, err := st.EnsureTable(ctx); err != nil {
			return nil, nil, fmt.Errorf("AWS_ENDPOINT_URL: %w", err)
		}
		return st, func() {}, nil
	}
}
