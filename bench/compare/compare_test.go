package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and parentheses; utime 1234, stime 56.
	stat := "4242 (node (v22) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 1234 56 0 0 20 0 11 0 777 1000000 5000 18446744073709551615"
	got, err := parseStatCPU(stat)
	if err != nil || got != 1290 {
		t.Errorf("got %d, %v; want 1290", got, err)
	}
	for _, bad := range []string{"", "4242 node S 1", "4242 (x) S 1 2 3", "4242 (x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 -5 56 0"} {
		if _, err := parseStatCPU(bad); err == nil {
			t.Errorf("parseStatCPU(%q): got no error", bad)
		}
	}
}

func TestParseVmHWM(t *testing.T) {
	status := "Name:\thydra\nVmPeak:\t 2000000 kB\nVmHWM:\t  123456 kB\nVmRSS:\t  100000 kB\n"
	if got, err := parseVmHWM(status); err != nil || got != 123456 {
		t.Errorf("got %d, %v; want 123456", got, err)
	}
	for _, bad := range []string{"Name:\tx\n", "VmHWM:\t12 MB\n", "VmHWM:\n"} {
		if _, err := parseVmHWM(bad); err == nil {
			t.Errorf("parseVmHWM(%q): got no error", bad)
		}
	}
}

func TestParseReport(t *testing.T) {
	rep := `{"clients": 8, "token_url": "http://127.0.0.1:1/token", "results": [
	  {"op": "authorization", "ok": 100, "errors": 2, "cut": 1, "elapsed_ns": 5000000000, "per_second": 20, "p50_ns": 3000000, "p95_ns": 5000000, "p99_ns": 9000000, "max_ns": 12000000, "first_error": "boom"},
	  {"op": "authorization/redirects", "ok": 100, "p50_ns": 2000000},
	  {"op": "authorization/token-code", "ok": 100, "p50_ns": 1000000}]}`
	c, main, steps, err := parseReport([]byte(rep))
	if err != nil {
		t.Fatal(err)
	}
	if c != 8 || main.Op != "authorization" || main.OK != 100 || main.Errors != 2 || main.P99NS != 9000000 || main.FirstError != "boom" || len(steps) != 2 {
		t.Errorf("got %d clients, %+v, %d steps", c, main, len(steps))
	}
	for _, bad := range []string{"", "{", `{"clients": 1, "results": []}`,
		`{"clients": 1, "results": [{"op": "refresh"}, {"op": "introspect"}]}`, `{"results": [{"op": "refresh"}]}`} {
		if _, _, _, err := parseReport([]byte(bad)); err == nil {
			t.Errorf("parseReport(%q): got no error", bad)
		}
	}
}

func TestProcFlags(t *testing.T) {
	var p procFlags
	if err := p.Set("main=12"); err != nil || len(p) != 1 || p[0] != (procTarget{"main", 12}) {
		t.Errorf("got %v, %v", p, err)
	}
	for _, bad := range []string{"main", "=12", "main=x", "main=0", "main=-3"} {
		if err := p.Set(bad); err == nil {
			t.Errorf("Set(%q): got no error", bad)
		}
	}
}

