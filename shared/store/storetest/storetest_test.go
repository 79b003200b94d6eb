package storetest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestFindJarDirMissing(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/go.mod", []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := findJarDir(dir)
	if err == nil || !strings.Contains(err.Error(), "make tools") {
		t.Errorf("findJarDir(empty module) = %v, want an error naming make tools", err)
	}
}

func TestFindJarDirWalksUp(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	got, err := findJarDir(wd)
	if err != nil {
		t.Fatalf("findJarDir(%s): %v", wd, err)
	}
	if !strings.Contains(got, "dynamodb_local_") {
		t.Errorf("findJarDir = %q, want a dynamodb_local_* directory", got)
	}
}

// TestEngines checks that both engines hand out working, separate stores.
func TestEngines(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *store.Store{"dynamolocal": DynamoLocal, "kumo": Kumo} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			a, b := open(t), open(t)
			if a.TableName() == b.TableName() {
				t.Fatalf("two stores share table %q", a.TableName())
			}
			u := store.User{Username: "alice", CreatedAt: time.Now(), UpdatedAt: time.Now()}
			if err := a.CreateUser(ctx, u); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			if _, err := a.GetUser(ctx, "alice"); err != nil {
				t.Errorf("GetUser on the same store: %v", err)
			}
			if _, err := b.GetUser(ctx, "alice"); !errors.Is(err, shared.ErrNotFound) {
				t.Errorf("GetUser on another store: got %v, want ErrNotFound", err)
			}
		})
	}
}

// TestDynamoLocalEnv checks the endpoints given to a separate process.
func TestDynamoLocalEnv(t *testing.T) {
	env := DynamoLocalEnv(t)
	if env.TableName == "" || env.SecretPrefix == "" || !strings.HasPrefix(env.DynamoDBEndpoint, "http://") ||
		!strings.HasPrefix(env.SecretsManagerEndpoint, "http://") {
		t.Fatalf("DynamoLocalEnv = %+v, want endpoints and names", env)
	}
	if os.Getenv("AWS_ENDPOINT_URL") == "" && env.DynamoDBEndpoint == env.SecretsManagerEndpoint {
		t.Errorf("DynamoDB and Secrets Manager endpoints are both %s, want DynamoDB Local and kumo", env.DynamoDBEndpoint)
	}
	joined := strings.Join(env.Environ(), "\n")
	for _, want := range []string{"AWS_ENDPOINT_URL_DYNAMODB=" + env.DynamoDBEndpoint, "TABLE_NAME=" + env.TableName} {
		if !strings.Contains(joined, want) {
			t.Errorf("Environ() lacks %q", want)
		}
	}
}

// TestJavaIsChildOfTestBinary checks the engine runs in its own process
// group with a parent-death signal, so it cannot outlive the tests.
func TestJavaIsChildOfTestBinary(t *testing.T) {
	if os.Getenv("AWS_ENDPOINT_URL") != "" {
		t.Log("AWS_ENDPOINT_URL set: no engine is started")
		return
	}
	DynamoLocal(t)
	dlMu.Lock()
	cmd := dlEngine.cmd
	dlMu.Unlock()
	attr := cmd.SysProcAttr
	if attr == nil || !attr.Setpgid || attr.Pdeathsig == 0 {
		t.Fatalf("SysProcAttr = %+v, want Setpgid and Pdeathsig", attr)
	}
	out, err := exec.Command("ps", "-o", "ppid=", "-p", strconv.Itoa(cmd.Process.Pid)).Output()
	if err != nil {
		t.Fatalf("ps: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != strconv.Itoa(os.Getpid()) {
		t.Errorf("java's parent = %s, want the test binary %d", got, os.Getpid())
	}
}
