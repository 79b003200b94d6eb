package signing

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared/clocktest"
)

// TestVerifyRemembers: a token Verify accepted is answered from the cache
// (the same claims, without a signature check: a few allocations instead
// of the dozens of a verification), and a token that differs from it by
// one byte, anywhere, is still verified and refused. The retirement of the
// remembered token's key is TestRotateIsStaged's last step.
func TestVerifyRemembers(t *testing.T) {
	for _, alg := range []string{RS256, ES256} {
		t.Run(alg, func(t *testing.T) {
			c := clocktest.New(time.Unix(1_800_000_000, 0))
			k := newKeyring(t, &memSource{}, c)
			ctx := context.Background()
			if alg == ES256 {
				if _, err := k.Rotate(ctx, ES256, time.Hour); err != nil {
					t.Fatalf("Rotate: %v", err)
				}
				c.Add(k.ActivationDelay())
			}
			tok, err := k.Sign(ctx, claimsAt(c.Now()))
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if h, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0]); !strings.Contains(string(h), `"alg":"`+alg+`"`) {
				t.Fatalf("token header: got %s, want alg %s", h, alg)
			}
			fresh := testingAllocs(func() { _, _ = k.Verify(ctx, tok) }, func() { k.verified = verifiedCache{size: verifiedGeneration} })
			first, err := k.Verify(ctx, tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if n := k.verified.len(); n != 1 {
				t.Fatalf("tokens remembered after one Verify: got %d, want 1", n)
			}
			again, err := k.Verify(ctx, tok)
			if err != nil || again != first {
				t.Fatalf("Verify again: got %+v, %v; want %+v", again, err, first)
			}
			hit := testing.AllocsPerRun(20, func() { _, _ = k.Verify(ctx, tok) })
			if hit > 2 || fresh < 20 {
				t.Errorf("allocations: %.0f per remembered Verify (want at most 2), %.0f per fresh one (want at least 20)", hit, fresh)
			}

			parts := strings.Split(tok, ".")
			altered := map[string]string{
				"header":    flip(parts[0]) + "." + parts[1] + "." + parts[2],
				"payload":   parts[0] + "." + flip(parts[1]) + "." + parts[2],
				"signature": parts[0] + "." + parts[1] + "." + flip(parts[2]),
				"appended":  tok + "A",
			}
			for name, bad := range altered {
				if _, err := k.Verify(ctx, bad); !errors.Is(err, ErrInvalidToken) {
					t.Errorf("%s changed after the token was remembered: got %v, want ErrInvalidToken", name, err)
				}
			}
			if n := k.verified.len(); n != 1 {
				t.Errorf("tokens remembered after the refused ones: got %d, want 1", n)
			}
		})
	}
}

// testingAllocs is the mean number of allocations of f, with reset (not
// counted) before each run.
func testingAllocs(f, reset func()) float64 {
	const runs = 20
	var before, after runtime.MemStats
	var total uint64
	for range runs {
		reset()
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		total += after.Mallocs - before.Mallocs
	}
	return float64(total) / runs
}

// TestVerifiedCacheBounded: the cache holds at most two generations, and a
// token found in the older one moves to the current one.
func TestVerifiedCacheBounded(t *testing.T) {
	c := verifiedCache{size: 4}
	tok := func(i int) string { return fmt.Sprintf("token-%d", i) }
	for i := range 4 {
		c.put(tok(i), verified{kid: tok(i)})
	}
	// A fifth token starts a generation: 0 to 3 are the previous one.
	c.put(tok(4), verified{kid: tok(4)})
	if v, ok := c.get(tok(0)); !ok || v.kid != tok(0) {
		t.Fatalf("token 0 from the previous generation: got %+v, %v", v, ok)
	}
	// 0 moved to the current generation (4, 0); 5 and 6 fill it, 7 starts
	// another: 1 to 3 are dropped, 0 survives.
	for i := 5; i <= 7; i++ {
		c.put(tok(i), verified{kid: tok(i)})
	}
	for i := 1; i <= 3; i++ {
		if _, ok := c.get(tok(i)); ok {
			t.Errorf("token %d: still remembered two generations later", i)
		}
	}
	if _, ok := c.get(tok(0)); !ok {
		t.Error("token 0: dropped, though it was used in the previous generation")
	}
	for i := 8; i < 100; i++ {
		c.put(tok(i), verified{kid: tok(i)})
		if n := c.len(); n > 2*c.size {
			t.Fatalf("after %d tokens: %d remembered, want at most %d", i+1, n, 2*c.size)
		}
	}
}
