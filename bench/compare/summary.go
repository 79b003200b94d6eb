package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// oursPrefix names this project's servers in the records (applinks-rs256,
// applinks-es256-ddb, ...); the others are the peers.
const oursPrefix = "applinks"

// readRecords reads measure's JSON Lines.
func readRecords(r io.Reader) ([]record, error) {
	var recs []record
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	line := 0
	for sc.Scan() {
		line++
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var rec record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		recs = append(recs, rec)
	}
	return recs, sc.Err()
}

func summaryCmd(args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("summary: name the records files (measure's -out)")
	}
	var recs []record
	for _, p := range args {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		rs, err := readRecords(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		recs = append(recs, rs...)
	}
	writeSummary(out, recs)
	return nil
}

// firstSeen lists the distinct values of key over recs in order of first
// appearance.
func firstSeen[T comparable](recs []record, key func(record) T) []T {
	var out []T
	for _, r := range recs {
		if k := key(r); !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// writeSummary writes the records as Markdown: for each operation, a
// table of every run (clients, then servers, in the order they ran), then
// the throughput of each of this project's servers against each peer.
func writeSummary(w io.Writer, recs []record) {
	var failed []record
	var ok []record
	for _, r := range recs {
		if r.Error != "" {
			failed = append(failed, r)
		} else {
			ok = append(ok, r)
		}
	}
	servers := firstSeen(ok, func(r record) string { return r.Server })
	for _, op := range firstSeen(ok, func(r record) string { return r.Op }) {
		fmt.Fprintf(w, "\n#### %s\n\n", op)
		fmt.Fprintln(w, "| clients | server | ops/s | p50 ms | p99 ms | errors | server CPU per op | peak memory | other processes (CPU per op, peak) | load before → after |")
		fmt.Fprintln(w, "|---:|---|---:|---:|---:|---:|---:|---:|---|---|")
		byC := filter(ok, func(r record) bool { return r.Op == op })
		for _, c := range firstSeen(byC, func(r record) int { return r.Clients }) {
			for _, s := range servers {
				for _, r := range filter(byC, func(r record) bool { return r.Clients == c && r.Server == s }) {
					res := r.Result
					var others []string
					for i := 1; i < len(r.Procs); i++ {
						others = append(others, fmt.Sprintf("%s %s, %s", r.Procs[i].Name, cpuPerOp(r, i), peakMB(r, i)))
					}
					fmt.Fprintf(w, "| %d | %s | %s | %.2f | %.2f | %s | %s | %s | %s | %.1f → %.1f |\n",
						c, s, rate(res.PerSecond), ms(res.P50NS), ms(res.P99NS), errorShare(res),
						cpuPerOp(r, 0), peakMB(r, 0), strings.Join(others, "; "), r.Load[0], r.Load[1])
				}
			}
		}
		writeRatios(w, byC, servers)
	}
	if slices.ContainsFunc(ok, func(r record) bool {
		return slices.ContainsFunc(r.Procs, func(p procUsage) bool { return !p.PeakReset })
	}) {
		fmt.Fprintln(w, "\n\\* peak since the process started: its peak could not be reset before the run.")
	}
	for _, r := range failed {
		fmt.Fprintf(w, "\nNo report: %s, %s, %d clients: %s\n", r.Server, r.Op, r.Clients, r.Error)
	}
	for _, r := range ok {
		if r.Result.FirstError != "" {
			fmt.Fprintf(w, "\nFirst error of %s, %s, %d clients: %s\n", r.Server, r.Op, r.Clients, r.Result.FirstError)
		}
	}
}

// writeRatios writes, for each number of clients, each of this project's
// servers' successful throughput divided by each peer's (first run of each).
func writeRatios(w io.Writer, recs []record, servers []string) {
	var ours, peers []string
	for _, s := range servers {
		if strings.HasPrefix(s, oursPrefix) {
			ours = append(ours, s)
		} else {
			peers = append(peers, s)
		}
	}
	if len(ours) == 0 || len(peers) == 0 {
		return
	}
	fmt.Fprintf(w, "\n| clients | server |")
	for _, p := range peers {
		fmt.Fprintf(w, " ÷ %s |", p)
	}
	fmt.Fprintf(w, "\n|---:|---|%s\n", strings.Repeat("---:|", len(peers)))
	for _, c := range firstSeen(recs, func(r record) int { return r.Clients }) {
		first := func(s string) (record, bool) {
			i := slices.IndexFunc(recs, func(r record) bool { return r.Clients == c && r.Server == s })
			if i < 0 {
				return record{}, false
			}
			return recs[i], true
		}
		for _, o := range ours {
			ro, ok := first(o)
			if !ok {
				continue
			}
			fmt.Fprintf(w, "| %d | %s |", c, o)
			for _, p := range peers {
				rp, ok := first(p)
				if !ok || rp.Result.PerSecond == 0 {
					fmt.Fprint(w, " - |")
					continue
				}
				fmt.Fprintf(w, " %.2f |", ro.Result.PerSecond/rp.Result.PerSecond)
			}
			fmt.Fprintln(w)
		}
	}
}

func filter(recs []record, keep func(record) bool) []record {
	var out []record
	for _, r := range recs {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// rate formats operations per second with a thousands separator.
func rate(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// errorShare is "n (p%)" of the operations that failed, "0" when none.
func errorShare(r loadgenResult) string {
	if r.Errors == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%.0f%%)", r.Errors, 100*float64(r.Errors)/float64(r.Errors+r.OK))
}
