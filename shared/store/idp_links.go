package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store/table"
)

// UpstreamIdentity names a person at an upstream identity provider. The
// pair (Issuer, Subject) is the stable link to one local user, and one
// pair links to at most one user; ProviderID is the provider the link was
// made through (shown to administrators).
type UpstreamIdentity struct {
	ProviderID string `json:"provider"`
	Issuer     string `json:"issuer"`
	Subject    string `json:"subject"`
}

// UpstreamKey is the key of the identity (issuer, subject): SHA-256 of
// both, base64url, so that any issuer and subject make a key of fixed
// size.
func UpstreamKey(issuer, subject string) string { return hashKey(issuer + "\x00" + subject) }

// SignInUserPrefix begins the id of every user the authorize function
// creates at an upstream sign-in (create_users); the admin function's
// users never have it (shared.NewID is base64url, which has no '.').
// The authorize function may write only these users' items
// (table.WritePrefixes), so such a user can never be an administrator:
// User.IsAdministrator is false for them, and the store refuses to set
// the flag (ErrSignInUserAdmin).
const SignInUserPrefix = "u."

// CreatedBySignIn reports whether the user id was made by an upstream
// sign-in (SignInUserPrefix).
func CreatedBySignIn(id string) bool { return strings.HasPrefix(id, SignInUserPrefix) }

// IsAdministrator reports whether u may use the console: the
// administrator flag, on a user the admin function created. A user the
// authorize function created is never one, whatever its item says,
// because that function can write its item.
func (u User) IsAdministrator() bool { return u.Admin && !CreatedBySignIn(u.ID) }

// ErrSignInUserAdmin refuses the administrator flag to a user created by
// an upstream sign-in. It wraps shared.ErrConflict.
var ErrSignInUserAdmin = fmt.Errorf("a user created by an upstream sign-in cannot be an administrator: %w", shared.ErrConflict)

// ErrUpstreamLinked is the answer when an upstream identity is already
// linked to another user. It wraps shared.ErrConflict.
var ErrUpstreamLinked = fmt.Errorf("this upstream identity is already linked to a user: %w", shared.ErrConflict)

// Items of upstream identities and their permissions.
const (
	// upstreamPrefix: UPSTREAM#<UpstreamKey>, the pointer from an
	// upstream identity to the user it is linked to (and the uniqueness of
	// that link). The user's own item names its identity too, and is what
	// a sign-in trusts: a pointer whose user does not name it back links
	// nobody.
	upstreamPrefix = "UPSTREAM#"
	skUpstream     = "UPSTREAM"
	// claimsPrefix: CLAIMS#<user id>, the permissions mapped from the
	// user's latest upstream sign-in (PERMISSION_SOURCE=claims).
	claimsPrefix = "CLAIMS#"
	skClaims     = "CLAIMS"

	aUpstreamKey      = "upstream_key"
	aUpstreamProvider = "upstream_provider"
	aUpstreamIssuer   = "upstream_issuer"
	aUpstreamSubject  = "upstream_subject"
	aProviderID       = "provider_id"
	aSubject          = "subject"
)

// decodeUpstream reads the upstream identity named on a user item, nil
// when none.
func decodeUpstream(it item) *UpstreamIdentity {
	if it.s(aUpstreamKey) == "" {
		return nil
	}
	return &UpstreamIdentity{ProviderID: it.s(aUpstreamProvider), Issuer: it.s(aUpstreamIssuer), Subject: it.s(aUpstreamSubject)}
}

// validUpstream checks an identity before it becomes part of a key.
func validUpstream(id *UpstreamIdentity) error {
	if id == nil || id.Issuer == "" || id.Subject == "" || id.ProviderID == "" || tooLong(id.Issuer, id.Subject, id.ProviderID) {
		return errors.New("upstream identity: provider, issuer and subject are required")
	}
	return nil
}

// setUpstreamAttrs names id on a user item.
func setUpstreamAttrs(it map[string]types.AttributeValue, id *UpstreamIdentity) {
	it[aUpstreamKey] = str(UpstreamKey(id.Issuer, id.Subject))
	it[aUpstreamProvider] = str(id.ProviderID)
	it[aUpstreamIssuer] = str(id.Issuer)
	it[aUpstreamSubject] = str(id.Subject)
}

func upstreamPointer(id *UpstreamIdentity, userID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		aPK: str(upstreamPrefix + UpstreamKey(id.Issuer, id.Subject)), aSK: str(skUpstream),
		aUserID: str(userID), aProviderID: str(id.ProviderID), aIssuer: str(id.Issuer), aSubject: str(id.Subject),
	}
}