// TestMeasure runs measure around a stand-in for loadgen against a fake
// /proc whose CPU counters the stand-in advances, and checks the record.
func TestMeasure(t *testing.T) {
	root := t.TempDir()
	old := procRoot
	procRoot = root
	t.Cleanup(func() { procRoot = old })
	writeProc := func(pid, utime int, hwm int) {
		dir := filepath.Join(root, strconv.Itoa(pid))
		_ = os.MkdirAll(dir, 0o755)
		stat := strconv.Itoa(pid) + " (srv) S 1 1 1 0 -1 0 0 0 0 0 " + strconv.Itoa(utime) + " 0 0 0 20 0 1 0 1 1 1"
		if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "status"), []byte("VmHWM:\t "+strconv.Itoa(hwm)+" kB\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeProc(77, 100, 1000)
	writeProc(88, 10, 500)
	// The stand-in: moves main's CPU by 250 ticks (2.5 s) and the store's
	// by 50, raises main's peak, prints a report of 500 successes.
	script := filepath.Join(root, "loadgen.sh")
	report := `{"clients": 4, "results": [{"op": "refresh", "ok": 500, "errors": 0, "per_second": 100, "p50_ns": 2000000, "p99_ns": 8000000}]}`
	body := "#!/bin/sh\n" +
		"echo '77 (srv) S 1 1 1 0 -1 0 0 0 0 0 350 0 0 0 20 0 1 0 1 1 1' > " + filepath.Join(root, "77", "stat") + "\n" +
		"echo '88 (java) S 1 1 1 0 -1 0 0 0 0 0 60 0 0 0 20 0 1 0 1 1 1' > " + filepath.Join(root, "88", "stat") + "\n" +
		"printf 'VmHWM:\\t 204800 kB\\n' > " + filepath.Join(root, "77", "status") + "\n" +
		"echo '" + report + "'\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(root, "records.jsonl")
	var printed bytes.Buffer
	for range 2 {
		if err := measureCmd(context.Background(), []string{"-out", out, "-server", "applinks-rs256", "-proc", "main=77", "-proc", "store=88", "--", script}, &printed); err != nil {
			t.Fatal(err)
		}
		writeProc(77, 100, 1000)
		writeProc(88, 10, 500)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := readRecords(f)
	if err != nil || len(recs) != 2 {
		t.Fatalf("got %d records, %v; want 2 (appended)", len(recs), err)
	}
	r := recs[0]
	if r.Server != "applinks-rs256" || r.Op != "refresh" || r.Clients != 4 || r.Result.OK != 500 || r.Error != "" {
		t.Errorf("got %+v", r)
	}
	if len(r.Procs) != 2 || r.Procs[0].CPUSeconds != 2.5 || r.Procs[1].CPUSeconds != 0.5 || r.Procs[0].PeakRSSKB != 204800 || r.Procs[1].PeakRSSKB != 500 {
		t.Errorf("procs: got %+v; want main 2.5 s and 200 MB, store 0.5 s", r.Procs)
	}
	if got := cpuPerOp(r, 0); got != "5.00 ms" {
		t.Errorf("cpu per op: got %s, want 5.00 ms (2.5 s / 500)", got)
	}
	if !strings.Contains(printed.String(), "refresh") || !strings.Contains(printed.String(), "5.00 ms") {
		t.Errorf("printed: %s", printed.String())
	}

	// A command that prints no report is recorded as such, not fatal.
	bad := filepath.Join(root, "bad.sh")
	_ = os.WriteFile(bad, []byte("#!/bin/sh\necho oops\necho 'loadgen: introspect: prepare tokens: client 6: 500' >&2\nexit 1\n"), 0o755)
	if err := measureCmd(context.Background(), []string{"-out", out, "-server", "node", "-proc", "main=77", "--", bad, "-op", "introspect", "-c=8"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(out)
	recs, _ = readRecords(bytes.NewReader(data))
	if len(recs) != 3 || !strings.Contains(recs[2].Error, "loadgen report") || !strings.Contains(recs[2].Error, "exit status 1: loadgen: introspect: prepare tokens: client 6: 500") ||
		recs[2].Op != "introspect" || recs[2].Clients != 8 {
		t.Errorf("got %+v; want a third record of introspect, 8 clients, with the report's error, loadgen's status and last line", recs[len(recs)-1])
	}
	// A process that is gone fails the measurement.
	if err := measureCmd(context.Background(), []string{"-out", out, "-server", "x", "-proc", "main=99", "--", script}, io.Discard); err == nil {
		t.Error("a missing process: got no error")
	}
}

func TestSummary(t *testing.T) {
	mk := func(server, op string, c int, perSec float64, ok, errs int, cpu float64, peakKB int64) record {
		return record{Server: server, Op: op, Clients: c, Load: [2]float64{1.5, 2},
			Result: loadgenResult{Op: op, OK: ok, Errors: errs, PerSecond: perSec, P50NS: 1500000, P99NS: 12250000},
			Procs:  []procUsage{{Name: "main", CPUSeconds: cpu, PeakRSSKB: peakKB, PeakReset: true}}}
	}
	h := mk("hydra", "refresh", 8, 100, 500, 500, 10, 102400)
	h.Result.FirstError = "500 concurrent update"
	h.Procs = append(h.Procs, procUsage{Name: "app", CPUSeconds: 0.5, PeakRSSKB: 20480, PeakReset: true})
	recs := []record{
		h,
		mk("node", "refresh", 8, 1500, 7500, 0, 6, 204800),
		mk("applinks-rs256", "refresh", 8, 600, 3000, 0, 7.5, 512000),
		mk("applinks-es256", "refresh", 8, 1200, 6000, 0, 6, 512000),
		{Server: "node", Op: "refresh", Clients: 32, Error: "loadgen report: unexpected end of JSON input"},
	}
	var b bytes.Buffer
	writeSummary(&b, recs)
	got := b.String()
	for _, want := range []string{
		"#### refresh",
		"| 8 | hydra | 100 | 1.50 | 12.25 | 500 (50%) | 20.00 ms | 100 MB | app 1.00 ms, 20 MB | 1.5 → 2.0 |",
		"| 8 | node | 1,500 | 1.50 | 12.25 | 0 | 0.80 ms | 200 MB |  | 1.5 → 2.0 |",
		"| 8 | applinks-rs256 | 600 |",
		"| clients | server | ÷ hydra | ÷ node |",
		"| 8 | applinks-rs256 | 6.00 | 0.40 |",
		"| 8 | applinks-es256 | 12.00 | 0.80 |",
		"No report: node, refresh, 32 clients: loadgen report",
		"First error of hydra, refresh, 8 clients: 500 concurrent update",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "could not be reset") {
		t.Errorf("every peak was reset, yet the summary says otherwise:\n%s", got)
	}
	if rate(1234567) != "1,234,567" || rate(999) != "999" {
		t.Errorf("rate: got %s, %s", rate(1234567), rate(999))
	}
}

func TestCheckAccessToken(t *testing.T) {
	jwt := func(alg string) string {
		return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"`+alg+`","typ":"at+jwt"}`)) + ".e30.c2ln"
	}
	cases := []struct {
		at, want string
		ok       bool
	}{
		{jwt("RS256"), "RS256", true},
		{jwt("ES256"), "ES256", true},
		{jwt("RS256"), "ES256", false},
		{jwt("ES256"), "opaque", false},
		{"ory_at_abc.def", "opaque", true},
		{"x3Jf9s", "opaque", true},
		{"x3Jf9s", "RS256", false},
		{"!!.e30.c2ln", "RS256", false},
	}
	for _, c := range cases {
		if err := checkAccessToken(c.at, c.want); (err == nil) != c.ok {
			t.Errorf("checkAccessToken(%q, %s): got %v, want ok %t", c.at, c.want, err, c.ok)
		}
	}
}

// TestHydraApp checks the headless login and consent app against a fake
// Hydra admin API: each step is one PUT accepting the challenge with
// remember, then a redirect to Hydra's redirect_to.
func TestHydraApp(t *testing.T) {
	var got []string
	admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery+" "+string(body))
		_ = json.NewEncoder(w).Encode(map[string]string{"redirect_to": "http://127.0.0.1:4444/oauth2/auth?verifier=v"})
	}))
	t.Cleanup(admin.Close)
	app := httptest.NewServer(hydraApp(admin.URL))
	t.Cleanup(app.Close)
	hc := httpClient(nil)
	for _, path := range []string{"/login?login_challenge=L1", "/consent?consent_challenge=C1"} {
		resp, err := hc.Get(app.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "http://127.0.0.1:4444/oauth2/auth?verifier=v" {
			t.Errorf("%s: got %d to %q", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	want := []string{
		`PUT /admin/oauth2/auth/requests/login/accept?login_challenge=L1 {"remember":true,"remember_for":0,"subject":"compare-user"}`,
		`PUT /admin/oauth2/auth/requests/consent/accept?consent_challenge=C1 {"grant_scope":["offline_access","bench"],"remember":true,"remember_for":0}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("admin calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	resp, err := hc.Get(app.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || len(got) != 2 {
		t.Errorf("no challenge: got %d and %d admin calls; want 400 and none", resp.StatusCode, len(got)-2)
	}
}
