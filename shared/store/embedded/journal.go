package embedded

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/applinks/applinks/shared/store/table"
)

// JournalFile is the journal's name in the data directory.
const JournalFile = "store.jsonl"

// The journal is a JSON Lines file: one record per write that kumo
// accepted, in the order it applied them to each item or secret:
//
//	{"target":"DynamoDB_20120810.PutItem","body":{"TableName":"applinks","Item":{...}}}
//
// target is the request's X-Amz-Target and body its JSON body, as the SDK
// sent it, so a replay is the same request again. At start the journal is
// replayed into a fresh kumo and then rewritten as the data it holds (one
// PutItem per item, one CreateSecret per secret), so it grows with the
// writes of one run, not of every run.
type record struct {
	Target string          `json:"target"`
	Body   json.RawMessage `json:"body"`
}

// entry is a record waiting for the writer.
type entry struct {
	target string
	body   []byte
}

// syncInterval is the most time the journal's writer lets pass between
// writing a record and fsyncing it.
const syncInterval = 200 * time.Millisecond

// journal appends records to the file from one goroutine: add only queues
// (a mutex and an append), so a write never waits for the disk; the writer
// takes everything queued and writes it with one write (a group commit). It
// fsyncs at most once per syncInterval, and always within syncInterval of
// a write: a record written is in the kernel's cache at once, so a crash of
// the process loses only the queue, and a crash of the machine also the
// writes of the last syncInterval; never a record in the middle. (An fsync
// per batch cost 6% of the process's CPU in a refresh benchmark.)
type journal struct {
	f      *os.File
	w      io.Writer    // f; a test may wrap it
	sync   func() error // f.Sync; a test may wrap it
	every  time.Duration
	logger *slog.Logger

	mu      sync.Mutex
	queue   []entry
	closing bool
	wake    chan struct{}
	done    chan struct{}
	failed  bool // a write failed: logged once
}

// testWrapWriter, set by tests, wraps the journal's file writer.
var testWrapWriter func(io.Writer) io.Writer

// testWrapSync, set by tests, wraps the journal's fsync and sets its
// interval.
var testWrapSync func(func() error) (func() error, time.Duration)

