//go:build ignore

// gen writes common.txt.gz, the lists Check refuses, from zxcvbn's frequency
// data (github.com/trustelem/zxcvbn v1.0.1, a Go port of Dropbox's zxcvbn,
// MIT licence): the first 30,000 entries of its passwords list (counted in
// leaked password sets) and of its English Wikipedia word list, as zxcvbn's
// own build_frequency_lists.py truncates them. Run with `go generate` (it
// asks the Go module proxy for that module version, which go.mod does not
// need); the output is committed, so the build needs nothing.
package main

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const (
	module  = "github.com/trustelem/zxcvbn@v1.0.1"
	perList = 30000
)

func main() {
	out, err := exec.Command("go", "mod", "download", "-json", module).Output()
	if err != nil {
		fail("go mod download %s: %v", module, err)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		fail("go mod download %s: no directory", module)
	}
	f, err := os.Create("common.txt.gz")
	if err != nil {
		fail("%v", err)
	}
	z, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
	w := bufio.NewWriter(z)
	seen := map[string]bool{}
	var words []string
	for _, name := range []string{"passwords.txt", "english_wikipedia.txt"} {
		in, err := os.Open(filepath.Join(m.Dir, "data", name))
		if err != nil {
			fail("%v", err)
		}
		s := bufio.NewScanner(in)
		for n := 0; n < perList && s.Scan(); n++ {
			word := strings.ToLower(strings.Fields(s.Text())[0])
			if !seen[word] {
				seen[word] = true
				words = append(words, word)
			}
		}
		in.Close()
	}
	// Sorted and front-coded (frontCode), the list takes half the bytes
	// in the binary that it took in the lists' order.
	slices.Sort(words)
	prev := ""
	for _, word := range words {
		fmt.Fprintln(w, frontCode(prev, word))
		prev = word
	}
	if err := w.Flush(); err != nil {
		fail("%v", err)
	}
	if err := z.Close(); err != nil {
		fail("%v", err)
	}
	if err := f.Close(); err != nil {
		fail("%v", err)
	}
	fmt.Printf("common.txt.gz: %d words from %s\n", len(seen), module)
}

// frontCode writes word as the number of its leading bytes shared with
// prev (one digit, at most 9) and the rest of it: "swordfish" after
// "sword" is "5fish". strength's reader reverses it.
func frontCode(prev, word string) string {
	n := 0
	for n < 9 && n < len(prev) && n < len(word) && prev[n] == word[n] {
		n++
	}
	return strconv.Itoa(n) + word[n:]
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "gen: "+format+"\n", a...)
	os.Exit(1)
}
