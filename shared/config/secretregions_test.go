package config

import "testing"

// TestSecretRegions: SECRET_PRIMARY_REGION and SECRET_REPLICA_REGIONS are
// region names, the replicas distinct and other than the primary, and
// replicas need a primary.
func TestSecretRegions(t *testing.T) {
	good, err := FromEnv(env(map[string]string{
		"SECRET_PRIMARY_REGION": "us-east-1", "SECRET_REPLICA_REGIONS": " us-east-2, us-west-2 ,",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if good.SecretPrimaryRegion != "us-east-1" || len(good.SecretReplicaRegions) != 2 ||
		good.SecretReplicaRegions[0] != "us-east-2" || good.SecretReplicaRegions[1] != "us-west-2" {
		t.Errorf("got primary %q, replicas %q", good.SecretPrimaryRegion, good.SecretReplicaRegions)
	}
	none, err := FromEnv(env(nil))
	if err != nil || none.SecretPrimaryRegion != "" || none.SecretReplicaRegions != nil {
		t.Errorf("default: %q %q %v, want none", none.SecretPrimaryRegion, none.SecretReplicaRegions, err)
	}
	for _, c := range []struct{ primary, replicas, want string }{
		{"US-EAST-1", "", `SECRET_PRIMARY_REGION: "US-EAST-1" is not a region name`},
		{"us-east-1", "us-east-2,arn:aws", `SECRET_REPLICA_REGIONS: "arn:aws" is not a region name`},
		{"us-east-1", "us-east-1", `SECRET_REPLICA_REGIONS: "us-east-1" is the primary region (SECRET_PRIMARY_REGION)`},
		{"us-east-1", "us-east-2,us-east-2", `SECRET_REPLICA_REGIONS: "us-east-2" is listed twice`},
		{"", "us-east-2", "SECRET_REPLICA_REGIONS needs SECRET_PRIMARY_REGION (the region that holds the secrets they replicate)"},
	} {
		_, err := FromEnv(env(map[string]string{"SECRET_PRIMARY_REGION": c.primary, "SECRET_REPLICA_REGIONS": c.replicas}))
		if err == nil || err.Error() != c.want {
			t.Errorf("%q, %q: got %v, want %s", c.primary, c.replicas, err, c.want)
		}
	}
}
