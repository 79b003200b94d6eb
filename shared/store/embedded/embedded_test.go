package embedded

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
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

// Environment of a step run in a child process: the step, and the data
// directory it passes to Start.
const (
	helperEnv  = "EMBEDDED_TEST_STEP"
	dataDirEnv = "EMBEDDED_TEST_DATA_DIR"
)

// TestMain runs a step when the test binary is re-executed by a test: each
// step is a process of its own, as a `make run` is, since kumo's data lives
// in a process-wide registry (and kumo reads KUMO_DATA_DIR in its package
// init).
func TestMain(m *testing.M) {
	if step := os.Getenv(helperEnv); step != "" {
		if err := runStep(step, os.Getenv(dataDirEnv)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The data the steps write and read back: a user, a link (its secret is a
// secret), the signing keys (a secret) and a grant.
const (
	signingDoc = `{"keys":"step"}`
	linkSecret = "s3cret"
)

func runStep(step, dataDir string) error {
	ctx := context.Background()
	switch step {
	case "write-old":
		return writeOldLayout(ctx)
	case "write-kumo":
		// What a `make run` before the journal kept: kumo's own snapshot.
		st, stop, err := Start(ctx, testConfig, Options{})
		if err != nil {
			return err
		}
		defer stop()
		if err := writeData(ctx, st); err != nil {
			return err
		}
		return waitForSnapshot(os.Getenv("KUMO_DATA_DIR"), "GRANT", "signing-keys")
	}
	st, stop, k, err := start(ctx, testConfig, Options{DataDir: dataDir})
	if err != nil {
		return err
	}
	defer stop()
	switch step {
	case "write":
		return writeData(ctx, st)
	case "read":
		return readData(ctx, st)
	case "start":
		return nil
	case "dump":
		return dump(ctx, k, os.Stdout)
	}
	return fmt.Errorf("unknown step %q", step)
}

func writeData(ctx context.Context, st *store.Store) error {
	now := time.Now()
	if err := st.CreateUser(ctx, store.User{ID: "uid-alice", Username: "alice", Permissions: []string{"REPO_READ"}, CreatedAt: now, UpdatedAt: now}); err != nil {
		return err
	}
	if _, _, err := st.CreateLink(ctx, store.NewLink{ID: "id1", ClientID: "client1", Secret: linkSecret, Name: "App",
		RedirectURIs: []string{"https://app.example/cb"}, ClientType: store.Confidential, Enabled: true}, now); err != nil {
		return err
	}
	if err := st.CreateSigningKeys(ctx, []byte(signingDoc)); err != nil {
		return err
	}
	_, err := st.ApproveGrant(ctx, store.Grant{ID: "g1", UserID: "uid-alice", Username: "alice", ClientID: "client1",
		Scope: []string{"REPO_READ"}}, nil, now)
	return err
}

func readData(ctx context.Context, st *store.Store) error {
	now := time.Now()
	u, err := st.GetUserByName(ctx, "alice")
	if err != nil {
		return fmt.Errorf("user: %w", err)
	}
	l, err := st.GetLink(ctx, "id1")
	if err != nil {
		return fmt.Errorf("link: %w", err)
	}
	sec, err := st.GetLinkSecret(ctx, "id1")
	if err != nil {
		return fmt.Errorf("link secret: %w", err)
	}
	keys, err := st.GetSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	g, err := st.GetGrant(ctx, "uid-alice", "client1")
	if err != nil {
		return fmt.Errorf("grant: %w", err)
	}
	if u.Permissions[0] != "REPO_READ" || !l.VerifySecret(linkSecret, now) || sec.ClientSecret != linkSecret ||
		string(keys) != signingDoc || !g.Active("g1") || !slices.Equal(g.Scope, []string{"REPO_READ"}) {
		return fmt.Errorf("read back %+v %+v %+v %s %+v", u, l, sec, keys, g)
	}
	return nil
}

// dump writes what kumo holds, in a canonical order: every item of the
// table and every secret's value.
func dump(ctx context.Context, k kumoClient, w io.Writer) error {
	var out struct{ Items []json.RawMessage }
	if err := k.mustOK(ctx, dynamoPrefix+"Scan", map[string]any{"TableName": testConfig.TableName}, &out); err != nil {
		return err
	}
	var lines []string
	for _, it := range out.Items {
		var v any // re-encoded: map keys sorted
		if err := json.Unmarshal(it, &v); err != nil {
			return err
		}
		b, _ := json.Marshal(v)
		lines = append(lines, string(b))
	}
	var list struct{ SecretList []struct{ Name string } }
	if err := k.mustOK(ctx, secretsPrefix+"ListSecrets", map[string]any{}, &list); err != nil {
		return err
	}
	for _, s := range list.SecretList {
		var v struct{ Name, SecretString string }
		if err := k.mustOK(ctx, secretsPrefix+"GetSecretValue", map[string]string{"SecretId": s.Name}, &v); err != nil {
			return err
		}
		lines = append(lines, "secret "+v.Name+" "+v.SecretString)
	}
	sort.Strings(lines)
	_, err := fmt.Fprintln(w, strings.Join(lines, "\n"))
	return err
}

// waitForSnapshot waits until kumo's snapshots under dir hold every word
// (kumo writes them in the background about once a second).
func waitForSnapshot(dir string, words ...string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		var all []byte
		for _, f := range []string{"dynamodb.json", "secretsmanager.json"} {
			b, _ := os.ReadFile(filepath.Join(dir, f))
			all = append(all, b...)
		}
		missing := ""
		for _, w := range words {
			if !bytes.Contains(all, []byte(w)) {
				missing = w
			}
		}
		if missing == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kumo's snapshot under %s lacks %q after 30s", dir, missing)
		}
		time.Sleep(50 * time.Millisecond) // polling a condition, not a fixed wait
	}
}

// writeOldLayout leaves what a `make run` of the first layout kept: kumo's
// snapshot of the table with a user keyed by username, and no layout
// marker.
func writeOldLayout(ctx context.Context) error {
	srv := kumo.NewServer()
	defer srv.Close()
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
	if err != nil {
		return err
	}
	return waitForSnapshot(os.Getenv("KUMO_DATA_DIR"), "USER#alice")
}

// step runs a step in a child process with the data directory dir and
// KUMO_DATA_DIR kumoDir (unset when ""), and returns its stdout and
// stderr.
func step(t *testing.T, name, dir, kumoDir string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	env := []string{helperEnv + "=" + name, dataDirEnv + "=" + dir}
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "KUMO_DATA_DIR=") {
			env = append(env, e)
		}
	}
	if kumoDir != "" {
		env = append(env, "KUMO_DATA_DIR="+kumoDir)
	}
	cmd.Env = env
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if err != nil {
		err = fmt.Errorf("step %s: %v: %s", name, err, strings.TrimSpace(e.String()))
	}
	return o.String(), e.String(), err
}

