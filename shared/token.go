package shared

import "io"

// TokenBytes is the entropy of every code, token, secret and session id.
const TokenBytes = 32

// NewToken reads TokenBytes from random (crypto/rand.Reader in production)
// and returns them base64url-encoded without padding (43 characters).
func NewToken(random io.Reader) (string, error) { panic("unimplemented") }

// HashToken returns the storage form of a high-entropy token: base64url
// (no padding) of its SHA-256. Never use it for passwords.
func HashToken(token string) string { panic("unimplemented") }

// HashPrefix returns a short prefix of HashToken(token), safe to log.
func HashPrefix(token string) string { panic("unimplemented") }

// Equal compares two strings in constant time.
func Equal(a, b string) bool { panic("unimplemented") }
