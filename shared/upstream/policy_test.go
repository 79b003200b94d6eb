package upstream

import (
	"slices"
	"testing"
	"time"
)

func TestCheckAuthTime(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	started := now.Add(-30 * time.Second)
	at := func(d time.Duration) Identity { return Identity{AuthTime: now.Add(-d)} }
	for _, tc := range []struct {
		name   string
		id     Identity
		prompt bool
		maxAge int
		ok     bool
	}{
		{"nothing asked", Identity{}, false, -1, true},
		{"max_age, fresh", at(10 * time.Second), false, 60, true},
		{"max_age, within the skew", at(2 * time.Minute), false, 60, true},
		{"max_age, too old", at(3 * time.Minute), false, 60, false},
		{"max_age, no auth_time", Identity{}, false, 60, false},
		{"max_age=0 just now", at(0), false, 0, true},
		{"prompt=login, after the start", at(10 * time.Second), true, -1, true},
		{"prompt=login, an old upstream session", at(time.Hour), true, -1, false},
		{"prompt=login, no auth_time", Identity{}, true, -1, true},
	} {
		if err := CheckAuthTime(tc.id, started, tc.prompt, tc.maxAge, now); (err == nil) != tc.ok {
			t.Errorf("%s: got %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

// TestEmailAllowed: with an allow-list, only a verified email in a listed
// domain (any case) passes; an unverified one never does.
func TestEmailAllowed(t *testing.T) {
	domains := []string{"example.com", "Corp.Example"}
	for _, tc := range []struct {
		email    string
		verified bool
		ok       bool
	}{
		{"ada@example.com", true, true},
		{"ada@EXAMPLE.com", true, true},
		{"ada@corp.example", true, true},
		{"ada@example.com", false, false},
		{"ada@example.com.evil", true, false},
		{"ada@sub.example.com", true, false},
		{"example.com", true, false},
		{"ada@", true, false},
		{"", true, false},
	} {
		if got := EmailAllowed(Identity{Email: tc.email, EmailVerified: tc.verified}, domains); got != tc.ok {
			t.Errorf("%q verified %v: got %v, want %v", tc.email, tc.verified, got, tc.ok)
		}
	}
	if !EmailAllowed(Identity{}, nil) {
		t.Errorf("no allow-list refused someone")
	}
}

func TestMapPermissions(t *testing.T) {
	m := map[string][]string{"devs": {"REPO_WRITE"}, "admins": {"REPO_ADMIN", "REPO_WRITE"}, "old": {"GONE"}}
	known := func(s string) bool { return s != "GONE" }
	got := MapPermissions([]string{"admins", "devs", "old", "unmapped"}, m, known)
	if !slices.Equal(got, []string{"REPO_ADMIN", "REPO_WRITE"}) {
		t.Errorf("got %v", got)
	}
	if got := MapPermissions(nil, m, known); got == nil || len(got) != 0 {
		t.Errorf("no values: got %#v, want an empty list", got)
	}
}

func TestValidUsername(t *testing.T) {
	for s, ok := range map[string]bool{"ada": true, "ada.l@example.com": true, "a_b-c": true, "": false, "ada lovelace": false,
		"\u212Aim": false, "ada\n": false, string(make([]byte, MaxUsernameLen+1)): false} {
		if ValidUsername(s) != ok {
			t.Errorf("ValidUsername(%q) = %v, want %v", s, !ok, ok)
		}
	}
}
