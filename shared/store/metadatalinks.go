package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared"
)

// Links of Client ID Metadata Documents (draft-ietf-oauth-client-id-
// metadata-document): the authorize function records them itself, under a
// key prefix of their own, so that its write policy never reaches a link
// an administrator created (LINK#, the admin function's alone).
//
//	pk CIMD#<sha256(client_id URL), base64url>, sk LINK
//
// The item has every attribute of a link (id "m.<the same hash>", client
// type public, origin metadata_document) plus the cache of its document
// (fetched_at, cache_until); its gsi1 keys list it with the other links
// (LINKS), and a pending one carries gsi2pk PENDINGLINKS (gsi2sk its
// creation key), removed when it is no longer pending. GetLink, GetLinkByClientID, ListLinks,
// Fetch, UpdateLink, DeleteLink and SetLinkStatus find it by its id or by
// its URL.
const (
	metadataLinkPrefix = "CIMD#"
	// MetadataLinkIDPrefix begins the id of every metadata-document link;
	// no other link id has a dot.
	MetadataLinkIDPrefix = "m."

	// pendingLinksPK is the gsi2 partition of every pending link.
	pendingLinksPK = "PENDINGLINKS"

	aFetchedAt  = "fetched_at"
	aCacheUntil = "cache_until"
)

// isMetadataClientID reports whether clientID is written as an http(s)
// URL: the client id of a metadata-document link (clientmeta.IsURL).
func isMetadataClientID(clientID string) bool {
	return strings.HasPrefix(clientID, "https://") || strings.HasPrefix(clientID, "http://")
}

// linkKey is the key of the link item of clientID.
func linkKey(clientID string) map[string]types.AttributeValue {
	return key(linkPK(clientID), skLink)
}

// linkPK is the partition key of the link item of clientID.
func linkPK(clientID string) string {
	if isMetadataClientID(clientID) {
		return metadataLinkPrefix + hashKey(clientID)
	}
	return linkPrefix + clientID
}

// MetadataLinkID is the id of the metadata-document link of clientID.
func MetadataLinkID(clientID string) string { return MetadataLinkIDPrefix + hashKey(clientID) }

// MetadataCache is what a metadata-document link keeps of its document's
// fetch: when it was fetched and until when it may be used without
// fetching it again.
type MetadataCache struct {
	FetchedAt  time.Time
	CacheUntil time.Time
}

// NewMetadataLink is the input of CreateMetadataLink: the document's
// fields, the policy's ceiling and the status it starts with
// (shared.StatusActive or shared.StatusPending).
type NewMetadataLink struct {
	ClientID     string
	Name         string
	RedirectURIs []string
	Scopes       []string
	Status       string
	Cache        MetadataCache
}

