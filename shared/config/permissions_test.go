package config

import (
	"strings"
	"testing"
	"time"
)

func TestPermissionsDefaults(t *testing.T) {
	c, err := FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Permissions{Source: PermissionsStored, Timeout: 2 * time.Second, Cache: 60 * time.Second}
	if c.Permissions != want {
		t.Errorf("got %+v, want %+v", c.Permissions, want)
	}
	if c.Permissions.Service() {
		t.Error("Service(): got true for stored, want false")
	}
}

func TestPermissionsAccepted(t *testing.T) {
	tests := []struct {
		vars map[string]string
		want Permissions
	}{
		{map[string]string{"PERMISSION_SOURCE": "claims"},
			Permissions{Source: PermissionsClaims, Timeout: 2 * time.Second, Cache: time.Minute}},
		{map[string]string{"PERMISSION_SOURCE": "Stored"},
			Permissions{Source: PermissionsStored, Timeout: 2 * time.Second, Cache: time.Minute}},
		{map[string]string{"PERMISSION_SOURCE": "service", "PERMISSIONS_URL": "https://perms.example.com/v1/permissions?tenant=a"},
			Permissions{Source: PermissionsService, URL: "https://perms.example.com/v1/permissions?tenant=a", Timeout: 2 * time.Second, Cache: time.Minute}},
		{map[string]string{"PERMISSION_SOURCE": "service", "PERMISSIONS_URL": "http://127.0.0.1:9999/p", "PERMISSIONS_TIMEOUT": "10s", "PERMISSIONS_CACHE": "0"},
			Permissions{Source: PermissionsService, URL: "http://127.0.0.1:9999/p", Timeout: 10 * time.Second, Cache: 0}},
		{map[string]string{"PERMISSION_SOURCE": "service", "PERMISSIONS_URL": "http://[::1]/p", "PERMISSIONS_TIMEOUT": "1500ms", "PERMISSIONS_CACHE": "300s"},
			Permissions{Source: PermissionsService, URL: "http://[::1]/p", Timeout: 1500 * time.Millisecond, Cache: 300 * time.Second}},
		{map[string]string{"PERMISSION_SOURCE": "service", "PERMISSIONS_URL": "http://localhost:8081", "PERMISSIONS_TIMEOUT": "3", "PERMISSIONS_CACHE": "5m"},
			Permissions{Source: PermissionsService, URL: "http://localhost:8081", Timeout: 3 * time.Second, Cache: 300 * time.Second}},
		// The settings of the service may be set ahead of the source.
		{map[string]string{"PERMISSIONS_TIMEOUT": "1s", "PERMISSIONS_CACHE": "30"},
			Permissions{Source: PermissionsStored, Timeout: time.Second, Cache: 30 * time.Second}},
		// AUDIENCE differs from the permission service by its path.
		{map[string]string{"PERMISSION_SOURCE": "service", "AUDIENCE": "https://api.example.com", "PERMISSIONS_URL": "https://api.example.com/permissions"},
			Permissions{Source: PermissionsService, URL: "https://api.example.com/permissions", Timeout: 2 * time.Second, Cache: time.Minute}},
	}
	for _, tc := range tests {
		c, err := FromEnv(env(tc.vars))
		if err != nil {
			t.Errorf("%v: got %v, want no error", tc.vars, err)
			continue
		}
		if c.Permissions != tc.want {
			t.Errorf("%v: got %+v, want %+v", tc.vars, c.Permissions, tc.want)
		}
	}
}

