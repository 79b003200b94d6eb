package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/applinks/applinks/shared"
)

// IdentityProvider is an upstream OpenID Provider people may sign in with
// (the provider is then an OpenID Connect relying party of it). Its client
// secret lives in Secrets Manager, never in the table.
type IdentityProvider struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Issuer is the upstream's issuer identifier; it never changes, and two
	// providers never share one.
	Issuer   string   `json:"issuer"`
	ClientID string   `json:"client_id"`
	Scopes   []string `json:"scopes"`
	// UsernameClaim names the claim a created user's username comes from.
	UsernameClaim string `json:"username_claim"`
	// EmailDomains, when not empty, admits only people whose verified
	// email is in one of these domains.
	EmailDomains []string `json:"email_domains"`
	// CreateUsers creates a local user at the first sign-in of an upstream
	// identity no user is linked to.
	CreateUsers bool `json:"create_users"`
	// PermissionsClaim and PermissionMap turn the upstream's claim values
	// into catalog scopes (PERMISSION_SOURCE=claims).
	PermissionsClaim string              `json:"permissions_claim"`
	PermissionMap    map[string][]string `json:"permission_map"`
	Enabled          bool                `json:"enabled"`
	CreatedAt        time.Time           `json:"created_at"`
	UpdatedAt        time.Time           `json:"updated_at"`
}

// IdentityProviderUpdate is a partial update; nil fields are left
// unchanged. The issuer cannot change.
type IdentityProviderUpdate struct {
	Name             *string
	ClientID         *string
	ClientSecret     *string // written to Secrets Manager
	Scopes           *[]string
	UsernameClaim    *string
	EmailDomains     *[]string
	CreateUsers      *bool
	PermissionsClaim *string
	PermissionMap    *map[string][]string
	Enabled          *bool
}

// identityProviderSecret is the value of a provider's secret.
type identityProviderSecret struct {
	ClientSecret string `json:"client_secret"`
}

const (
	// idpsPK is the one partition of the identity providers: a provider
	// (sk IDP#<id>) and, per issuer, the pointer that keeps issuers unique
	// (sk ISSUER#<hash of the issuer>). There are few providers, so one
	// strongly consistent Query reads them all (the sign-in page).
	idpsPK         = "IDPS"
	skIDPPrefix    = "IDP#"
	skIssuerPrefix = "ISSUER#"

	aIssuer           = "issuer"
	aUsernameClaim    = "username_claim"
	aEmailDomains     = "email_domains"
	aCreateUsers      = "create_users"
	aPermissionsClaim = "permissions_claim"
	aPermissionMap    = "permission_map" // JSON text of {"claim value": [scopes]}
)

// ErrIssuerTaken is CreateIdentityProvider's answer when another provider
// has the issuer. It wraps shared.ErrConflict.
var ErrIssuerTaken = fmt.Errorf("another identity provider has this issuer: %w", shared.ErrConflict)

func (s *Store) idpSecretName(id string) string { return s.prefix + "/identity-providers/" + id }

// IdentityProviderSecretName is the Secrets Manager name of a provider's
// client secret: <SECRET_PREFIX>/identity-providers/<id>.
func (s *Store) IdentityProviderSecretName(id string) string { return s.idpSecretName(id) }

func idpItem(p IdentityProvider) (map[string]types.AttributeValue, error) {
	pm, err := json.Marshal(nonNilMap(p.PermissionMap))
	if err != nil {
		return nil, err
	}
	return map[string]types.AttributeValue{
		aPK: str(idpsPK), aSK: str(skIDPPrefix + p.ID),
		aID: str(p.ID), aName: str(p.Name), aIssuer: str(p.Issuer), aClientID: str(p.ClientID),
		aScopes: list(nonNil(p.Scopes)), aUsernameClaim: str(p.UsernameClaim),
		aEmailDomains: list(nonNil(p.EmailDomains)), aCreateUsers: boolean(p.CreateUsers),
		aPermissionsClaim: str(p.PermissionsClaim), aPermissionMap: str(string(pm)),
		aEnabled: boolean(p.Enabled), aCreatedAt: str(fmtTime(p.CreatedAt)), aUpdatedAt: str(fmtTime(p.UpdatedAt)),
	}, nil
}

func decodeIdentityProvider(it item) IdentityProvider {
	p := IdentityProvider{
		ID: it.s(aID), Name: it.s(aName), Issuer: it.s(aIssuer), ClientID: it.s(aClientID),
		Scopes: it.l(aScopes), UsernameClaim: it.s(aUsernameClaim), EmailDomains: it.l(aEmailDomains),
		CreateUsers: it.b(aCreateUsers), PermissionsClaim: it.s(aPermissionsClaim),
		Enabled: it.b(aEnabled), CreatedAt: it.t(aCreatedAt), UpdatedAt: it.t(aUpdatedAt),
		PermissionMap: map[string][]string{},
	}
	_ = json.Unmarshal([]byte(it.s(aPermissionMap)), &p.PermissionMap)
	if p.PermissionMap == nil {
		p.PermissionMap = map[string][]string{}
	}
	return p
}