// CreateMetadataLink records the link of a metadata document at its first
// use: a public, enabled link of origin metadata_document, listed with the
// other links. One conditional PutItem: when the link exists already
// (another request recorded it first) the answer wraps shared.ErrConflict.
func (s *Store) CreateMetadataLink(ctx context.Context, in NewMetadataLink, now time.Time) (Link, error) {
	if !isMetadataClientID(in.ClientID) || tooLong(in.ClientID) {
		return Link{}, fmt.Errorf("create metadata link: %q is not a metadata document URL", in.ClientID)
	}
	if in.Status != shared.StatusActive && in.Status != shared.StatusPending {
		return Link{}, fmt.Errorf("create metadata link: status %q", in.Status)
	}
	id := MetadataLinkID(in.ClientID)
	l := Link{
		ID: id, ClientID: in.ClientID, Name: in.Name,
		RedirectURIs: nonNil(in.RedirectURIs), PostLogoutRedirectURIs: []string{}, Scopes: nonNil(in.Scopes),
		ClientType: Public, GrantTypes: shared.DefaultGrantTypes(), ResourceURIs: []string{},
		IDTokenSignedResponseAlg: DefaultIDTokenAlg, Enabled: true, CreatedAt: now, UpdatedAt: now,
		Origin: shared.OriginMetadataDocument, Status: in.Status, Metadata: &MetadataCache{FetchedAt: in.Cache.FetchedAt, CacheUntil: in.Cache.CacheUntil},
	}
	it := linkKey(in.ClientID)
	for k, v := range map[string]types.AttributeValue{
		aID: str(l.ID), aClientID: str(l.ClientID), aName: str(l.Name),
		aRedirectURIs: list(l.RedirectURIs), aPostLogoutRedirectURIs: list(l.PostLogoutRedirectURIs), aScopes: list(l.Scopes),
		aClientType: str(l.ClientType), aGrantTypes: list(l.GrantTypes), aEnabled: boolean(true),
		aIDTokenAlg: str(l.IDTokenSignedResponseAlg),
		aCreatedAt:  str(fmtTime(now)), aUpdatedAt: str(fmtTime(now)),
		aOrigin: str(l.Origin), aRegStatus: str(l.Status), aState: str(stateActive),
		aFetchedAt: str(fmtTime(in.Cache.FetchedAt)), aCacheUntil: str(fmtTime(in.Cache.CacheUntil)),
		gsiLinks.PartitionKey: str(linksIndexPK), gsiLinks.SortKey: str(creationKey(now, id)),
	} {
		it[k] = v
	}
	if l.Status == shared.StatusPending {
		it[gsiUsers.PartitionKey], it[gsiUsers.SortKey] = str(pendingLinksPK), str(creationKey(now, id))
	}
	e := newExpr()
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: s.tableName(), Item: it,
		ConditionExpression:      aws.String("attribute_not_exists(" + e.n(aPK) + ")"),
		ExpressionAttributeNames: e.Names(),
	})
	if err != nil {
		return Link{}, fmt.Errorf("create metadata link %q: %w", in.ClientID, classify(err, false))
	}
	return l, nil
}

// MetadataRefresh is a metadata document fetched again: its fields, its
// new cache, and whether the link goes back to pending (its name or
// redirect URIs changed and the policy wants approval).
type MetadataRefresh struct {
	Name          string
	RedirectURIs  []string
	Cache         MetadataCache
	BackToPending bool
}

// RefreshMetadataLink records a document fetched again (the link's name and
// redirect URIs become the document's) and, with BackToPending, puts an
// active link back to pending. One conditional UpdateItem (ErrNotFound
// when the link is gone or being deleted).
func (s *Store) RefreshMetadataLink(ctx context.Context, clientID string, r MetadataRefresh, now time.Time) (Link, error) {
	if !isMetadataClientID(clientID) || tooLong(clientID) {
		return Link{}, fmt.Errorf("refresh metadata link %q: %w", clientID, shared.ErrNotFound)
	}
	e := newExpr()
	u := update{e: e}
	u.Set(aName, str(r.Name))
	u.Set(aRedirectURIs, list(nonNil(r.RedirectURIs)))
	u.Set(aFetchedAt, str(fmtTime(r.Cache.FetchedAt)))
	u.Set(aCacheUntil, str(fmtTime(r.Cache.CacheUntil)))
	u.Set(aUpdatedAt, str(fmtTime(now)))
	cond := e.n(aState) + " = " + e.v(str(stateActive))
	if r.BackToPending {
		// Only an active link goes back: a rejected one stays rejected,
		// a pending one stays pending (its keys are set).
		it, err := s.getLinkItem(ctx, clientID)
		if err != nil {
			return Link{}, fmt.Errorf("refresh metadata link %q: %w", clientID, err)
		}
		if it != nil && decodeLink(it).Status == shared.StatusActive {
			u.Set(aRegStatus, str(shared.StatusPending))
			u.Set(gsiUsers.PartitionKey, str(pendingLinksPK))
			u.Set(gsiUsers.SortKey, str(creationKey(it.t(aCreatedAt), it.s(aID))))
			cond += " AND " + e.n(aRegStatus) + " = " + e.v(str(shared.StatusActive))
		}
	}
	out, err := s.updateItem(ctx, linkKey(clientID), u.String(), cond, e)
	if err != nil {
		return Link{}, fmt.Errorf("refresh metadata link %q: %w", clientID, notFoundOnConflict(classify(err, false)))
	}
	return decodeLink(out.Attributes), nil
}

