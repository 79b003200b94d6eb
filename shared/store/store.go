// Package store is the provider's persistence: one DynamoDB table for links,
// users, sessions, authorization codes, grants, refresh tokens, revoked
// access-token ids, device authorizations, passkeys, upstream identity
// providers and activity events, and AWS Secrets Manager for client secrets
// and the signing keys. It is the only implementation; its tests run
// against DynamoDB Local, with and without transactions, and moto's server
// (see storetest).
//
// Every error wraps one of shared.ErrNotFound, shared.ErrConflict or
// shared.ErrUnavailable where one applies; anything else is an internal
// failure. README.md documents the items, indexes, access patterns and the
// atomicity of every change.
package store

import (
	"fmt"
	"slices"
	"time"

	"github.com/applinks/applinks/shared"
)

// Client types of a link.
const (
	Confidential   = "confidential"
	Public         = "public"
	ResourceServer = "resource_server"
)

// Link is an incoming application link (a registered OAuth client).
type Link struct {
	ID           string   `json:"id"`
	ClientID     string   `json:"client_id"`
	Name         string   `json:"name"`
	RedirectURIs []string `json:"redirect_uris"`
	// PostLogoutRedirectURIs are where OpenID Connect RP-Initiated Logout
	// may send the browser after sign-out (none: the provider's page).
	PostLogoutRedirectURIs []string  `json:"post_logout_redirect_uris"`
	Scopes                 []string  `json:"scopes"`
	ClientType             string    `json:"client_type"`
	Enabled                bool      `json:"enabled"`
	CreatedAt              time.Time `json:"created_at"`
	UpdatedAt              time.Time `json:"updated_at"`

	// GrantTypes are the grants the link may use (shared.GrantTypes
	// names, in that order): shared.DefaultGrantTypes for a link stored
	// without them; none for a resource server.
	GrantTypes []string `json:"grant_types"`

	// ResourceURIs are the resource indicators (RFC 8707) a
	// resource_server link registered: an access token asked for with one
	// of them has it as its aud. Each belongs to one link at most.
	ResourceURIs []string `json:"resource_uris"`

	// IDTokenSignedResponseAlg is the algorithm of the link's ID tokens
	// (OpenID Connect Dynamic Client Registration 1.0 §2): "RS256", also
	// for a link stored without it, or "ES256"; "" for a resource server,
	// which gets none.
	IDTokenSignedResponseAlg string `json:"id_token_signed_response_alg,omitempty"`

	// Origin says who created the link: shared.OriginAdmin (an
	// administrator; also every link stored without it),
	// shared.OriginMetadataDocument (the application's Client ID Metadata
	// Document) or shared.OriginDynamic (RFC 7591 registration). Status is
	// the administrator's decision on a self-registered link:
	// shared.StatusActive (always for an admin link), StatusPending or
	// StatusRejected; only an active, enabled link signs anyone in.
	Origin string `json:"origin"`
	Status string `json:"status"`

	// Metadata is the cache of a metadata-document link's document (nil
	// for any other link).
	Metadata *MetadataCache `json:"-"`

	// SecretHash is shared.HashToken of the current client secret ("" for a
	// public link): the verifier the token endpoint checks without calling
	// Secrets Manager.
	SecretHash string `json:"-"`
	// PrevSecretHash and PrevSecretExpires describe the previous secret
	// during a rotation overlap.
	PrevSecretHash    string    `json:"-"`
	PrevSecretExpires time.Time `json:"-"`
}

// DefaultIDTokenAlg is the algorithm of a link's ID tokens when it asks
// for none (OpenID Connect Dynamic Client Registration 1.0 §2).
const DefaultIDTokenAlg = "RS256"

// Usable reports whether the link may sign anyone in or get tokens:
// enabled, and not waiting for or refused by the administrator ("" is
// active: a Link built in code rather than read from the table).
func (l *Link) Usable() bool {
	return l.Enabled && (l.Status == shared.StatusActive || l.Status == "")
}

// AllowsGrant reports whether the link may use the grant type gt
// (shared.GrantTypeAuthorizationCode, ...).
func (l *Link) AllowsGrant(gt string) bool { return slices.Contains(l.GrantTypes, gt) }

// VerifySecret reports, in constant time, whether secret is the link's
// current secret, or its previous one before PrevSecretExpires.
func (l *Link) VerifySecret(secret string, now time.Time) bool {
	if l.SecretHash == "" || secret == "" {
		return false
	}
	h := shared.HashToken(secret)
	cur := shared.Equal(h, l.SecretHash)
	// Both comparisons always run, so the time taken does not reveal which
	// one matched.
	prev := shared.Equal(h, l.PrevSecretHash)
	return cur || (prev && l.PrevSecretHash != "" && now.Before(l.PrevSecretExpires))
}