// upstreamItems are what CreateUser adds for a user created with an
// upstream identity: its attributes on the user item, and the pointer
// (condition: new) in the same transaction.
func (s *Store) upstreamItems(u User, userItem map[string]types.AttributeValue) ([]types.TransactWriteItem, error) {
	if u.Upstream == nil {
		return nil, nil
	}
	if err := validUpstream(u.Upstream); err != nil {
		return nil, err
	}
	setUpstreamAttrs(userItem, u.Upstream)
	return []types.TransactWriteItem{s.putNew(upstreamPointer(u.Upstream, u.ID))}, nil
}

// upstreamDeletes are what DeleteUser removes with the user: the pointer
// of its upstream identity (only while it names this user) and its claims
// permissions.
func (s *Store) upstreamDeletes(u User) []types.TransactWriteItem {
	out := []types.TransactWriteItem{{Delete: &types.Delete{TableName: s.tableName(), Key: key(claimsPrefix+u.ID, skClaims)}}}
	if u.Upstream != nil {
		e := newExpr()
		out = append(out, types.TransactWriteItem{Delete: &types.Delete{
			TableName: s.tableName(), Key: key(upstreamPrefix+UpstreamKey(u.Upstream.Issuer, u.Upstream.Subject), skUpstream),
			ConditionExpression:       aws.String("attribute_not_exists(" + e.n(aPK) + ") OR " + e.n(aUserID) + " = " + e.v(str(u.ID))),
			ExpressionAttributeNames:  e.Names(),
			ExpressionAttributeValues: e.Values(),
		}})
	}
	return out
}

// conflictCause tells apart the two conflicts of a creation with an
// upstream identity: the identity linked already (ErrUpstreamLinked), or
// else the username taken (err as it is).
func (s *Store) conflictCause(ctx context.Context, id *UpstreamIdentity, err error) error {
	if id == nil || !errors.Is(err, shared.ErrConflict) {
		return err
	}
	if uid, rerr := s.upstreamPointer(ctx, id.Issuer, id.Subject); rerr == nil && uid != "" {
		return ErrUpstreamLinked
	}
	return err
}

// upstreamPointer reads the user id the identity's pointer names, "" when
// there is none.
func (s *Store) upstreamPointer(ctx context.Context, issuer, subject string) (string, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.tableName(), Key: key(upstreamPrefix+UpstreamKey(issuer, subject), skUpstream), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return "", fmt.Errorf("find upstream identity: %w", classify(err, false))
	}
	return item(out.Item).s(aUserID), nil
}

// UpstreamUser reads the user linked to the upstream identity (issuer,
// subject): the pointer, then the user, who must name the same identity
// (2 calls; ErrNotFound when no user is linked to it).
func (s *Store) UpstreamUser(ctx context.Context, issuer, subject string) (User, error) {
	if issuer == "" || subject == "" || tooLong(issuer, subject) {
		return User{}, fmt.Errorf("find upstream user: %w", shared.ErrNotFound)
	}
	uid, err := s.upstreamPointer(ctx, issuer, subject)
	if err != nil {
		return User{}, err
	}
	if uid == "" {
		return User{}, fmt.Errorf("find upstream user: %w", shared.ErrNotFound)
	}
	u, err := s.GetUser(ctx, uid)
	if err != nil {
		return User{}, fmt.Errorf("find upstream user: %w", err)
	}
	if u.Upstream == nil || UpstreamKey(u.Upstream.Issuer, u.Upstream.Subject) != UpstreamKey(issuer, subject) {
		// A pointer the user does not confirm (left by a failure, or
		// written by someone who may write pointers but not this user)
		// links nobody.
		return User{}, fmt.Errorf("find upstream user: the user does not name this identity: %w", shared.ErrNotFound)
	}
	return u, nil
}

