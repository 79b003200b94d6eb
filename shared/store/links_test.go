package store_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
)

// forEngines runs f as a parallel subtest on every engine.
func forEngines(t *testing.T, f func(t *testing.T, nb backendFunc)) {
	t.Helper()
	t.Parallel()
	for name, nb := range engines() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, nb)
		})
	}
}

func TestCreateLink(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		for _, typ := range []string{store.Confidential, store.Public, store.ResourceServer} {
			in := newLink("")
			in.ClientType = typ
			if typ == store.Public {
				in.Secret = ""
			}
			l, secret, err := s.CreateLink(ctx(), in, at)
			if err != nil {
				t.Fatalf("CreateLink(%s): %v", typ, err)
			}
			if secret != in.Secret {
				t.Errorf("CreateLink(%s) secret = %q, want %q", typ, secret, in.Secret)
			}
			want := store.Link{ID: in.ID, ClientID: in.ClientID, Name: in.Name, RedirectURIs: in.RedirectURIs,
				PostLogoutRedirectURIs: in.PostLogoutRedirectURIs, Scopes: in.Scopes, ClientType: typ, Enabled: true, CreatedAt: at, UpdatedAt: at}
			for name, get := range map[string]func() (store.Link, error){
				"CreateLink":        func() (store.Link, error) { return l, nil },
				"GetLink":           func() (store.Link, error) { return s.GetLink(ctx(), in.ID) },
				"GetLinkByClientID": func() (store.Link, error) { return s.GetLinkByClientID(ctx(), in.ClientID) },
			} {
				got, err := get()
				if err != nil {
					t.Fatalf("%s(%s): %v", name, typ, err)
				}
				if got.ID != want.ID || got.ClientID != want.ClientID || got.Name != want.Name ||
					!slices.Equal(got.RedirectURIs, want.RedirectURIs) || !slices.Equal(got.Scopes, want.Scopes) ||
					!slices.Equal(got.PostLogoutRedirectURIs, want.PostLogoutRedirectURIs) || got.ClientType != want.ClientType || got.Enabled != want.Enabled ||
					!got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
					t.Errorf("%s(%s) = %+v, want %+v", name, typ, got, want)
				}
				if typ == store.Public {
					if got.SecretHash != "" || got.VerifySecret("", at) {
						t.Errorf("%s(public) verifies a secret: hash %q", name, got.SecretHash)
					}
					continue
				}
				if !got.VerifySecret(in.Secret, at) {
					t.Errorf("%s(%s).VerifySecret(secret) = false, want true", name, typ)
				}
				if got.VerifySecret(in.Secret+"x", at) {
					t.Errorf("%s(%s).VerifySecret(wrong) = true, want false", name, typ)
				}
			}
			sec, err := s.GetLinkSecret(ctx(), in.ID)
			switch {
			case typ == store.Public && !errors.Is(err, shared.ErrNotFound):
				t.Errorf("GetLinkSecret(public) = %v, want ErrNotFound", err)
			case typ != store.Public && (err != nil || sec.ClientSecret != in.Secret):
				t.Errorf("GetLinkSecret(%s) = %+v, %v, want %q", typ, sec, err, in.Secret)
			}
		}
	})
}

func TestLinkNotFound(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		name := "x"
		for op, call := range map[string]func() error{
			"GetLink":           func() error { _, err := s.GetLink(ctx(), "nope"); return err },
			"GetLinkByClientID": func() error { _, err := s.GetLinkByClientID(ctx(), "nope"); return err },
			"UpdateLink":        func() error { _, err := s.UpdateLink(ctx(), "nope", store.LinkUpdate{Name: &name}, at); return err },
			"DeleteLink":        func() error { return s.DeleteLink(ctx(), "nope", at) },
			"GetLinkSecret":     func() error { _, err := s.GetLinkSecret(ctx(), "nope"); return err },
			"RotateLinkSecret":  func() error { _, err := s.RotateLinkSecret(ctx(), "nope", "new", 0, at); return err },
		} {
			if err := call(); !errors.Is(err, shared.ErrNotFound) {
				t.Errorf("%s(unknown) = %v, want ErrNotFound", op, err)
			}
		}
	})
}

