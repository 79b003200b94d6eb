package storetest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

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

// TestEngines checks that every engine hands out working, separate stores.
func TestEngines(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *store.Store{"dynamolocal": DynamoLocal, "moto": Moto, "kumo": Kumo} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			a, b := open(t), open(t)
			if a.TableName() == b.TableName() {
				t.Fatalf("two stores share table %q", a.TableName())
			}
			u := store.User{ID: "uid-alice", Username: "alice", CreatedAt: time.Now(), UpdatedAt: time.Now()}
			if err := a.CreateUser(ctx, u); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			if _, err := a.GetUser(ctx, "uid-alice"); err != nil {
				t.Errorf("GetUser on the same store: %v", err)
			}
			if _, err := b.GetUser(ctx, "uid-alice"); !errors.Is(err, shared.ErrNotFound) {
				t.Errorf("GetUser on another store: got %v, want ErrNotFound", err)
			}
		})
	}
}

func TestFindMotoMissing(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/go.mod", []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	_, err := findMoto(dir)
	if err == nil || !strings.Contains(err.Error(), "make tools") {
		t.Errorf("findMoto(no moto) = %v, want an error naming make tools", err)
	}
}

func TestFindMotoInLocal(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/go.mod", []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, motoLocal)
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir())
	sub := filepath.Join(dir, "shared", "store")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := findMoto(sub); err != nil || got != bin {
		t.Errorf("findMoto(%s) = %q, %v, want %q", sub, got, err, bin)
	}
}

// TestRegions: a backend in another region has its table there, and moto
// keeps regions apart (as AWS and LocalStack do).
func TestRegions(t *testing.T) {
	b := MotoBackend(t)
	eu := b.InRegion(t, "eu-west-1")
	if eu.Region != "eu-west-1" || b.Region == eu.Region {
		t.Fatalf("regions %q and %q, want the default and eu-west-1", b.Region, eu.Region)
	}
	ctx := context.Background()
	if _, err := eu.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(eu.Options.TableName)}); err != nil {
		t.Errorf("DescribeTable in eu-west-1: %v", err)
	}
	if _, err := b.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(eu.Options.TableName)}); err == nil {
		t.Errorf("eu-west-1's table %s found from %s, want moto to keep regions apart", eu.Options.TableName, b.Region)
	}
}

// TestCheckLeftovers: a table or a secret that no test deleted is
// reported, and nothing is once they are gone.
func TestCheckLeftovers(t *testing.T) {
	old := leftoverWait
	leftoverWait = 0
	t.Cleanup(func() { leftoverWait = old })
	ep := MotoEndpoint(t)
	used.add(place{ep, ep, region()})
	db, sm := Clients(ep, ep)
	ctx := context.Background()
	name := runPrefix + "leak"
	if _, err := store.CreateTable(ctx, db, name); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name + "/x"), SecretString: aws.String("not a secret")}); err != nil {
		t.Fatal(err)
	}
	err := checkLeftovers()
	if err == nil || !strings.Contains(err.Error(), "table "+name) || !strings.Contains(err.Error(), "secret "+name+"/x") {
		t.Errorf("checkLeftovers with a table and a secret left = %v, want both named", err)
	}
	if err := deleteTable(ctx, db, name); err != nil {
		t.Fatal(err)
	}
	if err := deleteSecrets(ctx, sm, name+"/"); err != nil {
		t.Fatal(err)
	}
	if err := checkLeftovers(); err != nil {
		t.Errorf("checkLeftovers after deleting them = %v, want nil", err)
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

// TestEnginesAreChildren checks that each engine runs in its own process
// group with a parent-death signal, so it cannot outlive the tests.
func TestEnginesAreChildren(t *testing.T) {
	if os.Getenv("AWS_ENDPOINT_URL") != "" {
		t.Log("AWS_ENDPOINT_URL set: no engine is started")
		return
	}
	DynamoLocal(t)
	Moto(t)
	for _, l := range []*lazyEngine{dynamoLocalEngine, motoEngine} {
		e := l.running()
		if e == nil {
			t.Fatalf("%s not running", l.name)
		}
		attr := e.cmd.SysProcAttr
		if attr == nil || !attr.Setpgid || attr.Pdeathsig == 0 {
			t.Fatalf("%s: SysProcAttr = %+v, want Setpgid and Pdeathsig", l.name, attr)
		}
		out, err := exec.Command("ps", "-o", "ppid=", "-p", strconv.Itoa(e.cmd.Process.Pid)).Output()
		if err != nil {
			t.Fatalf("ps: %v", err)
		}
		if got := strings.TrimSpace(string(out)); got != strconv.Itoa(os.Getpid()) {
			t.Errorf("%s's parent = %s, want the test binary %d", l.name, got, os.Getpid())
		}
	}
}

// TestLeadingKeys: the write-policy wrapper refuses a write outside its
// prefixes, also inside a transaction, and lets the others and reads pass.
func TestLeadingKeys(t *testing.T) {
	ctx := context.Background()
	raw := Kumo(t)
	st := raw.WithDynamoDB(func(db store.DynamoDB) store.DynamoDB { return LeadingKeys(db, []string{"SESSION#"}) })
	now := time.Now()
	if err := st.CreateUser(ctx, store.User{ID: "uid-x", Username: "x", CreatedAt: now, UpdatedAt: now}); err == nil ||
		!strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("CreateUser (a transaction writing USER# and USERNAME#) = %v, want AccessDenied", err)
	}
	if _, err := raw.GetUserByName(ctx, "x"); !errors.Is(err, shared.ErrNotFound) {
		t.Errorf("after the refused CreateUser: GetUserByName = %v, want ErrNotFound (nothing written)", err)
	}
	if err := st.CreateSession(ctx, store.Session{ID: "s", UserID: "uid-x", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Errorf("CreateSession (SESSION#) = %v, want allowed", err)
	}
	if _, err := st.GetSession(ctx, "s", now); err != nil {
		t.Errorf("GetSession through the wrapper = %v, want the session", err)
	}
	if err := st.RevokeAccessToken(ctx, "jti", now.Add(time.Hour)); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("RevokeAccessToken (JTI#) = %v, want AccessDenied", err)
	}
}
