package embedded

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestJournalKeepsEveryRecordUnderConcurrentWrites: many writers adding at
// once, as the in-process transport makes them, while the journal's
// goroutine writes: every record is in the file once, none empty. The
// writer's queue swap once reused the array it was still writing from
// after a wake-up that found the queue empty, so records were overwritten
// and written as {"target":"","body":""}, which stops the next start.
func TestJournalKeepsEveryRecordUnderConcurrentWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), JournalFile)
	j, err := openJournal(path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 1500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				j.add(dynamoPrefix+"PutItem", fmt.Appendf(nil, `{"w":%d,"i":%d}`, w, i))
			}
		})
	}
	wg.Wait()
	if err := j.close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]int{}
	r := bufio.NewReader(f)
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if err == io.EOF && len(line) == 0 {
			break
		}
		var rec record
		if json.Unmarshal(line, &rec) != nil || rec.Target == "" || len(rec.Body) == 0 {
			t.Fatalf("line %d is not a record: %q", n, line)
		}
		seen[string(rec.Body)]++
	}
	if len(seen) != writers*each {
		t.Errorf("%d distinct records, want %d", len(seen), writers*each)
	}
	for b, c := range seen {
		if c != 1 {
			t.Errorf("record %s written %d times", b, c)
		}
	}
}

// gateWriter lets a test hold the journal's writer inside a write.
type gateWriter struct {
	w       io.Writer
	mu      sync.Mutex
	hold    bool
	entered chan struct{}
	release chan struct{}
	writes  int
}

func (g *gateWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	hold := g.hold
	g.writes++
	g.mu.Unlock()
	if hold {
		g.entered <- struct{}{}
		<-g.release
	}
	return g.w.Write(p)
}

func (g *gateWriter) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.writes
}

// TestJournalEmptyWakeUp: the writer's sequence that lost records, made
// deterministic. A wake-up finds the queue empty (the record whose add sent
// it was taken by the previous batch); the next batch is written while
// another record is added; that record must still be in the file.
func TestJournalEmptyWakeUp(t *testing.T) {
	path := filepath.Join(t.TempDir(), JournalFile)
	g := &gateWriter{entered: make(chan struct{}), release: make(chan struct{})}
	testWrapWriter = func(w io.Writer) io.Writer { g.w = w; return g }
	defer func() { testWrapWriter = nil }()
	j, err := openJournal(path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for i := 0; !cond(); i++ {
			if i > 10_000_000 {
				t.Fatalf("timed out waiting for %s", what)
			}
			runtime.Gosched()
		}
	}
	body := func(n int) []byte { return fmt.Appendf(nil, `{"n":%d}`, n) }

	// 1: the writer has taken a wake-up and waits for the lock while a
	// record is added and its own wake-up is sent after the batch took it.
	j.mu.Lock()
	j.wake <- struct{}{}
	waitFor("the writer to take the wake-up", func() bool { return len(j.wake) == 0 })
	j.queue = append(j.queue, entry{dynamoPrefix + "PutItem", body(1)})
	j.mu.Unlock()
	j.wake <- struct{}{}
	waitFor("the first write", func() bool { return g.count() == 1 })
	// The second wake-up finds the queue empty.
	waitFor("the empty wake-up", func() bool { return len(j.wake) == 0 })
	for range 100 {
		runtime.Gosched()
	}

	// 2: a batch is written while another record is added.
	g.mu.Lock()
	g.hold = true
	g.mu.Unlock()
	j.add(dynamoPrefix+"PutItem", body(2))
	<-g.entered
	g.mu.Lock()
	g.hold = false
	g.mu.Unlock()
	j.add(dynamoPrefix+"PutItem", body(3))
	close(g.release)
	if err := j.close(); err != nil {
		t.Fatal(err)
	}

	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"target":"DynamoDB_20120810.PutItem","body":{"n":1}}` + "\n" +
		`{"target":"DynamoDB_20120810.PutItem","body":{"n":2}}` + "\n" +
		`{"target":"DynamoDB_20120810.PutItem","body":{"n":3}}` + "\n"
	if string(b) != want {
		t.Errorf("journal:\n%s\nwant:\n%s", b, want)
	}
}

// countSync counts a journal's fsyncs, and the writes of g each covered.
type countSync struct {
	g      *gateWriter
	mu     sync.Mutex
	n      int
	writes int // g's writes at the last fsync
}

func (c *countSync) wrap(f func() error) func() error {
	return func() error {
		w := c.g.count() // the writer's own writes, all before this fsync
		c.mu.Lock()
		c.n++
		c.writes = w
		c.mu.Unlock()
		return f()
	}
}

func (c *countSync) synced() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
}

func (c *countSync) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// TestJournalSyncInterval: batches written within the interval of the last
// fsync are not fsynced one by one; the tail is fsynced once the interval
// has passed, with no further write to prompt it; closing fsyncs what is
// left at once; and every record is in the file.
func TestJournalSyncInterval(t *testing.T) {
	for _, tc := range []struct {
		name  string
		every time.Duration
	}{{"long interval", time.Hour}, {"short interval", 100 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), JournalFile)
			g := &gateWriter{}
			syncs := &countSync{g: g}
			testWrapWriter = func(w io.Writer) io.Writer { g.w = w; return g }
			testWrapSync = func(f func() error) (func() error, time.Duration) { return syncs.wrap(f), tc.every }
			defer func() { testWrapWriter, testWrapSync = nil, nil }()
			j, err := openJournal(path, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			waitFor := func(what string, cond func() bool) {
				t.Helper()
				deadline := time.Now().Add(10 * time.Second)
				for !cond() {
					if time.Now().After(deadline) {
						t.Fatalf("timed out waiting for %s", what)
					}
					time.Sleep(time.Millisecond)
				}
			}
			const batches = 20
			for i := range batches {
				j.add(dynamoPrefix+"PutItem", fmt.Appendf(nil, `{"n":%d}`, i))
				waitFor(fmt.Sprintf("write %d", i+1), func() bool { return g.count() == i+1 })
			}
			switch tc.every {
			case time.Hour:
				// The first batch found no earlier fsync; the others were
				// within the hour.
				if n := syncs.count(); n != 1 {
					t.Errorf("fsyncs after %d batches within the interval: got %d, want 1", batches, n)
				}
			default:
				// The tail is fsynced once the interval has passed, with
				// no write to prompt it.
				j.add(dynamoPrefix+"PutItem", []byte(`{"n":"tail"}`))
				waitFor("the tail's fsync", func() bool { return syncs.synced() == batches+1 })
			}
			n := syncs.count()
			if err := j.close(); err != nil {
				t.Fatal(err)
			}
			if tc.every == time.Hour && syncs.count() != n+1 {
				t.Errorf("fsyncs at close: got %d, want 1", syncs.count()-n)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want := batches
			if tc.every != time.Hour {
				want++
			}
			if got := strings.Count(string(data), "\n"); got != want {
				t.Errorf("records in the file: got %d, want %d", got, want)
			}
		})
	}
}
