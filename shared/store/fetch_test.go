package store_test

import (
	"testing"

	"github.com/applinks/applinks/shared/store"
)

// TestFetchTokenLink: Fetch reads the link a token was issued to alongside
// the caller's, in the same call, whether the two client ids differ or not
// (BatchGetItem refuses a key given twice).
func TestFetchTokenLink(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		caller, owner := newLink(""), newLink("")
		for _, in := range []store.NewLink{caller, owner} {
			if _, _, err := s.CreateLink(ctx(), in, at); err != nil {
				t.Fatal(err)
			}
		}
		b, err := s.Fetch(ctx(), store.Keys{ClientID: caller.ClientID, TokenClientID: owner.ClientID})
		if err != nil || b.Link == nil || b.Link.ClientID != caller.ClientID || b.TokenLink == nil || b.TokenLink.ClientID != owner.ClientID {
			t.Errorf("Fetch(two links) = %+v, %v, want the caller's link and the token's", b, err)
		}
		b, err = s.Fetch(ctx(), store.Keys{ClientID: caller.ClientID, TokenClientID: caller.ClientID})
		if err != nil || b.Link == nil || b.TokenLink != b.Link {
			t.Errorf("Fetch(same link twice) = %+v, %v, want one link in both fields", b, err)
		}
		b, err = s.Fetch(ctx(), store.Keys{ClientID: caller.ClientID, TokenClientID: "gone"})
		if err != nil || b.Link == nil || b.TokenLink != nil {
			t.Errorf("Fetch(missing token link) = %+v, %v, want no token link", b, err)
		}
	})
}
