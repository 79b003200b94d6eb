package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/applinks/applinks/shared"
)

// pendingTTL bounds how long an unfinished link creation (and an
// idempotency record) is kept: a retry with the same key within it resumes
// or repeats the creation.
const pendingTTL = 24 * time.Hour

// rotationLease bounds how long a crashed secret rotation blocks the next.
const rotationLease = 30 * time.Second

// SecretRotatedError is CreateLink's answer to a retry (same idempotency
// key and scope, same request) whose link no longer has, as its current
// secret, the secret the creation returned: it was rotated since, perhaps
// because that secret leaked. The retry cannot give the creation's answer
// again and must not give the new secret (only "View credentials" shows
// that), so it gets this error, which wraps shared.ErrConflict and names
// the link.
type SecretRotatedError struct {
	Link Link // the link the key created, as it is now
}

func (e *SecretRotatedError) Error() string {
	return fmt.Sprintf("create link %q: the secret this idempotency key's creation returned was rotated since", e.Link.ClientID)
}

// Unwrap makes the error a shared.ErrConflict.
func (e *SecretRotatedError) Unwrap() error { return shared.ErrConflict }

// idemKey is the stored form of a creation's idempotency key: the hash of
// its scope and the key, so that a key replays only the creations of the
// principal that sent it. The scope's length comes first, so that no two
// (scope, key) pairs share a form ("x" with "yz" is not "xy" with "z").
func idemKey(in NewLink) string {
	return hashKey(strconv.Itoa(len(in.IdempotencyScope)) + ":" + in.IdempotencyScope + in.IdempotencyKey)
}

func (s *Store) linkSecretName(clientID string) string {
	return s.prefix + "/links/" + clientID
}

// creationKey orders links and grants by creation in GSI1 and GSI2.
func creationKey(created time.Time, id string) string { return fmtTime(created) + "#" + id }

