package perf

import (
	"math"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared/store/table"
)

// AWS's published capacity rules for on-demand tables, applied to one call
// (Amazon DynamoDB Developer Guide, "Read/write capacity mode" and
// "Transactions: capacity management"):
//
//   - a read costs 1 read request unit per 4 KB item size (rounded up),
//     half that when eventually consistent; a missing item still costs the
//     minimum; a Query is charged on the total size it read, at least one
//     unit;
//   - a write costs 1 write request unit per 1 KB item size (rounded up),
//     plus the same again for every global secondary index the item
//     appears in (every index here projects all attributes);
//   - transactional writes cost twice that; a ConditionCheck is counted as
//     a transactional write of one unit (conservative).
//
//   - an update costs by the larger of the item's sizes before and after
//     it (the Developer Guide: "UpdateItem ... consumes write capacity
//     units based on the larger of the item sizes before and after the
//     update"), plus the same for each index the item is in before or
//     after (with every attribute projected, any change rewrites the
//     index entry; a change of the index key, which deletes one entry and
//     writes another, is counted once: a lower bound there, and no
//     measured request changes an index key).
//
// The wrapper reads an updated item before and after the update (reads it
// does not count) to know both sizes; when it cannot, the update is counted
// at 1 KB and charged for an index only when the update names the index's
// key attribute. These are the rules the cost model prices, next to what
// DynamoDB Local reports.

const (
	readUnitBytes  = 4 << 10
	writeUnitBytes = 1 << 10
)

// itemSize is the DynamoDB size of an item: each attribute's name plus its
// value's size.
func itemSize(item map[string]types.AttributeValue) int {
	n := 0
	for k, v := range item {
		n += len(k) + valueSize(v)
	}
	return n
}

// valueSize follows the Developer Guide's "Item sizes and formats".
func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return (len(strings.TrimLeft(v.Value, "-0"))+1)/2 + 1
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberNS:
		n := 0
		for _, s := range v.Value {
			n += (len(s)+1)/2 + 1
		}
		return n
	case *types.AttributeValueMemberBS:
		n := 0
		for _, b := range v.Value {
			n += len(b)
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for k, e := range v.Value {
			n += 1 + len(k) + valueSize(e)
		}
		return n
	}
	return 0
}

// units rounds size up to whole units of unit bytes, at least one.
func units(size, unit int) float64 {
	return math.Max(1, math.Ceil(float64(size)/float64(unit)))
}

// readFactor is 1 for a strongly consistent read, 0.5 otherwise.
func readFactor(consistent *bool) float64 {
	if consistent != nil && *consistent {
		return 1
	}
	return 0.5
}

func getItemUnits(in *dynamodb.GetItemInput, out *dynamodb.GetItemOutput) float64 {
	return units(itemSize(out.Item), readUnitBytes) * readFactor(in.ConsistentRead)
}

func batchGetUnits(in *dynamodb.BatchGetItemInput, out *dynamodb.BatchGetItemOutput) float64 {
	total := 0.0
	for name, ka := range in.RequestItems {
		found := out.Responses[name]
		for i := range ka.Keys {
			size := 0
			if i < len(found) {
				size = itemSize(found[i]) // the order differs, but every item is under 4 KB here
			}
			total += units(size, readUnitBytes) * readFactor(ka.ConsistentRead)
		}
	}
	return total
}

func queryUnits(in *dynamodb.QueryInput, out *dynamodb.QueryOutput) float64 {
	size := 0
	for _, it := range out.Items {
		size += itemSize(it)
	}
	consistent := in.ConsistentRead
	if in.IndexName != nil {
		consistent = nil // a GSI is read eventually consistent
	}
	return units(size, readUnitBytes) * readFactor(consistent)
}

// putUnits is a put of item, times factor (2 in a transaction), with its
// index entries.
func putUnits(item map[string]types.AttributeValue, factor float64) float64 {
	u := units(itemSize(item), writeUnitBytes)
	total := u
	for _, g := range table.GSIs {
		if _, ok := item[g.PartitionKey]; ok {
			total += u
		}
	}
	return total * factor
}

// updateSizedUnits is an update of an item whose sizes before and after
// are known (nil: absent), with each index the item is in before or after,
// times factor.
func updateSizedUnits(before, after map[string]types.AttributeValue, factor float64) float64 {
	u := units(max(itemSize(before), itemSize(after)), writeUnitBytes)
	total := u
	for _, g := range table.GSIs {
		_, inBefore := before[g.PartitionKey]
		_, inAfter := after[g.PartitionKey]
		if inBefore || inAfter {
			total += u
		}
	}
	return total * factor
}

// updateUnits is an update counted at 1 KB, plus each index whose key
// attribute the expression names, times factor (when the item's sizes are
// not known).
func updateUnits(expr *string, names map[string]string, factor float64) float64 {
	total := 1.0
	for _, g := range table.GSIs {
		named := expr != nil && strings.Contains(*expr, g.PartitionKey)
		for _, v := range names {
			named = named || v == g.PartitionKey
		}
		if named {
			total++
		}
	}
	return total * factor
}

// hasSizes reports whether sized holds the sizes of the i-th item.
func hasSizes(sized map[int][2]map[string]types.AttributeValue, i int) bool {
	_, ok := sized[i]
	return ok
}

// transactWriteUnits are the units of a transaction; sized[i], when
// present, holds the sizes of the item its i-th Update wrote.
func transactWriteUnits(in *dynamodb.TransactWriteItemsInput, sized map[int][2]map[string]types.AttributeValue) float64 {
	total := 0.0
	for i, it := range in.TransactItems {
		switch {
		case it.Put != nil:
			total += putUnits(it.Put.Item, 2)
		case it.Update != nil && hasSizes(sized, i):
			total += updateSizedUnits(sized[i][0], sized[i][1], 2)
		case it.Update != nil:
			total += updateUnits(it.Update.UpdateExpression, it.Update.ExpressionAttributeNames, 2)
		case it.Delete != nil, it.ConditionCheck != nil:
			total += 2
		}
	}
	return total
}
