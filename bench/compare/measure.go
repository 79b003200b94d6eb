package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's CPU times: 100 on
// every Linux architecture Go supports (the kernel's ABI since 2.6).
const clockTicks = 100

// record is one measured load-generator run, one line of measure's -out
// file (JSON Lines).
type record struct {
	Server  string    `json:"server"`
	Op      string    `json:"op"`
	Clients int       `json:"clients"`
	Start   time.Time `json:"start"`
	// Load is the 1-minute load average before and after the run.
	Load [2]float64 `json:"load"`
	// Result is loadgen's result of the operation; Steps, of its steps.
	Result loadgenResult   `json:"result"`
	Steps  []loadgenResult `json:"steps,omitempty"`
	Procs  []procUsage     `json:"procs"`
	// Error: loadgen failed to produce a report (not failed operations,
	// which Result counts).
	Error string `json:"error,omitempty"`
}

// loadgenResult is one result of loadgen's -json report.
type loadgenResult struct {
	Op         string  `json:"op"`
	OK         int     `json:"ok"`
	Errors     int     `json:"errors"`
	Cut        int     `json:"cut"`
	ElapsedNS  int64   `json:"elapsed_ns"`
	PerSecond  float64 `json:"per_second"`
	P50NS      int64   `json:"p50_ns"`
	P95NS      int64   `json:"p95_ns"`
	P99NS      int64   `json:"p99_ns"`
	MaxNS      int64   `json:"max_ns"`
	FirstError string  `json:"first_error,omitempty"`
}

// procUsage is what one process of the server spent during the run.
type procUsage struct {
	Name string `json:"name"` // main, or the role of another process (store, app)
	PID  int    `json:"pid"`
	// CPUSeconds is user plus system time during the run.
	CPUSeconds float64 `json:"cpu_s"`
	// PeakRSSKB is VmHWM after the run; PeakReset says whether it was
	// reset before the run (clear_refs), so that it is the run's peak and
	// not the process's since it started.
	PeakRSSKB int64 `json:"peak_rss_kb"`
	PeakReset bool  `json:"peak_reset"`
}

// parseStatCPU reads user plus system CPU time, in clock ticks, from the
// text of /proc/PID/stat (proc(5): utime and stime are fields 14 and 15;
// the command name, field 2, is in parentheses and may hold spaces and
// parentheses itself, so fields are counted from the last ')').
func parseStatCPU(stat string) (int64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("stat: no command name")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state): utime is f[11], stime f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("stat: %d fields after the command name, want at least 13", len(f))
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil || u < 0 || s < 0 {
		return 0, fmt.Errorf("stat: utime %q, stime %q are not counts", f[11], f[12])
	}
	return u + s, nil
}

// parseVmHWM reads VmHWM, in kB, from the text of /proc/PID/status.
func parseVmHWM(status string) (int64, error) {
	for line := range strings.SplitSeq(status, "\n") {
		rest, ok := strings.CutPrefix(line, "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("status: VmHWM %q is not N kB", strings.TrimSpace(rest))
		}
		return strconv.ParseInt(f[0], 10, 64)
	}
	return 0, errors.New("status: no VmHWM")
}