// fingerprint identifies the request of a link creation, so that an
// idempotency key reused for a different request is refused.
func fingerprint(in NewLink) string {
	b, _ := json.Marshal(struct {
		Name                   string   `json:"name"`
		RedirectURIs           []string `json:"redirect_uris"`
		PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
		Scopes                 []string `json:"scopes"`
		ClientType             string   `json:"client_type"`
		Enabled                bool     `json:"enabled"`
		GrantTypes             []string `json:"grant_types,omitempty"`
		ResourceURIs           []string `json:"resource_uris,omitempty"`
		IDTokenAlg             string   `json:"id_token_signed_response_alg,omitempty"`
	}{in.Name, in.RedirectURIs, in.PostLogoutRedirectURIs, in.Scopes, in.ClientType, in.Enabled, fingerprintGrants(in), in.ResourceURIs,
		fingerprintIDTokenAlg(in)})
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// fingerprintGrants are the grant types in a creation's fingerprint: nil
// for the default, so that a request fingerprints as it did before links
// had grant types.
func fingerprintGrants(in NewLink) []string {
	g := linkGrantTypes(in.ClientType, in.GrantTypes)
	if slices.Equal(g, linkGrantTypes(in.ClientType, nil)) {
		return nil
	}
	return g
}

// fingerprintIDTokenAlg is the ID token algorithm in a creation's
// fingerprint: "" for the default, so that a request fingerprints as it
// did before links had one.
func fingerprintIDTokenAlg(in NewLink) string {
	if a := linkIDTokenAlg(in.ClientType, in.IDTokenSignedResponseAlg); a != linkIDTokenAlg(in.ClientType, "") {
		return a
	}
	return ""
}

// linkIDTokenAlg is the ID token algorithm a link of clientType stores
// for the requested one ("": the default): none for a resource server.
func linkIDTokenAlg(clientType, requested string) string {
	switch {
	case clientType == ResourceServer:
		return ""
	case requested == "":
		return DefaultIDTokenAlg
	}
	return requested
}

// linkGrantTypes are the grant types a link of clientType stores for the
// requested ones (nil: the default): none for a resource server.
func linkGrantTypes(clientType string, requested []string) []string {
	switch {
	case clientType == ResourceServer:
		return []string{}
	case requested == nil:
		return shared.DefaultGrantTypes()
	}
	return requested
}

func hasSecret(clientType string) bool { return clientType != Public }

func decodeLink(it item) Link {
	origin, status := decodeOrigin(it)
	return Link{
		Origin: origin, Status: status,
		ID:                     it.s(aID),
		ClientID:               it.s(aClientID),
		Name:                   it.s(aName),
		RedirectURIs:           it.l(aRedirectURIs),
		PostLogoutRedirectURIs: it.l(aPostLogoutRedirectURIs),
		Scopes:                 it.l(aScopes),
		ClientType:             it.s(aClientType),
		GrantTypes:             decodeGrantTypes(it),
		ResourceURIs:           it.l(aResourceURIs),
		// A link stored before it had one signs RS256.
		IDTokenSignedResponseAlg: linkIDTokenAlg(it.s(aClientType), it.s(aIDTokenAlg)),
		Enabled:                  it.b(aEnabled),
		CreatedAt:                it.t(aCreatedAt),
		UpdatedAt:                it.t(aUpdatedAt),
		SecretHash:               it.s(aSecretHash),
		PrevSecretHash:           it.s(aPrevSecretHash),
		PrevSecretExpires:        it.t(aPrevSecretExpires),
		Metadata:                 decodeMetadataCache(it),
	}
}

// decodeGrantTypes reads a link's grant types; a link stored before links
// had them has the default.
func decodeGrantTypes(it item) []string {
	if _, ok := it[aGrantTypes]; !ok {
		return linkGrantTypes(it.s(aClientType), nil)
	}
	return it.l(aGrantTypes)
}

// activeLink decodes it when it is an active link; nil otherwise.
func activeLink(it item) *Link {
	if it == nil || it.s(aState) != stateActive {
		return nil
	}
	l := decodeLink(it)
	return &l
}

// CreateLink creates the link item and its secret with no orphan on failure
// (see NewLink for idempotency). It returns the stored link and its secret.
// A resource URI (RFC 8707) another link registered is a
// *ResourceTakenError.
//
// The steps: one transaction writes the idempotency record (condition: new),
// the link in state pending (invisible, with a TTL) and the id pointer; then
// the secret is created in Secrets Manager (idempotently, with a request
// token derived from the client id); then the link becomes active with the
// verifier of the secret Secrets Manager holds, in one transaction with the
// pointers of its resource URIs (resources.go). A failure after the
// transaction deletes the pending items and then the secret; when that
// clean-up fails too, a retry with the same key resumes the creation.
func (s *Store) CreateLink(ctx context.Context, in NewLink, now time.Time) (Link, string, error) {
	if hasSecret(in.ClientType) && in.Secret == "" {
		return Link{}, "", fmt.Errorf("create link: %s link without a secret", in.ClientType)
	}
	if in.IdempotencyKey != "" && in.IdempotencyScope == "" {
		return Link{}, "", errors.New("create link: idempotency key without a scope")
	}
	if isMetadataClientID(in.ClientID) {
		return Link{}, "", fmt.Errorf("create link: client id %q is a metadata document's (CreateMetadataLink)", in.ClientID)
	}
	if len(in.ResourceURIs) > 0 && in.ClientType != ResourceServer {
		return Link{}, "", fmt.Errorf("create link: a %s link has no resource URIs", in.ClientType)
	}
	fp := fingerprint(in)
	if in.IdempotencyKey != "" {
		l, secret, found, err := s.resumeLink(ctx, in, fp, now)
		if err != nil || found {
			return l, secret, err
		}
	}
	// Fail early, before a secret is made; the activation's transaction is
	// what decides under concurrency.
	if err := s.resourcesTaken(ctx, in.ResourceURIs, in.ClientID, now); err != nil {
		return Link{}, "", fmt.Errorf("create link %q: %w", in.ClientID, err)
	}
	l := Link{
		ID: in.ID, ClientID: in.ClientID, Name: in.Name,
		RedirectURIs: nonNil(in.RedirectURIs), PostLogoutRedirectURIs: nonNil(in.PostLogoutRedirectURIs), Scopes: nonNil(in.Scopes),
		ClientType: in.ClientType, GrantTypes: linkGrantTypes(in.ClientType, in.GrantTypes),
		ResourceURIs: nonNil(in.ResourceURIs), IDTokenSignedResponseAlg: linkIDTokenAlg(in.ClientType, in.IDTokenSignedResponseAlg),
		Enabled: in.Enabled, CreatedAt: now, UpdatedAt: now,
		Origin: cmp.Or(in.Origin, shared.OriginAdmin), Status: cmp.Or(in.Status, shared.StatusActive),
	}
	linkItem := map[string]types.AttributeValue{
		aPK: str(linkPrefix + l.ClientID), aSK: str(skLink),
		aID: str(l.ID), aClientID: str(l.ClientID), aName: str(l.Name),
		aRedirectURIs: list(l.RedirectURIs), aPostLogoutRedirectURIs: list(l.PostLogoutRedirectURIs), aScopes: list(l.Scopes),
		aClientType: str(l.ClientType), aGrantTypes: list(l.GrantTypes), aEnabled: boolean(l.Enabled),
		aCreatedAt: str(fmtTime(now)), aUpdatedAt: str(fmtTime(now)),
	}
	if len(l.ResourceURIs) > 0 {
		linkItem[aResourceURIs] = list(l.ResourceURIs)
	}
	if l.Origin != shared.OriginAdmin || l.Status != shared.StatusActive {
		linkItem[aOrigin], linkItem[aRegStatus] = str(l.Origin), str(l.Status)
	}
	if l.IDTokenSignedResponseAlg != "" {
		linkItem[aIDTokenAlg] = str(l.IDTokenSignedResponseAlg)
	}
	if in.IdempotencyKey != "" {
		linkItem[aIdemKey] = str(idemKey(in))
	}
	if hasSecret(l.ClientType) {
		linkItem[aState] = str(statePending)
		linkItem[aTTL] = ttl(now.Add(pendingTTL))
	} else {
		// A public link has no secret: it is complete in one transaction.
		linkItem[aState] = str(stateActive)
		linkItem[gsiLinks.PartitionKey] = str(linksIndexPK)
		linkItem[gsiLinks.SortKey] = str(creationKey(now, l.ID))
		if l.Status == shared.StatusPending {
			linkItem[gsiUsers.PartitionKey] = str(pendingLinksPK)
			linkItem[gsiUsers.SortKey] = str(creationKey(now, l.ID))
		}
	}
	if s.notx && !hasSecret(l.ClientType) {
		// Without transactions every link is written pending and becomes
		// active by one conditional update, its commit point (notx.go).
		linkItem[aState] = str(statePending)
		linkItem[aTTL] = ttl(now.Add(pendingTTL))
		for _, a := range []string{gsiLinks.PartitionKey, gsiLinks.SortKey, gsiUsers.PartitionKey, gsiUsers.SortKey} {
			delete(linkItem, a)
		}
	}
	items := []types.TransactWriteItem{
		s.putNew(linkItem),
		s.putNew(map[string]types.AttributeValue{
			aPK: str(linkIDPrefix + l.ID), aSK: str(skLinkID), aClientID: str(l.ClientID),
		}),
	}
	if in.IdempotencyKey != "" {
		// New, or one whose window ended: its end is its created_at, not
		// its TTL, which DynamoDB applies only eventually and a global
		// table with multi-Region strong consistency not at all.
		e := newExpr()
		items = append(items, types.TransactWriteItem{Put: &types.Put{
			TableName: s.tableName(),
			Item: map[string]types.AttributeValue{
				aPK: str(idemPrefix + idemKey(in)), aSK: str(skIdem),
				aID: str(l.ID), aClientID: str(l.ClientID), aFingerprint: str(fp),
				aCreatedAt: str(fmtTime(now)), aTTL: ttl(now.Add(pendingTTL)),
			},
			ConditionExpression: aws.String("attribute_not_exists(" + e.n(aPK) + ") OR " +
				e.n(aCreatedAt) + " <= " + e.v(str(fmtTime(now.Add(-pendingTTL))))),
			ExpressionAttributeNames:  e.Names(),
			ExpressionAttributeValues: e.Values(),
		}})
	}
	var err error
	if s.notx {
		err = s.createLinkNoTx(ctx, l, items)
	} else {
		err = s.transact(ctx, items)
	}
	if err != nil {
		if errors.Is(err, shared.ErrConflict) && in.IdempotencyKey != "" {
			// A concurrent creation with the same key won: use its link.
			l, secret, found, rerr := s.resumeLink(ctx, in, fp, now)
			if rerr != nil || found {
				return l, secret, rerr
			}
		}
		return Link{}, "", fmt.Errorf("create link %q: %w", in.ClientID, err)
	}
	if !hasSecret(l.ClientType) {
		if s.notx {
			return s.finishLink(ctx, l.ClientID, "", now)
		}
		return l, "", nil
	}
	return s.finishLink(ctx, l.ClientID, in.Secret, now)
}

// nonNil is shared.NonNil: an absent list is stored as an empty one.
func nonNil(ss []string) []string { return shared.NonNil(ss) }

func (s *Store) putNew(it map[string]types.AttributeValue) types.TransactWriteItem {
	e := newExpr()
	return types.TransactWriteItem{Put: &types.Put{
		TableName:                s.tableName(),
		Item:                     it,
		ConditionExpression:      aws.String("attribute_not_exists(" + e.n(aPK) + ")"),
		ExpressionAttributeNames: e.Names(),
	}}
}

// resumeLink handles a creation whose idempotency key (in its scope) was
// seen before: it returns the link created the first time (found),
// finishing it when it is still pending. The secret comes back only while
// it is the one that creation returned and still the link's current
// secret (creation_secret_hash, set on activation, equals secret_hash);
// after a rotation the answer is a *SecretRotatedError.
func (s *Store) resumeLink(ctx context.Context, in NewLink, fp string, now time.Time) (Link, string, bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.tableName(), Key: key(idemPrefix+idemKey(in), skIdem), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Link{}, "", false, fmt.Errorf("create link: read idempotency record: %w", classify(err, false))
	}
	rec := item(out.Item)
	if out.Item == nil || !rec.t(aCreatedAt).After(now.Add(-pendingTTL)) {
		return Link{}, "", false, nil // none, or its window ended (TTL or not)
	}
	if rec.s(aFingerprint) != fp {
		return Link{}, "", true, fmt.Errorf("create link: idempotency key reused for a different request: %w", shared.ErrConflict)
	}
	clientID := rec.s(aClientID)
	it, err := s.getLinkItem(ctx, clientID)
	if err != nil {
		return Link{}, "", true, fmt.Errorf("create link %q: %w", clientID, err)
	}
	switch {
	case it == nil:
		return Link{}, "", true, fmt.Errorf("create link %q: the link of this idempotency key is gone: %w", clientID, shared.ErrConflict)
	case it.s(aState) == statePending:
		candidate := in.Secret
		if !hasSecret(it.s(aClientType)) {
			if !s.notx {
				return Link{}, "", true, fmt.Errorf("create link %q: public link pending", clientID)
			}
			candidate = "" // written pending without transactions: activate it
		}
		l, secret, err := s.finishLink(ctx, clientID, candidate, now)
		return l, secret, true, err
	case it.s(aState) == stateActive:
		l := decodeLink(it)
		if !hasSecret(l.ClientType) {
			return l, "", true, nil
		}
		// A link activated before creation_secret_hash existed cannot
		// tell: it is answered as rotated (no secret) too.
		created := it.s(aCreationSecretHash)
		if created == "" || l.SecretHash != created {
			return Link{}, "", true, &SecretRotatedError{Link: l}
		}
		sec, err := s.readLinkSecret(ctx, clientID)
		if err != nil {
			return Link{}, "", true, fmt.Errorf("create link %q: %w", clientID, err)
		}
		// A rotation may have happened since the link was read: only
		// the creation's own secret goes back.
		secret := verifiedSecret(l, sec).ClientSecret
		if shared.HashToken(secret) != created {
			return Link{}, "", true, &SecretRotatedError{Link: l}
		}
		return l, secret, true, nil
	default:
		return Link{}, "", true, fmt.Errorf("create link %q: the link of this idempotency key is being deleted: %w", clientID, shared.ErrConflict)
	}
}

