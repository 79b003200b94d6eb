package store_test

import (
	"testing"

	"github.com/applinks/applinks/shared/store"
)

// TestLinkIDTokenAlg: a link keeps the algorithm of its ID tokens
// (id_token_signed_response_alg): RS256 by default and for a link stored
// without one, ES256 when asked, none for a resource server; an update
// changes it; an idempotent creation replays only the same request.
func TestLinkIDTokenAlg(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s := b.Store()
		at := now()
		in := newLink("")
		in.IDTokenSignedResponseAlg = "ES256"
		l, _, err := s.CreateLink(ctx(), in, at)
		if err != nil {
			t.Fatalf("CreateLink: %v", err)
		}
		if l.IDTokenSignedResponseAlg != "ES256" {
			t.Errorf("CreateLink: got %q, want ES256", l.IDTokenSignedResponseAlg)
		}
		if got, err := s.GetLinkByClientID(ctx(), l.ClientID); err != nil || got.IDTokenSignedResponseAlg != "ES256" {
			t.Errorf("GetLinkByClientID: got %q, %v; want ES256", got.IDTokenSignedResponseAlg, err)
		}
		def, _, err := s.CreateLink(ctx(), newLink(""), at)
		if err != nil || def.IDTokenSignedResponseAlg != store.DefaultIDTokenAlg {
			t.Errorf("CreateLink without one: got %q, %v; want RS256", def.IDTokenSignedResponseAlg, err)
		}
		rsIn := newLink("")
		rsIn.ClientType, rsIn.RedirectURIs, rsIn.PostLogoutRedirectURIs = store.ResourceServer, nil, nil
		rs, _, err := s.CreateLink(ctx(), rsIn, at)
		if err != nil || rs.IDTokenSignedResponseAlg != "" {
			t.Errorf("resource server link: got %q, %v; want none", rs.IDTokenSignedResponseAlg, err)
		}
		// A link item written before links had it reads RS256.
		removeAttribute(t, b, "LINK#"+l.ClientID, "LINK", "id_token_alg")
		if got, err := s.GetLinkByClientID(ctx(), l.ClientID); err != nil || got.IDTokenSignedResponseAlg != "RS256" {
			t.Errorf("a link stored without it: got %q, %v; want RS256", got.IDTokenSignedResponseAlg, err)
		}
		es := "ES256"
		up, err := s.UpdateLink(ctx(), def.ID, store.LinkUpdate{IDTokenSignedResponseAlg: &es}, at)
		if err != nil || up.IDTokenSignedResponseAlg != "ES256" {
			t.Errorf("UpdateLink: got %q, %v; want ES256", up.IDTokenSignedResponseAlg, err)
		}
		if got, err := s.GetLink(ctx(), def.ID); err != nil || got.IDTokenSignedResponseAlg != "ES256" {
			t.Errorf("GetLink after the update: got %q, %v; want ES256", got.IDTokenSignedResponseAlg, err)
		}

		// The same idempotency key with another algorithm is another
		// request; with the default spelled out, the same one.
		key := newLink("idem-alg-1")
		first, _, err := s.CreateLink(ctx(), key, at)
		if err != nil {
			t.Fatal(err)
		}
		same := key
		same.IDTokenSignedResponseAlg = "RS256"
		if again, _, err := s.CreateLink(ctx(), same, at); err != nil || again.ID != first.ID {
			t.Errorf("replay with the default spelled out: got %q, %v; want %q", again.ID, err, first.ID)
		}
		other := key
		other.IDTokenSignedResponseAlg = "ES256"
		if _, _, err := s.CreateLink(ctx(), other, at); err == nil {
			t.Error("the same idempotency key with ES256: got nil error, want a refusal")
		}
	})
}
