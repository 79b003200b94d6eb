package password

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

func salt() *bytes.Reader { return bytes.NewReader(bytes.Repeat([]byte{7}, 16)) }

func TestHashFormat(t *testing.T) {
	h, err := Hash("correct horse", salt())
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "$argon2id$v=19$m=19456,t=2,p=1$BwcHBwcHBwcHBwcHBwcHBw$"
	if !strings.HasPrefix(h, prefix) {
		t.Errorf("got %q, want prefix %q", h, prefix)
	}
	if got, want := len(h)-len(prefix), 43; got != want {
		t.Errorf("got a key of %d characters, want %d", got, want)
	}
	h2, _ := Hash("correct horse", salt())
	if h != h2 {
		t.Errorf("same password and salt gave %q and %q, want equal", h, h2)
	}
}

func TestHashRandomErrors(t *testing.T) {
	if _, err := Hash("pw", nil); err == nil {
		t.Error("nil random: got nil, want an error")
	}
	if _, err := Hash("pw", bytes.NewReader([]byte{1, 2, 3})); err == nil {
		t.Error("short random: got nil, want an error")
	}
	if _, err := Hash("pw", failing{}); err == nil {
		t.Error("failing random: got nil, want an error")
	}
}

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestVerify(t *testing.T) {
	h, err := Hash("correct horse", salt())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		pw   string
		want bool
	}{
		{"correct horse", true},
		{"correct horse ", false},
		{"Correct horse", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := Verify(tc.pw, h); got != tc.want {
			t.Errorf("Verify(%q) = %v, want %v", tc.pw, got, tc.want)
		}
	}
}

func TestVerifyOtherParameters(t *testing.T) {
	// A hash made with other (cheaper) parameters still verifies: the
	// parameters are read from the encoded value.
	s := bytes.Repeat([]byte{1}, 16)
	h := encode(64, 1, 2, s, argon2.IDKey([]byte("x"), s, 1, 64, 2, 32))
	if !Verify("x", h) {
		t.Errorf("Verify(x, %q) = false, want true", h)
	}
	if Verify("y", h) {
		t.Errorf("Verify(y, %q) = true, want false", h)
	}
}

func TestVerifyMalformed(t *testing.T) {
	good, err := Hash("pw", salt())
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, "$")
	}
	tests := []string{
		"",
		"$",
		"plain",
		"$argon2i$v=19$m=19456,t=2,p=1$" + parts[4] + "$" + parts[5],
		with(2, "v=16"),
		with(3, "m=19456,t=2"),
		with(3, "m=19456,t=0,p=1"),
		with(3, "m=19456,t=2,p=0"),
		with(3, "m=0,t=2,p=1"),
		with(3, "m=4294967295,t=2,p=1"),
		with(3, "m=19456,t=1000,p=1"),
		with(3, "m=19456,t=2,p=255"),
		with(3, "m=8,t=2,p=4"),
		with(3, "m=+19456,t=2,p=1"),
		with(3, "t=2,m=19456,p=1"),
		with(4, ""),
		with(4, "!!!"),
		with(4, "AAAA"),
		with(5, ""),
		with(5, parts[5]+"="),
		with(5, "AAAA"),
		good + "$",
	}
	for _, enc := range tests {
		start := time.Now()
		if Verify("pw", enc) {
			t.Errorf("Verify(pw, %q) = true, want false", enc)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Verify(pw, %q) took %v, want malformed input refused quickly", enc, d)
		}
	}
}

func TestVerifyDummy(t *testing.T) {
	if VerifyDummy("pw") {
		t.Error("VerifyDummy = true, want false")
	}
	if !strings.HasPrefix(dummyHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("got dummy hash %q, want the cost of new hashes", dummyHash)
	}
	if _, ok := parse(dummyHash); !ok {
		t.Errorf("dummy hash %q does not parse, want it to run the full argon2id cost", dummyHash)
	}
}
