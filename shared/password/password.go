// Package password hashes and verifies user passwords with argon2id
// (RFC 9106) using golang.org/x/crypto/argon2, in the PHC string format
// $argon2id$v=19$m=...,t=...,p=...$salt$hash.
package password

import "io"

// Parameters used for new hashes (OWASP's argon2id recommendation:
// m=19 MiB, t=2, p=1), 16-byte salt, 32-byte key.
const (
	Memory  = 19 * 1024 // KiB
	Time    = 2
	Threads = 1
)

// Hash returns the PHC-encoded argon2id hash of pw with a salt read from
// random (crypto/rand.Reader in production).
func Hash(pw string, random io.Reader) (string, error) { panic("unimplemented") }

// Verify reports whether pw matches encoded, comparing in constant time.
// A malformed encoded value is false, never a panic.
func Verify(pw, encoded string) bool { panic("unimplemented") }

// VerifyDummy spends the same time as a Verify against a real hash and
// returns false: used for unknown usernames so that timing does not reveal
// whether a user exists.
func VerifyDummy(pw string) bool { panic("unimplemented") }
