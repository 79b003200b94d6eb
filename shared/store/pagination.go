package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared/store/table"
)

// ErrInvalidCursor is returned (wrapped) for a cursor the store did not
// issue. Handlers answer it with 400.
var ErrInvalidCursor = errors.New("invalid cursor")

func clampLimit(limit int) int {
	return min(max(limit, 1), 100)
}

// cursorKey is the position a cursor encodes: the table and index keys of
// the last item of a page.
type cursorKey struct {
	PK    string `json:"pk"`
	SK    string `json:"sk"`
	GSIPK string `json:"ipk"`
	GSISK string `json:"isk"`
}

// queryPage reads up to limit items of partition pk of index g, after
// cursor. It asks for one item more than limit to know whether a next page
// exists, so the last page never has a cursor.
func (s *Store) queryPage(ctx context.Context, g table.Index, pk string, forward bool, limit int, cursor string) ([]item, string, error) {
	limit = clampLimit(limit)
	e := newExpr()
	in := &dynamodb.QueryInput{
		TableName:                 s.tableName(),
		IndexName:                 aws.String(g.Name),
		KeyConditionExpression:    aws.String(e.n(g.PartitionKey) + " = " + e.v(str(pk))),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
		ScanIndexForward:          aws.Bool(forward),
		Limit:                     aws.Int32(int32(limit + 1)),
	}
	if cursor != "" {
		c, err := decodeCursor(cursor)
		if err != nil || c.GSIPK != pk {
			return nil, "", ErrInvalidCursor
		}
		in.ExclusiveStartKey = map[string]types.AttributeValue{
			aPK: str(c.PK), aSK: str(c.SK), g.PartitionKey: str(c.GSIPK), g.SortKey: str(c.GSISK),
		}
	}
	var items []item
	for len(items) <= limit {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, "", classify(err, false)
		}
		for _, it := range out.Items {
			items = append(items, it)
		}
		if out.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	if len(items) <= limit {
		return items, "", nil
	}
	items = items[:limit]
	last := items[limit-1]
	next := encodeCursor(cursorKey{PK: last.s(aPK), SK: last.s(aSK), GSIPK: last.s(g.PartitionKey), GSISK: last.s(g.SortKey)})
	return items, next, nil
}

func encodeCursor(c cursorKey) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursorKey, error) {
	var c cursorKey
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, err
	}
	if c.PK == "" || c.SK == "" || c.GSIPK == "" || c.GSISK == "" {
		return c, errors.New("incomplete cursor")
	}
	return c, nil
}
