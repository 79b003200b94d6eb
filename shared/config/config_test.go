package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// env returns a getenv over m.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestFromEnvDefaults(t *testing.T) {
	c, err := FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Issuer", c.Issuer, "http://127.0.0.1:8080"},
		{"ListenAddr", c.ListenAddr, "127.0.0.1:8080"},
		{"TableName", c.TableName, "applinks"},
		{"SecretPrefix", c.SecretPrefix, "applinks"},
		{"EndpointURL", c.EndpointURL, ""},
		{"AdminToken", c.AdminToken, ""},
		{"AuthCodeTTL", c.AuthCodeTTL, 60 * time.Second},
		{"AccessTokenTTL", c.AccessTokenTTL, time.Hour},
		{"RefreshTokenTTL", c.RefreshTokenTTL, 90 * 24 * time.Hour},
		{"RefreshReuseGrace", c.RefreshReuseGrace, time.Duration(0)},
		{"Audience", c.Audience, "http://127.0.0.1:8080"},
		{"RequirePKCE", c.RequirePKCE, false},
		{"ProviderName", c.ProviderName, "127.0.0.1"},
		{"SupportContact", c.SupportContact, ""},
		{"TrustCloudFrontViewerAddress", c.TrustCloudFrontViewerAddress, false},
		{"LinkSecretPrincipals", len(c.LinkSecretPrincipals), 0},
		{"SigningKeyPrincipals", len(c.SigningKeyPrincipals), 0},
		{"SecretKMSKey", c.SecretKMSKey, ""},
		{"OriginVerifySecret", c.OriginVerifySecret, ""},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	if c.Catalog == nil || c.Catalog.Baseline() != "PUBLIC_REPOS" {
		t.Errorf("got catalog %v, want the default Bitbucket catalog", c.Catalog)
	}
}

