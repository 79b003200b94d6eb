package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/applinks/applinks/shared"
)

// KeySecret is one key-set document kept in a secret of its own: the
// token-signing keys (Store's own GetSigningKeys...) or the
// permission-request keys (PermissionRequestKeys). It implements
// signing.Source.
type KeySecret struct {
	s *Store
	// name is the secret's name, description its description, what names
	// the key set in errors; principals are those its resource policy
	// leaves it to (none: no policy).
	name, description, what string
	principals              func() []string
}

func (s *Store) signingKeys() *KeySecret {
	return &KeySecret{s: s, name: s.signingKeysName(),
		description: "token-signing keys of the authorization server", what: "signing keys",
		principals: s.signingKeyPrincipals}
}

func (s *Store) signingKeysName() string { return s.prefix + "/signing-keys" }

// PermissionRequestKeys is the secret <prefix>/permission-request-keys: the
// key set that signs the provider's requests to the permission service
// (PERMISSION_SOURCE=service), apart from the token-signing keys so that
// it never signs a token and can be granted to the functions that ask.
func (s *Store) PermissionRequestKeys() *KeySecret {
	return &KeySecret{s: s, name: s.prefix + "/permission-request-keys",
		description: "keys that sign the authorization server's requests to the permission service",
		what:        "permission-request keys", principals: s.permissionKeyPrincipals}
}

// GetSigningKeys reads the signing-key set document (ErrNotFound when none
// exists yet).
func (s *Store) GetSigningKeys(ctx context.Context) ([]byte, error) {
	return getKeySet(ctx, s, s.signingKeysName(), "signing keys")
}

// CreateSigningKeys creates the signing-key secret with doc, and attaches
// its resource policy (WithSecretProtection); ErrConflict when it already
// exists (another instance won the race: read it instead). See
// KeySecret.CreateSigningKeys.
func (s *Store) CreateSigningKeys(ctx context.Context, doc []byte) error {
	k := s.signingKeys()
	return createKeySet(ctx, s, k.name, k.description, k.what, k.principals(), doc)
}

// PutSigningKeys replaces the signing-key set document (rotation).
func (s *Store) PutSigningKeys(ctx context.Context, doc []byte) error {
	return putKeySet(ctx, s, s.signingKeysName(), "signing keys", doc)
}

// GetSigningKeys reads the document (ErrNotFound when none exists yet).
func (k *KeySecret) GetSigningKeys(ctx context.Context) ([]byte, error) {
	return getKeySet(ctx, k.s, k.name, k.what)
}

// CreateSigningKeys creates the secret with doc, and attaches its resource
// policy (WithSecretProtection); ErrConflict when it already exists
// (another instance won the race: read it instead). The policy is attached
// on a conflict too (the same document), so that a creator that stopped
// between the two calls leaves no unprotected key behind; a failure to
// attach it is an error, not ErrConflict, so the key is not used until it
// is protected.
func (k *KeySecret) CreateSigningKeys(ctx context.Context, doc []byte) error {
	return createKeySet(ctx, k.s, k.name, k.description, k.what, k.principals(), doc)
}

// PutSigningKeys replaces the document (rotation).
func (k *KeySecret) PutSigningKeys(ctx context.Context, doc []byte) error {
	return putKeySet(ctx, k.s, k.name, k.what, doc)
}

// The Secrets Manager calls of a key set, as package functions on the
// store (so that the infra module's access analysis, which follows calls
// on a store, sees them from both key sets).

func getKeySet(ctx context.Context, s *Store, name, what string) ([]byte, error) {
	v, err := s.getSecretString(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", what, err)
	}
	return []byte(v), nil
}

func createKeySet(ctx context.Context, s *Store, name, description, what string, principals []string, doc []byte) error {
	_, err := s.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(name),
		SecretString: aws.String(string(doc)),
		Description:  aws.String(description),
		KmsKeyId:     s.secretKMSKey(),
		// Replicated at creation (multi-region): every region reads the
		// one key set, so every region publishes the same JWK Set.
		AddReplicaRegions: s.addReplicaRegions(),
	})
	if err != nil {
		err = classify(err, true)
		if !errors.Is(err, shared.ErrConflict) {
			return fmt.Errorf("create %s: %w", what, err)
		}
	}
	if perr := s.protectSecret(ctx, name, principals); perr != nil {
		return fmt.Errorf("create %s: %w", what, perr)
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", what, err)
	}
	return nil
}

func putKeySet(ctx context.Context, s *Store, name, what string, doc []byte) error {
	_, err := s.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:     aws.String(name),
		SecretString: aws.String(string(doc)),
	})
	if err != nil {
		return fmt.Errorf("put %s: %w", what, classify(err, true))
	}
	return nil
}
