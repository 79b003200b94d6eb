package authorize

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
)

// signInAccount signs alice in from the account page and returns the
// browser and the account page.
func signInAccount(t *testing.T, e *env) (*browser, *response) {
	t.Helper()
	b := e.browser()
	login := b.get(accountPath)
	if login.status != http.StatusOK {
		t.Fatalf("account page signed out: status %d, want 200 login page", login.status)
	}
	f := checkPage(t, login).form(t, "/oauth2/login")
	if rt := mustGet(t, f, "return_to"); rt != accountPath {
		t.Fatalf("return_to = %q, want %q", rt, accountPath)
	}
	r := b.submit(f, "", map[string]string{"username": "alice", "password": alicePass})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != accountPath {
		t.Fatalf("login: status %d Location %q, want 303 to %s", r.status, r.header.Get("Location"), accountPath)
	}
	return b, b.get(accountPath)
}

// carolID is the id of carol, a user seedGrants adds.
const carolID = "carolCCCCCCCCCCCCCCCCC"

// Ids of the grants seedGrants writes.
const (
	gApp   = "gAppAAAAAAAAAAAAAAAAAA" // alice, app link: approved twice
	gQuery = "gQueryAAAAAAAAAAAAAAAA" // alice, query link
	gPub   = "gPubAAAAAAAAAAAAAAAAAA" // alice, public link: revoked
	gGone  = "gGoneAAAAAAAAAAAAAAAAA" // alice, a deleted link
	gCarol = "gCarolAAAAAAAAAAAAAAAA" // carol, app link
)

// seedGrants gives alice one grant per link (one record per user and
// link): the app link's approved at t0 and again an hour later, the query
// link's, a revoked one for the public link and one for a deleted link;
// carol, another user, has one for the app link.
func seedGrants(e *env) time.Time {
	t0 := e.clock.Now().Add(-48 * time.Hour)
	made := e.clock.Now().Add(-72 * time.Hour)
	e.store.addUser(store.User{ID: carolID, Username: "carol", PasswordHash: aliceHash(), Permissions: []string{"REPO_WRITE"}, CreatedAt: made, UpdatedAt: made})
	add := func(id, cid, userID, username string, scope []string, at, last time.Time, revoked bool) {
		e.store.addGrant(store.Grant{ID: id, ClientID: cid, UserID: userID, Username: username, Scope: scope,
			CreatedAt: at, UpdatedAt: last, Revoked: revoked, RevokedAt: map[bool]time.Time{true: last}[revoked]})
	}
	add(gApp, appClient, aliceID, "alice", []string{"REPO_WRITE"}, t0, t0.Add(time.Hour), false)
	add(gQuery, queryClient, aliceID, "alice", []string{"PUBLIC_REPOS"}, t0.Add(2*time.Hour), t0.Add(2*time.Hour), false)
	add(gPub, pubClient, aliceID, "alice", []string{"REPO_READ"}, t0, t0, true)
	add(gGone, "client-gone", aliceID, "alice", []string{"REPO_READ"}, t0, t0, false)
	add(gCarol, appClient, carolID, "carol", []string{"REPO_READ"}, t0, t0, false)
	return t0
}

func TestAccountSignedOut(t *testing.T) {
	e := newEnv(t)
	r := e.browser().get(accountPath, "Accept", "application/json")
	if r.status != http.StatusUnauthorized || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Errorf("JSON signed out: status %d type %q, want 401 JSON", r.status, r.header.Get("Content-Type"))
	}
	if r.header.Get("WWW-Authenticate") == "" {
		t.Error("JSON signed out: 401 without WWW-Authenticate (RFC 9110 §15.5.2)")
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(r.body), &body); err != nil || body["error"] == "" {
		t.Errorf("body %q, want a JSON error", r.body)
	}
}

func TestAccountPage(t *testing.T) { testAccountPage(t, newEnv) }

