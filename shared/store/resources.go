package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared"
)

// Resource indicators (RFC 8707): a resource_server link may register
// resource URIs, each the audience of the access tokens a client asks for
// with that resource. A URI belongs to one link at most. The link item
// lists its URIs (resource_uris), and each URI has a pointer item,
// RESOURCE#<sha256(uri)> / RESOURCE, naming the link's client id: the
// pointer's "new" condition is what keeps a URI unique under concurrent
// writes, and an authorization request finds the link of a URI through
// it. Pointers are written and deleted only in the transactions that
// change the link's list (its activation, an update of its URIs, the last
// step of its deletion), so a pointer exists exactly while an active (or
// deleting) link lists its URI: a pending link has none, and a failed or
// abandoned creation leaves none behind.
const (
	resourcePrefix = "RESOURCE#"
	skResource     = "RESOURCE"
)

// Attributes of resource indicators: the link's list, the pointer's URI,
// and on codes, refresh tokens and device authorizations the resource the
// request named with the client id of the link that served it.
const (
	aResourceURIs     = "resource_uris"
	aResourceURI      = "resource_uri"
	aResourceClientID = "resource_client_id"
	// aResourcesRev counts the changes of a link's resource URIs (absent:
	// none yet), so that an update of them is conditioned on the list it
	// read (kumo cannot compare lists in a condition).
	aResourcesRev = "resources_rev"
)

// Resource is a registered resource URI and the client id of the
// resource_server link it belongs to (Fetch with Keys.ResourceURI).
type Resource struct {
	URI      string
	ClientID string
}

// ResourceTakenError is the answer of CreateLink and UpdateLink when a
// resource URI is registered by another link. It wraps shared.ErrConflict
// and names the URI.
type ResourceTakenError struct {
	URI string
}

func (e *ResourceTakenError) Error() string {
	return fmt.Sprintf("resource URI %q is registered by another link", e.URI)
}

// Unwrap makes the error a shared.ErrConflict.
func (e *ResourceTakenError) Unwrap() error { return shared.ErrConflict }

// ServesResource reports whether l is an enabled resource_server link that
// registered uri (byte for byte): a resource an access token may be
// issued for.
func (l *Link) ServesResource(uri string) bool {
	return l != nil && l.Usable() && l.ClientType == ResourceServer && uri != "" && slices.Contains(l.ResourceURIs, uri)
}

func resourceKey(uri string) map[string]types.AttributeValue {
	return key(resourcePrefix+hashKey(uri), skResource)
}

// putResource is the transaction item that registers uri for clientID
// (condition: no link has it).
func (s *Store) putResource(uri, clientID string) types.TransactWriteItem {
	it := resourceKey(uri)
	it[aResourceURI] = str(uri)
	it[aClientID] = str(clientID)
	return s.putNew(it)
}

// deleteResource is the transaction item that releases uri of clientID.
// Its condition (absent, or still naming clientID) never fails while the
// invariant holds; it keeps a release from ever taking another link's URI.
func (s *Store) deleteResource(uri, clientID string) types.TransactWriteItem {
	e := newExpr()
	return types.TransactWriteItem{Delete: &types.Delete{
		TableName: s.tableName(), Key: resourceKey(uri),
		ConditionExpression:       aws.String("attribute_not_exists(" + e.n(aPK) + ") OR " + e.n(aClientID) + " = " + e.v(str(clientID))),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	}}
}

// resourcesTaken reads the pointers of uris and returns a
// *ResourceTakenError for the first one another link than clientID holds,
// nil when none is. One strongly consistent GetItem per URI (at most
// shared.MaxResourceURIs, on the admin function's path only, whose IAM
// policy needs no BatchGetItem for it).
func (s *Store) resourcesTaken(ctx context.Context, uris []string, clientID string, now time.Time) error {
	for _, u := range uris {
		out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: s.tableName(), Key: resourceKey(u), ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return fmt.Errorf("read resource URI: %w", classify(err, false))
		}
		if it := item(out.Item); out.Item != nil && it.s(aClientID) != clientID {
			if s.notx {
				// A pointer counts only when its link confirms it, or
				// while a writer may be between the two (notx.go).
				taken, err := s.pointerTaken(ctx, it, s.resourceHeld, now)
				if err != nil {
					return fmt.Errorf("read resource URI: %w", err)
				}
				if !taken {
					continue
				}
			}
			return &ResourceTakenError{URI: u}
		}
	}
	return nil
}