// finishLink creates the secret of a pending link (or adopts the one a
// concurrent or earlier attempt created) and activates the link. On failure
// it cleans up (see abandonLink).
// A public link (candidate "", without transactions) has no secret to
// create.
func (s *Store) finishLink(ctx context.Context, clientID, candidate string, now time.Time) (Link, string, error) {
	secret := ""
	if candidate != "" {
		var err error
		if secret, err = s.ensureLinkSecret(ctx, clientID, candidate); err != nil {
			return Link{}, "", s.abandonLink(ctx, clientID, fmt.Errorf("create link %q: create secret: %w", clientID, err))
		}
	}
	l, err := s.activateLink(ctx, clientID, secret, now)
	if err != nil {
		return Link{}, "", s.abandonLink(ctx, clientID, fmt.Errorf("create link %q: activate: %w", clientID, err))
	}
	return l, secret, nil
}

// ensureLinkSecret creates the link's secret with candidate, or returns the
// secret already there (a retried or concurrent creation).
func (s *Store) ensureLinkSecret(ctx context.Context, clientID, candidate string) (string, error) {
	doc, err := json.Marshal(LinkSecret{ClientSecret: candidate})
	if err != nil {
		return "", err
	}
	_, err = s.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:               aws.String(s.linkSecretName(clientID)),
		SecretString:       aws.String(string(doc)),
		ClientRequestToken: aws.String(requestToken(clientID + "/" + candidate)),
		Description:        aws.String("client secret of application link " + clientID),
		KmsKeyId:           s.secretKMSKey(),
		AddReplicaRegions:  s.addReplicaRegions(),
	})
	if err == nil {
		// The resource policy before the secret is used: when it cannot be
		// attached, the creation fails and abandonLink deletes the secret.
		if err := s.protectSecret(ctx, s.linkSecretName(clientID), s.linkPrincipals()); err != nil {
			return "", err
		}
		return candidate, nil
	}
	err = classify(err, true)
	if !errors.Is(err, shared.ErrConflict) {
		return "", err
	}
	sec, rerr := s.readLinkSecret(ctx, clientID)
	if rerr != nil {
		return "", rerr
	}
	// Another attempt created it: attach the policy again (the same
	// document), in case that attempt stopped before it did.
	if err := s.protectSecret(ctx, s.linkSecretName(clientID), s.linkPrincipals()); err != nil {
		return "", err
	}
	return sec.ClientSecret, nil
}

