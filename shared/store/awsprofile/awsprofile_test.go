package awsprofile_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/awsprofile"
	"github.com/applinks/applinks/shared/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// isolate points the SDK at files under a fresh directory and clears every
// AWS variable it would read.
func isolate(t *testing.T) string {
	t.Helper()
	for _, v := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return dir
}

// TestOpenProfile: the region and the credentials come from a named
// profile's files (which store.Open does not read), the endpoints from the
// service-specific variables.
func TestOpenProfile(t *testing.T) {
	b := storetest.KumoBackend(t)
	dir := isolate(t)
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("config", "[profile dev]\nregion = us-east-1\n")
	write("credentials", "[dev]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = secret\n")
	t.Setenv("AWS_PROFILE", "dev")
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", b.DynamoDBEndpoint)
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", b.SecretsManagerEndpoint)
	cfg := config.Config{TableName: b.Options.TableName, SecretPrefix: b.Options.SecretPrefix}

	s, err := awsprofile.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	now := time.Now()
	if err := s.CreateUser(context.Background(), store.User{ID: "uid-profile-user", Username: "profile-user", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatalf("CreateUser through Open: %v", err)
	}
}

// TestOpenNoRegion: a configuration without a region is refused before any
// call.
func TestOpenNoRegion(t *testing.T) {
	isolate(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "id")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	_, err := awsprofile.Open(context.Background(), config.Config{TableName: "t"})
	if err == nil || !strings.Contains(err.Error(), "no region") {
		t.Fatalf("Open: got %v, want a no-region error", err)
	}
}
