package shared

import (
	"fmt"
	"strings"
	"testing"
)

func TestCheckName(t *testing.T) {
	tests := []struct {
		name, in, want string // want "" = accepted
	}{
		{"ascii", "Jenkins CI", ""},
		{"empty", "", ""},
		{"latin accents", "Zoë's café", ""},
		{"arabic text", "تطبيق", ""},
		{"hebrew text", "יישום", ""},
		{"cjk", "應用程式", ""},
		{"emoji without joiner", "CI 🚀", ""},
		{"neighbour U+200A hair space", "a\u200ab", ""},
		{"neighbour U+2010 hyphen", "a\u2010b", ""},
		{"neighbour U+2029 paragraph separator is not this rule's", "a\u2029b", ""},
		{"neighbour U+206A", "a\u206ab", ""},
		{"neighbour U+FEFE", "a\ufefeb", ""},
		{"RLO spoof", "abc\u202egpj.exe", "must not contain the bidirectional control character U+202E (character 4)"},
		{"U+061C", "\u061cname", "bidirectional control character U+061C (character 1)"},
		{"U+200B", "ad\u200bmin", "zero-width character U+200B (character 3)"},
		{"U+200C", "a\u200c", "zero-width character U+200C (character 2)"},
		{"U+200D emoji joiner", "👨\u200d👩", "zero-width character U+200D (character 2)"},
		{"U+200E", "a\u200e", "bidirectional control character U+200E"},
		{"U+200F", "a\u200f", "bidirectional control character U+200F"},
		{"U+202A", "\u202a", "bidirectional control character U+202A"},
		{"U+202B", "\u202b", "bidirectional control character U+202B"},
		{"U+202C", "\u202c", "bidirectional control character U+202C"},
		{"U+202D", "\u202d", "bidirectional control character U+202D"},
		{"U+2066", "\u2066", "bidirectional control character U+2066"},
		{"U+2067", "\u2067", "bidirectional control character U+2067"},
		{"U+2068", "\u2068", "bidirectional control character U+2068"},
		{"U+2069", "\u2069", "bidirectional control character U+2069"},
		{"BOM", "\ufeffname", "zero-width character U+FEFF (character 1)"},
		{"first one reported", "é\u2066x\u200b", "U+2066 (character 2)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckName(tt.in)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("CheckName(%q) = %v, want nil", tt.in, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("CheckName(%q) = %v, want an error containing %q", tt.in, err, tt.want)
			}
		})
	}
	// Every character of the ranges is refused, nothing around them.
	for _, r := range [][2]rune{{0x200b, 0x200f}, {0x202a, 0x202e}, {0x2066, 0x2069}, {0x061c, 0x061c}, {0xfeff, 0xfeff}} {
		for c := r[0]; c <= r[1]; c++ {
			if CheckName("x"+string(c)) == nil {
				t.Errorf("CheckName(U+%04X): got nil, want an error", c)
			}
		}
		for _, c := range []rune{r[0] - 1, r[1] + 1} {
			if err := CheckName(string(c)); err != nil {
				t.Errorf("CheckName(U+%04X) = %v, want nil", c, err)
			}
		}
	}
	if got := fmt.Sprint(CheckName("\u202e")); strings.HasSuffix(got, ".") || got != strings.ToLower(got[:1])+got[1:] {
		t.Errorf("error %q: want lowercase, no final punctuation", got)
	}
}

func TestCheckUsername(t *testing.T) {
	tests := []struct {
		name, in, want string // want "" = accepted
	}{
		{"letters", "alice", ""},
		{"every kind", "Alice.O-K_1@example", ""},
		{"longest", strings.Repeat("a", MaxUsernameLen), ""},
		{"empty", "", "must not be empty"},
		{"too long", strings.Repeat("a", MaxUsernameLen+1), "is 101 characters long, above the maximum of 100"},
		{"space", "a b", `must contain only letters, digits and . _ @ - (found " " at character 2)`},
		{"slash", "a/b", `found "/" at character 2`},
		{"Kelvin sign", "\u212Aim", `found "\u212a" (U+212A) at character 1`},
		{"fullwidth letter", "\uff41lice", "(U+FF41) at character 1"},
		{"Cyrillic a", "\u0430lice", "(U+0430) at character 1"},
		{"dotless i", "adm\u0131n", "(U+0131) at character 4"},
		{"long s", "\u017fam", "(U+017F) at character 1"},
		{"combining mark", "e\u0301", "(U+0301) at character 2"},
		{"non-ASCII, long", strings.Repeat("\u212A", 60), "(U+212A) at character 1"},
		{"invalid UTF-8", "a\xffb", "(U+FFFD) at character 2"},
		{"zero-width space", "ad\u200bmin", "must not contain the zero-width character U+200B (character 3)"},
		{"NUL", "a\x00", `found "\x00" (U+0000) at character 2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckUsername(tt.in)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("CheckUsername(%q) = %v, want nil", tt.in, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("CheckUsername(%q) = %v, want an error containing %q", tt.in, err, tt.want)
			}
		})
	}
}
