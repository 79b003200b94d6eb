package store_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
)

// newResourceServer is a fresh resource_server link request registering
// uris.
func newResourceServer(uris ...string) store.NewLink {
	in := newLink("")
	in.ClientType = store.ResourceServer
	in.RedirectURIs, in.PostLogoutRedirectURIs = nil, nil
	in.ResourceURIs = uris
	return in
}

// ownerOf is the client id of the link that registered uri ("" for none),
// read through Fetch as an authorization request does.
func ownerOf(t *testing.T, s *store.Store, uri string) string {
	t.Helper()
	b, err := s.Fetch(ctx(), store.Keys{ResourceURI: uri})
	if err != nil {
		t.Fatalf("Fetch(resource %q): %v", uri, err)
	}
	if b.Resource == nil {
		return ""
	}
	if b.Resource.URI != uri {
		t.Errorf("Fetch(resource %q) answered URI %q", uri, b.Resource.URI)
	}
	return b.Resource.ClientID
}

// wantTaken checks that err is a *ResourceTakenError naming uri.
func wantTaken(t *testing.T, op string, err error, uri string) {
	t.Helper()
	var taken *store.ResourceTakenError
	if !errors.As(err, &taken) || taken.URI != uri || !errors.Is(err, shared.ErrConflict) {
		t.Errorf("%s = %v, want a ResourceTakenError (a conflict) naming %q", op, err, uri)
	}
}