func TestUpdateLink(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		in := newLink("")
		if _, _, err := s.CreateLink(ctx(), in, at); err != nil {
			t.Fatal(err)
		}
		later := at.Add(time.Minute)
		name, enabled := "Renamed", false
		uris := []string{"https://a.example/cb", "https://b.example/cb"}
		got, err := s.UpdateLink(ctx(), in.ID, store.LinkUpdate{Name: &name, Enabled: &enabled, RedirectURIs: &uris}, later)
		if err != nil {
			t.Fatalf("UpdateLink: %v", err)
		}
		if got.Name != name || got.Enabled || !slices.Equal(got.RedirectURIs, uris) ||
			!slices.Equal(got.Scopes, in.Scopes) || !got.UpdatedAt.Equal(later) || !got.CreatedAt.Equal(at) {
			t.Errorf("UpdateLink = %+v, want name %q, disabled, uris %v, scopes unchanged, updated %v", got, name, uris, later)
		}
		if !got.VerifySecret(in.Secret, later) {
			t.Error("UpdateLink lost the secret verifier")
		}
		if !slices.Equal(got.PostLogoutRedirectURIs, in.PostLogoutRedirectURIs) {
			t.Errorf("UpdateLink without post-logout URIs changed them: %v, want %v", got.PostLogoutRedirectURIs, in.PostLogoutRedirectURIs)
		}
		logout := []string{"https://a.example/bye", "https://b.example/bye"}
		if got, err = s.UpdateLink(ctx(), in.ID, store.LinkUpdate{PostLogoutRedirectURIs: &logout}, later); err != nil ||
			!slices.Equal(got.PostLogoutRedirectURIs, logout) || !slices.Equal(got.RedirectURIs, uris) {
			t.Errorf("UpdateLink(post-logout URIs) = %+v, %v, want them %v and the redirect URIs unchanged", got, err, logout)
		}
		read, err := s.GetLink(ctx(), in.ID)
		if err != nil || read.Name != name || read.Enabled || !slices.Equal(read.PostLogoutRedirectURIs, logout) {
			t.Errorf("GetLink after update = %+v, %v, want the update", read, err)
		}
	})
}

func TestListLinksCursor(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		var want []string
		for i := range 5 {
			in := newLink("")
			if i%2 == 1 {
				in.ClientType, in.Secret = store.Public, ""
			}
			if _, _, err := s.CreateLink(ctx(), in, at.Add(time.Duration(i)*time.Second)); err != nil {
				t.Fatal(err)
			}
			want = append(want, in.ID)
		}
		for _, limit := range []int{1, 2, 3, 5, 100} {
			var got []string
			cursor, pages := "", 0
			for {
				links, next, err := s.ListLinks(ctx(), limit, cursor)
				if err != nil {
					t.Fatalf("ListLinks(%d, %q): %v", limit, cursor, err)
				}
				if len(links) > limit {
					t.Errorf("ListLinks(%d) returned %d links", limit, len(links))
				}
				for _, l := range links {
					got = append(got, l.ID)
				}
				pages++
				if next == "" {
					break
				}
				if pages > 10 {
					t.Fatalf("ListLinks(%d): no last page", limit)
				}
				cursor = next
			}
			if !slices.Equal(got, want) {
				t.Errorf("ListLinks pages of %d = %v, want %v", limit, got, want)
			}
			if wantPages := (len(want) + limit - 1) / limit; pages != wantPages {
				t.Errorf("ListLinks(%d) took %d pages, want %d", limit, pages, wantPages)
			}
		}
		for _, bad := range []string{"garbage!", "e30", "eyJwayI6IngifQ"} {
			if _, _, err := s.ListLinks(ctx(), 2, bad); !errors.Is(err, store.ErrInvalidCursor) {
				t.Errorf("ListLinks(cursor %q) = %v, want ErrInvalidCursor", bad, err)
			}
		}
		// A grants cursor is not a links cursor.
		_, next, err := s.ListLinks(ctx(), 1, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.ListGrantsByLink(ctx(), "c", 1, next); !errors.Is(err, store.ErrInvalidCursor) {
			t.Errorf("ListGrantsByLink(links cursor) = %v, want ErrInvalidCursor", err)
		}
	})
}

func TestCreateLinkIdempotent(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s := b.Store()
		at := now()
		key := uniq("key")
		first := newLink(key)
		l1, s1, err := s.CreateLink(ctx(), first, at)
		if err != nil {
			t.Fatal(err)
		}
		retry := newLink(key) // fresh candidates, same request
		l2, s2, err := s.CreateLink(ctx(), retry, at.Add(time.Second))
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		if l2.ID != l1.ID || l2.ClientID != l1.ClientID || s2 != s1 {
			t.Errorf("retry = %s/%s/%q, want the first link %s/%s/%q", l2.ID, l2.ClientID, s2, l1.ID, l1.ClientID, s1)
		}
		if secretExists(t, b, retry.ClientID) {
			t.Error("retry created a secret of its own")
		}
		other := newLink(key)
		other.Name = "Something else"
		if _, _, err := s.CreateLink(ctx(), other, at); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("same key, different request = %v, want ErrConflict", err)
		}
		if n := countItems(t, b, "LINK#"); n != 1 {
			t.Errorf("%d link items, want 1", n)
		}
	})
}

