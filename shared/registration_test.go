package shared

import (
	"slices"
	"strings"
	"testing"
)

func TestDefaultRegistrationPolicy(t *testing.T) {
	c := DefaultCatalog()
	p := DefaultRegistrationPolicy(c)
	if p.MetadataDocuments.Mode != ModeOff || p.DynamicRegistration.Mode != ModeOff {
		t.Fatalf("modes %q %q, want off", p.MetadataDocuments.Mode, p.DynamicRegistration.Mode)
	}
	if !slices.Equal(p.MetadataDocuments.Scopes, []string{"PUBLIC_REPOS"}) || !slices.Equal(p.DynamicRegistration.Scopes, []string{"PUBLIC_REPOS"}) {
		t.Fatalf("scopes %v %v, want the baseline", p.MetadataDocuments.Scopes, p.DynamicRegistration.Scopes)
	}
	if p.MetadataDocuments.TrustedHosts == nil || len(p.MetadataDocuments.TrustedHosts) != 0 {
		t.Fatalf("trusted hosts %#v, want empty", p.MetadataDocuments.TrustedHosts)
	}
	if errs := p.Validate(c); errs != nil {
		t.Fatalf("default policy invalid: %v", errs)
	}
}

func TestRegistrationPolicyValidate(t *testing.T) {
	c := DefaultCatalog()
	p := DefaultRegistrationPolicy(c)
	p.MetadataDocuments.Mode = "open"
	p.MetadataDocuments.TrustedHosts = []string{"ok.example", "ok.example", "Bad.example", "."}
	p.MetadataDocuments.Scopes = []string{"NOPE"}
	p.DynamicRegistration.Mode = "trusted_hosts"
	p.DynamicRegistration.IdleDays = 0
	errs := p.Validate(c)
	var fields []string
	for _, e := range errs {
		fields = append(fields, e.Field)
	}
	want := []string{
		"dynamic_registration.idle_days", "dynamic_registration.mode",
		"metadata_documents.mode", "metadata_documents.scopes",
		"metadata_documents.trusted_hosts[1]", "metadata_documents.trusted_hosts[2]", "metadata_documents.trusted_hosts[3]",
	}
	if !slices.Equal(fields, want) {
		t.Fatalf("fields %v\nwant %v", fields, want)
	}
	p = DefaultRegistrationPolicy(c)
	p.DynamicRegistration.IdleDays = 366
	if errs := p.Validate(c); len(errs) != 1 || errs[0].Field != "dynamic_registration.idle_days" {
		t.Fatalf("idle_days 366: %v", errs)
	}
	p.DynamicRegistration.IdleDays = 365
	p.MetadataDocuments.Scopes = []string{"REPO_WRITE", "ACCOUNT_WRITE"}
	if errs := p.Validate(c); errs != nil {
		t.Fatalf("valid policy refused: %v", errs)
	}
	if n := p.Normalize(c); !slices.Equal(n.MetadataDocuments.Scopes, []string{"ACCOUNT_WRITE", "REPO_WRITE"}) {
		t.Fatalf("normalized scopes %v, want catalog order", n.MetadataDocuments.Scopes)
	}
}

func TestValidateTrustedHost(t *testing.T) {
	for _, h := range []string{"example.com", ".example.com", "xn--bcher-kva.example", "192.0.2.1", "2001:db8::1", "localhost"} {
		if err := ValidateTrustedHost(h); err != nil {
			t.Errorf("%q refused: %v", h, err)
		}
	}
	for h, why := range map[string]string{
		"":                       "empty",
		"Example.com":            "lower case",
		"example.com.":           "dot",
		"bücher.example":         "xn--bcher-kva.example",
		".com":                   "top-level",
		"[2001:db8::1]":          "valid host name",
		"2001:DB8::1":            "2001:db8::1",
		".192.0.2.1":             "leading dot",
		"a b.example":            "valid host name",
		strings.Repeat("a", 254): "longer",
	} {
		err := ValidateTrustedHost(h)
		if err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("%q: error %v, want one saying %q", h, err, why)
		}
	}
}

func TestHostTrusted(t *testing.T) {
	trusted := []string{"app.example", ".agents.example", "192.0.2.7"}
	for host, want := range map[string]bool{
		"app.example":          true,
		"APP.example":          true,
		"x.app.example":        false,
		"agents.example":       false,
		"a.agents.example":     true,
		"a.b.agents.example":   true,
		"evilagents.example":   false,
		"192.0.2.7":            true,
		"192.0.2.70":           false,
		"app.example.evil.com": false,
	} {
		if got := HostTrusted(trusted, host); got != want {
			t.Errorf("HostTrusted(%q) = %v, want %v", host, got, want)
		}
	}
	if HostTrusted(nil, "app.example") {
		t.Error("an empty list trusts a host")
	}
}
