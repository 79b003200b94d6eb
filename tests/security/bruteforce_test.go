package security

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/applinks/applinks/functions/authorize"
	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
)

// signIn posts the login form of a fresh login page of b as user with pw
// and returns the answer (redirects not followed) and its duration.
func (b *browser) signIn(t *testing.T, e *env, l link, user, pw string) (page, time.Duration) {
	t.Helper()
	b.noFollow()
	p := b.get(e.authURL(l, nil))
	r, err := b.SignIn(context.Background(), p.raw(), user, pw)
	if err != nil {
		t.Fatal(err)
	}
	return pageOf(r), r.Elapsed
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
	// Usernames are unique regardless of letter case: the same name in
	// another case is the same account and the same throttle, so changing
	// the case does not buy more guesses.
	for _, name := range []string{"ALICE", "Alice"} {
		if r, _ := e.browser().signIn(t, e, l, name, password); r.status == http.StatusSeeOther {
			t.Errorf("%s with the right password after alice was throttled: got 303 (signed in), want refused", name)
		}
	}
	if r, _ := e.browser().signIn(t, e, l, "bob", password); r.status != http.StatusSeeOther {
		t.Errorf("another username: got status %d, want 303 (signed in)", r.status)
	}
	// Guesses spread over the cases of one name count in one window.
	e.user("carol", "REPO_READ")
	for i, name := range []string{"carol", "CAROL", "Carol", "cArOl", "caROL"}[:authorize.MaxLoginFailures] {
		if r, _ := b.signIn(t, e, l, name, "wrong password "+string(rune('a'+i))); r.status != http.StatusOK {
			t.Fatalf("failure %d as %s: got status %d, want the login page again", i+1, name, r.status)
		}
	}
	if r, _ := e.browser().signIn(t, e, l, "carol", password); r.status == http.StatusSeeOther {
		t.Errorf("carol after %d failures in other cases: got 303 (signed in), want refused", authorize.MaxLoginFailures)
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

// TestBruteForce_ParallelBurst: guesses sent at once cannot all be checked
// before any is counted. A burst of wrong passwords for one username, all
// on one login form, gets at most authorize.MaxLoginFailures passwords
// checked (each attempt is counted before its check); the others are
// throttled without a check, and afterwards the right password is refused
// too.
func TestBruteForce_ParallelBurst(t *testing.T) {
	e := newEnv(t, nil)
	e.user("dave", "REPO_READ")
	l := e.link(store.Confidential)
	b := e.browser()
	b.noFollow()
	p := b.get(e.authURL(l, nil))
	const burst = 24
	var wg sync.WaitGroup
	statuses := make([]int, burst)
	errs := make([]error, burst)
	for i := range burst {
		wg.Go(func() {
			r, err := b.SignIn(context.Background(), p.raw(), "dave", fmt.Sprintf("wrong guess %d", i))
			if err != nil {
				errs[i] = err
				return
			}
			statuses[i] = r.Status
		})
	}
	wg.Wait()
	for i := range burst {
		if errs[i] != nil || statuses[i] != http.StatusOK {
			t.Fatalf("guess %d: got status %d, %v, want 200 (the login page again)", i, statuses[i], errs[i])
		}
	}
	// A throttled line names the username by its hash prefix only (it may
	// be a password typed in the wrong field).
	checked, throttled := 0, 0
	for _, line := range strings.Split(e.logs.String(), "\n") {
		if !strings.Contains(line, `"msg":"login failed"`) ||
			!strings.Contains(line, `"username":"dave"`) && !strings.Contains(line, `"username_hash":"`+shared.HashPrefix("dave")+`"`) {
			continue
		}
		switch {
		case strings.Contains(line, `"reason":"wrong_password"`):
			checked++
		case strings.Contains(line, `"reason":"throttled"`):
			throttled++
		}
	}
	if checked > authorize.MaxLoginFailures || checked+throttled != burst {
		t.Errorf("got %d passwords checked and %d throttled of %d guesses, want at most %d checked and the rest throttled",
			checked, throttled, burst, authorize.MaxLoginFailures)
	}
	if r, _ := b.signIn(t, e, l, "dave", password); r.status == http.StatusSeeOther {
		t.Errorf("the right password after the burst: got 303 (signed in), want refused")
	}
}
