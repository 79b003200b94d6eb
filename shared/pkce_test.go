package shared

import (
	"strings"
	"testing"
)

// RFC 7636 Appendix B.
const (
	rfc7636Verifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	rfc7636Challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

func TestS256ChallengeRFC7636AppendixB(t *testing.T) {
	if got := S256Challenge(rfc7636Verifier); got != rfc7636Challenge {
		t.Errorf("got %q, want %q", got, rfc7636Challenge)
	}
	if !VerifyS256(rfc7636Verifier, rfc7636Challenge) {
		t.Error("VerifyS256 of the RFC 7636 example = false, want true")
	}
}

func TestValidVerifier(t *testing.T) {
	tests := []struct {
		v    string
		want bool
	}{
		{rfc7636Verifier, true},
		{strings.Repeat("a", 43), true},
		{strings.Repeat("a", 42), false},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{strings.Repeat("-._~", 11), true},
		{strings.Repeat("a", 42) + "+", false},
		{strings.Repeat("a", 42) + "/", false},
		{strings.Repeat("a", 42) + "=", false},
		{strings.Repeat("a", 42) + " ", false},
		{strings.Repeat("a", 41) + "é", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := ValidVerifier(tc.v); got != tc.want {
			t.Errorf("ValidVerifier(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

func TestValidChallenge(t *testing.T) {
	tests := []struct {
		c    string
		want bool
	}{
		{rfc7636Challenge, true},
		{rfc7636Challenge[:42], false},
		{rfc7636Challenge + "A", false},
		{rfc7636Challenge[:42] + "=", false},
		{rfc7636Challenge[:42] + "+", false},
		{rfc7636Challenge[:42] + ".", false},
		{rfc7636Challenge[:42] + "~", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := ValidChallenge(tc.c); got != tc.want {
			t.Errorf("ValidChallenge(%q) = %v, want %v", tc.c, got, tc.want)
		}
	}
}

func TestVerifyS256(t *testing.T) {
	other := strings.Repeat("b", 43)
	tests := []struct {
		name                string
		verifier, challenge string
		want                bool
	}{
		{"match", other, S256Challenge(other), true},
		{"wrong verifier", rfc7636Verifier[:42] + "l", rfc7636Challenge, false},
		{"plain method", other, other, false},
		{"short verifier hashing to the challenge", "abc", S256Challenge("abc"), false},
		{"empty", "", "", false},
		{"challenge case changed", rfc7636Verifier, strings.ToLower(rfc7636Challenge), false},
	}
	for _, tc := range tests {
		if got := VerifyS256(tc.verifier, tc.challenge); got != tc.want {
			t.Errorf("%s: VerifyS256 = %v, want %v", tc.name, got, tc.want)
		}
	}
}
