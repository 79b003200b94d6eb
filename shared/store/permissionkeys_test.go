package store_test

import (
	"errors"
	"testing"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
)

// TestPermissionKeySecret: the permission-request key set is a secret of
// its own, <prefix>/permission-request-keys, apart from the token-signing
// keys; created once (a second creation is ErrConflict), with the resource
// policy of PermissionKeyPrincipals (the functions that ask the permission
// service) from its creation, attached on a lost race too, and with the
// configured KMS key.
func TestPermissionKeySecret(t *testing.T) {
	t.Parallel()
	const authorizeRole = "arn:aws:iam::111111111111:role/applinks-dev-AuthorizeFunctionServiceRole-Z1"
	for name, nb := range secretEngines() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := nb(t)
			p := store.SecretProtection{
				SigningKeyPrincipals:    []string{tokenRole, adminRole, operatorRole},
				PermissionKeyPrincipals: []string{tokenRole, authorizeRole, operatorRole},
			}
			st, err := b.Store().WithSecretProtection(p)
			if err != nil {
				t.Fatal(err)
			}
			keys := st.PermissionRequestKeys()
			if _, err := keys.GetSigningKeys(ctx()); !errors.Is(err, shared.ErrNotFound) {
				t.Fatalf("before creation: got %v, want ErrNotFound", err)
			}
			if err := keys.CreateSigningKeys(ctx(), []byte(`{"version":1}`)); err != nil {
				t.Fatalf("CreateSigningKeys: %v", err)
			}
			if _, err := st.GetSigningKeys(ctx()); !errors.Is(err, shared.ErrNotFound) {
				t.Errorf("the token-signing keys: got %v, want ErrNotFound (another secret)", err)
			}
			if err := keys.PutSigningKeys(ctx(), []byte(`{"version":2}`)); err != nil {
				t.Fatalf("PutSigningKeys: %v", err)
			}
			if got, err := keys.GetSigningKeys(ctx()); err != nil || string(got) != `{"version":2}` {
				t.Errorf("GetSigningKeys: got %s, %v", got, err)
			}
			name := b.Options.SecretPrefix + "/permission-request-keys"
			want, _ := store.SecretPolicy(p.PermissionKeyPrincipals)
			if got := policyOf(t, b, name); got != want {
				t.Errorf("policy:\n got %s\nwant %s", got, want)
			}

			// A creator without protection won the race: the protected
			// loser gets ErrConflict and attaches the policy.
			b2 := nb(t)
			plain, err := b2.Store().WithSecretProtection(store.SecretProtection{})
			if err != nil {
				t.Fatal(err)
			}
			if err := plain.PermissionRequestKeys().CreateSigningKeys(ctx(), []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
			name = b2.Options.SecretPrefix + "/permission-request-keys"
			if got := policyOf(t, b2, name); got != "" {
				t.Errorf("without principals: got policy %s, want none", got)
			}
			protected, err := b2.Store().WithSecretProtection(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := protected.PermissionRequestKeys().CreateSigningKeys(ctx(), []byte(`{}`)); !errors.Is(err, shared.ErrConflict) {
				t.Fatalf("second creation: got %v, want ErrConflict", err)
			}
			if got := policyOf(t, b2, name); got != want {
				t.Errorf("policy after the lost race:\n got %s\nwant %s", got, want)
			}
		})
	}
	// The KMS key (moto records it).
	const key = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	if len(engines()) == 1 {
		return // AWS_ENDPOINT_URL: no moto of our own
	}
	b := secretEngines()["moto"](t)
	st, err := b.Store().WithSecretProtection(store.SecretProtection{KMSKey: key})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PermissionRequestKeys().CreateSigningKeys(ctx(), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if got := kmsKeyOf(t, b, b.Options.SecretPrefix+"/permission-request-keys"); got != key {
		t.Errorf("KMS key: got %q, want %q", got, key)
	}
}
