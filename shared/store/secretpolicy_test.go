package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
)

const (
	adminRole    = "arn:aws:iam::111111111111:role/applinks-dev-AdminFunctionServiceRole-A1"
	tokenRole    = "arn:aws:iam::111111111111:role/applinks-dev-TokenFunctionServiceRole-T1"
	operatorRole = "arn:aws:iam::111111111111:role/ops/applinks-operator"
)

// TestSecretPolicyDocument: the policy denies every Secrets Manager action
// to every principal whose ARN is not one of the list, and allows nothing.
func TestSecretPolicyDocument(t *testing.T) {
	doc, err := store.SecretPolicy([]string{adminRole, operatorRole})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(doc), &got); err != nil {
		t.Fatalf("policy %s: %v", doc, err)
	}
	want := map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Sid":       "DenyAllButTheProvider",
			"Effect":    "Deny",
			"Principal": "*",
			"Action":    "secretsmanager:*",
			"Resource":  "*",
			"Condition": map[string]any{
				"StringNotEquals": map[string]any{"aws:PrincipalArn": []any{adminRole, operatorRole}},
			},
		}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("policy:\n got %v\nwant %v", got, want)
	}
	for _, bad := range [][]string{nil, {}, {""}, {"arn:aws:iam::111111111111:role/*"}, {adminRole, "arn:aws:iam::111111111111:role/a?"}} {
		if doc, err := store.SecretPolicy(bad); err == nil {
			t.Errorf("SecretPolicy(%q): got %s, want an error", bad, doc)
		}
	}
}

// policyOf returns the resource policy of the secret name ("" for none),
// compacted.
func policyOf(t *testing.T, b storetest.Backend, name string) string {
	t.Helper()
	out, err := b.SecretsManager.GetResourcePolicy(context.Background(), &secretsmanager.GetResourcePolicyInput{SecretId: aws.String(name)})
	if err != nil {
		t.Fatalf("GetResourcePolicy %s: %v", name, err)
	}
	p := aws.ToString(out.ResourcePolicy)
	if p == "" {
		return ""
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(p)); err != nil {
		t.Fatalf("policy of %s: %v: %s", name, err, p)
	}
	return buf.String()
}

// kmsKeyOf returns the KmsKeyId DescribeSecret reports for name.
func kmsKeyOf(t *testing.T, b storetest.Backend, name string) string {
	t.Helper()
	out, err := b.SecretsManager.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeSecret %s: %v", name, err)
	}
	return aws.ToString(out.KmsKeyId)
}

// secretEngines are the engines whose Secrets Manager the store meets:
// moto's (make test-localstack, and LocalStack) and kumo's (make run, and
// the DynamoDB Local backend's secrets). Both implement PutResourcePolicy
// and GetResourcePolicy (moto 5.2.1, kumo v0.33.1).
func secretEngines() map[string]backendFunc {
	if len(engines()) == 1 {
		return engines() // AWS_ENDPOINT_URL
	}
	return map[string]backendFunc{"moto": storetest.MotoBackend, "kumo": storetest.KumoBackend}
}

