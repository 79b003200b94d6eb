package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/clocktest"
)

// memSource is an in-memory Source that counts its calls.
type memSource struct {
	mu      sync.Mutex
	doc     []byte
	gets    int
	creates int // successful creates
	failGet error
}

func (m *memSource) GetSigningKeys(ctx context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gets++
	if m.failGet != nil {
		return nil, m.failGet
	}
	if m.doc == nil {
		return nil, fmt.Errorf("signing keys: %w", shared.ErrNotFound)
	}
	return bytes.Clone(m.doc), nil
}

func (m *memSource) CreateSigningKeys(ctx context.Context, doc []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.doc != nil {
		return fmt.Errorf("signing keys: %w", shared.ErrConflict)
	}
	m.doc = bytes.Clone(doc)
	m.creates++
	return nil
}

func (m *memSource) PutSigningKeys(ctx context.Context, doc []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.doc = bytes.Clone(doc)
	return nil
}

func (m *memSource) stats() (gets, creates int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gets, m.creates
}

func (m *memSource) setFail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failGet = err
}

const issuer = "https://auth.example.com"

func newKeyring(t *testing.T, src Source, c *clocktest.Clock) *Keyring {
	t.Helper()
	k, err := New(context.Background(), src, Options{Now: c.Now, Issuer: issuer})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return k
}

func claimsAt(now time.Time) AccessClaims {
	return AccessClaims{
		Issuer: issuer, Subject: "alice", Audience: issuer, ClientID: "client-1",
		Scope: "REPO_READ ACCOUNT_WRITE", JTI: "jti-1", GrantID: "grant-1",
		IssuedAt: now, ExpiresAt: now.Add(time.Hour),
	}
}

func currentKid(t *testing.T, k *Keyring) string {
	t.Helper()
	set, err := k.keys(context.Background())
	if err != nil {
		t.Fatalf("keys: %v", err)
	}
	return set.current()
}

// jwksKids are the kids of k's JWK Set of algorithm alg, in order.
func jwksKids(t *testing.T, k *Keyring, alg string) []string {
	t.Helper()
	raw, err := k.JWKS(context.Background())
	if err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatalf("decode JWKS %s: %v", raw, err)
	}
	var kids []string
	for _, key := range set.Keys {
		if key.Algorithm == alg {
			kids = append(kids, key.KeyID)
		}
	}
	return kids
}

func TestNewConcurrentCreatesOneKey(t *testing.T) {
	src := &memSource{}
	c := clocktest.New(time.Unix(1_800_000_000, 0))
	const n = 4
	kids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k, err := New(context.Background(), src, Options{Now: c.Now})
			if err != nil {
				errs[i] = err
				return
			}
			kids[i] = currentKid(t, k)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("New #%d: %v", i, err)
		}
	}
	for i, kid := range kids {
		if kid != kids[0] {
			t.Errorf("keyring #%d: got kid %q, want %q (one key for all)", i, kid, kids[0])
		}
	}
	if _, creates := src.stats(); creates != 1 {
		t.Errorf("got %d successful creates, want 1", creates)
	}
	// A later start loads the same key.
	if got := currentKid(t, newKeyring(t, src, c)); got != kids[0] {
		t.Errorf("restart: got kid %q, want %q", got, kids[0])
	}
}