func TestCreateLinkConcurrentIdempotent(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s := b.Store()
		at := now()
		key := uniq("key")
		const n = 10
		ins := make([]store.NewLink, n)
		links := make([]store.Link, n)
		secrets := make([]string, n)
		for i := range ins {
			ins[i] = newLink(key)
		}
		errs := parallel(n, func(i int) (err error) {
			links[i], secrets[i], err = s.CreateLink(ctx(), ins[i], at)
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("creation %d: %v", i, err)
			}
			if links[i].ID != links[0].ID || secrets[i] != secrets[0] {
				t.Errorf("creation %d = %s/%q, want %s/%q", i, links[i].ID, secrets[i], links[0].ID, secrets[0])
			}
		}
		if n := countItems(t, b, "LINK#"); n != 1 {
			t.Errorf("%d link items, want 1", n)
		}
		secretCount := 0
		for _, in := range ins {
			if secretExists(t, b, in.ClientID) {
				secretCount++
			}
		}
		if secretCount != 1 {
			t.Errorf("%d secrets, want 1", secretCount)
		}
		got, err := s.GetLinkSecret(ctx(), links[0].ID)
		if err != nil || got.ClientSecret != secrets[0] {
			t.Errorf("GetLinkSecret = %q, %v, want %q", got.ClientSecret, err, secrets[0])
		}
		l, err := s.GetLink(ctx(), links[0].ID)
		if err != nil || !l.VerifySecret(secrets[0], at) {
			t.Errorf("stored link does not verify the returned secret: %v", err)
		}
	})
}

// TestCreateLinkReplayAfterRotation: a retry with the idempotency key of
// a creation returns the secret that creation returned only while the link
// still has it as its current secret. After a rotation (made, say, because
// that secret leaked) the retry is a conflict that carries no secret: not
// the new one, which only "View credentials" shows, nor the old one, with
// or without an overlap; also when the rotation lands between the retry's
// read of the link and its read of the secret.
func TestCreateLinkReplayAfterRotation(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		var rotateNow func()
		sm := &faultySM{SecretsManager: b.SecretsManager, get: func(*secretsmanager.GetSecretValueInput) error {
			if f := rotateNow; f != nil {
				rotateNow = nil
				f()
			}
			return nil
		}}
		s := store.New(b.DynamoDB, sm, b.Options)
		plain := b.Store()
		at := now()
		for _, tc := range []struct {
			name    string
			overlap time.Duration
			racing  bool // the rotation lands between the retry's two reads
		}{
			{"rotated, no overlap", 0, false},
			{"rotated, overlap", time.Hour, false},
			{"rotated during the retry", 0, true},
		} {
			key := uniq("key")
			l1, s1, err := s.CreateLink(ctx(), newLink(key), at)
			if err != nil {
				t.Fatal(err)
			}
			if _, s2, err := s.CreateLink(ctx(), newLink(key), at); err != nil || s2 != s1 {
				t.Fatalf("%s: retry before any rotation = %q, %v, want the first secret", tc.name, s2, err)
			}
			rotated := uniq("rotated-secret")
			rotate := func() {
				if _, err := plain.RotateLinkSecret(ctx(), l1.ID, rotated, tc.overlap, at); err != nil {
					t.Fatalf("%s: RotateLinkSecret: %v", tc.name, err)
				}
			}
			if tc.racing {
				rotateNow = rotate
			} else {
				rotate()
			}
			_, s3, err := s.CreateLink(ctx(), newLink(key), at.Add(time.Minute))
			var rot *store.SecretRotatedError
			if !errors.Is(err, shared.ErrConflict) || !errors.As(err, &rot) || rot.Link.ID != l1.ID || s3 != "" {
				t.Errorf("%s: retry after the rotation = secret %q, %v, want no secret and a SecretRotatedError naming %s", tc.name, s3, err, l1.ID)
			}
			if s3 == rotated {
				t.Errorf("%s: the retry returned the rotated secret", tc.name)
			}
			if rotateNow != nil {
				t.Errorf("%s: the retry did not read the secret", tc.name)
				rotateNow = nil
			}
		}
		if n := countItems(t, b, "LINK#"); n != 3 {
			t.Errorf("%d link items, want 3 (no retry creates a link)", n)
		}
	})
}

