package store

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared/store/table"
)

// Item key prefixes and sort keys (see README.md for the table design).
const (
	linkPrefix     = "LINK#"     // LINK#<client_id>: the link
	linkIDPrefix   = "LINKID#"   // LINKID#<id>: pointer from link id to client id
	idemPrefix     = "IDEM#"     // IDEM#<sha256(key)>: idempotency record of a link creation
	userPrefix     = "USER#"     // USER#<user id>: the user
	usernamePrefix = "USERNAME#" // USERNAME#<username key>: pointer from the (case-folded) username to the user id
	throttlePrefix = "THROTTLE#" // THROTTLE#<username key>: failed sign-ins in the current window
	sessionPrefix  = "SESSION#"  // SESSION#<id hash>
	codePrefix     = "CODE#"     // CODE#<code hash>
	grantsPrefix   = "GRANTS#"   // GRANTS#<user id>: the user's grants, one item per link (sk GRANT#<client_id>)
	refreshPrefix  = "RT#"       // RT#<refresh token hash>
	jtiPrefix      = "JTI#"      // JTI#<jti>: a revoked access token

	// Partition keys of the secondary indexes.
	linksIndexPK     = "LINKS"       // gsi1: every active link, by creation
	linkGrantsPrefix = "LINKGRANTS#" // gsi1: grants of a client id (active, and revoked until their TTL), by creation
	usersIndexPK     = "USERS"       // gsi2: every user, by username key
)

// Sort keys: one item per partition, named for its kind.
const (
	skLink     = "LINK"
	skLinkID   = "LINKID"
	skIdem     = "IDEM"
	skUser     = "USER"
	skUsername = "USERNAME"
	skThrottle = "THROTTLE"
	skSession  = "SESSION"
	skCode     = "CODE"
	skRefresh  = "RT"
	skJTI      = "JTI"

	// skGrantPrefix is the sort key prefix of a grant in its user's grants
	// partition: GRANTS#<user id> / GRANT#<client_id>.
	skGrantPrefix = "GRANT#"
)

// Index names and key attributes, from the one table definition.
var (
	gsiLinks = table.GSI1 // links by creation; active grants by link
	gsiUsers = table.GSI2 // users by username key
)

// Attribute names (item payload).
const (
	aPK                     = table.PartitionKey
	aSK                     = table.SortKey
	aTTL                    = table.TTLAttribute
	aID                     = "id"
	aClientID               = "client_id"
	aName                   = "name"
	aRedirectURIs           = "redirect_uris"
	aPostLogoutRedirectURIs = "post_logout_redirect_uris"
	aScopes                 = "scopes"
	aClientType             = "client_type"
	aGrantTypes             = "grant_types"
	aIDTokenAlg             = "id_token_alg"
	aEnabled                = "enabled"
	aCreatedAt              = "created_at"
	aUpdatedAt              = "updated_at"
	aSecretHash             = "secret_hash"
	aPrevSecretHash         = "prev_secret_hash"
	aPrevSecretExpires      = "prev_secret_expires"
	aState                  = "state"
	aIdemKey                = "idem_key"
	aCreationSecretHash     = "creation_secret_hash"
	aFingerprint            = "fingerprint"
	aRotationLease          = "rotation_lease"
	aUsername               = "username"
	aUserID                 = "user_id"
	aAuthTime               = "auth_time"
	aProtocol               = "protocol_scopes"
	aNonce                  = "nonce"
	aPasswordHash           = "password_hash"
	aCredsChangedAt         = "credentials_changed_at"
	aPermissions            = "permissions"
	aDisabled               = "disabled"
	aAdmin                  = "admin"
	aEmail                  = "email"
	aEmailVerified          = "email_verified"
	aCount                  = "failures"
	aWindowEnd              = "window_end"
	aCSRF                   = "csrf"
	aExpiresAt              = "expires_at"
	aRedirectURI            = "redirect_uri"
	aChallenge              = "challenge"
	aScope                  = "scope"
	aUsed                   = "used"
	aGrantID                = "grant_id"
	aRevoked                = "revoked"
	aRevokedAt              = "revoked_at"
	aStatus                 = "status"
	aRotatedAt              = "rotated_at"
	aSuccessor              = "successor"
)

// Link states. Only an active link is visible.
const (
	statePending  = "pending"  // being created: items written, secret not yet confirmed
	stateActive   = "active"   // visible
	stateDeleting = "deleting" // being deleted: grants being revoked
)

