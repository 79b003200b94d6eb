package shared

import (
	"os"
	"os/exec"
	"path/filepath"
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

// TestReadmeGoOIDCExample: the README's go-oidc relying party compiles as
// it is written there (the block is taken out of the README, its list
// indentation removed, and built with the module's go-oidc and x/oauth2)
// and vets clean.
func TestReadmeGoOIDCExample(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "- Example: a complete relying party with unmodified `github.com/coreos/go-oidc/v3`")
	if !ok {
		t.Fatal("README: the OpenID Connect section has no go-oidc example")
	}
	_, block, ok := strings.Cut(section, "```go\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("README: the go-oidc example has no go code block")
	}
	var code strings.Builder
	for l := range strings.Lines(block) {
		code.WriteString(strings.TrimPrefix(l, "  "))
	}
	for _, want := range []string{"package main", "oidc.NewProvider", "op.Verifier", "conf.Exchange", "oidc.Nonce", "oauth2.S256ChallengeOption"} {
		if !strings.Contains(code.String(), want) {
			t.Errorf("README example lacks %s", want)
		}
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "main.go")
	if err := os.WriteFile(file, []byte(code.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command to build the README example: %v", err)
	}
	// Run from the module root, so that the example's imports resolve to
	// the module's requirements (go.mod), as a copy into a project using
	// the same versions would.
	for _, args := range [][]string{{"build", "-o", filepath.Join(dir, "rp"), file}, {"vet", file}} {
		cmd := exec.Command(goBin, args...)
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("go %s of the README example: %v\n%s\n%s", args[0], err, out, code.String())
		}
	}
}
