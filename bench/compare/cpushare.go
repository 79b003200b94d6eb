package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"time"

	"github.com/google/pprof/profile"
)

// A part is where a CPU sample of the local runner is counted: the first
// part, in this order, that one of the sample's frames belongs to. So the
// emulator's own work, called by the SDK, is the emulator's; the SDK's
// work around it is the SDK's; a handler's is the handler's only when it
// is in none of the parts above. Allocation and the GC assists it pays are
// counted where they are made; the GC's background workers are a part of
// their own.
var parts = []struct {
	name  string
	frame *regexp.Regexp
}{
	{"GC, background (mark, sweep, scavenge)", regexp.MustCompile(`^runtime\.(gcBgMarkWorker|bgsweep|bgscavenge)`)},
	{"embedded emulator (kumo)", regexp.MustCompile(`^github\.com/sivchari/kumo/`)},
	{"emulator's journal and in-process transport", regexp.MustCompile(`/shared/store/embedded\.`)},
	{"AWS SDK (requests, responses, middleware)", regexp.MustCompile(`^github\.com/aws/(aws-sdk-go-v2|smithy-go)/`)},
	{"signature (sign, verify)", regexp.MustCompile(`^crypto/(ecdsa|rsa|internal/fips140/(ecdsa|rsa|nistec|bigmod))\.`)},
	{"request log (log/slog)", regexp.MustCompile(`^log/slog\.`)},
	{"handlers and store (this project)", regexp.MustCompile(`^github\.com/applinks/applinks/(functions|shared)/`)},
	{"HTTP server (net/http, sockets)", regexp.MustCompile(`^(net/http\.|net\.|internal/poll\.|bufio\.)`)},
	{"runtime and the rest (scheduler, syscalls)", nil}, // every sample no part above took
}

// cpushareCmd is `compare cpushare [-ops N] PROFILE`: a CPU profile of the
// local runner (PPROF_ADDR's /debug/pprof/profile) split into parts, as
// shares, and as CPU time per operation when -ops gives the operations the
// profile covers.
func cpushareCmd(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("cpushare", flag.ContinueOnError)
	ops := fs.Float64("ops", 0, "operations done during the profile (for CPU per operation)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: compare cpushare [-ops N] PROFILE")
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	shares, total, err := cpuShares(p)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	perOp := func(d time.Duration) string {
		if *ops <= 0 {
			return ""
		}
		return fmt.Sprintf("%.0f µs", float64(d.Microseconds()) / *ops)
	}
	fmt.Fprintf(out, "| part | share | CPU per op |\n|---|---:|---:|\n")
	for i, pt := range parts {
		fmt.Fprintf(out, "| %s | %.1f%% | %s |\n", pt.name, 100*float64(shares[i])/float64(total), perOp(shares[i]))
	}
	fmt.Fprintf(out, "| all (%.2f s of CPU) | 100%% | %s |\n", total.Seconds(), perOp(total))
	return nil
}

// cpuShares sums p's CPU time by part (parts' order).
func cpuShares(p *profile.Profile) ([]time.Duration, time.Duration, error) {
	idx := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" && st.Unit == "nanoseconds" {
			idx = i
		}
	}
	if idx < 0 {
		return nil, 0, errors.New("not a CPU profile (no cpu/nanoseconds sample type)")
	}
	shares := make([]time.Duration, len(parts))
	var total time.Duration
	for _, s := range p.Sample {
		d := time.Duration(s.Value[idx])
		total += d
		shares[partOf(s)] += d
	}
	if total == 0 {
		return nil, 0, errors.New("no CPU samples")
	}
	return shares, total, nil
}

// partOf is the index of the first part one of s's frames belongs to, or
// of the last part (no pattern) when none.
func partOf(s *profile.Sample) int {
	for i, pt := range parts {
		if pt.frame == nil {
			return i
		}
		for _, loc := range s.Location {
			for _, ln := range loc.Line {
				if ln.Function != nil && pt.frame.MatchString(ln.Function.Name) {
					return i
				}
			}
		}
	}
	return len(parts) - 1
}