// NewLink is the input of CreateLink. ID, ClientID and Secret are freshly
// generated candidates; a retry with the same IdempotencyKey from the same
// IdempotencyScope returns the link (and secret) created the first time
// instead.
type NewLink struct {
	IdempotencyKey string // "" when the caller sent none
	// IdempotencyScope names who sent IdempotencyKey (the admin API's
	// principal): a key replays only the creations of its own scope.
	// Required with a key.
	IdempotencyScope       string
	ID                     string
	ClientID               string
	Secret                 string // "" for a public link
	Name                   string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	Scopes                 []string
	ClientType             string
	Enabled                bool

	// GrantTypes (nil: shared.DefaultGrantTypes, or none for a resource
	// server).
	GrantTypes []string
	// ResourceURIs (a resource server only): registered when the link
	// becomes active; one another link holds is a *ResourceTakenError.
	ResourceURIs []string

	// IDTokenSignedResponseAlg ("": DefaultIDTokenAlg, or none for a
	// resource server).
	IDTokenSignedResponseAlg string

	// Origin ("": shared.OriginAdmin) and Status ("": shared.StatusActive)
	// of a self-registered link (dynamic registration).
	Origin string
	Status string
}

// LinkUpdate is a partial update; nil fields are left unchanged.
type LinkUpdate struct {
	Name                   *string
	RedirectURIs           *[]string
	PostLogoutRedirectURIs *[]string
	Scopes                 *[]string
	GrantTypes             *[]string
	// ResourceURIs replaces the resource URIs of a resource server (a
	// *ResourceTakenError when one is another link's).
	ResourceURIs *[]string
	// IDTokenSignedResponseAlg is "RS256" or "ES256".
	IDTokenSignedResponseAlg *string
	Enabled                  *bool
}

// LinkSecret is the value kept in the link's secret.
type LinkSecret struct {
	ClientSecret      string    `json:"client_secret"`
	PreviousSecret    string    `json:"previous_client_secret,omitempty"`
	PreviousExpiresAt time.Time `json:"previous_expires_at,omitzero"`
}