func TestDocumentFormat(t *testing.T) {
	src := &memSource{}
	c := clocktest.New(time.Unix(1_800_000_000, 0))
	k := newKeyring(t, src, c)
	// Two rotations, the first one active, so the document holds a
	// current, a pending and a retired key.
	if _, err := k.Rotate(context.Background(), "", time.Hour); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	firstActive := c.Now().Add(k.ActivationDelay())
	c.Add(k.ActivationDelay())
	if _, err := k.Rotate(context.Background(), "", time.Hour); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	var doc struct {
		Version int            `json:"version"`
		Current map[string]any `json:"current"`
		Next    struct {
			Key                 map[string]any `json:"key"`
			ActiveFrom          time.Time      `json:"active_from"`
			PreviousRetireAfter time.Time      `json:"previous_retire_after"`
		} `json:"next"`
		Retired []struct {
			Key         map[string]any `json:"key"`
			RetireAfter time.Time      `json:"retire_after"`
		} `json:"retired"`
	}
	if err := json.Unmarshal(src.doc, &doc); err != nil {
		t.Fatalf("decode document: %v", err)
	}
	if doc.Version != 1 {
		t.Errorf("version: got %d, want 1", doc.Version)
	}
	for _, f := range []string{"kty", "kid", "n", "e", "d", "p", "q"} {
		if _, ok := doc.Current[f]; !ok {
			t.Errorf("current key: missing %q", f)
		}
		if _, ok := doc.Next.Key[f]; !ok {
			t.Errorf("pending key: missing %q", f)
		}
	}
	if want := c.Now().Add(10 * time.Minute); !doc.Next.ActiveFrom.Equal(want) {
		t.Errorf("active_from: got %v, want %v", doc.Next.ActiveFrom, want)
	}
	if want := doc.Next.ActiveFrom.Add(time.Hour); !doc.Next.PreviousRetireAfter.Equal(want) {
		t.Errorf("previous_retire_after: got %v, want %v", doc.Next.PreviousRetireAfter, want)
	}
	if doc.Current["alg"] != "RS256" || doc.Current["use"] != "sig" {
		t.Errorf("current key: got alg %v use %v, want RS256 sig", doc.Current["alg"], doc.Current["use"])
	}
	if len(doc.Retired) != 1 {
		t.Fatalf("retired: got %d keys, want 1", len(doc.Retired))
	}
	if _, ok := doc.Retired[0].Key["d"]; ok {
		t.Error("retired key holds its private part, want public only")
	}
	if want := firstActive.Add(time.Hour); !doc.Retired[0].RetireAfter.Equal(want) {
		t.Errorf("retire_after: got %v, want %v", doc.Retired[0].RetireAfter, want)
	}
	// kid is the RFC 7638 thumbprint of the key.
	var jwk jose.JSONWebKey
	cur, _ := json.Marshal(doc.Current)
	if err := json.Unmarshal(cur, &jwk); err != nil {
		t.Fatalf("decode current: %v", err)
	}
	priv, ok := jwk.Key.(*rsa.PrivateKey)
	if !ok {
		t.Fatalf("current key: got %T, want *rsa.PrivateKey", jwk.Key)
	}
	if priv.N.BitLen() != 2048 {
		t.Errorf("key size: got %d bits, want 2048", priv.N.BitLen())
	}
	pub := jose.JSONWebKey{Key: &priv.PublicKey}
	tp, _ := pub.Thumbprint(crypto.SHA256)
	if want := base64.RawURLEncoding.EncodeToString(tp); jwk.KeyID != want {
		t.Errorf("kid: got %q, want thumbprint %q", jwk.KeyID, want)
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	c := clocktest.New(time.Unix(1_800_000_000, 0))
	k := newKeyring(t, &memSource{}, c)
	want := claimsAt(c.Now())
	tok, err := k.Sign(context.Background(), want)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	got, err := k.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want.IssuedAt, want.ExpiresAt = want.IssuedAt.UTC(), want.ExpiresAt.UTC()
	if got != want {
		t.Errorf("claims: got %+v, want %+v", got, want)
	}

	// The header and the claims on the wire (RFC 9068 §2.1, §2.2), checked
	// with go-jose against the published JWK Set.
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	h := jws.Signatures[0].Header
	if typ := h.ExtraHeaders[jose.HeaderType]; typ != "at+jwt" {
		t.Errorf("typ: got %v, want at+jwt", typ)
	}
	if h.KeyID != currentKid(t, k) {
		t.Errorf("kid: got %q, want %q", h.KeyID, currentKid(t, k))
	}
	raw, _ := k.JWKS(context.Background())
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatalf("decode JWKS: %v", err)
	}
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("JWKS: got %d keys for kid, want 1", len(keys))
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("verify with JWKS: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatalf("decode payload: %v", err)
	}
	for name, v := range map[string]any{
		"iss": issuer, "sub": "alice", "aud": issuer, "client_id": "client-1",
		"scope": "REPO_READ ACCOUNT_WRITE", "jti": "jti-1", "grant_id": "grant-1",
		"iat": float64(1_800_000_000), "exp": float64(1_800_003_600),
	} {
		if m[name] != v {
			t.Errorf("claim %s: got %v, want %v", name, m[name], v)
		}
	}
}

