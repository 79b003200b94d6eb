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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/sivchari/kumo"

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
	if step == "write-old" {
		return writeOldLayout(ctx)
	}
	st, stop, err := Start(ctx, testConfig)
	if err != nil {
		return err
	}
	defer stop()
	now := time.Now()
	switch step {
	case "write":
		if err := st.CreateUser(ctx, store.User{ID: "uid-alice", Username: "alice", Permissions: []string{"REPO_READ"}, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		_, _, err := st.CreateLink(ctx, store.NewLink{ID: "id1", ClientID: "client1", Secret: "s3cret", Name: "App",
			RedirectURIs: []string{"https://app.example/cb"}, ClientType: store.Confidential, Enabled: true}, now)
		return err
	case "read":
		u, err := st.GetUserByName(ctx, "alice")
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

// writeOldLayout leaves what a `make run` of the first layout kept: the
// table with a user keyed by username, and no layout marker.
func writeOldLayout(ctx context.Context) error {
	srv := kumo.NewServer()
	defer func() { srv.Close(); time.Sleep(flushInterval() + 500*time.Millisecond) }()
	db := dynamodb.NewFromConfig(aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")},
		func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	if _, err := store.CreateTable(ctx, db, testConfig.TableName); err != nil {
		return err
	}
	_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(testConfig.TableName), Item: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "USER#alice"}, "sk": &types.AttributeValueMemberS{Value: "USER"},
		"username": &types.AttributeValueMemberS{Value: "alice"},
	}})
	return err
}

// TestOldLayout: data kept by the first layout is refused at start with one
// line that says what to do.
func TestOldLayout(t *testing.T) {
	dir := t.TempDir()
	for _, step := range []string{"write-old", "read"} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"="+step, "KUMO_DATA_DIR="+dir)
		out, err := cmd.CombinedOutput()
		switch {
		case step == "write-old" && err != nil:
			t.Fatalf("write-old: %v: %s", err, out)
		case step == "read" && (err == nil || !strings.Contains(string(out), "older version") ||
			!strings.Contains(string(out), "rm -rf .local/kumo") || strings.Count(strings.TrimSpace(string(out)), "\n") > 0):
			t.Errorf("start on old data: got %v: %q, want one line naming the older version and rm -rf .local/kumo", err, out)
		}
	}
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
	if _, err := st.GetUserByName(ctx, "nobody"); !errors.Is(err, shared.ErrNotFound) {
		t.Errorf("GetUser on a fresh embedded store = %v, want ErrNotFound", err)
	}
	st2, stop2, err := Start(ctx, testConfig)
	if err != nil {
		t.Fatalf("second Start: %v", err)
	}
	defer stop2()
	if err := st2.CreateUser(ctx, store.User{ID: "uid-bob", Username: "bob"}); err != nil {
		t.Errorf("CreateUser on the second store: %v", err)
	}
}
