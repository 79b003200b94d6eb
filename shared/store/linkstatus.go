package store

import (
	"cmp"
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared"
)

// ErrNotSelfRegistered is SetLinkStatus's answer for a link an
// administrator created: only a link an application registered itself
// (by a metadata document or RFC 7591) waits for a decision. It wraps
// shared.ErrConflict.
var ErrNotSelfRegistered = fmt.Errorf("the link was created by an administrator, not registered by the application: %w", shared.ErrConflict)

// LinkFilter narrows ListLinksBy: "" in a field matches every link.
type LinkFilter struct {
	Origin string // shared.OriginAdmin, OriginMetadataDocument, OriginDynamic
	Status string // shared.StatusActive, StatusPending, StatusRejected
}

// Matches reports whether l is of f's origin and status.
func (f LinkFilter) Matches(l Link) bool {
	return (f.Origin == "" || f.Origin == cmp.Or(l.Origin, shared.OriginAdmin)) &&
		(f.Status == "" || f.Status == cmp.Or(l.Status, shared.StatusActive))
}

// maxFilteredQueries bounds the Query calls of one filtered page: a
// filter that matches few links answers a shorter page (even an empty
// one) with a cursor rather than reading the whole index at once.
const maxFilteredQueries = 4

// ListLinksBy lists the links that f matches, in creation order, limit
// 1..100 (clamped). It reads the links index with a FilterExpression:
// DynamoDB counts the links it evaluates, not those it returns, against
// a Query's Limit, so a page may hold fewer than limit links, or none,
// and still have a next cursor; the listing is complete once next is "".
// Each page reads at most maxFilteredQueries×(limit+1) links. A zero
// filter is ListLinks.
func (s *Store) ListLinksBy(ctx context.Context, f LinkFilter, limit int, cursor string) ([]Link, string, error) {
	if f == (LinkFilter{}) {
		return s.ListLinks(ctx, limit, cursor)
	}
	limit = clampLimit(limit)
	g := gsiLinks
	e := newExpr()
	var conds []string
	match := func(attr, value, absent string) {
		c := e.n(attr) + " = " + e.v(str(value))
		if value == absent {
			// A link stored without the attribute has the default.
			c = "(attribute_not_exists(" + e.n(attr) + ") OR " + c + ")"
		}
		conds = append(conds, c)
	}
	if f.Origin != "" {
		match(aOrigin, f.Origin, shared.OriginAdmin)
	}
	if f.Status != "" {
		match(aRegStatus, f.Status, shared.StatusActive)
	}
	filter := conds[0]
	for _, c := range conds[1:] {
		filter += " AND " + c
	}
	keyCond := e.n(g.PartitionKey) + " = " + e.v(str(linksIndexPK))
	in := &dynamodb.QueryInput{
		TableName:                 s.tableName(),
		IndexName:                 aws.String(g.Name),
		KeyConditionExpression:    aws.String(keyCond),
		FilterExpression:          aws.String(filter),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
		ScanIndexForward:          aws.Bool(true),
		Limit:                     aws.Int32(int32(limit + 1)),
	}
	if cursor != "" {
		c, err := decodeCursor(cursor)
		if err != nil || c.GSIPK != linksIndexPK {
			return nil, "", fmt.Errorf("list links: %w", ErrInvalidCursor)
		}
		in.ExclusiveStartKey = map[string]types.AttributeValue{
			aPK: str(c.PK), aSK: str(c.SK), g.PartitionKey: str(c.GSIPK), g.SortKey: str(c.GSISK),
		}
	}
	var items []item
	var last map[string]types.AttributeValue
	for range maxFilteredQueries {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, "", fmt.Errorf("list links: %w", classify(err, false))
		}
		for _, it := range out.Items {
			items = append(items, it)
		}
		last = out.LastEvaluatedKey
		if len(items) > limit || last == nil {
			break
		}
		in.ExclusiveStartKey = last
	}
	next := ""
	switch {
	case len(items) > limit:
		items = items[:limit]
		it := items[limit-1]
		next = encodeCursor(cursorKey{PK: it.s(aPK), SK: it.s(aSK), GSIPK: it.s(g.PartitionKey), GSISK: it.s(g.SortKey)})
	case last != nil:
		it := item(last)
		next = encodeCursor(cursorKey{PK: it.s(aPK), SK: it.s(aSK), GSIPK: it.s(g.PartitionKey), GSISK: it.s(g.SortKey)})
	}
	links := make([]Link, 0, len(items))
	for _, it := range items {
		if l := activeLink(it); l != nil {
			links = append(links, *l)
		}
	}
	return links, next, nil
}