// TestJWKSPublicOnly: a new key set publishes its two current keys, RS256
// (signing access tokens, first) and ES256, each with exactly its public
// members (RFC 7518 §6.2.1, §6.3.1), "use" and "alg".
func TestJWKSPublicOnly(t *testing.T) {
	k := newKeyring(t, &memSource{}, clocktest.New(time.Unix(1_800_000_000, 0)))
	raw, err := k.JWKS(context.Background())
	if err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if len(doc.Keys) != 2 {
		t.Fatalf("got %d keys, want 2", len(doc.Keys))
	}
	want := []struct {
		kty, alg string
		fields   []string
	}{
		{"RSA", "RS256", []string{"kty", "kid", "use", "alg", "n", "e"}},
		{"EC", "ES256", []string{"kty", "kid", "use", "alg", "crv", "x", "y"}},
	}
	for i, w := range want {
		key := doc.Keys[i]
		var fields []string
		for f := range key {
			fields = append(fields, f)
		}
		slices.Sort(fields)
		wf := slices.Sorted(slices.Values(w.fields))
		if !slices.Equal(fields, wf) {
			t.Errorf("key %d: got fields %v, want exactly %v", i, fields, wf)
		}
		if key["use"] != "sig" || key["alg"] != w.alg || key["kty"] != w.kty {
			t.Errorf("key %d: got %v, want kty %s, use sig, alg %s", i, key, w.kty, w.alg)
		}
	}
	if doc.Keys[1]["crv"] != "P-256" {
		t.Errorf("EC key: got crv %v, want P-256", doc.Keys[1]["crv"])
	}
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestVerifyRefuses(t *testing.T) {
	c := clocktest.New(time.Unix(1_800_000_000, 0))
	src := &memSource{}
	k := newKeyring(t, src, c)
	ctx := context.Background()
	good, err := k.Sign(ctx, claimsAt(c.Now()))
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	parts := strings.Split(good, ".")
	kid := currentKid(t, k)
	payload := map[string]any{
		"iss": issuer, "sub": "alice", "aud": issuer, "client_id": "client-1",
		"iat": 1_800_000_000, "exp": 1_800_003_600, "jti": "x",
	}

	// alg none (RFC 8725 §2.1).
	none := b64(map[string]any{"alg": "none", "typ": "at+jwt", "kid": kid}) + "." + b64(payload) + "."

	// HS256 keyed with the public key's bytes (algorithm confusion).
	pubJWKS, _ := k.JWKS(ctx)
	hs, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: pubJWKS},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", kid))
	if err != nil {
		t.Fatalf("HS256 signer: %v", err)
	}
	pb, _ := json.Marshal(payload)
	hsJWS, _ := hs.Sign(pb)
	hs256, _ := hsJWS.CompactSerialize()

	// A valid signature by a key the keyring does not know, and by its own
	// key with the wrong typ or issuer.
	other := newKeyring(t, &memSource{}, c)
	foreign, _ := other.Sign(ctx, claimsAt(c.Now()))
	signWith := func(typ string, p map[string]any) string {
		set, _ := k.keys(ctx)
		opts := (&jose.SignerOptions{}).WithHeader("kid", kid)
		if typ != "" {
			opts = opts.WithType(jose.ContentType(typ))
		}
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: set.signers[RS256].key.Key}, opts)
		if err != nil {
			t.Fatalf("signer: %v", err)
		}
		b, _ := json.Marshal(p)
		j, err := s.Sign(b)
		if err != nil {
			t.Fatalf("sign: %v", err)
		}
		out, _ := j.CompactSerialize()
		return out
	}
	wrongIss := map[string]any{}
	for n, v := range payload {
		wrongIss[n] = v
	}
	wrongIss["iss"] = "https://evil.example.com"
	noSub := map[string]any{}
	for n, v := range payload {
		if n != "sub" {
			noSub[n] = v
		}
	}

	// Flip one character of the payload.
	tampered := parts[0] + "." + flip(parts[1]) + "." + parts[2]

	tests := []struct {
		name, token string
	}{
		{"empty", ""},
		{"garbage", "not-a-jwt"},
		{"tampered payload", tampered},
		{"tampered signature", parts[0] + "." + parts[1] + "." + flip(parts[2])},
		{"alg none", none},
		{"HS256", hs256},
		{"unknown key", foreign},
		{"typ JWT", signWith("JWT", payload)},
		{"no typ", signWith("", payload)},
		{"wrong issuer", signWith("at+jwt", wrongIss)},
		{"missing sub", signWith("at+jwt", noSub)},
		{"too long", good + strings.Repeat("A", maxTokenBytes)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := k.Verify(ctx, tt.token)
			if !errors.Is(err, ErrInvalidToken) {
				t.Errorf("got error %v, want ErrInvalidToken", err)
			}
		})
	}
	// The well-formed variant is accepted, so the refusals above are about
	// what each case changed.
	if _, err := k.Verify(ctx, signWith("at+jwt", payload)); err != nil {
		t.Errorf("control token: got %v, want nil", err)
	}
}

