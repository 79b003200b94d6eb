package security

import (
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/functions/authorize"
	"github.com/applinks/applinks/shared/store"
)

// signIn posts the login form of a fresh login page of b as user with pw
// and returns the answer (redirects not followed) and its duration.
func (b *browser) signIn(t *testing.T, e *env, l link, user, pw string) (page, time.Duration) {
	t.Helper()
	b.noFollow()
	p := b.get(e.authURL(l, nil))
	f := theForm(t, p)
	start := time.Now()
	r := b.submit(p, f, map[string]string{"username": user, "password": pw})
	return r, time.Since(start)
}

var csrfValue = regexp.MustCompile(`name="csrf" value="[^"]*"|login_csrf=[^;]*`)

// normalized is what of a response may not depend on whether the username
// exists: status, headers (but Date) and body, with the echoed username and
// the CSRF token values replaced.
func normalized(r page, user string) string {
	var hs []string
	for k, vs := range r.header {
		if k == "Date" {
			continue
		}
		for _, v := range vs {
			hs = append(hs, k+": "+csrfValue.ReplaceAllString(v, "CSRF"))
		}
	}
	sort.Strings(hs)
	body := csrfValue.ReplaceAllString(strings.ReplaceAll(r.body, user, "USER"), "CSRF")
	return http.StatusText(r.status) + "\n" + strings.Join(hs, "\n") + "\n\n" + body
}

// TestBruteForce_PerUsernameThrottle: after authorize.MaxLoginFailures
// failed sign-ins for one username within authorize.LoginWindow, every
// sign-in for it is refused, even with the right password, with the same
// answer as a wrong password; other usernames are not affected.
func TestBruteForce_PerUsernameThrottle(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", "REPO_READ")
	e.user("bob", "REPO_READ")
	l := e.link(store.Confidential)
	b := e.browser()
	var failure page
	for i := range authorize.MaxLoginFailures {
		r, _ := b.signIn(t, e, l, "alice", "wrong password "+string(rune('a'+i)))
		if r.status != http.StatusOK || !strings.Contains(r.body, `name="password"`) {
			t.Fatalf("failure %d: got status %d, want the login page again", i+1, r.status)
		}
		failure = r
	}
	r, _ := b.signIn(t, e, l, "alice", password)
	if r.status == http.StatusSeeOther {
		t.Fatalf("after %d failures, the right password: got 303 (signed in), want refused", authorize.MaxLoginFailures)
	}
	if normalized(r, "alice") != normalized(failure, "alice") {
		t.Errorf("the throttled answer differs from a wrong password's:\n%s\n---\n%s", normalized(r, "alice"), normalized(failure, "alice"))
	}
	if r, _ := e.browser().signIn(t, e, l, "bob", password); r.status != http.StatusSeeOther {
		t.Errorf("another username: got status %d, want 303 (signed in)", r.status)
	}
	// Unknown usernames are counted as well: the throttle cannot tell them
	// apart either.
	for range authorize.MaxLoginFailures {
		b.signIn(t, e, l, "nobody", "x")
	}
	if got, _ := b.signIn(t, e, l, "nobody", "x"); normalized(got, "nobody") != normalized(failure, "alice") {
		t.Errorf("a throttled unknown username's answer differs from a known one's")
	}
}

// TestBruteForce_NoUserEnumeration: a failed sign-in answers the same,
// byte for byte but the CSRF token and the echoed username, whether the
// username exists, is disabled, or the password is wrong; both paths spend
// an argon2id verification (password.VerifyDummy for unknown users), whose
// timings are logged.
func TestBruteForce_NoUserEnumeration(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", "REPO_READ")
	e.user("carol", "REPO_READ")
	e.admin("PATCH", "/admin/users/carol", map[string]any{"disabled": true}, 200, nil)
	l := e.link(store.Confidential)
	b := e.browser()
	known, dk := b.signIn(t, e, l, "alice", "wrong password")
	for _, tc := range []struct{ name, user, pw string }{
		{"unknown username", "zorro", "wrong password"},
		{"disabled user, right password", "carol", password},
		{"empty password", "alice", ""},
	} {
		got, d := b.signIn(t, e, l, tc.user, tc.pw)
		if normalized(got, tc.user) != normalized(known, "alice") {
			t.Errorf("%s: the answer differs from a known user's wrong password:\n%s\n---\n%s",
				tc.name, normalized(got, tc.user), normalized(known, "alice"))
		}
		t.Logf("%s took %s; a known user's wrong password %s", tc.name, d, dk)
	}
}