func openJournal(path string, logger *slog.Logger) (*journal, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	j := &journal{f: f, w: f, sync: f.Sync, every: syncInterval, logger: logger, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if testWrapWriter != nil {
		j.w = testWrapWriter(f)
	}
	if testWrapSync != nil {
		j.sync, j.every = testWrapSync(j.sync)
	}
	go j.run()
	return j, nil
}

// add queues a record of a write kumo accepted. It does not block on the
// file.
func (j *journal) add(target string, body []byte) {
	j.mu.Lock()
	if j.closing {
		j.mu.Unlock()
		return
	}
	j.queue = append(j.queue, entry{target, body})
	j.mu.Unlock()
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

func (j *journal) run() {
	defer close(j.done)
	var spare []entry
	var buf bytes.Buffer
	var synced time.Time // the last fsync
	dirty := false       // written since it
	fsync := func() {
		j.fsync()
		synced, dirty = time.Now(), false
	}
	tail := time.NewTimer(j.every)
	tail.Stop()
	defer tail.Stop()
	for {
		select {
		case <-j.wake:
		case <-tail.C:
			if dirty {
				fsync()
			}
			continue
		}
		j.mu.Lock()
		batch, closing := j.queue, j.closing
		j.queue = spare[:0]
		j.mu.Unlock()
		if len(batch) > 0 {
			buf.Reset()
			for _, e := range batch {
				appendRecord(&buf, e.target, e.body)
			}
			j.write(buf.Bytes())
			dirty = true
		}
		if dirty {
			if wait := j.every - time.Since(synced); closing || wait <= 0 {
				fsync()
			} else {
				tail.Reset(wait)
			}
		}
		// The array just taken is the next spare, even when it was
		// empty: keeping the old spare after an empty wake-up (an add
		// whose batch was already taken) made the queue and the next
		// batch one array, and records added during that batch's write
		// were overwritten and cleared (TestJournalEmptyWakeUp).
		clear(batch)
		spare = batch
		if closing {
			return
		}
	}
}

func (j *journal) write(b []byte) {
	_, err := j.w.Write(b)
	j.report(err)
}

func (j *journal) fsync() { j.report(j.sync()) }

// report logs the first error of the journal's file.
func (j *journal) report(err error) {
	if err != nil && !j.failed {
		j.failed = true
		j.logger.Error("embedded store: the journal cannot be written; writes from now on may not survive a restart",
			"file", j.f.Name(), "error", err.Error())
	}
}

// close writes what is queued, fsyncs and closes the file. Writes added
// afterwards are dropped.
func (j *journal) close() error {
	j.mu.Lock()
	j.closing = true
	j.mu.Unlock()
	select {
	case j.wake <- struct{}{}:
	default:
	}
	<-j.done
	return j.f.Close()
}

// appendRecord appends one JSON line. The SDK's bodies are compact JSON;
// anything else is compacted so that the record stays on one line.
func appendRecord(buf *bytes.Buffer, target string, body []byte) {
	buf.WriteString(`{"target":`)
	t, _ := json.Marshal(target)
	buf.Write(t)
	buf.WriteString(`,"body":`)
	start := buf.Len()
	if bytes.ContainsAny(body, "\r\n") || !json.Valid(body) {
		if err := json.Compact(buf, body); err != nil {
			buf.Truncate(start)
			b, _ := json.Marshal(string(body)) // kept, and fails its replay visibly
			buf.Write(b)
		}
	} else {
		buf.Write(body)
	}
	buf.WriteString("}\n")
}

// kumoClient calls kumo's JSON protocols directly (no SDK), for the replay
// and the compaction, which move request and response bodies as they are.
type kumoClient struct {
	url string
	hc  *http.Client
}

// call posts body to target and returns the status and the response body.
func (k kumoClient) call(ctx context.Context, target string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, k.url+"/", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("X-Amz-Target", target)
	ct := "application/x-amz-json-1.1"
	if strings.HasPrefix(target, dynamoPrefix) {
		ct = "application/x-amz-json-1.0"
	}
	req.Header.Set("Content-Type", ct)
	resp, err := k.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// mustOK is call for the compaction's reads.
func (k kumoClient) mustOK(ctx context.Context, target string, body any, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	status, resp, err := k.call(ctx, target, b)
	if err != nil {
		return fmt.Errorf("%s: %w", target, err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("%s: %d %s", target, status, bytes.TrimSpace(resp))
	}
	return json.Unmarshal(resp, out)
}

// replayReport says what a replay did.
type replayReport struct {
	applied, failed int
	firstFailure    string
	torn            int // bytes of an incomplete last line, skipped
}

// replay sends every record of the journal at path to kumo, in order. A
// missing file is an empty journal. An incomplete last line (a crash in the
// middle of a write) is skipped; a line in the middle that is not a record
// is an error, since what follows it may depend on it.
func replay(ctx context.Context, k kumoClient, path string) (replayReport, error) {
	var rep replayReport
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return rep, nil
	}
	if err != nil {
		return rep, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if len(line) == 0 && err == io.EOF {
			return rep, nil
		}
		if err != nil && err != io.EOF {
			return rep, fmt.Errorf("read %s: %w", path, err)
		}
		var rec record
		if perr := json.Unmarshal(line, &rec); perr != nil || rec.Target == "" || len(rec.Body) == 0 {
			if err == io.EOF { // the last line, without its newline: torn
				rep.torn = len(line)
				return rep, nil
			}
			return rep, fmt.Errorf("%s line %d is not a journal record (move the file away to start empty)", path, n)
		}
		status, resp, cerr := k.call(ctx, rec.Target, rec.Body)
		switch {
		case cerr != nil:
			return rep, fmt.Errorf("replay %s line %d: %w", path, n, cerr)
		case status == http.StatusOK:
			rep.applied++
		default:
			rep.failed++
			if rep.firstFailure == "" {
				rep.firstFailure = fmt.Sprintf("line %d, %s: %d %s", n, rec.Target, status, bytes.TrimSpace(resp))
			}
		}
		if err == io.EOF {
			return rep, nil
		}
	}
}

// compact rewrites the journal at path as the data kumo holds now: one
// PutItem for each item of tableName that has not expired (its TTL
// attribute in the past: kumo would delete it), one CreateSecret for each
// secret that is not scheduled for deletion (with its resource policy, if
// any). It writes a temporary file, fsyncs it and renames it over the
// journal, so a crash leaves the old journal or the new one. It returns
// how many items and secrets it kept.
func compact(ctx context.Context, k kumoClient, path, tableName string, now time.Time) (items, secrets int, err error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	w := bufio.NewWriterSize(f, 1<<16)
	var buf bytes.Buffer
	emit := func(target string, body any) error {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		buf.Reset()
		appendRecord(&buf, target, b)
		_, err = w.Write(buf.Bytes())
		return err
	}

	var start json.RawMessage
	for {
		in := map[string]any{"TableName": tableName, "ConsistentRead": true}
		if len(start) > 0 {
			in["ExclusiveStartKey"] = start
		}
		var out struct {
			Items            []json.RawMessage
			LastEvaluatedKey json.RawMessage
		}
		if err := k.mustOK(ctx, dynamoPrefix+"Scan", in, &out); err != nil {
			return 0, 0, err
		}
		for _, it := range out.Items {
			if expired(it, now) {
				continue
			}
			if err := emit(dynamoPrefix+"PutItem", map[string]any{"TableName": tableName, "Item": it}); err != nil {
				return 0, 0, err
			}
			items++
		}
		if len(out.LastEvaluatedKey) == 0 || string(out.LastEvaluatedKey) == "null" || string(out.LastEvaluatedKey) == "{}" {
			break
		}
		start = out.LastEvaluatedKey
	}

	next := ""
	for {
		in := map[string]any{"MaxResults": 100}
		if next != "" {
			in["NextToken"] = next
		}
		var out struct {
			SecretList []struct {
				Name        string
				Description string          `json:",omitempty"`
				KmsKeyId    string          `json:",omitempty"`
				Tags        json.RawMessage `json:",omitempty"`
			}
			NextToken string
		}
		if err := k.mustOK(ctx, secretsPrefix+"ListSecrets", in, &out); err != nil {
			return 0, 0, err
		}
		for _, s := range out.SecretList {
			var v struct {
				VersionId    string
				SecretString *string
				SecretBinary *string
			}
			if err := k.mustOK(ctx, secretsPrefix+"GetSecretValue", map[string]string{"SecretId": s.Name}, &v); err != nil {
				return 0, 0, err
			}
			create := map[string]any{"Name": s.Name}
			if s.Description != "" {
				create["Description"] = s.Description
			}
			if s.KmsKeyId != "" {
				create["KmsKeyId"] = s.KmsKeyId
			}
			if len(s.Tags) > 0 && string(s.Tags) != "null" && string(s.Tags) != "[]" {
				create["Tags"] = s.Tags
			}
			if v.VersionId != "" {
				create["ClientRequestToken"] = v.VersionId
			}
			if v.SecretString != nil {
				create["SecretString"] = *v.SecretString
			}
			if v.SecretBinary != nil {
				create["SecretBinary"] = *v.SecretBinary
			}
			if err := emit(secretsPrefix+"CreateSecret", create); err != nil {
				return 0, 0, err
			}
			var pol struct{ ResourcePolicy string }
			if err := k.mustOK(ctx, secretsPrefix+"GetResourcePolicy", map[string]string{"SecretId": s.Name}, &pol); err != nil {
				return 0, 0, err
			}
			if pol.ResourcePolicy != "" {
				if err := emit(secretsPrefix+"PutResourcePolicy", map[string]string{"SecretId": s.Name, "ResourcePolicy": pol.ResourcePolicy}); err != nil {
					return 0, 0, err
				}
			}
			secrets++
		}
		if out.NextToken == "" || out.NextToken == next {
			break
		}
		next = out.NextToken
	}

	if err := w.Flush(); err != nil {
		return 0, 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, 0, err
	}
	if err := f.Close(); err != nil {
		return 0, 0, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return 0, 0, err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return items, secrets, nil
}

// expired reports whether an item's TTL attribute (a number of seconds) is
// in the past.
func expired(item json.RawMessage, now time.Time) bool {
	var it map[string]struct{ N string }
	if json.Unmarshal(item, &it) != nil {
		return false
	}
	ttl, ok := it[table.TTLAttribute]
	if !ok || ttl.N == "" {
		return false
	}
	sec, err := strconv.ParseInt(ttl.N, 10, 64)
	return err == nil && sec <= now.Unix()
}
