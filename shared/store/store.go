// Package store is the provider's persistence: one DynamoDB table for links,
// users, sessions, authorization codes, grants, refresh tokens and revoked
// access-token ids, and AWS Secrets Manager for client secrets and the
// token-signing keys. It is the only implementation; its tests run against
// DynamoDB Local and kumo (see storetest).
//
// Every error wraps one of shared.ErrNotFound, shared.ErrConflict or
// shared.ErrUnavailable where one applies; anything else is an internal
// failure.
package store

import (
	"context"
	"time"
)

// Client types of a link.
const (
	Confidential   = "confidential"
	Public         = "public"
	ResourceServer = "resource_server"
)

// Link is an incoming application link (a registered OAuth client).
type Link struct {
	ID           string    `json:"id"`
	ClientID     string    `json:"client_id"`
	Name         string    `json:"name"`
	RedirectURIs []string  `json:"redirect_uris"`
	Scopes       []string  `json:"scopes"`
	ClientType   string    `json:"client_type"`
	Enabled      bool      `json:"enabled"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`

	// SecretHash is shared.HashToken of the current client secret ("" for a
	// public link): the verifier the token endpoint checks without calling
	// Secrets Manager.
	SecretHash string `json:"-"`
	// PrevSecretHash and PrevSecretExpires describe the previous secret
	// during a rotation overlap.
	PrevSecretHash    string    `json:"-"`
	PrevSecretExpires time.Time `json:"-"`
}

// VerifySecret reports, in constant time, whether secret is the link's
// current secret, or its previous one before PrevSecretExpires.
func (l *Link) VerifySecret(secret string, now time.Time) bool { panic("unimplemented") }

// NewLink is the input of CreateLink. ID, ClientID and Secret are freshly
// generated candidates; a retry with the same IdempotencyKey returns the
// link (and secret) created the first time instead.
type NewLink struct {
	IdempotencyKey string // "" when the caller sent none
	ID             string
	ClientID       string
	Secret         string // "" for a public link
	Name           string
	RedirectURIs   []string
	Scopes         []string
	ClientType     string
	Enabled        bool
}

// LinkUpdate is a partial update; nil fields are left unchanged.
type LinkUpdate struct {
	Name         *string
	RedirectURIs *[]string
	Scopes       *[]string
	Enabled      *bool
}

// LinkSecret is the value kept in the link's secret.
type LinkSecret struct {
	ClientSecret      string    `json:"client_secret"`
	PreviousSecret    string    `json:"previous_client_secret,omitempty"`
	PreviousExpiresAt time.Time `json:"previous_expires_at,omitzero"`
}

