package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/local/loopback"
	"github.com/applinks/applinks/local/server"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store/storetest"
	"github.com/applinks/applinks/shared/throttle"
	"github.com/applinks/applinks/tests/testkit/oauthflow"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

const testAdminToken = "loadgen-test-admin-token"

// startProvider serves the local runner's handler (server.New) on a
// loopback port, backed by the store on kumo.
func startProvider(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	env := map[string]string{"ISSUER_URL": issuer, "ADMIN_TOKEN": testAdminToken}
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.Kumo(t)
	h, err := server.New(context.Background(), cfg, st, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return issuer
}

func noEnv(string) string { return "" }

// TestRunAgainstProvider runs every operation briefly against an in-process
// provider and checks that each completed exactly -n times without errors.
func TestRunAgainstProvider(t *testing.T) {
	issuer := startProvider(t)
	const n = 6
	var out bytes.Buffer
	args := []string{"-issuer", issuer, "-admin-token", testAdminToken, "-c", "2",
		"-n", "6", "-duration", "60s", "-op", "all", "-json"}
	if err := run(context.Background(), args, &out, noEnv); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	var report struct {
		Results []result `json:"results"`
	}
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		t.Fatalf("decode report: %v\n%s", err, out.String())
	}
	got := map[string]result{}
	for _, r := range report.Results {
		got[r.Op] = r
	}
	want := []string{opRefresh, opIntrospect, opCodeFlow}
	for _, s := range oauthflow.Steps {
		want = append(want, opCodeFlow+"/"+s)
	}
	for _, op := range want {
		r, ok := got[op]
		switch {
		case !ok:
			t.Errorf("%s: missing from the report", op)
		case r.OK != n || r.Errors != 0:
			t.Errorf("%s: got %d ok and %d errors (%s), want %d ok and 0 errors", op, r.OK, r.Errors, r.FirstError, n)
		case r.P50 <= 0 || r.P50 > r.P95 || r.P95 > r.P99 || r.P99 > r.Max:
			t.Errorf("%s: got p50 %s, p95 %s, p99 %s, max %s; want 0 < p50 <= p95 <= p99 <= max", op, r.P50, r.P95, r.P99, r.Max)
		}
	}
	if len(report.Results) != len(want) {
		t.Errorf("got %d results, want %d", len(report.Results), len(want))
	}

	// The table form names every operation too.
	out.Reset()
	args = []string{"-issuer", issuer, "-admin-token", testAdminToken, "-c", "1", "-n", "2", "-op", "introspect"}
	if err := run(context.Background(), args, &out, noEnv); err != nil {
		t.Fatalf("run (table): %v\n%s", err, out.String())
	}
	t.Logf("table output:\n%s", out.String())
	if !strings.Contains(out.String(), "introspect") || !strings.Contains(out.String(), "p99") {
		t.Errorf("table output lacks the introspect row or the p99 column:\n%s", out.String())
	}
}

// TestRunManyClients runs every operation with more clients than the
// sign-in limit lets one username sign in at once (throttle's
// MaxUsernameFailures attempts are counted before their passwords are
// checked): each client signs in as a user of its own, so none is refused.
func TestRunManyClients(t *testing.T) {
	issuer := startProvider(t)
	const c = throttle.MaxUsernameFailures + 3
	var out bytes.Buffer
	args := []string{"-issuer", issuer, "-admin-token", testAdminToken, "-c", strconv.Itoa(c),
		"-n", strconv.Itoa(2 * c), "-duration", "120s", "-op", "all", "-json"}
	if err := run(context.Background(), args, &out, noEnv); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	var report struct {
		Results []result `json:"results"`
	}
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		t.Fatalf("decode report: %v\n%s", err, out.String())
	}
	for _, r := range report.Results {
		if !strings.Contains(r.Op, "/") && (r.OK != 2*c || r.Errors != 0) {
			t.Errorf("%s: got %d ok and %d errors (%s), want %d ok and 0 errors", r.Op, r.OK, r.Errors, r.FirstError, 2*c)
		}
	}
	if len(report.Results) == 0 {
		t.Error("got no results")
	}
}

// TestRunStopsAtDuration checks the time bound: a count no machine reaches
// in the time given ends with fewer operations than asked.
func TestRunStopsAtDuration(t *testing.T) {
	issuer := startProvider(t)
	var out bytes.Buffer
	const n = 100_000_000
	args := []string{"-issuer", issuer, "-admin-token", testAdminToken, "-c", "2",
		"-n", "100000000", "-duration", "1s", "-op", "introspect", "-json"}
	if err := run(context.Background(), args, &out, noEnv); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	var report struct {
		Results []result `json:"results"`
	}
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		t.Fatalf("decode report: %v", err)
	}
	if len(report.Results) != 1 {
		t.Fatalf("got %d results, want 1", len(report.Results))
	}
	r := report.Results[0]
	if r.OK == 0 || r.OK+r.Cut >= n || r.Errors != 0 {
		t.Errorf("got %d ok, %d cut, %d errors; want some ok, fewer than %d in all, no errors", r.OK, r.Cut, r.Errors, n)
	}
}

