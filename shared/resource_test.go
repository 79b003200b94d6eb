package shared

import (
	"strings"
	"testing"
)

func TestValidateResourceURI(t *testing.T) {
	for _, c := range []struct {
		uri  string
		want string // a part of the error, "" for valid
	}{
		{"https://api.example.com", ""},
		{"https://api.example.com/", ""},
		{"https://api.example.com:8443/v1/repos", ""},
		{"https://api.example.com/mcp?tenant=a", ""},
		{"http://127.0.0.1:8081/mcp", ""},
		{"http://localhost/mcp", ""},
		{"http://[::1]:9000", ""},
		{"", "empty"},
		{"/relative", "absolute"},
		{"api.example.com", "absolute"},
		{"https://api.example.com/#frag", "fragment"},
		{"https://api.example.com/#", "fragment"},
		{"http://api.example.com/", "https"},
		{"http://127.0.0.1.example.com/", "https"},
		{"ftp://api.example.com/", "https"},
		{"urn:example:resource", "absolute"},
		{"com.example.app:/cb", "https"},
		{"https://user:pw@api.example.com/", "userinfo"},
		{"https://*.example.com/", "wildcard"},
		{"https:///path", "host"},
		{"https://0.0.0.0/", "unspecified"},
		{"https://api.example.com:0/", "port"},
		{"https://api.example.com:99999/", "port"},
		{"https://api.example.com:/", "empty port"},
		{"https://api.example.com/a b", "whitespace"},
		{"https://api.example.com/\u00e9", "ASCII"},
		{"https://api.example.com/%zz", "percent"},
		{"https://api.example.com/<x>", "character"},
		{"https://api.example.com/" + strings.Repeat("a", MaxRedirectURIBytes), "maximum"},
	} {
		err := ValidateResourceURI(c.uri)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("ValidateResourceURI(%q) = %v, want valid", c.uri, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("ValidateResourceURI(%q) = %v, want an error about %q", c.uri, err, c.want)
		}
	}
}

func TestValidateResourceURIs(t *testing.T) {
	if err := ValidateResourceURIs(nil); err != nil {
		t.Errorf("ValidateResourceURIs(none) = %v, want valid", err)
	}
	if err := ValidateResourceURIs([]string{"https://a.example", "https://a.example/"}); err != nil {
		t.Errorf("two URIs that differ by a slash = %v, want valid (matched byte for byte)", err)
	}
	if err := ValidateResourceURIs([]string{"https://a.example", "https://a.example"}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("a URI listed twice = %v, want an error", err)
	}
	many := make([]string, MaxResourceURIs+1)
	for i := range many {
		many[i] = "https://a.example/" + strings.Repeat("x", i+1)
	}
	if err := ValidateResourceURIs(many); err == nil || !strings.Contains(err.Error(), "at most 10") {
		t.Errorf("%d URIs = %v, want an error", len(many), err)
	}
	if err := ValidateResourceURIs([]string{"https://a.example", "http://a.example"}); err == nil || !strings.Contains(err.Error(), `"http://a.example"`) {
		t.Errorf("an invalid second URI = %v, want an error naming it", err)
	}
}