// activateLink makes a pending link active with the verifier of secret. If
// the link is already active with that verifier (an earlier attempt whose
// answer was lost, or a concurrent one), it succeeds too.
func (s *Store) activateLink(ctx context.Context, clientID, secret string, now time.Time) (Link, error) {
	// gsi1sk holds the creation time, which only the item knows.
	it, err := s.getLinkItem(ctx, clientID)
	if err != nil {
		return Link{}, err
	}
	if it == nil {
		return Link{}, fmt.Errorf("link vanished: %w", shared.ErrConflict)
	}
	hash := "" // a public link's (without transactions)
	if secret != "" {
		hash = shared.HashToken(secret)
	}
	if it.s(aState) == stateActive && it.s(aSecretHash) == hash {
		return decodeLink(it), nil
	}
	e := newExpr()
	u := update{e: e}
	u.Set(aState, str(stateActive))
	if hash != "" {
		u.Set(aSecretHash, str(hash))
		// The secret this creation returns: a retry with its idempotency
		// key returns it only while the link's current secret is still
		// this one.
		u.Set(aCreationSecretHash, str(hash))
	}
	u.Set(aUpdatedAt, str(fmtTime(now)))
	u.Set(gsiLinks.PartitionKey, str(linksIndexPK))
	u.Set(gsiLinks.SortKey, str(creationKey(it.t(aCreatedAt), it.s(aID))))
	if it.s(aRegStatus) == shared.StatusPending {
		u.Set(gsiUsers.PartitionKey, str(pendingLinksPK))
		u.Set(gsiUsers.SortKey, str(creationKey(it.t(aCreatedAt), it.s(aID))))
	}
	u.Remove(aTTL)
	cond := e.n(aState) + " = " + e.v(str(statePending))
	uris := it.l(aResourceURIs)
	var out item
	if len(uris) == 0 {
		var res *dynamodb.UpdateItemOutput
		if res, err = s.updateItem(ctx, linkKey(clientID), u.String(), cond, e); err == nil {
			out = res.Attributes
		}
	} else {
		// The link becomes visible with its resource URIs registered, in
		// one transaction: a URI another link holds refuses both. Without
		// transactions, the pointers first, then the link's activation,
		// which alone makes them count (notx.go).
		activate := types.TransactWriteItem{Update: &types.Update{
			TableName: s.tableName(), Key: linkKey(clientID),
			UpdateExpression:          aws.String(u.String()),
			ConditionExpression:       aws.String(cond),
			ExpressionAttributeNames:  e.Names(),
			ExpressionAttributeValues: e.Values(),
		}}
		if s.notx {
			err = s.withResources(ctx, clientID, uris, nil, activate, now)
		} else {
			items := []types.TransactWriteItem{activate}
			for _, r := range uris {
				items = append(items, s.putResource(r, clientID))
			}
			err = s.transact(ctx, items)
		}
		if err == nil {
			if out, err = s.getLinkItem(ctx, clientID); err == nil && out == nil {
				err = fmt.Errorf("link vanished: %w", shared.ErrConflict)
			}
			if err != nil {
				return Link{}, err
			}
		}
	}
	if err != nil {
		err = classify(err, false)
		if errors.Is(err, shared.ErrConflict) {
			if it, rerr := s.getLinkItem(ctx, clientID); rerr == nil && it != nil &&
				it.s(aState) == stateActive && it.s(aSecretHash) == hash {
				return decodeLink(it), nil
			}
		}
		return Link{}, s.explainConflict(ctx, err, uris, clientID, now)
	}
	return decodeLink(out), nil
}

