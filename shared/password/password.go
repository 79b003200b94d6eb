// Package password hashes and verifies user passwords with argon2id
// (RFC 9106) using golang.org/x/crypto/argon2, in the PHC string format
// $argon2id$v=19$m=...,t=...,p=...$salt$hash.
//
// Salt and hash are base64 without padding (standard alphabet), as the PHC
// string format specifies. Verify reads the parameters from the encoded
// hash, so raising the cost later keeps old hashes working; it refuses
// parameters beyond generous limits so that a tampered record cannot make a
// login spend unbounded memory or time.
package password

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Parameters used for new hashes (OWASP's argon2id recommendation:
// m=19 MiB, t=2, p=1), 16-byte salt, 32-byte key.
const (
	Memory  = 19 * 1024 // KiB
	Time    = 2
	Threads = 1
)

const (
	saltLen = 16
	keyLen  = 32

	// Limits on the parameters Verify accepts from an encoded hash.
	maxMemory  = 256 * 1024 // KiB
	maxTime    = 10
	maxThreads = 16
	minSalt    = 8
	maxSalt    = 64
	minKey     = 16
	maxKey     = 64
)

// b64 is the PHC string format's base64: standard alphabet, no padding.
var b64 = base64.RawStdEncoding

// dummyHash is a well-formed hash with the cost of new hashes, used by
// VerifyDummy. Its salt and key are zero bytes.
var dummyHash = encode(Memory, Time, Threads, make([]byte, saltLen), make([]byte, keyLen))

// Hash returns the PHC-encoded argon2id hash of pw with a salt read from
// random (crypto/rand.Reader in production).
func Hash(pw string, random io.Reader) (string, error) {
	if random == nil {
		return "", fmt.Errorf("hash password: no random source")
	}
	salt := make([]byte, saltLen)
	if _, err := io.ReadFull(random, salt); err != nil {
		return "", fmt.Errorf("hash password: read salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, Time, Memory, Threads, keyLen)
	return encode(Memory, Time, Threads, salt, key), nil
}

func encode(m uint32, t uint32, p uint8, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, m, t, p, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify reports whether pw matches encoded, comparing in constant time.
// A malformed encoded value is false, never a panic.
func Verify(pw, encoded string) bool {
	h, ok := parse(encoded)
	if !ok {
		return false
	}
	key := argon2.IDKey([]byte(pw), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1
}

// VerifyDummy spends the same time as a Verify against a real hash and
// returns false: used for unknown usernames so that timing does not reveal
// whether a user exists.
func VerifyDummy(pw string) bool {
	_ = Verify(pw, dummyHash)
	return false
}

type hash struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// parse reads $argon2id$v=19$m=M,t=T,p=P$salt$key within the limits above.
func parse(encoded string) (hash, bool) {
	var h hash
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return h, false
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return h, false
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return h, false
	}
	m, ok1 := param(params[0], "m=", maxMemory)
	t, ok2 := param(params[1], "t=", maxTime)
	p, ok3 := param(params[2], "p=", maxThreads)
	if !ok1 || !ok2 || !ok3 {
		return h, false
	}
	salt, err := b64.Strict().DecodeString(parts[4])
	if err != nil || len(salt) < minSalt || len(salt) > maxSalt {
		return h, false
	}
	key, err := b64.Strict().DecodeString(parts[5])
	if err != nil || len(key) < minKey || len(key) > maxKey {
		return h, false
	}
	// argon2 needs at least 8 KiB per lane.
	if m < 8*p {
		return h, false
	}
	return hash{memory: m, time: t, threads: uint8(p), salt: salt, key: key}, true
}

// param reads "name=N" with 1 <= N <= max, digits only.
func param(s, name string, max uint32) (uint32, bool) {
	v, ok := strings.CutPrefix(s, name)
	if !ok || v == "" || len(v) > 10 {
		return 0, false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n < 1 || n > uint64(max) {
		return 0, false
	}
	return uint32(n), true
}
