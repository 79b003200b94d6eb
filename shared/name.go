package shared

import "fmt"

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
