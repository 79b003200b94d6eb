package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
	"github.com/applinks/applinks/shared/store/table"
)

// passkeyUser creates a user (an administrator when admin) and returns
// its id.
func passkeyUser(t *testing.T, s *store.Store, admin bool) string {
	t.Helper()
	id := uniq("uid")
	at := now().Add(-time.Hour)
	if err := s.CreateUser(ctx(), store.User{ID: id, Username: uniq("admin"), PasswordHash: "h", Admin: admin, CreatedAt: at, UpdatedAt: at}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	return id
}

func newPasskey(userID, id string, at time.Time) store.Passkey {
	return store.Passkey{UserID: userID, ID: id, RPID: "auth.example.com", Record: []byte(`{"id":"` + id + `"}`), CreatedAt: at}
}

// limitedStores are s under the authorize and token functions' write
// policies (storetest.LeadingKeys over table.WritePrefixes).
func limitedStores(s *store.Store) map[string]*store.Store {
	out := map[string]*store.Store{}
	for _, fn := range []string{"authorize", "token"} {
		out[fn] = s.WithDynamoDB(func(db store.DynamoDB) store.DynamoDB { return storetest.LeadingKeys(db, table.WritePrefixes[fn]) })
	}
	return out
}

// TestPasskeys: a user's passkeys are read back as written, in one call;
// a duplicate id or one past the limit is refused; a use updates the
// record and the time but never brings back a removed passkey; removing
// all of them ends the user's sessions (credentials_changed_at). The
// authorize and token functions' write policies refuse every write.
func TestPasskeys(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s := b.Store()
		at := now()
		uid := passkeyUser(t, s, true)
		if got, err := s.GetPasskeys(ctx(), uid); err != nil || len(got) != 0 || got == nil {
			t.Fatalf("GetPasskeys of a user without any = %v, %v; want an empty slice", got, err)
		}
		p1, p2 := newPasskey(uid, "cred-1_A", at), newPasskey(uid, "cred-2-B", at.Add(time.Second))
		for _, p := range []store.Passkey{p2, p1} {
			if err := s.AddPasskey(ctx(), p, store.MaxPasskeys); err != nil {
				t.Fatalf("AddPasskey %s: %v", p.ID, err)
			}
		}
		if err := s.AddPasskey(ctx(), p1, store.MaxPasskeys); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("AddPasskey of an id the user has: got %v, want ErrConflict", err)
		}
		c := &storetest.CountingDynamoDB{Next: b.DynamoDB}
		got, err := s.WithDynamoDB(func(store.DynamoDB) store.DynamoDB { return c }).GetPasskeys(ctx(), uid)
		if err != nil || len(got) != 2 || got[0].ID != p1.ID || got[1].ID != p2.ID || !bytes.Equal(got[0].Record, p1.Record) ||
			got[0].RPID != p1.RPID || !got[0].CreatedAt.Equal(at) || !got[0].LastUsedAt.IsZero() || got[0].UserID != uid {
			t.Fatalf("GetPasskeys = %+v, %v; want %s then %s as written", got, err, p1.ID, p2.ID)
		}
		if c.Calls().Total() != 1 {
			t.Errorf("GetPasskeys made %d calls (%v), want 1", c.Calls().Total(), c.Calls())
		}
		// The limit: with max 3, one more fits, then none.
		if err := s.AddPasskey(ctx(), newPasskey(uid, "cred-3", at), 3); err != nil {
			t.Fatalf("AddPasskey under the limit: %v", err)
		}
		if err := s.AddPasskey(ctx(), newPasskey(uid, "cred-4", at), 3); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("AddPasskey past the limit: got %v, want ErrConflict", err)
		}
		if err := s.AddPasskey(ctx(), store.Passkey{UserID: uid, ID: "big", Record: make([]byte, store.MaxPasskeyRecord+1)}, 10); err == nil {
			t.Errorf("AddPasskey of a record over %d bytes: no error", store.MaxPasskeyRecord)
		}
		// A use records the new record and the time.
		t1 := at.Add(time.Minute)
		used := got[0]
		used.Record = []byte(`{"n":2}`)
		if err := s.UsePasskey(ctx(), used, t1); err != nil {
			t.Fatalf("UsePasskey: %v", err)
		}
		got, _ = s.GetPasskeys(ctx(), uid)
		if string(got[0].Record) != `{"n":2}` || !got[0].LastUsedAt.Equal(t1) || !got[0].CreatedAt.Equal(at) {
			t.Errorf("after a use: got %+v, want the new record, last used at %v", got[0], t1)
		}
		// Removing one: it is gone, a use of it does not bring it back,
		// and the count makes room for another.
		if err := s.RemovePasskey(ctx(), uid, "cred-3"); err != nil {
			t.Fatalf("RemovePasskey: %v", err)
		}
		if err := s.RemovePasskey(ctx(), uid, "cred-3"); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("RemovePasskey again: got %v, want ErrNotFound", err)
		}
		if err := s.UsePasskey(ctx(), newPasskey(uid, "cred-3", at), t1); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("UsePasskey of a removed passkey: got %v, want ErrNotFound", err)
		}
		if got, _ := s.GetPasskeys(ctx(), uid); len(got) != 2 {
			t.Errorf("after RemovePasskey: got %d passkeys, want 2", len(got))
		}
		if err := s.AddPasskey(ctx(), newPasskey(uid, "cred-4", at), 3); err != nil {
			t.Errorf("AddPasskey after a removal: %v", err)
		}
		// Removing all: none left, and the user's credentials changed.
		t2 := t1.Add(time.Minute)
		if err := s.RemovePasskeys(ctx(), uid, t2); err != nil {
			t.Fatalf("RemovePasskeys: %v", err)
		}
		if got, err := s.GetPasskeys(ctx(), uid); err != nil || len(got) != 0 {
			t.Errorf("after RemovePasskeys: got %v, %v; want none", got, err)
		}
		u, err := s.GetUser(ctx(), uid)
		if err != nil || !u.CredentialsChangedAt.Equal(t2) || u.IssuedSince(t1) {
			t.Errorf("after RemovePasskeys: user %+v, %v; want credentials changed at %v, a session of %v ended", u, err, t2, t1)
		}
		if err := s.RemovePasskeys(ctx(), uid, t2); err != nil {
			t.Errorf("RemovePasskeys again: %v", err)
		}
		if err := s.RemovePasskeys(ctx(), uniq("nobody"), t2); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("RemovePasskeys of no user: got %v, want ErrNotFound", err)
		}
		if n := countItems(t, b, "PASSKEY#"+uniq("nobody")); n != 0 {
			t.Errorf("RemovePasskeys of no user left %d items", n)
		}
		for fn, limited := range limitedStores(s) {
			if err := limited.AddPasskey(ctx(), newPasskey(uid, "intruder", at), 10); err == nil {
				t.Errorf("AddPasskey under the %s function's write policy succeeded", fn)
			}
			if err := limited.RemovePasskeys(ctx(), uid, t2); err == nil {
				t.Errorf("RemovePasskeys under the %s function's write policy succeeded", fn)
			}
		}
	})
}

