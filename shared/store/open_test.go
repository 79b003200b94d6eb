package store_test

import (
	"errors"
	"os"
	"strings"
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
// region and no credentials configured, and uses the environment's
// credentials and region when they are set. It runs on kumo and on moto,
// which keeps regions apart as AWS does: each case's table is made in the
// region Open then uses.
func TestOpen(t *testing.T) {
	for name, nb := range map[string]backendFunc{"kumo": storetest.KumoBackend, "moto": storetest.MotoBackend} {
		t.Run(name, func(t *testing.T) { testOpen(t, nb) })
	}
}

func testOpen(t *testing.T, nb backendFunc) {
	b := nb(t)
	dead := "http://127.0.0.1:1" // nothing listens: a client using it fails
	cases := []struct {
		name   string
		env    map[string]string
		cfg    config.Config
		region string // where Open looks: "" for the emulator default
	}{
		{"AWS_ENDPOINT_URL", map[string]string{"AWS_ENDPOINT_URL": b.DynamoDBEndpoint}, config.Config{}, ""},
		{"service-specific over general", map[string]string{
			"AWS_ENDPOINT_URL":                 dead,
			"AWS_ENDPOINT_URL_DYNAMODB":        b.DynamoDBEndpoint,
			"AWS_ENDPOINT_URL_SECRETS_MANAGER": b.SecretsManagerEndpoint,
		}, config.Config{}, ""},
		{"config EndpointURL", nil, config.Config{EndpointURL: b.DynamoDBEndpoint}, ""},
		{"service-specific over config", map[string]string{
			"AWS_ENDPOINT_URL_DYNAMODB":        b.DynamoDBEndpoint,
			"AWS_ENDPOINT_URL_SECRETS_MANAGER": b.SecretsManagerEndpoint,
		}, config.Config{EndpointURL: dead}, ""},
		{"environment credentials and region", map[string]string{
			"AWS_ENDPOINT_URL": b.DynamoDBEndpoint, "AWS_REGION": "eu-west-1",
			"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "session",
		}, config.Config{}, "eu-west-1"},
		{"AWS_DEFAULT_REGION", map[string]string{
			"AWS_ENDPOINT_URL": b.DynamoDBEndpoint, "AWS_DEFAULT_REGION": "ap-southeast-2",
		}, config.Config{}, "ap-southeast-2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cb := b
			if c.region != "" {
				cb = b.InRegion(t, c.region)
			}
			clearAWSEnv(t)
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			cfg := c.cfg
			cfg.TableName, cfg.SecretPrefix = cb.Options.TableName, cb.Options.SecretPrefix+"/"+c.name
			s, err := store.Open(ctx(), cfg)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if s.TableName() != cfg.TableName || s.SecretPrefix() != cfg.SecretPrefix {
				t.Errorf("Open names %q, %q, want %q, %q", s.TableName(), s.SecretPrefix(), cfg.TableName, cfg.SecretPrefix)
			}
			user := uniq("user")
			if err := s.CreateUser(ctx(), store.User{ID: uniq("uid"), Username: user, CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
				t.Fatalf("CreateUser through Open: %v", err)
			}
			if _, err := cb.Store().GetUserByName(ctx(), user); err != nil {
				t.Errorf("GetUser of %s from the table in %s: %v", user, cb.Region, err)
			}
			if _, err := s.GetSigningKeys(ctx()); !errors.Is(err, shared.ErrNotFound) {
				t.Errorf("GetSigningKeys through Open = %v, want ErrNotFound", err)
			}
		})
	}
}

// TestOpenWithoutEndpoint: against real AWS, Open reads the region and the
// credentials from the environment only, and says what is missing.
func TestOpenWithoutEndpoint(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		wantErr string // "" for success
	}{
		{"no region", map[string]string{"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret"}, "AWS_REGION"},
		{"no credentials", map[string]string{"AWS_REGION": "eu-west-1"}, "AWS_ACCESS_KEY_ID"},
		{"a profile is not read", map[string]string{"AWS_REGION": "eu-west-1", "AWS_PROFILE": "dev"}, "no credentials"},
		{"key id without secret", map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "id"}, "together"},
		{"Lambda's environment", map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "id",
			"AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token"}, ""},
		{"AWS_DEFAULT_REGION", map[string]string{"AWS_DEFAULT_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "id",
			"AWS_SECRET_ACCESS_KEY": "secret"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clearAWSEnv(t)
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			s, err := store.Open(ctx(), config.Config{TableName: "t", SecretPrefix: "p"})
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("Open: got %v, want no error", err)
			case c.wantErr == "" && s == nil:
				t.Fatal("Open: got a nil store and no error")
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("Open: got error %v, want one naming %q", err, c.wantErr)
			}
		})
	}
}

// TestOpenStoreTransactions: STORE_TRANSACTIONS=off (config
// StoreNoTransactions) reaches the store Open builds: a user's creation is
// then single writes, not the default's one transaction.
func TestOpenStoreTransactions(t *testing.T) {
	b := storetest.DynamoLocalBackend(t)
	for _, off := range []bool{false, true} {
		cfg := config.Config{EndpointURL: b.DynamoDBEndpoint, TableName: b.Options.TableName, SecretPrefix: b.Options.SecretPrefix,
			StoreNoTransactions: off}
		s, err := store.Open(ctx(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		c := &storetest.CountingDynamoDB{}
		s = s.WithDynamoDB(func(db store.DynamoDB) store.DynamoDB { c.Next = db; return c })
		if err := s.CreateUser(ctx(), store.User{ID: uniq("uid"), Username: uniq("alice"), CreatedAt: now(), UpdatedAt: now()}); err != nil {
			t.Fatalf("off %v: CreateUser: %v", off, err)
		}
		if tx, want := c.Calls()["TransactWriteItems"], map[bool]int{false: 1, true: 0}[off]; tx != want || (off && c.Calls()["PutItem"] != 2) {
			t.Errorf("off %v: calls %v, want %d transactions", off, c.Calls(), want)
		}
	}
}
