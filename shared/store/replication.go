package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/applinks/applinks/shared"
)

// replicaRemover is the Secrets Manager call that stops a secret's
// replication. The SDK's *secretsmanager.Client has it.
type replicaRemover interface {
	RemoveRegionsFromReplication(ctx context.Context, in *secretsmanager.RemoveRegionsFromReplicationInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.RemoveRegionsFromReplicationOutput, error)
}

// addReplicaRegions is the AddReplicaRegions of every CreateSecret: nil
// without Options.SecretReplicaRegions. Each replica is encrypted with
// Secrets Manager's AWS managed key of its region (a customer managed key
// is regional: the CDK app refuses one with several regions).
func (s *Store) addReplicaRegions() []smtypes.ReplicaRegionType {
	var out []smtypes.ReplicaRegionType
	for _, r := range s.replicaRegions {
		out = append(out, smtypes.ReplicaRegionType{Region: aws.String(r)})
	}
	return out
}

// removeReplicas removes the replicas of the secret name before it is
// deleted (Secrets Manager refuses to delete a secret that still has
// replicas). Its own failure is not the deletion's: a retry after a
// deletion that failed finds the replicas already gone (an error here),
// and the DeleteSecret that follows decides.
func (s *Store) removeReplicas(ctx context.Context, name string) error {
	if len(s.replicaRegions) == 0 {
		return nil
	}
	rr, ok := s.sm.(replicaRemover)
	if !ok {
		return fmt.Errorf("delete secret %s: the Secrets Manager client %T cannot remove its replicas", name, s.sm)
	}
	_, _ = rr.RemoveRegionsFromReplication(ctx, &secretsmanager.RemoveRegionsFromReplicationInput{
		SecretId:             aws.String(name),
		RemoveReplicaRegions: s.replicaRegions,
	})
	return nil
}

// getSecretString reads a secret's current value: from the local replica
// first when the store has one (Options.LocalSecrets), then from the
// primary region when the replica is missing (a secret created moments
// ago, not replicated yet) or unavailable. Errors are classified.
func (s *Store) getSecretString(ctx context.Context, name string) (string, error) {
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)}
	if s.local != nil {
		out, err := s.local.GetSecretValue(ctx, in)
		if err == nil {
			return aws.ToString(out.SecretString), nil
		}
		if err = classify(err, true); !errors.Is(err, shared.ErrNotFound) && !errors.Is(err, shared.ErrUnavailable) {
			return "", err
		}
	}
	out, err := s.sm.GetSecretValue(ctx, in)
	if err != nil {
		return "", classify(err, true)
	}
	return aws.ToString(out.SecretString), nil
}