// abandonLink undoes a failed creation: it deletes the pending link, its
// pointer and its idempotency record in one transaction (condition: the
// link is not active), then the secret. Deleting the items first means a
// failure here never leaves a secret without its (pending) link; a pending
// link left behind is invisible, a retry with the same key resumes it, and
// its TTL reaps it otherwise. cause is returned, with the clean-up failure
// noted.
func (s *Store) abandonLink(ctx context.Context, clientID string, cause error) error {
	// Clean up even when the caller's context was cancelled.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	it, err := s.getLinkItem(ctx, clientID)
	if err != nil {
		return fmt.Errorf("%w (clean-up: read link: %v)", cause, err)
	}
	if it != nil {
		e := newExpr()
		cond := "attribute_not_exists(" + e.n(aPK) + ") OR " + e.n(aState) + " = " + e.v(str(statePending))
		items := []types.TransactWriteItem{
			{Delete: &types.Delete{
				TableName: s.tableName(), Key: linkKey(clientID),
				ConditionExpression:       aws.String(cond),
				ExpressionAttributeNames:  e.Names(),
				ExpressionAttributeValues: e.Values(),
			}},
			{Delete: &types.Delete{TableName: s.tableName(), Key: key(linkIDPrefix+it.s(aID), skLinkID)}},
		}
		if k := it.s(aIdemKey); k != "" {
			items = append(items, types.TransactWriteItem{Delete: &types.Delete{
				TableName: s.tableName(), Key: key(idemPrefix+k, skIdem),
			}})
		}
		var err error
		if s.notx {
			err = s.abandonNoTx(ctx, clientID, items[1:])
		} else {
			err = s.transact(ctx, items)
		}
		if err != nil {
			// An active link (a lost success answer) keeps its secret.
			return fmt.Errorf("%w (clean-up: delete pending link: %v)", cause, err)
		}
	}
	if err := s.deleteSecret(ctx, s.linkSecretName(clientID)); err != nil {
		return fmt.Errorf("%w (clean-up: delete secret: %v)", cause, err)
	}
	return cause
}

func (s *Store) deleteSecret(ctx context.Context, name string) error {
	if err := s.removeReplicas(ctx, name); err != nil {
		return err
	}
	_, err := s.sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{
		SecretId:                   aws.String(name),
		ForceDeleteWithoutRecovery: aws.Bool(true),
	})
	if err = classify(err, true); err != nil && !errors.Is(err, shared.ErrNotFound) {
		return err
	}
	return nil
}

// getLinkItem reads the link item of clientID (strongly consistent), nil
// when absent, whatever its state.
func (s *Store) getLinkItem(ctx context.Context, clientID string) (item, error) {
	if tooLong(clientID) {
		return nil, nil
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.tableName(), Key: linkKey(clientID), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, classify(err, false)
	}
	return out.Item, nil
}

// clientIDOf resolves a link id to its client id through the pointer item.
func (s *Store) clientIDOf(ctx context.Context, id string) (string, error) {
	if tooLong(id) {
		return "", shared.ErrNotFound
	}
	if strings.HasPrefix(id, MetadataLinkIDPrefix) {
		return s.metadataClientIDOf(ctx, id)
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.tableName(), Key: key(linkIDPrefix+id, skLinkID), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return "", classify(err, false)
	}
	if out.Item == nil {
		return "", shared.ErrNotFound
	}
	return item(out.Item).s(aClientID), nil
}

// GetLink reads a link by id (ErrNotFound). It costs two reads: the id
// pointer, then the link.
func (s *Store) GetLink(ctx context.Context, id string) (Link, error) {
	clientID, err := s.clientIDOf(ctx, id)
	if err != nil {
		return Link{}, fmt.Errorf("get link %q: %w", id, err)
	}
	l, err := s.GetLinkByClientID(ctx, clientID)
	if err != nil {
		return Link{}, fmt.Errorf("get link %q: %w", id, err)
	}
	return l, nil
}

