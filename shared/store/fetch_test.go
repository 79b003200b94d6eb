package store_test

import (
	"testing"
	"time"

	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
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

// TestFetchOneCall: Fetch reads every record in one request, and a link
// by client id, a user and a grant cost one request each; a redemption and
// a rotation two single-item writes, no transaction.
func TestFetchOneCall(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		c := &storetest.CountingDynamoDB{Next: b.DynamoDB}
		s := store.New(c, b.SecretsManager, b.Options)
		at := now()
		in := newLink("")
		if _, _, err := s.CreateLink(ctx(), in, at); err != nil {
			t.Fatal(err)
		}
		u := seedUser(t, s, "alice", at)
		g := approved(t, s, u, in.ClientID, at)
		code := newCode(t, s, g, at)
		rt := newRefresh(g, at)
		sess := store.Session{ID: uniq("sess"), UserID: u.ID, CSRF: "csrf", CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
		if err := s.CreateSession(ctx(), sess); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeAccessToken(ctx(), "jti", at.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		for _, step := range []struct {
			name  string
			call  func() error
			calls int
		}{
			// Two ordered single writes each, no transaction (2 write
			// units instead of 4).
			{"RedeemCode", func() error { return s.RedeemCode(ctx(), code.Hash, &rt, at) }, 2},
			{"Fetch", func() error {
				bundle, err := s.Fetch(ctx(), store.Keys{ClientID: in.ClientID, CodeHash: code.Hash, RefreshHash: rt.Hash,
					SessionID: sess.ID, UserID: u.ID, GrantClientID: in.ClientID, JTI: "jti"})
				if err == nil && (bundle.Link == nil || bundle.Code == nil || bundle.Refresh == nil || bundle.Grant == nil ||
					bundle.User == nil || bundle.Session == nil || !bundle.AccessRevoked) {
					t.Errorf("Fetch(all) = %+v, want every record", bundle)
				}
				if err == nil && (bundle.Session.UserID != u.ID || bundle.User.ID != u.ID || bundle.Grant.ID != g.ID) {
					t.Errorf("Fetch(all) = session %+v, user %+v, grant %+v; want %s's", bundle.Session, bundle.User, bundle.Grant, u.ID)
				}
				return err
			}, 1},
			{"Fetch(absent)", func() error {
				bundle, err := s.Fetch(ctx(), store.Keys{ClientID: "x", CodeHash: "x", RefreshHash: "x", SessionID: "x",
					UserID: "x", GrantClientID: "x", JTI: "x"})
				if err == nil && (bundle.Link != nil || bundle.Code != nil || bundle.Refresh != nil || bundle.Grant != nil ||
					bundle.User != nil || bundle.Session != nil || bundle.AccessRevoked) {
					t.Errorf("Fetch(absent) = %+v, want nothing", bundle)
				}
				return err
			}, 1},
			{"RotateRefresh", func() error { return s.RotateRefresh(ctx(), rt, newRefresh(g, at), at) }, 2},
			{"GetLinkByClientID", func() error { _, err := s.GetLinkByClientID(ctx(), in.ClientID); return err }, 1},
			{"GetUser", func() error { _, err := s.GetUser(ctx(), u.ID); return err }, 1},
			{"GetGrant", func() error { _, err := s.GetGrant(ctx(), u.ID, in.ClientID); return err }, 1},
		} {
			c.Take()
			if err := step.call(); err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			want := step.calls
			if got := c.Calls().Total(); got != want || c.Calls()["TransactWriteItems"] != 0 {
				t.Errorf("%s made %d DynamoDB calls (%v), want %d and no transaction", step.name, got, c.Calls(), want)
			}
		}
		c.Take()
		if bundle, err := s.Fetch(ctx(), store.Keys{}); err != nil || c.Calls().Total() != 0 || bundle != (store.Bundle{}) {
			t.Errorf("Fetch(no keys) = %+v, %v with %d calls, want an empty bundle and no call", bundle, err, c.Calls().Total())
		}
	})
}
