package main

import (
	"context"
	"strings"
	"testing"

	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/password/strength"
)

func TestIssuerFor(t *testing.T) {
	for _, tc := range []struct {
		addr, want, err string
	}{
		{"127.0.0.1:8080", "http://127.0.0.1:8080", ""},
		{"localhost:9000", "http://localhost:9000", ""},
		{"[::1]:8080", "http://[::1]:8080", ""},
		{"0.0.0.0:8081", "http://127.0.0.1:8081", ""},
		{":8082", "http://127.0.0.1:8082", ""},
		{"[::]:8083", "http://127.0.0.1:8083", ""},
		{"bad", "", "LISTEN_ADDR: \"bad\" is not host:port"},
		{"127.0.0.1:0", "", "LISTEN_ADDR: \"127.0.0.1:0\" needs a port"},
		{"192.0.2.1:8080", "", "LISTEN_ADDR: \"192.0.2.1:8080\" is not a loopback address"},
	} {
		got, err := issuerFor(tc.addr)
		if tc.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("issuerFor(%q) = %q, %v, want error %q", tc.addr, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("issuerFor(%q) = %q, %v, want %q", tc.addr, got, err, tc.want)
		}
	}
}

// TestBannerNamesTheConsole: make run prints the console's URL and the
// commands that create an administrator: a user (POST, whose body may not
// carry the flag), then PUT .../admin.
func TestBannerNamesTheConsole(t *testing.T) {
	var b strings.Builder
	printBanner(&b, config.Config{Issuer: "http://127.0.0.1:8181", AdminToken: "tok"}, "embedded emulator", true)
	for _, want := range []string{"console      http://127.0.0.1:8181/console/ (sign-in: password",
		"discovery    http://127.0.0.1:8181/.well-known/openid-configuration", `"$ISSUER/admin/users"`,
		`ADMIN_PASSWORD=$(openssl rand -base64 18)`, `-d '{"username":"admin","password":"'"$ADMIN_PASSWORD"'"}'`,
		`curl -s -X PUT "$ISSUER/admin/users/admin/admin"`, `-d '{"admin":true}'`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("got a banner without %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), `password","admin":true`) {
		t.Errorf("the banner still sets the flag in POST /admin/users:\n%s", b.String())
	}
	// The banner generates passwords: one it printed would be pasted and
	// kept by every reader, so the check refuses the ones it once printed.
	for _, example := range strength.Examples {
		if strings.Contains(b.String(), example) {
			t.Errorf("the banner prints the password %q:\n%s", example, b.String())
		}
	}
}

// TestBannerPasskeyEnrollment: under ADMIN_MFA=required the banner says the
// console needs a passkey and prints the call that issues the
// administrator's enrollment link; ADMIN_MFA comes through the environment
// like every setting (config.FromEnv).
func TestBannerPasskeyEnrollment(t *testing.T) {
	cfg, err := config.FromEnv(func(k string) string {
		return map[string]string{"ISSUER_URL": "http://localhost:8181", "ADMIN_MFA": "required"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	printBanner(&b, cfg, "embedded emulator", true)
	for _, want := range []string{"console      http://localhost:8181/console/ (sign-in: password, then a passkey: ADMIN_MFA=required)",
		`curl -s -X POST "$ISSUER/admin/users/admin/admin/passkey-enrollment" -H "Authorization: Bearer $ADMIN_TOKEN"`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("got a banner without %q:\n%s", want, b.String())
		}
	}
	var plain strings.Builder
	printBanner(&plain, config.Config{Issuer: "http://127.0.0.1:8181", AdminToken: "tok", AdminMFA: config.AdminMFAOptional}, "embedded emulator", true)
	if strings.Contains(plain.String(), "passkey-enrollment") {
		t.Errorf("optional: the banner prints an enrollment call:\n%s", plain.String())
	}
}

// TestCommand: the runner's one-off commands refuse what they cannot do
// with one line saying what to do instead, before opening any store.
func TestCommand(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	var out strings.Builder
	err := command(context.Background(), []string{"cleanup"}, env(nil), &out)
	if err == nil || !strings.Contains(err.Error(), "make run") {
		t.Errorf("cleanup on the embedded emulator: %v, want a refusal naming make run", err)
	}
	err = command(context.Background(), []string{"clean"}, env(nil), &out)
	if err == nil || !strings.Contains(err.Error(), "go run ./local cleanup") {
		t.Errorf("unknown command: %v, want one naming the command there is", err)
	}
	err = command(context.Background(), []string{"cleanup"}, env(map[string]string{"TABLE_NAME": "applinks", "AUTH_CODE_TTL": "nope"}), &out)
	if err == nil || !strings.Contains(err.Error(), "AUTH_CODE_TTL") {
		t.Errorf("bad configuration: %v, want the variable named", err)
	}
}
