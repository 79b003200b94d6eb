package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// The signature algorithms of the key set (RFC 7518 §3.1).
const (
	// RS256 is RSASSA-PKCS1-v1_5 with SHA-256 and keys of at least 2048
	// bits: the default, which RFC 9068 §2.1 asks every server to support
	// and OpenID Connect's default for ID tokens.
	RS256 = "RS256"
	// ES256 is ECDSA on P-256 with SHA-256: about a tenth of RS256's
	// signing cost, with shorter keys and signatures.
	ES256 = "ES256"
)

// Algorithms returns the algorithms the key set may hold keys for, RS256
// first.
func Algorithms() []string { return []string{RS256, ES256} }

// Supported reports whether alg is one of Algorithms.
func Supported(alg string) bool { return alg == RS256 || alg == ES256 }

// document is the stored key set (see the package doc).
type document struct {
	Version int `json:"version"`
	// chain holds the RS256 keys, at the top level as in the documents
	// written before other algorithms were supported.
	chain
	// Others holds the keys of the other algorithms, by algorithm
	// ("ES256").
	Others map[string]*chain `json:"other_algs,omitempty"`
	// AccessAlg is the algorithm that signs access tokens ("" for RS256).
	AccessAlg string `json:"access_alg,omitempty"`
	// NextAccessAlg, when set, is the algorithm that signs access tokens
	// from its From (the pending key of a rotation to another algorithm).
	NextAccessAlg *accessSwitch `json:"next_access_alg,omitempty"`
}

// chain is the keys of one algorithm: the current one, the pending one of
// a staged rotation, and the retired ones.
type chain struct {
	// Current is the private JWK that signs now. Only a chain whose first
	// key is pending (a new algorithm) has none; the RS256 chain always has
	// one.
	Current *jose.JSONWebKey `json:"current,omitempty"`
	// CurrentSince is when Current began to sign (zero in documents
	// written before it was kept).
	CurrentSince time.Time    `json:"current_since,omitzero"`
	Next         *nextKey     `json:"next,omitempty"`
	Retired      []retiredKey `json:"retired,omitempty"`
}

// nextKey is the pending key of a staged rotation.
type nextKey struct {
	// Key is the private JWK that signs from ActiveFrom.
	Key jose.JSONWebKey `json:"key"`
	// ActiveFrom is when Key replaces the current key.
	ActiveFrom time.Time `json:"active_from"`
	// PreviousRetireAfter is when the key current before ActiveFrom stops
	// verifying.
	PreviousRetireAfter time.Time `json:"previous_retire_after"`
}

type retiredKey struct {
	Key         jose.JSONWebKey `json:"key"`
	RetireAfter time.Time       `json:"retire_after"`
}

// accessSwitch is a change of the access-token algorithm at From.
type accessSwitch struct {
	Alg  string    `json:"alg"`
	From time.Time `json:"from"`
}

// chainOf returns the chain of alg, nil when the document has none.
func (d *document) chainOf(alg string) *chain {
	if alg == RS256 {
		return &d.chain
	}
	return d.Others[alg]
}

// setChain makes c the chain of alg.
func (d *document) setChain(alg string, c chain) {
	if alg == RS256 {
		d.chain = c
		return
	}
	if d.Others == nil {
		d.Others = map[string]*chain{}
	}
	d.Others[alg] = &c
}

// algs lists the algorithms the document has a chain for, in Algorithms
// order.
func (d *document) algs() []string {
	out := []string{RS256}
	for _, alg := range Algorithms()[1:] {
		if d.Others[alg] != nil {
			out = append(out, alg)
		}
	}
	return out
}

// accessAlg is the algorithm that signs access tokens, ignoring
// NextAccessAlg.
func (d *document) accessAlg() string {
	if d.AccessAlg == "" {
		return RS256
	}
	return d.AccessAlg
}

// clone returns a copy of d that shares no chain, map or pending key with
// it (the keys themselves are immutable).
func (d document) clone() document {
	out := d
	out.chain = d.chain.clone()
	out.Others = nil
	for _, alg := range slices.Sorted(maps.Keys(d.Others)) {
		if c := d.Others[alg]; c != nil {
			out.setChain(alg, c.clone())
		}
	}
	if d.NextAccessAlg != nil {
		s := *d.NextAccessAlg
		out.NextAccessAlg = &s
	}
	return out
}

