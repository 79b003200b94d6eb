package token

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared/store"
)

// redeem presents code for the confidential client (or clientID's link).
func (e *env) redeem(code string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.post("/oauth2/token", basic(confID, confSecret), url.Values{
		"grant_type": {"authorization_code"}, "code": {code},
	})
}

// refusedFor checks that w is invalid_grant and that one more "code
// refused" log line than at its previous call gives reason (and the
// username), without the code.
func (e *env) refusedFor(w *httptest.ResponseRecorder, code, reason string) {
	e.t.Helper()
	oauthError(e.t, w, 400, "invalid_grant")
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "code refused" &&
			strings.Contains(str(m["reason"]), reason) && strings.HasPrefix(str(m["user_id"]), "uid-"+alice) {
			n++
		}
	}
	if e.refused == nil {
		e.refused = map[string]int{}
	}
	if want := e.refused[reason] + 1; n != want {
		e.t.Errorf("got %d \"code refused\" log lines with reason %q and the user id, want %d; logs:\n%s", n, reason, want, e.logs)
	}
	e.refused[reason] = n
	e.noSecretsLogged(code)
}

func str(v any) string { s, _ := v.(string); return s }

// testCodeCancelledByUserChange: a code issued before the user's
// credentials changed (the user deleted and created again under the same
// name, disabled and enabled again, or given a new password) is refused;
// one issued after the change is redeemed.
func testCodeCancelledByUserChange(t *testing.T, e *env) {
	ctx := context.Background()
	const reason = "user credentials changed"
	changes := []struct {
		name   string
		change func()
		reason string
	}{
		{"deleted and created again", func() {
			if err := e.st.DeleteUser(ctx, e.aliceID, e.clock.Now()); err != nil {
				t.Fatal(err)
			}
			e.clock.Add(time.Second)
			// Another person under the same name: a new id, so the old
			// code names a user that no longer exists.
			e.aliceID = e.aliceID + "-2"
			if err := e.st.CreateUser(ctx, store.User{ID: e.aliceID, Username: alice, PasswordHash: "another person",
				Permissions: []string{"REPO_WRITE", "ACCOUNT_WRITE"}, CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}); err != nil {
				t.Fatal(err)
			}
		}, "user no longer exists"},
		{"disabled and enabled again", func() {
			e.setUser(store.UserUpdate{Disabled: ptr(true)})
			e.clock.Add(time.Second)
			e.setUser(store.UserUpdate{Disabled: ptr(false)})
		}, reason},
		{"new password", func() { e.setUser(store.UserUpdate{PasswordHash: ptr("new hash")}) }, reason},
	}
	parent := e.t
	defer func() { e.t = parent }()
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			old := e.code(codeOpts{})
			e.clock.Add(time.Second)
			c.change()
			e.clock.Add(time.Second)
			e.refusedFor(e.redeem(old), old, c.reason)
			// The refusal consumed nothing: the user can authorize again.
			e.exchange(e.code(codeOpts{}))
		})
	}
	t.Run("same instant as the change", func(t *testing.T) {
		e.t = t
		e.clock.Add(time.Second)
		same := e.code(codeOpts{})
		e.setUser(store.UserUpdate{PasswordHash: ptr("newer hash")}) // at the code's very instant
		e.refusedFor(e.redeem(same), same, reason)
		e.clock.Add(time.Nanosecond) // the store keeps nanoseconds: one is enough to order them
		e.exchange(e.code(codeOpts{}))
	})
}

// testCodeCancelledByRevocation: after the user revokes the client on the
// account page, every code of the revoked grant is refused, however close
// to the revocation it was issued; codes for other clients, and codes of
// the new grant a later approval makes, are redeemed.
func testCodeCancelledByRevocation(t *testing.T, e *env) {
	ctx := context.Background()
	const reason = "the grant was revoked since the code was issued"
	before := e.code(codeOpts{})
	other := e.code(codeOpts{clientID: otherID})
	e.clock.Add(time.Second)
	same := e.code(codeOpts{})
	if _, err := e.st.RevokeGrant(ctx, e.aliceID, confID, "", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.refusedFor(e.redeem(before), before, reason)
	e.refusedFor(e.redeem(same), same, reason)
	e.ok(e.post("/oauth2/token", basic(otherID, otherSec), url.Values{"grant_type": {"authorization_code"}, "code": {other}}))

	e.clock.Add(time.Nanosecond)
	e.exchange(e.code(codeOpts{}))
	e.clock.Add(time.Second)
	e.exchange(e.code(codeOpts{}))
}

func TestCodeCancelledByUserChange(t *testing.T) {
	testCodeCancelledByUserChange(t, newEnv(t, nil))
}

func TestCodeCancelledByRevocation(t *testing.T) {
	testCodeCancelledByRevocation(t, newEnv(t, nil))
}