// flip changes the first character of a base64url string.
func flip(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

// pendingKid is the kid of the pending key in src's document, or "".
func pendingKid(t *testing.T, src *memSource) string {
	t.Helper()
	src.mu.Lock()
	defer src.mu.Unlock()
	var doc document
	if err := json.Unmarshal(src.doc, &doc); err != nil {
		t.Fatalf("decode document: %v", err)
	}
	if doc.Next == nil {
		return ""
	}
	return doc.Next.Key.KeyID
}

// checkPublicOnly fails when a JWK of k's JWK Set has a member other than
// the public ones (RFC 7518 §6.3.1), such as the private exponent "d".
func checkPublicOnly(t *testing.T, k *Keyring) {
	t.Helper()
	raw, err := k.JWKS(context.Background())
	if err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("decode JWKS: %v", err)
	}
	public := map[string]map[string]bool{
		"RSA": {"kty": true, "kid": true, "use": true, "alg": true, "n": true, "e": true},
		"EC":  {"kty": true, "kid": true, "use": true, "alg": true, "crv": true, "x": true, "y": true},
	}
	for _, key := range doc.Keys {
		kty, _ := key["kty"].(string)
		for f := range key {
			if !public[kty][f] {
				t.Errorf("JWKS key %v: holds member %q, want public members only", key["kid"], f)
			}
		}
	}
}

func TestRotateIsStaged(t *testing.T) {
	c := clocktest.New(time.Unix(1_800_000_000, 0))
	src := &memSource{}
	k := newKeyring(t, src, c)
	ctx := context.Background()
	delay := k.ActivationDelay()
	if want := defaultRefresh + JWKSMaxAge; delay != want || want != 10*time.Minute {
		t.Fatalf("activation delay: got %v, want %v (10m)", delay, want)
	}
	oldKid := currentKid(t, k)
	oldTok, err := k.Sign(ctx, claimsAt(c.Now()))
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	rot, err := k.Rotate(ctx, "", time.Hour)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	newKid := pendingKid(t, src)
	if newKid == "" || newKid == oldKid {
		t.Fatalf("pending kid after rotate: got %q, want a new one (old %q)", newKid, oldKid)
	}
	want := Rotation{Alg: RS256, KeyID: newKid, ActiveFrom: c.Now().Add(delay), PreviousKeyID: oldKid,
		PreviousRetireAfter: c.Now().Add(delay + time.Hour), PreviousAccessAlg: RS256}
	if rot != want {
		t.Errorf("Rotate: got %+v, want %+v", rot, want)
	}

	// Right after the rotation the old key signs and both are published.
	if got := currentKid(t, k); got != oldKid {
		t.Errorf("current after rotate: got %q, want the old %q", got, oldKid)
	}
	tok, err := k.Sign(ctx, claimsAt(c.Now()))
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if h := header(t, tok); h.KeyID != oldKid {
		t.Errorf("token kid after rotate: got %q, want the old %q", h.KeyID, oldKid)
	}
	if got := jwksKids(t, k, RS256); len(got) != 2 || got[0] != oldKid || got[1] != newKid {
		t.Errorf("JWKS after rotate: got %v, want [%s %s]", got, oldKid, newKid)
	}
	checkPublicOnly(t, k)

	// Another instance whose clock is past active_from signs with the new
	// key; k verifies that token from its cache before its own switch.
	ahead := clocktest.New(c.Now().Add(delay))
	other := newKeyring(t, src, ahead)
	if got := currentKid(t, other); got != newKid {
		t.Errorf("instance past active_from: got current %q, want %q", got, newKid)
	}
	early, err := other.Sign(ctx, claimsAt(ahead.Now()))
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if h := header(t, early); h.KeyID != newKid {
		t.Errorf("token of the instance past active_from: got kid %q, want %q", h.KeyID, newKid)
	}
	gets, _ := src.stats()
	c.Add(delay - time.Second)
	lastOld, _ := k.Sign(ctx, claimsAt(c.Now()))
	if h := header(t, lastOld); h.KeyID != oldKid {
		t.Errorf("token 1s before active_from: got kid %q, want the old %q", h.KeyID, oldKid)
	}
	if _, err := k.Verify(ctx, early); err != nil {
		t.Errorf("pending-key token before activation: got %v, want nil", err)
	}

	// At active_from the new key signs, with no read needed: the store is
	// down and the cached document is enough.
	src.setFail(fmt.Errorf("secrets manager: %w", shared.ErrUnavailable))
	c.Add(time.Second)
	newTok, err := k.Sign(ctx, claimsAt(c.Now()))
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if h := header(t, newTok); h.KeyID != newKid {
		t.Errorf("token at active_from: got kid %q, want %q", h.KeyID, newKid)
	}
	if got := jwksKids(t, k, RS256); len(got) != 2 || got[0] != newKid || got[1] != oldKid {
		t.Errorf("JWKS at active_from: got %v, want [%s %s]", got, newKid, oldKid)
	}
	checkPublicOnly(t, k)
	if g, _ := src.stats(); g-gets > 1 {
		t.Errorf("reads up to active_from: got %d, want at most 1 (the failed refresh)", g-gets)
	}
	src.setFail(nil)

	// The old key verifies until previous_retire_after, then disappears.
	c.Add(time.Hour - time.Second)
	for name, tk := range map[string]string{"first": oldTok, "last": lastOld, "new": newTok} {
		if _, err := k.Verify(ctx, tk); err != nil {
			t.Errorf("%s token 1s before previous_retire_after: got %v, want nil", name, err)
		}
	}
	c.Add(time.Second)
	if got := jwksKids(t, k, RS256); len(got) != 1 || got[0] != newKid {
		t.Errorf("JWKS after previous_retire_after: got %v, want [%s]", got, newKid)
	}
	for name, tk := range map[string]string{"first": oldTok, "last": lastOld} {
		if _, err := k.Verify(ctx, tk); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s old token after previous_retire_after: got %v, want ErrInvalidToken", name, err)
		}
	}
	if _, err := k.Verify(ctx, newTok); err != nil {
		t.Errorf("new token: got %v, want nil", err)
	}

	// The next rotation writes the switch and drops the expired key.
	if _, err := k.Rotate(ctx, "", time.Minute); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	var doc document
	if err := json.Unmarshal(src.doc, &doc); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if doc.Current.KeyID != newKid || len(doc.Retired) != 0 {
		t.Errorf("document after second rotate: got current %q, retired %+v; want current %s, none retired",
			doc.Current.KeyID, doc.Retired, newKid)
	}
}