// TestSecretProtection: with principals configured, every secret the store
// creates (a link's, the signing keys) carries the resource policy that
// leaves it to them, from its creation; the signing keys' policy is
// attached on a lost creation race too; without principals, no policy.
func TestSecretProtection(t *testing.T) {
	t.Parallel()
	for name, nb := range secretEngines() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := nb(t)
			p := store.SecretProtection{
				LinkPrincipals:       []string{adminRole, operatorRole},
				SigningKeyPrincipals: []string{tokenRole, adminRole, operatorRole},
			}
			st, err := b.Store().WithSecretProtection(p)
			if err != nil {
				t.Fatal(err)
			}
			linkPolicy, _ := store.SecretPolicy(p.LinkPrincipals)
			keysPolicy, _ := store.SecretPolicy(p.SigningKeyPrincipals)

			l, _, err := st.CreateLink(ctx(), newLink(""), now())
			if err != nil {
				t.Fatalf("CreateLink: %v", err)
			}
			if got := policyOf(t, b, b.Options.SecretPrefix+"/links/"+l.ClientID); got != linkPolicy {
				t.Errorf("link secret policy:\n got %s\nwant %s", got, linkPolicy)
			}
			// A public link has no secret, and so nothing to protect.
			pub := newLink("")
			pub.ClientType, pub.Secret = store.Public, ""
			if _, _, err := st.CreateLink(ctx(), pub, now()); err != nil {
				t.Fatalf("CreateLink public: %v", err)
			}

			if err := st.CreateSigningKeys(ctx(), []byte(`{"keys":[]}`)); err != nil {
				t.Fatalf("CreateSigningKeys: %v", err)
			}
			keysName := b.Options.SecretPrefix + "/signing-keys"
			if got := policyOf(t, b, keysName); got != keysPolicy {
				t.Errorf("signing-key secret policy:\n got %s\nwant %s", got, keysPolicy)
			}

			// Without principals nothing is attached.
			b2 := nb(t)
			plain, err := b2.Store().WithSecretProtection(store.SecretProtection{})
			if err != nil {
				t.Fatal(err)
			}
			l2, _, err := plain.CreateLink(ctx(), newLink(""), now())
			if err != nil {
				t.Fatalf("CreateLink: %v", err)
			}
			if got := policyOf(t, b2, b2.Options.SecretPrefix+"/links/"+l2.ClientID); got != "" {
				t.Errorf("link secret without principals: got policy %s, want none", got)
			}
			if err := plain.CreateSigningKeys(ctx(), []byte(`{"keys":[]}`)); err != nil {
				t.Fatalf("CreateSigningKeys: %v", err)
			}
			if got := policyOf(t, b2, b2.Options.SecretPrefix+"/signing-keys"); got != "" {
				t.Errorf("signing keys without principals: got policy %s, want none", got)
			}
			// A creator that stopped before the policy (here: one without
			// protection) lost the race to a protected instance: that one
			// gets ErrConflict, and the secret its policy.
			protected, err := b2.Store().WithSecretProtection(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := protected.CreateSigningKeys(ctx(), []byte(`{"keys":[]}`)); !errors.Is(err, shared.ErrConflict) {
				t.Fatalf("CreateSigningKeys after another's: got %v, want ErrConflict", err)
			}
			if got := policyOf(t, b2, b2.Options.SecretPrefix+"/signing-keys"); got != keysPolicy {
				t.Errorf("signing-key secret policy after the lost race:\n got %s\nwant %s", got, keysPolicy)
			}
		})
	}
}

// TestSecretKMSKey: with a KMS key configured, the store creates its
// secrets with it (KmsKeyId), and without one with none (aws/secretsmanager).
// moto records the key without checking that it exists.
func TestSecretKMSKey(t *testing.T) {
	t.Parallel()
	const key = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	b := storetest.MotoBackend(t)
	st, err := b.Store().WithSecretProtection(store.SecretProtection{KMSKey: key})
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := st.CreateLink(ctx(), newLink(""), now())
	if err != nil {
		t.Fatalf("CreateLink: %v", err)
	}
	if err := st.CreateSigningKeys(ctx(), []byte(`{"keys":[]}`)); err != nil {
		t.Fatalf("CreateSigningKeys: %v", err)
	}
	for _, name := range []string{b.Options.SecretPrefix + "/links/" + l.ClientID, b.Options.SecretPrefix + "/signing-keys"} {
		if got := kmsKeyOf(t, b, name); got != key {
			t.Errorf("%s: KmsKeyId got %q, want %q", name, got, key)
		}
	}
	b2 := storetest.MotoBackend(t)
	l2, _, err := b2.Store().CreateLink(ctx(), newLink(""), now())
	if err != nil {
		t.Fatalf("CreateLink: %v", err)
	}
	if got := kmsKeyOf(t, b2, b2.Options.SecretPrefix+"/links/"+l2.ClientID); got == key {
		t.Errorf("without a key: KmsKeyId got %q, want the default", got)
	}
}

// policySM is the engine's Secrets Manager client whose PutResourcePolicy
// answers err instead.
type policySM struct {
	*secretsmanager.Client
	err error
}

func (p policySM) PutResourcePolicy(context.Context, *secretsmanager.PutResourcePolicyInput, ...func(*secretsmanager.Options)) (*secretsmanager.PutResourcePolicyOutput, error) {
	return nil, p.err
}