// TestPasskeyEnrollment: an enrollment link is read back until its end;
// it registers one passkey at most (a second use, even concurrent, is
// refused and writes nothing), only for its own user, only before its end,
// and only while the user is an administrator and not disabled.
func TestPasskeyEnrollment(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s := b.Store()
		at := now()
		uid, other, plain := passkeyUser(t, s, true), passkeyUser(t, s, true), passkeyUser(t, s, false)
		en := store.PasskeyEnrollment{ID: uniq("enroll"), UserID: uid, CreatedAt: at, ExpiresAt: at.Add(15 * time.Minute)}
		if err := s.CreatePasskeyEnrollment(ctx(), en); err != nil {
			t.Fatalf("CreatePasskeyEnrollment: %v", err)
		}
		if err := s.CreatePasskeyEnrollment(ctx(), en); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("CreatePasskeyEnrollment again: got %v, want ErrConflict", err)
		}
		if got, err := s.GetPasskeyEnrollment(ctx(), en.ID, at.Add(14*time.Minute)); err != nil || got != en {
			t.Errorf("GetPasskeyEnrollment = %+v, %v; want %+v", got, err, en)
		}
		if _, err := s.GetPasskeyEnrollment(ctx(), en.ID, en.ExpiresAt); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("GetPasskeyEnrollment at its end: got %v, want ErrNotFound", err)
		}
		// Another user's passkey, a late one: refused, nothing written.
		if err := s.EnrollPasskey(ctx(), en.ID, newPasskey(other, "k-other", at), store.MaxPasskeys, at); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("EnrollPasskey with another user's link: got %v, want ErrConflict", err)
		}
		if err := s.EnrollPasskey(ctx(), en.ID, newPasskey(uid, "k-late", at), store.MaxPasskeys, en.ExpiresAt); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("EnrollPasskey at the link's end: got %v, want ErrConflict", err)
		}
		if got, _ := s.GetPasskeys(ctx(), other); len(got) != 0 {
			t.Errorf("a refused enrollment added %d passkeys to the other user", len(got))
		}
		// Concurrent uses of one link: one passkey.
		var wg sync.WaitGroup
		errs := make([]error, 10)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.EnrollPasskey(ctx(), en.ID, newPasskey(uid, fmt.Sprintf("k-%d", i), at), store.MaxPasskeys, at.Add(time.Minute))
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, shared.ErrConflict) && !errors.Is(err, shared.ErrUnavailable):
				t.Errorf("a concurrent EnrollPasskey: got %v, want ErrConflict (or ErrUnavailable)", err)
			}
		}
		got, _ := s.GetPasskeys(ctx(), uid)
		if won != 1 || len(got) != 1 {
			t.Errorf("10 concurrent enrollments with one link: %d succeeded, %d passkeys; want 1 and 1", won, len(got))
		}
		if _, err := s.GetPasskeyEnrollment(ctx(), en.ID, at); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("GetPasskeyEnrollment after its use: got %v, want ErrNotFound", err)
		}
		if err := s.EnrollPasskey(ctx(), en.ID, newPasskey(uid, "k-again", at), store.MaxPasskeys, at); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("EnrollPasskey with a used link: got %v, want ErrConflict", err)
		}
		// Not an administrator, or disabled: refused, the link kept.
		for _, tc := range []struct {
			name string
			uid  string
			prep func()
		}{
			{"not an administrator", plain, func() {}},
			{"disabled", other, func() {
				yes := true
				if _, err := s.UpdateUser(ctx(), other, store.UserUpdate{Disabled: &yes}, at); err != nil {
					t.Fatalf("UpdateUser: %v", err)
				}
			}},
		} {
			tc.prep()
			e2 := store.PasskeyEnrollment{ID: uniq("enroll"), UserID: tc.uid, CreatedAt: at, ExpiresAt: at.Add(15 * time.Minute)}
			if err := s.CreatePasskeyEnrollment(ctx(), e2); err != nil {
				t.Fatal(err)
			}
			if err := s.EnrollPasskey(ctx(), e2.ID, newPasskey(tc.uid, "k-"+tc.name, at), store.MaxPasskeys, at); !errors.Is(err, shared.ErrConflict) {
				t.Errorf("EnrollPasskey of a user %s: got %v, want ErrConflict", tc.name, err)
			}
			if _, err := s.GetPasskeyEnrollment(ctx(), e2.ID, at); err != nil {
				t.Errorf("a refused enrollment (%s) consumed the link: %v", tc.name, err)
			}
		}
		for fn, limited := range limitedStores(s) {
			e3 := store.PasskeyEnrollment{ID: uniq("enroll"), UserID: uid, CreatedAt: at, ExpiresAt: at.Add(time.Minute)}
			if err := limited.CreatePasskeyEnrollment(ctx(), e3); err == nil {
				t.Errorf("CreatePasskeyEnrollment under the %s function's write policy succeeded", fn)
			}
			if err := limited.EnrollPasskey(ctx(), en.ID, newPasskey(uid, "k-"+fn, at), store.MaxPasskeys, at); err == nil {
				t.Errorf("EnrollPasskey under the %s function's write policy succeeded", fn)
			}
		}
	})
}