// TestRotateRefusedWhilePending is the double rotation of issue 13: a second
// rotation within the activation delay used to replace the pending key, and
// an instance that had read the set before still switched to the replaced
// key at its active_from and signed with a key no longer published. The
// second rotation is now refused and changes nothing, so every token any
// instance signs verifies against the JWK Set.
func TestRotateRefusedWhilePending(t *testing.T) {
	c := clocktest.New(time.Unix(1_800_000_000, 0))
	src := &memSource{}
	ctx := context.Background()
	admin := newKeyring(t, src, c)
	oldKid := currentKid(t, admin)
	first, err := admin.Rotate(ctx, "", time.Hour)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	// Another instance reads the set with the pending key, late enough
	// that its next re-read is due only after active_from.
	c.Add(admin.ActivationDelay() - 4*time.Minute)
	other := newKeyring(t, src, c)
	c.Add(time.Minute)
	stored := append([]byte(nil), src.doc...)

	_, err = admin.Rotate(ctx, "", time.Hour)
	var pending *PendingRotationError
	if !errors.As(err, &pending) || !errors.Is(err, shared.ErrConflict) {
		t.Errorf("second Rotate while pending: got %v, want a PendingRotationError wrapping ErrConflict", err)
	} else if pending.KeyID != first.KeyID || !pending.ActiveFrom.Equal(first.ActiveFrom) {
		t.Errorf("PendingRotationError: got %s until %v, want %s until %v", pending.KeyID, pending.ActiveFrom, first.KeyID, first.ActiveFrom)
	}
	if !bytes.Equal(src.doc, stored) {
		t.Error("the refused rotation changed the stored key set")
	}
	if got := pendingKid(t, src); got != first.KeyID {
		t.Errorf("pending after the refused rotation: got %q, want %q", got, first.KeyID)
	}

	// At active_from, without re-reading, the other instance signs with the
	// pending key, which every fresh reader publishes.
	c.Add(first.ActiveFrom.Sub(c.Now()))
	tok, err := other.Sign(ctx, claimsAt(c.Now()))
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	kid := header(t, tok).KeyID
	fresh := newKeyring(t, src, c)
	if kid != first.KeyID || !slices.Contains(jwksKids(t, fresh, RS256), kid) {
		t.Errorf("token signed at active_from with %q; want %q, published in the JWK Set %v", kid, first.KeyID, jwksKids(t, fresh, RS256))
	}
	if _, err := fresh.Verify(ctx, tok); err != nil {
		t.Errorf("a fresh instance verifies the token: got %v, want nil", err)
	}

	// From active_from a rotation goes through again, over the new key.
	again, err := admin.Rotate(ctx, "", time.Hour)
	if err != nil {
		t.Fatalf("Rotate at active_from: %v", err)
	}
	if again.PreviousKeyID != first.KeyID || again.KeyID == first.KeyID || again.KeyID == oldKid {
		t.Errorf("Rotate at active_from: got %+v, want a new key over %q", again, first.KeyID)
	}
	if got := jwksKids(t, newKeyring(t, src, c), RS256); len(got) != 3 || got[0] != first.KeyID || got[1] != again.KeyID || got[2] != oldKid {
		t.Errorf("JWKS: got %v, want [%s %s %s] (current, pending, retired)", got, first.KeyID, again.KeyID, oldKid)
	}
}

func header(t *testing.T, tok string) jose.Header {
	t.Helper()
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return jws.Signatures[0].Header
}