func TestResourceURIs(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s := b.Store()
		at := now()
		a, c := "https://api.example/a", "https://api.example/c"
		in := newResourceServer(a, "https://api.example/b")
		l, _, err := s.CreateLink(ctx(), in, at)
		if err != nil {
			t.Fatalf("CreateLink(resource server): %v", err)
		}
		if !slices.Equal(l.ResourceURIs, in.ResourceURIs) {
			t.Errorf("created link's resource URIs = %v, want %v", l.ResourceURIs, in.ResourceURIs)
		}
		got, err := s.GetLink(ctx(), in.ID)
		if err != nil || !slices.Equal(got.ResourceURIs, in.ResourceURIs) || !got.ServesResource(a) || got.ServesResource(c) {
			t.Errorf("GetLink = %+v, %v, want resource URIs %v, serving %q and not %q", got, err, in.ResourceURIs, a, c)
		}
		if o := ownerOf(t, s, a); o != in.ClientID {
			t.Errorf("owner of %q = %q, want %q", a, o, in.ClientID)
		}
		if o := ownerOf(t, s, c); o != "" {
			t.Errorf("owner of an unregistered URI = %q, want none", o)
		}
		// The same URI, byte for byte only: another case is another URI.
		if o := ownerOf(t, s, "https://API.example/a"); o != "" {
			t.Errorf("owner of the URI in another case = %q, want none", o)
		}
		// Fetch by the resource's client id, with the client's link too.
		other := newLink("")
		if _, _, err := s.CreateLink(ctx(), other, at); err != nil {
			t.Fatal(err)
		}
		bundle, err := s.Fetch(ctx(), store.Keys{ClientID: other.ClientID, TokenClientID: other.ClientID, ResourceClientID: in.ClientID})
		if err != nil || bundle.Link == nil || bundle.Link.ClientID != other.ClientID || bundle.TokenLink == nil ||
			bundle.ResourceLink == nil || bundle.ResourceLink.ClientID != in.ClientID {
			t.Errorf("Fetch(link, token link, resource link) = %+v, %v, want all three", bundle, err)
		}

		// A second link registering one of the URIs: refused before any
		// secret is made, nothing of it left.
		dup := newResourceServer(c, a)
		if _, _, err := s.CreateLink(ctx(), dup, at); err == nil {
			t.Fatal("CreateLink with a taken resource URI succeeded")
		} else {
			wantTaken(t, "CreateLink(taken URI)", err, a)
		}
		if rawItem(t, b, "LINK#"+dup.ClientID, "LINK") != nil || secretExists(t, b, dup.ClientID) || ownerOf(t, s, c) != "" {
			t.Error("a refused creation left its link, its secret or a pointer")
		}

		// Update: drop b, add c; b is free again, c taken.
		uris := []string{a, c}
		up, err := s.UpdateLink(ctx(), in.ID, store.LinkUpdate{ResourceURIs: &uris}, at.Add(time.Minute))
		if err != nil || !slices.Equal(up.ResourceURIs, uris) || !up.UpdatedAt.Equal(at.Add(time.Minute)) {
			t.Fatalf("UpdateLink(resource URIs) = %+v, %v, want %v", up, err, uris)
		}
		if !up.VerifySecret(in.Secret, at) || up.Name != in.Name {
			t.Errorf("UpdateLink(resource URIs) lost other fields: %+v", up)
		}
		if ownerOf(t, s, "https://api.example/b") != "" || ownerOf(t, s, c) != in.ClientID || ownerOf(t, s, a) != in.ClientID {
			t.Error("pointers do not follow the update")
		}
		if n := countItems(t, b, "RESOURCE#"); n != 2 {
			t.Errorf("%d resource pointers, want 2", n)
		}
		// Another link may now take b, not c.
		second := newResourceServer("https://api.example/b")
		if _, _, err := s.CreateLink(ctx(), second, at); err != nil {
			t.Fatalf("CreateLink with a released URI: %v", err)
		}
		taken := []string{"https://api.example/b", c}
		_, err = s.UpdateLink(ctx(), second.ID, store.LinkUpdate{ResourceURIs: &taken}, at)
		wantTaken(t, "UpdateLink(taken URI)", err, c)
		if got, _ := s.GetLink(ctx(), second.ID); !slices.Equal(got.ResourceURIs, []string{"https://api.example/b"}) {
			t.Errorf("a refused update changed the link: %v", got.ResourceURIs)
		}
		// Other fields change in one update with no pointer touched.
		name := "Renamed"
		if up, err := s.UpdateLink(ctx(), in.ID, store.LinkUpdate{Name: &name}, at); err != nil || !slices.Equal(up.ResourceURIs, uris) {
			t.Errorf("UpdateLink(name) = %+v, %v, want the URIs kept", up, err)
		}
		// No URIs at all.
		none := []string{}
		if up, err := s.UpdateLink(ctx(), in.ID, store.LinkUpdate{ResourceURIs: &none}, at); err != nil || len(up.ResourceURIs) != 0 {
			t.Errorf("UpdateLink(no URIs) = %+v, %v", up, err)
		}
		if ownerOf(t, s, a) != "" || ownerOf(t, s, c) != "" {
			t.Error("URIs still registered after the link dropped them")
		}
		if up, err := s.UpdateLink(ctx(), in.ID, store.LinkUpdate{ResourceURIs: &uris}, at); err != nil || !slices.Equal(up.ResourceURIs, uris) {
			t.Errorf("UpdateLink(URIs again) = %+v, %v", up, err)
		}

		// Deleting the link releases its URIs, and a new link may have them.
		if err := s.DeleteLink(ctx(), in.ID, at); err != nil {
			t.Fatal(err)
		}
		if ownerOf(t, s, a) != "" || ownerOf(t, s, c) != "" {
			t.Error("a deleted link's URIs are still registered")
		}
		if n := countItems(t, b, "RESOURCE#"); n != 1 {
			t.Errorf("%d resource pointers after the deletion, want 1 (the second link's)", n)
		}
		again := newResourceServer(a)
		if _, _, err := s.CreateLink(ctx(), again, at); err != nil || ownerOf(t, s, a) != again.ClientID {
			t.Errorf("CreateLink with a deleted link's URI = %v, owner %q", err, ownerOf(t, s, a))
		}
		// A disabled resource server keeps its URIs, but serves none.
		off := false
		dis, err := s.UpdateLink(ctx(), again.ID, store.LinkUpdate{Enabled: &off}, at)
		if err != nil || dis.ServesResource(a) || ownerOf(t, s, a) != again.ClientID {
			t.Errorf("disabled link = %+v, %v: want its URI kept and not served", dis, err)
		}
		// A link of another type has none.
		conf := newLink("")
		conf.ResourceURIs = []string{"https://api.example/z"}
		if _, _, err := s.CreateLink(ctx(), conf, at); err == nil {
			t.Error("CreateLink(confidential with resource URIs) succeeded")
		}
	})
}

