package authorize

import (
	"context"
	"time"

	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/throttle"
)

// Links reads registered clients.
type Links interface {
	// GetLinkByClientID reads a link by client id (shared.ErrNotFound).
	GetLinkByClientID(ctx context.Context, clientID string) (store.Link, error)
}

// Users reads the people who sign in.
type Users interface {
	// GetUser reads a user by id (shared.ErrNotFound).
	GetUser(ctx context.Context, id string) (store.User, error)
	// GetUserByName reads the user whose username matches regardless of
	// case (shared.ErrNotFound).
	GetUserByName(ctx context.Context, username string) (store.User, error)
}

// Fetcher reads several records in one call (an authorization request's
// link and session, then its user and grant).
type Fetcher interface {
	// Fetch reads the records k names; absent ones are nil.
	Fetch(ctx context.Context, k store.Keys) (store.Bundle, error)
}

// LoginThrottle counts sign-in attempts per username, per source address
// and across all sources (shared/throttle).
type LoginThrottle interface {
	throttle.Store
}

// Sessions keeps signed-in browser sessions, keyed by the hash of the
// cookie value.
type Sessions interface {
	// CreateSession stores a session until its ExpiresAt.
	CreateSession(ctx context.Context, sess store.Session) error
	// GetSession reads a live session (shared.ErrNotFound when absent or
	// expired).
	GetSession(ctx context.Context, id string, now time.Time) (store.Session, error)
	// DeleteSession removes a session (no error when absent).
	DeleteSession(ctx context.Context, id string) error
}

// Codes stores authorization codes.
type Codes interface {
	// CreateCode stores a code (hashed) until its ExpiresAt.
	CreateCode(ctx context.Context, c store.Code) error
}

// Grants records, lists and revokes a user's authorizations, one per
// (user, link).
type Grants interface {
	// ApproveGrant creates the user's grant for the client, or updates the
	// active one (its scope becomes merge(stored, approved)).
	ApproveGrant(ctx context.Context, g store.Grant, merge func(stored, approved []string) []string, now time.Time) (store.Grant, error)
	// ListGrantsByUser lists the user's grants, one per link (active, and
	// recently revoked).
	ListGrantsByUser(ctx context.Context, userID string) ([]store.Grant, error)
	// RevokeGrant revokes the user's grant for the client (id "": whichever
	// is there); shared.ErrNotFound when there is none.
	RevokeGrant(ctx context.Context, userID, clientID, id string, now time.Time) (store.Grant, error)
}

// Store is everything the handler persists: the union of the small
// interfaces above, each used by one part of the handler. *store.Store
// satisfies it; tests may use a fake. Implementations must be safe for
// concurrent use.
type Store interface {
	Links
	Users
	Fetcher
	LoginThrottle
	Sessions
	Codes
	Grants
	Devices
}

var _ Store = (*store.Store)(nil)
