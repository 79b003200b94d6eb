package signing

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/clocktest"
)

// verifyWithJWKS verifies tok with go-jose against k's published JWK Set
// (as a resource server would), accepting only alg, and returns the key
// that verified it.
func verifyWithJWKS(t *testing.T, k *Keyring, tok, alg string) jose.JSONWebKey {
	t.Helper()
	raw, err := k.JWKS(context.Background())
	if err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatalf("decode JWKS: %v", err)
	}
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil {
		t.Fatalf("parse as %s: %v", alg, err)
	}
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %s: got %d keys in the JWK Set, want 1", jws.Signatures[0].Header.KeyID, len(keys))
	}
	if keys[0].Algorithm != alg {
		t.Errorf("JWK of kid %s: got alg %s, want %s", keys[0].KeyID, keys[0].Algorithm, alg)
	}
	if _, err := jws.Verify(keys[0]); err != nil {
		t.Fatalf("verify with the JWK Set: %v", err)
	}
	return keys[0]
}

// tokenAlg is the alg and kid of a compact JWS's header.
func tokenAlg(t *testing.T, tok string) (alg, kid string) {
	t.Helper()
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	h := jws.Signatures[0].Header
	return h.Algorithm, h.KeyID
}

func idClaimsAt(now time.Time, aud string) IDClaims {
	return IDClaims{Issuer: issuer, Subject: "user-1", Audience: aud, AuthorizedParty: aud,
		IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix(), AuthTime: now.Unix(), Nonce: "n-1"}
}

