package signing

import (
	"context"
	"crypto/rsa"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/applinks/applinks/shared/clocktest"
	"github.com/applinks/applinks/shared/web"
)

// TestLoadedRSAKeysPrecomputed: a key set read back from its stored JSON
// (as a Lambda reads it) signs, for access and ID tokens and for
// permission requests alike, with RSA keys whose CRT values are computed
// once, not again at every signature.
func TestLoadedRSAKeysPrecomputed(t *testing.T) {
	c := clocktest.New(time.Unix(1_800_000_000, 0))
	src := &memSource{}
	quiet := web.WithLogger(context.Background(), slog.New(slog.DiscardHandler))
	if _, err := New(quiet, src, Options{Now: c.Now, Issuer: issuer}); err != nil {
		t.Fatal(err)
	}
	k, err := New(quiet, src, Options{Now: c.Now, Issuer: issuer})
	if err != nil {
		t.Fatal(err)
	}
	set, err := k.keys(quiet)
	if err != nil {
		t.Fatal(err)
	}
	s := set.signers[RS256]
	if s == nil {
		t.Fatal("no RS256 signer")
	}
	rk, ok := s.key.Key.(*rsa.PrivateKey)
	if !ok {
		t.Fatalf("RS256 key is %T", s.key.Key)
	}
	// go-jose fills Dp, Dq and Qinv from the JWK, but only Precompute
	// builds the form crypto/rsa signs with (PrecomputedValues' unexported
	// fips key); without it every signature derives it again.
	f := reflect.ValueOf(&rk.Precomputed).Elem().FieldByName("fips")
	if !f.IsValid() {
		t.Fatal("crypto/rsa.PrecomputedValues has no fips field any more: update this test")
	}
	if f.IsNil() {
		t.Error("the RS256 key that the signers and RequestSigner use was not precomputed")
	}
}