// explainConflict turns a link transaction's failed condition into a
// *ResourceTakenError when one of uris is (now) another link's; otherwise
// it returns err.
func (s *Store) explainConflict(ctx context.Context, err error, uris []string, clientID string, now time.Time) error {
	if !errors.Is(err, shared.ErrConflict) || len(uris) == 0 {
		return err
	}
	if terr := s.resourcesTaken(ctx, uris, clientID, now); terr != nil {
		var taken *ResourceTakenError
		if errors.As(terr, &taken) {
			return fmt.Errorf("%w (%w)", taken, err)
		}
	}
	return err
}

// minus returns the members of a that b lacks, in a's order.
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// updateResourceURIs applies u to the link of clientID when u changes its
// resource URIs: one transaction updates the link (condition: active, and
// its list still the one read: the count of its changes, resources_rev, is
// the one read), registers the added URIs (condition: no
// link has them) and releases the removed ones. ErrNotFound for a link
// that is gone; a *ResourceTakenError when an added URI is another link's;
// ErrConflict when the link's list changed meanwhile (the caller may try
// again).
func (s *Store) updateResourceURIs(ctx context.Context, clientID string, u LinkUpdate, now time.Time) (Link, error) {
	it, err := s.getLinkItem(ctx, clientID)
	if err != nil {
		return Link{}, err
	}
	if it == nil || it.s(aState) != stateActive {
		return Link{}, shared.ErrNotFound
	}
	old := it.l(aResourceURIs)
	added, removed := minus(*u.ResourceURIs, old), minus(old, *u.ResourceURIs)
	if err := s.resourcesTaken(ctx, added, clientID, now); err != nil {
		return Link{}, err
	}
	e := newExpr()
	up := linkUpdateExpr(e, u, now)
	rev := it.n(aResourcesRev)
	up.Set(aResourcesRev, num(rev+1))
	cond := e.n(aState) + " = " + e.v(str(stateActive)) + " AND "
	if rev == 0 {
		cond += "attribute_not_exists(" + e.n(aResourcesRev) + ")"
	} else {
		cond += e.n(aResourcesRev) + " = " + e.v(num(rev))
	}
	decide := types.TransactWriteItem{Update: &types.Update{
		TableName: s.tableName(), Key: key(linkPrefix+clientID, skLink),
		UpdateExpression:          aws.String(up.String()),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	}}
	if s.notx {
		// Added pointers first, then the link's update (the commit
		// point), then the removed pointers released (notx.go).
		err = s.withResources(ctx, clientID, added, removed, decide, now)
	} else {
		items := []types.TransactWriteItem{decide}
		for _, r := range added {
			items = append(items, s.putResource(r, clientID))
		}
		for _, r := range removed {
			items = append(items, s.deleteResource(r, clientID))
		}
		err = s.transact(ctx, items)
	}
	if err != nil {
		if errors.Is(err, ErrTransactionConflict) {
			return Link{}, fmt.Errorf("%w: %w", shared.ErrUnavailable, err)
		}
		return Link{}, s.explainConflict(ctx, err, added, clientID, now)
	}
	after, err := s.getLinkItem(ctx, clientID)
	if err != nil {
		return Link{}, err
	}
	if l := activeLink(after); l != nil {
		return *l, nil
	}
	return Link{}, shared.ErrNotFound // deleted right after the update
}

// setResource records a resource indicator (RFC 8707) and its resource
// server on the item of a code, refresh token or device authorization;
// without one the item is as it was before resource indicators.
func setResource(it map[string]types.AttributeValue, resource, clientID string) {
	if resource != "" {
		it[aResourceURI] = str(resource)
		it[aResourceClientID] = str(clientID)
	}
}
