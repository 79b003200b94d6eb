// Package config reads the provider's configuration from the environment
// (SPEC "Configuration"). It is the one place configuration is parsed; every
// binary calls FromEnv and stops with its one-line error.
package config

import (
	"time"

	"github.com/applinks/applinks/shared"
)

// Config is the validated configuration.
type Config struct {
	// Issuer is ISSUER_URL: scheme and host, no path, no trailing slash.
	// Default http://127.0.0.1:8080.
	Issuer string
	// ListenAddr is LISTEN_ADDR for the local runner (default 127.0.0.1:8080).
	ListenAddr string
	// TableName is TABLE_NAME (default "applinks").
	TableName string
	// SecretPrefix is SECRET_PREFIX (default "applinks"); secrets are named
	// SecretPrefix + "/links/<client_id>" and SecretPrefix + "/signing-keys".
	SecretPrefix string
	// EndpointURL is AWS_ENDPOINT_URL, "" for real AWS.
	EndpointURL string
	// AdminToken is ADMIN_TOKEN (local mode only).
	AdminToken string
	// AuthCodeTTL is AUTH_CODE_TTL (default 60s, at most 600s).
	AuthCodeTTL time.Duration
	// AccessTokenTTL is ACCESS_TOKEN_TTL (default 3600s).
	AccessTokenTTL time.Duration
	// RefreshTokenTTL is REFRESH_TOKEN_TTL (default 90 days).
	RefreshTokenTTL time.Duration
	// RefreshReuseGrace is REFRESH_REUSE_GRACE (default 0, at most 60s).
	RefreshReuseGrace time.Duration
	// Catalog is SCOPE_CATALOG (a path or inline JSON), default the
	// Bitbucket catalog.
	Catalog *shared.Catalog
	// Audience is AUDIENCE, default the issuer.
	Audience string
	// RequirePKCE is REQUIRE_PKCE (default false).
	RequirePKCE bool
}

// FromEnv reads the configuration through getenv (os.Getenv in binaries).
// An invalid value is an error of one line naming the variable, e.g.
// `AUTH_CODE_TTL: 900s is above the maximum of 600s`. Durations are Go
// durations ("90s", "2160h") or whole seconds ("60").
func FromEnv(getenv func(string) string) (Config, error) { panic("unimplemented") }
