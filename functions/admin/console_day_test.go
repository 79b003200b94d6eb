package admin

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/throttle"
)

// TestConsoleLastUseAndActivity: the link list and the link's page say when
// the link was last used ("Never" before), mark a link not used in 90 days,
// and the link's and the user's pages list their activity in plain words,
// newest first, with "Show older" to the earlier events.
func TestConsoleLastUseAndActivity(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	e.user("bob", false)
	cookie, _ := e.signIn("alice", time.Minute)
	ctx := context.Background()
	l := e.apiLink("Demo app")
	linkID, clientID := l["id"].(string), l["client_id"].(string)

	var list resp
	for range 50 { // the list is an eventually consistent index
		if list = e.get(cookie, "/console/links"); strings.Contains(list.body, "Demo app") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(list.body, `<th scope="col">Last used</th>`) || !strings.Contains(list.body, `<td data-label="Last used">Never</td>`) {
		t.Fatalf("links: want a Last used column saying Never:\n%s", list.body)
	}
	if strings.Contains(list.body, `<span class="status idle">Not used in 90 days</span>`) {
		t.Errorf("links: a link made an hour ago is marked not used in 90 days")
	}

	// Viewed from the console, then used by the application.
	e.clock.Add(time.Second) // events of the same instant have no order
	if r := e.get(cookie, "/console/links/"+linkID+"/credentials"); r.status != http.StatusOK {
		t.Fatalf("credentials: got %d", r.status)
	}
	used := e.clock.Now().Add(-time.Minute).UTC()
	if _, _, err := e.st.TouchLastUse(ctx, store.LastUseRef{ClientID: clientID}, used); err != nil {
		t.Fatal(err)
	}
	day := used.Format("2 Jan 2006 15:04 UTC")
	r := e.get(cookie, "/console/links/"+linkID)
	if !strings.Contains(r.body, "<dt>Last used</dt><dd><time datetime=\""+used.Format(time.RFC3339)+"\">"+day+"</time></dd>") {
		t.Errorf("link page: want Last used %s:\n%s", day, r.body)
	}
	if !regexp.MustCompile(`(?s)<h2 id="activity">Activity</h2>.*<li>Credentials viewed by alice from the console, <time[^>]*>[^<]+</time></li>\s*<li>Link created by admin-token through the admin API, `).MatchString(r.body) {
		t.Errorf("link page: want the activity, newest first, in plain words:\n%s", r.body)
	}

	// Ninety days on, the link is marked.
	e.clock.Add(91 * 24 * time.Hour)
	cookie, _ = e.signIn("alice", time.Minute)
	if r := e.get(cookie, "/console/links"); !strings.Contains(r.body, `<td data-label="Last used"><time datetime="`+used.Format(time.RFC3339)+`">`+day+`</time> <span class="status idle">Not used in 90 days</span></td>`) {
		t.Errorf("links after 91 days: want the link marked not used:\n%s", r.body)
	}
	if r := e.get(cookie, "/console/links/"+linkID); !strings.Contains(r.body, "Not used in 90 days") {
		t.Errorf("link page after 91 days: want the link marked not used")
	}

	// Twelve events on bob: a page of ten, then "Show older" to the rest.
	cookie, _ = e.signIn("alice", time.Minute)
	for i := range 12 {
		e.clock.Add(time.Second)
		name := "Bob " + string(rune('A'+i))
		e.do(http.StatusOK, http.MethodPatch, "/admin/users/bob", `{"name":"`+name+`"}`)
	}
	r = e.get(cookie, "/console/users/bob")
	if n := strings.Count(r.body, "<li>Details changed by admin-token through the admin API, "); n != 10 {
		t.Errorf("user page: %d events, want a page of 10:\n%s", n, r.body)
	}
	m := regexp.MustCompile(`<a href="(/console/users/bob\?older=[^"#]+#activity)">Show older</a>`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("user page: want a Show older link:\n%s", r.body)
	}
	older := e.get(cookie, strings.TrimSuffix(m[1], "#activity")) // a browser sends no fragment
	if n := strings.Count(older.body, "<li>Details changed by admin-token"); n != 2 || strings.Contains(older.body, ">Show older<") || !strings.Contains(older.body, ">Newest activity</a>") {
		t.Errorf("older page: %d events, want the last 2 and a way back to the newest:\n%s", n, older.body)
	}
	// An altered cursor shows the newest page, not an error.
	if r := e.get(cookie, "/console/users/bob?older=bad"); r.status != http.StatusOK || strings.Count(r.body, "<li>Details changed") != 10 {
		t.Errorf("bad cursor: got %d, want the newest page", r.status)
	}
}

// TestConsoleRotateDefaultsToOverlap: the Rotate secret page checks an
// hour's overlap; stopping the old secret now is the last, red choice.
func TestConsoleRotateDefaultsToOverlap(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	cookie, _ := e.signIn("alice", time.Minute)
	id := e.apiLink("App")["id"].(string)
	r := e.get(cookie, "/console/links/"+id+"/rotate")
	radios := regexp.MustCompile(`<label class="([^"]+)"><input type="radio" name="overlap_seconds" value="(\d+)"( checked)?> <span>([^<]+)</span>`).FindAllStringSubmatch(r.body, -1)
	if len(radios) != 4 {
		t.Fatalf("rotate page: %d overlap choices, want 4:\n%s", len(radios), r.body)
	}
	if radios[0][2] != "3600" || radios[0][3] != " checked" {
		t.Errorf("first choice: %q, want 1 hour, checked", radios[0][0])
	}
	last := radios[3]
	if last[1] != "radio danger" || last[2] != "0" || last[3] != "" || !strings.HasPrefix(last[4], "Stop the old secret now") {
		t.Errorf("last choice: %q, want Stop the old secret now, red, unchecked", last[0])
	}
	for _, c := range radios[1:] {
		if c[3] != "" {
			t.Errorf("%q is checked too", c[0])
		}
	}
}

// TestConsoleConfirmMistyped: a mistyped password on the confirmation page
// says so and asks to try again, never to wait.
func TestConsoleConfirmMistyped(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	cookie, csrf := e.signIn("alice", ConfirmTTL+time.Second)
	r := e.post(cookie, "/console/confirm", url.Values{"csrf": {csrf}, "return_to": {"/console/keys"}, "password": {"mistyped password"}})
	if r.status != http.StatusOK || !strings.Contains(r.body, "That password is not right. Try again.") || strings.Contains(r.body, "later") || strings.Contains(r.body, "too many") {
		t.Errorf("mistyped: got %d, want \"That password is not right. Try again.\" and nothing about waiting:\n%s", r.status, r.body)
	}
}

// TestConsoleUnlockUser: a user locked by the sign-in throttle shows as
// locked on their page, with Unlock; unlocking asks for a fresh
// confirmation (an old one changes nothing), then clears the count, is
// audited and listed in the activity; the admin API has it too.
func TestConsoleUnlockUser(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	e.user("bob", false)
	ctx := context.Background()
	lock := func() {
		t.Helper()
		for range throttle.MaxUsernameFailures {
			if _, err := e.st.ReserveLoginAttempt(ctx, "bob", throttle.MaxUsernameFailures, throttle.UsernameWindow, e.clock.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	locked := func() bool {
		t.Helper()
		until, err := e.st.LoginLockedUntil(ctx, "BOB", throttle.MaxUsernameFailures, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return !until.IsZero()
	}
	cookie, csrf := e.signIn("alice", time.Minute)
	if r := e.get(cookie, "/console/users/bob"); strings.Contains(r.body, "Locked after") {
		t.Errorf("user page: bob is not locked yet")
	}
	lock()
	if !locked() {
		t.Fatal("LoginLockedUntil: want bob locked after the failures")
	}
	r := e.get(cookie, "/console/users/bob")
	if !strings.Contains(r.body, "Locked after too many failed sign-ins") || !strings.Contains(r.body, `<form method="post" action="/console/users/bob/unlock">`) {
		t.Fatalf("user page: want the lock and an Unlock button:\n%s", r.body)
	}

	// A confirmation older than ConfirmTTL: the confirmation page, and bob
	// stays locked.
	old, oldCSRF := e.signIn("alice", ConfirmTTL+time.Second)
	if r := e.post(old, "/console/users/bob/unlock", url.Values{"csrf": {oldCSRF}}); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/console/confirm?") {
		t.Errorf("unlock with an old confirmation: got %d to %q, want the confirmation page", r.status, r.location())
	}
	if !locked() {
		t.Fatal("unlock with an old confirmation unlocked bob")
	}

	r = e.post(cookie, "/console/users/bob/unlock", url.Values{"csrf": {csrf}})
	if r.status != http.StatusSeeOther || r.location() != "/console/users/bob?unlocked=1" {
		t.Fatalf("unlock: got %d to %q", r.status, r.location())
	}
	if locked() {
		t.Error("after Unlock: bob is still locked")
	}
	page := e.get(cookie, r.location())
	if strings.Contains(page.body, "Locked after") || !strings.Contains(page.body, "The user was unlocked") ||
		!strings.Contains(page.body, "<li>Sign-in unlocked by alice from the console, ") {
		t.Errorf("user page after Unlock: want the notice and the activity, no lock:\n%s", page.body)
	}
	if a := e.audits("user_unlocked"); len(a) != 1 || a[0]["principal"] != "alice" || a[0]["username"] != "bob" {
		t.Errorf("audit: got %v, want one user_unlocked of bob by alice", a)
	}

	// The admin API.
	lock()
	e.do(http.StatusNoContent, http.MethodPost, "/admin/users/Bob/unlock", "")
	if locked() {
		t.Error("after POST /admin/users/Bob/unlock: bob is still locked")
	}
	e.do(http.StatusNotFound, http.MethodPost, "/admin/users/nobody/unlock", "")
}
