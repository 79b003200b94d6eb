package store_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
)

// clearAWSEnv removes every AWS setting the default chain would read, so
// Open's emulator defaults (region, dummy credentials) are what is tested.
func clearAWSEnv(t *testing.T) {
	t.Helper()
	for _, v := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// TestOpen: Open finds emulators through the endpoint variables with no
// region and no credentials configured.
func TestOpen(t *testing.T) {
	b := storetest.KumoBackend(t)
	dead := "http://127.0.0.1:1" // nothing listens: a client using it fails
	cases := []struct {
		name string
		env  map[string]string
		cfg  config.Config
	}{
		{"AWS_ENDPOINT_URL", map[string]string{"AWS_ENDPOINT_URL": b.DynamoDBEndpoint}, config.Config{}},
		{"service-specific over general", map[string]string{
			"AWS_ENDPOINT_URL":                 dead,
			"AWS_ENDPOINT_URL_DYNAMODB":        b.DynamoDBEndpoint,
			"AWS_ENDPOINT_URL_SECRETS_MANAGER": b.SecretsManagerEndpoint,
		}, config.Config{}},
		{"config EndpointURL", nil, config.Config{EndpointURL: b.DynamoDBEndpoint}},
		{"service-specific over config", map[string]string{
			"AWS_ENDPOINT_URL_DYNAMODB":        b.DynamoDBEndpoint,
			"AWS_ENDPOINT_URL_SECRETS_MANAGER": b.SecretsManagerEndpoint,
		}, config.Config{EndpointURL: dead}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clearAWSEnv(t)
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			cfg := c.cfg
			cfg.TableName, cfg.SecretPrefix = b.Options.TableName, b.Options.SecretPrefix+"/"+c.name
			s, err := store.Open(ctx(), cfg)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if s.TableName() != cfg.TableName || s.SecretPrefix() != cfg.SecretPrefix {
				t.Errorf("Open names %q, %q, want %q, %q", s.TableName(), s.SecretPrefix(), cfg.TableName, cfg.SecretPrefix)
			}
			user := uniq("user")
			if err := s.CreateUser(ctx(), store.User{Username: user, CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
				t.Fatalf("CreateUser through Open: %v", err)
			}
			if _, err := s.GetSigningKeys(ctx()); !errors.Is(err, shared.ErrNotFound) {
				t.Errorf("GetSigningKeys through Open = %v, want ErrNotFound", err)
			}
		})
	}
}
