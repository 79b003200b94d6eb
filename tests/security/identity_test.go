package security

import (
	"net/url"
	"strings"
	"testing"

	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/tests/testkit/oauthflow"
)

// The identity findings of the review (issue 11): a user is known by an
// immutable id, not by a name that can be reused. Everything here goes
// through the HTTP API of the provider on DynamoDB Local.

// TestIdentity_RecreatedName: a user deleted and created again under the
// same name is another person with another id. Nothing of the old one
// (browser session, pending code, grant, refresh or access token, the
// remembered consent, the account page) works for or shows to the new one.
func TestIdentity_RecreatedName(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", "REPO_WRITE")
	l := e.link(store.Confidential)
	oldID := e.userID("alice")

	// The old alice: a session, tokens, and a pending code.
	old := e.browser()
	toks := e.exchange(l, codeFrom(t, old.approve(e.authURL(l, nil), "alice")), "")
	pending := codeFrom(t, old.approve(e.authURL(l, nil), "alice")) // remembered consent: no page
	if got := e.introspect(l, toks.access); got["sub"] != oldID || got["username"] != "alice" {
		t.Fatalf("introspection before: got sub %v, username %v; want %s, alice", got["sub"], got["username"], oldID)
	}

	e.admin("DELETE", "/admin/users/alice", nil, 204, nil)
	e.user("Alice", "REPO_WRITE") // the same name, another case: the same username
	newID := e.userID("alice")
	if newID == "" || newID == oldID {
		t.Fatalf("re-created user: id %q, want a new id (old %s)", newID, oldID)
	}

	if e.active(l, toks.access) {
		t.Error("old access token: active for the re-created name")
	}
	oauthError(t, e.refresh(l, toks.refresh), 400, "invalid_grant")
	oauthError(t, e.token(l, url.Values{"grant_type": {"authorization_code"}, "code": {pending}}), 400, "invalid_grant")
	if gs := e.userGrants("alice"); len(gs) != 0 {
		t.Errorf("grants of the new alice: %+v, want none", gs)
	}
	// The old browser session is signed out: the authorize request shows
	// the sign-in page, not a code.
	p := old.get(e.authURL(l, nil))
	if !strings.Contains(p.body, `name="password"`) {
		t.Errorf("old session after re-creation: got %d to %q, want the sign-in page", p.status, p.header.Get("Location"))
	}
	// The new alice signs in and sees the consent page (no remembered
	// consent of the old one), and her tokens carry her id.
	fresh := e.browser()
	consent := fresh.consentPage(e.authURL(l, nil), "alice")
	if !strings.Contains(consent.body, `value="approve"`) {
		t.Fatalf("new alice: got %d, want the consent page", consent.status)
	}
	mine := e.exchange(l, codeFrom(t, fresh.approve(e.authURL(l, nil), "alice")), "")
	if got := e.introspect(l, mine.access); got["sub"] != newID {
		t.Errorf("new alice's token: sub %v, want %s", got["sub"], newID)
	}
	// The account page lists only her own authorization.
	acc := fresh.get(e.issuer + "/account/authorizations")
	if n := strings.Count(acc.body, "/revoke\""); n != 1 {
		t.Errorf("new alice's account page: %d revoke forms, want 1 (her own authorization)", n)
	}
}

// TestIdentity_ExchangeRacesDelete: the reproduction of the review. Code
// exchanges race DELETE /admin/users/{u}; then an administrator creates a
// new user with the same name. Whatever the exchanges got, none of it
// refreshes, introspects active, authorizes without consent, or shows on
// the new person's account page. Several rounds, on DynamoDB Local.
func TestIdentity_ExchangeRacesDelete(t *testing.T) {
	e := newEnv(t, nil)
	l := e.link(store.Confidential)
	for round := range 6 {
		e.user("bob", "REPO_WRITE")
		codes := make([]string, 4)
		b := e.browser()
		for i := range codes {
			codes[i] = codeFrom(t, b.approve(e.authURL(l, nil), "bob"))
		}
		auth := oauthflow.Basic(l.ClientID, l.ClientSecret)
		rs := concurrently(len(codes)+1, func(i int) result {
			if i == len(codes) {
				return e.raw("DELETE", "/admin/users/bob", "", "Authorization", "Bearer "+adminToken)
			}
			body := url.Values{"grant_type": {"authorization_code"}, "code": {codes[i]}}.Encode()
			return e.raw("POST", "/oauth2/token", body, "Content-Type", "application/x-www-form-urlencoded", "Authorization", auth)
		})
		e.user("bob", "REPO_WRITE") // another person, same name
		var refresh []string
		for i, r := range rs[:len(codes)] {
			if r.err != nil {
				t.Fatalf("round %d exchange %d: %v", round, i, r.err)
			}
			if r.status == 200 {
				refresh = append(refresh, refreshTokens(t, []result{r})...)
			}
		}
		for _, rt := range refresh {
			if r := e.refresh(l, rt); r.status == 200 {
				t.Errorf("round %d: a refresh token from an exchange racing the deletion refreshes for the new bob", round)
			}
			if e.active(l, rt) {
				t.Errorf("round %d: a refresh token from an exchange racing the deletion is active", round)
			}
		}
		if gs := e.userGrants("bob"); len(gs) != 0 {
			t.Errorf("round %d: the new bob has grants %+v, want none", round, gs)
		}
		nb := e.browser()
		if p := nb.consentPage(e.authURL(l, nil), "bob"); !strings.Contains(p.body, `value="approve"`) {
			t.Errorf("round %d: the new bob got %d, want the consent page (nothing remembered)", round, p.status)
		}
		if acc := nb.get(e.issuer + "/account/authorizations"); strings.Contains(acc.body, "/revoke\"") {
			t.Errorf("round %d: the new bob's account page lists an authorization", round)
		}
		e.admin("DELETE", "/admin/users/bob", nil, 204, nil)
	}
}

// codeFrom is the code of an authorization response.
func codeFrom(t *testing.T, q url.Values) string {
	t.Helper()
	c := q.Get("code")
	if c == "" {
		t.Fatalf("no code in the redirect: %v", q)
	}
	return c
}
