package store

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/applinks/applinks/shared"
)

// TestEnvConfig: the region, the credentials and the retryer Open builds
// from the environment.
func TestEnvConfig(t *testing.T) {
	cases := []struct {
		name                 string
		env                  map[string]string
		general              string // cfg.EndpointURL
		wantRegion           string
		wantKey, wantSession string
	}{
		{"Lambda", map[string]string{"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-west-2",
			"AWS_ACCESS_KEY_ID": "ASIAX", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "tok"}, "", "eu-west-1", "ASIAX", "tok"},
		{"default region", map[string]string{"AWS_DEFAULT_REGION": "us-west-2",
			"AWS_ACCESS_KEY_ID": "AKIAX", "AWS_SECRET_ACCESS_KEY": "s"}, "", "us-west-2", "AKIAX", ""},
		{"emulator by config", nil, "http://127.0.0.1:4566", localRegion, "local", ""},
		{"emulator by AWS_ENDPOINT_URL", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}, "", localRegion, "local", ""},
		{"emulator for one service", map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000"}, "", localRegion, "local", ""},
		{"emulator with a region and credentials", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
			"AWS_REGION": "eu-central-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}, "", "eu-central-1", "test", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := envConfig(func(k string) string { return c.env[k] }, c.general)
			if err != nil {
				t.Fatalf("envConfig: %v", err)
			}
			if cfg.Region != c.wantRegion {
				t.Errorf("got region %q, want %q", cfg.Region, c.wantRegion)
			}
			creds, err := cfg.Credentials.Retrieve(context.Background())
			if err != nil {
				t.Fatalf("Retrieve: %v", err)
			}
			if creds.AccessKeyID != c.wantKey || creds.SessionToken != c.wantSession {
				t.Errorf("got key %q session %q, want %q %q", creds.AccessKeyID, creds.SessionToken, c.wantKey, c.wantSession)
			}
			if cfg.Retryer == nil || cfg.Retryer().MaxAttempts() != 3 {
				t.Error("got no retryer or not the standard one (3 attempts), want the standard one")
			}
		})
	}
}

// TestEndpoint: the service-specific variable wins over the general one,
// which is cfg.EndpointURL, else AWS_ENDPOINT_URL.
func TestEndpoint(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		general string
		want    string
	}{
		{"none", nil, "", ""},
		{"AWS_ENDPOINT_URL", map[string]string{"AWS_ENDPOINT_URL": "http://a"}, "", "http://a"},
		{"config", map[string]string{"AWS_ENDPOINT_URL": "http://a"}, "http://c", "http://c"},
		{"service over config", map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": "http://d"}, "http://c", "http://d"},
		{"other service ignored", map[string]string{"AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://s"}, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := endpoint(func(k string) string { return c.env[k] }, "AWS_ENDPOINT_URL_DYNAMODB", c.general); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// TestNotFoundOnConflictInFlight: a link update refused by a transaction
// in flight is unavailable (retry), not "not found"; a failed condition
// still is.
func TestNotFoundOnConflictInFlight(t *testing.T) {
	if err := notFoundOnConflict(ErrTransactionConflict); !errors.Is(err, shared.ErrUnavailable) || errors.Is(err, shared.ErrNotFound) {
		t.Errorf("in flight: got %v, want ErrUnavailable and not ErrNotFound", err)
	}
	if err := notFoundOnConflict(fmt.Errorf("condition: %w", shared.ErrConflict)); !errors.Is(err, shared.ErrNotFound) {
		t.Errorf("failed condition: got %v, want ErrNotFound", err)
	}
}