func (c chain) clone() chain {
	out := c
	if c.Next != nil {
		n := *c.Next
		out.Next = &n
	}
	out.Retired = slices.Clone(c.Retired)
	return out
}

// pending reports whether a key of the document is pending (published, not
// signing yet), and the one that signs first.
func (d *document) pending() (*nextKey, bool) {
	var first *nextKey
	for _, alg := range d.algs() {
		if n := d.chainOf(alg).Next; n != nil && (first == nil || n.ActiveFrom.Before(first.ActiveFrom)) {
			first = n
		}
	}
	return first, first != nil
}

// nextSwitch is the earliest time a pending key or access-token algorithm
// takes effect (zero when none is pending).
func (d *document) nextSwitch() time.Time {
	var t time.Time
	consider := func(at time.Time) {
		if t.IsZero() || at.Before(t) {
			t = at
		}
	}
	if n, ok := d.pending(); ok {
		consider(n.ActiveFrom)
	}
	if s := d.NextAccessAlg; s != nil {
		consider(s.From)
	}
	return t
}

// activate returns d as in effect at t: every pending key whose active_from
// has come becomes its chain's current key, and a pending access-token
// algorithm whose time has come replaces AccessAlg.
func (d document) activate(t time.Time) document {
	out := d.clone()
	for _, alg := range out.algs() {
		c := out.chainOf(alg)
		if c.Next != nil && !t.Before(c.Next.ActiveFrom) {
			*c = c.activated()
		}
	}
	if s := out.NextAccessAlg; s != nil && !t.Before(s.From) {
		out.AccessAlg, out.NextAccessAlg = s.Alg, nil
		if out.AccessAlg == RS256 {
			out.AccessAlg = ""
		}
	}
	return out
}

// activated returns c with its pending key made current, the previous
// current key retired until PreviousRetireAfter, and no pending key.
func (c chain) activated() chain {
	if c.Next == nil {
		return c
	}
	key := c.Next.Key
	out := chain{Current: &key, CurrentSince: c.Next.ActiveFrom}
	if c.Current != nil && c.Next.PreviousRetireAfter.After(c.Next.ActiveFrom) {
		out.Retired = append(out.Retired, retiredKey{Key: c.Current.Public(), RetireAfter: c.Next.PreviousRetireAfter})
	}
	for _, r := range c.Retired {
		if (c.Current == nil || r.Key.KeyID != c.Current.KeyID) && r.Key.KeyID != key.KeyID {
			out.Retired = append(out.Retired, r)
		}
	}
	slices.SortStableFunc(out.Retired, func(a, b retiredKey) int { return b.RetireAfter.Compare(a.RetireAfter) })
	return out
}

// dropRetired removes the retired keys whose time has passed at now.
func (d *document) dropRetired(now time.Time) {
	for _, alg := range d.algs() {
		c := d.chainOf(alg)
		c.Retired = slices.DeleteFunc(c.Retired, func(r retiredKey) bool { return !now.Before(r.RetireAfter) })
	}
}

// verifier is one key that verifies tokens.
type verifier struct {
	kid         string
	alg         string
	pub         crypto.PublicKey
	retireAfter time.Time // zero for a current or pending key
}

// algSigners sign with the current key of one algorithm.
type algSigners struct {
	key    jose.JSONWebKey // the private JWK
	access jose.Signer     // access tokens (typ at+jwt)
	id     jose.Signer     // ID tokens (typ JWT)
}

// keySet is an immutable, parsed key-set document.
type keySet struct {
	doc     document
	access  string                 // the algorithm of access tokens
	signers map[string]*algSigners // by algorithm: its current key
	// verifiers are the current keys (the access-token key first), then
	// the pending ones, then the retired ones, latest retirement first.
	verifiers []verifier
	// activated is the set in effect from switchAt, when a pending key or
	// access-token algorithm takes effect (nil when nothing is pending).
	switchAt  time.Time
	activated *keySet
}