// TestSecretProtectionFailures: an engine without PutResourcePolicy (an
// emulator) gets one log line and the secret; any other failure to attach
// the policy fails the creation, and a link's secret is deleted again.
func TestSecretProtectionFailures(t *testing.T) {
	t.Parallel()
	p := store.SecretProtection{LinkPrincipals: []string{adminRole}, SigningKeyPrincipals: []string{tokenRole}}

	t.Run("unsupported", func(t *testing.T) {
		b := storetest.MotoBackend(t)
		var logs bytes.Buffer
		prev := slog.Default()
		slog.SetDefault(slog.New(slog.NewJSONHandler(&logs, nil)))
		t.Cleanup(func() { slog.SetDefault(prev) })
		sm := policySM{b.SecretsManager, &smithy.GenericAPIError{Code: "UnknownOperationException", Message: "not implemented"}}
		st, err := store.New(b.DynamoDB, sm, b.Options).WithSecretProtection(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.CreateLink(ctx(), newLink(""), now()); err != nil {
			t.Fatalf("CreateLink: %v", err)
		}
		lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], "PutResourcePolicy") || !strings.Contains(lines[0], "UnknownOperationException") {
			t.Errorf("got logs %q, want one line naming PutResourcePolicy and the error code", logs.String())
		}
	})

	t.Run("denied", func(t *testing.T) {
		b := storetest.MotoBackend(t)
		sm := policySM{b.SecretsManager, &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "no"}}
		st, err := store.New(b.DynamoDB, sm, b.Options).WithSecretProtection(p)
		if err != nil {
			t.Fatal(err)
		}
		in := newLink("")
		if _, _, err := st.CreateLink(ctx(), in, now()); err == nil || !strings.Contains(err.Error(), "resource policy") {
			t.Fatalf("CreateLink: got %v, want the policy's failure", err)
		}
		// The unprotected secret is gone, and so is the link.
		_, err = b.SecretsManager.DescribeSecret(ctx(), &secretsmanager.DescribeSecretInput{
			SecretId: aws.String(b.Options.SecretPrefix + "/links/" + in.ClientID),
		})
		if err == nil {
			t.Errorf("the link's secret is still there after the failed creation")
		}
		if _, err := st.GetLink(ctx(), in.ClientID); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("GetLink: got %v, want ErrNotFound", err)
		}
		err = st.CreateSigningKeys(ctx(), []byte(`{"keys":[]}`))
		if err == nil || errors.Is(err, shared.ErrConflict) {
			t.Errorf("CreateSigningKeys: got %v, want a failure that is not ErrConflict", err)
		}
	})

	t.Run("client without the call", func(t *testing.T) {
		b := storetest.MotoBackend(t)
		sm := &faultySM{SecretsManager: b.SecretsManager}
		if _, err := store.New(b.DynamoDB, sm, b.Options).WithSecretProtection(p); err == nil {
			t.Errorf("WithSecretProtection on a client without PutResourcePolicy: got nil, want an error")
		}
		if _, err := store.New(b.DynamoDB, sm, b.Options).WithSecretProtection(store.SecretProtection{KMSKey: "alias/x"}); err != nil {
			t.Errorf("WithSecretProtection without principals: got %v, want nil", err)
		}
	})
}

// TestGetConfigSecret: a secret of the deployment's configuration is read
// by name; a missing one is ErrNotFound, an empty one an error.
func TestGetConfigSecret(t *testing.T) {
	t.Parallel()
	b := storetest.MotoBackend(t)
	name := b.Options.SecretPrefix + "/origin-verify"
	if _, err := b.SecretsManager.CreateSecret(ctx(), &secretsmanager.CreateSecretInput{
		Name: aws.String(name), SecretString: aws.String("v4lue"),
	}); err != nil {
		t.Fatal(err)
	}
	st := b.Store()
	if got, err := st.GetConfigSecret(ctx(), name); err != nil || got != "v4lue" {
		t.Errorf("GetConfigSecret: got %q, %v; want v4lue", got, err)
	}
	if _, err := st.GetConfigSecret(ctx(), name+"-missing"); !errors.Is(err, shared.ErrNotFound) {
		t.Errorf("missing: got %v, want ErrNotFound", err)
	}
}