// TestCreateLinkIdempotencyScope: an idempotency key replays only the
// creations of the scope (the principal) that sent it: the same key from
// another principal creates its own link, whatever its body, and never
// answers the first principal's link or secret. A key without a scope is
// refused.
func TestCreateLinkIdempotencyScope(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s := b.Store()
		at := now()
		key := uniq("key")
		from := func(scope string) store.NewLink {
			in := newLink(key)
			in.IdempotencyScope = scope
			return in
		}
		alice := from("api:arn:aws:iam::123456789012:user/alice")
		la, sa, err := s.CreateLink(ctx(), alice, at)
		if err != nil {
			t.Fatal(err)
		}
		for _, scope := range []string{
			"api:arn:aws:iam::123456789012:user/mallory",
			"console:arn:aws:iam::123456789012:user/alice",
			"api:arn:aws:iam::123456789012:user/alic", // a prefix of alice's scope
		} {
			in := from(scope)
			l, secret, err := s.CreateLink(ctx(), in, at)
			if err != nil || l.ID != in.ID || secret != in.Secret {
				t.Errorf("same key from %q = %s/%q, %v, want a link of its own (%s)", scope, l.ID, secret, err, in.ID)
			}
			if l.ID == la.ID || secret == sa {
				t.Errorf("same key from %q answered alice's link or secret", scope)
			}
		}
		// The key with another body from another principal: its own
		// link, not a conflict with alice's request.
		other := from("api:carol")
		other.Name = "Carol's app"
		if l, _, err := s.CreateLink(ctx(), other, at); err != nil || l.ID != other.ID {
			t.Errorf("same key, other body, other principal = %s, %v, want a new link %s", l.ID, err, other.ID)
		}
		// A key's scope is not confused with the key: scope "x" with key
		// "yz" is not scope "xy" with key "z".
		split1, split2 := newLink("yz-"+key), newLink("z-"+key)
		split1.IdempotencyScope, split2.IdempotencyScope = "x", "xy"
		l1, _, err1 := s.CreateLink(ctx(), split1, at)
		l2, _, err2 := s.CreateLink(ctx(), split2, at)
		if err1 != nil || err2 != nil || l1.ID == l2.ID {
			t.Errorf("scope x key yz and scope xy key z: %s, %v; %s, %v, want two links", l1.ID, err1, l2.ID, err2)
		}
		// Alice's own retry still answers her link.
		if l, secret, err := s.CreateLink(ctx(), from(alice.IdempotencyScope), at); err != nil || l.ID != la.ID || secret != sa {
			t.Errorf("alice's retry = %s/%q, %v, want her link %s", l.ID, secret, err, la.ID)
		}
		unscoped := from("")
		if _, _, err := s.CreateLink(ctx(), unscoped, at); err == nil {
			t.Error("a key without a scope was accepted")
		}
		if n := countItems(t, b, "LINK#"); n != 7 {
			t.Errorf("%d link items, want 7", n)
		}
	})
}

// TestCreateLinkSecretFails: when the secret cannot be created, nothing
// of the link remains and a retry with the same key creates it afresh.
func TestCreateLinkSecretFails(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		sm := &faultySM{SecretsManager: b.SecretsManager, create: once(func(*secretsmanager.CreateSecretInput) bool { return true })}
		s := store.New(b.DynamoDB, sm, b.Options)
		at := now()
		key := uniq("key")
		in := newLink(key)
		if _, _, err := s.CreateLink(ctx(), in, at); !errors.Is(err, errInjected) {
			t.Fatalf("CreateLink with failing secret = %v, want the injected error", err)
		}
		for _, pk := range []string{"LINK#" + in.ClientID, "LINKID#" + in.ID} {
			if n := countItems(t, b, pk); n != 0 {
				t.Errorf("%d items %s left, want none", n, pk)
			}
		}
		if n := countItems(t, b, "IDEM#"); n != 0 {
			t.Errorf("%d idempotency records left, want none", n)
		}
		if secretExists(t, b, in.ClientID) {
			t.Error("secret left behind")
		}
		retry := newLink(key)
		l, secret, err := s.CreateLink(ctx(), retry, at)
		if err != nil || l.ID != retry.ID || secret != retry.Secret {
			t.Errorf("retry = %s/%q, %v, want a new link %s", l.ID, secret, err, retry.ID)
		}
	})
}

// TestCreateLinkActivationFails: when the final update fails, clean-up
// removes the link and its secret, and a retry with the same key completes
// with no orphan.
func TestCreateLinkActivationFails(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		db := &faultyDB{DynamoDB: b.DynamoDB, update: once(func(in *dynamodb.UpdateItemInput) bool {
			return strings.HasPrefix(keyPK(in.Key), "LINK#")
		})}
		s := store.New(db, b.SecretsManager, b.Options)
		at := now()
		key := uniq("key")
		in := newLink(key)
		if _, _, err := s.CreateLink(ctx(), in, at); !errors.Is(err, errInjected) {
			t.Fatalf("CreateLink with failing activation = %v, want the injected error", err)
		}
		if secretExists(t, b, in.ClientID) || countItems(t, b, "LINK") != 0 {
			t.Error("failed creation left a secret or a link item")
		}
		retry := newLink(key)
		l, secret, err := s.CreateLink(ctx(), retry, at)
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		got, err := s.GetLink(ctx(), l.ID)
		if err != nil || !got.VerifySecret(secret, at) {
			t.Errorf("retried link = %+v, %v, want it verifying the returned secret", got, err)
		}
		if n := countItems(t, b, "LINK#"); n != 1 {
			t.Errorf("%d link items, want 1", n)
		}
		if secretExists(t, b, in.ClientID) {
			t.Error("the failed attempt's secret is an orphan")
		}
	})
}