func nonNilMap(m map[string][]string) map[string][]string {
	if m == nil {
		return map[string][]string{}
	}
	return m
}

// CreateIdentityProvider stores p (p.ID a fresh random id) and its client
// secret. The secret is created first (<prefix>/identity-providers/<id>,
// idempotent by a request token), then one transaction writes the
// provider and the pointer from its issuer, both on condition that they
// are new: a second provider with the same issuer is ErrIssuerTaken, and
// the secret just created is deleted again. A crash between the two steps
// leaves a secret that no provider names and nothing reads.
func (s *Store) CreateIdentityProvider(ctx context.Context, p IdentityProvider, clientSecret string) error {
	if p.ID == "" || tooLong(p.ID) || p.Issuer == "" {
		return fmt.Errorf("create identity provider: no valid id or issuer")
	}
	it, err := idpItem(p)
	if err != nil {
		return fmt.Errorf("create identity provider %s: %w", p.ID, err)
	}
	doc, err := json.Marshal(identityProviderSecret{ClientSecret: clientSecret})
	if err != nil {
		return err
	}
	_, err = s.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:               aws.String(s.idpSecretName(p.ID)),
		SecretString:       aws.String(string(doc)),
		ClientRequestToken: aws.String(requestToken("idp/" + p.ID)),
		Description:        aws.String("client secret of upstream identity provider " + p.ID),
		KmsKeyId:           s.secretKMSKey(),
		AddReplicaRegions:  s.addReplicaRegions(),
	})
	if err != nil {
		return fmt.Errorf("create identity provider %s: create secret: %w", p.ID, classify(err, true))
	}
	// Left to the functions that use it (IDP_SECRET_PRINCIPALS), before any
	// item names it; a failure deletes it again.
	if err := s.protectSecret(ctx, s.idpSecretName(p.ID), s.idpPrincipals()); err != nil {
		if derr := s.deleteSecret(context.WithoutCancel(ctx), s.idpSecretName(p.ID)); derr != nil {
			err = fmt.Errorf("%w (clean-up: delete secret: %v)", err, derr)
		}
		return fmt.Errorf("create identity provider %s: %w", p.ID, err)
	}
	pointer := map[string]types.AttributeValue{
		aPK: str(idpsPK), aSK: str(skIssuerPrefix + hashKey(p.Issuer)), aID: str(p.ID), aIssuer: str(p.Issuer),
	}
	if s.notx {
		// The issuer's pointer first, then the provider (notx.go).
		err = s.withPointers(ctx, []pointerClaim{{it: pointer, owner: aID, held: s.issuerHeld}}, s.putNew(it), p.CreatedAt)
	} else {
		err = s.transact(ctx, []types.TransactWriteItem{s.putNew(pointer), s.putNew(it)})
	}
	if err != nil {
		if derr := s.deleteSecret(context.WithoutCancel(ctx), s.idpSecretName(p.ID)); derr != nil {
			err = fmt.Errorf("%w (clean-up: delete secret: %v)", err, derr)
		}
		if errors.Is(err, shared.ErrConflict) {
			return fmt.Errorf("create identity provider %s: %w", p.ID, ErrIssuerTaken)
		}
		return fmt.Errorf("create identity provider %s: %w", p.ID, err)
	}
	return nil
}

// GetIdentityProvider reads a provider by id (1 call, ErrNotFound).
func (s *Store) GetIdentityProvider(ctx context.Context, id string) (IdentityProvider, error) {
	if id == "" || tooLong(id) {
		return IdentityProvider{}, fmt.Errorf("get identity provider: %w", shared.ErrNotFound)
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.tableName(), Key: key(idpsPK, skIDPPrefix+id), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return IdentityProvider{}, fmt.Errorf("get identity provider %s: %w", id, classify(err, false))
	}
	if out.Item == nil {
		return IdentityProvider{}, fmt.Errorf("get identity provider %s: %w", id, shared.ErrNotFound)
	}
	return decodeIdentityProvider(out.Item), nil
}

// ListIdentityProviders reads every provider, by id (one strongly
// consistent Query of their partition, paged through).
func (s *Store) ListIdentityProviders(ctx context.Context) ([]IdentityProvider, error) {
	e := newExpr()
	in := &dynamodb.QueryInput{
		TableName:                 s.tableName(),
		KeyConditionExpression:    aws.String(e.n(aPK) + " = " + e.v(str(idpsPK)) + " AND begins_with(" + e.n(aSK) + ", " + e.v(str(skIDPPrefix)) + ")"),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
		ConsistentRead:            aws.Bool(true),
	}
	var out []IdentityProvider
	for {
		page, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list identity providers: %w", classify(err, false))
		}
		for _, it := range page.Items {
			out = append(out, decodeIdentityProvider(it))
		}
		if page.LastEvaluatedKey == nil {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// GetIdentityProviderSecret reads a provider's client secret from Secrets
// Manager (ErrNotFound).
func (s *Store) GetIdentityProviderSecret(ctx context.Context, id string) (string, error) {
	if id == "" || tooLong(id) {
		return "", fmt.Errorf("get identity provider secret: %w", shared.ErrNotFound)
	}
	out, err := s.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.idpSecretName(id))})
	if err != nil {
		return "", fmt.Errorf("get identity provider secret %s: %w", id, classify(err, true))
	}
	var sec identityProviderSecret
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &sec); err != nil || sec.ClientSecret == "" {
		return "", fmt.Errorf("get identity provider secret %s: no client_secret in the secret", id)
	}
	return sec.ClientSecret, nil
}

