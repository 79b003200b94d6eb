package authorize

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
)

// fakeStore is a hand-written in-memory Store for handler tests. When err
// is set, every method fails with it.
type fakeStore struct {
	mu       sync.Mutex
	err      error
	links    map[string]store.Link // by client id
	users    map[string]store.User
	failures map[string]failureWindow
	sessions map[string]store.Session
	codes    map[string]store.Code
	grants   map[string]store.Grant
	revoked  map[[2]string]time.Time // RevokePendingCodes, by username and client id
	// revokeGrantErr and revokeCodesErr, when set, fail RevokeGrant and
	// RevokePendingCodes alone.
	revokeGrantErr, revokeCodesErr error
}

type failureWindow struct {
	n     int
	until time.Time
}

var _ Store = (*fakeStore)(nil)

func newFakeStore() *fakeStore {
	return &fakeStore{
		links:    map[string]store.Link{},
		users:    map[string]store.User{},
		failures: map[string]failureWindow{},
		sessions: map[string]store.Session{},
		codes:    map[string]store.Code{},
		grants:   map[string]store.Grant{},
		revoked:  map[[2]string]time.Time{},
	}
}

func (f *fakeStore) fail() error {
	return f.err
}

func (f *fakeStore) GetLinkByClientID(_ context.Context, clientID string) (store.Link, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return store.Link{}, err
	}
	l, ok := f.links[clientID]
	if !ok {
		return store.Link{}, fmt.Errorf("link %q: %w", clientID, shared.ErrNotFound)
	}
	return l, nil
}

func (f *fakeStore) GetUser(_ context.Context, username string) (store.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return store.User{}, err
	}
	u, ok := f.users[username]
	if !ok {
		return store.User{}, fmt.Errorf("user %q: %w", username, shared.ErrNotFound)
	}
	return u, nil
}

func (f *fakeStore) ReserveLoginAttempt(_ context.Context, username string, max int, window time.Duration, now time.Time) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return false, err
	}
	w := f.failures[username]
	if !now.Before(w.until) {
		w = failureWindow{until: now.Add(window)}
	}
	if w.n >= max {
		return false, nil
	}
	w.n++
	f.failures[username] = w
	return true, nil
}

func (f *fakeStore) ClearLoginFailures(_ context.Context, username string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return err
	}
	delete(f.failures, username)
	return nil
}

func (f *fakeStore) CreateSession(_ context.Context, s store.Session) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return err
	}
	f.sessions[s.ID] = s
	return nil
}

func (f *fakeStore) GetSession(_ context.Context, id string, now time.Time) (store.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return store.Session{}, err
	}
	s, ok := f.sessions[id]
	if !ok || !now.Before(s.ExpiresAt) {
		return store.Session{}, fmt.Errorf("session: %w", shared.ErrNotFound)
	}
	return s, nil
}

func (f *fakeStore) DeleteSession(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return err
	}
	delete(f.sessions, id)
	return nil
}

func (f *fakeStore) CreateCode(_ context.Context, c store.Code) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return err
	}
	f.codes[c.Hash] = c
	return nil
}

func (f *fakeStore) ListGrantsByUser(_ context.Context, username string) ([]store.Grant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return nil, err
	}
	var out []store.Grant
	for _, g := range f.grants {
		if g.Username == username {
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (f *fakeStore) RevokeGrant(_ context.Context, id string, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return err
	}
	if f.revokeGrantErr != nil {
		return f.revokeGrantErr
	}
	g, ok := f.grants[id]
	if !ok {
		return fmt.Errorf("grant %q: %w", id, shared.ErrNotFound)
	}
	if !g.Revoked {
		g.Revoked, g.RevokedAt = true, now
		f.grants[id] = g
	}
	return nil
}

func (f *fakeStore) RevokedAt(_ context.Context, username, clientID string) (time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return time.Time{}, err
	}
	return f.revoked[[2]string{username, clientID}], nil
}

func (f *fakeStore) RevokePendingCodes(_ context.Context, username, clientID string, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return err
	}
	if f.revokeCodesErr != nil {
		return f.revokeCodesErr
	}
	k := [2]string{username, clientID}
	if now.After(f.revoked[k]) {
		f.revoked[k] = now
	}
	return nil
}

// The seeding side, shared with the real store in tests (see seeder).

func (f *fakeStore) addLink(l store.Link)   { f.mu.Lock(); f.links[l.ClientID] = l; f.mu.Unlock() }
func (f *fakeStore) addUser(u store.User)   { f.mu.Lock(); f.users[u.Username] = u; f.mu.Unlock() }
func (f *fakeStore) addGrant(g store.Grant) { f.mu.Lock(); f.grants[g.ID] = g; f.mu.Unlock() }

func (f *fakeStore) revokedAt(username, clientID string) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.revoked[[2]string{username, clientID}]
}

func (f *fakeStore) setErr(err error) { f.mu.Lock(); f.err = err; f.mu.Unlock() }

func (f *fakeStore) code(hash string) (store.Code, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.codes[hash]
	return c, ok
}

func (f *fakeStore) grant(id string) store.Grant {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.grants[id]
}
