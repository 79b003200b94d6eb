// Package table is the one definition of the provider's DynamoDB table: key
// schema, secondary indexes and TTL attribute. The store creates test tables
// from it and the CDK stack (infra/) declares the real table from it, so the
// two cannot drift. It imports nothing.
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

// GSIs are the table's global secondary indexes. TODO(store): finalise and
// document the access pattern each one serves.
var GSIs = []Index{
	{Name: "gsi1", PartitionKey: "gsi1pk", SortKey: "gsi1sk"},
	{Name: "gsi2", PartitionKey: "gsi2pk", SortKey: "gsi2sk"},
}
