package shared

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
)

// TokenBytes is the entropy of every code, token, secret and session id.
const TokenBytes = 32

// hashPrefixLen is the length of HashPrefix's result.
const hashPrefixLen = 8

// NewToken reads TokenBytes from random (crypto/rand.Reader in production)
// and returns them base64url-encoded without padding (43 characters).
func NewToken(random io.Reader) (string, error) {
	if random == nil {
		return "", fmt.Errorf("new token: no random source")
	}
	var b [TokenBytes]byte
	if _, err := io.ReadFull(random, b[:]); err != nil {
		return "", fmt.Errorf("new token: read random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// IDBytes is the entropy of every record id (user, grant, token jti).
const IDBytes = 16

// NewID reads IDBytes from random and returns them base64url-encoded
// without padding (22 characters): a random id that is never derived from
// anything and, at 128 bits, never repeats.
func NewID(random io.Reader) (string, error) {
	if random == nil {
		return "", fmt.Errorf("new id: no random source")
	}
	var b [IDBytes]byte
	if _, err := io.ReadFull(random, b[:]); err != nil {
		return "", fmt.Errorf("new id: read random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// HashToken returns the storage form of a high-entropy token: base64url
// (no padding) of its SHA-256. Never use it for passwords.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// HashPrefix returns a short prefix of HashToken(token) (its first 8
// characters, 48 bits), safe to log as a reference to the token.
func HashPrefix(token string) string {
	return HashToken(token)[:hashPrefixLen]
}

// Equal compares two strings in constant time. Both are hashed first, so
// neither the position of the first difference nor a length mismatch shows
// in the timing.
func Equal(a, b string) bool {
	ha := sha256.Sum256([]byte(a))
	hb := sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}
