package shared

import (
	"net/url"
	"testing"
)

func TestAppendQuery(t *testing.T) {
	p := url.Values{"code": {"abc"}, "state": {"x y"}}
	tests := []struct {
		uri, want string
		ok        bool
	}{
		{"https://a.example/cb", "https://a.example/cb?code=abc&state=x+y", true},
		{"https://a.example/cb?t=1", "https://a.example/cb?t=1&code=abc&state=x+y", true},
		{"https://a.example/cb?t=1&", "https://a.example/cb?t=1&code=abc&state=x+y", true},
		{"https://a.example/cb?", "https://a.example/cb?code=abc&state=x+y", true},
		{"https://a.example/c%2Fb?z=%41", "https://a.example/c%2Fb?z=%41&code=abc&state=x+y", true},
		{"https://a.example/cb#f", "", false},
		{"https://a.example/%zz", "", false},
	}
	for _, tc := range tests {
		got, ok := AppendQuery(tc.uri, p)
		if got != tc.want || ok != tc.ok {
			t.Errorf("AppendQuery(%q) = %q, %v, want %q, %v", tc.uri, got, ok, tc.want, tc.ok)
		}
	}
	if got, ok := AppendQuery("https://a.example/cb", nil); got != "https://a.example/cb" || !ok {
		t.Errorf("AppendQuery with no params = %q, %v, want the URI unchanged", got, ok)
	}
}
