package embedded

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store"
)

var testConfig = config.Config{TableName: "applinks", SecretPrefix: "applinks"}

// helperEnv selects a step of TestPersistence in a child process.
const helperEnv = "EMBEDDED_TEST_STEP"

// TestMain runs a persistence step when the test binary is re-executed by
// TestPersistence (kumo reads KUMO_DATA_DIR only at process start).
func TestMain(m *testing.M) {
	if step := os.Getenv(helperEnv); step != "" {
		if err := runStep(step); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runStep(step string) error {
	ctx := context.Background()
	st, stop, err := Start(ctx, testConfig)
	if err != nil {
		return err
	}
	defer stop()
	now := time.Now()
	switch step {
	case "write":
		if err := st.CreateUser(ctx, store.User{Username: "alice", Permissions: []string{"REPO_READ"}, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		_, _, err := st.CreateLink(ctx, store.NewLink{ID: "id1", ClientID: "client1", Secret: "s3cret", Name: "App",
			RedirectURIs: []string{"https://app.example/cb"}, ClientType: store.Confidential, Enabled: true}, now)
		return err
	case "read":
		u, err := st.GetUser(ctx, "alice")
		if err != nil {
			return err
		}
		l, err := st.GetLink(ctx, "id1")
		if err != nil {
			return err
		}
		sec, err := st.GetLinkSecret(ctx, "id1")
		if err != nil {
			return err
		}
		if u.Permissions[0] != "REPO_READ" || !l.VerifySecret("s3cret", now) || sec.ClientSecret != "s3cret" {
			return fmt.Errorf("read back %+v %+v %+v", u, l, sec)
		}
		return nil
	}
	return fmt.Errorf("unknown step %q", step)
}

// TestPersistence writes a user and a link in one process and reads them
// back in another, through the same KUMO_DATA_DIR.
func TestPersistence(t *testing.T) {
	run := func(step, dir string) error {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"="+step, "KUMO_DATA_DIR="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("step %s: %v: %s", step, err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	// The read step fails on an empty directory: it proves something.
	if err := run("read", t.TempDir()); err == nil {
		t.Fatal("read step on an empty data directory succeeded, want not found")
	}
	dir := t.TempDir()
	for _, step := range []string{"write", "read"} {
		if err := run(step, dir); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStart checks the table exists and works, and that a second start on
// the same server process (a new kumo, same names) is not an error.
func TestStart(t *testing.T) {
	ctx := context.Background()
	st, stop, err := Start(ctx, testConfig)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer stop()
	if _, err := st.GetUser(ctx, "nobody"); !errors.Is(err, shared.ErrNotFound) {
		t.Errorf("GetUser on a fresh embedded store = %v, want ErrNotFound", err)
	}
	st2, stop2, err := Start(ctx, testConfig)
	if err != nil {
		t.Fatalf("second Start: %v", err)
	}
	defer stop2()
	if err := st2.CreateUser(ctx, store.User{Username: "bob"}); err != nil {
		t.Errorf("CreateUser on the second store: %v", err)
	}
}
