package shared

import (
	"slices"
	"testing"
)

func TestSplitProtocolScopes(t *testing.T) {
	tests := []struct {
		in, catalog string
		protocol    []string
	}{
		{"REPO_READ", "REPO_READ", nil},
		{"REPO_READ  ACCOUNT_WRITE", "REPO_READ  ACCOUNT_WRITE", nil}, // unchanged, even malformed
		{"", "", nil},
		{"openid", "", []string{"openid"}},
		{"email openid REPO_READ profile", "REPO_READ", []string{"openid", "profile", "email"}},
		{"openid openid offline_access REPO_WRITE ACCOUNT_WRITE", "REPO_WRITE ACCOUNT_WRITE", []string{"openid", "offline_access"}},
	}
	for _, tc := range tests {
		c, p := SplitProtocolScopes(tc.in)
		if c != tc.catalog || !slices.Equal(p, tc.protocol) {
			t.Errorf("SplitProtocolScopes(%q) = %q, %q; want %q, %q", tc.in, c, p, tc.catalog, tc.protocol)
		}
	}
}

func TestCoversProtocol(t *testing.T) {
	for _, tc := range []struct {
		have, want []string
		ok         bool
	}{
		{[]string{"openid", "email"}, []string{"openid"}, true},
		{[]string{"openid"}, []string{"openid", "email"}, false},
		{nil, nil, true},
		{nil, []string{"profile"}, false},
	} {
		if got := CoversProtocol(tc.have, tc.want); got != tc.ok {
			t.Errorf("CoversProtocol(%q, %q) = %v, want %v", tc.have, tc.want, got, tc.ok)
		}
	}
}