// timeLayout is fixed-width UTC, so stored times compare as strings in
// condition expressions and sort keys.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// hashKey hashes a caller-chosen string (an idempotency key) into a short
// key-safe form.
func hashKey(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// requestToken derives a Secrets Manager ClientRequestToken (32 to 64
// characters) from s, so that a retried CreateSecret is idempotent.
func requestToken(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// maxIDBytes bounds every caller-supplied identifier the store puts into a
// key. DynamoDB refuses a partition key over 2048 bytes with a
// ValidationException, which would surface as an internal error; no
// identifier the provider issues comes near this bound, so a longer one names
// no record and is answered as not found (or, in Fetch, as absent).
const maxIDBytes = 512

// tooLong reports whether any of ids cannot name a record (see maxIDBytes).
func tooLong(ids ...string) bool {
	for _, id := range ids {
		if len(id) > maxIDBytes {
			return true
		}
	}
	return false
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{aPK: str(pk), aSK: str(sk)}
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func boolean(b bool) types.AttributeValue { return &types.AttributeValueMemberBOOL{Value: b} }

func list(ss []string) types.AttributeValue {
	l := make([]types.AttributeValue, len(ss))
	for i, s := range ss {
		l[i] = str(s)
	}
	return &types.AttributeValueMemberL{Value: l}
}

// ttl is the TTL attribute value for t: whole seconds, rounded up so an item
// is never reaped before t.
func ttl(t time.Time) types.AttributeValue {
	sec := t.Unix()
	if t.Nanosecond() > 0 {
		sec++
	}
	return num(sec)
}

// item is a read item with typed accessors; a missing or mistyped
// attribute reads as the zero value.
type item map[string]types.AttributeValue

func (it item) s(name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func (it item) n(name string) int64 {
	if v, ok := it[name].(*types.AttributeValueMemberN); ok {
		n, err := strconv.ParseInt(v.Value, 10, 64)
		if err == nil {
			return n
		}
	}
	return 0
}

func (it item) b(name string) bool {
	if v, ok := it[name].(*types.AttributeValueMemberBOOL); ok {
		return v.Value
	}
	return false
}

func (it item) t(name string) time.Time { return parseTime(it.s(name)) }

// l reads a list of strings; absent is an empty, non-nil slice.
func (it item) l(name string) []string {
	out := []string{}
	if v, ok := it[name].(*types.AttributeValueMemberL); ok {
		for _, e := range v.Value {
			if s, ok := e.(*types.AttributeValueMemberS); ok {
				out = append(out, s.Value)
			}
		}
	}
	return out
}

// expr collects the names and values of one request's expressions, so that
// every name and value sent is used (DynamoDB rejects unused ones) and every
// attribute name is escaped (no reserved-word surprises). Placeholders are
// fixed-width (#n00, :v00), so none is a prefix of another: kumo resolves
// placeholders by plain string replacement, and #revoked would otherwise
// clobber #revokedat.
type expr struct {
	names  map[string]string // placeholder -> attribute name
	byName map[string]string // attribute name -> placeholder
	values map[string]types.AttributeValue
}

func newExpr() *expr {
	return &expr{names: map[string]string{}, byName: map[string]string{}, values: map[string]types.AttributeValue{}}
}

// n returns the placeholder of attribute name.
func (e *expr) n(name string) string {
	if p, ok := e.byName[name]; ok {
		return p
	}
	p := fmt.Sprintf("#n%02d", len(e.names))
	e.names[p] = name
	e.byName[name] = p
	return p
}

// v returns a placeholder for value.
func (e *expr) v(value types.AttributeValue) string {
	p := fmt.Sprintf(":v%02d", len(e.values))
	e.values[p] = value
	return p
}

func (e *expr) Names() map[string]string {
	if len(e.names) == 0 {
		return nil
	}
	return e.names
}

func (e *expr) Values() map[string]types.AttributeValue {
	if len(e.values) == 0 {
		return nil
	}
	return e.values
}

// update builds an UpdateExpression from SET and REMOVE clauses.
type update struct {
	e      *expr
	set    []string
	remove []string
	add    []string
}

func (u *update) Set(name string, value types.AttributeValue) {
	u.set = append(u.set, u.e.n(name)+" = "+u.e.v(value))
}

func (u *update) SetRaw(clause string) { u.set = append(u.set, clause) }

func (u *update) Remove(name string) { u.remove = append(u.remove, u.e.n(name)) }

func (u *update) String() string {
	var b strings.Builder
	if len(u.set) > 0 {
		b.WriteString("SET " + strings.Join(u.set, ", "))
	}
	if len(u.add) > 0 {
		b.WriteString(" ADD " + strings.Join(u.add, ", "))
	}
	if len(u.remove) > 0 {
		b.WriteString(" REMOVE " + strings.Join(u.remove, ", "))
	}
	return strings.TrimSpace(b.String())
}

func (s *Store) tableName() *string { return aws.String(s.table) }

// updateItem is the store's one conditional UpdateItem: upd and cond are
// built with e, and the item comes back as updated (ReturnValues ALL_NEW,
// which costs no extra capacity). The error is the SDK's, unclassified.
func (s *Store) updateItem(ctx context.Context, k map[string]types.AttributeValue, upd, cond string, e *expr) (*dynamodb.UpdateItemOutput, error) {
	return s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: s.tableName(), Key: k,
		UpdateExpression:          aws.String(upd),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
		ReturnValues:              types.ReturnValueAllNew,
	})
}

// shortID is a prefix of a stored hash, enough to tell records apart in an
// error message without repeating a whole key.
func shortID(h string) string { return h[:min(len(h), 8)] }