func TestRefresh(t *testing.T) {
	c := clocktest.New(time.Unix(1_800_000_000, 0))
	src := &memSource{}
	ctx := context.Background()
	a := newKeyring(t, src, c)
	b := newKeyring(t, src, c)
	oldKid := currentKid(t, b)
	if _, err := a.Rotate(ctx, "", time.Hour); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	newKid := pendingKid(t, src)

	// b still uses its cache until Refresh passes.
	if got := jwksKids(t, b, RS256); len(got) != 1 || got[0] != oldKid {
		t.Errorf("b before refresh: got %v, want [%s]", got, oldKid)
	}

	// A token by the pending key (from an instance already past
	// active_from) makes b re-read at once (unknown kid).
	c.Add(unknownKidInterval)
	ahead := newKeyring(t, src, clocktest.New(c.Now().Add(a.ActivationDelay())))
	tok, _ := ahead.Sign(ctx, claimsAt(c.Now()))
	if _, err := b.Verify(ctx, tok); err != nil {
		t.Errorf("b verifies the pending key: got %v, want nil", err)
	}
	if got := jwksKids(t, b, RS256); len(got) != 2 || got[0] != oldKid || got[1] != newKid {
		t.Errorf("b after unknown kid: got JWKS %v, want [%s %s]", got, oldKid, newKid)
	}

	// Unknown kids do not make a read each: at most one per interval.
	gets, _ := src.stats()
	foreign, _ := newKeyring(t, &memSource{}, c).Sign(ctx, claimsAt(c.Now()))
	for range 5 {
		if _, err := b.Verify(ctx, foreign); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("foreign token: got %v, want ErrInvalidToken", err)
		}
	}
	if g, _ := src.stats(); g-gets > 1 {
		t.Errorf("unknown kids: got %d reads, want at most 1", g-gets)
	}

	// After Refresh, a burst of uses does one read (a rotation once the
	// pending key is active makes the stored set differ from b's).
	c.Add(a.ActivationDelay())
	if _, err := a.Rotate(ctx, "", time.Hour); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	c.Add(defaultRefresh)
	gets, _ = src.stats()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { _, _ = b.JWKS(ctx) })
	}
	wg.Wait()
	if g, _ := src.stats(); g-gets != 1 {
		t.Errorf("burst after refresh: got %d reads, want 1", g-gets)
	}
	if got, want := jwksKids(t, b, RS256), jwksKids(t, a, RS256); !slices.Equal(got, want) {
		t.Errorf("b after refresh: got JWKS %v, want %v", got, want)
	}

	// A failed refresh keeps the cached keys.
	src.setFail(fmt.Errorf("secrets manager: %w", shared.ErrUnavailable))
	c.Add(defaultRefresh)
	tok, _ = a.Sign(ctx, claimsAt(c.Now()))
	if _, err := b.Verify(ctx, tok); err != nil {
		t.Errorf("verify during outage: got %v, want nil", err)
	}
	if _, err := b.Sign(ctx, claimsAt(c.Now())); err != nil {
		t.Errorf("sign during outage: got %v, want nil", err)
	}
	if got := jwksKids(t, b, RS256); len(got) == 0 {
		t.Error("JWKS during outage: got no keys")
	}
}

func TestNewErrors(t *testing.T) {
	c := clocktest.New(time.Unix(1_800_000_000, 0))
	good := &memSource{}
	k := newKeyring(t, good, c)
	if _, err := k.Rotate(context.Background(), "", time.Hour); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	mutate := func(f func(map[string]any)) []byte {
		var d map[string]any
		_ = json.Unmarshal(good.doc, &d)
		f(d)
		b, _ := json.Marshal(d)
		return b
	}
	next := func(d map[string]any) map[string]any { return d["next"].(map[string]any) }
	tests := []struct {
		name string
		src  *memSource
	}{
		{"unavailable", &memSource{failGet: fmt.Errorf("down: %w", shared.ErrUnavailable)}},
		{"not json", &memSource{doc: []byte("{")}},
		{"bad version", &memSource{doc: mutate(func(d map[string]any) { d["version"] = 2 })}},
		{"kid not thumbprint", &memSource{doc: mutate(func(d map[string]any) {
			d["current"].(map[string]any)["kid"] = "chosen-by-hand"
		})}},
		{"public current key", &memSource{doc: mutate(func(d map[string]any) {
			cur := d["current"].(map[string]any)
			for _, f := range []string{"d", "p", "q", "dp", "dq", "qi"} {
				delete(cur, f)
			}
		})}},
		{"public pending key", &memSource{doc: mutate(func(d map[string]any) {
			delete(next(d)["key"].(map[string]any), "d")
		})}},
		{"pending kid not thumbprint", &memSource{doc: mutate(func(d map[string]any) {
			next(d)["key"].(map[string]any)["kid"] = "chosen-by-hand"
		})}},
		{"pending key is current", &memSource{doc: mutate(func(d map[string]any) { next(d)["key"] = d["current"] })}},
		{"pending without active_from", &memSource{doc: mutate(func(d map[string]any) { delete(next(d), "active_from") })}},
		{"previous retired before active_from", &memSource{doc: mutate(func(d map[string]any) {
			next(d)["previous_retire_after"] = "2020-01-01T00:00:00Z"
		})}},
	}
	// The control: the document with a pending key loads.
	if _, err := New(context.Background(), &memSource{doc: mutate(func(map[string]any) {})}, Options{Now: c.Now}); err != nil {
		t.Fatalf("document with a pending key: got %v, want nil", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(context.Background(), tt.src, Options{Now: c.Now}); err == nil {
				t.Error("got nil error, want one")
			}
		})
	}
}

