package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/applinks/applinks/tests/testkit/oauthflow"
)

// adminToken is the admin token of the runners these tests start.
const adminToken = "runner-test-admin-token-not-a-secret"

// runnerHelperEnv makes TestRunnerHelper run the local runner (run) in a
// child process of a test, until SIGTERM.
const runnerHelperEnv = "LOCAL_TEST_RUNNER"

// TestRunnerHelper is the local runner in a child process started by
// startRunner; in the test binary itself it does nothing.
func TestRunnerHelper(t *testing.T) {
	if os.Getenv(runnerHelperEnv) == "" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// runner is a local runner (`make run`) in a child process.
type runner struct {
	cmd    *exec.Cmd
	issuer string
	out    bytes.Buffer
	stopCh chan error // the exit, once
}

// startRunner starts the runner on the embedded emulator with its data in
// dataDir and waits until it answers.
func startRunner(t *testing.T, dataDir string) *runner {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := &runner{issuer: "http://" + addr}
	r.cmd = exec.Command(os.Args[0], "-test.run=^TestRunnerHelper$")
	for _, e := range os.Environ() {
		switch strings.SplitN(e, "=", 2)[0] {
		case "AWS_ENDPOINT_URL", "TABLE_NAME", "ISSUER_URL", "KUMO_DATA_DIR", "PPROF_ADDR":
			continue
		}
		r.cmd.Env = append(r.cmd.Env, e)
	}
	r.cmd.Env = append(r.cmd.Env, runnerHelperEnv+"=1", "LISTEN_ADDR="+addr, "ADMIN_TOKEN="+adminToken, "LOCAL_DATA_DIR="+dataDir)
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.out
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- r.cmd.Wait() }()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(r.issuer + "/.well-known/openid-configuration")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("the runner exited before it answered: %v\n%s", err, r.out.String())
		default:
		}
		if time.Now().After(deadline) {
			_ = r.cmd.Process.Kill()
			t.Fatalf("the runner did not answer within 2 minutes:\n%s", r.out.String())
		}
		time.Sleep(50 * time.Millisecond) // polling a condition
	}
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			_ = r.cmd.Process.Kill()
			<-exited
		}
	})
	r.stopCh = exited
	return r
}

// stop sends SIGTERM and waits for a clean exit.
func (r *runner) stop(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-r.stopCh; err != nil {
		t.Fatalf("the runner's exit: %v\n%s", err, r.out.String())
	}
}

func get(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return string(b)
}

// TestRunnerKeepsDataAcrossRestarts: a user, a link (and its secret), the
// signing keys and a grant made with one `make run` are there after it is
// stopped and started again on the same data directory: the refresh token
// of the first run refreshes in the second, and the JWKS is the same. The
// same refresh against a fresh directory fails, so the check proves
// something.
func TestRunnerKeepsDataAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	first := startRunner(t, dir)
	c := &oauthflow.Client{Issuer: first.issuer, AdminToken: adminToken, Name: "restart", RedirectURI: "http://127.0.0.1/cb"}
	fx, err := c.Setup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := c.CodeFlow(ctx, fx, nil)
	if err != nil {
		t.Fatal(err)
	}
	jwks := get(t, first.issuer+"/.well-known/jwks.json")
	first.stop(t)
	if !strings.Contains(first.out.String(), filepath.Join(dir, "store.jsonl")) {
		t.Errorf("the banner does not name the journal %s:\n%s", filepath.Join(dir, "store.jsonl"), first.out.String())
	}

	refresh := func(r *runner) error {
		c := &oauthflow.Client{Issuer: r.issuer}
		_, err := c.PostForm(ctx, r.issuer+"/oauth2/token", "token", url.Values{
			"grant_type": {"refresh_token"}, "refresh_token": {tokens.RefreshToken},
		}, fx.ClientID, fx.ClientSecret, oauthflow.ClientSecretBasic)
		return err
	}
	fresh := startRunner(t, t.TempDir())
	if err := refresh(fresh); err == nil {
		t.Fatal("a refresh against a fresh data directory succeeded")
	}
	fresh.stop(t)

	second := startRunner(t, dir)
	if err := refresh(second); err != nil {
		t.Errorf("refresh after the restart: %v", err)
	}
	if got := get(t, second.issuer+"/.well-known/jwks.json"); got != jwks {
		t.Errorf("JWKS after the restart:\n%s\nwant as before:\n%s", got, jwks)
	}
	second.stop(t)
}

// TestPlanKumoDataDir: what the runner does with kumo's own data directory.
func TestPlanKumoDataDir(t *testing.T) {
	data := "/d/data"
	journal := filepath.Join(data, "store.jsonl")
	for _, tc := range []struct {
		name  string
		env   map[string]string
		files []string
		want  kumoAction
	}{
		{"nothing", nil, nil, kumoNone},
		{"journal only", nil, []string{journal}, kumoNone},
		{"old default snapshot, no journal", nil, []string{filepath.Join(".local", "kumo", "dynamodb.json")}, kumoMigrateFirst},
		{"old default snapshot, journal", nil, []string{journal, filepath.Join(".local", "kumo", "dynamodb.json")}, kumoNone},
		{"old default snapshot, LOCAL_DATA_DIR set", map[string]string{"LOCAL_DATA_DIR": data}, []string{filepath.Join(".local", "kumo", "dynamodb.json")}, kumoNone},
		{"KUMO_DATA_DIR with a snapshot, no journal", map[string]string{"KUMO_DATA_DIR": "/k"}, []string{"/k/secretsmanager.json"}, kumoMigrate},
		{"KUMO_DATA_DIR with a snapshot, journal", map[string]string{"KUMO_DATA_DIR": "/k"}, []string{"/k/dynamodb.json", journal}, kumoIgnore},
		{"KUMO_DATA_DIR empty", map[string]string{"KUMO_DATA_DIR": "/k"}, nil, kumoIgnore},
	} {
		exists := func(p string) bool {
			for _, f := range tc.files {
				if f == p {
					return true
				}
			}
			return false
		}
		got := planKumoDataDir(func(k string) string { return tc.env[k] }, data, exists)
		if got.action != tc.want || (got.action == kumoIgnore || got.action == kumoMigrate) && strings.Contains(got.note, "\n") {
			t.Errorf("%s: got %v %q, want %v", tc.name, got.action, got.note, tc.want)
		}
	}
}

// TestListenPprof: PPROF_ADDR unset listens nowhere; a loopback address
// serves; anything else is one line naming the variable.
func TestListenPprof(t *testing.T) {
	if ln, err := listenPprof(""); ln != nil || err != nil {
		t.Errorf("PPROF_ADDR unset: %v, %v; want nothing", ln, err)
	}
	ln, err := listenPprof("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go servePprof(ln)
	if body := get(t, "http://"+ln.Addr().String()+"/debug/pprof/"); !strings.Contains(body, "goroutine") {
		t.Errorf("pprof index: %q", body)
	}
	ln.Close()
	for _, bad := range []string{"0.0.0.0:6060", ":6060", "10.0.0.1:6060", "127.0.0.1", "127.0.0.1:http"} {
		_, err := listenPprof(bad)
		if err == nil || !strings.HasPrefix(err.Error(), "PPROF_ADDR: ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("PPROF_ADDR=%s: %v, want one line naming PPROF_ADDR", bad, err)
		}
	}
}
