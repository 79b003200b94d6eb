package shared

import (
	"bytes"
	"crypto/rand"
	"slices"
	"strings"
	"testing"
)

func TestUserCode(t *testing.T) {
	seen := map[byte]int{}
	for range 200 {
		c, err := NewUserCode(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if n, ok := NormalizeUserCode(c); !ok || n != c {
			t.Fatalf("NewUserCode = %q, which does not normalize to itself (%q, %v)", c, n, ok)
		}
		for i := 0; i < len(c); i++ {
			seen[c[i]]++
		}
	}
	if len(seen) != len(UserCodeAlphabet) {
		t.Errorf("200 user codes used %d letters, want all %d", len(seen), len(UserCodeAlphabet))
	}
	// A source that only ever gives bytes past the rejection limit, then
	// ends: an error, never a biased or short code.
	if _, err := NewUserCode(bytes.NewReader(bytes.Repeat([]byte{255}, 64))); err == nil {
		t.Error("NewUserCode from bytes that are all rejected: no error")
	}
}

func TestNormalizeUserCode(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"BCDF-GHJK", "BCDFGHJK", true},
		{"bcdfghjk", "BCDFGHJK", true},
		{" bcdf ghjk ", "BCDFGHJK", true},
		{"bCdF-gHjK", "BCDFGHJK", true},
		{"BCDF-GHJ", "", false},   // 7 letters
		{"BCDF-GHJKL", "", false}, // 9 letters
		{"BCDA-GHJK", "", false},  // a vowel
		{"BCD1-GHJK", "", false},  // a digit
		{"BCDF–GHJK", "", false},  // an en dash
		{"ＢCDF-GHJK", "", false},  // a full-width letter
		{"", "", false},
		{strings.Repeat("-", 100) + "BCDFGHJK", "", false},
	} {
		got, ok := NormalizeUserCode(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("NormalizeUserCode(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if got := FormatUserCode("BCDFGHJK"); got != "BCDF-GHJK" {
		t.Errorf("FormatUserCode = %q, want BCDF-GHJK", got)
	}
}

func TestDeviceCode(t *testing.T) {
	dc, err := NewDeviceCode(rand.Reader, "BCDFGHJK")
	if err != nil {
		t.Fatal(err)
	}
	if uc, ok := ParseDeviceCode(dc); !ok || uc != "BCDFGHJK" {
		t.Errorf("ParseDeviceCode(%q) = %q, %v; want BCDFGHJK", dc, uc, ok)
	}
	for _, bad := range []string{"", "BCDFGHJK", "BCDFGHJK.", "bcdfghjk." + dc[9:], "BCDFGHJA." + dc[9:], "BCDFGHJK." + dc[9:] + "x", "BCDFGHJK." + dc[9:50] + "!"} {
		if _, ok := ParseDeviceCode(bad); ok {
			t.Errorf("ParseDeviceCode(%q) accepted", bad)
		}
	}
}

func TestNormalizeGrantTypes(t *testing.T) {
	got, err := NormalizeGrantTypes([]string{GrantTypeDeviceCode, GrantTypeRefreshToken, GrantTypeDeviceCode})
	if err != nil || !slices.Equal(got, []string{GrantTypeRefreshToken, GrantTypeDeviceCode}) {
		t.Errorf("NormalizeGrantTypes = %v, %v", got, err)
	}
	for _, bad := range [][]string{nil, {}, {"implicit"}, {GrantTypeRefreshToken}, {"password", GrantTypeAuthorizationCode}} {
		if _, err := NormalizeGrantTypes(bad); err == nil {
			t.Errorf("NormalizeGrantTypes(%v) accepted", bad)
		}
	}
}
