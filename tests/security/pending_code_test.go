package security

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/applinks/applinks/shared/store"
)

// TestPendingCode_RevokedOnAccountPage: a user approves app B (a code is
// issued), then revokes app B on the account page before the code is
// redeemed. The code must not bring app B back: the exchange is refused
// (the code names the grant the user revoked), app B holds no active grant
// of the user, and the code stays refused after the user authorizes app B
// again (a new grant, with a new id).
func TestPendingCode_RevokedOnAccountPage(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", "REPO_WRITE")
	appB := e.link(store.Confidential)
	b := e.browser()

	// An earlier authorization, so that the account page lists app B.
	first := b.approve(e.authURL(appB, nil), "alice").Get("code")
	e.exchange(appB, first, "")
	// A second consent (approved): the code is pending.
	pending := b.approve(e.authURL(appB, map[string]string{"prompt": "consent", "state": "st-2"}), "alice").Get("code")
	if pending == "" {
		t.Fatal("no code from the second consent")
	}

	account := b.get(e.issuer + "/account/authorizations")
	var revoke *form
	for _, f := range forms(t, account.body) {
		if strings.HasSuffix(f.Action, "/"+url.PathEscape(appB.ClientID)+"/revoke") {
			revoke = &f
		}
	}
	if revoke == nil {
		t.Fatalf("account page: no revoke form for app B:\n%s", account.body)
	}
	if r := b.submit(account, *revoke, nil); r.status != http.StatusOK || !strings.Contains(r.body, "Access revoked") {
		t.Fatalf("account revoke: got status %d, want the account page confirming the revocation:\n%s", r.status, r.body)
	}

	oauthError(t, e.token(appB, url.Values{"grant_type": {"authorization_code"}, "code": {pending}}), 400, "invalid_grant")
	for _, g := range e.grants(appB) {
		if !g.Revoked {
			t.Errorf("grant %s of app B is active after the user revoked app B", g.ID)
		}
	}
	if p := b.get(e.issuer + "/account/authorizations"); strings.Contains(p.body, "/revoke\"") {
		t.Errorf("account page lists an authorization after the revocation:\n%s", p.body)
	}
	if !strings.Contains(e.logs.String(), "the grant was revoked since the code was issued") {
		t.Error("no log line giving the reason of the refusal")
	}

	// Authorizing app B again afterwards works: a new grant, with a new
	// id. The pending code names the revoked one, so the new grant does
	// not bring it back.
	again := b.approve(e.authURL(appB, map[string]string{"prompt": "consent", "state": "st-3"}), "alice").Get("code")
	oauthError(t, e.token(appB, url.Values{"grant_type": {"authorization_code"}, "code": {pending}}), 400, "invalid_grant")
	g := e.exchange(appB, again, "")
	if !e.active(appB, g.refresh) || !e.active(appB, g.access) {
		t.Error("the tokens of the new authorization: got inactive, want active")
	}
}

// TestPendingCode_UserChanged: a code issued to erin must not be redeemed
// after the administrator deleted erin and created a new user named erin
// (the tokens would speak for another person), nor after erin was disabled
// and enabled again, or given a new password.
func TestPendingCode_UserChanged(t *testing.T) {
	e := newEnv(t, nil)
	l := e.link(store.Confidential)
	for _, tc := range []struct {
		name   string
		change func(user string)
	}{
		{"deleted and created again", func(user string) {
			e.admin("DELETE", "/admin/users/"+user, nil, 204, nil)
			e.user(user, "REPO_WRITE")
		}},
		{"disabled and enabled again", func(user string) {
			e.admin("PATCH", "/admin/users/"+user, map[string]any{"disabled": true}, 200, nil)
			e.admin("PATCH", "/admin/users/"+user, map[string]any{"disabled": false}, 200, nil)
		}},
		{"new password", func(user string) {
			e.admin("PATCH", "/admin/users/"+user, map[string]any{"password": password}, 200, nil)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			user := "erin-" + strings.ReplaceAll(tc.name, " ", "-")
			e.user(user, "REPO_WRITE")
			code := e.code(l, user, nil)
			tc.change(user)
			r := e.token(l, url.Values{"grant_type": {"authorization_code"}, "code": {code}})
			oauthError(t, r, 400, "invalid_grant")
			if strings.Contains(r.body, "access_token") {
				t.Errorf("got tokens for %s from a code issued before the change: %s", user, r.body)
			}
			// The user (the new one, after a re-creation) can still
			// authorize afresh.
			e.exchange(l, e.code(l, user, nil), "")
		})
	}
	if !strings.Contains(e.logs.String(), "user credentials changed") {
		t.Error("no log line giving the reason of the refusal")
	}
}
