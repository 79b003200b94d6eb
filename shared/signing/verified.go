package signing

import (
	"strings"
	"sync"
)

// verifiedGeneration is how many tokens one generation of a Keyring's
// verified cache holds; the cache holds at most two generations: with
// tokens of 800 bytes, 5.2 MB of heap when full (1.3 KB a token with its
// claims and the maps' share, measured once with runtime.MemStats).
const verifiedGeneration = 2048

// verified is what Verify learnt from a token: its claims, and the kid of
// the key whose signature it checked (a kid is the key's RFC 7638
// thumbprint, so one kid is one key).
type verified struct {
	claims AccessClaims
	kid    string
}

// verifiedCache remembers the claims of the access tokens Verify accepted,
// by the token's exact text: a resource server introspects the same token
// on every call it serves, and the signature, typ, issuer and claims of a
// text once checked do not change. What does change is checked again on
// every hit: the key must still verify (Verify looks its kid up in the key
// set in effect, so a retired or removed key's tokens are refused once it
// is gone), and expiry and revocation are the caller's, as for a token
// verified afresh. Refused tokens are never remembered, so a token that
// differs from a remembered one by one byte is verified in full (a map
// compares whole strings). Two generations bound its size: when the
// current one is full it becomes the previous one, and the previous one is
// dropped; a hit in the previous generation moves the token back.
type verifiedCache struct {
	mu        sync.Mutex
	cur, prev map[string]verified
	size      int // tokens a generation holds (verifiedGeneration)
}

func (c *verifiedCache) get(token string) (verified, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.cur[token]; ok {
		return v, true
	}
	v, ok := c.prev[token]
	if ok {
		delete(c.prev, token)
		c.putLocked(token, v)
	}
	return v, ok
}

func (c *verifiedCache) put(token string, v verified) {
	token = strings.Clone(token) // not a slice of a request's body
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(token, v)
}

func (c *verifiedCache) putLocked(token string, v verified) {
	if c.cur == nil || len(c.cur) >= c.size {
		c.prev, c.cur = c.cur, make(map[string]verified, c.size)
	}
	c.cur[token] = v
}

// len is the number of tokens remembered (tests).
func (c *verifiedCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.prev)
}