// at returns the key set in effect at now: s, or the set in which the
// pending keys whose time has come are current.
func (s *keySet) at(now time.Time) *keySet {
	for s.activated != nil && !now.Before(s.switchAt) {
		s = s.activated
	}
	return s
}

// current returns the kid of the key that signs access tokens.
func (s *keySet) current() string { return s.signers[s.access].key.KeyID }

// lookup returns the key with kid that may verify at now.
func (s *keySet) lookup(kid string, now time.Time) *verifier {
	for i, v := range s.verifiers {
		if v.kid == kid && (v.retireAfter.IsZero() || now.Before(v.retireAfter)) {
			return &s.verifiers[i]
		}
	}
	return nil
}

// parseDocument validates a stored document.
func parseDocument(raw []byte) (*keySet, error) {
	var doc document
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if doc.Version != docVersion {
		return nil, fmt.Errorf("unsupported version %d", doc.Version)
	}
	return newKeySet(doc)
}

func newKeySet(doc document) (*keySet, error) {
	if doc.Current == nil {
		return nil, fmt.Errorf("no current %s key", RS256)
	}
	for alg := range doc.Others {
		if !Supported(alg) || alg == RS256 {
			return nil, fmt.Errorf("unsupported algorithm %q", alg)
		}
		if doc.Others[alg] == nil {
			return nil, fmt.Errorf("%s: no keys", alg)
		}
	}
	s := &keySet{doc: doc, access: doc.accessAlg(), signers: map[string]*algSigners{}}
	if !Supported(s.access) {
		return nil, fmt.Errorf("access_alg: unsupported algorithm %q", s.access)
	}
	var pending, retired []verifier
	for _, alg := range doc.algs() {
		c := doc.chainOf(alg)
		if c.Current == nil && c.Next == nil {
			return nil, fmt.Errorf("%s: no current or pending key", alg)
		}
		if c.Current != nil {
			pub, err := checkKey(alg, *c.Current, true)
			if err != nil {
				return nil, fmt.Errorf("current %s key: %w", alg, err)
			}
			sig, err := newSigners(alg, *c.Current)
			if err != nil {
				return nil, err
			}
			s.signers[alg] = sig
			v := verifier{kid: c.Current.KeyID, alg: alg, pub: pub}
			if alg == s.access {
				s.verifiers = append([]verifier{v}, s.verifiers...)
			} else {
				s.verifiers = append(s.verifiers, v)
			}
		}
		if n := c.Next; n != nil {
			pub, err := checkKey(alg, n.Key, true)
			if err != nil {
				return nil, fmt.Errorf("pending %s key: %w", alg, err)
			}
			switch {
			case c.Current != nil && n.Key.KeyID == c.Current.KeyID:
				return nil, fmt.Errorf("pending key %q: same as the current key", n.Key.KeyID)
			case n.ActiveFrom.IsZero():
				return nil, fmt.Errorf("pending key %q: no active_from", n.Key.KeyID)
			case n.PreviousRetireAfter.Before(n.ActiveFrom):
				return nil, fmt.Errorf("pending key %q: previous_retire_after before active_from", n.Key.KeyID)
			}
			// Published and verifying at once: another instance may
			// already sign with it.
			pending = append(pending, verifier{kid: n.Key.KeyID, alg: alg, pub: pub})
		}
		for _, r := range c.Retired {
			pub, err := checkKey(alg, r.Key, false)
			if err != nil {
				return nil, fmt.Errorf("retired %s key: %w", alg, err)
			}
			retired = append(retired, verifier{kid: r.Key.KeyID, alg: alg, pub: pub, retireAfter: r.RetireAfter})
		}
	}
	if s.signers[s.access] == nil {
		return nil, fmt.Errorf("access_alg %s: no current key", s.access)
	}
	if sw := doc.NextAccessAlg; sw != nil {
		c := doc.chainOf(sw.Alg)
		switch {
		case !Supported(sw.Alg) || c == nil:
			return nil, fmt.Errorf("next_access_alg: no %q keys", sw.Alg)
		case sw.From.IsZero():
			return nil, fmt.Errorf("next_access_alg: no from")
		case c.Current == nil && (c.Next == nil || sw.From.Before(c.Next.ActiveFrom)):
			return nil, fmt.Errorf("next_access_alg: no %s key signs at %s", sw.Alg, sw.From.UTC().Format(time.RFC3339))
		}
	}
	slices.SortStableFunc(retired, func(a, b verifier) int { return b.retireAfter.Compare(a.retireAfter) })
	s.verifiers = append(append(s.verifiers, pending...), retired...)
	if at := doc.nextSwitch(); !at.IsZero() {
		next, err := newKeySet(doc.activate(at))
		if err != nil {
			return nil, err
		}
		s.switchAt, s.activated = at, next
	}
	return s, nil
}