// TestResourceURIUniqueConcurrent: links created, and links updated, at
// the same moment with one resource URI: exactly one gets it, the others
// are refused with no link, secret or pointer left over.
func TestResourceURIUniqueConcurrent(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s := b.Store()
		at := now()
		const n = 10
		uri := "https://api.example/" + uniq("r")
		ins := make([]store.NewLink, n)
		for i := range ins {
			ins[i] = newResourceServer(uri, "https://api.example/"+uniq("own"))
		}
		errs := parallel(n, func(i int) error { _, _, err := s.CreateLink(ctx(), ins[i], at); return err })
		won := -1
		for i, err := range errs {
			switch {
			case err == nil && won >= 0:
				t.Errorf("creations %d and %d both registered %q", won, i, uri)
			case err == nil:
				won = i
			default:
				wantTaken(t, "a losing CreateLink", err, uri)
			}
		}
		if won < 0 {
			t.Fatal("no creation won")
		}
		if o := ownerOf(t, s, uri); o != ins[won].ClientID {
			t.Errorf("owner = %q, want the winner %q", o, ins[won].ClientID)
		}
		if got := countItems(t, b, "RESOURCE#"); got != 2 {
			t.Errorf("%d resource pointers, want 2 (the winner's two)", got)
		}
		if got := countItems(t, b, "LINK#"); got != 1 {
			t.Errorf("%d link items, want 1", got)
		}
		for i, in := range ins {
			if i != won && secretExists(t, b, in.ClientID) {
				t.Errorf("loser %d left its secret", i)
			}
		}

		// Updates: n links without URIs each add the same one at once.
		common := "https://api.example/" + uniq("u")
		ids := make([]string, n)
		for i := range ids {
			in := newResourceServer()
			if _, _, err := s.CreateLink(ctx(), in, at); err != nil {
				t.Fatal(err)
			}
			ids[i] = in.ID
		}
		errs = parallel(n, func(i int) error {
			uris := []string{common}
			_, err := s.UpdateLink(ctx(), ids[i], store.LinkUpdate{ResourceURIs: &uris}, at)
			return err
		})
		winners := 0
		for _, err := range errs {
			if err == nil {
				winners++
			} else {
				wantTaken(t, "a losing UpdateLink", err, common)
			}
		}
		if winners != 1 {
			t.Errorf("%d updates registered %q, want 1", winners, common)
		}
		holders := 0
		for _, id := range ids {
			l, err := s.GetLink(ctx(), id)
			if err != nil {
				t.Fatal(err)
			}
			if slices.Contains(l.ResourceURIs, common) {
				holders++
				if o := ownerOf(t, s, common); o != l.ClientID {
					t.Errorf("owner = %q, want the link that lists it, %q", o, l.ClientID)
				}
			}
		}
		if holders != 1 {
			t.Errorf("%d links list %q, want 1", holders, common)
		}
	})
}

// TestResourceURIsNoOrphan: a creation whose activation fails leaves no
// pointer (pointers are written only with the activation), and so does
// one whose clean-up fails too: the pending link never registered its
// URIs, so another link may have them at once.
func TestResourceURIsNoOrphan(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		at := now()
		uri := "https://api.example/" + uniq("r")
		for _, cleanupFails := range []bool{false, true} {
			failing := true
			db := &faultyDB{DynamoDB: b.DynamoDB, transact: func(in *dynamodb.TransactWriteItemsInput) error {
				if !failing {
					return nil
				}
				if u := in.TransactItems[0].Update; u != nil && hasValue(u.ExpressionAttributeValues, "pending") {
					return errInjected // the activation
				}
				if cleanupFails && in.TransactItems[0].Delete != nil {
					return errInjected
				}
				return nil
			}}
			if noTx(b) {
				// The activation (pending to active), and the clean-up's
				// first step (pending to deleting).
				db.update = func(in *dynamodb.UpdateItemInput) error {
					if !failing || !hasValue(in.ExpressionAttributeValues, "pending") {
						return nil
					}
					if hasValue(in.ExpressionAttributeValues, "active") || cleanupFails {
						return errInjected
					}
					return nil
				}
			}
			s := store.New(db, b.SecretsManager, b.Options)
			in := newResourceServer(uri)
			if _, _, err := s.CreateLink(ctx(), in, at); !errors.Is(err, errInjected) {
				t.Fatalf("CreateLink with a failing activation = %v, want the injected error", err)
			}
			if n := countItems(t, b, "RESOURCE#"); n != 0 {
				t.Errorf("cleanup fails %v: %d resource pointers after a failed creation, want 0", cleanupFails, n)
			}
			failing = false
			next := newResourceServer(uri)
			if _, _, err := b.Store().CreateLink(ctx(), next, at); err != nil {
				t.Fatalf("cleanup fails %v: CreateLink after a failed one: %v", cleanupFails, err)
			}
			if err := b.Store().DeleteLink(ctx(), next.ID, at); err != nil {
				t.Fatal(err)
			}
		}
		// A deletion stopped before its last step keeps the URIs until the
		// retry releases them.
		s := b.Store()
		in := newResourceServer(uri)
		if _, _, err := s.CreateLink(ctx(), in, at); err != nil {
			t.Fatal(err)
		}
		db := &faultyDB{DynamoDB: b.DynamoDB, transact: once(func(in *dynamodb.TransactWriteItemsInput) bool {
			return in.TransactItems[0].Delete != nil
		})}
		if noTx(b) {
			// Without transactions the deletion releases the URIs first,
			// the link item last: stopped before that, the link is
			// deleting (it never comes back), and its URIs are free.
			linkPK := "LINK#" + in.ClientID
			db.del = once(func(in *dynamodb.DeleteItemInput) bool { return keyPK(in.Key) == linkPK })
			if err := store.New(db, b.SecretsManager, b.Options).DeleteLink(ctx(), in.ID, at); !errors.Is(err, errInjected) {
				t.Fatalf("DeleteLink = %v, want the injected error", err)
			}
			if _, err := s.GetLink(ctx(), in.ID); !errors.Is(err, shared.ErrNotFound) {
				t.Errorf("GetLink of a half-deleted link = %v, want ErrNotFound", err)
			}
			if n := countItems(t, b, "RESOURCE#"); n != 0 {
				t.Errorf("%d resource pointers of a half-deleted link, want 0", n)
			}
			if err := s.DeleteLink(ctx(), in.ID, at); err != nil {
				t.Fatalf("retried DeleteLink: %v", err)
			}
			if rawItem(t, b, "LINK#"+in.ClientID, "LINK") != nil || rawItem(t, b, "LINKID#"+in.ID, "LINKID") != nil {
				t.Error("the link's items are left after the retry")
			}
			return
		}
		if err := store.New(db, b.SecretsManager, b.Options).DeleteLink(ctx(), in.ID, at); !errors.Is(err, errInjected) {
			t.Fatalf("DeleteLink = %v, want the injected error", err)
		}
		if ownerOf(t, s, uri) != in.ClientID {
			t.Error("a half-deleted link's URI was released before its items")
		}
		if _, _, err := s.CreateLink(ctx(), newResourceServer(uri), at); err == nil {
			t.Error("a half-deleted link's URI was taken by another link")
		}
		if err := s.DeleteLink(ctx(), in.ID, at); err != nil {
			t.Fatalf("retried DeleteLink: %v", err)
		}
		if n := countItems(t, b, "RESOURCE#"); n != 0 {
			t.Errorf("%d resource pointers after the deletion, want 0", n)
		}
	})
}

