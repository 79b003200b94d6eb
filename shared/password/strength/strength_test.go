package strength

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		pw      string
		context []string
		refused bool
		reason  string
	}{
		{"most common password", "password", nil, true, "most commonly used"},
		{"common with digits", "password123", nil, true, "most commonly used"},
		{"common with capital and symbol", "Password1!", nil, true, ""},
		{"keyboard row", "qwertyuiop", nil, true, ""},
		{"l33t common", "p@ssw0rd", nil, true, "most commonly used"},
		{"repeated word", "hunter2hunter2", nil, true, ""},
		{"few characters", "abababababab", nil, true, "repeats a few characters"},
		{"the xkcd example", "correct horse battery staple", nil, true, "example from the documentation"},
		{"the xkcd example in capitals", "Correct Horse Battery Staple", nil, true, "example from the documentation"},
		{"the banner's former example", "choose a long password", nil, true, "example from the documentation"},
		{"service name and year", "applinks2024", []string{"applinks", "alice"}, true, "service's name"},
		{"username twice", "alicealice1", []string{"applinks", "alice"}, true, ""},
		{"generated base64", "pcF8+2nT4Hq9vJ1kLm0aZ3xW", []string{"applinks", "alice"}, false, ""},
		{"four unrelated words", "sunny garden bicycle lamp", []string{"applinks", "alice"}, false, ""},
		{"long passphrase", "a long passphrase of my own", []string{"applinks", "alice"}, false, ""},
		{"strong start, long tail", "pcF8+2nT4Hq9vJ1kLm0aZ3xW" + strings.Repeat("1", 1000), nil, false, ""},
		{"weak start, long tail", "password" + strings.Repeat("aaaaaaaa", 7) + "pcF8+2nT4Hq9vJ1kLm0aZ3xW", nil, true, ""},
		{"common word and a year", "dragon2024", nil, true, "most commonly used"},
		{"a year and a common word", "2024football", nil, true, "most commonly used"},
		{"letters in a row", "abcdefghij", nil, true, "sequence"},
		{"digits down", "9876543210", nil, true, "sequence"},
		{"a dictionary word", "government", nil, true, "most commonly used"},
		{"invalid UTF-8", "pcF8+2nT4Hq9\xffvJ1kLm0aZ3xW", nil, true, "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.pw, tt.context...)
			if (err != nil) != tt.refused {
				t.Fatalf("Check(%q) = %v, want refused %v", tt.pw, err, tt.refused)
			}
			if err == nil {
				return
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Check(%q) = %q, want it to contain %q", tt.pw, err, tt.reason)
			}
			if len(tt.pw) >= 10 && strings.Contains(err.Error(), tt.pw) {
				t.Errorf("the message %q repeats the password", err)
			}
		})
	}
}

// BenchmarkCheck: a check once the list is read (the first check reads it:
// see TestListLoad).
func BenchmarkCheck(b *testing.B) {
	Check("warm up the list")
	for b.Loop() {
		Check("sunny garden bicycle lamp", "alice", "applinks")
	}
}

// TestListLoad: the embedded list holds both of zxcvbn's lists taken.
func TestListLoad(t *testing.T) {
	m := common()
	if len(m) < 50000 {
		t.Fatalf("the list has %d words, want the 60,000 taken less their overlap", len(m))
	}
	for _, w := range []string{"123456", "password", "qwerty", "the", "government"} {
		if _, ok := m[w]; !ok {
			t.Errorf("%q is not in the list", w)
		}
	}
}

// TestCommonList: the embedded, front-coded list decodes to every word
// gen.go wrote (51,058 from zxcvbn's two lists), those of the two lists'
// heads among them, and no line left undecoded.
func TestCommonList(t *testing.T) {
	m := common()
	if len(m) != 51058 {
		t.Errorf("%d words, want 51058", len(m))
	}
	for _, w := range []string{"password", "123456", "dragon", "qwerty", "the", "football", "swordfish"} {
		if _, ok := m[w]; !ok {
			t.Errorf("%q is not in the list", w)
		}
	}
	if _, ok := m["0password"]; ok {
		t.Error(`"0password" (an undecoded line) is in the list`)
	}
}
