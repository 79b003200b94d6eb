package main

import (
	"bytes"
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkCap/absent-request-2   1354287   183.0 ns/op   48 B/op   3 allocs/op
BenchmarkCap/absent-request-2   1354287   190.0 ns/op   48 B/op   3 allocs/op
BenchmarkCap/absent-request-2   2026/11/28 15:50:35 INFO audit audit=true event=signing_key_created
2026/11/28 15:50:36 INFO another log line
   1354287   150.0 ns/op   48 B/op   3 allocs/op
--- BENCH: BenchmarkColdStart/hello-2
BenchmarkColdStart/hello-2   5   0 ns/op   20.5 init-ms   5.83 arm64-MB
BenchmarkColdStart/hello-2   5   0 ns/op   21.5 init-ms   5.83 arm64-MB
PASS
`

func TestParseAndMedians(t *testing.T) {
	rows, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("got %d benchmarks, want 2", len(rows))
	}
	tests := []struct {
		row  int
		name string
		unit string
		want float64
	}{
		{0, "Cap/absent-request", "ns/op", 183},
		{0, "Cap/absent-request", "allocs/op", 3},
		{1, "ColdStart/hello", "init-ms", 21},
	}
	for _, tc := range tests {
		r := rows[tc.row]
		if r.name != tc.name {
			t.Errorf("row %d: got name %q, want %q", tc.row, r.name, tc.name)
		}
		if got := median(r.values[tc.unit]); got != tc.want {
			t.Errorf("%s %s: got median %v, want %v", tc.name, tc.unit, got, tc.want)
		}
	}

	var out bytes.Buffer
	write(&out, rows)
	for _, want := range []string{
		"| benchmark | runs | ns/op | B/op | allocs/op |",
		"| Cap/absent-request | 3 | 183 | 48 | 3 |",
		"| benchmark | runs | init-ms | arm64-MB |",
		"| ColdStart/hello | 2 | 21 | 5.83 |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestParseRejectsBadValues(t *testing.T) {
	_, err := parse(strings.NewReader("BenchmarkX-2   10   abc ns/op\n"))
	if err == nil {
		t.Error("got no error for a non-numeric value, want one")
	}
}