// TestPasskeyCeremonies: a ceremony is read back until its end, replaced
// by a new one of the same id, and taken once: a second take, a
// concurrent one, a late one or one with another CSRF token gets
// ErrNotFound (and the last leaves it in place).
func TestPasskeyCeremonies(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s := b.Store()
		at := now()
		c := store.PasskeyCeremony{ID: uniq("ceremony"), Kind: "login", UserID: "uid-1", CSRF: "csrf-1",
			Session: []byte(`{"challenge":"abc"}`), Options: `{"challenge":"abc"}`, ReturnTo: "/console/links",
			EnrollmentID: "e-1", CreatedAt: at, ExpiresAt: at.Add(5 * time.Minute)}
		if err := s.PutPasskeyCeremony(ctx(), c); err != nil {
			t.Fatalf("PutPasskeyCeremony: %v", err)
		}
		same := func(a, b store.PasskeyCeremony) bool {
			return a.ID == b.ID && a.Kind == b.Kind && a.UserID == b.UserID && a.CSRF == b.CSRF && bytes.Equal(a.Session, b.Session) &&
				a.Options == b.Options && a.ReturnTo == b.ReturnTo && a.EnrollmentID == b.EnrollmentID &&
				a.CreatedAt.Equal(b.CreatedAt) && a.ExpiresAt.Equal(b.ExpiresAt)
		}
		if got, err := s.GetPasskeyCeremony(ctx(), c.ID, at); err != nil || !same(got, c) {
			t.Fatalf("GetPasskeyCeremony = %+v, %v; want %+v", got, err, c)
		}
		if _, err := s.GetPasskeyCeremony(ctx(), c.ID, c.ExpiresAt); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("GetPasskeyCeremony at its end: got %v, want ErrNotFound", err)
		}
		// A new ceremony of the same id replaces it.
		c2 := c
		c2.Session, c2.CSRF = []byte(`{"challenge":"def"}`), "csrf-2"
		if err := s.PutPasskeyCeremony(ctx(), c2); err != nil {
			t.Fatalf("PutPasskeyCeremony again: %v", err)
		}
		if _, err := s.TakePasskeyCeremony(ctx(), c.ID, "csrf-1", at); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("TakePasskeyCeremony with the replaced ceremony's token: got %v, want ErrNotFound", err)
		}
		if _, err := s.TakePasskeyCeremony(ctx(), c.ID, "csrf-2", c.ExpiresAt); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("TakePasskeyCeremony at its end: got %v, want ErrNotFound", err)
		}
		// Concurrent takes: one gets it.
		var wg sync.WaitGroup
		var mu sync.Mutex
		var taken []store.PasskeyCeremony
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := s.TakePasskeyCeremony(ctx(), c.ID, "csrf-2", at.Add(time.Minute))
				if err != nil && !errors.Is(err, shared.ErrNotFound) {
					t.Errorf("a concurrent TakePasskeyCeremony: got %v, want ErrNotFound", err)
				}
				if err == nil {
					mu.Lock()
					taken = append(taken, got)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(taken) != 1 || !same(taken[0], c2) {
			t.Fatalf("10 concurrent takes: got %d (%+v), want 1, the second ceremony", len(taken), taken)
		}
		if _, err := s.TakePasskeyCeremony(ctx(), c.ID, "csrf-2", at); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("TakePasskeyCeremony again: got %v, want ErrNotFound", err)
		}
		if n := countItems(t, b, "PASSKEYCEREMONY#"+c.ID); n != 0 {
			t.Errorf("a taken ceremony left %d items", n)
		}
		for fn, limited := range limitedStores(s) {
			other := c
			other.ID = uniq("ceremony")
			if err := limited.PutPasskeyCeremony(ctx(), other); err == nil {
				t.Errorf("PutPasskeyCeremony under the %s function's write policy succeeded", fn)
			}
		}
	})
}
