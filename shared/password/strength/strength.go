// Package strength refuses passwords that are easy to guess, as NIST
// SP 800-63B §5.1.1.2 asks of a verifier: a new password is compared with
// lists of commonly used or compromised values, dictionary words, repeated
// or sequential characters, and context-specific words (the service's
// name, the username).
//
// The estimate is zxcvbn's (github.com/trustelem/zxcvbn, a Go port of
// Dropbox's zxcvbn with its frequency lists: 30,000 common passwords from
// leaked sets, English words, names and surnames), not a list kept here.
// A password whose estimated number of guesses is below MinGuesses is
// refused (zxcvbn's score below 3).
package strength

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
)

// MinGuesses is the fewest guesses, as zxcvbn estimates them, a password
// must need: 10^8, the lower bound of zxcvbn's score 3 ("safely
// unguessable: moderate protection from an offline slow-hash attack").
const MinGuesses = 1e8

// MaxRunes is how much of a password the estimate reads. zxcvbn's matchers
// are superlinear (a 1,000-character repeated pattern takes tens of
// seconds), so only the first MaxRunes runes are estimated: a password
// whose first 64 characters are easy to guess is refused however it goes
// on, and one whose first 64 are not is accepted.
const MaxRunes = 64

// Examples are passphrases this project's documentation has shown as
// examples, refused as context-specific words: a reader who pastes one
// keeps a password that every other reader knows.
var Examples = []string{
	"correct horse battery staple",
	"choose a long password",
}

// Check returns nil when pw needs at least MinGuesses guesses, and
// otherwise an error whose message says in plain words why it is refused,
// without repeating it (the caller puts "password" before it). context
// holds the words an attacker would try first for this account: the
// username, the service's name, its host.
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
	if distinct(pw) < minDistinct {
		return fmt.Errorf("is too easy to guess: it repeats a few characters; choose a longer one, for example four or more unrelated words")
	}
	inputs := make([]string, 0, len(context)+len(Examples))
	for _, c := range context {
		if c = strings.TrimSpace(c); c != "" {
			inputs = append(inputs, c)
		}
	}
	inputs = append(inputs, Examples...)
	r := zxcvbn.PasswordStrength(pw, inputs)
	if r.Guesses >= MinGuesses {
		return nil
	}
	return fmt.Errorf("is too easy to guess: %s; choose a longer one, for example four or more unrelated words", reason(r))
}

// minDistinct is the fewest different characters a password must have.
// zxcvbn misses a repeated non-ASCII character and takes half a second over
// 64 repeated digits; this cheap check refuses both first.
const minDistinct = 5

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

// reason names the weakest part zxcvbn found, in plain words.
func reason(r zxcvbn.Result) string {
	for _, m := range r.Sequence {
		if m.Pattern == "dictionary" {
			switch m.DictionaryName {
			case "user_inputs":
				return "it contains the username, the service's name or an example from the documentation"
			case "passwords":
				return "it is, or is built on, one of the most commonly used passwords"
			}
		}
	}
	for _, m := range r.Sequence {
		switch m.Pattern {
		case "repeat":
			return "it repeats characters or words"
		case "sequence", "spatial":
			return "it follows a sequence or a keyboard pattern"
		case "date", "regex":
			return "it is built on a date or a year"
		case "dictionary":
			return "it is made of a few common words or names"
		}
	}
	return "it is short and predictable"
}
