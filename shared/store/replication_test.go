package store_test

import (
	"errors"
	"net"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
)

// closedEndpoint is a loopback URL where nothing listens: a region whose
// Secrets Manager is unreachable.
func closedEndpoint(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String()
	l.Close()
	return u
}

// unreachableSecrets is a Secrets Manager client of an unreachable region,
// without retries (the test need not wait through the SDK's backoff).
func unreachableSecrets(t *testing.T) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region:           "us-west-2",
		BaseEndpoint:     aws.String(closedEndpoint(t)),
		Credentials:      credentials.NewStaticCredentialsProvider("local", "local", ""),
		RetryMaxAttempts: 1,
	})
}

// TestSecretReplication (moto, whose Secrets Manager keeps each region
// apart and implements replicas as AWS documents them): with replica
// regions, the key set and a link's secret are created in the primary
// region and replicated at creation, so another region reads them from its
// own replica; the key set is read from the local replica first and from
// the primary region when the replica is unreachable, and the other way
// round; deleting a link removes its secret's replicas first (Secrets
// Manager refuses to delete a secret that still has replicas) and then the
// secret.
func TestSecretReplication(t *testing.T) {
	primary := storetest.MotoBackend(t)
	const west = "us-west-2"
	replica := primary.InRegion(t, west) // its Secrets Manager client is in us-west-2
	o := primary.Options
	o.SecretReplicaRegions = []string{west}
	keysName := o.SecretPrefix + "/signing-keys"
	t.Cleanup(func() {
		// Before storetest deletes the prefix's secrets in the primary
		// region, which it cannot do while they have replicas.
		_, _ = primary.SecretsManager.RemoveRegionsFromReplication(ctx(), &secretsmanager.RemoveRegionsFromReplicationInput{
			SecretId: aws.String(keysName), RemoveReplicaRegions: []string{west},
		})
	})

	// A function in us-west-2: the primary's client for writes, its own
	// region's for the key sets' reads.
	inWest := o
	inWest.LocalSecrets = replica.SecretsManager
	west1 := store.New(primary.DynamoDB, primary.SecretsManager, inWest)

	if _, err := west1.GetSigningKeys(ctx()); !errors.Is(err, shared.ErrNotFound) {
		t.Fatalf("GetSigningKeys before any: %v, want ErrNotFound", err)
	}
	doc := []byte(`{"keys":"the one key set"}`)
	if err := west1.CreateSigningKeys(ctx(), doc); err != nil {
		t.Fatalf("CreateSigningKeys: %v", err)
	}
	for region, sm := range map[string]*secretsmanager.Client{"primary": primary.SecretsManager, west: replica.SecretsManager} {
		out, err := sm.GetSecretValue(ctx(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(keysName)})
		if err != nil || aws.ToString(out.SecretString) != string(doc) {
			t.Errorf("the key set in %s: %v, %v; want it there", region, err, out)
		}
	}
	desc, err := primary.SecretsManager.DescribeSecret(ctx(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(keysName)})
	if err != nil || len(desc.ReplicationStatus) != 1 || aws.ToString(desc.ReplicationStatus[0].Region) != west {
		t.Errorf("the key set's replication: %v, %+v; want one replica in %s", err, desc, west)
	}

	// Both readers: the local replica down, then the primary down.
	for name, s := range map[string]*store.Store{
		"local replica unreachable": store.New(primary.DynamoDB, primary.SecretsManager,
			store.Options{TableName: o.TableName, SecretPrefix: o.SecretPrefix, LocalSecrets: unreachableSecrets(t)}),
		"primary unreachable": store.New(primary.DynamoDB, unreachableSecrets(t),
			store.Options{TableName: o.TableName, SecretPrefix: o.SecretPrefix, LocalSecrets: replica.SecretsManager}),
	} {
		if got, err := s.GetSigningKeys(ctx()); err != nil || string(got) != string(doc) {
			t.Errorf("%s: GetSigningKeys = %q, %v; want the key set", name, got, err)
		}
	}

	// A link's secret: replicated at creation, gone from both regions
	// with the link.
	withReplicas := store.New(primary.DynamoDB, primary.SecretsManager, o)
	in := newLink("")
	l, secret, err := withReplicas.CreateLink(ctx(), in, now())
	if err != nil {
		t.Fatalf("CreateLink: %v", err)
	}
	linkName := o.SecretPrefix + "/links/" + l.ClientID
	if _, err := replica.SecretsManager.GetSecretValue(ctx(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(linkName)}); err != nil {
		t.Fatalf("the link's secret in %s: %v", west, err)
	}
	if got, err := withReplicas.GetLinkSecret(ctx(), l.ID); err != nil || got.ClientSecret != secret {
		t.Errorf("GetLinkSecret = %+v, %v; want %q", got, err, secret)
	}
	if err := withReplicas.DeleteLink(ctx(), l.ID, now()); err != nil {
		t.Fatalf("DeleteLink of a link whose secret has a replica: %v", err)
	}
	for region, sm := range map[string]*secretsmanager.Client{"primary": primary.SecretsManager, west: replica.SecretsManager} {
		if _, err := sm.GetSecretValue(ctx(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(linkName)}); err == nil {
			t.Errorf("the deleted link's secret is still in %s", region)
		}
	}
}