// GetLinkByClientID reads a link by client id (1 call, ErrNotFound).
func (s *Store) GetLinkByClientID(ctx context.Context, clientID string) (Link, error) {
	it, err := s.getLinkItem(ctx, clientID)
	if err != nil {
		return Link{}, fmt.Errorf("get link by client id %q: %w", clientID, err)
	}
	l := activeLink(it)
	if l == nil {
		return Link{}, fmt.Errorf("get link by client id %q: %w", clientID, shared.ErrNotFound)
	}
	return *l, nil
}

// ListLinks lists links in creation order; cursor is "" for the first page
// and the returned next is "" after the last. limit is 1..100 (clamped).
// The cursor is opaque: base64url of the index position after the page.
func (s *Store) ListLinks(ctx context.Context, limit int, cursor string) ([]Link, string, error) {
	items, next, err := s.queryPage(ctx, gsiLinks, linksIndexPK, true, limit, cursor)
	if err != nil {
		return nil, "", fmt.Errorf("list links: %w", err)
	}
	links := make([]Link, 0, len(items))
	for _, it := range items {
		if l := activeLink(it); l != nil {
			links = append(links, *l)
		}
	}
	return links, next, nil
}

// UpdateLink applies u and returns the updated link (ErrNotFound).
func (s *Store) UpdateLink(ctx context.Context, id string, u LinkUpdate, now time.Time) (Link, error) {
	clientID, err := s.clientIDOf(ctx, id)
	if err != nil {
		return Link{}, fmt.Errorf("update link %q: %w", id, err)
	}
	if u.ResourceURIs != nil {
		// A change of resource URIs moves their pointers with it
		// (resources.go); any other update is one UpdateItem.
		l, err := s.updateResourceURIs(ctx, clientID, u, now)
		if err != nil {
			return Link{}, fmt.Errorf("update link %q: %w", id, err)
		}
		return l, nil
	}
	e := newExpr()
	up := linkUpdateExpr(e, u, now)
	cond := e.n(aState) + " = " + e.v(str(stateActive))
	out, err := s.updateItem(ctx, linkKey(clientID), up.String(), cond, e)
	if err != nil {
		return Link{}, fmt.Errorf("update link %q: %w", id, notFoundOnConflict(classify(err, false)))
	}
	return decodeLink(out.Attributes), nil
}

// linkUpdateExpr is the update expression of u at now.
func linkUpdateExpr(e *expr, u LinkUpdate, now time.Time) update {
	up := update{e: e}
	if u.Name != nil {
		up.Set(aName, str(*u.Name))
	}
	if u.RedirectURIs != nil {
		up.Set(aRedirectURIs, list(*u.RedirectURIs))
	}
	if u.PostLogoutRedirectURIs != nil {
		up.Set(aPostLogoutRedirectURIs, list(*u.PostLogoutRedirectURIs))
	}
	if u.Scopes != nil {
		up.Set(aScopes, list(*u.Scopes))
	}
	if u.GrantTypes != nil {
		up.Set(aGrantTypes, list(*u.GrantTypes))
	}
	if u.ResourceURIs != nil {
		up.Set(aResourceURIs, list(*u.ResourceURIs))
	}
	if u.IDTokenSignedResponseAlg != nil {
		up.Set(aIDTokenAlg, str(*u.IDTokenSignedResponseAlg))
	}
	if u.Enabled != nil {
		up.Set(aEnabled, boolean(*u.Enabled))
	}
	up.Set(aUpdatedAt, str(fmtTime(now)))
	return up
}

// notFoundOnConflict turns a failed "exists" condition into ErrNotFound.
// A write refused because another request is writing the item
// (ErrTransactionConflict) decided nothing about its existence: it is
// ErrUnavailable, for the caller to retry, never "not found".
func notFoundOnConflict(err error) error {
	if errors.Is(err, ErrTransactionConflict) {
		return fmt.Errorf("%w: %w", shared.ErrUnavailable, err)
	}
	if errors.Is(err, shared.ErrConflict) {
		return fmt.Errorf("%w (condition failed)", shared.ErrNotFound)
	}
	return err
}