// TestRotateAcrossAlgorithms: a rotation to ES256 is staged like any
// other (published at once, signing access tokens from active_from, with
// no read), the RS256 key stays current for RS256 ID tokens and keeps
// verifying its access tokens, the previous ES256 key retires after keep;
// a rotation without an algorithm keeps ES256; a rotation back to RS256
// moves access tokens back.
func TestRotateAcrossAlgorithms(t *testing.T) {
	ctx := context.Background()
	c := clocktest.New(time.Unix(1_800_000_000, 0))
	src := &memSource{}
	k := newKeyring(t, src, c)
	rsKid, esKid := jwksKids(t, k, RS256)[0], jwksKids(t, k, ES256)[0]
	rsTok, err := k.Sign(ctx, claimsAt(c.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if alg, kid := tokenAlg(t, rsTok); alg != RS256 || kid != rsKid {
		t.Fatalf("access token of a new key set: got %s %s, want RS256 %s", alg, kid, rsKid)
	}

	rot, err := k.Rotate(ctx, ES256, time.Hour)
	if err != nil {
		t.Fatalf("Rotate ES256: %v", err)
	}
	if rot.Alg != ES256 || rot.PreviousKeyID != esKid || rot.PreviousAccessAlg != RS256 || rot.KeyID == esKid {
		t.Fatalf("Rotate ES256: got %+v, want a new ES256 key over %s, access tokens from RS256", rot, esKid)
	}
	// Published at once, not signing yet.
	if got := jwksKids(t, k, ES256); !slices.Equal(got, []string{esKid, rot.KeyID}) {
		t.Errorf("ES256 keys after rotate: got %v, want [%s %s]", got, esKid, rot.KeyID)
	}
	c.Add(k.ActivationDelay() - time.Second)
	tok, _ := k.Sign(ctx, claimsAt(c.Now()))
	if alg, kid := tokenAlg(t, tok); alg != RS256 || kid != rsKid {
		t.Errorf("access token 1s before active_from: got %s %s, want RS256 %s", alg, kid, rsKid)
	}
	idTok, _ := k.SignIDToken(ctx, ES256, idClaimsAt(c.Now(), "client-1"))
	if alg, kid := tokenAlg(t, idTok); alg != ES256 || kid != esKid {
		t.Errorf("ES256 ID token 1s before active_from: got %s %s, want ES256 %s", alg, kid, esKid)
	}

	// At active_from, with the store down: ES256 access tokens by the new
	// key; RS256 ID tokens still by the RS256 key.
	src.setFail(errors.New("down"))
	c.Add(time.Second)
	esTok, err := k.Sign(ctx, claimsAt(c.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if alg, kid := tokenAlg(t, esTok); alg != ES256 || kid != rot.KeyID {
		t.Errorf("access token at active_from: got %s %s, want ES256 %s", alg, kid, rot.KeyID)
	}
	verifyWithJWKS(t, k, esTok, ES256)
	if got, err := k.Verify(ctx, esTok); err != nil || got.Subject != "alice" {
		t.Errorf("Verify ES256 access token: got %+v, %v", got, err)
	}
	idTok, err = k.SignIDToken(ctx, "", idClaimsAt(c.Now(), "client-1"))
	if err != nil {
		t.Fatal(err)
	}
	if alg, kid := tokenAlg(t, idTok); alg != RS256 || kid != rsKid {
		t.Errorf("default ID token after the switch: got %s %s, want RS256 %s", alg, kid, rsKid)
	}
	verifyWithJWKS(t, k, idTok, RS256)
	src.setFail(nil)
	if got := currentKid(t, k); got != rot.KeyID {
		t.Errorf("access-token key: got %s, want %s", got, rot.KeyID)
	}
	// The RS256 access tokens signed before the switch verify: their key
	// is still current (ID tokens).
	c.Add(2 * time.Hour)
	if _, err := k.Verify(ctx, rsTok); err != nil {
		t.Errorf("RS256 access token after the switch: got %v, want nil", err)
	}
	// The previous ES256 key retired after keep.
	if got := jwksKids(t, k, ES256); !slices.Equal(got, []string{rot.KeyID}) {
		t.Errorf("ES256 keys after keep: got %v, want [%s]", got, rot.KeyID)
	}
	if got := jwksKids(t, k, RS256); !slices.Equal(got, []string{rsKid}) {
		t.Errorf("RS256 keys after keep: got %v, want [%s]", got, rsKid)
	}

	// A rotation without an algorithm rotates the access-token one.
	again, err := k.Rotate(ctx, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if again.Alg != ES256 || again.PreviousKeyID != rot.KeyID || again.PreviousAccessAlg != ES256 {
		t.Errorf("Rotate with no alg: got %+v, want ES256 over %s", again, rot.KeyID)
	}
	// Another instance reading now switches on its own at active_from.
	other := newKeyring(t, src, c)
	c.Add(k.ActivationDelay())
	tok, _ = other.Sign(ctx, claimsAt(c.Now()))
	if alg, kid := tokenAlg(t, tok); alg != ES256 || kid != again.KeyID {
		t.Errorf("other instance at active_from: got %s %s, want ES256 %s", alg, kid, again.KeyID)
	}

	// Back to RS256: a new RS256 key signs access tokens from active_from,
	// the old one retires after keep; the ES256 key stays current.
	back, err := k.Rotate(ctx, RS256, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if back.Alg != RS256 || back.PreviousKeyID != rsKid || back.PreviousAccessAlg != ES256 {
		t.Errorf("Rotate RS256: got %+v, want RS256 over %s, access tokens from ES256", back, rsKid)
	}
	c.Add(k.ActivationDelay())
	tok, _ = k.Sign(ctx, claimsAt(c.Now()))
	if alg, kid := tokenAlg(t, tok); alg != RS256 || kid != back.KeyID {
		t.Errorf("access token after rotating back: got %s %s, want RS256 %s", alg, kid, back.KeyID)
	}
	idTok, _ = k.SignIDToken(ctx, ES256, idClaimsAt(c.Now(), "client-1"))
	if alg, kid := tokenAlg(t, idTok); alg != ES256 || kid != again.KeyID {
		t.Errorf("ES256 ID token after rotating back: got %s %s, want ES256 %s", alg, kid, again.KeyID)
	}
	checkPublicOnly(t, k)

	if _, err := k.Rotate(ctx, "HS256", time.Hour); err == nil || errors.Is(err, shared.ErrConflict) {
		t.Errorf("Rotate HS256: got %v, want an unsupported-algorithm error", err)
	}
}

// TestRotateRefusedWhilePendingAcrossAlgorithms: a pending key of one
// algorithm refuses a rotation to the other too (one rotation at a time).
func TestRotateRefusedWhilePendingAcrossAlgorithms(t *testing.T) {
	ctx := context.Background()
	c := clocktest.New(time.Unix(1_800_000_000, 0))
	src := &memSource{}
	k := newKeyring(t, src, c)
	first, err := k.Rotate(ctx, RS256, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var pending *PendingRotationError
	if _, err := k.Rotate(ctx, ES256, time.Hour); !errors.As(err, &pending) || pending.KeyID != first.KeyID {
		t.Errorf("Rotate ES256 while an RS256 key is pending: got %v, want a PendingRotationError naming %s", err, first.KeyID)
	}
}

// TestIDTokensVerifiedByGoOIDC: ID tokens of either algorithm verify with
// coreos/go-oidc, unmodified, against the JWK Set served over HTTP, when
// the relying party accepts that algorithm; an RP that accepts only RS256
// refuses the ES256 one.
func TestIDTokensVerifiedByGoOIDC(t *testing.T) {
	ctx := context.Background()
	k, err := New(ctx, &memSource{}, Options{Issuer: issuer})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := k.JWKS(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	keySet := oidc.NewRemoteKeySet(ctx, srv.URL)
	now := time.Now()
	for _, alg := range Algorithms() {
		t.Run(alg, func(t *testing.T) {
			tok, err := k.SignIDToken(ctx, alg, idClaimsAt(now, "client-"+alg))
			if err != nil {
				t.Fatal(err)
			}
			v := oidc.NewVerifier(issuer, keySet, &oidc.Config{ClientID: "client-" + alg, SupportedSigningAlgs: []string{alg}})
			idt, err := v.Verify(ctx, tok)
			if err != nil {
				t.Fatalf("go-oidc Verify: %v", err)
			}
			if idt.Subject != "user-1" || idt.Nonce != "n-1" {
				t.Errorf("claims: got sub %q nonce %q", idt.Subject, idt.Nonce)
			}
		})
	}
	tok, _ := k.SignIDToken(ctx, ES256, idClaimsAt(now, "client-1"))
	rsOnly := oidc.NewVerifier(issuer, keySet, &oidc.Config{ClientID: "client-1"})
	if _, err := rsOnly.Verify(ctx, tok); err == nil {
		t.Error("an RS256-only relying party accepted an ES256 ID token")
	}
}

// TestVerifyAlgorithmConfusion: a token whose header names an algorithm
// other than its key's is refused, even when its signature is valid for
// the algorithm it names (RFC 8725 §3.1).
func TestVerifyAlgorithmConfusion(t *testing.T) {
	ctx := context.Background()
	c := clocktest.New(time.Unix(1_800_000_000, 0))
	k := newKeyring(t, &memSource{}, c)
	set, _ := k.keys(ctx)
	rsKid, esKid := set.signers[RS256].key.KeyID, set.signers[ES256].key.KeyID
	payload, _ := json.Marshal(map[string]any{"iss": issuer, "sub": "alice", "aud": issuer, "client_id": "client-1",
		"iat": 1_800_000_000, "exp": 1_800_003_600, "jti": "x"})
	sign := func(alg string, key any, kid string) string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: key},
			(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", kid))
		if err != nil {
			t.Fatal(err)
		}
		j, err := s.Sign(payload)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := j.CompactSerialize()
		return out
	}
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for name, tok := range map[string]string{
		// The ES256 key's signature under the RS256 key's kid.
		"ES256 signature, RS256 kid": sign(ES256, set.signers[ES256].key.Key, rsKid),
		"RS256 signature, ES256 kid": sign(RS256, set.signers[RS256].key.Key, esKid),
		"unknown P-256 key":          sign(ES256, stranger, esKid),
		"ES384":                      strings.Replace(sign(ES256, set.signers[ES256].key.Key, esKid), "eyJhbGciOiJFUzI1NiIs", "eyJhbGciOiJFUzM4NCIs", 1),
	} {
		if _, err := k.Verify(ctx, tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: got %v, want ErrInvalidToken", name, err)
		}
	}
	// The control: the ES256 key under its own kid verifies.
	if _, err := k.Verify(ctx, sign(ES256, set.signers[ES256].key.Key, esKid)); err != nil {
		t.Errorf("ES256 control: got %v, want nil", err)
	}
}

// legacySource is a key set as written before ES256: one RS256 chain.
func legacySource(t *testing.T, c *clocktest.Clock) *memSource {
	t.Helper()
	src := &memSource{}
	if _, err := New(context.Background(), src, Options{Now: c.Now, createAlgs: []string{RS256}}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(src.doc), "other_algs") || strings.Contains(string(src.doc), "access_alg") {
		t.Fatalf("legacy document: got %s, want the RS256 fields only", src.doc)
	}
	return src
}

// TestEnsureKey: a key set written before ES256 signs RS256 as before; an
// ES256 ID token is a NoKeyError (ErrUnavailable) until EnsureKey has
// staged an ES256 key and its active_from has come; access tokens stay
// RS256; EnsureKey on a set that has the key writes nothing.
func TestEnsureKey(t *testing.T) {
	ctx := context.Background()
	c := clocktest.New(time.Unix(1_800_000_000, 0))
	src := legacySource(t, c)
	k := newKeyring(t, src, c)
	if got := jwksKids(t, k, ES256); len(got) != 0 {
		t.Fatalf("legacy JWKS: got ES256 keys %v, want none", got)
	}
	var nk *NoKeyError
	if _, err := k.SignIDToken(ctx, ES256, idClaimsAt(c.Now(), "c")); !errors.As(err, &nk) || !errors.Is(err, shared.ErrUnavailable) || !nk.ActiveFrom.IsZero() {
		t.Fatalf("ES256 ID token on a legacy set: got %v, want a NoKeyError wrapping ErrUnavailable", err)
	}

	r, err := NewRotator(src, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	rot, staged, err := r.EnsureKey(ctx, ES256)
	if err != nil || !staged || rot.Alg != ES256 || rot.PreviousKeyID != "" {
		t.Fatalf("EnsureKey: got %+v, %v, %v; want a first ES256 key staged", rot, staged, err)
	}
	k = newKeyring(t, src, c)
	if got := jwksKids(t, k, ES256); !slices.Equal(got, []string{rot.KeyID}) {
		t.Errorf("JWKS after EnsureKey: got %v, want [%s] (published at once)", got, rot.KeyID)
	}
	if _, err := k.SignIDToken(ctx, ES256, idClaimsAt(c.Now(), "c")); !errors.As(err, &nk) || !nk.ActiveFrom.Equal(rot.ActiveFrom) {
		t.Errorf("ES256 ID token before active_from: got %v, want a NoKeyError until %v", err, rot.ActiveFrom)
	}
	// A rotation waits for the pending key.
	var pending *PendingRotationError
	if _, err := k.Rotate(ctx, RS256, time.Hour); !errors.As(err, &pending) || pending.KeyID != rot.KeyID {
		t.Errorf("Rotate while the first ES256 key is pending: got %v, want a PendingRotationError", err)
	}
	c.Add(rot.ActiveFrom.Sub(c.Now()))
	tok, err := k.SignIDToken(ctx, ES256, idClaimsAt(c.Now(), "c"))
	if err != nil {
		t.Fatalf("ES256 ID token at active_from: %v", err)
	}
	if alg, kid := tokenAlg(t, tok); alg != ES256 || kid != rot.KeyID {
		t.Errorf("ES256 ID token: got %s %s, want ES256 %s", alg, kid, rot.KeyID)
	}
	verifyWithJWKS(t, k, tok, ES256)
	at, _ := k.Sign(ctx, claimsAt(c.Now()))
	if alg, _ := tokenAlg(t, at); alg != RS256 {
		t.Errorf("access token after EnsureKey: got %s, want RS256", alg)
	}
	// Nothing more to do: no write.
	before := string(src.doc)
	if _, staged, err := k.EnsureKey(ctx, ES256); err != nil || staged {
		t.Errorf("EnsureKey again: got staged %v, %v; want nothing staged", staged, err)
	}
	if _, staged, err := r.EnsureKey(ctx, RS256); err != nil || staged {
		t.Errorf("EnsureKey RS256: got staged %v, %v; want nothing staged", staged, err)
	}
	if string(src.doc) != before {
		t.Error("EnsureKey of a key the set has changed the document")
	}
	if _, _, err := r.EnsureKey(ctx, "PS256"); err == nil {
		t.Error("EnsureKey PS256: got nil error, want one")
	}
}

// TestLegacyDocumentReads: a document written before ES256 (the RS256
// fields alone) is read unchanged, and a rotation keeps its RS256 fields
// where an older reader finds them.
func TestLegacyDocumentReads(t *testing.T) {
	ctx := context.Background()
	c := clocktest.New(time.Unix(1_800_000_000, 0))
	src := legacySource(t, c)
	k := newKeyring(t, src, c)
	kid := currentKid(t, k)
	rot, err := k.Rotate(ctx, ES256, time.Hour)
	if err != nil {
		t.Fatalf("Rotate ES256 on a legacy set: %v", err)
	}
	if rot.PreviousKeyID != "" {
		t.Errorf("Rotate ES256: got previous %q, want none", rot.PreviousKeyID)
	}
	var old struct {
		Version int             `json:"version"`
		Current jose.JSONWebKey `json:"current"`
	}
	if err := json.Unmarshal(src.doc, &old); err != nil || old.Version != 1 || old.Current.KeyID != kid {
		t.Errorf("rotated document read as before ES256: got version %d current %q (%v), want 1 %s", old.Version, old.Current.KeyID, err, kid)
	}
	c.Add(k.ActivationDelay())
	tok, _ := k.Sign(ctx, claimsAt(c.Now()))
	if alg, kid := tokenAlg(t, tok); alg != ES256 || kid != rot.KeyID {
		t.Errorf("access token: got %s %s, want ES256 %s", alg, kid, rot.KeyID)
	}
}

// TestNewErrorsES256: a document whose ES256 part or access-token
// algorithm is wrong is refused (New fails loudly), as for RS256.
func TestNewErrorsES256(t *testing.T) {
	c := clocktest.New(time.Unix(1_800_000_000, 0))
	good := &memSource{}
	k := newKeyring(t, good, c)
	if _, err := k.Rotate(context.Background(), ES256, time.Hour); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	mutate := func(f func(map[string]any)) []byte {
		var d map[string]any
		_ = json.Unmarshal(good.doc, &d)
		f(d)
		b, _ := json.Marshal(d)
		return b
	}
	es := func(d map[string]any) map[string]any {
		return d["other_algs"].(map[string]any)["ES256"].(map[string]any)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384JWK := jose.JSONWebKey{Key: p384, Algorithm: ES256, Use: "sig"}
	p384JWK.KeyID, _ = thumbprint(jose.JSONWebKey{Key: &p384.PublicKey})
	tests := map[string][]byte{
		"unknown algorithm":  mutate(func(d map[string]any) { d["other_algs"].(map[string]any)["HS256"] = es(d) }),
		"RS256 among others": mutate(func(d map[string]any) { d["other_algs"].(map[string]any)["RS256"] = es(d) }),
		"ES256 kid not thumbprint": mutate(func(d map[string]any) {
			es(d)["current"].(map[string]any)["kid"] = "chosen-by-hand"
		}),
		"ES256 public current key": mutate(func(d map[string]any) { delete(es(d)["current"].(map[string]any), "d") }),
		"RSA key as ES256":         mutate(func(d map[string]any) { es(d)["current"] = d["current"] }),
		"P-384 key as ES256":       mutate(func(d map[string]any) { es(d)["current"] = p384JWK }),
		"pending ES256 key is RS256": mutate(func(d map[string]any) {
			es(d)["next"].(map[string]any)["key"] = d["current"]
		}),
		"ES256 chain without keys": mutate(func(d map[string]any) { delete(es(d), "current"); delete(es(d), "next") }),
		"access_alg unknown":       mutate(func(d map[string]any) { d["access_alg"] = "none" }),
		"access_alg without a key": mutate(func(d map[string]any) { d["access_alg"] = "ES256"; delete(d, "other_algs") }),
		"next_access_alg before its key signs": mutate(func(d map[string]any) {
			delete(es(d), "current")
			d["next_access_alg"].(map[string]any)["from"] = "2020-01-01T00:00:00Z"
		}),
		"next_access_alg without a key": mutate(func(d map[string]any) { delete(d, "other_algs") }),
	}
	if _, err := New(context.Background(), &memSource{doc: mutate(func(map[string]any) {})}, Options{Now: c.Now}); err != nil {
		t.Fatalf("the control document: got %v, want nil", err)
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := New(context.Background(), &memSource{doc: doc}, Options{Now: c.Now})
			t.Log(err)
			if err == nil {
				t.Errorf("got nil error, want one for %s", doc)
			}
		})
	}
}
