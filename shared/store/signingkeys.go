package store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
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

// CreateSigningKeys creates the signing-key secret with doc; ErrConflict
// when it already exists (another instance won the race: read it instead).
func (s *Store) CreateSigningKeys(ctx context.Context, doc []byte) error {
	_, err := s.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(s.signingKeysName()),
		SecretString: aws.String(string(doc)),
		Description:  aws.String("token-signing keys of the authorization server"),
	})
	if err != nil {
		return fmt.Errorf("create signing keys: %w", classify(err, true))
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