// DeleteLink revokes every grant of the link, deletes its secret and its
// items (ErrNotFound). Afterwards its id and client id are not found.
//
// The link first turns to state deleting (invisible at once, and out of the
// listing), then its grants are revoked, its secret deleted and its items
// deleted. Every step is idempotent, so a retry after a failure finishes
// the deletion.
func (s *Store) DeleteLink(ctx context.Context, id string, now time.Time) error {
	clientID, err := s.clientIDOf(ctx, id)
	if err != nil {
		return fmt.Errorf("delete link %q: %w", id, err)
	}
	e := newExpr()
	u := update{e: e}
	u.Set(aState, str(stateDeleting))
	u.Set(aUpdatedAt, str(fmtTime(now)))
	u.Remove(gsiLinks.PartitionKey)
	u.Remove(gsiLinks.SortKey)
	u.Remove(gsiUsers.PartitionKey) // no longer counted as pending
	u.Remove(gsiUsers.SortKey)
	cond := e.n(aState) + " IN (" + e.v(str(stateActive)) + ", " + e.v(str(stateDeleting)) + ")"
	out, err := s.updateItem(ctx, linkKey(clientID), u.String(), cond, e)
	if err != nil {
		return fmt.Errorf("delete link %q: %w", id, notFoundOnConflict(classify(err, false)))
	}
	it := item(out.Attributes)
	if err := s.revokeLinkGrants(ctx, clientID, "link_deleted", now); err != nil {
		return fmt.Errorf("delete link %q: revoke grants: %w", id, err)
	}
	if hasSecret(it.s(aClientType)) {
		if err := s.deleteSecret(ctx, s.linkSecretName(clientID)); err != nil {
			return fmt.Errorf("delete link %q: delete secret: %w", id, err)
		}
	}
	linkDel := types.TransactWriteItem{Delete: &types.Delete{TableName: s.tableName(), Key: linkKey(clientID)}}
	var pointers, records []types.TransactWriteItem
	if !isMetadataClientID(clientID) { // a metadata-document link has no id pointer
		pointers = append(pointers, types.TransactWriteItem{Delete: &types.Delete{TableName: s.tableName(), Key: key(linkIDPrefix+id, skLinkID)}})
	}
	if k := it.s(aIdemKey); k != "" {
		// Only while it is this link's: after its 24 hours, the key may
		// have created another link, whose record it now is.
		rec, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: s.tableName(), Key: key(idemPrefix+k, skIdem), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return fmt.Errorf("delete link %q: read idempotency record: %w", id, classify(err, false))
		}
		if rec.Item != nil && item(rec.Item).s(aClientID) == clientID {
			records = append(records, types.TransactWriteItem{Delete: &types.Delete{TableName: s.tableName(), Key: key(idemPrefix+k, skIdem)}})
		}
	}
	// Its resource URIs are released with it, and not before: until this
	// transaction no other link can register them.
	for _, r := range it.l(aResourceURIs) {
		records = append(records, s.deleteResource(r, clientID))
	}
	if s.notx {
		// The resource pointers and the record first, then the link item,
		// then its id pointer (which finds it): a retry finds the link
		// deleting and finishes; a pointer left naming no link is nobody's.
		err = s.writeAll(ctx, append(append(records, linkDel), pointers...))
	} else {
		err = s.transact(ctx, append(append([]types.TransactWriteItem{linkDel}, pointers...), records...))
	}
	if err != nil {
		return fmt.Errorf("delete link %q: delete items: %w", id, err)
	}
	return nil
}

// GetLinkSecret reads the link's secret from Secrets Manager (ErrNotFound
// for an unknown link or a public one, which has no secret).
func (s *Store) GetLinkSecret(ctx context.Context, id string) (LinkSecret, error) {
	l, err := s.GetLink(ctx, id)
	if err != nil {
		return LinkSecret{}, fmt.Errorf("get link secret: %w", err)
	}
	if !hasSecret(l.ClientType) {
		return LinkSecret{}, fmt.Errorf("get link secret %q: public link: %w", id, shared.ErrNotFound)
	}
	sec, err := s.readLinkSecret(ctx, l.ClientID)
	if err != nil {
		return LinkSecret{}, fmt.Errorf("get link secret %q: %w", id, err)
	}
	return verifiedSecret(l, sec), nil
}

// verifiedSecret is what "View credentials" shows: the secrets the link
// verifies, which Secrets Manager may hold more of after a rotation that
// stopped part-way (it wrote the new secret but could not move the link's
// verifier to it: the new one does not work and must not be shown).
func verifiedSecret(l Link, held LinkSecret) LinkSecret {
	out := held
	if shared.HashToken(held.ClientSecret) != l.SecretHash && held.PreviousSecret != "" &&
		shared.HashToken(held.PreviousSecret) == l.SecretHash {
		out = LinkSecret{ClientSecret: held.PreviousSecret}
	}
	if out.PreviousSecret != "" && (l.PrevSecretHash == "" || shared.HashToken(out.PreviousSecret) != l.PrevSecretHash) {
		out.PreviousSecret, out.PreviousExpiresAt = "", time.Time{}
	}
	return out
}

func (s *Store) readLinkSecret(ctx context.Context, clientID string) (LinkSecret, error) {
	out, err := s.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.linkSecretName(clientID))})
	if err != nil {
		return LinkSecret{}, fmt.Errorf("read secret: %w", classify(err, true))
	}
	var sec LinkSecret
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &sec); err != nil {
		return LinkSecret{}, fmt.Errorf("read secret: decode: %w", err)
	}
	if sec.ClientSecret == "" {
		return LinkSecret{}, errors.New("read secret: no client_secret")
	}
	return sec, nil
}

func (s *Store) writeLinkSecret(ctx context.Context, clientID string, sec LinkSecret) error {
	doc, err := json.Marshal(sec)
	if err != nil {
		return err
	}
	_, err = s.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:     aws.String(s.linkSecretName(clientID)),
		SecretString: aws.String(string(doc)),
	})
	if err != nil {
		return fmt.Errorf("write secret: %w", classify(err, true))
	}
	return nil
}