// CreateSignInUser creates the user of a first upstream sign-in
// (create_users): u.ID must begin with SignInUserPrefix, u.Upstream names
// the identity, and the user has neither a password nor the administrator
// flag (the item is written without those attributes). One transaction
// writes the username pointer, the user and the identity's pointer, each
// on condition that it is new: ErrUpstreamLinked when the identity was
// linked meanwhile (another tab's sign-in), ErrConflict when the username
// is taken in any letter case.
func (s *Store) CreateSignInUser(ctx context.Context, u User) error {
	switch {
	case !CreatedBySignIn(u.ID) || tooLong(u.ID, u.Username) || u.Username == "":
		return fmt.Errorf("create sign-in user %q: no valid id", u.Username)
	case u.PasswordHash != "" || u.Admin:
		return fmt.Errorf("create sign-in user %q: such a user has no password and is no administrator", u.Username)
	}
	if err := validUpstream(u.Upstream); err != nil {
		return fmt.Errorf("create sign-in user %q: %w", u.Username, err)
	}
	ukey := UsernameKey(u.Username)
	userItem := map[string]types.AttributeValue{
		aPK: str(userPrefix + u.ID), aSK: str(skUser),
		aID: str(u.ID), aUsername: str(u.Username),
		aPermissions: list(nonNil(u.Permissions)), aDisabled: boolean(false),
		aName: str(u.Name), aEmail: str(u.Email), aEmailVerified: boolean(u.EmailVerified),
		aCreatedAt: str(fmtTime(u.CreatedAt)), aUpdatedAt: str(fmtTime(u.UpdatedAt)),
		aCredsChangedAt:         str(fmtTime(u.CreatedAt)),
		table.GSI2.PartitionKey: str(usersIndexPK), table.GSI2.SortKey: str(ukey + "#" + u.ID),
	}
	setUpstreamAttrs(userItem, u.Upstream)
	pointer := map[string]types.AttributeValue{
		aPK: str(usernamePrefix + ukey), aSK: str(skUsername), aUserID: str(u.ID),
	}
	var err error
	if s.notx {
		err = s.createUserNoTx(ctx, u, pointer, userItem)
	} else {
		err = s.transact(ctx, []types.TransactWriteItem{
			s.putNew(pointer), s.putNew(userItem), s.putNew(upstreamPointer(u.Upstream, u.ID)),
		})
	}
	if err != nil {
		return fmt.Errorf("create sign-in user %q: %w", u.Username, s.conflictCause(ctx, u.Upstream, err))
	}
	return nil
}

// SetUpstream links the user with userID to the identity id, replacing
// the identity linked before, or unlinks it (id nil), and returns the
// user (ErrNotFound; ErrUpstreamLinked when another user has id). One
// transaction moves the pointers (the old one only while it names this
// user, the new one only when new), names the identity on the user item
// (condition: it still names the old one) and forgets the permissions
// mapped from the old identity's claims. Linking and unlinking move
// CredentialsChangedAt, which ends the user's browser sessions.
func (s *Store) SetUpstream(ctx context.Context, userID string, id *UpstreamIdentity, now time.Time) (User, error) {
	if id != nil {
		if err := validUpstream(id); err != nil {
			return User{}, fmt.Errorf("link user %s: %w", userID, err)
		}
	}
	cur, err := s.GetUser(ctx, userID)
	if err != nil {
		return User{}, fmt.Errorf("link user: %w", err)
	}
	oldKey, newKey := "", ""
	if cur.Upstream != nil {
		oldKey = UpstreamKey(cur.Upstream.Issuer, cur.Upstream.Subject)
	}
	if id != nil {
		newKey = UpstreamKey(id.Issuer, id.Subject)
	}
	if oldKey == newKey && (id == nil || cur.Upstream.ProviderID == id.ProviderID) {
		return cur, nil
	}
	var items, before []types.TransactWriteItem
	if oldKey != "" && oldKey != newKey {
		e := newExpr()
		items = append(items, types.TransactWriteItem{Delete: &types.Delete{
			TableName: s.tableName(), Key: key(upstreamPrefix+oldKey, skUpstream),
			ConditionExpression:       aws.String("attribute_not_exists(" + e.n(aPK) + ") OR " + e.n(aUserID) + " = " + e.v(str(userID))),
			ExpressionAttributeNames:  e.Names(),
			ExpressionAttributeValues: e.Values(),
		}})
	}
	if newKey != "" && newKey != oldKey {
		before = append(before, s.putNew(upstreamPointer(id, userID)))
	}
	e := newExpr()
	up := update{e: e}
	if id != nil {
		up.Set(aUpstreamKey, str(newKey))
		up.Set(aUpstreamProvider, str(id.ProviderID))
		up.Set(aUpstreamIssuer, str(id.Issuer))
		up.Set(aUpstreamSubject, str(id.Subject))
	} else {
		for _, a := range []string{aUpstreamKey, aUpstreamProvider, aUpstreamIssuer, aUpstreamSubject} {
			up.Remove(a)
		}
	}
	up.Set(aCredsChangedAt, str(fmtTime(now)))
	up.Set(aUpdatedAt, str(fmtTime(now)))
	cond := "attribute_exists(" + e.n(aPK) + ") AND "
	if oldKey == "" {
		cond += "attribute_not_exists(" + e.n(aUpstreamKey) + ")"
	} else {
		cond += e.n(aUpstreamKey) + " = " + e.v(str(oldKey))
	}
	decide := types.TransactWriteItem{Update: &types.Update{
		TableName: s.tableName(), Key: key(userPrefix+userID, skUser),
		UpdateExpression: aws.String(up.String()), ConditionExpression: aws.String(cond),
		ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
	}}
	claims := types.TransactWriteItem{Delete: &types.Delete{TableName: s.tableName(), Key: key(claimsPrefix+userID, skClaims)}}
	if s.notx {
		// The new pointer first, then the user (the commit point), then
		// the old pointer and the claims (notx.go).
		err = s.withPointers(ctx, []pointerClaim{s.upstreamClaim(id, userID, newKey != "" && newKey != oldKey)}, decide, now)
		if err == nil {
			err = s.decideThen(ctx, claims, items...)
		}
	} else {
		err = s.transact(ctx, append(append(items, before...), decide, claims))
	}
	if err != nil {
		return User{}, fmt.Errorf("link user %s: %w", userID, s.conflictCause(ctx, id, err))
	}
	return s.GetUser(ctx, userID)
}

