package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared/throttle"
)

// TestConsoleConfirmSourceLimit: the console's password confirmation is
// under the sign-in's per-source limit: from a source over it even the
// right password is refused, with the usual answer; from another source it
// is confirmed.
func TestConsoleConfirmSourceLimit(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	cookie, csrf := e.signIn("alice", ConfirmTTL+time.Second)
	// Failed sign-ins from 192.0.2.1 (any usernames) used up its window.
	for range throttle.MaxSourceFailures {
		if _, _, err := e.st.ReserveAttempt(context.Background(), throttle.SourceCounter("192.0.2.1"),
			throttle.MaxSourceFailures, throttle.SourceWindow, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	confirm := func(remote string) resp {
		t.Helper()
		form := url.Values{"csrf": {csrf}, "return_to": {"/console/links"}, "password": {consolePass}}
		r := httptest.NewRequest(http.MethodPost, "/console/confirm", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.RemoteAddr = remote
		return e.send(cookie, r)
	}
	if r := confirm("192.0.2.1:5555"); r.status != http.StatusOK || !strings.Contains(r.body, msgConfirmFailed) || strings.Contains(r.body, "later") {
		t.Errorf("right password from the source over its limit: got %d, want 200 and the refusal", r.status)
	}
	if r := confirm("198.51.100.7:5555"); r.status != http.StatusSeeOther {
		t.Errorf("right password from another source: got %d, want 303 (confirmed)", r.status)
	}
}

// TestConsoleLoginSourceLimit: the console's sign-in goes through the same
// limits: a source over its limit is refused even the right password, with
// the usual failure message; another source signs in.
func TestConsoleLoginSourceLimit(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	for range throttle.MaxSourceFailures {
		if _, _, err := e.st.ReserveAttempt(context.Background(), throttle.SourceCounter("192.0.2.1"),
			throttle.MaxSourceFailures, throttle.SourceWindow, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	signIn := func(remote string) resp {
		t.Helper()
		b := e.browser()
		page := b.get(consoleLoginPath)
		form := url.Values{"csrf": {csrfOf(t, page.body)}, "username": {"alice"}, "password": {consolePass}}
		r := httptest.NewRequest(http.MethodPost, consoleLoginPath, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.RemoteAddr = remote
		return b.do(r)
	}
	if r := signIn("192.0.2.1:5555"); r.status != http.StatusOK || !strings.Contains(r.body, msgConsoleLoginFailed) {
		t.Errorf("right password from the source over its limit: got %d, want the failure message", r.status)
	}
	if r := signIn("198.51.100.7:5555"); r.status != http.StatusSeeOther {
		t.Errorf("right password from another source: got %d, want 303 (signed in)", r.status)
	}
}