// TestPendingLinkInvisible: when activation and clean-up both fail, the
// pending link is invisible everywhere, and a retry with the same key
// resumes it.
func TestPendingLinkInvisible(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		failing := true
		db := &faultyDB{DynamoDB: b.DynamoDB,
			update: func(in *dynamodb.UpdateItemInput) error {
				// Only the activation (its condition: still pending).
				if failing && hasValue(in.ExpressionAttributeValues, "pending") {
					return errInjected
				}
				return nil
			},
			transact: func(in *dynamodb.TransactWriteItemsInput) error {
				if failing && in.TransactItems[0].Delete != nil {
					return errInjected // the clean-up
				}
				return nil
			},
		}
		s := store.New(db, b.SecretsManager, b.Options)
		at := now()
		key := uniq("key")
		in := newLink(key)
		if _, _, err := s.CreateLink(ctx(), in, at); !errors.Is(err, errInjected) {
			t.Fatalf("CreateLink = %v, want the injected error", err)
		}
		if rawItem(t, b, "LINK#"+in.ClientID, "LINK") == nil {
			t.Fatal("no pending link item: the test set-up is wrong")
		}
		if _, err := s.GetLink(ctx(), in.ID); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("GetLink(pending) = %v, want ErrNotFound", err)
		}
		if _, err := s.GetLinkByClientID(ctx(), in.ClientID); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("GetLinkByClientID(pending) = %v, want ErrNotFound", err)
		}
		if links, _, err := s.ListLinks(ctx(), 10, ""); err != nil || len(links) != 0 {
			t.Errorf("ListLinks = %d links, %v, want none", len(links), err)
		}
		if bundle, err := s.Fetch(ctx(), store.Keys{ClientID: in.ClientID}); err != nil || bundle.Link != nil {
			t.Errorf("Fetch(pending) = %+v, %v, want no link", bundle.Link, err)
		}
		if err := s.DeleteLink(ctx(), in.ID, at); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("DeleteLink(pending) = %v, want ErrNotFound", err)
		}
		failing = false
		retry := newLink(key)
		l, secret, err := s.CreateLink(ctx(), retry, at)
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		if l.ID != in.ID || secret != in.Secret {
			t.Errorf("retry = %s/%q, want the pending link %s/%q resumed", l.ID, secret, in.ID, in.Secret)
		}
		if got, err := s.GetLinkByClientID(ctx(), in.ClientID); err != nil || !got.VerifySecret(secret, at) {
			t.Errorf("resumed link = %v, want it active and verifying its secret", err)
		}
	})
}

func TestDeleteLink(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s := b.Store()
		at := now()
		in := newLink(uniq("key"))
		if _, _, err := s.CreateLink(ctx(), in, at); err != nil {
			t.Fatal(err)
		}
		keep := newLink("")
		if _, _, err := s.CreateLink(ctx(), keep, at); err != nil {
			t.Fatal(err)
		}
		alice, bob := seedUser(t, s, "alice", at), seedUser(t, s, "bob", at)
		g1 := approved(t, s, alice, in.ClientID, at)
		g2 := approved(t, s, bob, in.ClientID, at)
		other := approved(t, s, alice, keep.ClientID, at)
		waitForIndex(t, s, in.ClientID)
		if err := s.DeleteLink(ctx(), in.ID, at.Add(time.Minute)); err != nil {
			t.Fatalf("DeleteLink: %v", err)
		}
		for _, g0 := range []store.Grant{g1, g2} {
			g, err := s.GetGrant(ctx(), g0.UserID, g0.ClientID)
			if err != nil || !g.Revoked {
				t.Errorf("grant %s after DeleteLink = %+v, %v, want revoked", g0.ID, g, err)
			}
		}
		if g, err := s.GetGrant(ctx(), other.UserID, other.ClientID); err != nil || g.Revoked {
			t.Errorf("another link's grant = %+v, %v, want untouched", g, err)
		}
		if _, err := s.GetLink(ctx(), in.ID); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("GetLink after delete = %v, want ErrNotFound", err)
		}
		if _, err := s.GetLinkByClientID(ctx(), in.ClientID); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("GetLinkByClientID after delete = %v, want ErrNotFound", err)
		}
		if secretExists(t, b, in.ClientID) {
			t.Error("secret still exists after DeleteLink")
		}
		if links, _, err := s.ListLinks(ctx(), 10, ""); err != nil || len(links) != 1 || links[0].ID != keep.ID {
			t.Errorf("ListLinks after delete = %v, %v, want only %s", links, err, keep.ID)
		}
		if err := s.DeleteLink(ctx(), in.ID, at); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("second DeleteLink = %v, want ErrNotFound", err)
		}
		if n := countItems(t, b, "IDEM#"); n != 0 {
			t.Errorf("%d idempotency records after delete, want 0", n)
		}
	})
}