func testAccountPage(t *testing.T, mk mkEnv) {
	e := mk(t)
	t0 := seedGrants(e)
	b, page := signInAccount(t, e)
	p := checkPage(t, page)
	for _, want := range []string{"Build <Bot> & Co", "Query App", "Update projects and repositories", "REPO_WRITE", "View public projects"} {
		if !strings.Contains(p.Text, want) {
			t.Errorf("account page lacks %q (text %q)", want, p.Text)
		}
	}
	for _, absent := range []string{"Desktop App", "client-gone"} {
		if strings.Contains(p.Text, absent) {
			t.Errorf("account page shows %q (revoked or deleted)", absent)
		}
	}
	var revokeForms []htmlForm
	for _, f := range p.Forms {
		if strings.HasPrefix(f.Action, "/account/authorizations/") && strings.HasSuffix(f.Action, "/revoke") {
			revokeForms = append(revokeForms, f)
		}
	}
	if len(revokeForms) != 2 {
		t.Fatalf("got %d revoke forms, want 2", len(revokeForms))
	}

	js := b.get(accountPath, "Accept", "application/json")
	if js.status != http.StatusOK {
		t.Fatalf("JSON status = %d, want 200", js.status)
	}
	var got struct {
		Authorizations []struct {
			ClientID         string    `json:"client_id"`
			Name             string    `json:"name"`
			Scopes           []string  `json:"scopes"`
			AuthorizedAt     time.Time `json:"authorized_at"`
			LastAuthorizedAt time.Time `json:"last_authorized_at"`
		} `json:"authorizations"`
	}
	if err := json.Unmarshal([]byte(js.body), &got); err != nil {
		t.Fatalf("JSON: %v (%s)", err, js.body)
	}
	if len(got.Authorizations) != 2 {
		t.Fatalf("got %d authorizations, want 2: %s", len(got.Authorizations), js.body)
	}
	q, a := got.Authorizations[0], got.Authorizations[1] // newest first
	if q.ClientID != queryClient || strings.Join(q.Scopes, " ") != "PUBLIC_REPOS" {
		t.Errorf("first = %+v, want %s with PUBLIC_REPOS", q, queryClient)
	}
	if a.ClientID != appClient || a.Name != "Build <Bot> & Co" || strings.Join(a.Scopes, " ") != "REPO_WRITE" ||
		!a.AuthorizedAt.Equal(t0) || !a.LastAuthorizedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("second = %+v, want %s, REPO_WRITE, authorized %v, last %v", a, appClient, t0, t0.Add(time.Hour))
	}

	// Revoke the app link.
	var appForm htmlForm
	for _, f := range revokeForms {
		if f.Action == "/account/authorizations/"+appClient+"/revoke" {
			appForm = f
		}
	}
	if appForm.Action == "" {
		t.Fatalf("no revoke form for %s", appClient)
	}
	r := b.submit(appForm, "", nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != accountPath+"?revoked="+appClient {
		t.Fatalf("revoke: status %d Location %q, want 303 to %s?revoked=%s", r.status, r.header.Get("Location"), accountPath, appClient)
	}
	// Only alice's grant for this client is revoked. It was the one
	// record of her two approvals, and it keeps its ID: every code and
	// token issued under it names that ID, so they are all dead at once
	// (their grant is no longer Active), including codes not yet redeemed.
	for _, m := range []struct {
		user, client, id string
		revoked          bool
	}{{aliceID, appClient, gApp, true}, {aliceID, queryClient, gQuery, false}, {carolID, appClient, gCarol, false}} {
		g := e.store.grant(m.user, m.client)
		if g.ID != m.id || g.Revoked != m.revoked || g.Active(m.id) == m.revoked {
			t.Errorf("grant of %s for %s = %+v, want id %s revoked %v", m.user, m.client, g, m.id, m.revoked)
		}
	}
	if g := e.store.grant(aliceID, appClient); !g.RevokedAt.Equal(e.clock.Now()) {
		t.Errorf("revoked at %v, want %v", g.RevokedAt, e.clock.Now())
	}
	after := b.get(r.header.Get("Location"))
	ap := checkPage(t, after)
	if !strings.Contains(ap.Text, "Access revoked") || !strings.Contains(ap.Text, "Build <Bot> & Co can no longer") {
		t.Errorf("page after revoke lacks the confirmation (text %q)", ap.Text)
	}
	if n := strings.Count(after.body, "/revoke\""); n != 1 {
		t.Errorf("got %d revoke forms after revoking, want 1", n)
	}
	// A forged confirmation (a crafted link) is not shown: for an
	// application that still holds an authorization, or one the user
	// never revoked.
	for _, cid := range []string{queryClient, "client-gone"} {
		forged := parsePage(t, b.get(accountPath+"?revoked="+cid).body)
		if strings.Contains(forged.Text, "Access revoked") {
			t.Errorf("got a revocation confirmation for %s, which alice did not revoke (text %q)", cid, forged.Text)
		}
	}
	// A link deleted since alice revoked it: confirmed without its name.
	ctx := context.Background()
	if _, err := e.store.RevokeGrant(ctx, aliceID, "client-gone", "", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if gone := parsePage(t, b.get(accountPath+"?revoked=client-gone").body); !strings.Contains(gone.Text, "Access revoked.") {
		t.Errorf("confirmation for a deleted link lacks \"Access revoked.\" (text %q)", gone.Text)
	}
	// An application revoked elsewhere a moment ago (another tab, the
	// admin API) is confirmed and no longer listed: the listing is one
	// strongly consistent read of alice's grants.
	if _, err := e.store.RevokeGrant(ctx, aliceID, queryClient, "", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	stale := b.get(accountPath + "?revoked=" + queryClient)
	if p := parsePage(t, stale.body); !strings.Contains(p.Text, "Access revoked: Query App") || strings.Contains(stale.body, queryClient+"/revoke") {
		t.Errorf("after revoking %s with its grant still listed: got text %q, want the confirmation and no revoke form for it", queryClient, p.Text)
	}
	// The confirmation is shown for a few minutes only.
	e.clock.Add(revokedNotice + time.Second)
	if late := parsePage(t, b.get(accountPath+"?revoked="+appClient).body); strings.Contains(late.Text, "Access revoked") {
		t.Errorf("got a confirmation %v after the revocation, want none", revokedNotice+time.Second)
	}
}

func TestRevokeRefused(t *testing.T) { testRevokeRefused(t, newEnv) }

func testRevokeRefused(t *testing.T, mk mkEnv) {
	e := mk(t)
	seedGrants(e)
	b, page := signInAccount(t, e)
	f := parsePage(t, page.body).form(t, "/account/authorizations/"+appClient+"/revoke")
	tests := []struct {
		name string
		b    *browser
		set  map[string]string
	}{
		{"wrong csrf", b, map[string]string{"csrf": "nope"}},
		{"missing csrf", b, map[string]string{"csrf": ""}},
		{"signed out", e.browser(), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.b.submit(f, "", tc.set)
			if r.status != http.StatusForbidden || r.header.Get("Location") != "" {
				t.Errorf("status = %d Location %q, want 403 without a redirect", r.status, r.header.Get("Location"))
			}
			checkPage(t, r)
			if g := e.store.grant(aliceID, appClient); !g.Active(gApp) {
				t.Errorf("grant %+v after a refused request, want %s still active", g, gApp)
			}
		})
	}
}

func TestLogout(t *testing.T) { testLogout(t, newEnv) }

func testLogout(t *testing.T, mk mkEnv) {
	e := mk(t)
	b, account := signInAccount(t, e)
	// The account page holds only the revoke forms (SPEC); sign-out is a
	// link to a page of its own.
	for _, f := range parsePage(t, account.body).Forms {
		if !strings.HasPrefix(f.Action, "/account/authorizations/") || !strings.HasSuffix(f.Action, "/revoke") {
			t.Errorf("account page holds a form posting to %s, want only revoke forms", f.Action)
		}
	}
	if !strings.Contains(account.body, `href="/oauth2/logout"`) {
		t.Error("account page has no link to sign out")
	}
	page := b.get("/oauth2/logout")
	if page.status != http.StatusOK {
		t.Fatalf("sign-out page: status %d, want 200", page.status)
	}
	f := checkPage(t, page).form(t, "/oauth2/logout")
	if r := b.submit(f, "", map[string]string{"csrf": "wrong"}); r.status != http.StatusForbidden {
		t.Errorf("logout with a wrong token: status %d, want 403", r.status)
	}
	id := b.sessionCookie()
	if id == "" {
		t.Fatalf("no session cookie before logout")
	}
	r := b.submit(f, "", nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != logoutPath {
		t.Fatalf("logout: status %d Location %q, want 303 to %s", r.status, r.header.Get("Location"), logoutPath)
	}
	if _, err := e.store.GetSession(context.Background(), shared.HashToken(id), e.clock.Now()); !errors.Is(err, shared.ErrNotFound) {
		t.Errorf("session after logout: got err %v, want ErrNotFound", err)
	}
	next := b.get(accountPath)
	parsePage(t, next.body).form(t, "/oauth2/login")
	// Signed out, the sign-out page says so and offers to sign in again.
	done := b.get("/oauth2/logout")
	if done.status != http.StatusOK {
		t.Fatalf("sign-out page signed out: status %d, want 200", done.status)
	}
	p := checkPage(t, done)
	if p.Title != "You are signed out" || !strings.Contains(p.Text, "You are no longer signed in to "+e.h.provider) || len(p.Forms) != 0 ||
		!strings.Contains(done.body, `<a href="/account/authorizations">Sign in again</a>`) {
		t.Errorf("signed-out page: title %q, text %q, %d forms; want the confirmation with a sign-in link", p.Title, p.Text, len(p.Forms))
	}
}

// TestRevokeFailure: when revoking the grant fails, the page reports the
// failure (no redirect, no confirmation) and the grant is untouched; a
// retry once the store is healthy revokes it.
func TestRevokeFailure(t *testing.T) {
	for _, tc := range []struct {
		name     string
		grantErr error
		status   int
	}{
		{"unavailable", shared.ErrUnavailable, http.StatusServiceUnavailable},
		{"internal", errors.New("dynamodb: boom"), http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			seedGrants(e)
			b, page := signInAccount(t, e)
			f := parsePage(t, page.body).form(t, "/account/authorizations/"+appClient+"/revoke")
			e.fake.mu.Lock()
			e.fake.revokeGrantErr = tc.grantErr
			e.fake.mu.Unlock()
			r := b.submit(f, "", nil)
			if r.status != tc.status || r.header.Get("Location") != "" {
				t.Errorf("revoke: status %d Location %q, want %d without a redirect", r.status, r.header.Get("Location"), tc.status)
			}
			if strings.Contains(r.body, "boom") {
				t.Errorf("page shows internal detail: %.200s", r.body)
			}
			if g := e.store.grant(aliceID, appClient); !g.Active(gApp) {
				t.Errorf("grant %+v after a failed revocation, want it active", g)
			}
			// A retry once the store is healthy finishes the job.
			e.fake.mu.Lock()
			e.fake.revokeGrantErr = nil
			e.fake.mu.Unlock()
			if r := b.submit(f, "", nil); r.status != http.StatusSeeOther {
				t.Fatalf("retry: status %d, want 303", r.status)
			}
			if g := e.store.grant(aliceID, appClient); !g.Revoked || g.Active(gApp) {
				t.Errorf("after the retry: grant %+v, want it revoked", g)
			}
		})
	}
}

// TestAccountPageShowsProtocolScopes: an application approved for openid
// and email is listed with what it may learn about the user, in the page
// and in its JSON, since a remembered consent gives it that again without
// asking. Found by review.
func TestAccountPageShowsProtocolScopes(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	consent := b.flow(authorizeURL(map[string]string{"scope": "openid email REPO_READ"}))
	if r := b.submit(parsePage(t, consent.body).form(t, "/oauth2/consent"), "decision=approve", nil); r.status != http.StatusSeeOther {
		t.Fatalf("approve: status %d, want 303", r.status)
	}
	page := checkPage(t, b.get(accountPath))
	for _, want := range []string{"Sign you in with your account", "See your email address and whether it is verified"} {
		if !strings.Contains(page.Text, want) {
			t.Errorf("account page lacks %q (text %q)", want, page.Text)
		}
	}
	if strings.Contains(page.Text, "See your name and username") {
		t.Error("account page lists profile, which was not approved")
	}
	js := b.get(accountPath, "Accept", "application/json")
	if !strings.Contains(js.body, `"protocol_scopes":["openid","email"]`) {
		t.Errorf("account JSON: %s, want protocol_scopes openid and email", js.body)
	}
}
