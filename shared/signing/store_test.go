package signing_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store/storetest"
)

// TestOnStore runs the keyring on its real Source: the store's signing-key
// secret in Secrets Manager (kumo).
func TestOnStore(t *testing.T) {
	st := storetest.Kumo(t)
	ctx := context.Background()
	const n = 3
	rings := make([]*signing.Keyring, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { rings[i], errs[i] = signing.New(ctx, st, signing.Options{}) })
	}
	wg.Wait()
	kids := make([]string, n)
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("New #%d: %v", i, errs[i])
		}
		kids[i] = jwksKids(t, rings[i], signing.RS256)[0]
		if kids[i] != kids[0] {
			t.Errorf("keyring #%d: got kid %s, want %s (one key for concurrent starts)", i, kids[i], kids[0])
		}
	}
	if _, err := rings[0].Rotate(ctx, "", time.Hour); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	// The new key is published at once, after the current one...
	later, err := signing.New(ctx, st, signing.Options{})
	if err != nil {
		t.Fatalf("New after rotate: %v", err)
	}
	got := jwksKids(t, later, signing.RS256)
	if len(got) != 2 || got[0] != kids[0] || got[1] == kids[0] {
		t.Fatalf("JWKS after rotate: got %v, want [%s new]", got, kids[0])
	}
	// ...and is current for an instance reading the document after its
	// active_from.
	delay := rings[0].ActivationDelay()
	ahead, err := signing.New(ctx, st, signing.Options{Now: func() time.Time { return time.Now().Add(delay) }})
	if err != nil {
		t.Fatalf("New past active_from: %v", err)
	}
	if after := jwksKids(t, ahead, signing.RS256); len(after) != 2 || after[0] != got[1] || after[1] != kids[0] {
		t.Errorf("JWKS past active_from: got %v, want [%s %s]", after, got[1], kids[0])
	}
}

// jwksKids are the kids of k's JWK Set of algorithm alg ("": all), in
// order.
func jwksKids(t *testing.T, k *signing.Keyring, alg string) []string {
	t.Helper()
	raw, err := k.JWKS(context.Background())
	if err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			Alg string `json:"alg"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatalf("decode JWKS: %v", err)
	}
	var kids []string
	for _, k := range set.Keys {
		if alg == "" || k.Alg == alg {
			kids = append(kids, k.Kid)
		}
	}
	return kids
}
