package shared

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestNewToken(t *testing.T) {
	got, err := NewToken(bytes.NewReader(make([]byte, TokenBytes)))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Repeat("A", 43); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got, err = NewToken(bytes.NewReader(bytes.Repeat([]byte{0xff}, TokenBytes)))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Repeat("_", 42) + "8"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestNewTokenReadsExactly32Bytes(t *testing.T) {
	src := bytes.NewReader(make([]byte, 2*TokenBytes))
	if _, err := NewToken(src); err != nil {
		t.Fatal(err)
	}
	if got, want := src.Len(), TokenBytes; got != want {
		t.Errorf("got %d bytes left, want %d", got, want)
	}
}

func TestNewTokenErrors(t *testing.T) {
	tests := []struct {
		name string
		r    io.Reader
	}{
		{"nil", nil},
		{"short", bytes.NewReader(make([]byte, TokenBytes-1))},
		{"failing", iotestErrReader{}},
	}
	for _, tc := range tests {
		tok, err := NewToken(tc.r)
		if err == nil || tok != "" {
			t.Errorf("%s: got %q, %v, want an error and no token", tc.name, tok, err)
		}
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("boom") }

func TestHashToken(t *testing.T) {
	// SHA-256 of the empty string, base64url without padding.
	if got, want := HashToken(""), "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"; got != want {
		t.Errorf("HashToken(\"\") = %q, want %q", got, want)
	}
	// SHA-256("abc") = ba7816bf...
	if got, want := HashToken("abc"), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"; got != want {
		t.Errorf("HashToken(\"abc\") = %q, want %q", got, want)
	}
	if got, want := HashPrefix("abc"), "ungWv48B"; got != want {
		t.Errorf("HashPrefix(\"abc\") = %q, want %q", got, want)
	}
}

func TestEqual(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"", "", true},
		{"secret", "secret", true},
		{"secret", "Secret", false},
		{"secret", "secret2", false},
		{"", "x", false},
	}
	for _, tc := range tests {
		if got := Equal(tc.a, tc.b); got != tc.want {
			t.Errorf("Equal(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