func mustStep(t *testing.T, name, dir, kumoDir string) (stdout, stderr string) {
	t.Helper()
	o, e, err := step(t, name, dir, kumoDir)
	if err != nil {
		t.Fatal(err)
	}
	return o, e
}

// targets are the records' targets in the journal of dir.
func targets(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for line := range strings.Lines(string(b)) {
		var r record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("journal line %q: %v", line, err)
		}
		out = append(out, r.Target)
	}
	return out
}

// TestPersistence writes a user, a link with its secret, the signing keys
// and a grant in one process and reads them back in another, through the
// same data directory; a third process reads them from the compacted
// journal. A read from an empty directory fails, so the read proves
// something.
func TestPersistence(t *testing.T) {
	if _, _, err := step(t, "read", t.TempDir(), ""); err == nil {
		t.Fatal("read step on an empty data directory succeeded, want not found")
	}
	dir := t.TempDir()
	mustStep(t, "write", dir, "")
	written := targets(t, dir)
	if !slices.Contains(written, dynamoPrefix+"TransactWriteItems") || !slices.Contains(written, secretsPrefix+"CreateSecret") {
		t.Fatalf("journal after the writes holds %v, want the writes (TransactWriteItems, CreateSecret...)", written)
	}
	mustStep(t, "read", dir, "")
	mustStep(t, "read", dir, "")
}

// TestCompactionKeepsData: the state after replaying the journal of the
// writes themselves equals the state after replaying its compaction (one
// PutItem per item, one CreateSecret per secret), item for item.
func TestCompactionKeepsData(t *testing.T) {
	dir := t.TempDir()
	mustStep(t, "write", dir, "")
	if slices.ContainsFunc(targets(t, dir), func(s string) bool { return strings.HasSuffix(s, "TransactWriteItems") }) == false {
		t.Fatal("the journal of the writes has no TransactWriteItems: nothing to compact")
	}
	before, _ := mustStep(t, "dump", dir, "")
	for _, tg := range targets(t, dir) {
		if tg != dynamoPrefix+"PutItem" && tg != secretsPrefix+"CreateSecret" {
			t.Fatalf("compacted journal holds %s, want only PutItem and CreateSecret", tg)
		}
	}
	after, _ := mustStep(t, "dump", dir, "")
	if before != after || !strings.Contains(before, "secret applinks/signing-keys") || !strings.Contains(before, "GRANT") {
		t.Errorf("data after compaction:\n%s\nwant as before:\n%s", after, before)
	}
}