// parseLoad reads the 1-minute load average from /proc/loadavg's text.
func parseLoad(s string) float64 {
	f := strings.Fields(s)
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// parseReport reads loadgen's -json report: the result named like the
// operation it ran (one without "/") and its steps ("op/step").
func parseReport(data []byte) (clients int, main loadgenResult, steps []loadgenResult, err error) {
	var rep struct {
		Clients int             `json:"clients"`
		Results []loadgenResult `json:"results"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return 0, loadgenResult{}, nil, fmt.Errorf("loadgen report: %w", err)
	}
	found := 0
	for _, r := range rep.Results {
		if strings.Contains(r.Op, "/") {
			steps = append(steps, r)
			continue
		}
		main = r
		found++
	}
	if found != 1 || rep.Clients < 1 {
		return 0, loadgenResult{}, nil, fmt.Errorf("loadgen report: %d operations and %d clients, want one operation (run one -op at a time)", found, rep.Clients)
	}
	return rep.Clients, main, steps, nil
}

// procTarget is a -proc flag: a role and a process id.
type procTarget struct {
	name string
	pid  int
}

type procFlags []procTarget

func (p *procFlags) String() string { return fmt.Sprint(*p) }

func (p *procFlags) Set(v string) error {
	name, id, ok := strings.Cut(v, "=")
	pid, err := strconv.Atoi(id)
	if !ok || name == "" || err != nil || pid < 1 {
		return errors.New("want NAME=PID")
	}
	*p = append(*p, procTarget{name, pid})
	return nil
}

// procRoot is /proc (a variable for the tests).
var procRoot = "/proc"

func readProc(pid int, file string) (string, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), file))
	return string(b), err
}

// cpuTicks is a process's user plus system time so far.
func cpuTicks(pid int) (int64, error) {
	s, err := readProc(pid, "stat")
	if err != nil {
		return 0, err
	}
	return parseStatCPU(s)
}

// resetPeak resets a process's VmHWM to its current RSS (proc(5),
// clear_refs value 5); false when the kernel or permissions refuse.
func resetPeak(pid int) bool {
	return os.WriteFile(filepath.Join(procRoot, strconv.Itoa(pid), "clear_refs"), []byte("5"), 0) == nil
}

// measureCmd runs one loadgen command (after --) and appends its record to
// -out: loadgen's JSON report on its stdout, the CPU time and peak memory of
// each -proc around it.
func measureCmd(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("measure", flag.ContinueOnError)
	outFile := fs.String("out", "", "the JSON Lines file to append the record to")
	server := fs.String("server", "", "the server's name in the report")
	var procs procFlags
	fs.Var(&procs, "proc", "NAME=PID: a process of the server to measure (repeat; the first is the server itself)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cmd := fs.Args()
	switch {
	case *outFile == "" || *server == "":
		return errors.New("measure: -out and -server are required")
	case len(procs) == 0:
		return errors.New("measure: at least one -proc NAME=PID")
	case len(cmd) == 0:
		return errors.New("measure: the loadgen command follows the flags (after --)")
	}
	rec := record{Server: *server, Start: time.Now().UTC()}
	before := make([]int64, len(procs))
	for i, p := range procs {
		rec.Procs = append(rec.Procs, procUsage{Name: p.name, PID: p.pid, PeakReset: resetPeak(p.pid)})
		t, err := cpuTicks(p.pid)
		if err != nil {
			return fmt.Errorf("measure: process %s (%d): %w", p.name, p.pid, err)
		}
		before[i] = t
	}
	if l, err := os.ReadFile("/proc/loadavg"); err == nil {
		rec.Load[0] = parseLoad(string(l))
	}

	var stdout, stderr bytes.Buffer
	c := exec.CommandContext(ctx, cmd[0], cmd[1:]...)
	c.Stdout, c.Stderr = &stdout, io.MultiWriter(os.Stderr, &stderr)
	runErr := c.Run()

	for i, p := range procs {
		t, err := cpuTicks(p.pid)
		if err != nil {
			return fmt.Errorf("measure: process %s (%d) after the run: %w", p.name, p.pid, err)
		}
		rec.Procs[i].CPUSeconds = float64(t-before[i]) / clockTicks
		if st, err := readProc(p.pid, "status"); err == nil {
			rec.Procs[i].PeakRSSKB, _ = parseVmHWM(st)
		}
	}
	if l, err := os.ReadFile("/proc/loadavg"); err == nil {
		rec.Load[1] = parseLoad(string(l))
	}
	var err error
	if rec.Clients, rec.Result, rec.Steps, err = parseReport(stdout.Bytes()); err != nil {
		// No report: the run's operation and clients from its flags, the
		// reason from loadgen's last line.
		rec.Result.Op = flagValue(cmd[1:], "op")
		rec.Clients, _ = strconv.Atoi(flagValue(cmd[1:], "c"))
		rec.Error = err.Error()
		if runErr != nil {
			rec.Error = fmt.Sprintf("%v (loadgen: %v: %s)", err, runErr, lastLine(stderr.String()))
		}
	}
	rec.Op = rec.Result.Op
	line, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(*outFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	writeRecordLine(out, rec)
	return nil
}

// flagValue is the value of -name (or --name) in args, "" when absent.
func flagValue(args []string, name string) string {
	for i, a := range args {
		a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// lastLine is the last non-blank line of s, at most 300 bytes.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	l := lines[len(lines)-1]
	if len(l) > 300 {
		l = l[:300] + "..."
	}
	return l
}

// writeRecordLine prints one run for a person.
func writeRecordLine(w io.Writer, r record) {
	if r.Error != "" {
		fmt.Fprintf(w, "%-22s %-13s c=%-3d no report: %s\n", r.Server, r.Op, r.Clients, r.Error)
		return
	}
	res := r.Result
	fmt.Fprintf(w, "%-22s %-13s c=%-3d %8.1f/s  p50 %7.2fms  p99 %8.2fms  errors %d/%d  cpu %s  peak %s  (load %.1f→%.1f)\n",
		r.Server, res.Op, r.Clients, res.PerSecond, ms(res.P50NS), ms(res.P99NS), res.Errors, res.OK+res.Errors,
		cpuPerOp(r, 0), peakMB(r, 0), r.Load[0], r.Load[1])
	if res.FirstError != "" {
		fmt.Fprintf(w, "%-22s first error: %s\n", "", res.FirstError)
	}
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

// cpuPerOp is process i's CPU milliseconds per successful operation.
func cpuPerOp(r record, i int) string {
	if i >= len(r.Procs) || r.Result.OK == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f ms", r.Procs[i].CPUSeconds*1000/float64(r.Result.OK))
}

// peakMB is process i's peak resident memory in MB.
func peakMB(r record, i int) string {
	if i >= len(r.Procs) || r.Procs[i].PeakRSSKB == 0 {
		return "-"
	}
	s := fmt.Sprintf("%.0f MB", float64(r.Procs[i].PeakRSSKB)/1024)
	if !r.Procs[i].PeakReset {
		s += "*"
	}
	return s
}
