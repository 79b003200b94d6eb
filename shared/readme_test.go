package shared

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeScopeTable: the README's scope table is the default catalog,
// in order, with its descriptions and implications.
func TestReadmeScopeTable(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(b), "\n## Scopes\n")
	section, _, _ = strings.Cut(section, "\n## ")
	row := regexp.MustCompile("(?m)^\\| `([A-Z_]+)` \\|([^|]*)\\|([^|]*)\\|$")
	var got []string
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		got = append(got, m[1]+": "+strings.TrimSpace(m[2])+": "+strings.ReplaceAll(strings.TrimSpace(m[3]), "`", ""))
	}
	var want []string
	for _, s := range DefaultCatalog().Scopes() {
		want = append(want, s.Name+": "+s.Description+": "+strings.Join(s.Implies, ", "))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("README scope table:\n%s\nwant (DefaultCatalog):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