// User is a person who can sign in. ID is immutable, random and never
// reused: it is the sub of every token. Username is unique regardless of
// letter case (UsernameKey) and kept as it was first written.
type User struct {
	ID           string   `json:"id"`
	Username     string   `json:"username"`
	PasswordHash string   `json:"-"`
	Permissions  []string `json:"permissions"`
	Disabled     bool     `json:"disabled"`
	// Admin lets the user into the administration console.
	Admin bool `json:"admin"`
	// Name, Email and EmailVerified are the user's profile, shared with
	// applications by the OpenID Connect scopes profile and email.
	Name          string    `json:"name"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	// CredentialsChangedAt is when the password was last set or the user
	// disabled (CreatedAt at first): a browser session or an authorization
	// code issued before it no longer speaks for the user (IssuedSince).
	CredentialsChangedAt time.Time `json:"-"`
	// Upstream is the identity at an upstream identity provider linked to
	// the user (nil: none); the user may sign in through it.
	Upstream *UpstreamIdentity `json:"upstream"`
}

// IssuedSince reports whether something issued at t (a browser session, an
// authorization code) still speaks for u: t is strictly after
// CredentialsChangedAt. The store keeps both times to the nanosecond; at
// equal instants the order cannot be known, so the answer is no.
func (u User) IssuedSince(t time.Time) bool {
	return t.After(u.CredentialsChangedAt)
}

// UserUpdate is a partial update; nil fields are left unchanged.
type UserUpdate struct {
	PasswordHash  *string
	Permissions   *[]string
	Disabled      *bool
	Admin         *bool
	Name          *string
	Email         *string
	EmailVerified *bool
	// UnlessAdmin applies the update only while the user is not an
	// administrator, checked in the write itself (ErrAdministrator
	// otherwise, nothing changed).
	UnlessAdmin bool
}

// Session is a signed-in browser session. ID is shared.HashToken of the
// cookie value. CreatedAt is when the session began; AuthenticatedAt when
// the user authenticated (OpenID Connect's auth_time).
type Session struct {
	ID        string
	UserID    string
	CSRF      string // the CSRF token bound to this session
	CreatedAt time.Time
	ExpiresAt time.Time
	// AuthTime is when the user authenticated, when it is not CreatedAt:
	// an upstream sign-in's auth_time (the upstream's). Zero: CreatedAt.
	AuthTime time.Time
}

// AuthenticatedAt is when the session's user authenticated (OpenID
// Connect's auth_time): AuthTime when set, else CreatedAt.
func (s Session) AuthenticatedAt() time.Time {
	if s.AuthTime.IsZero() {
		return s.CreatedAt
	}
	return s.AuthTime
}

// Code is an authorization code. Hash is shared.HashToken of the code.
type Code struct {
	Hash        string
	ClientID    string
	RedirectURI string // the redirect_uri the request carried, "" when omitted
	Challenge   string // S256 code_challenge, "" when none was sent
	UserID      string
	Scope       []string // granted (capped) scope, catalog order
	// GrantID is the grant the user's approval created or updated (Grant.ID
	// at the time the code was issued): the code is refused unless that
	// grant is still the user's active grant for the client.
	GrantID  string
	AuthTime time.Time // when the user authenticated (the session's CreatedAt)
	// Protocol are the OpenID Connect scopes granted (openid, profile,
	// email, offline_access), outside the catalog; Nonce is the request's
	// nonce, echoed in the ID token.
	Protocol []string
	Nonce    string
	// Resource is the resource indicator (RFC 8707) the authorization
	// request named ("" for none), and ResourceClientID the client id of
	// the resource_server link that registered it then.
	Resource         string
	ResourceClientID string
	CreatedAt        time.Time
	ExpiresAt        time.Time
	Used             bool
}

// Grant is a user's authorization of a link: one record per (user, link).
// Authorizing again updates it; every code and refresh-token family issued
// under it carries its ID. Revoking it makes every token of it inactive at
// once, and the next authorization creates a new grant with a new ID, so
// nothing issued under the revoked one works again.
type Grant struct {
	ID       string   `json:"grant_id"`
	UserID   string   `json:"user_id"`
	Username string   `json:"username"` // the user's (immutable) username, for listings
	ClientID string   `json:"client_id"`
	Scope    []string `json:"scope"` // every scope the user approved, catalog order
	// Protocol are the OpenID Connect scopes the user approved (openid,
	// profile, email...), outside the catalog: a remembered consent covers
	// a request only when it covers these too.
	Protocol  []string  `json:"protocol_scopes,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"` // the latest approval
	Revoked   bool      `json:"revoked"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`

	// DynamicLink, for ApproveGrant only: the link registered itself (RFC
	// 7591), so the approval also checks that the link is not being
	// deleted by the idle clean-up and records the consent's time for it
	// (idle.go).
	DynamicLink bool `json:"-"`
}

// Active reports whether g is an unrevoked grant with the given id, the one
// a code or token names: a token of a revoked grant, or of an earlier grant
// of the same user and link, is inactive.
func (g *Grant) Active(id string) bool {
	return g != nil && !g.Revoked && id != "" && g.ID == id
}

// Refresh token states.
const (
	RefreshActive  = "active"
	RefreshRotated = "rotated"
	RefreshRevoked = "revoked"
	// RefreshReplaced is a successor that ReplaceSuccessor superseded
	// within REFRESH_REUSE_GRACE: presenting it is reuse.
	RefreshReplaced = "replaced"
)

// RefreshToken is a refresh token. Hash is shared.HashToken of the token.
type RefreshToken struct {
	Hash     string
	GrantID  string
	ClientID string
	UserID   string
	Scope    []string  // the scope approved for this family (the code's)
	AuthTime time.Time // when the user authenticated, kept across rotations
	Protocol []string  // the OpenID Connect scopes of the family (a refresh returns a fresh ID token with openid)
	// Resource and ResourceClientID are the family's resource indicator
	// (RFC 8707) and its resource server's client id (the code's), "" for
	// none: every access token of the family is for that resource.
	Resource         string
	ResourceClientID string
	Status           string
	CreatedAt        time.Time
	ExpiresAt        time.Time
	RotatedAt        time.Time // when Status became rotated
	Successor        string    // hash of the token that replaced this one
}

// Keys names the records Fetch reads; empty fields are not read.
type Keys struct {
	ClientID    string // the link by client id
	CodeHash    string
	RefreshHash string
	SessionID   string // a session by id hash (an expired one is absent)
	UserID      string
	// GrantClientID, with UserID, names the grant of that user for that
	// client.
	GrantClientID string
	JTI           string // whether this access-token id was revoked
	// TokenClientID is the link a token was issued to, when it may differ
	// from ClientID (a resource server introspecting another client's
	// token): read in the same call, so that a token of a deleted or
	// disabled link can be answered inactive.
	TokenClientID string
	// DeviceUserCode is a device authorization by the hash of its user
	// code (returned even when expired: the caller checks ExpiresAt).
	DeviceUserCode string
	// ResourceURI is a resource indicator (RFC 8707) as a request sent it:
	// which link registered it (Bundle.Resource).
	ResourceURI string
	// ResourceClientID is the resource_server link a code, refresh token
	// or device authorization names (Bundle.ResourceLink).
	ResourceClientID string
}

// Bundle is what Fetch found; a nil field was not asked for or not found.
type Bundle struct {
	Link          *Link
	Code          *Code
	Refresh       *RefreshToken
	Grant         *Grant
	User          *User
	Session       *Session
	AccessRevoked bool
	// TokenLink is the active link of Keys.TokenClientID (the same value
	// as Link when the two client ids are equal).
	TokenLink *Link
	// Device is the device authorization of Keys.DeviceUserCode.
	Device *Device
	// Resource is the registration of Keys.ResourceURI, nil when no link
	// has it.
	Resource *Resource
	// ResourceLink is the active link of Keys.ResourceClientID.
	ResourceLink *Link
}

// Store is the DynamoDB and Secrets Manager store. It is safe for concurrent
// use. Build it with New (or Open) and share one per process.
type Store struct {
	db     DynamoDB
	sm     SecretsManager
	table  string
	prefix string
	// secrets protects the secrets the store creates (WithSecretProtection).
	secrets *secretProtection
	// replicaRegions are the regions every new secret is replicated to,
	// and local reads the key sets in the function's own region
	// (Options.SecretReplicaRegions, Options.LocalSecrets).
	replicaRegions []string
	local          SecretsManager
	// notx: no transactions (Options.NoTransactions).
	notx bool
	// claimsPermissions: users' permissions are the ones mapped from their
	// upstream sign-in (WithPermissionSource).
	claimsPermissions bool
}

// ErrPublicLink is RotateLinkSecret's answer for a public link, which has no
// client secret. It wraps shared.ErrConflict.
var ErrPublicLink = fmt.Errorf("public link has no client secret: %w", shared.ErrConflict)

// Options configure a Store.
type Options struct {
	// TableName is the DynamoDB table (config TABLE_NAME).
	TableName string
	// SecretPrefix prefixes every secret name (config SECRET_PREFIX).
	SecretPrefix string
	// SecretReplicaRegions (config SECRET_REPLICA_REGIONS) are the regions
	// every secret the store creates is replicated to, in its CreateSecret
	// (AddReplicaRegions): sm is then the client of the secrets' primary
	// region (SECRET_PRIMARY_REGION), where every secret is created and
	// written, and deleting a secret first removes its replicas (Secrets
	// Manager refuses to delete a secret that still has some).
	SecretReplicaRegions []string
	// LocalSecrets, when set, is a client of the function's own region,
	// holding replicas of sm's secrets: the signing keys and the
	// permission-request keys are read there first, and from sm only when
	// the replica is missing (not replicated yet) or unavailable, so that a
	// cold start does not depend on the primary region.
	LocalSecrets SecretsManager
	// NoTransactions (config STORE_TRANSACTIONS=off) makes every change
	// that a transaction writes by default a sequence of single-item
	// conditional writes, ordered around one commit point each, for a
	// global table with multi-Region strong consistency, which refuses
	// TransactWriteItems (notx.go, docs/multi-region.md).
	NoTransactions bool
}

// New returns a store on the table and secret prefix of o, calling AWS
// through db and sm (the SDK clients, or wrappers of them in tests).
func New(db DynamoDB, sm SecretsManager, o Options) *Store {
	return &Store{db: db, sm: sm, table: o.TableName, prefix: o.SecretPrefix,
		replicaRegions: slices.Clone(o.SecretReplicaRegions), local: o.LocalSecrets,
		notx: o.NoTransactions}
}

// WithDynamoDB returns a store on the same table and secrets whose
// DynamoDB calls go through wrap(db) (tests: a counting wrapper, or one
// that enforces a function's IAM write policy).
func (s *Store) WithDynamoDB(wrap func(DynamoDB) DynamoDB) *Store {
	c := *s
	c.db = wrap(s.db)
	return &c
}

// TableName is the DynamoDB table the store uses.
func (s *Store) TableName() string { return s.table }

// SecretPrefix is the prefix of every secret name the store uses.
func (s *Store) SecretPrefix() string { return s.prefix }
