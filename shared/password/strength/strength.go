// Package strength refuses passwords that are easy to guess, as NIST
// SP 800-63B §5.1.1.2 asks of a verifier: a new password is compared with
// a list of commonly used or compromised values, dictionary words,
// repetitive or sequential characters, and context-specific words (the
// service's name, the username).
//
// The list is not kept by hand: common.txt.gz holds the first 30,000
// entries of zxcvbn's passwords list (counted in leaked password sets) and
// of its English Wikipedia word list, from github.com/trustelem/zxcvbn
// v1.0.1 (a Go port of Dropbox's zxcvbn, MIT licence), written by
// `go generate` (gen.go). Only the list is taken, not zxcvbn's estimator:
// its nine frequency lists add 2.5 MB to a binary and 30 ms and 11 MB to a
// cold start; this list, sorted and front-coded, adds 0.1 MB and is read
// on the first check.
package strength

import (
	"bufio"
	"compress/gzip"
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

//go:generate go run gen.go

// commonGz is a string, not a []byte: the linker puts an embedded string
// in the read-only segment and a []byte in the writable data, and the
// admin bootstrap's size budget is met only with it read-only.
//
//go:embed common.txt.gz
var commonGz string

// common is the list, read once, on the first check.
var common = sync.OnceValue(func() map[string]struct{} {
	m := make(map[string]struct{}, 52000)
	z, err := gzip.NewReader(strings.NewReader(commonGz))
	if err != nil {
		panic("strength: common.txt.gz: " + err.Error()) // embedded at build time: a broken file is a build error
	}
	s := bufio.NewScanner(z)
	// Each line is front-coded (gen.go): a digit, the length of the
	// prefix shared with the previous word, then the rest of the word.
	prev := ""
	for s.Scan() {
		line := s.Text()
		if line == "" || line[0] < '0' || line[0] > '9' || int(line[0]-'0') > len(prev) {
			panic("strength: common.txt.gz: a line is not front-coded")
		}
		word := prev[:line[0]-'0'] + line[1:]
		m[word] = struct{}{}
		prev = word
	}
	if s.Err() != nil || len(m) == 0 {
		panic("strength: common.txt.gz cannot be read")
	}
	return m
})

// MaxRunes is how much of a password the checks read: a password whose
// first 64 characters are easy to guess is refused however it goes on.
const MaxRunes = 64

// Examples are passphrases this project's documentation has shown as
// examples, refused as context-specific words: a reader who pastes one
// keeps a password that every other reader knows.
var Examples = []string{
	"correct horse battery staple",
	"choose a long password",
}

// minDistinct is the fewest different characters a password must have.
const minDistinct = 5

// advice ends every refusal.
const advice = "; choose a longer one, for example four or more unrelated words"

// Check returns nil when pw is not easy to guess, and otherwise an error
// whose message says in plain words why it is refused, without repeating
// it (the caller puts "password" before it). context holds the words an
// attacker would try first for this account: the username, the service's
// name, its host.
func Check(pw string, context ...string) error {
	if !utf8.ValidString(pw) {
		return fmt.Errorf("is not valid UTF-8 text")
	}
	if n := 0; utf8.RuneCountInString(pw) > MaxRunes {
		for i := range pw {
			if n == MaxRunes {
				pw = pw[:i]
				break
			}
			n++
		}
	}
	lower := strings.ToLower(pw)
	squeezed := squeeze(lower)
	if distinct(lower) < minDistinct {
		return fmt.Errorf("is too easy to guess: it repeats a few characters" + advice)
	}
	for _, ex := range Examples {
		if strings.Contains(squeezed, squeeze(ex)) {
			return fmt.Errorf("is too easy to guess: it contains an example from the documentation" + advice)
		}
	}
	for _, c := range context {
		if c = squeeze(strings.ToLower(c)); utf8.RuneCountInString(c) >= 3 && strings.Contains(squeezed, c) {
			return fmt.Errorf("is too easy to guess: it contains the username or the service's name" + advice)
		}
	}
	if repeated(squeezed) {
		return fmt.Errorf("is too easy to guess: it repeats characters or words" + advice)
	}
	if sequence(squeezed) {
		return fmt.Errorf("is too easy to guess: it follows a sequence" + advice)
	}
	list := common()
	for _, v := range variants(lower) {
		if _, ok := list[v]; ok || builtOn(list, v) {
			return fmt.Errorf("is too easy to guess: it is, or is built on, one of the most commonly used passwords or words" + advice)
		}
	}
	return nil
}

// builtOn reports whether s is a listed word of at least 4 characters
// with, before or after it, only a few different characters
// ("password2024", "dragon!!!!", "2024football").
func builtOn(list map[string]struct{}, s string) bool {
	for i := 4; i < len(s); i++ {
		if _, ok := list[s[:i]]; ok && distinct(s[i:]) < minDistinct {
			return true
		}
		if _, ok := list[s[len(s)-i:]]; ok && distinct(s[:len(s)-i]) < minDistinct {
			return true
		}
	}
	return false
}

// squeeze drops spaces, so that "Correct Horse" and "correcthorse" are one.
func squeeze(s string) string { return strings.Join(strings.Fields(s), "") }

// distinct counts the different runes of s, stopping at minDistinct.
func distinct(s string) int {
	seen := make(map[rune]bool, minDistinct)
	for _, r := range s {
		seen[r] = true
		if len(seen) == minDistinct {
			break
		}
	}
	return len(seen)
}

// repeated reports whether s is one shorter string over and over
// ("hunter2hunter2", "abcabcabc"), a trailing part of it allowed.
func repeated(s string) bool {
	for n := 1; n <= len(s)/2; n++ {
		if strings.HasPrefix(strings.Repeat(s[:n], len(s)/n+1), s) {
			return true
		}
	}
	return false
}

// sequence reports whether s is a run of consecutive characters, up or
// down ("abcdefgh", "98765432").
func sequence(s string) bool {
	r := []rune(s)
	if len(r) < 3 {
		return false
	}
	step := r[1] - r[0]
	if step != 1 && step != -1 {
		return false
	}
	for i := 2; i < len(r); i++ {
		if r[i]-r[i-1] != step {
			return false
		}
	}
	return true
}

// leet undoes the usual substitutions of letters by digits and symbols.
var leet = strings.NewReplacer("@", "a", "4", "a", "0", "o", "3", "e", "$", "s", "5", "s", "7", "t", "!", "i", "1", "i", "|", "l", "+", "t")

// variants are the forms of a lower-cased password looked up in the list:
// itself, without the digits and symbols people add before or after a
// word ("password123", "!dragon"), and the same with the usual
// substitutions undone ("p@ssw0rd"; "1" read as "i" and as "l").
func variants(s string) []string {
	trim := func(v string) string {
		return strings.TrimFunc(v, func(r rune) bool { return !unicode.IsLetter(r) })
	}
	out := []string{s, trim(s)}
	for _, v := range []string{leet.Replace(s), strings.ReplaceAll(leet.Replace(strings.ReplaceAll(s, "1", "l")), "1", "l")} {
		out = append(out, v, trim(v))
	}
	return out
}
