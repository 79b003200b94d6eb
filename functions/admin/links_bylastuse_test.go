package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared/store"
)

// TestListLinksByLastUse: GET /admin/links?unused_days=N keeps the links
// not used in N days (used before then, or never used and created before
// then), ?sort=last_used lists the least recently used first (never used
// first), both page with their own cursor, and bad values are 422 or 400.
func TestListLinksByLastUse(t *testing.T) {
	e := newStoreEnv(t)
	st := e.st.(*store.Store)
	ctx := context.Background()
	mk := func(name string) linkBody {
		t.Helper()
		l := e.createLink(`{"name":"` + name + `","redirect_uris":["https://app.example.com/cb"],"scopes":["REPO_READ"]}`)
		e.clock.Add(time.Hour)
		return l
	}
	day := 24 * time.Hour
	// Created in this order, 200 days ago: old-used (used 120 days ago),
	// never (never used), recent (used an hour ago), then new (created 10
	// days ago, never used).
	start := e.clock.Now()
	oldUsed := mk("old-used")
	mk("never")
	recent := mk("recent")
	e.clock.Add(190 * day)
	mk("new")
	e.clock.Add(10*day - time.Hour)
	now := e.clock.Now()
	touch := func(l linkBody, at time.Time) {
		t.Helper()
		if _, _, err := st.TouchLastUse(ctx, store.LastUseRef{ClientID: l.ClientID}, at); err != nil {
			t.Fatal(err)
		}
	}
	touch(oldUsed, now.Add(-120*day))
	touch(recent, now.Add(-time.Hour))
	if now.Sub(start) < 200*day {
		t.Fatalf("clock: %v since the first link, want 200 days", now.Sub(start))
	}

	names := func(path string) ([]string, []map[string]any, string) {
		t.Helper()
		var body struct {
			Links      []map[string]any `json:"links"`
			NextCursor string           `json:"next_cursor"`
		}
		var got map[string]any
		for range 50 { // the list is an eventually consistent index
			got = e.do(http.StatusOK, http.MethodGet, path, "")
			b, _ := json.Marshal(got)
			body.Links, body.NextCursor = nil, ""
			if err := json.Unmarshal(b, &body); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(path, "cursor") && len(body.Links) == 0 {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			break
		}
		var out []string
		for _, l := range body.Links {
			out = append(out, l["name"].(string))
		}
		return out, body.Links, body.NextCursor
	}
	for range 50 {
		if all, _, _ := names("/admin/links"); len(all) == 4 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, c := range []struct {
		path string
		want []string
	}{
		{"/admin/links", []string{"old-used", "never", "recent", "new"}},
		{"/admin/links?sort=created", []string{"old-used", "never", "recent", "new"}},
		{"/admin/links?unused_days=90", []string{"old-used", "never"}},
		{"/admin/links?unused_days=5", []string{"old-used", "never", "new"}},
		{"/admin/links?unused_days=150", []string{"never"}},
		{"/admin/links?unused_days=300", nil},
		{"/admin/links?sort=last_used", []string{"never", "new", "old-used", "recent"}},
		{"/admin/links?sort=last_used&unused_days=90", []string{"never", "old-used"}},
	} {
		if got, _, next := names(c.path); !slices.Equal(got, c.want) || next != "" {
			t.Errorf("GET %s: got %v (next %q), want %v", c.path, got, next, c.want)
		}
	}
	// last_used_at on the filtered listing too.
	if _, links, _ := names("/admin/links?sort=last_used&unused_days=90"); len(links) == 2 {
		if links[0]["last_used_at"] != nil || links[1]["last_used_at"] != now.Add(-120*day).UTC().Format(time.RFC3339) {
			t.Errorf("last_used_at: got %v and %v, want none and %v", links[0]["last_used_at"], links[1]["last_used_at"], now.Add(-120*day).UTC())
		}
	}

	// One a page, with the listing's own cursor.
	var got []string
	path := "/admin/links?sort=last_used&limit=1"
	for range 6 {
		page, _, next := names(path)
		got = append(got, page...)
		if next == "" {
			break
		}
		path = "/admin/links?sort=last_used&limit=1&cursor=" + url.QueryEscape(next)
	}
	if want := []string{"never", "new", "old-used", "recent"}; !slices.Equal(got, want) {
		t.Errorf("sort=last_used one a page: got %v, want %v", got, want)
	}
	_, _, next := names("/admin/links?unused_days=90&limit=1")
	if next == "" {
		t.Fatalf("unused_days=90&limit=1: want a next_cursor")
	}
	if page, _, last := names("/admin/links?unused_days=90&limit=1&cursor=" + url.QueryEscape(next)); !slices.Equal(page, []string{"never"}) || last != "" {
		t.Errorf("second page of unused_days=90: got %v (next %q), want [never] and no cursor", page, last)
	}
	// A cursor of another listing, or of the plain one, is refused.
	_, _, plain := names("/admin/links?limit=1")
	for _, bad := range []string{
		"/admin/links?sort=last_used&cursor=" + url.QueryEscape(next),
		"/admin/links?unused_days=90&cursor=" + url.QueryEscape(plain),
		"/admin/links?unused_days=90&cursor=bm90LWEtY3Vyc29y",
	} {
		if r := e.do(http.StatusBadRequest, http.MethodGet, bad, ""); !strings.Contains(fmt.Sprint(r["message"]), "cursor") {
			t.Errorf("GET %s: got %v, want a 400 naming the cursor", bad, r)
		}
	}
	for _, bad := range []string{"unused_days=0", "unused_days=3651", "unused_days=x", "unused_days=1.5", "sort=name", "sort=-last_used"} {
		field, _, _ := strings.Cut(bad, "=")
		if r := e.do(http.StatusUnprocessableEntity, http.MethodGet, "/admin/links?"+bad, ""); !strings.Contains(fmt.Sprint(r["message"]), field) {
			t.Errorf("GET /admin/links?%s: got %v, want a 422 naming %s", bad, r, field)
		}
	}
}