// newSigners returns the signers of key, a private JWK of alg.
func newSigners(alg string, key jose.JSONWebKey) (*algSigners, error) {
	key.Key = precomputed(key.Key) // also what RequestSigner signs with
	sk := jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: jose.JSONWebKey{Key: key.Key, KeyID: key.KeyID}}
	access, err := jose.NewSigner(sk, (&jose.SignerOptions{}).WithType(typAccessToken))
	if err != nil {
		return nil, fmt.Errorf("%s signer: %w", alg, err)
	}
	id, err := jose.NewSigner(sk, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("%s id token signer: %w", alg, err)
	}
	return &algSigners{key: key, access: access, id: id}, nil
}

// precomputed is k, or for an RSA private key a copy of it whose CRT
// values crypto/rsa has computed once (Precompute). go-jose parses a JWK
// into a key without them, and crypto/rsa then derives them again for
// every signature: 12% of an RS256 signature (BENCHMARKS.md, "CPU per
// operation"). A copy, so that a key another key set still signs with is
// never written to.
func precomputed(k any) any {
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return k
	}
	c := *rk
	c.Precompute()
	return &c
}

// checkKey checks that jwk is a key for alg (RSA of at least keyBits for
// RS256, P-256 for ES256), private when private is set, whose "alg" member
// (when present) is alg and whose kid is its thumbprint, and returns its
// public key.
func checkKey(alg string, jwk jose.JSONWebKey, private bool) (crypto.PublicKey, error) {
	if jwk.Algorithm != "" && jwk.Algorithm != alg {
		return nil, fmt.Errorf("key %q: alg %s, want %s", jwk.KeyID, jwk.Algorithm, alg)
	}
	var pub crypto.PublicKey
	switch alg {
	case RS256:
		var rpub *rsa.PublicKey
		switch key := jwk.Key.(type) {
		case *rsa.PrivateKey:
			rpub = &key.PublicKey
		case *rsa.PublicKey:
			if private {
				return nil, fmt.Errorf("key %q: want a private key", jwk.KeyID)
			}
			rpub = key
		default:
			return nil, fmt.Errorf("key %q: want an RSA key, got %T", jwk.KeyID, jwk.Key)
		}
		if rpub.N.BitLen() < keyBits {
			return nil, fmt.Errorf("key %q: %d bits, want at least %d", jwk.KeyID, rpub.N.BitLen(), keyBits)
		}
		pub = rpub
	case ES256:
		var epub *ecdsa.PublicKey
		switch key := jwk.Key.(type) {
		case *ecdsa.PrivateKey:
			epub = &key.PublicKey
		case *ecdsa.PublicKey:
			if private {
				return nil, fmt.Errorf("key %q: want a private key", jwk.KeyID)
			}
			epub = key
		default:
			return nil, fmt.Errorf("key %q: want an EC key, got %T", jwk.KeyID, jwk.Key)
		}
		if epub.Curve != elliptic.P256() {
			return nil, fmt.Errorf("key %q: want a P-256 key", jwk.KeyID)
		}
		pub = epub
	default:
		return nil, fmt.Errorf("key %q: unsupported algorithm %q", jwk.KeyID, alg)
	}
	kid, err := thumbprint(jose.JSONWebKey{Key: pub})
	if err != nil {
		return nil, err
	}
	if kid != jwk.KeyID {
		return nil, fmt.Errorf("key %q: kid is not its thumbprint", jwk.KeyID)
	}
	return pub, nil
}
