package signing

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/applinks/applinks/shared/clocktest"
	"github.com/applinks/applinks/shared/web"
)

// benchKeyring is a keyring whose access tokens are signed with alg: a new
// key set, rotated to alg when it is not RS256, read past the rotation's
// active_from.
func benchKeyring(b *testing.B, alg string) *Keyring {
	b.Helper()
	c := clocktest.New(time.Unix(1_800_000_000, 0))
	src := &memSource{}
	// The creation's audit line would split the benchmark's output line.
	quiet := web.WithLogger(context.Background(), slog.New(slog.DiscardHandler))
	k, err := New(quiet, src, Options{Now: c.Now, Issuer: issuer})
	if err != nil {
		b.Fatal(err)
	}
	if alg != RS256 {
		if _, err := k.Rotate(context.Background(), alg, time.Hour); err != nil {
			b.Fatal(err)
		}
		c.Add(k.ActivationDelay())
	}
	tok, err := k.Sign(context.Background(), claimsAt(c.Now()))
	if err != nil {
		b.Fatal(err)
	}
	if got, _ := k.keys(context.Background()); got.access != alg {
		b.Fatalf("access-token algorithm: got %s, want %s (token %s)", got.access, alg, tok)
	}
	return k
}

// BenchmarkSign is one access token (RFC 9068) signed with each algorithm:
// the claims' JSON, the signature and the compact serialization, what a
// code exchange or a refresh signs once (twice with openid).
func BenchmarkSign(b *testing.B) {
	for _, alg := range Algorithms() {
		b.Run(alg, func(b *testing.B) {
			k := benchKeyring(b, alg)
			c := claimsAt(time.Unix(1_800_000_000, 0))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.Sign(context.Background(), c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSignIDToken is one ID token signed with each algorithm.
func BenchmarkSignIDToken(b *testing.B) {
	for _, alg := range Algorithms() {
		b.Run(alg, func(b *testing.B) {
			k := benchKeyring(b, RS256)
			c := IDClaims{Issuer: issuer, Subject: "user-1", Audience: "client-1", AuthorizedParty: "client-1",
				IssuedAt: 1_800_000_000, ExpiresAt: 1_800_003_600, AuthTime: 1_800_000_000, Nonce: "n"}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.SignIDToken(context.Background(), alg, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerify is one access token of each algorithm verified (what an
// introspection, a revocation or UserInfo does the first time it sees a
// token), and the same token verified again (answered from the cache of
// verified tokens).
func BenchmarkVerify(b *testing.B) {
	for _, alg := range Algorithms() {
		k := benchKeyring(b, alg)
		tok, err := k.Sign(context.Background(), claimsAt(time.Unix(1_800_000_000, 0)))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := k.verify(context.Background(), tok); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(alg+"/remembered", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.Verify(context.Background(), tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSignLoaded is BenchmarkSign with a key set read back from its
// stored JSON, as a Lambda or a restarted runner reads it from Secrets
// Manager, instead of the one generated in the process.
func BenchmarkSignLoaded(b *testing.B) {
	c := clocktest.New(time.Unix(1_800_000_000, 0))
	src := &memSource{}
	quiet := web.WithLogger(context.Background(), slog.New(slog.DiscardHandler))
	if _, err := New(quiet, src, Options{Now: c.Now, Issuer: issuer}); err != nil {
		b.Fatal(err)
	}
	k, err := New(quiet, src, Options{Now: c.Now, Issuer: issuer})
	if err != nil {
		b.Fatal(err)
	}
	claims := claimsAt(time.Unix(1_800_000_000, 0))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Sign(context.Background(), claims); err != nil {
			b.Fatal(err)
		}
	}
}