// UpdateIdentityProvider applies u to the provider with id and returns it
// (ErrNotFound). A new client secret is written to Secrets Manager first,
// then the item's updated_at moves with the other fields.
func (s *Store) UpdateIdentityProvider(ctx context.Context, id string, u IdentityProviderUpdate, now time.Time) (IdentityProvider, error) {
	if id == "" || tooLong(id) {
		return IdentityProvider{}, fmt.Errorf("update identity provider: %w", shared.ErrNotFound)
	}
	if u.ClientSecret != nil {
		if _, err := s.GetIdentityProvider(ctx, id); err != nil {
			return IdentityProvider{}, err
		}
		doc, err := json.Marshal(identityProviderSecret{ClientSecret: *u.ClientSecret})
		if err != nil {
			return IdentityProvider{}, err
		}
		if _, err := s.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId: aws.String(s.idpSecretName(id)), SecretString: aws.String(string(doc)),
		}); err != nil {
			return IdentityProvider{}, fmt.Errorf("update identity provider %s: write secret: %w", id, classify(err, true))
		}
	}
	e := newExpr()
	up := update{e: e}
	if u.Name != nil {
		up.Set(aName, str(*u.Name))
	}
	if u.ClientID != nil {
		up.Set(aClientID, str(*u.ClientID))
	}
	if u.Scopes != nil {
		up.Set(aScopes, list(nonNil(*u.Scopes)))
	}
	if u.UsernameClaim != nil {
		up.Set(aUsernameClaim, str(*u.UsernameClaim))
	}
	if u.EmailDomains != nil {
		up.Set(aEmailDomains, list(nonNil(*u.EmailDomains)))
	}
	if u.CreateUsers != nil {
		up.Set(aCreateUsers, boolean(*u.CreateUsers))
	}
	if u.PermissionsClaim != nil {
		up.Set(aPermissionsClaim, str(*u.PermissionsClaim))
	}
	if u.PermissionMap != nil {
		pm, err := json.Marshal(nonNilMap(*u.PermissionMap))
		if err != nil {
			return IdentityProvider{}, err
		}
		up.Set(aPermissionMap, str(string(pm)))
	}
	if u.Enabled != nil {
		up.Set(aEnabled, boolean(*u.Enabled))
	}
	up.Set(aUpdatedAt, str(fmtTime(now)))
	out, err := s.updateItem(ctx, key(idpsPK, skIDPPrefix+id), up.String(), "attribute_exists("+e.n(aPK)+")", e)
	if err != nil {
		return IdentityProvider{}, fmt.Errorf("update identity provider %s: %w", id, notFoundOnConflict(classify(err, false)))
	}
	return decodeIdentityProvider(out.Attributes), nil
}

// DeleteIdentityProvider deletes the provider with id and its issuer
// pointer in one transaction (ErrNotFound), then its secret. The upstream
// identities linked to users stay: they are keyed by issuer and subject,
// so a provider created again for the same issuer finds them.
func (s *Store) DeleteIdentityProvider(ctx context.Context, id string) error {
	p, err := s.GetIdentityProvider(ctx, id)
	if err != nil {
		return fmt.Errorf("delete identity provider: %w", err)
	}
	e := newExpr()
	ep := newExpr()
	items := []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: s.tableName(), Key: key(idpsPK, skIDPPrefix+id),
			ConditionExpression: aws.String("attribute_exists(" + e.n(aPK) + ")"), ExpressionAttributeNames: e.Names()}},
		{Delete: &types.Delete{TableName: s.tableName(), Key: key(idpsPK, skIssuerPrefix+hashKey(p.Issuer)),
			ConditionExpression:       aws.String(ep.n(aID) + " = " + ep.v(str(id))),
			ExpressionAttributeNames:  ep.Names(),
			ExpressionAttributeValues: ep.Values()}},
	}
	if s.notx {
		// The provider first, then its pointer, which names nothing once
		// the provider is gone (notx.go).
		err = s.decideThen(ctx, items[0], items[1])
	} else {
		err = s.transact(ctx, items)
	}
	if err != nil {
		return fmt.Errorf("delete identity provider %s: %w", id, notFoundOnConflict(err))
	}
	if err := s.deleteSecret(ctx, s.idpSecretName(id)); err != nil {
		return fmt.Errorf("delete identity provider %s: delete secret: %w", id, err)
	}
	return nil
}
