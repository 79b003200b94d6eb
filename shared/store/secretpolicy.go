package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
)

// SecretProtection is how the store protects the secrets it creates (the
// link secrets and the signing-key secret): who alone may use them, and
// the KMS key that encrypts them. The zero value protects nothing beyond
// IAM and encrypts with Secrets Manager's AWS managed key, as in local
// runs.
type SecretProtection struct {
	// LinkPrincipals and SigningKeyPrincipals are the IAM principal ARNs
	// (the functions' roles and an operator role) that alone may use the
	// link secrets and the signing-key secret: right after creating such a
	// secret, the store attaches a resource policy that denies every other
	// principal (SecretPolicy). Empty: no policy.
	LinkPrincipals       []string
	SigningKeyPrincipals []string
	// PermissionKeyPrincipals likewise for the permission-request key
	// secret (PermissionRequestKeys).
	PermissionKeyPrincipals []string
	// IdentityProviderPrincipals are the same for the client secrets of
	// the upstream identity providers.
	IdentityProviderPrincipals []string
	// KMSKey is the KMS key (ARN, key id or alias) new secrets are
	// encrypted with; "" for aws/secretsmanager.
	KMSKey string
}

// resourcePolicies is the Secrets Manager call that attaches a resource
// policy. The SDK's *secretsmanager.Client has it.
type resourcePolicies interface {
	PutResourcePolicy(ctx context.Context, in *secretsmanager.PutResourcePolicyInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutResourcePolicyOutput, error)
}

// secretProtection is a store's SecretProtection with the client that
// attaches the policies.
type secretProtection struct {
	SecretProtection
	sm resourcePolicies
}

// WithSecretProtection returns a store on the same table and secrets that
// protects the secrets it creates as p says. It fails when p names
// principals but the store's Secrets Manager client cannot attach
// resource policies, or when a principal cannot stand in a policy.
func (s *Store) WithSecretProtection(p SecretProtection) (*Store, error) {
	c := *s
	sp := &secretProtection{SecretProtection: p}
	if len(p.LinkPrincipals) > 0 || len(p.SigningKeyPrincipals) > 0 || len(p.PermissionKeyPrincipals) > 0 ||
		len(p.IdentityProviderPrincipals) > 0 {
		rp, ok := s.sm.(resourcePolicies)
		if !ok {
			return nil, fmt.Errorf("secret protection: the Secrets Manager client %T cannot attach resource policies", s.sm)
		}
		sp.sm = rp
		for _, l := range [][]string{p.LinkPrincipals, p.SigningKeyPrincipals, p.PermissionKeyPrincipals, p.IdentityProviderPrincipals} {
			if len(l) == 0 {
				continue
			}
			if _, err := SecretPolicy(l); err != nil {
				return nil, fmt.Errorf("secret protection: %w", err)
			}
		}
	}
	c.secrets = sp
	return &c, nil
}

// SecretPolicy is the resource policy that leaves a secret to principals
// alone: one statement that denies every Secrets Manager action on the
// secret to any principal whose ARN (aws:PrincipalArn: a role's ARN also
// when the role is assumed) is not one of them. It grants nothing: the
// principals still need their own IAM permissions. principals must not be
// empty (a policy that denies everyone locks the secret away).
func SecretPolicy(principals []string) (string, error) {
	if len(principals) == 0 {
		return "", errors.New("a secret policy needs at least one principal")
	}
	for _, p := range principals {
		if p == "" || strings.ContainsAny(p, "*?") {
			return "", fmt.Errorf("principal %q: an exact ARN is needed (the policy compares ARNs exactly)", p)
		}
	}
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Sid":       "DenyAllButTheProvider",
			"Effect":    "Deny",
			"Principal": "*",
			"Action":    "secretsmanager:*",
			"Resource":  "*",
			"Condition": map[string]any{
				"StringNotEquals": map[string]any{"aws:PrincipalArn": principals},
			},
		}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// secretKMSKey is the KmsKeyId of a CreateSecret: nil for Secrets
// Manager's AWS managed key.
func (s *Store) secretKMSKey() *string {
	if s.secrets == nil || s.secrets.KMSKey == "" {
		return nil
	}
	return aws.String(s.secrets.KMSKey)
}

// linkPrincipals and signingKeyPrincipals are the principals of the
// policies of the link secrets and of the signing-key secret (none: no
// policy).
func (s *Store) linkPrincipals() []string {
	if s.secrets == nil {
		return nil
	}
	return s.secrets.LinkPrincipals
}

func (s *Store) idpPrincipals() []string {
	if s.secrets == nil {
		return nil
	}
	return s.secrets.IdentityProviderPrincipals
}

func (s *Store) signingKeyPrincipals() []string {
	if s.secrets == nil {
		return nil
	}
	return s.secrets.SigningKeyPrincipals
}

func (s *Store) permissionKeyPrincipals() []string {
	if s.secrets == nil {
		return nil
	}
	return s.secrets.PermissionKeyPrincipals
}

// protectSecret attaches SecretPolicy(principals) to the secret name, right
// after it was created; nothing without principals. Where the engine lacks
// PutResourcePolicy (an emulator), it logs one line and succeeds, so that
// a local run goes on; on AWS the call always exists, and any failure is
// an error (the caller then does not use the unprotected secret).
func (s *Store) protectSecret(ctx context.Context, name string, principals []string) error {
	if len(principals) == 0 {
		return nil
	}
	doc, err := SecretPolicy(principals)
	if err != nil {
		return fmt.Errorf("resource policy of %s: %w", name, err)
	}
	_, err = s.secrets.sm.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{
		SecretId:       aws.String(name),
		ResourcePolicy: aws.String(doc),
		// Refuse a policy that would open the secret to other accounts
		// (this one only denies; the check guards later edits).
		BlockPublicPolicy: aws.Bool(true),
	})
	if err == nil {
		return nil
	}
	if code, ok := unsupportedOperation(err); ok {
		slog.Warn("secret resource policy not attached: the Secrets Manager endpoint lacks PutResourcePolicy",
			"secret", name, "code", code)
		return nil
	}
	return fmt.Errorf("attach the resource policy of %s: %w", name, classify(err, true))
}

// unsupportedOperation reports whether err is an endpoint's answer that it
// does not implement the operation (emulators), with the error code.
func unsupportedOperation(err error) (string, bool) {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return "", false
	}
	switch c := ae.ErrorCode(); c {
	case "UnknownOperationException", "UnknownOperation", "InvalidAction", "NotImplemented",
		"NotImplementedException", "UnsupportedOperation", "UnsupportedOperationException":
		return c, true
	}
	return "", false
}

// GetConfigSecret reads the string value of a secret the deployment
// created for the functions' own configuration (by name or ARN), such as
// the origin-verify value CloudFront sends (config ORIGIN_VERIFY_SECRET).
// An empty value is an error.
func (s *Store) GetConfigSecret(ctx context.Context, id string) (string, error) {
	out, err := s.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		return "", fmt.Errorf("read secret %s: %w", id, classify(err, true))
	}
	v := aws.ToString(out.SecretString)
	if v == "" {
		return "", fmt.Errorf("read secret %s: its value is empty", id)
	}
	return v, nil
}
