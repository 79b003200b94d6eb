package authorize

import (
	"context"
	"fmt"
	"slices"
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
	users    map[string]store.User // by id
	failures map[string]failureWindow
	counters map[string]failureWindow // named counters (ReserveAttempt)
	sessions map[string]store.Session
	codes    map[string]store.Code
	grants   map[[2]string]store.Grant // by user id and client id
	// revokeGrantErr, when set, fails RevokeGrant alone.
	revokeGrantErr error
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
		counters: map[string]failureWindow{},
		sessions: map[string]store.Session{},
		codes:    map[string]store.Code{},
		grants:   map[[2]string]store.Grant{},
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

func (f *fakeStore) GetUser(_ context.Context, id string) (store.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return store.User{}, err
	}
	u, ok := f.users[id]
	if !ok {
		return store.User{}, fmt.Errorf("user %s: %w", id, shared.ErrNotFound)
	}
	return u, nil
}

func (f *fakeStore) GetUserByName(_ context.Context, username string) (store.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return store.User{}, err
	}
	if username != "" {
		for _, u := range f.users {
			if store.UsernameKey(u.Username) == store.UsernameKey(username) {
				return u, nil
			}
		}
	}
	return store.User{}, fmt.Errorf("user %q: %w", username, shared.ErrNotFound)
}

// Fetch reads what the authorize handler asks for: a link, a session (even
// expired, as the store), a user and that user's grant for a client, a
// code.
func (f *fakeStore) Fetch(_ context.Context, k store.Keys) (store.Bundle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return store.Bundle{}, err
	}
	var b store.Bundle
	if l, ok := f.links[k.ClientID]; ok && k.ClientID != "" {
		b.Link = &l
	}
	if s, ok := f.sessions[k.SessionID]; ok && k.SessionID != "" {
		b.Session = &s
	}
	if u, ok := f.users[k.UserID]; ok && k.UserID != "" {
		b.User = &u
	}
	if g, ok := f.grants[[2]string{k.UserID, k.GrantClientID}]; ok && k.UserID != "" && k.GrantClientID != "" {
		b.Grant = &g
	}
	if c, ok := f.codes[k.CodeHash]; ok && k.CodeHash != "" {
		b.Code = &c
	}
	if k.RefreshHash != "" || k.JTI != "" || k.TokenClientID != "" {
		return store.Bundle{}, fmt.Errorf("fake Fetch: keys %+v not supported", k)
	}
	return b, nil
}

func (f *fakeStore) ReserveLoginAttempt(_ context.Context, username string, max int, window time.Duration, now time.Time) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return false, err
	}
	k := store.UsernameKey(username)
	w := f.failures[k]
	if !now.Before(w.until) {
		w = failureWindow{until: now.Add(window)}
	}
	if w.n >= max {
		return false, nil
	}
	w.n++
	f.failures[k] = w
	return true, nil
}

func (f *fakeStore) ClearLoginFailures(_ context.Context, username string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return err
	}
	delete(f.failures, store.UsernameKey(username))
	return nil
}

func (f *fakeStore) ReserveAttempt(_ context.Context, name string, max int64, window time.Duration, now time.Time) (store.Counter, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return store.Counter{}, false, err
	}
	w := f.counters[name]
	if !now.Before(w.until) {
		w = failureWindow{until: now.Add(window)}
	}
	if max > 0 && int64(w.n) >= max {
		return store.Counter{Count: int64(w.n), WindowEnd: w.until}, false, nil
	}
	w.n++
	f.counters[name] = w
	return store.Counter{Count: int64(w.n), WindowEnd: w.until}, true, nil
}

func (f *fakeStore) ReleaseAttempt(_ context.Context, name string, c store.Counter) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return err
	}
	if w, ok := f.counters[name]; ok && w.until.Equal(c.WindowEnd) && w.n > 0 {
		w.n--
		f.counters[name] = w
	}
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

// ApproveGrant behaves as the store's: the user must exist and not be
// disabled; an active grant keeps its ID and merges the scope; else g is
// written as a new grant (replacing a revoked one).
func (f *fakeStore) ApproveGrant(_ context.Context, g store.Grant, merge func(stored, approved []string) []string, now time.Time) (store.Grant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return store.Grant{}, err
	}
	if u, ok := f.users[g.UserID]; !ok || u.Disabled || g.ID == "" {
		return store.Grant{}, fmt.Errorf("approve grant: %w", shared.ErrNotFound)
	}
	k := [2]string{g.UserID, g.ClientID}
	out := g
	if cur, ok := f.grants[k]; ok && !cur.Revoked {
		out = cur
		out.Scope = merge(cur.Scope, g.Scope)
		for _, p := range g.Protocol {
			if !slices.Contains(out.Protocol, p) {
				out.Protocol = append(append([]string(nil), out.Protocol...), p)
			}
		}
		out.UpdatedAt = now
	} else {
		out.CreatedAt, out.UpdatedAt, out.Revoked, out.RevokedAt = now, now, false, time.Time{}
	}
	f.grants[k] = out
	return out, nil
}

func (f *fakeStore) ListGrantsByUser(_ context.Context, userID string) ([]store.Grant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return nil, err
	}
	var out []store.Grant
	for _, g := range f.grants {
		if g.UserID == userID {
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ClientID < out[j].ClientID })
	return out, nil
}

func (f *fakeStore) RevokeGrant(_ context.Context, userID, clientID, id string, now time.Time) (store.Grant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return store.Grant{}, err
	}
	if f.revokeGrantErr != nil {
		return store.Grant{}, f.revokeGrantErr
	}
	k := [2]string{userID, clientID}
	g, ok := f.grants[k]
	if !ok || (id != "" && g.ID != id) {
		return store.Grant{}, fmt.Errorf("grant of %s for %q: %w", userID, clientID, shared.ErrNotFound)
	}
	if !g.Revoked {
		g.Revoked, g.RevokedAt = true, now
		f.grants[k] = g
	}
	return g, nil
}

// The seeding side, shared with the real store in tests (see seeder).

func (f *fakeStore) addLink(l store.Link) {
	if l.GrantTypes == nil && l.ClientType != store.ResourceServer {
		l.GrantTypes = shared.DefaultGrantTypes() // as the store reads a link stored without them
	}
	f.mu.Lock()
	f.links[l.ClientID] = l
	f.mu.Unlock()
}
func (f *fakeStore) addUser(u store.User) { f.mu.Lock(); f.users[u.ID] = u; f.mu.Unlock() }
func (f *fakeStore) addGrant(g store.Grant) {
	f.mu.Lock()
	f.grants[[2]string{g.UserID, g.ClientID}] = g
	f.mu.Unlock()
}

func (f *fakeStore) setErr(err error) { f.mu.Lock(); f.err = err; f.mu.Unlock() }

func (f *fakeStore) code(hash string) (store.Code, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.codes[hash]
	return c, ok
}

func (f *fakeStore) grant(userID, clientID string) store.Grant {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.grants[[2]string{userID, clientID}]
}

// user reads a user by id (zero when absent).
func (f *fakeStore) user(id string) store.User {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.users[id]
}

// deleteUser removes a user (the store's DeleteUser, for the handler's
// point of view).
func (f *fakeStore) deleteUser(id string) { f.mu.Lock(); delete(f.users, id); f.mu.Unlock() }