// TestDeleteLinkResumes: a deletion that fails part-way (the secret
// cannot be deleted) leaves the link invisible, and a retry finishes it.
func TestDeleteLinkResumes(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		at := now()
		good := b.Store()
		in := newLink("")
		if _, _, err := good.CreateLink(ctx(), in, at); err != nil {
			t.Fatal(err)
		}
		g := approved(t, good, seedUser(t, good, "alice", at), in.ClientID, at)
		waitForIndex(t, good, in.ClientID)
		db := &faultyDB{DynamoDB: b.DynamoDB, transact: once(func(in *dynamodb.TransactWriteItemsInput) bool {
			return in.TransactItems[0].Delete != nil
		})}
		if noTx(b) {
			// The link item's deletion, after its records'.
			linkPK := "LINK#" + in.ClientID
			db.del = once(func(in *dynamodb.DeleteItemInput) bool { return keyPK(in.Key) == linkPK })
		}
		if err := store.New(db, b.SecretsManager, b.Options).DeleteLink(ctx(), in.ID, at); !errors.Is(err, errInjected) {
			t.Fatalf("DeleteLink with failing item deletion = %v, want the injected error", err)
		}
		if _, err := good.GetLink(ctx(), in.ID); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("GetLink of a half-deleted link = %v, want ErrNotFound", err)
		}
		if gr, err := good.GetGrant(ctx(), g.UserID, g.ClientID); err != nil || !gr.Revoked {
			t.Errorf("grant of a half-deleted link = %+v, %v, want revoked", gr, err)
		}
		if err := good.DeleteLink(ctx(), in.ID, at); err != nil {
			t.Fatalf("retried DeleteLink: %v", err)
		}
		if n := countItems(t, b, "LINK"); n != 0 {
			t.Errorf("%d link items after the retry, want 0", n)
		}
	})
}

func TestRotateLinkSecret(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		in := newLink("")
		if _, _, err := s.CreateLink(ctx(), in, at); err != nil {
			t.Fatal(err)
		}
		// First rotation with a one-hour overlap.
		l, err := s.RotateLinkSecret(ctx(), in.ID, "second", time.Hour, at)
		if err != nil {
			t.Fatalf("RotateLinkSecret: %v", err)
		}
		for _, c := range []struct {
			secret string
			at     time.Time
			want   bool
		}{
			{"second", at, true},
			{in.Secret, at, true},
			{in.Secret, at.Add(time.Hour - time.Second), true},
			{in.Secret, at.Add(time.Hour), false},
			{"second", at.Add(48 * time.Hour), true},
		} {
			if got := l.VerifySecret(c.secret, c.at); got != c.want {
				t.Errorf("after rotation, VerifySecret(%q, +%v) = %v, want %v", c.secret, c.at.Sub(at), got, c.want)
			}
		}
		sec, err := s.GetLinkSecret(ctx(), in.ID)
		if err != nil || sec.ClientSecret != "second" || sec.PreviousSecret != in.Secret || !sec.PreviousExpiresAt.Equal(at.Add(time.Hour)) {
			t.Errorf("GetLinkSecret = %+v, %v, want second with previous %q until +1h", sec, err, in.Secret)
		}
		// A second rotation ends the first overlap at once.
		at2 := at.Add(time.Minute)
		l, err = s.RotateLinkSecret(ctx(), in.ID, "third", time.Hour, at2)
		if err != nil {
			t.Fatalf("second RotateLinkSecret: %v", err)
		}
		if l.VerifySecret(in.Secret, at2) {
			t.Error("the first secret still verifies after a second rotation")
		}
		if !l.VerifySecret("second", at2) || !l.VerifySecret("third", at2) {
			t.Error("second (previous) or third (current) does not verify")
		}
		// No overlap: the previous secret is gone at once, in both places.
		l, err = s.RotateLinkSecret(ctx(), in.ID, "fourth", 0, at2)
		if err != nil {
			t.Fatalf("third RotateLinkSecret: %v", err)
		}
		if l.VerifySecret("third", at2) || !l.VerifySecret("fourth", at2) {
			t.Error("overlap 0: the previous secret still verifies, or the new one does not")
		}
		got, err := s.GetLinkByClientID(ctx(), in.ClientID)
		if err != nil || got.VerifySecret("third", at2) || !got.VerifySecret("fourth", at2) {
			t.Errorf("stored link after overlap-0 rotation does not match: %v", err)
		}
		sec, err = s.GetLinkSecret(ctx(), in.ID)
		if err != nil || sec.ClientSecret != "fourth" || sec.PreviousSecret != "" {
			t.Errorf("GetLinkSecret after overlap 0 = %+v, %v, want only fourth", sec, err)
		}
	})
}