func TestSignRequiresClaims(t *testing.T) {
	c := clocktest.New(time.Unix(1_800_000_000, 0))
	k := newKeyring(t, &memSource{}, c)
	bad := claimsAt(c.Now())
	bad.Subject = ""
	if _, err := k.Sign(context.Background(), bad); err == nil {
		t.Error("missing sub: got nil error, want one")
	}
	bad = claimsAt(c.Now())
	bad.ExpiresAt = bad.IssuedAt
	if _, err := k.Sign(context.Background(), bad); err == nil {
		t.Error("exp not after iat: got nil error, want one")
	}
}

// TestRotator: a Rotator reads nothing until it rotates, then stages a key
// on the stored document exactly as a Keyring does, and creates the
// document first when none exists.
func TestRotator(t *testing.T) {
	ctx := context.Background()
	c := clocktest.New(time.Unix(1_800_000_000, 0))
	if _, err := NewRotator(nil, Options{}); err == nil {
		t.Errorf("NewRotator(nil): got nil error, want one")
	}
	if _, err := NewRotator(&memSource{}, Options{Refresh: -time.Second}); err == nil {
		t.Errorf("NewRotator with a negative refresh: got nil error, want one")
	}

	src := &memSource{}
	r, err := NewRotator(src, Options{Now: c.Now})
	if err != nil {
		t.Fatalf("NewRotator: %v", err)
	}
	if gets, creates := src.stats(); gets != 0 || creates != 0 {
		t.Fatalf("after NewRotator: got %d reads and %d creates, want none", gets, creates)
	}
	// No document yet: Rotate creates one, then stages a key on it.
	rot, err := r.Rotate(ctx, "", time.Hour)
	if err != nil {
		t.Fatalf("Rotate on an empty source: %v", err)
	}
	if _, creates := src.stats(); creates != 1 {
		t.Errorf("creates: got %d, want 1", creates)
	}
	if got := pendingKid(t, src); got == "" || got != rot.KeyID || rot.PreviousKeyID == "" || rot.PreviousKeyID == got {
		t.Errorf("after Rotate: got pending %q and %+v, want the rotation's new key over another current one", got, rot)
	}
	if want := c.Now().Add(r.k.ActivationDelay()); !rot.ActiveFrom.Equal(want) {
		t.Errorf("active_from: got %v, want %v", rot.ActiveFrom, want)
	}

	// A keyring reading the document sees what the Rotator staged: the
	// previous key signs, both are published.
	k := newKeyring(t, src, c)
	if got := currentKid(t, k); got != rot.PreviousKeyID {
		t.Errorf("keyring current: got %q, want %q", got, rot.PreviousKeyID)
	}
	if got := jwksKids(t, k, RS256); len(got) != 2 || got[0] != rot.PreviousKeyID || got[1] != rot.KeyID {
		t.Errorf("JWKS: got %v, want [%s %s]", got, rot.PreviousKeyID, rot.KeyID)
	}

	// A second rotation before active_from is refused.
	var pending *PendingRotationError
	if _, err := r.Rotate(ctx, "", time.Hour); !errors.As(err, &pending) || pending.KeyID != rot.KeyID {
		t.Errorf("second Rotate: got %v, want a PendingRotationError naming %q", err, rot.KeyID)
	}

	// A failing store is the Rotate's error, wrapped.
	src.setFail(fmt.Errorf("secrets manager: %w", shared.ErrUnavailable))
	if _, err := r.Rotate(ctx, "", time.Hour); !errors.Is(err, shared.ErrUnavailable) {
		t.Errorf("Rotate with the store down: got %v, want ErrUnavailable", err)
	}
	if _, err := r.Rotate(ctx, "", -time.Second); err == nil {
		t.Errorf("Rotate with a negative keep: got nil error, want one")
	}
}

