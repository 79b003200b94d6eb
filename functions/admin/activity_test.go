package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
)

// TestActivityAPI: the admin API's operations on a link and a user are
// listed under /events, newest first, paged, naming who did them and how;
// links and grants carry last_used_at once the token function has recorded
// a use (DynamoDB Local).
func TestActivityAPI(t *testing.T) {
	st := storetest.DynamoLocal(t)
	e := newEnv(t, st, nil)
	ctx := context.Background()
	l := e.createLink(confidentialBody)
	e.clock.Add(time.Minute)
	e.do(200, http.MethodGet, "/admin/links/"+l.ID+"/credentials", "")
	e.clock.Add(time.Minute)
	e.do(200, http.MethodPatch, "/admin/links/"+l.ID, `{"enabled":false}`)

	var got []string
	cursor := ""
	for page := 0; page < 5; page++ {
		path := "/admin/links/" + l.ID + "/events?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		body := e.do(200, http.MethodGet, path, "")
		evs, _ := body["events"].([]any)
		if len(evs) > 2 {
			t.Fatalf("page %d: %d events, want at most 2", page, len(evs))
		}
		for _, ev := range evs {
			m := ev.(map[string]any)
			got = append(got, fmt.Sprintf("%v by %v via %v", m["event"], m["actor"], m["via"]))
		}
		cursor, _ = body["next_cursor"].(string)
		if cursor == "" {
			break
		}
	}
	want := []string{"link_updated by admin-token via api", "credentials_viewed by admin-token via api", "link_created by admin-token via api"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("link events = %v, want %v", got, want)
	}
	e.do(404, http.MethodGet, "/admin/links/no-such-link/events", "")

	// A user's events; and a grant's last use.
	created := e.clock.Now().Add(-time.Hour)
	if err := st.CreateUser(ctx, store.User{ID: "uid-bob", Username: "bob", PasswordHash: "unused", CreatedAt: created, UpdatedAt: created}); err != nil {
		t.Fatal(err)
	}
	g, err := st.ApproveGrant(ctx, store.Grant{ID: "grant-1", UserID: "uid-bob", Username: "bob", ClientID: l.ClientID, Scope: []string{"REPO_READ"}},
		func(a, b []string) []string { return append(a, b...) }, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.do(204, http.MethodDelete, "/admin/users/bob/grants", "")
	body := e.do(200, http.MethodGet, "/admin/users/bob/events", "")
	evs, _ := body["events"].([]any)
	if len(evs) != 1 || evs[0].(map[string]any)["event"] != "user_grants_revoked" {
		t.Errorf("bob's events = %v, want user_grants_revoked alone", evs)
	}

	// Last use: absent before any, then the time the token function wrote.
	if _, ok := e.do(200, http.MethodGet, "/admin/links/"+l.ID, "")["last_used_at"]; ok {
		t.Error("a link never used has last_used_at, want it absent")
	}
	used := e.clock.Now().Add(-30 * time.Minute).UTC()
	g2, err := st.ApproveGrant(ctx, store.Grant{ID: "grant-2", UserID: "uid-bob", Username: "bob", ClientID: l.ClientID, Scope: []string{"REPO_READ"}},
		func(a, b []string) []string { return append(a, b...) }, e.clock.Now())
	if err != nil || g2.ID == g.ID {
		t.Fatalf("ApproveGrant again: %v (id %q)", err, g2.ID)
	}
	for _, r := range []store.LastUseRef{{ClientID: l.ClientID}, {ClientID: l.ClientID, UserID: "uid-bob", GrantID: g2.ID}} {
		if _, _, err := st.TouchLastUse(ctx, r, used); err != nil {
			t.Fatal(err)
		}
	}
	wantTime := used.Format(time.RFC3339Nano)
	if v := e.do(200, http.MethodGet, "/admin/links/"+l.ID, "")["last_used_at"]; v != wantTime {
		t.Errorf("GET link last_used_at = %v, want %s", v, wantTime)
	}
	links, _ := e.do(200, http.MethodGet, "/admin/links", "")["links"].([]any)
	if len(links) != 1 || links[0].(map[string]any)["last_used_at"] != wantTime {
		t.Errorf("GET links = %v, want one with last_used_at %s", links, wantTime)
	}
	grants, _ := e.do(200, http.MethodGet, "/admin/links/"+l.ID+"/grants", "")["grants"].([]any)
	if len(grants) != 1 || grants[0].(map[string]any)["last_used_at"] != wantTime {
		t.Errorf("GET grants = %v, want one with last_used_at %s", grants, wantTime)
	}
}

// failingEvents is a store whose event writes fail.
type failingEvents struct{ *store.Store }

func (failingEvents) RecordEvent(context.Context, string, []store.EventSubject, store.Event, string) error {
	return errors.New("dynamodb down")
}

// TestActivityFailureKeepsOperation: an event that cannot be kept in the
// table is logged, and the operation and its audit line stand.
func TestActivityFailureKeepsOperation(t *testing.T) {
	e := newEnv(t, failingEvents{storetest.Kumo(t)}, nil)
	l := e.createLink(confidentialBody)
	e.do(200, http.MethodPatch, "/admin/links/"+l.ID, `{"enabled":false}`)
	if len(e.audits("link_updated")) != 1 {
		t.Error("no link_updated audit line")
	}
	if !strings.Contains(e.logText(), "activity event not recorded") {
		t.Error("the failed event write was not logged")
	}
}