// RotateLinkSecret makes newSecret current; the old one stays valid for
// overlap (0 ends it at once; a new rotation ends any earlier overlap).
//
// Invariant: the link item never verifies a secret Secrets Manager does not
// hold. The steps:
//
//  1. take a 30 s rotation lease on the link (one rotation at a time) and,
//     in the same update, stop verifying any earlier previous secret (a new
//     rotation ends the earlier overlap; it must end in the item before
//     Secrets Manager forgets that secret);
//  2. read Secrets Manager and find the secret the link verifies as current
//     (normally the current one; after a rotation that failed between steps
//     3 and 4, the previous one);
//  3. write {new, previous: that secret} to Secrets Manager;
//  4. move the link's verifiers to new (and the old one during the overlap),
//     releasing the lease (condition: the link still verifies that secret);
//  5. with no overlap, write {new} alone.
//
// A failure between steps leaves Secrets Manager holding a superset of
// what the link verifies; the lease of a failed rotation blocks the next
// one (ErrConflict) until it ends.
func (s *Store) RotateLinkSecret(ctx context.Context, id, newSecret string, overlap time.Duration, now time.Time) (Link, error) {
	l, err := s.GetLink(ctx, id)
	if err != nil {
		return Link{}, fmt.Errorf("rotate link secret: %w", err)
	}
	if !hasSecret(l.ClientType) {
		return Link{}, fmt.Errorf("rotate link secret %q: %w", id, ErrPublicLink)
	}
	if newSecret == "" {
		return Link{}, fmt.Errorf("rotate link secret %q: empty secret", id)
	}
	overlap = max(overlap, 0)
	// A failure from here on releases the lease at once (even when the
	// lease's own update lost its answer), so that a retry need not wait.
	lease := fmtTime(now.Add(rotationLease))
	done := false
	defer func() {
		if !done {
			s.releaseRotationLease(ctx, l.ClientID, lease)
		}
	}()
	leased, err := s.takeRotationLease(ctx, l.ClientID, lease, now)
	if err != nil {
		return Link{}, fmt.Errorf("rotate link secret %q: %w", id, err)
	}
	held, err := s.readLinkSecret(ctx, l.ClientID)
	if err != nil {
		return Link{}, fmt.Errorf("rotate link secret %q: %w", id, err)
	}
	var old string
	switch leased.SecretHash {
	case shared.HashToken(held.ClientSecret):
		old = held.ClientSecret
	case shared.HashToken(held.PreviousSecret):
		old = held.PreviousSecret // an earlier rotation stopped after step 3
	default:
		return Link{}, fmt.Errorf("rotate link secret %q: secrets manager does not hold the secret the link verifies", id)
	}
	prevExpires := now.Add(overlap)
	both := LinkSecret{ClientSecret: newSecret, PreviousSecret: old, PreviousExpiresAt: prevExpires}
	if err := s.writeLinkSecret(ctx, l.ClientID, both); err != nil {
		return Link{}, fmt.Errorf("rotate link secret %q: %w", id, err)
	}
	e := newExpr()
	u := update{e: e}
	u.Set(aSecretHash, str(shared.HashToken(newSecret)))
	u.Set(aUpdatedAt, str(fmtTime(now)))
	if overlap > 0 {
		u.Set(aPrevSecretHash, str(shared.HashToken(old)))
		u.Set(aPrevSecretExpires, str(fmtTime(prevExpires)))
	}
	u.Remove(aRotationLease)
	cond := e.n(aState) + " = " + e.v(str(stateActive)) + " AND " + e.n(aSecretHash) + " = " + e.v(str(leased.SecretHash))
	out, err := s.updateItem(ctx, linkKey(l.ClientID), u.String(), cond, e)
	if err != nil {
		return Link{}, fmt.Errorf("rotate link secret %q: update verifiers: %w", id, notFoundOnConflict(classify(err, false)))
	}
	done = true // the update above released the lease
	if overlap == 0 {
		if err := s.writeLinkSecret(ctx, l.ClientID, LinkSecret{ClientSecret: newSecret}); err != nil {
			return Link{}, fmt.Errorf("rotate link secret %q: drop previous secret: %w", id, err)
		}
	}
	return decodeLink(out.Attributes), nil
}

// takeRotationLease marks the link as being rotated until lease (a time,
// now+rotationLease) and ends any earlier overlap (ErrConflict while another rotation holds
// the lease). It returns the link as updated.
func (s *Store) takeRotationLease(ctx context.Context, clientID, lease string, now time.Time) (Link, error) {
	e := newExpr()
	u := update{e: e}
	u.Set(aRotationLease, str(lease))
	u.Remove(aPrevSecretHash)
	u.Remove(aPrevSecretExpires)
	cond := e.n(aState) + " = " + e.v(str(stateActive)) + " AND (attribute_not_exists(" +
		e.n(aRotationLease) + ") OR " + e.n(aRotationLease) + " < " + e.v(str(fmtTime(now))) + ")"
	out, err := s.updateItem(ctx, linkKey(clientID), u.String(), cond, e)
	if err != nil {
		return Link{}, fmt.Errorf("take rotation lease: %w", classify(err, false))
	}
	return decodeLink(out.Attributes), nil
}

// releaseRotationLease ends a failed rotation's lease at once, so that a
// retry need not wait for it to lapse. Best effort, on a context detached
// from the request's (which may be what failed): if it fails too, the lease
// lapses by itself after rotationLease.
func (s *Store) releaseRotationLease(ctx context.Context, clientID, lease string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	e := newExpr()
	u := update{e: e}
	u.Remove(aRotationLease)
	cond := e.n(aRotationLease) + " = " + e.v(str(lease))
	_, _ = s.updateItem(ctx, linkKey(clientID), u.String(), cond, e)
}