// SetClaimsPermissions keeps the permissions mapped from the user's
// upstream sign-in through providerID (PERMISSION_SOURCE=claims): one
// PutItem of CLAIMS#<user id>.
func (s *Store) SetClaimsPermissions(ctx context.Context, userID, providerID string, perms []string, now time.Time) error {
	if userID == "" || tooLong(userID) {
		return fmt.Errorf("set claims permissions: %w", shared.ErrNotFound)
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: s.tableName(),
		Item: map[string]types.AttributeValue{
			aPK: str(claimsPrefix + userID), aSK: str(skClaims),
			aPermissions: list(nonNil(perms)), aProviderID: str(providerID), aUpdatedAt: str(fmtTime(now)),
		},
	})
	if err != nil {
		return fmt.Errorf("set claims permissions of %s: %w", userID, classify(err, false))
	}
	return nil
}

// WithPermissionSource returns a store on the same table whose users'
// Permissions follow PERMISSION_SOURCE src: with config.PermissionsClaims,
// every read of a user (GetUser, GetUserByName, UpstreamUser, Fetch) reads
// the user's CLAIMS# item in the same call and takes its permissions (none
// when the user never signed in upstream), never the stored ones; anything
// else keeps the stored permissions.
func (s *Store) WithPermissionSource(src config.PermissionSource) *Store {
	c := *s
	c.claimsPermissions = src == config.PermissionsClaims
	return &c
}

// getUserWithClaims is GetUser under PERMISSION_SOURCE=claims: the user
// and its CLAIMS# item in one BatchGetItem.
func (s *Store) getUserWithClaims(ctx context.Context, id string) (User, error) {
	items, err := s.batchGet(ctx, "get user "+id, []map[string]types.AttributeValue{
		key(userPrefix+id, skUser), key(claimsPrefix+id, skClaims),
	})
	if err != nil {
		return User{}, err
	}
	var u *User
	perms := []string{}
	for _, it := range items {
		switch it.s(aSK) {
		case skUser:
			d := decodeUser(it)
			u = &d
		case skClaims:
			perms = it.l(aPermissions)
		}
	}
	if u == nil {
		return User{}, fmt.Errorf("get user %s: %w", id, shared.ErrNotFound)
	}
	u.Permissions = perms
	return *u, nil
}

// claimsKey is the CLAIMS# key Fetch adds for userID under
// PERMISSION_SOURCE=claims (nil otherwise).
func (s *Store) claimsKey(userID string) map[string]types.AttributeValue {
	if !s.claimsPermissions || userID == "" || tooLong(userID) {
		return nil
	}
	return key(claimsPrefix+userID, skClaims)
}

// applyClaims sets the fetched user's permissions from the CLAIMS# item
// among items (none when absent), under PERMISSION_SOURCE=claims.
func (s *Store) applyClaims(b *Bundle, userID string, items []item) {
	if !s.claimsPermissions || b.User == nil {
		return
	}
	b.User.Permissions = []string{}
	for _, it := range items {
		if it.s(aPK) == claimsPrefix+userID && it.s(aSK) == skClaims {
			b.User.Permissions = it.l(aPermissions)
		}
	}
}