// TestRotateLinkSecretFailure: whatever step fails, the link verifies no
// secret that Secrets Manager does not hold, and a rotation that died
// holding its lease blocks the next one only until the lease ends.
func TestRotateLinkSecretFailure(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		good := b.Store()
		at := now()
		in := newLink("")
		if _, _, err := good.CreateLink(ctx(), in, at); err != nil {
			t.Fatal(err)
		}
		verifiersHeld := func(step string) {
			t.Helper()
			l, err := good.GetLink(ctx(), in.ID)
			if err != nil {
				t.Fatal(err)
			}
			sec, err := good.GetLinkSecret(ctx(), in.ID)
			if err != nil {
				t.Fatal(err)
			}
			held := map[string]bool{sec.ClientSecret: true, sec.PreviousSecret: sec.PreviousSecret != ""}
			for _, cand := range []string{in.Secret, "new1", "new2", "new3"} {
				if l.VerifySecret(cand, at) && !held[cand] {
					t.Errorf("%s: link verifies %q, which Secrets Manager does not hold (%+v)", step, cand, sec)
				}
			}
		}
		// The verifier update fails after Secrets Manager was written.
		db := &faultyDB{DynamoDB: b.DynamoDB, update: once(func(in *dynamodb.UpdateItemInput) bool {
			return hasName(in.ExpressionAttributeNames, "secret_hash")
		})}
		if _, err := store.New(db, b.SecretsManager, b.Options).RotateLinkSecret(ctx(), in.ID, "new1", 0, at); !errors.Is(err, errInjected) {
			t.Fatalf("rotation with failing update = %v, want the injected error", err)
		}
		verifiersHeld("failed verifier update")
		if l, _ := good.GetLink(ctx(), in.ID); !l.VerifySecret(in.Secret, at) {
			t.Error("after a failed rotation the old secret no longer verifies")
		}
		// View credentials shows the secret that works, not the one the failed
		// rotation wrote.
		if sec, err := good.GetLinkSecret(ctx(), in.ID); err != nil || sec.ClientSecret != in.Secret || sec.PreviousSecret != "" {
			t.Errorf("credentials after a failed rotation = %+v, %v, want only the old secret", sec, err)
		}
		// The failed rotation released its lease: a retry works at once.
		l, err := good.RotateLinkSecret(ctx(), in.ID, "new2", 0, at.Add(time.Second))
		if err != nil || !l.VerifySecret("new2", at) || l.VerifySecret(in.Secret, at) {
			t.Fatalf("retry right after a failed rotation = %v, want only new2 verifying", err)
		}
		verifiersHeld("retried rotation")
		// The Secrets Manager write fails.
		sm := &faultySM{SecretsManager: b.SecretsManager, put: once(func(*secretsmanager.PutSecretValueInput) bool { return true })}
		later := at.Add(time.Minute)
		if _, err := store.New(b.DynamoDB, sm, b.Options).RotateLinkSecret(ctx(), in.ID, "new3", 0, later); !errors.Is(err, errInjected) {
			t.Fatalf("rotation with failing secret write = %v, want the injected error", err)
		}
		verifiersHeld("failed secret write")
		l, err = good.RotateLinkSecret(ctx(), in.ID, "new3", 0, later.Add(time.Second))
		if err != nil || !l.VerifySecret("new3", later) || l.VerifySecret("new2", later) {
			t.Errorf("rotation after the failed write = %v, want only new3 verifying", err)
		}
		verifiersHeld("after recovery")
	})
}

