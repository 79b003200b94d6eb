package authorize

import (
	"context"
	"time"

	"github.com/applinks/applinks/shared/store"
)

// Links reads registered clients.
type Links interface {
	// GetLinkByClientID reads a link by client id (shared.ErrNotFound).
	GetLinkByClientID(ctx context.Context, clientID string) (store.Link, error)
}

// Users reads the people who sign in.
type Users interface {
	// GetUser reads a user (shared.ErrNotFound).
	GetUser(ctx context.Context, username string) (store.User, error)
}

// LoginThrottle counts sign-in attempts per username.
type LoginThrottle interface {
	// ReserveLoginAttempt counts one attempt before its password is
	// checked; false when max attempts were counted in the current window
	// (which starts at the first and lasts window).
	ReserveLoginAttempt(ctx context.Context, username string, max int, window time.Duration, now time.Time) (bool, error)
	// ClearLoginFailures forgets the attempts of username.
	ClearLoginFailures(ctx context.Context, username string) error
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

// Grants lists and revokes a user's authorizations.
type Grants interface {
	// ListGrantsByUser lists every grant of a user (active and revoked).
	ListGrantsByUser(ctx context.Context, username string) ([]store.Grant, error)
	// RevokeGrant marks a grant revoked (idempotent).
	RevokeGrant(ctx context.Context, id string, now time.Time) error
	// RevokePendingCodes records that username revoked clientID at now:
	// the token endpoint then refuses every code of theirs for clientID
	// created at or before now, redeemed or not yet.
	RevokePendingCodes(ctx context.Context, username, clientID string, now time.Time) error
	// RevokedAt is the time of the latest RevokePendingCodes of username for
	// clientID, read consistently; zero when none.
	RevokedAt(ctx context.Context, username, clientID string) (time.Time, error)
}

// Store is everything the handler persists: the union of the small
// interfaces above, each used by one part of the handler. *store.Store
// satisfies it; tests may use a fake. Implementations must be safe for
// concurrent use.
type Store interface {
	Links
	Users
	LoginThrottle
	Sessions
	Codes
	Grants
}

var _ Store = (*store.Store)(nil)
