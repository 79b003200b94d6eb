package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// TestCPUShare: each sample is counted in the first part one of its frames
// belongs to (the emulator before the SDK that calls it, the SDK before
// the handler that calls it), and the table gives shares and time per
// operation.
func TestCPUShare(t *testing.T) {
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:     int64(10 * time.Millisecond),
	}
	locs := map[string]*profile.Location{}
	loc := func(name string) *profile.Location {
		if l, ok := locs[name]; ok {
			return l
		}
		id := uint64(len(locs) + 1)
		fn := &profile.Function{ID: id, Name: name}
		l := &profile.Location{ID: id, Line: []profile.Line{{Function: fn}}}
		p.Function = append(p.Function, fn)
		p.Location = append(p.Location, l)
		locs[name] = l
		return l
	}
	sample := func(ms int, stack ...string) {
		s := &profile.Sample{Value: []int64{int64(ms / 10), int64(time.Duration(ms) * time.Millisecond)}}
		for _, f := range stack { // leaf first
			s.Location = append(s.Location, loc(f))
		}
		p.Sample = append(p.Sample, s)
	}
	handler := "github.com/applinks/applinks/functions/token.(*Handler).refresh"
	sdk := "github.com/aws/smithy-go/middleware.decoratedHandler.Handle"
	sample(300, "encoding/json.Marshal", "github.com/sivchari/kumo/internal/service/dynamodb.(*Service).BatchGetItem", sdk, handler)
	sample(200, "encoding/json.Unmarshal", sdk, handler)
	sample(100, "runtime.scanObject", "runtime.gcBgMarkWorker")
	sample(50, "crypto/internal/fips140/nistec.p256Mul", "crypto/ecdsa.SignASN1", "github.com/applinks/applinks/shared/signing.(*Keyring).Sign", handler)
	sample(150, "runtime.mallocgc", handler)
	sample(100, "syscall.Syscall6", "internal/poll.(*FD).Write", "net/http.(*conn).serve")
	sample(100, "runtime.futex", "runtime.findRunnable")

	path := filepath.Join(t.TempDir(), "cpu.pb.gz")
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"cpushare", "-ops", "100", path}, &out); err != nil {
		t.Fatalf("cpushare: %v", err)
	}
	for _, want := range []string{
		"| embedded emulator (kumo) | 30.0% | 3000 µs |",
		"| AWS SDK (requests, responses, middleware) | 20.0% | 2000 µs |",
		"| GC, background (mark, sweep, scavenge) | 10.0% | 1000 µs |",
		"| signature (sign, verify) | 5.0% | 500 µs |",
		"| handlers and store (this project) | 15.0% | 1500 µs |",
		"| HTTP server (net/http, sockets) | 10.0% | 1000 µs |",
		"| runtime and the rest (scheduler, syscalls) | 10.0% | 1000 µs |",
		"| emulator's journal and in-process transport | 0.0% | 0 µs |",
		"| all (1.00 s of CPU) | 100% | 10000 µs |",
	} {
		if !strings.Contains(out.String(), want+"\n") {
			t.Errorf("cpushare output lacks %q:\n%s", want, out.String())
		}
	}

	// Not a CPU profile: an error, not an empty table.
	p.SampleType = []*profile.ValueType{{Type: "alloc_objects", Unit: "count"}, {Type: "alloc_space", Unit: "bytes"}}
	buf.Reset()
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(t.Context(), []string{"cpushare", path}, &out); err == nil || !strings.Contains(err.Error(), "not a CPU profile") {
		t.Errorf("cpushare of a heap profile: got %v, want an error naming it", err)
	}
}