// SetLinkStatus sets the administrator's decision on a self-registered
// link (origin metadata_document or dynamic): shared.StatusActive
// (approve), StatusRejected (reject) or StatusPending. A pending link is
// counted among the pending (gsi2 PENDINGLINKS) and leaves them with any
// other status. ErrNotFound for an unknown id; a link an administrator
// created has no such decision (ErrNotSelfRegistered, a shared.ErrConflict).
func (s *Store) SetLinkStatus(ctx context.Context, id, status string, now time.Time) (Link, error) {
	switch status {
	case shared.StatusActive, shared.StatusPending, shared.StatusRejected:
	default:
		return Link{}, fmt.Errorf("set link status %q: unknown status %q", id, status)
	}
	clientID, err := s.clientIDOf(ctx, id)
	if err != nil {
		return Link{}, fmt.Errorf("set link status %q: %w", id, err)
	}
	it, err := s.getLinkItem(ctx, clientID)
	if err != nil {
		return Link{}, fmt.Errorf("set link status %q: %w", id, err)
	}
	if it == nil || it.s(aState) != stateActive {
		return Link{}, fmt.Errorf("set link status %q: %w", id, shared.ErrNotFound)
	}
	if origin, _ := decodeOrigin(it); origin == shared.OriginAdmin {
		return Link{}, fmt.Errorf("set link status %q: %w", id, ErrNotSelfRegistered)
	}
	e := newExpr()
	u := update{e: e}
	u.Set(aRegStatus, str(status))
	u.Set(aUpdatedAt, str(fmtTime(now)))
	if status == shared.StatusPending {
		u.Set(gsiUsers.PartitionKey, str(pendingLinksPK))
		u.Set(gsiUsers.SortKey, str(creationKey(it.t(aCreatedAt), it.s(aID))))
	} else {
		u.Remove(gsiUsers.PartitionKey)
		u.Remove(gsiUsers.SortKey)
	}
	cond := e.n(aState) + " = " + e.v(str(stateActive)) + " AND attribute_exists(" + e.n(aOrigin) + ")"
	out, err := s.updateItem(ctx, linkKey(clientID), u.String(), cond, e)
	if err != nil {
		return Link{}, fmt.Errorf("set link status %q: %w", id, notFoundOnConflict(classify(err, false)))
	}
	return decodeLink(out.Attributes), nil
}

// CountPendingLinks counts the pending links of either origin (a Query
// of gsi2 PENDINGLINKS with Select COUNT, page by page).
func (s *Store) CountPendingLinks(ctx context.Context) (int, error) {
	e := newExpr()
	in := &dynamodb.QueryInput{
		TableName:                 s.tableName(),
		IndexName:                 aws.String(gsiUsers.Name),
		KeyConditionExpression:    aws.String(e.n(gsiUsers.PartitionKey) + " = " + e.v(str(pendingLinksPK))),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
		Select:                    types.SelectCount,
	}
	n := 0
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return 0, fmt.Errorf("count pending links: %w", classify(err, false))
		}
		n += int(out.Count)
		if out.LastEvaluatedKey == nil {
			return n, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// metadataClientIDOf resolves the id of a metadata-document link ("m."
// and its hash) to its URL by reading the link item.
func (s *Store) metadataClientIDOf(ctx context.Context, id string) (string, error) {
	hash := strings.TrimPrefix(id, MetadataLinkIDPrefix)
	if hash == "" || tooLong(hash) {
		return "", shared.ErrNotFound
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.tableName(), Key: key(metadataLinkPrefix+hash, skLink), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return "", classify(err, false)
	}
	it := item(out.Item)
	if out.Item == nil || it.s(aID) != id {
		return "", shared.ErrNotFound
	}
	return it.s(aClientID), nil
}

// decodeMetadataCache reads the cache of a metadata-document link (nil
// for any other link).
func decodeMetadataCache(it item) *MetadataCache {
	if !strings.HasPrefix(it.s(aPK), metadataLinkPrefix) {
		return nil
	}
	return &MetadataCache{FetchedAt: it.t(aFetchedAt), CacheUntil: it.t(aCacheUntil)}
}
