// Package table is the one definition of the provider's DynamoDB table: key
// schema, secondary indexes and TTL attribute. The store creates test tables
// from it and the CDK stack (infra/) declares the real table from it, so the
// two cannot drift. It imports nothing.
//
// The table is on-demand (PAY_PER_REQUEST); every key attribute is a string
// and every index projects all attributes. shared/store/README.md documents
// the items and the access patterns.
package table

// Key attributes (all of type string) and the TTL attribute (a number,
// seconds since the epoch).
const (
	PartitionKey = "pk"
	SortKey      = "sk"
	TTLAttribute = "ttl"
)

// Index is a global secondary index; its keys are strings and it projects
// all attributes.
type Index struct {
	Name         string
	PartitionKey string
	SortKey      string
}

// The secondary indexes. Both are sparse: only the items that set an
// index's partition-key attribute appear in it.
var (
	// GSI1 lists children of a parent in creation order:
	// gsi1pk "LINKS" holds every active link (the admin listing, with a
	// cursor), and gsi1pk "LINKGRANTS#<client_id>" holds the grants of a
	// link (the admin grants page, and revocation when the link is
	// deleted). gsi1sk is "<created_at>#<id>" (fixed-width UTC time).
	GSI1 = Index{Name: "gsi1", PartitionKey: "gsi1pk", SortKey: "gsi1sk"}
	// GSI2 lists the grants of a user: gsi2pk "USERGRANTS#<username>",
	// gsi2sk "<created_at>#<grant id>" (the account page, and revocation
	// when the user is deleted); gsi2pk "PENDINGLINKS" holds every link
	// waiting for an administrator's approval (gsi2sk its creation key),
	// so that their total can be counted.
	GSI2 = Index{Name: "gsi2", PartitionKey: "gsi2pk", SortKey: "gsi2sk"}
)

// GSIs are the table's global secondary indexes.
var GSIs = []Index{GSI1, GSI2}

// AttributeNames are the names of every key attribute of the table and its
// indexes (the AttributeDefinitions of a CreateTable), each of type string.
func AttributeNames() []string {
	names := []string{PartitionKey, SortKey}
	for _, g := range GSIs {
		names = append(names, g.PartitionKey, g.SortKey)
	}
	return names
}

// WritePrefixes are, for each function that may not write every item, the
// partition-key prefixes of the items it writes (PutItem, UpdateItem,
// DeleteItem, alone or in a transaction). The CDK stack restricts each
// function's writes to them with the dynamodb:LeadingKeys condition, so
// that a compromised token or authorize function cannot create a link,
// change a user the admin function created, make anyone an administrator,
// or open the console (its sessions and upstream sign-ins are CONSOLE#
// items, the identity providers IDPS); the functions' tests run their
// handlers on a store that refuses any other write (storetest.LeadingKeys).
// The admin function writes every kind of item and is not restricted.
var WritePrefixes = map[string][]string{
	// Sessions, sign-in throttles, codes, and the user's grants (approval
	// on the consent page, revocation on the account page); the user's
	// decision on a device authorization (RFC 8628). For upstream
	// sign-in: its flows (UPFLOW#), the pointers from upstream identities
	// (UPSTREAM#) and from usernames (USERNAME#) to users, the users it
	// creates, whose ids begin with "u." (USER#u.: never a user the admin
	// function created, whose ids are base64url, and never an
	// administrator, see store.SignInUserPrefix), and the permissions
	// mapped from claims (CLAIMS#). IAM cannot look at attributes here:
	// that such a user is written without a password or the
	// administrator flag, and that a pointer is written only when new, is
	// the code's doing (shared/store/README.md, SECURITY.md).
	// The time of the latest consent to a link that registered itself
	// (CONSENTED#<client_id>, written in the consent's transaction), which
	// the idle clean-up checks (shared/store/idle.go). The links of
	// Client ID Metadata Documents, recorded at their first use and
	// refreshed when their cache expires, are CIMD# items of their own:
	// never a LINK# item, which only the admin function writes.
	"authorize": {"SESSION#", "THROTTLE#", "CODE#", "GRANTS#", "DEVICE#",
		"UPFLOW#", "UPSTREAM#", "USERNAME#", "USER#u.", "CLAIMS#", "CONSENTED#", "CIMD#"},
	// Code redemption, refresh tokens, revoked access-token ids, and
	// grants (revoked on a replayed code, a reused refresh token or an
	// RFC 7009 revocation); device authorizations (RFC 8628: created,
	// polled, redeemed).
	// The last use of links and grants (LASTUSE#: items of their own, so
	// the token function never writes a link item; at most once an hour
	// each, shared/store/lastuse.go).
	"token": {"CODE#", "RT#", "JTI#", "GRANTS#", "DEVICE#", "LASTUSE#"},
}
