package shared

import (
	"fmt"
	"unicode/utf8"
)

// MaxUsernameLen is the longest username, in characters (bytes too: the
// username alphabet is ASCII).
const MaxUsernameLen = 100

// CheckUsername checks s against the username alphabet: 1 to
// MaxUsernameLen characters, each an ASCII letter or digit or one of
// ". _ @ -". It returns nil when s is a username; otherwise an error worded
// to follow "username: " that names the first character outside the
// alphabet and its position (in characters, from 1).
//
// The alphabet is what makes usernames unambiguous: it holds no look-alike
// letters (U+212A KELVIN SIGN looks like K, and Unicode lower-cases it to
// an ASCII k; Cyrillic а looks like a), and lower-casing ASCII letters is
// the whole of its case folding (store.UsernameKey). Every input that names
// a user (the sign-in form, the admin API's paths and bodies) is checked
// with it before any lookup, so no other string reaches one.
func CheckUsername(s string) error {
	if s == "" {
		return fmt.Errorf("must not be empty")
	}
	if err := CheckName(s); err != nil {
		return err
	}
	pos := 0
	for i, c := range s {
		pos++
		if c < utf8.RuneSelf && IsUsernameChar(byte(c)) {
			continue
		}
		if c >= utf8.RuneSelf || c < 0x20 || c == 0x7f {
			if c == utf8.RuneError {
				if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
					return fmt.Errorf("must contain only letters, digits and . _ @ - (found a byte that is not UTF-8 (U+%04X) at character %d)", c, pos)
				}
			}
			// Escaped (%+q), so that the message shows what it is.
			return fmt.Errorf("must contain only letters, digits and . _ @ - (found %+q (U+%04X) at character %d)", string(c), c, pos)
		}
		return fmt.Errorf("must contain only letters, digits and . _ @ - (found %q at character %d)", string(c), pos)
	}
	if len(s) > MaxUsernameLen {
		return fmt.Errorf("is %d characters long, above the maximum of %d", len(s), MaxUsernameLen)
	}
	return nil
}

// IsUsernameChar reports whether c is in the username alphabet: an ASCII
// letter or digit, or one of ". _ @ -".
func IsUsernameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '@' || c == '-'
}

// CheckName checks a name that people read (a link's name on the consent
// page and in the console, a user's username and display name) for the
// invisible characters that can make it display as something else: the
// bidirectional controls of Unicode's bidirectional algorithm (UAX #9:
// U+061C ARABIC LETTER MARK, U+200E and U+200F, the embeddings and
// overrides U+202A to U+202E, the isolates U+2066 to U+2069), which can
// reorder what follows ("abc\u202Egpj.exe" shows as "abcexe.jpg"), and the
// zero-width characters U+200B to U+200D and U+FEFF, which make two names
// that look the same differ. It returns nil when s has none; otherwise an
// error naming the first one and its position (in characters, from 1),
// worded to follow "name: ".
//
// Zero-width joiners and non-joiners have legitimate uses (emoji sequences,
// some scripts' shaping); a name here is a label an administrator types,
// and being unambiguous matters more.
func CheckName(s string) error {
	pos := 0
	for _, c := range s {
		pos++
		if kind := invisibleKind(c); kind != "" {
			return fmt.Errorf("must not contain the %s character U+%04X (character %d)", kind, c, pos)
		}
	}
	return nil
}

// invisibleKind names the class of c when CheckName refuses it, "" otherwise.
func invisibleKind(c rune) string {
	switch {
	case c == '\u061c', c == '\u200e', c == '\u200f',
		c >= '\u202a' && c <= '\u202e', c >= '\u2066' && c <= '\u2069':
		return "bidirectional control"
	case c >= '\u200b' && c <= '\u200d', c == '\ufeff':
		return "zero-width"
	}
	return ""
}
