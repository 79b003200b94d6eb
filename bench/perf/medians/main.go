// Command medians summarises `go test -bench` output the way BENCHMARKS.md
// reports it: for every benchmark, the median of each metric over the
// repeated runs (-count), as a Markdown table. It reads the output on
// standard input (several files may be concatenated) and needs nothing
// outside the standard library.
//
//	go test -run '^$' -bench . -benchmem -count 5 ./shared | go run ./bench/perf/medians
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

func main() {
	rows, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "medians:", err)
		os.Exit(1)
	}
	write(os.Stdout, rows)
}

// row is one benchmark: its runs' values per unit, in first-seen order.
type row struct {
	name   string
	units  []string
	values map[string][]float64
}

// procSuffix is the -GOMAXPROCS suffix go test appends to names.
var procSuffix = regexp.MustCompile(`-\d+$`)

// parse reads benchmark result lines ("BenchmarkX-2  N  v unit  v unit
// ...") and ignores everything else. A result whose name and numbers were
// split by other output (a log line written between them) is joined again:
// a name line without numbers names the next line that starts with the
// iteration count.
func parse(r io.Reader) ([]*row, error) {
	var rows []*row
	byName := map[string]*row{}
	pending := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if strings.HasPrefix(f[0], "Benchmark") {
			if len(f) < 4 || !isCount(f[1]) {
				pending = f[0] // the numbers follow on a later line
				continue
			}
		} else if pending != "" && isCount(f[0]) {
			f = append([]string{pending}, f...)
		} else {
			continue
		}
		pending = ""
		if len(f) < 4 || len(f)%2 != 0 {
			continue
		}
		name := procSuffix.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), "")
		rw := byName[name]
		if rw == nil {
			rw = &row{name: name, values: map[string][]float64{}}
			byName[name] = rw
			rows = append(rows, rw)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%s: value %q: %w", f[0], f[i], err)
			}
			unit := f[i+1]
			if _, ok := rw.values[unit]; !ok {
				rw.units = append(rw.units, unit)
			}
			rw.values[unit] = append(rw.values[unit], v)
		}
	}
	return rows, sc.Err()
}

// isCount reports whether s is an iteration count.
func isCount(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// median of values (not empty).
func median(values []float64) float64 {
	s := slices.Clone(values)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// format prints v compactly: integers without decimals, small values with
// three significant digits.
func format(v float64) string {
	switch {
	case v == float64(int64(v)) && v >= 100:
		return strconv.FormatInt(int64(v), 10)
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

// write prints one Markdown table per set of units, so that benchmarks
// reporting the same metrics share a table.
func write(w io.Writer, rows []*row) {
	var order []string
	groups := map[string][]*row{}
	for _, r := range rows {
		key := strings.Join(r.units, " ")
		if r.units != nil && r.units[0] == "ns/op" && len(r.values["ns/op"]) > 0 && median(r.values["ns/op"]) == 0 {
			// A benchmark that zeroes ns/op reports its own metrics only.
			key = strings.Join(r.units[1:], " ")
		}
		if _, ok := groups[key]; !ok {
			order = append(order, key)
		}
		groups[key] = append(groups[key], r)
	}
	for i, key := range order {
		if i > 0 {
			fmt.Fprintln(w)
		}
		units := strings.Fields(key)
		fmt.Fprintf(w, "| benchmark | runs | %s |\n", strings.Join(units, " | "))
		fmt.Fprintf(w, "|---|---:|%s\n", strings.Repeat("---:|", len(units)))
		for _, r := range groups[key] {
			cells := make([]string, len(units))
			n := 0
			for j, u := range units {
				cells[j] = "-"
				if vs := r.values[u]; len(vs) > 0 {
					cells[j] = format(median(vs))
					n = max(n, len(vs))
				}
			}
			fmt.Fprintf(w, "| %s | %d | %s |\n", r.name, n, strings.Join(cells, " | "))
		}
	}
}