// TestRotateLinkSecretLostAnswer: a Secrets Manager write that took
// effect but answered an error, during an overlap, followed by a rotation
// that fails before moving the verifiers: at no point does the link verify
// a secret Secrets Manager does not hold.
func TestRotateLinkSecretLostAnswer(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		good := b.Store()
		at := now()
		in := newLink("")
		if _, _, err := good.CreateLink(ctx(), in, at); err != nil {
			t.Fatal(err)
		}
		candidates := []string{in.Secret, "s1", "s2", "s3"}
		check := func(step string, when time.Time) {
			t.Helper()
			l, err := good.GetLink(ctx(), in.ID)
			if err != nil {
				t.Fatal(err)
			}
			sec, err := good.GetLinkSecret(ctx(), in.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range candidates {
				if l.VerifySecret(c, when) && c != sec.ClientSecret && c != sec.PreviousSecret {
					t.Errorf("%s: link verifies %q, Secrets Manager holds %q and %q", step, c, sec.ClientSecret, sec.PreviousSecret)
				}
			}
		}
		// An overlap is running: the link verifies s1 and the original.
		if _, err := good.RotateLinkSecret(ctx(), in.ID, "s1", time.Hour, at); err != nil {
			t.Fatal(err)
		}
		check("overlap", at)
		// The next rotation's write lands but its answer is lost.
		sm := &faultySM{SecretsManager: b.SecretsManager, putAfter: once(func(*secretsmanager.PutSecretValueInput) bool { return true })}
		t1 := at.Add(time.Minute)
		if _, err := store.New(b.DynamoDB, sm, b.Options).RotateLinkSecret(ctx(), in.ID, "s2", time.Hour, t1); !errors.Is(err, errInjected) {
			t.Fatalf("rotation with a lost answer = %v, want the injected error", err)
		}
		check("lost answer", t1)
		// After the lease, a rotation whose verifier update fails.
		t2 := t1.Add(time.Minute)
		db := &faultyDB{DynamoDB: b.DynamoDB, update: once(func(in *dynamodb.UpdateItemInput) bool {
			return hasName(in.ExpressionAttributeNames, "secret_hash")
		})}
		if _, err := store.New(db, b.SecretsManager, b.Options).RotateLinkSecret(ctx(), in.ID, "s3", time.Hour, t2); !errors.Is(err, errInjected) {
			t.Fatalf("rotation with a failing verifier update = %v, want the injected error", err)
		}
		check("failed verifier update", t2)
		// A clean rotation still works, and s1 (current before) is previous.
		t3 := t2.Add(time.Minute)
		l, err := good.RotateLinkSecret(ctx(), in.ID, "s3", time.Hour, t3)
		if err != nil {
			t.Fatalf("final rotation: %v", err)
		}
		if !l.VerifySecret("s3", t3) || !l.VerifySecret("s1", t3) || l.VerifySecret(in.Secret, t3) || l.VerifySecret("s2", t3) {
			t.Errorf("after the final rotation, want s3 and s1 (previous) only")
		}
		check("final", t3)
	})
}

func TestVerifySecret(t *testing.T) {
	at := now()
	l := store.Link{SecretHash: shared.HashToken("cur"), PrevSecretHash: shared.HashToken("prev"), PrevSecretExpires: at.Add(time.Minute)}
	for _, c := range []struct {
		secret string
		at     time.Time
		want   bool
	}{
		{"cur", at, true},
		{"prev", at, true},
		{"prev", at.Add(time.Minute - time.Nanosecond), true},
		{"prev", at.Add(time.Minute), false},
		{"other", at, false},
		{"", at, false},
	} {
		if got := l.VerifySecret(c.secret, c.at); got != c.want {
			t.Errorf("VerifySecret(%q, +%v) = %v, want %v", c.secret, c.at.Sub(at), got, c.want)
		}
	}
	var public store.Link
	if public.VerifySecret("", at) || public.VerifySecret("x", at) {
		t.Error("a link without a secret hash verifies something")
	}
}

// TestCreateLinkIdempotencyWindow: an idempotency key replays its creation
// for 24 hours, judged by the record's created_at and not by its TTL
// (which DynamoDB applies late, and an MRSC global table not at all):
// after them, the same key creates a new link.
func TestCreateLinkIdempotencyWindow(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		key := uniq("key")
		l1, _, err := s.CreateLink(ctx(), newLink(key), at)
		if err != nil {
			t.Fatal(err)
		}
		if l, _, err := s.CreateLink(ctx(), newLink(key), at.Add(23*time.Hour)); err != nil || l.ID != l1.ID {
			t.Errorf("the key within its window = %s, %v, want the first link %s", l.ID, err, l1.ID)
		}
		l2, _, err := s.CreateLink(ctx(), newLink(key), at.Add(25*time.Hour))
		if err != nil || l2.ID == l1.ID {
			t.Errorf("the key after its window = %s, %v, want a new link", l2.ID, err)
		}
		if l, _, err := s.CreateLink(ctx(), newLink(key), at.Add(26*time.Hour)); err != nil || l.ID != l2.ID {
			t.Errorf("the key again = %s, %v, want the second link %s", l.ID, err, l2.ID)
		}
		// Deleting the first link leaves the second one's record.
		if err := s.DeleteLink(ctx(), l1.ID, at.Add(26*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if l, _, err := s.CreateLink(ctx(), newLink(key), at.Add(26*time.Hour)); err != nil || l.ID != l2.ID {
			t.Errorf("the key after the first link's deletion = %s, %v, want the second link %s", l.ID, err, l2.ID)
		}
	})
}