// TestDescribe lists the keys as the console shows them: the current keys
// (the one that signs access tokens first), then the pending key until it
// signs, then the retired key until it retires, each with its algorithm.
func TestDescribe(t *testing.T) {
	c := clocktest.New(time.Unix(1_800_000_000, 0))
	src := &memSource{}
	k := newKeyring(t, src, c)
	ctx := context.Background()
	old := currentKid(t, k)
	es := jwksKids(t, k, ES256)[0]
	doc, _ := src.GetSigningKeys(ctx)
	created := c.Now().UTC()
	got, err := Describe(doc, c.Now())
	want := []KeyInfo{
		{KeyID: old, Alg: RS256, State: "current", AccessTokens: true, ActiveFrom: created},
		{KeyID: es, Alg: ES256, State: "current", ActiveFrom: created},
	}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("before a rotation: got %+v, %v, want %+v", got, err, want)
	}
	rot, err := k.Rotate(ctx, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	rot.ActiveFrom, rot.PreviousRetireAfter = rot.ActiveFrom.UTC(), rot.PreviousRetireAfter.UTC()
	doc, _ = src.GetSigningKeys(ctx)
	got, _ = Describe(doc, c.Now())
	want = []KeyInfo{
		{KeyID: old, Alg: RS256, State: "current", AccessTokens: true, ActiveFrom: created, RetireAfter: rot.PreviousRetireAfter},
		{KeyID: es, Alg: ES256, State: "current", ActiveFrom: created},
		{KeyID: rot.KeyID, Alg: RS256, State: "next", AccessTokens: true, ActiveFrom: rot.ActiveFrom},
	}
	if !slices.Equal(got, want) {
		t.Errorf("pending: got %+v, want %+v", got, want)
	}
	got, _ = Describe(doc, rot.ActiveFrom)
	want = []KeyInfo{
		{KeyID: rot.KeyID, Alg: RS256, State: "current", AccessTokens: true, ActiveFrom: rot.ActiveFrom},
		{KeyID: es, Alg: ES256, State: "current", ActiveFrom: created},
		{KeyID: old, Alg: RS256, State: "retired", RetireAfter: rot.PreviousRetireAfter},
	}
	if !slices.Equal(got, want) {
		t.Errorf("active: got %+v, want %+v", got, want)
	}
	got, _ = Describe(doc, rot.PreviousRetireAfter)
	if len(got) != 2 || got[0].KeyID != rot.KeyID || got[1].KeyID != es {
		t.Errorf("after retirement: got %+v, want the new key and the ES256 key", got)
	}
	// A rotation to ES256: the new ES256 key is pending for access tokens,
	// then signs them, listed first; the RS256 key stays current (ID
	// tokens) and the previous ES256 key retires.
	c.Add(rot.ActiveFrom.Add(time.Minute).Sub(c.Now()))
	es2, err := k.Rotate(ctx, ES256, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ = src.GetSigningKeys(ctx)
	got, _ = Describe(doc, c.Now())
	want = []KeyInfo{
		{KeyID: rot.KeyID, Alg: RS256, State: "current", AccessTokens: true, ActiveFrom: rot.ActiveFrom},
		{KeyID: es, Alg: ES256, State: "current", ActiveFrom: created, RetireAfter: es2.PreviousRetireAfter.UTC()},
		{KeyID: es2.KeyID, Alg: ES256, State: "next", AccessTokens: true, ActiveFrom: es2.ActiveFrom.UTC()},
		{KeyID: old, Alg: RS256, State: "retired", RetireAfter: rot.PreviousRetireAfter},
	}
	if !slices.Equal(got, want) {
		t.Errorf("pending ES256: got %+v, want %+v", got, want)
	}
	got, _ = Describe(doc, es2.ActiveFrom)
	want = []KeyInfo{
		{KeyID: es2.KeyID, Alg: ES256, State: "current", AccessTokens: true, ActiveFrom: es2.ActiveFrom.UTC()},
		{KeyID: rot.KeyID, Alg: RS256, State: "current", ActiveFrom: rot.ActiveFrom},
		{KeyID: es, Alg: ES256, State: "retired", RetireAfter: es2.PreviousRetireAfter.UTC()},
		{KeyID: old, Alg: RS256, State: "retired", RetireAfter: rot.PreviousRetireAfter},
	}
	if !slices.Equal(got, want) {
		t.Errorf("ES256 active: got %+v, want %+v", got, want)
	}
	// A document written before current_since was kept: no date.
	legacy := strings.Replace(string(doc), `"current_since"`, `"x_current_since"`, 1)
	if got, err = Describe([]byte(legacy), c.Now()); err != nil || !got[0].ActiveFrom.IsZero() {
		t.Errorf("a document without current_since: got %+v, %v, want no date", got, err)
	}
	if _, err := Describe([]byte("{"), c.Now()); err == nil {
		t.Errorf("got no error for a broken document")
	}
}
