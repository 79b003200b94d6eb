package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/applinks/applinks/shared"
)

func (s *Store) signingKeysName() string { return s.prefix + "/signing-keys" }

// GetSigningKeys reads the signing-key set document (ErrNotFound when none
// exists yet).
func (s *Store) GetSigningKeys(ctx context.Context) ([]byte, error) {
	out, err := s.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.signingKeysName())})
	if err != nil {
		return nil, fmt.Errorf("get signing keys: %w", classify(err, true))
	}
	return []byte(aws.ToString(out.SecretString)), nil
}

// CreateSigningKeys creates the signing-key secret with doc, and attaches
// its resource policy (WithSecretProtection); ErrConflict when it already
// exists (another instance won the race: read it instead). The policy is
// attached on a conflict too (the same document), so that a creator that
// stopped between the two calls leaves no unprotected key behind; a
// failure to attach it is an error, not ErrConflict, so the key is not
// used until it is protected.
func (s *Store) CreateSigningKeys(ctx context.Context, doc []byte) error {
	_, err := s.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(s.signingKeysName()),
		SecretString: aws.String(string(doc)),
		Description:  aws.String("token-signing keys of the authorization server"),
		KmsKeyId:     s.secretKMSKey(),
	})
	if err != nil {
		err = classify(err, true)
		if !errors.Is(err, shared.ErrConflict) {
			return fmt.Errorf("create signing keys: %w", err)
		}
	}
	if perr := s.protectSecret(ctx, s.signingKeysName(), s.signingKeyPrincipals()); perr != nil {
		return fmt.Errorf("create signing keys: %w", perr)
	}
	if err != nil {
		return fmt.Errorf("create signing keys: %w", err)
	}
	return nil
}

// PutSigningKeys replaces the signing-key set document (rotation).
func (s *Store) PutSigningKeys(ctx context.Context, doc []byte) error {
	_, err := s.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:     aws.String(s.signingKeysName()),
		SecretString: aws.String(string(doc)),
	})
	if err != nil {
		return fmt.Errorf("put signing keys: %w", classify(err, true))
	}
	return nil
}