// User is a person who can sign in.
type User struct {
	Username     string    `json:"username"`
	PasswordHash string    `json:"-"`
	Permissions  []string  `json:"permissions"`
	Disabled     bool      `json:"disabled"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// UserUpdate is a partial update; nil fields are left unchanged.
type UserUpdate struct {
	PasswordHash *string
	Permissions  *[]string
	Disabled     *bool
}

// Session is a signed-in browser session. ID is shared.HashToken of the
// cookie value.
type Session struct {
	ID        string
	Username  string
	CSRF      string // the CSRF token bound to this session
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Code is an authorization code. Hash is shared.HashToken of the code.
type Code struct {
	Hash          string
	ClientID      string
	RedirectURI   string // the redirect_uri the request carried, "" when omitted
	Challenge     string // S256 code_challenge, "" when none was sent
	Username      string
	Scope         []string // granted (capped) scope, catalog order
	CreatedAt     time.Time
	ExpiresAt     time.Time
	Used          bool
	GrantID       string // set when redeemed
}

// Grant is one authorization of a client by a user: the family of tokens
// issued from one code. Revoking it makes every token of it inactive at once.
type Grant struct {
	ID        string    `json:"grant_id"`
	ClientID  string    `json:"client_id"`
	Username  string    `json:"username"`
	Scope     []string  `json:"scope"` // the scope the user approved
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Revoked   bool      `json:"revoked"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// Refresh token states.
const (
	RefreshActive  = "active"
	RefreshRotated = "rotated"
	RefreshRevoked = "revoked"
)

// RefreshToken is a refresh token. Hash is shared.HashToken of the token.
type RefreshToken struct {
	Hash      string
	GrantID   string
	ClientID  string
	Username  string
	Scope     []string // the grant's approved scope
	Status    string
	CreatedAt time.Time
	ExpiresAt time.Time
	RotatedAt time.Time // when Status became rotated
	Successor string    // hash of the token that replaced this one
}

// Keys names the records Fetch reads; empty fields are not read.
type Keys struct {
	ClientID    string // the link by client id
	CodeHash    string
	RefreshHash string
	GrantID     string
	Username    string
	JTI         string // whether this access-token id was revoked
}

// Bundle is what Fetch found; a nil field was not asked for or not found.
type Bundle struct {
	Link          *Link
	Code          *Code
	Refresh       *RefreshToken
	Grant         *Grant
	User          *User
	AccessRevoked bool
}

// Store is the DynamoDB and Secrets Manager store. It is safe for concurrent
// use.
type Store struct {
	// TODO(store)
}

// TODO(store): the methods below are the contract used by the handlers.
// Calls noted "1 call" must cost exactly one DynamoDB request on success.

// Fetch reads every record named by k with one strongly consistent
// BatchGetItem (1 call; the token endpoint's read path).
func (s *Store) Fetch(ctx context.Context, k Keys) (Bundle, error) { panic("unimplemented") }

// CreateLink creates the link item and its secret with no orphan on failure
// (see NewLink for idempotency). It returns the stored link and its secret.
func (s *Store) CreateLink(ctx context.Context, in NewLink, now time.Time) (Link, string, error) {
	panic("unimplemented")
}

// GetLink reads a link by id (ErrNotFound).
func (s *Store) GetLink(ctx context.Context, id string) (Link, error) { panic("unimplemented") }

// GetLinkByClientID reads a link by client id (1 call, ErrNotFound).
func (s *Store) GetLinkByClientID(ctx context.Context, clientID string) (Link, error) {
	panic("unimplemented")
}

// ListLinks lists links in creation order; cursor is "" for the first page
// and the returned next is "" after the last. limit is 1..100.
func (s *Store) ListLinks(ctx context.Context, limit int, cursor string) ([]Link, string, error) {
	panic("unimplemented")
}

// UpdateLink applies u and returns the updated link (ErrNotFound).
func (s *Store) UpdateLink(ctx context.Context, id string, u LinkUpdate, now time.Time) (Link, error) {
	panic("unimplemented")
}

// DeleteLink revokes every grant of the link, deletes its secret and its
// items (ErrNotFound). Afterwards its id and client id are not found.
func (s *Store) DeleteLink(ctx context.Context, id string, now time.Time) error {
	panic("unimplemented")
}

// GetLinkSecret reads the link's secret from Secrets Manager.
func (s *Store) GetLinkSecret(ctx context.Context, id string) (LinkSecret, error) {
	panic("unimplemented")
}

// RotateLinkSecret makes newSecret current; the old one stays valid for
// overlap (0 ends it at once; a new rotation ends any earlier overlap).
func (s *Store) RotateLinkSecret(ctx context.Context, id, newSecret string, overlap time.Duration, now time.Time) (Link, error) {
	panic("unimplemented")
}

// CreateUser creates a user (ErrConflict when the username is taken).
func (s *Store) CreateUser(ctx context.Context, u User) error { panic("unimplemented") }

// GetUser reads a user (1 call, ErrNotFound).
func (s *Store) GetUser(ctx context.Context, username string) (User, error) { panic("unimplemented") }

// UpdateUser applies u and returns the updated user (ErrNotFound).
func (s *Store) UpdateUser(ctx context.Context, username string, u UserUpdate, now time.Time) (User, error) {
	panic("unimplemented")
}

// DeleteUser deletes a user and revokes every grant of theirs (ErrNotFound).
func (s *Store) DeleteUser(ctx context.Context, username string, now time.Time) error {
	panic("unimplemented")
}

// LoginFailures returns the failed sign-ins counted for username in the
// current window (0 when none or the window has passed).
func (s *Store) LoginFailures(ctx context.Context, username string, now time.Time) (int, error) {
	panic("unimplemented")
}

// AddLoginFailure counts one failed sign-in for username (known or not) and
// returns the new count; the window starts at the first failure and lasts
// window.
func (s *Store) AddLoginFailure(ctx context.Context, username string, window time.Duration, now time.Time) (int, error) {
	panic("unimplemented")
}

// ClearLoginFailures forgets the failures of username.
func (s *Store) ClearLoginFailures(ctx context.Context, username string) error {
	panic("unimplemented")
}

// CreateSession stores a session with a TTL at ExpiresAt.
func (s *Store) CreateSession(ctx context.Context, sess Session) error { panic("unimplemented") }

// GetSession reads a session by id hash; an expired one is ErrNotFound.
func (s *Store) GetSession(ctx context.Context, id string, now time.Time) (Session, error) {
	panic("unimplemented")
}

// DeleteSession removes a session (no error when absent).
func (s *Store) DeleteSession(ctx context.Context, id string) error { panic("unimplemented") }

// CreateCode stores an authorization code with a TTL at ExpiresAt.
func (s *Store) CreateCode(ctx context.Context, c Code) error { panic("unimplemented") }

// RedeemCode atomically (one transaction, 1 call) marks the code used with
// g.ID, and writes the grant g and its first refresh token rt (rt may be
// nil when no refresh token is issued). ErrConflict when the code was
// already used or has expired: nothing is written then.
func (s *Store) RedeemCode(ctx context.Context, codeHash string, g Grant, rt *RefreshToken, now time.Time) error {
	panic("unimplemented")
}

// RotateRefresh atomically (one transaction, 1 call) marks old rotated
// (condition: still active) with next as its successor, writes next, and
// checks that the grant is not revoked. ErrConflict when any condition
// fails (already rotated, revoked grant): nothing is written then.
func (s *Store) RotateRefresh(ctx context.Context, old RefreshToken, next RefreshToken, now time.Time) error {
	panic("unimplemented")
}

// ReplaceSuccessor is rotation within REFRESH_REUSE_GRACE: old is already
// rotated; atomically its successor (condition: still active, unused) is
// revoked, next becomes old's successor and is written, and the grant is
// checked not revoked. ErrConflict when any condition fails.
func (s *Store) ReplaceSuccessor(ctx context.Context, old RefreshToken, next RefreshToken, now time.Time) error {
	panic("unimplemented")
}

// GetGrant reads a grant (ErrNotFound).
func (s *Store) GetGrant(ctx context.Context, id string) (Grant, error) { panic("unimplemented") }

// ListGrantsByLink lists the grants of a client id, newest first, with a
// cursor as in ListLinks.
func (s *Store) ListGrantsByLink(ctx context.Context, clientID string, limit int, cursor string) ([]Grant, string, error) {
	panic("unimplemented")
}

// ListGrantsByUser lists every grant of a user (active and revoked).
func (s *Store) ListGrantsByUser(ctx context.Context, username string) ([]Grant, error) {
	panic("unimplemented")
}

// RevokeGrant marks a grant revoked (idempotent; ErrNotFound when absent).
// From then on every token of it is inactive: refresh and introspection
// check the grant.
func (s *Store) RevokeGrant(ctx context.Context, id string, now time.Time) error {
	panic("unimplemented")
}

// RevokeAccessToken records jti as revoked until exp (TTL).
func (s *Store) RevokeAccessToken(ctx context.Context, jti string, exp time.Time) error {
	panic("unimplemented")
}

// GetSigningKeys reads the signing-key set document (ErrNotFound when none
// exists yet).
func (s *Store) GetSigningKeys(ctx context.Context) ([]byte, error) { panic("unimplemented") }

// CreateSigningKeys creates the signing-key secret with doc; ErrConflict
// when it already exists (another instance won the race: read it instead).
func (s *Store) CreateSigningKeys(ctx context.Context, doc []byte) error { panic("unimplemented") }

// PutSigningKeys replaces the signing-key set document (rotation).
func (s *Store) PutSigningKeys(ctx context.Context, doc []byte) error { panic("unimplemented") }

// Options configure a Store.
type Options struct {
	// TableName is the DynamoDB table (config TABLE_NAME).
	TableName string
	// SecretPrefix prefixes every secret name (config SECRET_PREFIX).
	SecretPrefix string
}

// TODO(store): New(db DynamoDB, sm SecretsManager, o Options) *Store, where
// DynamoDB and SecretsManager are small interfaces of the SDK methods the
// store calls (the SDK clients satisfy them; tests wrap them to count calls
// or inject faults), and Open(ctx, cfg config.Config) (*Store, error), which
// builds the SDK clients from the environment (AWS_ENDPOINT_URL honoured).
