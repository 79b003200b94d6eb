package store_test

import (
	"testing"
	"time"

	"github.com/applinks/applinks/shared/store"
)

func TestRevokeAccessToken(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		if err := s.RevokeAccessToken(ctx(), "jti-1", at.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		for jti, want := range map[string]bool{"jti-1": true, "jti-2": false} {
			b, err := s.Fetch(ctx(), store.Keys{JTI: jti})
			if err != nil || b.AccessRevoked != want {
				t.Errorf("Fetch(jti %s).AccessRevoked = %v, %v, want %v", jti, b.AccessRevoked, err, want)
			}
		}
	})
}
