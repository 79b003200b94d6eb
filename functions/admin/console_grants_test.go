package admin

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared/store"
)

// TestConsoleRevokeGrantAsks: the link's authorizations say what each user
// approved in words (the catalog's descriptions, the OpenID Connect scopes
// in plain words) and when it was last used; Revoke opens a confirmation
// page (nothing is revoked by it); confirming revokes, and the link's page
// then shows the authorization as revoked, with when, not "no one has
// authorized", for RevokedGrantTTL.
func TestConsoleRevokeGrantAsks(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	e.user("bob", false)
	cookie, csrf := e.signIn("alice", time.Minute)
	ctx := context.Background()
	l := e.do(201, http.MethodPost, "/admin/links", `{"name":"Demo app","redirect_uris":["https://app.example/cb"],"scopes":["REPO_READ"],"client_type":"confidential"}`)
	linkID, clientID := l["id"].(string), l["client_id"].(string)
	g, err := e.st.ApproveGrant(ctx, store.Grant{ID: "grant-bob-0000000000", UserID: "uid-bob", Username: "bob", ClientID: clientID,
		Scope: []string{"REPO_READ"}, Protocol: []string{"openid", "profile", "email"}},
		e.cfg.Catalog.Union, e.clock.Now())
	if err != nil {
		t.Fatalf("ApproveGrant: %v", err)
	}
	revokePath := "/console/links/" + linkID + "/grants/" + g.ID + "/revoke"
	var r resp
	for range 50 { // the link's listing is an eventually consistent index
		if r = e.get(cookie, "/console/links/"+linkID); strings.Contains(r.body, `href="`+revokePath+`"`) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(r.body, `href="`+revokePath+`"`) {
		t.Fatalf("link page: want a Revoke link to %s:\n%s", revokePath, r.body)
	}
	// What bob approved, in the catalog's words and the OpenID Connect
	// scopes in plain words; never used yet.
	for _, want := range []string{
		`<td data-label="Permissions granted"><ul class="plain"><li>View projects and repositories <code>REPO_READ</code></li><li>Sign them in (their account&#39;s id) <code>openid</code></li><li>Their name and username <code>profile</code></li><li>Their email address <code>email</code></li></ul></td>`,
		`<th scope="col">Last used</th>`, `<td data-label="Last used">Never</td>`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("link page: want %s:\n%s", want, r.body)
		}
	}
	used := e.clock.Now().Add(-time.Minute).UTC()
	if _, _, err := e.st.TouchLastUse(ctx, store.LastUseRef{ClientID: clientID, UserID: "uid-bob", GrantID: g.ID}, used); err != nil {
		t.Fatal(err)
	}
	if r := e.get(cookie, "/console/links/"+linkID); !strings.Contains(r.body, `<td data-label="Last used"><time datetime="`+used.Format(time.RFC3339)+`">`) {
		t.Errorf("link page after bob's refresh: want his last use %v:\n%s", used, r.body)
	}
	ask := e.get(cookie, revokePath)
	if ask.status != http.StatusOK || !strings.Contains(ask.body, "Revoke bob&#39;s access to Demo app?") || !strings.Contains(ask.body, `class="danger"`) {
		t.Fatalf("revoke: got %d, want a confirmation page:\n%s", ask.status, ask.body)
	}
	if cur, err := e.st.GetGrant(ctx, "uid-bob", clientID); err != nil || cur.Revoked {
		t.Fatalf("after the confirmation page: got %+v, %v, want bob's grant still active", cur, err)
	}
	done := e.post(cookie, revokePath, url.Values{"csrf": {csrf}})
	if done.status != http.StatusSeeOther || done.location() != "/console/links/"+linkID+"?revoked=uid-bob" {
		t.Fatalf("confirm: got %d to %q", done.status, done.location())
	}
	if cur, err := e.st.GetGrant(ctx, "uid-bob", clientID); err != nil || !cur.Revoked {
		t.Fatalf("after confirming: got %+v, %v, want bob's grant revoked", cur, err)
	}
	revokedAt := e.clock.Now().UTC()
	after := e.get(cookie, done.location())
	revokedRow := `<span class="status off">Revoked</span> <span class="small">on <time datetime="` + revokedAt.Format(time.RFC3339) + `">` + revokedAt.Format("2 Jan 2006 15:04 UTC") + `</time></span>`
	if !strings.Contains(after.body, "bob&#39;s authorization was revoked") || !strings.Contains(after.body, revokedRow) ||
		strings.Contains(after.body, "No one has authorized") || strings.Count(after.body, `<td data-label="User">bob</td>`) != 1 {
		t.Errorf("after revoking: want bob's authorization shown once, revoked, with when:\n%s", after.body)
	}
	// Later, without the notice, the link's page still lists it as revoked,
	// and asking to revoke it again asks nothing.
	e.clock.Add(24 * time.Hour)
	cookie, _ = e.signIn("alice", time.Minute)
	later := e.get(cookie, "/console/links/"+linkID)
	if !strings.Contains(later.body, revokedRow) || strings.Contains(later.body, "authorization was revoked") || strings.Contains(later.body, `href="`+revokePath+`"`) {
		t.Errorf("a day later: want bob's authorization listed as revoked, without the notice or a Revoke:\n%s", later.body)
	}
	if again := e.get(cookie, revokePath); again.status != http.StatusSeeOther || again.location() != "/console/links/"+linkID+"?revoked=uid-bob" {
		t.Errorf("revoke page of a revoked grant: got %d to %q, want the link's page", again.status, again.location())
	}
	// Another user's id in the address shows nothing that did not happen.
	if other := e.get(cookie, "/console/links/"+linkID+"?revoked=uid-alice"); other.status != http.StatusOK || strings.Contains(other.body, "alice&#39;s authorization") ||
		strings.Count(other.body, `status off">Revoked`) != 1 {
		t.Errorf("?revoked=uid-alice: want bob's row only, and no notice about alice:\n%s", other.body)
	}
	// Once the item's time is up (store.RevokedGrantTTL), it is not shown.
	e.clock.Add(revokedAt.Add(store.RevokedGrantTTL).Sub(e.clock.Now()))
	cookie, _ = e.signIn("alice", time.Minute)
	if gone := e.get(cookie, done.location()); gone.status != http.StatusOK || strings.Contains(gone.body, `status off">Revoked`) || !strings.Contains(gone.body, "No one has authorized") {
		t.Errorf("after RevokedGrantTTL: got %d, want the link's page without the revoked grant:\n%s", gone.status, gone.body)
	}
}