func TestRefusesNonLoopbackTargets(t *testing.T) {
	tests := []struct {
		issuer string
		ok     bool
	}{
		{"http://127.0.0.1:8080", true},
		{"http://127.1.2.3:9000", true},
		{"http://[::1]:8080", true},
		{"http://localhost:8080", true},
		{"https://LOCALHOST", true},
		{"http://[::ffff:127.0.0.1]:8080", true},
		{"http://192.0.2.1:8080", false},
		{"http://10.0.0.1", false},
		{"http://0.0.0.0:8080", false},
		{"http://[::]:8080", false},
		{"http://[::2]:8080", false},
		{"https://example.com", false},
		{"http://localhost.example.com:8080", false},
		{"http://127.0.0.1.nip.io", false},
		{"http://[fe80::1%25lo]:8080", false},
	}
	for _, tc := range tests {
		t.Run(tc.issuer, func(t *testing.T) {
			_, err := parseFlags([]string{"-issuer", tc.issuer, "-admin-token", "x"}, noEnv, io.Discard)
			if tc.ok && err != nil {
				t.Fatalf("parseFlags(-issuer %s): got %v, want no error", tc.issuer, err)
			}
			if !tc.ok && (err == nil || !strings.Contains(err.Error(), "not a loopback address")) {
				t.Fatalf("parseFlags(-issuer %s): got %v, want a not-a-loopback-address error", tc.issuer, err)
			}
		})
	}

	// run refuses before sending anything: the address is not contacted.
	err := run(context.Background(), []string{"-issuer", "http://192.0.2.1:8080", "-admin-token", "x"}, io.Discard, noEnv)
	if err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Errorf("run against 192.0.2.1: got %v, want a not-a-loopback-address error", err)
	}
}

func TestDialerRefusesNonLoopback(t *testing.T) {
	// Control is what refuses a name that resolved elsewhere.
	d := loopback.Dialer()
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:80", true},
		{"[::1]:80", true},
		{"192.0.2.1:80", false},
		{"[2001:db8::1]:443", false},
	}
	for _, tc := range tests {
		err := d.Control("tcp", tc.addr, nil)
		if (err == nil) != tc.ok {
			t.Errorf("Control(%s): got %v, want ok=%v", tc.addr, err, tc.ok)
		}
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // substring of the error, "" for none
	}{
		{"defaults", []string{"-admin-token", "x"}, ""},
		{"no admin token", nil, "-admin-token"},
		{"zero clients", []string{"-admin-token", "x", "-c", "0"}, "-c"},
		{"too many clients", []string{"-admin-token", "x", "-c", "100000"}, "-c"},
		{"zero count", []string{"-admin-token", "x", "-n", "0"}, "-n"},
		{"no duration", []string{"-admin-token", "x", "-duration", "0s"}, "-duration"},
		{"endless duration", []string{"-admin-token", "x", "-duration", "24h"}, "-duration"},
		{"unknown op", []string{"-admin-token", "x", "-op", "refresh,password"}, "unknown operation"},
		{"issuer with a path", []string{"-admin-token", "x", "-issuer", "http://127.0.0.1:8080/oauth2"}, "path"},
		{"stray argument", []string{"-admin-token", "x", "now"}, "unexpected argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseFlags(tc.args, noEnv, io.Discard)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error about %s", err, tc.want)
			case tc.want == "" && (o.issuer != "http://127.0.0.1:8080" || len(o.ops) != 3 || o.count < 1 || o.duration <= 0):
				t.Fatalf("got %+v, want the defaults", o)
			}
		})
	}
	// ISSUER_URL and ADMIN_TOKEN give the defaults.
	env := map[string]string{"ISSUER_URL": "http://[::1]:9999", "ADMIN_TOKEN": "from-env"}
	o, err := parseFlags(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil || o.issuer != "http://[::1]:9999" || o.adminToken != "from-env" {
		t.Errorf("got %q, %q, %v; want the environment's issuer and token", o.issuer, o.adminToken, err)
	}
}

func TestPercentile(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	var hundred []time.Duration
	for i := 1; i <= 100; i++ {
		hundred = append(hundred, ms(i))
	}
	tests := []struct {
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{hundred, 50, ms(50)},
		{hundred, 95, ms(95)},
		{hundred, 99, ms(99)},
		{hundred, 100, ms(100)},
		{[]time.Duration{ms(7)}, 99, ms(7)},
		{[]time.Duration{ms(1), ms(2), ms(3)}, 50, ms(2)},
		{[]time.Duration{ms(1), ms(2), ms(3)}, 0, ms(1)},
	}
	for _, tc := range tests {
		if got := percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("percentile(%d values, %v): got %s, want %s", len(tc.sorted), tc.p, got, tc.want)
		}
	}
}
