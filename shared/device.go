package shared

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Grant types a link may allow (RFC 7591 §2 grant_types names).
const (
	// GrantTypeAuthorizationCode is RFC 6749 §4.1.
	GrantTypeAuthorizationCode = "authorization_code"
	// GrantTypeRefreshToken is RFC 6749 §6.
	GrantTypeRefreshToken = "refresh_token"
	// GrantTypeDeviceCode is the Device Authorization Grant, RFC 8628 §3.4.
	GrantTypeDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"
)

// GrantTypes are the grant types a link may allow, in the order they are
// listed.
var GrantTypes = []string{GrantTypeAuthorizationCode, GrantTypeRefreshToken, GrantTypeDeviceCode}

// DefaultGrantTypes are the grant types of a link that names none, and of
// every link stored before links named them.
func DefaultGrantTypes() []string {
	return []string{GrantTypeAuthorizationCode, GrantTypeRefreshToken}
}

// NormalizeGrantTypes checks a link's grant_types and returns them
// deduplicated in the order of GrantTypes: at least one, each known, and
// refresh_token only beside a grant that issues refresh tokens. The error
// says what is wrong, for a 422.
func NormalizeGrantTypes(in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("must name at least one grant type")
	}
	for i, g := range in {
		if !slices.Contains(GrantTypes, g) {
			return nil, fmt.Errorf("[%d] must be one of %s", i, strings.Join(GrantTypes, ", "))
		}
	}
	out := make([]string, 0, len(GrantTypes))
	for _, g := range GrantTypes {
		if slices.Contains(in, g) {
			out = append(out, g)
		}
	}
	if len(out) == 1 && out[0] == GrantTypeRefreshToken {
		return nil, fmt.Errorf("refresh_token needs %s or %s beside it", GrantTypeAuthorizationCode, GrantTypeDeviceCode)
	}
	return out, nil
}

// User codes of the Device Authorization Grant (RFC 8628 §6.1): 8 letters of
// UserCodeAlphabet, 20^8 (about 2^34.6) codes, shown as XXXX-XXXX. The
// alphabet has no vowels (no words spelled by accident) and no letters that
// look alike in print.
const (
	UserCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"
	UserCodeLength   = 8
)

// NewUserCode returns a fresh user code (without its dash) read uniformly
// from random.
func NewUserCode(random io.Reader) (string, error) {
	if random == nil {
		return "", fmt.Errorf("new user code: no random source")
	}
	n := len(UserCodeAlphabet)
	limit := 256 - 256%n // rejection sampling: every letter equally likely
	var b strings.Builder
	buf := make([]byte, 16)
	for b.Len() < UserCodeLength {
		if _, err := io.ReadFull(random, buf); err != nil {
			return "", fmt.Errorf("new user code: read random: %w", err)
		}
		for _, c := range buf {
			if int(c) < limit && b.Len() < UserCodeLength {
				b.WriteByte(UserCodeAlphabet[int(c)%n])
			}
		}
	}
	return b.String(), nil
}

// NormalizeUserCode reads a user code as a person typed it: letters in
// any case, with or without the dash, spaces ignored (RFC 8628 §6.1). It
// returns the 8 upper-case letters, or false when s is not a user code.
func NormalizeUserCode(s string) (string, bool) {
	if len(s) > 4*UserCodeLength {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-' || c == ' ' || c == '\t':
			continue
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		if !strings.ContainsRune(UserCodeAlphabet, rune(c)) {
			return "", false
		}
		b.WriteByte(c)
	}
	if b.Len() != UserCodeLength {
		return "", false
	}
	return b.String(), true
}

// FormatUserCode shows a normalized user code as people read it:
// XXXX-XXXX.
func FormatUserCode(code string) string {
	if len(code) != UserCodeLength {
		return code
	}
	return code[:4] + "-" + code[4:]
}

// NewDeviceCode returns a device code (RFC 8628 §3.2) for the user code
// userCode (normalized): the user code, a dot, and TokenBytes random bits.
// The user code names the stored authorization (the item is keyed by its
// hash); the random part is the secret only the device holds, stored as a
// hash and compared in constant time. Knowing the user code alone gives
// no device code.
func NewDeviceCode(random io.Reader, userCode string) (string, error) {
	tok, err := NewToken(random)
	if err != nil {
		return "", fmt.Errorf("new device code: %w", err)
	}
	return userCode + "." + tok, nil
}

// ParseDeviceCode returns the user code a device code names, or false when
// dc is not shaped as NewDeviceCode makes them.
func ParseDeviceCode(dc string) (string, bool) {
	uc, tok, ok := strings.Cut(dc, ".")
	if !ok || len(uc) != UserCodeLength || len(tok) != 43 {
		return "", false
	}
	for i := 0; i < len(uc); i++ {
		if !strings.ContainsRune(UserCodeAlphabet, rune(uc[i])) {
			return "", false
		}
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return "", false
		}
	}
	return uc, true
}
