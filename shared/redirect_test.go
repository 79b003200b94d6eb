package shared

import (
	"fmt"
	"strings"
	"testing"
)

func TestValidateRedirectURIMore(t *testing.T) {
	long := "https://app.example.com/" + strings.Repeat("a", MaxRedirectURIBytes-len("https://app.example.com/"))
	tests := []struct {
		uri   string
		valid bool
	}{
		{long, true},
		{long + "a", false},
		{"https://app.example.com", true},
		{"https://app.example.com:8443/cb", true},
		{"https://app.example.com:0/cb", false},
		{"https://app.example.com:65536/cb", false},
		{"https://app.example.com:/cb", false},
		{"https://app.example.com/cb?", true},
		{"https://app.example.com/cb#", false},
		{"https://app.example.com/a*b", false},
		{"https://app.example.com/cb?x=*", false},
		{"https://@app.example.com/cb", false},
		{"https://0.0.0.0/cb", false},
		{"https://[::]/cb", false},
		{"https:///cb", false},
		{"https:cb", false},
		{"https://app.example.com/c b", false},
		{"https://app.example.com/c\tb", false},
		{"https://app.example.com/c\x00b", false},
		{"https://app.example.com/c\x7fb", false},
		{"https://app.example.com/caf\u00e9", false},
		{"https://app.example.com/caf%C3%A9", true},
		{"https://app.example.com/c%zz", false},
		{"https://app.example.com/cb?x=%zz", false},
		{"https://app.example.com/cb?x=%4", false},
		{"https://app.example.com/cb?x=%", false},
		{"https://app.example.com/cb?x=%4a%4A", true},
		{"https://app.example.com\\@evil.example/cb", false},
		{"https://app.example.com/<script>", false},
		{"http://127.0.0.1:65535/cb", true},
		{"http://127.0.0.1:0/cb", false},
		{"http://127.0.0.1:/cb", false},
		{"http://[::1]:8080/cb", true},
		{"http://[::1%25lo]/cb", false},
		{"http://[::]/cb", false},
		{"http://127.0.0.2/cb", false},
		{"http://LOCALHOST/cb", false},
		{"http://localhost./cb", false},
		{"http://[::ffff:127.0.0.1]/cb", false},
		{"http://2130706433/cb", false},
		{"com.example.app://callback/path", true},
		{"com.example.app:/", true},
		{"com.example.app:cb", false},
		{"com.example.app:/a*", false},
		{"vbscript:msgbox", false},
		{"file:///etc/passwd", false},
		{"ws://127.0.0.1/cb", false},
		{"wss://app.example.com/cb", false},
	}
	for _, tc := range tests {
		err := ValidateRedirectURI(tc.uri)
		if got := err == nil; got != tc.valid {
			t.Errorf("ValidateRedirectURI(%.60q) = %v, want valid=%v", tc.uri, err, tc.valid)
		}
	}
}

func TestValidateRedirectURIReasons(t *testing.T) {
	tests := []struct{ uri, want string }{
		{"", "empty"},
		{"https://a.example/" + strings.Repeat("x", 2000), "maximum of 2000"},
		{"https://a.example/cb#x", "fragment"},
		{"https://u:p@a.example/cb", "userinfo"},
		{"https://*.example/cb", "wildcard"},
		{"http://a.example/cb", "https"},
		{"myapp:/cb", "private-use"},
		{"/cb", "absolute"},
		{"https://a.example/ cb", "whitespace"},
	}
	for _, tc := range tests {
		err := ValidateRedirectURI(tc.uri)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ValidateRedirectURI(%.40q) = %v, want a reason containing %q", tc.uri, err, tc.want)
		}
	}
}