// TestResourceOnTokens: codes, refresh tokens and device authorizations
// keep the resource they were issued for; without one, their items carry
// no resource attribute.
func TestResourceOnTokens(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s := b.Store()
		at := now()
		g := approved(t, s, seedUser(t, s, "alice", at), "client", at)
		const res, rs = "https://api.example/a", "rs-client"
		c := store.Code{Hash: uniq("code"), ClientID: "client", UserID: g.UserID, GrantID: g.ID, Scope: []string{"REPO_READ"},
			Resource: res, ResourceClientID: rs, AuthTime: at, CreatedAt: at, ExpiresAt: at.Add(time.Minute)}
		if err := s.CreateCode(ctx(), c); err != nil {
			t.Fatal(err)
		}
		plain := newCode(t, s, g, at)
		rt := newRefresh(g, at)
		rt.Resource, rt.ResourceClientID = res, rs
		if err := s.RedeemCode(ctx(), c.Hash, &rt, at); err != nil {
			t.Fatal(err)
		}
		next := newRefresh(g, at)
		next.Resource, next.ResourceClientID = res, rs
		if err := s.RotateRefresh(ctx(), rt, next, at); err != nil {
			t.Fatal(err)
		}
		d := store.Device{UserCodeHash: uniq("uc"), DeviceHash: "dh", ClientID: "client", Interval: 5 * time.Second,
			Resource: res, ResourceClientID: rs, CreatedAt: at, ExpiresAt: at.Add(10 * time.Minute)}
		if err := s.CreateDevice(ctx(), d, at); err != nil {
			t.Fatal(err)
		}
		for _, k := range []store.Keys{{CodeHash: c.Hash}, {RefreshHash: rt.Hash}, {RefreshHash: next.Hash}, {DeviceUserCode: d.UserCodeHash}} {
			bundle, err := s.Fetch(ctx(), k)
			if err != nil {
				t.Fatal(err)
			}
			var gotRes, gotRS string
			switch {
			case bundle.Code != nil:
				gotRes, gotRS = bundle.Code.Resource, bundle.Code.ResourceClientID
			case bundle.Refresh != nil:
				gotRes, gotRS = bundle.Refresh.Resource, bundle.Refresh.ResourceClientID
			case bundle.Device != nil:
				gotRes, gotRS = bundle.Device.Resource, bundle.Device.ResourceClientID
			default:
				t.Fatalf("Fetch(%+v) found nothing", k)
			}
			if gotRes != res || gotRS != rs {
				t.Errorf("Fetch(%+v): resource %q of %q, want %q of %q", k, gotRes, gotRS, res, rs)
			}
		}
		it := rawItem(t, b, "CODE#"+plain.Hash, "CODE")
		for name := range it {
			if strings.HasPrefix(name, "resource") {
				t.Errorf("a code without a resource has the attribute %q", name)
			}
		}
	})
}
