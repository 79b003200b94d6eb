// Package logtest captures log output in tests: Buffer collects what
// concurrent writers (a logger shared by a test server's requests, a child
// process's stdout and stderr) write, and finds the audit events among the
// JSON lines of a slog.JSONHandler (web.Audit writes them with "audit": true
// and "event": the event's name).
//
// It is test support: no Lambda function may import it (shared/lambdahttp's
// TestLambdaDependencies refuses it).
package logtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
)

// Buffer is a bytes.Buffer safe for concurrent writers and readers. The zero
// value is an empty buffer ready to use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Audits returns the audit events named event written so far, each as its
// decoded JSON line. Every non-empty line must be JSON: one that is not is
// an error.
func (b *Buffer) Audits(event string) ([]map[string]any, error) {
	var out []map[string]any
	for line := range strings.SplitSeq(b.String(), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			return nil, fmt.Errorf("log line is not JSON: %q", line)
		}
		if m["audit"] == true && m["event"] == event {
			out = append(out, m)
		}
	}
	return out, nil
}
