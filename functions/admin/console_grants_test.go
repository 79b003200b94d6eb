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

// TestConsoleRevokeGrantAsks: Revoke on a link's page opens a confirmation
// page (nothing is revoked by it); confirming revokes, and the link's page
// then shows the authorization as revoked, not "no one has authorized".
func TestConsoleRevokeGrantAsks(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	e.user("bob", false)
	cookie, csrf := e.signIn("alice", time.Minute)
	ctx := context.Background()
	l := e.do(201, http.MethodPost, "/admin/links", `{"name":"Demo app","redirect_uris":["https://app.example/cb"],"scopes":["REPO_READ"],"client_type":"confidential"}`)
	linkID, clientID := l["id"].(string), l["client_id"].(string)
	g, err := e.st.ApproveGrant(ctx, store.Grant{ID: "grant-bob-0000000000", UserID: "uid-bob", Username: "bob", ClientID: clientID, Scope: []string{"REPO_READ"}},
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
	after := e.get(cookie, done.location())
	if !strings.Contains(after.body, "bob&#39;s authorization was revoked") || !strings.Contains(after.body, `<span class="status off">Revoked</span>`) ||
		strings.Contains(after.body, "No one has authorized") {
		t.Errorf("after revoking: want bob's authorization shown as revoked:\n%s", after.body)
	}
	// Another user's id in the address shows nothing that did not happen.
	if other := e.get(cookie, "/console/links/"+linkID+"?revoked=uid-alice"); other.status != http.StatusOK || strings.Contains(other.body, `status off">Revoked`) {
		t.Errorf("?revoked=uid-alice: want no revoked row for a grant that does not exist")
	}
	// Once the item's time is up (store.RevokedGrantTTL), it is not shown.
	e.clock.Add(store.RevokedGrantTTL + time.Second)
	if later := e.get(cookie, done.location()); later.status != http.StatusOK || strings.Contains(later.body, `status off">Revoked`) {
		t.Errorf("after RevokedGrantTTL: got %d, want the link's page without the revoked grant:\n%s", later.status, later.body)
	}
}