// TestTornLastLine: a journal whose last line was cut short by a crash
// starts with that line skipped and one log line saying so; the data
// before it is back. A line in the middle that is not a record stops
// start-up instead.
func TestTornLastLine(t *testing.T) {
	dir := t.TempDir()
	mustStep(t, "write", dir, "")
	path := filepath.Join(dir, JournalFile)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"target":"DynamoDB_20120810.PutItem","body":{"TableName":"appl`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, stderr := mustStep(t, "read", dir, "")
	if n := strings.Count(stderr, "incomplete"); n != 1 {
		t.Errorf("start with a torn last line logged %d lines about it, want 1:\n%s", n, stderr)
	}
	b, _ := os.ReadFile(path)
	if bytes.Contains(b, []byte(`"appl`+"\n")) || !bytes.HasSuffix(b, []byte("\n")) {
		t.Errorf("compaction kept the torn line")
	}

	// A broken line in the middle.
	bad := bytes.Replace(b, []byte("\n"), []byte("\n{not json\n"), 1)
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := step(t, "start", dir, ""); err == nil || !strings.Contains(err.Error(), "line 2 is not a journal record") {
		t.Errorf("start on a journal broken in the middle: %v, want an error naming line 2", err)
	}
}

// TestMigrateKumoSnapshot: data kept by kumo's own snapshots (KUMO_DATA_DIR,
// what `make run` used before the journal) is copied into a journal that
// does not exist yet, and is then read without KUMO_DATA_DIR.
func TestMigrateKumoSnapshot(t *testing.T) {
	kumoDir, dir := t.TempDir(), t.TempDir()
	mustStep(t, "write-kumo", "", kumoDir)
	_, stderr := mustStep(t, "start", dir, kumoDir)
	if !strings.Contains(stderr, "copied the data kumo kept under KUMO_DATA_DIR") {
		t.Errorf("migration logged %q, want a line saying what it copied", stderr)
	}
	mustStep(t, "read", dir, "")
}

// TestOldLayout: data kept by the first layout is refused at start with one
// line that says what to do.
func TestOldLayout(t *testing.T) {
	kumoDir := t.TempDir()
	mustStep(t, "write-old", "", kumoDir)
	_, _, err := step(t, "read", t.TempDir(), kumoDir)
	if err == nil || !strings.Contains(err.Error(), "older version") || !strings.Contains(err.Error(), "rm -rf .local/data .local/kumo") ||
		strings.Contains(strings.TrimSpace(err.Error()), "\n") {
		t.Errorf("start on old data: got %v, want one line naming the older version and rm -rf .local/data .local/kumo", err)
	}
}

// blockingWriter blocks every Write until release is closed, and says when
// the first one started.
type blockingWriter struct {
	w       io.Writer
	entered chan struct{}
	once    sync.Once
	release chan struct{}
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	b.once.Do(func() { close(b.entered) })
	<-b.release
	return b.w.Write(p)
}

// TestWritesDoNotWaitForTheJournal: with the journal's writer stuck in a
// write to its file, the store's writes still complete; released, the
// journal holds them all.
func TestWritesDoNotWaitForTheJournal(t *testing.T) {
	bw := &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
	testWrapWriter = func(w io.Writer) io.Writer { bw.w = w; return bw }
	defer func() { testWrapWriter = nil }()
	// A guard against a hang, never reached when the writes do not wait.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	st, stop, err := Start(ctx, testConfig, Options{DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			close(bw.release)
			stop()
		}
	}()
	now := time.Now()
	// kumo's tables live in the process, not in the server: names of their
	// own keep a second run (-count) from meeting the first's records.
	run := strconv.FormatInt(now.UnixNano(), 36)
	wait := func(what string, done <-chan error) {
		t.Helper()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-ctx.Done():
			t.Fatalf("%s waited for the blocked journal", what)
		}
	}
	first := make(chan error, 1)
	go func() {
		first <- st.CreateUser(ctx, store.User{ID: "uid-blocked-1" + run, Username: "blocked1" + run, CreatedAt: now, UpdatedAt: now})
	}()
	wait("the first write", first)
	select {
	case <-bw.entered:
	case <-ctx.Done():
		t.Fatal("the journal's writer never wrote the first record")
	}
	// The writer is now stuck in its Write: these must not wait for it.
	done := make(chan error, 1)
	go func() {
		for i := 2; i <= 20; i++ {
			id := fmt.Sprintf("blocked%d%s", i, run)
			if err := st.CreateUser(ctx, store.User{ID: "uid-" + id, Username: id, CreatedAt: now, UpdatedAt: now}); err != nil {
				done <- err
				return
			}
		}
		_, _, err := st.CreateLink(ctx, store.NewLink{ID: "blocked-link" + run, ClientID: "blocked-client" + run, Secret: linkSecret, Name: "Blocked",
			RedirectURIs: []string{"https://app.example/cb"}, ClientType: store.Confidential, Enabled: true}, now)
		done <- err
	}()
	wait("the later writes", done)
	close(bw.release)
	stop()
	stopped = true
	b, err := os.ReadFile(filepath.Join(dir, JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"USER#uid-blocked-1" + run, "uid-blocked20" + run, "blocked-client" + run} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("journal lacks %s after the writer was released", want)
		}
	}
}