func TestValidateRedirectURIs(t *testing.T) {
	n := func(k int) []string {
		out := make([]string, k)
		for i := range out {
			out[i] = fmt.Sprintf("https://app.example.com/cb%d", i)
		}
		return out
	}
	tests := []struct {
		name string
		uris []string
		want string // "" valid, else part of the error
	}{
		{"one", n(1), ""},
		{"ten", n(10), ""},
		{"none", nil, "at least one"},
		{"empty list", []string{}, "at least one"},
		{"eleven", n(11), "at most 10"},
		{"duplicate", []string{"https://a.example/cb", "https://b.example/cb", "https://a.example/cb"}, `"https://a.example/cb" is listed twice`},
		{"differ only in case are distinct", []string{"https://a.example/cb", "https://a.example/CB"}, ""},
		{"one invalid named", []string{"https://a.example/cb", "http://b.example/cb"}, `"http://b.example/cb"`},
		{"empty entry", []string{"https://a.example/cb", ""}, "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateRedirectURIs(tc.uris)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("got %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestValidateRedirectURIsShortensLongNames(t *testing.T) {
	bad := "http://b.example/" + strings.Repeat("x", 1900)
	err := ValidateRedirectURIs([]string{bad})
	if err == nil {
		t.Fatal("got nil, want an error")
	}
	if len(err.Error()) > 400 {
		t.Errorf("got an error of %d bytes, want the URI shortened", len(err.Error()))
	}
}

func TestMatchRedirectURIMore(t *testing.T) {
	tests := []struct {
		name       string
		registered []string
		requested  string
		present    bool
		want       string
		ok         bool
	}{
		{"absent, none registered", nil, "", false, "", false},
		{"absent, two registered", []string{"https://a.example/cb", "https://b.example/cb"}, "", false, "", false},
		{"present empty, one registered", []string{"https://a.example/cb"}, "", true, "", false},
		{"second of ten", []string{"https://a.example/1", "https://a.example/2"}, "https://a.example/2", true, "https://a.example/2", true},
		{"loopback without port asked", []string{"http://127.0.0.1:8000/cb"}, "http://127.0.0.1/cb", true, "http://127.0.0.1/cb", true},
		{"loopback query kept exact", []string{"http://127.0.0.1/cb?a=1"}, "http://127.0.0.1:5000/cb?a=1", true, "http://127.0.0.1:5000/cb?a=1", true},
		{"loopback query differs", []string{"http://127.0.0.1/cb?a=1"}, "http://127.0.0.1:5000/cb?a=2", true, "", false},
		{"loopback empty port", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:/cb", true, "", false},
		{"loopback port 0", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:0/cb", true, "", false},
		{"loopback port too big", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:65536/cb", true, "", false},
		{"loopback port sign", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:+80/cb", true, "", false},
		{"loopback userinfo", []string{"http://127.0.0.1/cb"}, "http://x@127.0.0.1:80/cb", true, "", false},
		{"loopback fragment", []string{"http://127.0.0.1/cb"}, "http://127.0.0.1:80/cb#x", true, "", false},
		{"loopback other host", []string{"http://127.0.0.1/cb"}, "http://127.0.0.2:80/cb", true, "", false},
		{"loopback suffix host", []string{"http://localhost/cb"}, "http://localhost.evil.example:80/cb", true, "", false},
		{"loopback to https", []string{"http://127.0.0.1/cb"}, "https://127.0.0.1:80/cb", true, "", false},
		{"https loopback has no port exception", []string{"https://localhost/cb"}, "https://localhost:8443/cb", true, "", false},
		{"ipv6 port", []string{"http://[::1]:1/cb"}, "http://[::1]:2/cb", true, "http://[::1]:2/cb", true},
		{"ipv6 brackets broken", []string{"http://[::1]/cb"}, "http://[::1:2/cb", true, "", false},
		{"loopback root without path", []string{"http://127.0.0.1"}, "http://127.0.0.1:9", true, "http://127.0.0.1:9", true},
		{"private-use exact only", []string{"com.example.app:/cb"}, "com.example.app:/cb2", true, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := MatchRedirectURI(tc.registered, tc.requested, tc.present)
			if got != tc.want || ok != tc.ok {
				t.Errorf("got %q, %v, want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestIsLoopbackHost: SPEC's loopback hosts, compared as text.
func TestIsLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1": true, "::1": true, "localhost": true,
		"127.0.0.2": false, "[::1]": false, "::ffff:127.0.0.1": false, "LOCALHOST": false,
		"localhost.": false, "0.0.0.0": false, "": false, "example.com": false,
	} {
		if got := IsLoopbackHost(host); got != want {
			t.Errorf("IsLoopbackHost(%q): got %v, want %v", host, got, want)
		}
	}
}

// TestCheckRedirectURIs: the problems CheckRedirectURIs reports, in the
// list's order, each naming its element (ValidateRedirectURIs words the
// first; the admin API words all of them).
func TestCheckRedirectURIs(t *testing.T) {
	ok, dup, bad := "https://app.example/cb", "https://app.example/cb2", "http://app.example/cb"
	if got := CheckRedirectURIs(nil); len(got) != 1 || got[0].Index != -1 {
		t.Errorf("none: got %+v, want the length problem", got)
	}
	if got := CheckRedirectURIs(make([]string, MaxRedirectURIs+1)); len(got) != 1 || got[0].Index != -1 {
		t.Errorf("too many: got %+v, want the length problem alone", got)
	}
	if got := CheckRedirectURIs([]string{ok, dup}); len(got) != 0 {
		t.Errorf("valid: got %+v, want none", got)
	}
	got := CheckRedirectURIs([]string{dup, bad, ok, bad, dup})
	if len(got) != 3 || got[0].Index != 1 || got[0].Err == nil || got[1].Index != 3 || got[1].Err == nil ||
		got[2].Index != 4 || got[2].Err != nil || got[2].First != 0 {
		t.Errorf("got %+v, want [1] and [3] invalid, [4] a duplicate of [0]", got)
	}
}
