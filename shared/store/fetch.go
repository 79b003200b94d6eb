package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared"
)

// fetchAttempts bounds the retries of unprocessed keys in Fetch.
const fetchAttempts = 5

// Fetch reads every record named by k with one strongly consistent
// BatchGetItem (1 call; the token endpoint's read path). Keys DynamoDB
// leaves unprocessed (throttling) are retried a few times, then the result
// is ErrUnavailable. A link that is not active is absent; a code and a
// session are returned even when expired (the caller checks ExpiresAt).
func (s *Store) Fetch(ctx context.Context, k Keys) (Bundle, error) {
	return s.fetch(ctx, k)
}

func (s *Store) fetch(ctx context.Context, k Keys) (Bundle, error) {
	var keys []map[string]types.AttributeValue
	add := func(v, prefix, sk string) {
		if v != "" && !tooLong(v) {
			keys = append(keys, key(prefix+v, sk))
		}
	}
	// Up to three names of links; BatchGetItem refuses a key twice.
	var links []string
	for _, id := range []string{k.ClientID, k.TokenClientID, k.ResourceClientID} {
		if id != "" && !slices.Contains(links, id) {
			links = append(links, id)
			if !tooLong(id) {
				keys = append(keys, linkKey(id))
			}
		}
	}
	add(k.CodeHash, codePrefix, skCode)
	add(k.RefreshHash, refreshPrefix, skRefresh)
	add(k.SessionID, sessionPrefix, skSession)
	add(k.UserID, userPrefix, skUser)
	if ck := s.claimsKey(k.UserID); ck != nil {
		keys = append(keys, ck)
	}
	if k.UserID != "" && k.GrantClientID != "" && !tooLong(k.UserID, k.GrantClientID) {
		keys = append(keys, grantKey(k.UserID, k.GrantClientID))
	}
	add(k.JTI, jtiPrefix, skJTI)
	add(k.DeviceUserCode, devicePrefix, skDevice)
	resourcePK := ""
	if k.ResourceURI != "" {
		rk := resourceKey(k.ResourceURI)
		resourcePK = item(rk).s(aPK)
		keys = append(keys, rk)
	}
	var b Bundle
	if len(keys) == 0 {
		return b, nil
	}
	items, err := s.batchGet(ctx, "fetch", keys)
	if err != nil {
		return Bundle{}, err
	}
	for _, it := range items {
		switch pk := it.s(aPK); {
		case (strings.HasPrefix(pk, linkPrefix) || strings.HasPrefix(pk, metadataLinkPrefix)) && it.s(aSK) == skLink:
			l := activeLink(it)
			id := it.s(aClientID)
			if id == k.ClientID {
				b.Link = l
			}
			if id == k.TokenClientID {
				b.TokenLink = l
			}
			if id == k.ResourceClientID {
				b.ResourceLink = l
			}
		case pk == codePrefix+k.CodeHash:
			c := decodeCode(it)
			b.Code = &c
		case pk == refreshPrefix+k.RefreshHash:
			rt := decodeRefresh(it)
			b.Refresh = &rt
			if rt.Status == RefreshPending {
				// Written before its commit point (notx.go): valid only
				// once that names it.
				if b.Refresh, err = s.resolvePending(ctx, it); err != nil {
					return Bundle{}, fmt.Errorf("fetch: %w", err)
				}
			}
		case pk == sessionPrefix+k.SessionID:
			sess := decodeSession(it)
			b.Session = &sess
		case pk == grantsPrefix+k.UserID && it.s(aSK) == skGrantPrefix+k.GrantClientID:
			g := decodeGrant(it)
			b.Grant = &g
		case pk == userPrefix+k.UserID && it.s(aSK) == skUser:
			u := decodeUser(it)
			b.User = &u
		case pk == jtiPrefix+k.JTI:
			b.AccessRevoked = true
		case pk == devicePrefix+k.DeviceUserCode && it.s(aSK) == skDevice:
			d := decodeDevice(it)
			b.Device = &d
		case pk == resourcePK && it.s(aSK) == skResource && it.s(aResourceURI) == k.ResourceURI:
			b.Resource = &Resource{URI: k.ResourceURI, ClientID: it.s(aClientID)}
		}
	}
	s.applyClaims(&b, k.UserID, items)
	return b, nil
}

// batchGet reads keys (at most 100, none twice) with one strongly
// consistent BatchGetItem. Keys DynamoDB leaves unprocessed (throttling)
// are retried a few times, then the result is ErrUnavailable; op names the
// caller in errors.
func (s *Store) batchGet(ctx context.Context, op string, keys []map[string]types.AttributeValue) ([]item, error) {
	var items []item
	req := map[string]types.KeysAndAttributes{s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
	for attempt := 0; ; attempt++ {
		out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, classify(err, false))
		}
		for _, raw := range out.Responses[s.table] {
			items = append(items, item(raw))
		}
		left, ok := out.UnprocessedKeys[s.table]
		if !ok || len(left.Keys) == 0 {
			return items, nil
		}
		if attempt+1 >= fetchAttempts {
			return nil, fmt.Errorf("%s: keys left unprocessed: %w", op, shared.ErrUnavailable)
		}
		req = map[string]types.KeysAndAttributes{s.table: left}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: %w", op, classify(ctx.Err(), false))
		case <-time.After(time.Duration(10<<attempt) * time.Millisecond):
		}
	}
}