// TestStart checks the table exists and works, and that a second start on
// the same server process (a new kumo, same names) is not an error.
func TestStart(t *testing.T) {
	ctx := context.Background()
	st, stop, err := Start(ctx, testConfig, Options{})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer stop()
	if _, err := st.GetUserByName(ctx, "nobody"); !errors.Is(err, shared.ErrNotFound) {
		t.Errorf("GetUser on a fresh embedded store = %v, want ErrNotFound", err)
	}
	st2, stop2, err := Start(ctx, testConfig, Options{})
	if err != nil {
		t.Fatalf("second Start: %v", err)
	}
	defer stop2()
	// kumo's tables live in the process, not in the server: a name of its
	// own keeps a second run (-count) from meeting the first's user.
	bob := "bob" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := st2.CreateUser(ctx, store.User{ID: "uid-" + bob, Username: bob}); err != nil {
		t.Errorf("CreateUser on the second store: %v", err)
	}
}

// TestWriteKeys: the keys a write locks, so that two writes to one item
// are journaled in the order kumo applied them.
func TestWriteKeys(t *testing.T) {
	for _, tc := range []struct {
		target, body string
		want         []string
		ok           bool
	}{
		{dynamoPrefix + "PutItem", `{"TableName":"t","Item":{"pk":{"S":"A"},"sk":{"S":"B"},"x":{"N":"1"}}}`,
			[]string{"t\x00{\"S\":\"A\"}\x00{\"S\":\"B\"}"}, true},
		{dynamoPrefix + "UpdateItem", `{"TableName":"t","Key":{"pk":{"S":"A"},"sk":{"S":"B"}}}`,
			[]string{"t\x00{\"S\":\"A\"}\x00{\"S\":\"B\"}"}, true},
		{dynamoPrefix + "TransactWriteItems", `{"TransactItems":[{"Put":{"TableName":"t","Item":{"pk":{"S":"A"},"sk":{"S":"B"}}}},` +
			`{"ConditionCheck":{"TableName":"t","Key":{"pk":{"S":"C"},"sk":{"S":"D"}}}}]}`,
			[]string{"t\x00{\"S\":\"A\"}\x00{\"S\":\"B\"}", "t\x00{\"S\":\"C\"}\x00{\"S\":\"D\"}"}, true},
		{dynamoPrefix + "BatchWriteItem", `{"RequestItems":{}}`, nil, false},
		{dynamoPrefix + "PutItem", `{"TableName":"t","Item":{"other":{"S":"A"}}}`, []string{""}, false},
		{secretsPrefix + "CreateSecret", `{"Name":"n","SecretString":"v"}`, []string{"secret\x00n"}, true},
		{secretsPrefix + "PutSecretValue", `{"SecretId":"n","SecretString":"v"}`, []string{"secret\x00n"}, true},
	} {
		got, ok := writeKeys(tc.target, []byte(tc.body))
		if ok != tc.ok || (ok && !slices.Equal(got, tc.want)) {
			t.Errorf("writeKeys(%s, %s) = %q, %v; want %q, %v", tc.target, tc.body, got, ok, tc.want, tc.ok)
		}
	}
}
