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

// seedGrants gives alice two grants for the app link, one for the query
// link, a revoked one for the public link and one for a deleted link; bob
// has one for the app link.
func seedGrants(e *env) time.Time {
	t0 := e.clock.Now().Add(-48 * time.Hour)
	add := func(id, cid, user string, scope []string, at time.Time, revoked bool) {
		e.store.addGrant(store.Grant{ID: id, ClientID: cid, Username: user, Scope: scope, CreatedAt: at, UpdatedAt: at, Revoked: revoked})
	}
	add("g1", appClient, "alice", []string{"REPO_READ"}, t0, false)
	add("g2", appClient, "alice", []string{"REPO_WRITE"}, t0.Add(time.Hour), false)
	add("g3", queryClient, "alice", []string{"PUBLIC_REPOS"}, t0.Add(2*time.Hour), false)
	add("g4", pubClient, "alice", []string{"REPO_READ"}, t0, true)
	add("g5", "client-gone", "alice", []string{"REPO_READ"}, t0, false)
	add("g6", appClient, "bob", []string{"REPO_READ"}, t0, false)
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
	for id, want := range map[string]bool{"g1": true, "g2": true, "g3": false, "g6": false} {
		if g := e.store.grant(id); g.Revoked != want {
			t.Errorf("grant %s revoked = %v, want %v", id, g.Revoked, want)
		}
	}
	// The codes not yet redeemed are cancelled too: a revocation marker
	// for alice and this client only, at the time of the revocation.
	for _, m := range []struct {
		user, client string
		want         time.Time
	}{{"alice", appClient, e.clock.Now()}, {"alice", queryClient, time.Time{}}, {"bob", appClient, time.Time{}}} {
		if got := e.store.revokedAt(m.user, m.client); !got.Equal(m.want) {
			t.Errorf("revocation marker of %s for %s = %v, want %v", m.user, m.client, got, m.want)
		}
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
	if err := e.store.RevokePendingCodes(ctx, "alice", "client-gone", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if gone := parsePage(t, b.get(accountPath+"?revoked=client-gone").body); !strings.Contains(gone.Text, "Access revoked.") {
		t.Errorf("confirmation for a deleted link lacks \"Access revoked.\" (text %q)", gone.Text)
	}
	// The grant listing comes from an eventually consistent index: an
	// application revoked a moment ago but still listed as active is left
	// out after the revocation's redirect.
	if err := e.store.RevokePendingCodes(ctx, "alice", queryClient, e.clock.Now()); err != nil {
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
			if e.store.grant("g1").Revoked {
				t.Errorf("grant revoked by a refused request")
			}
			if at := e.store.revokedAt("alice", appClient); !at.IsZero() {
				t.Errorf("revocation marker written at %v by a refused request, want none", at)
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
	if r.status != http.StatusSeeOther || r.header.Get("Location") != accountPath {
		t.Fatalf("logout: status %d Location %q, want 303 to %s", r.status, r.header.Get("Location"), accountPath)
	}
	if _, err := e.store.GetSession(context.Background(), shared.HashToken(id), e.clock.Now()); !errors.Is(err, shared.ErrNotFound) {
		t.Errorf("session after logout: got err %v, want ErrNotFound", err)
	}
	next := b.get(accountPath)
	parsePage(t, next.body).form(t, "/oauth2/login")
	if r := b.get("/oauth2/logout"); r.status != http.StatusSeeOther || r.header.Get("Location") != accountPath {
		t.Errorf("sign-out page signed out: status %d Location %q, want 303 to %s", r.status, r.header.Get("Location"), accountPath)
	}
}

// TestRevokePartialFailure: the revocation marker is written before the
// grants are revoked. When revoking a grant fails, the page reports the
// failure and the marker already blocks the pending codes; when writing the
// marker fails, nothing is revoked and the page reports the failure.
func TestRevokePartialFailure(t *testing.T) {
	for _, tc := range []struct {
		name       string
		grantErr   error
		codesErr   error
		status     int
		wantMarker bool
	}{
		{"grant revocation fails", shared.ErrUnavailable, nil, http.StatusServiceUnavailable, true},
		{"marker write fails", nil, errors.New("dynamodb: boom"), http.StatusInternalServerError, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			seedGrants(e)
			b, page := signInAccount(t, e)
			f := parsePage(t, page.body).form(t, "/account/authorizations/"+appClient+"/revoke")
			e.fake.mu.Lock()
			e.fake.revokeGrantErr, e.fake.revokeCodesErr = tc.grantErr, tc.codesErr
			e.fake.mu.Unlock()
			r := b.submit(f, "", nil)
			if r.status != tc.status || r.header.Get("Location") != "" {
				t.Errorf("revoke: status %d Location %q, want %d without a redirect", r.status, r.header.Get("Location"), tc.status)
			}
			if got := !e.store.revokedAt("alice", appClient).IsZero(); got != tc.wantMarker {
				t.Errorf("revocation marker written = %v, want %v", got, tc.wantMarker)
			}
			if e.store.grant("g1").Revoked || e.store.grant("g2").Revoked {
				t.Error("a grant was revoked, want none (the failure comes first)")
			}
			// A retry once the store is healthy finishes the job.
			e.fake.mu.Lock()
			e.fake.revokeGrantErr, e.fake.revokeCodesErr = nil, nil
			e.fake.mu.Unlock()
			if r := b.submit(f, "", nil); r.status != http.StatusSeeOther {
				t.Fatalf("retry: status %d, want 303", r.status)
			}
			if !e.store.grant("g1").Revoked || !e.store.grant("g2").Revoked || e.store.revokedAt("alice", appClient).IsZero() {
				t.Error("after the retry: want both grants revoked and the marker written")
			}
		})
	}
}