func TestFromEnvValues(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "catalog.json")
	if err := os.WriteFile(path, []byte(`{"baseline":"READ","scopes":[{"name":"READ"},{"name":"WRITE","implies":["READ"]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := FromEnv(env(map[string]string{
		"ISSUER_URL":          "https://auth.example.com/",
		"LISTEN_ADDR":         ":9000",
		"TABLE_NAME":          "tbl-1",
		"SECRET_PREFIX":       "p1",
		"AWS_ENDPOINT_URL":    "http://localhost:4566",
		"ADMIN_TOKEN":         "tok",
		"AUTH_CODE_TTL":       "600",
		"ACCESS_TOKEN_TTL":    "15m",
		"REFRESH_TOKEN_TTL":   "2160h",
		"REFRESH_REUSE_GRACE": " 60s ",
		"SCOPE_CATALOG":       path,
		"AUDIENCE":            "https://api.example.com",
		"REQUIRE_PKCE":        "TRUE",
		"PROVIDER_NAME":       " Example Corp ",
		"SUPPORT_CONTACT":     "Call the service desk on ext. 4357.",

		"TRUST_CLOUDFRONT_VIEWER_ADDRESS": "True",
		"LINK_SECRET_PRINCIPALS": "arn:aws:iam::111111111111:role/applinks-prod-AdminFunctionServiceRole-AB12, " +
			"arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123",
		"SIGNING_KEY_PRINCIPALS": "arn:aws-us-gov:iam::111111111111:role/token",
		"SECRET_KMS_KEY":         "arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"ORIGIN_VERIFY_SECRET":   "arn:aws:secretsmanager:eu-west-1:111111111111:secret:OriginVerify-AbCdEf",
	}))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Issuer", c.Issuer, "https://auth.example.com"},
		{"ListenAddr", c.ListenAddr, ":9000"},
		{"TableName", c.TableName, "tbl-1"},
		{"SecretPrefix", c.SecretPrefix, "p1"},
		{"EndpointURL", c.EndpointURL, "http://localhost:4566"},
		{"AdminToken", c.AdminToken, "tok"},
		{"AuthCodeTTL", c.AuthCodeTTL, 600 * time.Second},
		{"AccessTokenTTL", c.AccessTokenTTL, 15 * time.Minute},
		{"RefreshTokenTTL", c.RefreshTokenTTL, 90 * 24 * time.Hour},
		{"RefreshReuseGrace", c.RefreshReuseGrace, 60 * time.Second},
		{"Audience", c.Audience, "https://api.example.com"},
		{"RequirePKCE", c.RequirePKCE, true},
		{"ProviderName", c.ProviderName, "Example Corp"},
		{"SupportContact", c.SupportContact, "Call the service desk on ext. 4357."},
		{"TrustCloudFrontViewerAddress", c.TrustCloudFrontViewerAddress, true},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	if got, want := c.Catalog.Names(), []string{"READ", "WRITE"}; !slices.Equal(got, want) {
		t.Errorf("got catalog %q, want %q", got, want)
	}
	if got, want := c.LinkSecretPrincipals, []string{
		"arn:aws:iam::111111111111:role/applinks-prod-AdminFunctionServiceRole-AB12",
		"arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123",
	}; !slices.Equal(got, want) {
		t.Errorf("LinkSecretPrincipals: got %q, want %q", got, want)
	}
	if got, want := c.SigningKeyPrincipals, []string{"arn:aws-us-gov:iam::111111111111:role/token"}; !slices.Equal(got, want) {
		t.Errorf("SigningKeyPrincipals: got %q, want %q", got, want)
	}
	if got, want := c.SecretKMSKey, "arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"; got != want {
		t.Errorf("SecretKMSKey: got %q, want %q", got, want)
	}
	if got, want := c.OriginVerifySecret, "arn:aws:secretsmanager:eu-west-1:111111111111:secret:OriginVerify-AbCdEf"; got != want {
		t.Errorf("OriginVerifySecret: got %q, want %q", got, want)
	}
}

func TestFromEnvAccepted(t *testing.T) {
	tests := []struct {
		name, key, value string
		check            func(Config) bool
	}{
		{"inline catalog", "SCOPE_CATALOG", ` {"baseline":"A","scopes":[{"name":"A"}]}`, func(c Config) bool { return c.Catalog.Baseline() == "A" }},
		{"http ipv6 loopback issuer", "ISSUER_URL", "http://[::1]:8080", func(c Config) bool { return c.Issuer == "http://[::1]:8080" }},
		{"http localhost issuer", "ISSUER_URL", "http://localhost", func(c Config) bool { return c.Issuer == "http://localhost" }},
		{"audience follows issuer", "ISSUER_URL", "https://a.example", func(c Config) bool { return c.Audience == "https://a.example" }},
		{"pkce 1", "REQUIRE_PKCE", "1", func(c Config) bool { return c.RequirePKCE }},
		{"pkce 0", "REQUIRE_PKCE", "0", func(c Config) bool { return !c.RequirePKCE }},
		{"pkce false", "REQUIRE_PKCE", "false", func(c Config) bool { return !c.RequirePKCE }},
		{"cloudfront viewer address 1", "TRUST_CLOUDFRONT_VIEWER_ADDRESS", "1", func(c Config) bool { return c.TrustCloudFrontViewerAddress }},
		{"cloudfront viewer address false", "TRUST_CLOUDFRONT_VIEWER_ADDRESS", "false", func(c Config) bool { return !c.TrustCloudFrontViewerAddress }},
		{"grace 0", "REFRESH_REUSE_GRACE", "0", func(c Config) bool { return c.RefreshReuseGrace == 0 }},
		{"code ttl seconds", "AUTH_CODE_TTL", "1", func(c Config) bool { return c.AuthCodeTTL == time.Second }},
		{"code ttl duration", "AUTH_CODE_TTL", "10m", func(c Config) bool { return c.AuthCodeTTL == 10*time.Minute }},
		{"provider name follows the issuer host", "ISSUER_URL", "https://auth.example.com:8443", func(c Config) bool { return c.ProviderName == "auth.example.com" }},
		{"provider name of 64 characters", "PROVIDER_NAME", strings.Repeat("é", MaxProviderName), func(c Config) bool { return c.ProviderName == strings.Repeat("é", MaxProviderName) }},
		{"support contact", "SUPPORT_CONTACT", "help@example.com", func(c Config) bool { return c.SupportContact == "help@example.com" }},
		{"a user as principal", "LINK_SECRET_PRINCIPALS", "arn:aws:iam::111111111111:user/ops", func(c Config) bool {
			return slices.Equal(c.LinkSecretPrincipals, []string{"arn:aws:iam::111111111111:user/ops"})
		}},
		{"KMS alias", "SECRET_KMS_KEY", "alias/applinks", func(c Config) bool { return c.SecretKMSKey == "alias/applinks" }},
		{"KMS key id", "SECRET_KMS_KEY", "1234abcd-12ab-34cd-56ef-1234567890ab", func(c Config) bool { return c.SecretKMSKey == "1234abcd-12ab-34cd-56ef-1234567890ab" }},
		{"origin secret by name", "ORIGIN_VERIFY_SECRET", "applinks-prod/origin-verify", func(c Config) bool { return c.OriginVerifySecret == "applinks-prod/origin-verify" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := FromEnv(env(map[string]string{tc.key: tc.value}))
			if err != nil {
				t.Fatalf("%s=%q: got %v, want nil", tc.key, tc.value, err)
			}
			if !tc.check(c) {
				t.Errorf("%s=%q: got %+v, want the value applied", tc.key, tc.value, c)
			}
		})
	}
}

func TestFromEnvErrors(t *testing.T) {
	tests := []struct {
		key, value string
		want       string // full error, or a part when it ends with "..."
	}{
		{"AUTH_CODE_TTL", "900s", "AUTH_CODE_TTL: 900s is above the maximum of 600s"},
		{"AUTH_CODE_TTL", "601", "AUTH_CODE_TTL: 601 is above the maximum of 600s"},
		{"AUTH_CODE_TTL", "0", "AUTH_CODE_TTL: 0 must be positive"},
		{"AUTH_CODE_TTL", "-5s", "AUTH_CODE_TTL: -5s must be positive"},
		{"AUTH_CODE_TTL", "soon", `AUTH_CODE_TTL: "soon" is not a duration (e.g. 90s, 2160h) or a number of seconds`},
		{"ACCESS_TOKEN_TTL", "0s", "ACCESS_TOKEN_TTL: 0s must be positive"},
		{"ACCESS_TOKEN_TTL", "1.5", "ACCESS_TOKEN_TTL: ..."},
		{"ACCESS_TOKEN_TTL", "1ms", `ACCESS_TOKEN_TTL: "1ms" is not a whole number of seconds`},
		{"AUTH_CODE_TTL", "1500ms", `AUTH_CODE_TTL: "1500ms" is not a whole number of seconds`},
		{"REFRESH_TOKEN_TTL", "99999999999999999999", "REFRESH_TOKEN_TTL: ..."},
		{"REFRESH_REUSE_GRACE", "61s", "REFRESH_REUSE_GRACE: 61s is above the maximum of 60s"},
		{"REFRESH_REUSE_GRACE", "-1", "REFRESH_REUSE_GRACE: -1 must not be negative"},
		{"ISSUER_URL", "auth.example.com", "ISSUER_URL: ..."},
		{"ISSUER_URL", "ftp://auth.example.com", "ISSUER_URL: ..."},
		{"ISSUER_URL", "http://auth.example.com", "ISSUER_URL: ..."},
		{"ISSUER_URL", "https://auth.example.com/oauth", "ISSUER_URL: ..."},
		{"ISSUER_URL", "https://auth.example.com?x=1", "ISSUER_URL: ..."},
		{"ISSUER_URL", "https://auth.example.com#x", "ISSUER_URL: ..."},
		{"ISSUER_URL", "https://u@auth.example.com", "ISSUER_URL: ..."},
		{"ISSUER_URL", "https://", "ISSUER_URL: ..."},
		{"ISSUER_URL", "https://auth.example.com:0", "ISSUER_URL: ..."},
		{"ISSUER_URL", "http://127.0.0.1.nip.io", "ISSUER_URL: ..."},
		{"LISTEN_ADDR", "8080", "LISTEN_ADDR: ..."},
		{"AWS_ENDPOINT_URL", "localhost:4566", "AWS_ENDPOINT_URL: ..."},
		{"SECRET_PREFIX", "a b", "SECRET_PREFIX: ..."},
		{"SECRET_PREFIX", "app*links", "SECRET_PREFIX: ..."},
		{"SECRET_PREFIX", "é", "SECRET_PREFIX: ..."},
		{"SECRET_PREFIX", strings.Repeat("p", MaxSecretPrefix+1), "SECRET_PREFIX: ..."},
		{"TABLE_NAME", "bad name!", `TABLE_NAME: "bad name!" is not a DynamoDB table name (3 to 255 letters, digits, '_', '.' or '-')`},
		{"TABLE_NAME", "ab", "TABLE_NAME: ..."},
		{"TABLE_NAME", "app/links", "TABLE_NAME: ..."},
		{"TABLE_NAME", strings.Repeat("t", 256), "TABLE_NAME: ..."},
		{"REQUIRE_PKCE", "yes", `REQUIRE_PKCE: "yes" is not one of true, false, 1, 0`},
		{"TRUST_CLOUDFRONT_VIEWER_ADDRESS", "yes", `TRUST_CLOUDFRONT_VIEWER_ADDRESS: "yes" is not one of true, false, 1, 0`},
		{"SCOPE_CATALOG", "/nonexistent/catalog.json", "SCOPE_CATALOG: read /nonexistent/catalog.json: no such file or directory"},
		{"SCOPE_CATALOG", `{"baseline":"B","scopes":[{"name":"A"}]}`, `SCOPE_CATALOG: scope catalog: baseline "B" is not a scope of the catalog`},
		{"SCOPE_CATALOG", `{"baseline":"A","scopes":[{"name":"A","implies":["X"]}]}`, `SCOPE_CATALOG: scope catalog: scope "A" implies unknown scope "X"`},
		{"SCOPE_CATALOG", "{\n", "SCOPE_CATALOG: ..."},
		{"PROVIDER_NAME", strings.Repeat("x", MaxProviderName+1), "PROVIDER_NAME: 65 characters is above the maximum of 64"},
		{"PROVIDER_NAME", "Example\nCorp", `PROVIDER_NAME: "Example\nCorp" holds a control character`},
		{"PROVIDER_NAME", "bad\xffname", "PROVIDER_NAME: the value is not valid UTF-8"},
		{"SUPPORT_CONTACT", strings.Repeat("x", MaxSupportContact+1), "SUPPORT_CONTACT: 201 characters is above the maximum of 200"},
		{"SUPPORT_CONTACT", "tab\there", "SUPPORT_CONTACT: ..."},
		{"LINK_SECRET_PRINCIPALS", "arn:aws:iam::111111111111:role/*", `LINK_SECRET_PRINCIPALS: "arn:aws:iam::111111111111:role/*" is not an IAM role or user ARN (arn:aws:iam::123456789012:role/name, comma-separated)`},
		{"LINK_SECRET_PRINCIPALS", "arn:aws:iam::111111111111:role/a,", `LINK_SECRET_PRINCIPALS: "" is not ...`},
		{"SIGNING_KEY_PRINCIPALS", "arn:aws:sts::111111111111:assumed-role/a/session", "SIGNING_KEY_PRINCIPALS: ..."},
		{"SIGNING_KEY_PRINCIPALS", "arn:aws:iam::1111:role/a", "SIGNING_KEY_PRINCIPALS: ..."},
		{"SIGNING_KEY_PRINCIPALS", "arn:aws:iam::111111111111:root", "SIGNING_KEY_PRINCIPALS: ..."},
		{"SECRET_KMS_KEY", "my key", `SECRET_KMS_KEY: "my key" is not a KMS key ARN, key id or alias`},
		{"ORIGIN_VERIFY_SECRET", "secret\x00", "ORIGIN_VERIFY_SECRET: ..."},
		{"CLIENT_METADATA_ALLOW_LOOPBACK", "yes", `CLIENT_METADATA_ALLOW_LOOPBACK: "yes" is not one of true, false, 1, 0`},
	}
	for _, tc := range tests {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			_, err := FromEnv(env(map[string]string{tc.key: tc.value}))
			if err == nil {
				t.Fatalf("got nil, want an error")
			}
			got := err.Error()
			if prefix, ok := strings.CutSuffix(tc.want, "..."); ok {
				if !strings.HasPrefix(got, prefix) || len(got) <= len(prefix) {
					t.Errorf("got %q, want it to start with %q", got, prefix)
				}
			} else if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if strings.ContainsAny(got, "\r\n") {
				t.Errorf("got a multi-line error %q, want one line", got)
			}
		})
	}
}

// TestClientMetadataAllowLoopback: CLIENT_METADATA_ALLOW_LOOPBACK=true is
// accepted with a loopback issuer only; with any other, start-up stops
// with one line naming the variable.
func TestClientMetadataAllowLoopback(t *testing.T) {
	for _, tc := range []struct {
		issuer string
		ok     bool
	}{
		{"", true}, // the default issuer, http://127.0.0.1:8080
		{"http://localhost:8080", true},
		{"http://[::1]:9000", true},
		{"https://127.0.0.1:8443", true},
		{"https://auth.example.com", false},
		{"https://10.0.0.1", false},
	} {
		vars := map[string]string{"CLIENT_METADATA_ALLOW_LOOPBACK": "true"}
		if tc.issuer != "" {
			vars["ISSUER_URL"] = tc.issuer
		}
		c, err := FromEnv(env(vars))
		switch {
		case tc.ok && (err != nil || !c.ClientMetadataAllowLoopback):
			t.Errorf("issuer %q: %v, allow %v; want accepted", tc.issuer, err, c.ClientMetadataAllowLoopback)
		case !tc.ok && (err == nil || !strings.HasPrefix(err.Error(), "CLIENT_METADATA_ALLOW_LOOPBACK: ") || strings.Contains(err.Error(), "\n")):
			t.Errorf("issuer %q: got %v, want one line naming CLIENT_METADATA_ALLOW_LOOPBACK", tc.issuer, err)
		}
	}
	c, err := FromEnv(env(map[string]string{"ISSUER_URL": "https://auth.example.com"}))
	if err != nil || c.ClientMetadataAllowLoopback {
		t.Errorf("default: %v, allow %v; want off", err, c.ClientMetadataAllowLoopback)
	}
}

// TestNamesAccepted: the edges of what DynamoDB and Secrets Manager accept
// pass.
func TestNamesAccepted(t *testing.T) {
	for _, vars := range []map[string]string{
		{"TABLE_NAME": "a.b", "SECRET_PREFIX": "p"},
		{"TABLE_NAME": strings.Repeat("T", 255), "SECRET_PREFIX": strings.Repeat("p", MaxSecretPrefix)},
		{"TABLE_NAME": "Team_1.app-links", "SECRET_PREFIX": "team/app+links=1@prod.eu-west_1"},
	} {
		c, err := FromEnv(env(vars))
		if err != nil {
			t.Errorf("got %v, want %v accepted", err, vars)
			continue
		}
		if c.TableName != vars["TABLE_NAME"] || c.SecretPrefix != vars["SECRET_PREFIX"] {
			t.Errorf("got (%q, %q), want %v", c.TableName, c.SecretPrefix, vars)
		}
	}
}

// TestAdminMFA: ADMIN_MFA is optional by default, optional or required in
// any letter case; anything else, or required with an issuer whose host is
// an IP address (passkeys are bound to a domain name), stops start-up with
// one line naming the variable. PasskeyRPID is the issuer's host name.
func TestAdminMFA(t *testing.T) {
	for _, tc := range []struct {
		issuer, mfa string
		want        string
	}{
		{"", "", AdminMFAOptional},
		{"", "optional", AdminMFAOptional},
		{"http://localhost:8080", "required", AdminMFARequired},
		{"https://auth.example.com", "Required", AdminMFARequired},
		{"https://auth.example.com", " optional ", AdminMFAOptional},
	} {
		c, err := FromEnv(env(map[string]string{"ISSUER_URL": tc.issuer, "ADMIN_MFA": tc.mfa}))
		if err != nil || c.AdminMFA != tc.want {
			t.Errorf("ISSUER_URL=%q ADMIN_MFA=%q: got %q, %v; want %q", tc.issuer, tc.mfa, c.AdminMFA, err, tc.want)
		}
	}
	for _, tc := range []struct {
		issuer, mfa string
		want        string
	}{
		{"", "required", "ADMIN_MFA: required needs ISSUER_URL to name a domain, not an IP address (http://127.0.0.1:8080)"},
		{"http://[::1]:8080", "required", "ADMIN_MFA: required needs ISSUER_URL to name a domain, not an IP address (http://[::1]:8080)"},
		{"https://10.0.0.1", "REQUIRED", "ADMIN_MFA: required needs ISSUER_URL to name a domain"},
		{"https://auth.example.com", "always", `ADMIN_MFA: "always" is not one of optional, required`},
		{"https://auth.example.com", "true", `ADMIN_MFA: "true" is not one of optional, required`},
	} {
		_, err := FromEnv(env(map[string]string{"ISSUER_URL": tc.issuer, "ADMIN_MFA": tc.mfa}))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ISSUER_URL=%q ADMIN_MFA=%q: got error %v, want one line starting %q", tc.issuer, tc.mfa, err, tc.want)
		}
	}
	for issuer, want := range map[string]string{
		"https://Auth.Example.com": "auth.example.com", "http://localhost:8080": "localhost",
		"http://127.0.0.1:8080": "", "http://[::1]:9000": "", "://bad": "",
	} {
		if got := PasskeyRPID(issuer); got != want {
			t.Errorf("PasskeyRPID(%q) = %q, want %q", issuer, got, want)
		}
	}
}