func TestPermissionsRejected(t *testing.T) {
	service := func(vars ...string) map[string]string {
		m := map[string]string{"PERMISSION_SOURCE": "service", "PERMISSIONS_URL": "https://perms.example.com/p"}
		for i := 0; i+1 < len(vars); i += 2 {
			m[vars[i]] = vars[i+1]
		}
		return m
	}
	tests := []struct {
		vars map[string]string
		want string // full error, or a part when it ends with "..."
	}{
		{map[string]string{"PERMISSION_SOURCE": "ldap"}, `PERMISSION_SOURCE: "ldap" is not one of stored, claims, service`},
		{map[string]string{"PERMISSION_SOURCE": "service"}, "PERMISSIONS_URL: required when PERMISSION_SOURCE is service"},
		{map[string]string{"PERMISSIONS_URL": "https://perms.example.com/p"}, "PERMISSIONS_URL: set, but PERMISSION_SOURCE is stored (it is used only with service)"},
		{map[string]string{"PERMISSION_SOURCE": "claims", "PERMISSIONS_URL": "https://perms.example.com/p"}, "PERMISSIONS_URL: set, but PERMISSION_SOURCE is claims (it is used only with service)"},
		// Plain http only on a loopback host: the request carries a bearer
		// JWT and the answer decides what applications may do.
		{service("PERMISSIONS_URL", "http://perms.example.com/p"), `PERMISSIONS_URL: "http://perms.example.com/p" must use https (http only for 127.0.0.1, [::1] or localhost)`},
		{service("PERMISSIONS_URL", "http://10.0.0.8/p"), "PERMISSIONS_URL: ..."},
		{service("PERMISSIONS_URL", "http://127.0.0.1.nip.io/p"), "PERMISSIONS_URL: ..."},
		{service("PERMISSIONS_URL", "ftp://perms.example.com/p"), `PERMISSIONS_URL: "ftp://perms.example.com/p" must be an absolute https URL`},
		{service("PERMISSIONS_URL", "perms.example.com/p"), "PERMISSIONS_URL: ..."},
		{service("PERMISSIONS_URL", "https:///p"), `PERMISSIONS_URL: "https:///p" has no host`},
		{service("PERMISSIONS_URL", "https://user:pw@perms.example.com/p"), "PERMISSIONS_URL: ..."},
		{service("PERMISSIONS_URL", "https://perms.example.com/p#x"), `PERMISSIONS_URL: "https://perms.example.com/p#x" must not have a fragment`},
		{service("PERMISSIONS_URL", "https://perms.example.com:0/p"), "PERMISSIONS_URL: ..."},
		{service("PERMISSIONS_URL", "https://perms.example.com/"+strings.Repeat("p", 2000)), "PERMISSIONS_URL: 2026 bytes is above the maximum of 2000"},
		// Not the audience of access tokens, in any spelling.
		{service("AUDIENCE", "https://api.example.com", "PERMISSIONS_URL", "https://api.example.com"),
			`PERMISSIONS_URL: "https://api.example.com" is AUDIENCE, the audience of access tokens; the permission service needs a URL of its own`},
		{service("AUDIENCE", "https://api.example.com", "PERMISSIONS_URL", "HTTPS://API.example.com:443/"), "PERMISSIONS_URL: ..."},
		// AUDIENCE defaults to the issuer.
		{service("ISSUER_URL", "https://auth.example.com", "PERMISSIONS_URL", "https://auth.example.com/"), "PERMISSIONS_URL: ..."},
		{service("PERMISSIONS_TIMEOUT", "11s"), "PERMISSIONS_TIMEOUT: 11s is above the maximum of 10s"},
		{service("PERMISSIONS_TIMEOUT", "0"), "PERMISSIONS_TIMEOUT: 0 must be positive"},
		{service("PERMISSIONS_TIMEOUT", "-1s"), "PERMISSIONS_TIMEOUT: -1s must be positive"},
		{service("PERMISSIONS_TIMEOUT", "soon"), `PERMISSIONS_TIMEOUT: "soon" is not a duration (e.g. 2s, 1500ms) or a number of seconds`},
		{service("PERMISSIONS_TIMEOUT", "1500us"), `PERMISSIONS_TIMEOUT: "1500us" is not a whole number of milliseconds`},
		{service("PERMISSIONS_TIMEOUT", "99999999999999999999"), "PERMISSIONS_TIMEOUT: ..."},
		{service("PERMISSIONS_CACHE", "301"), "PERMISSIONS_CACHE: 301 is above the maximum of 300s"},
		{service("PERMISSIONS_CACHE", "-1"), "PERMISSIONS_CACHE: -1 must not be negative"},
		{service("PERMISSIONS_CACHE", "1500ms"), `PERMISSIONS_CACHE: "1500ms" is not a whole number of seconds`},
		// Checked whatever the source, so a bad value never waits for the
		// day the source changes.
		{map[string]string{"PERMISSIONS_CACHE": "1h"}, "PERMISSIONS_CACHE: 1h is above the maximum of 300s"},
	}
	for _, tc := range tests {
		_, err := FromEnv(env(tc.vars))
		if err == nil {
			t.Errorf("%v: got nil, want an error", tc.vars)
			continue
		}
		got := err.Error()
		if prefix, ok := strings.CutSuffix(tc.want, "..."); ok {
			if !strings.HasPrefix(got, prefix) || len(got) <= len(prefix) {
				t.Errorf("%v: got %q, want it to start with %q", tc.vars, got, prefix)
			}
		} else if got != tc.want {
			t.Errorf("%v: got %q, want %q", tc.vars, got, tc.want)
		}
		if strings.ContainsAny(got, "\r\n") {
			t.Errorf("%v: got a multi-line error %q, want one line", tc.vars, got)
		}
	}
}

// TestPermissionKeyPrincipals: PERMISSION_KEY_PRINCIPALS is read like the
// other secrets' principals: IAM role or user ARNs, comma-separated.
func TestPermissionKeyPrincipals(t *testing.T) {
	c, err := FromEnv(env(map[string]string{
		"PERMISSION_KEY_PRINCIPALS": "arn:aws:iam::111111111111:role/token, arn:aws:iam::111111111111:role/authorize",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.PermissionKeyPrincipals, " "); got != "arn:aws:iam::111111111111:role/token arn:aws:iam::111111111111:role/authorize" {
		t.Errorf("got %q, want the two roles", got)
	}
	_, err = FromEnv(env(map[string]string{"PERMISSION_KEY_PRINCIPALS": "arn:aws:iam::111111111111:role/*"}))
	if err == nil || !strings.HasPrefix(err.Error(), "PERMISSION_KEY_PRINCIPALS: ") {
		t.Errorf("a wildcard: got %v, want a PERMISSION_KEY_PRINCIPALS error", err)
	}
}
