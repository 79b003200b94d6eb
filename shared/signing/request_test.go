package signing_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store/storetest"
)

// TestRequestSignerOnStore: the permission-request key set lives in a
// secret of its own (<prefix>/permission-request-keys), created once for
// concurrent first starts, apart from the token-signing keys: its JWT
// verifies against its own JWK Set with its typ, and never against the
// token keys (Keyring.Verify refuses it), whose JWK Set does not hold it.
func TestRequestSignerOnStore(t *testing.T) {
	st := storetest.Kumo(t)
	ctx := context.Background()
	tokens, err := signing.New(ctx, st, signing.Options{Issuer: "https://auth.example.com"})
	if err != nil {
		t.Fatalf("token keyring: %v", err)
	}
	const n = 3
	signers := make([]*signing.RequestSigner, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			signers[i], errs[i] = signing.NewRequestSigner(ctx, st.PermissionRequestKeys(), signing.Options{})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("NewRequestSigner #%d: %v", i, err)
		}
	}
	var sets [n]jose.JSONWebKeySet
	for i, s := range signers {
		raw, err := s.JWKS(ctx)
		if err != nil {
			t.Fatalf("JWKS: %v", err)
		}
		if err := json.Unmarshal(raw, &sets[i]); err != nil {
			t.Fatal(err)
		}
		if len(sets[i].Keys) != 1 || sets[i].Keys[0].KeyID != sets[0].Keys[0].KeyID {
			t.Fatalf("signer #%d: got keys %v, want the one key of signer #0 (one key set for concurrent starts)", i, sets[i].Keys)
		}
	}
	kid := sets[0].Keys[0].KeyID
	if !sets[0].Keys[0].IsPublic() {
		t.Error("the permission JWK Set holds a private key")
	}
	for _, k := range jwksKids(t, tokens, "") {
		if k == kid {
			t.Fatalf("the token JWK Set holds the permission-request key %s", kid)
		}
	}

	now := time.Now()
	claims := map[string]any{"iss": "https://auth.example.com", "aud": "https://perms.example.com/p", "sub": "u1",
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": "j1"}
	tok, err := signers[1].Sign(ctx, "permissions-request+jwt", claims)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	h := parsed.Headers[0]
	if typ := h.ExtraHeaders[jose.HeaderType]; typ != "permissions-request+jwt" || h.KeyID != kid {
		t.Errorf("header: got typ %v kid %s, want permissions-request+jwt %s", typ, h.KeyID, kid)
	}
	keys := sets[0].Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %s: got %d keys in the permission JWK Set, want 1", h.KeyID, len(keys))
	}
	var got jwt.Claims
	if err := parsed.Claims(keys[0].Key, &got); err != nil {
		t.Fatalf("verify against the permission JWK Set: %v", err)
	}
	if got.Subject != "u1" || !got.Audience.Contains("https://perms.example.com/p") {
		t.Errorf("claims: got %+v", got)
	}
	// The token keyring never takes it for an access token.
	if _, err := tokens.Verify(ctx, tok); !errors.Is(err, signing.ErrInvalidToken) {
		t.Errorf("token keyring Verify of a permission request: got %v, want ErrInvalidToken", err)
	}
	// Nor with an access token's typ: the key is unknown to it.
	forged, err := signers[0].Sign(ctx, "at+jwt", claims)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tokens.Verify(ctx, forged); err == nil || !strings.Contains(err.Error(), "unknown kid") {
		t.Errorf("token keyring Verify of an at+jwt signed by the permission key: got %v, want unknown kid", err)
	}
}

func TestRequestSignerRefuses(t *testing.T) {
	st := storetest.Kumo(t)
	s, err := signing.NewRequestSigner(context.Background(), st.PermissionRequestKeys(), signing.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		typ    string
		claims any
	}{
		"no typ":       {"", map[string]any{"sub": "u"}},
		"not object":   {"x+jwt", []string{"a"}},
		"not encoding": {"x+jwt", map[string]any{"f": func() {}}},
	} {
		if tok, err := s.Sign(context.Background(), tc.typ, tc.claims); err == nil {
			t.Errorf("%s: got %q, want an error", name, tok)
		}
	}
}
