package admin

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared/store"
)

// TestConsoleUnusedLinks: the link list offers "Not used in 90 days" and
// "Last used, oldest first", each keeping the other choice and carried to
// the next page; the filter shows only the links the list marks, and says
// so when there is none.
func TestConsoleUnusedLinks(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	ctx := context.Background()
	day := 24 * time.Hour
	var clientIDs []string
	for _, name := range []string{"Old importer", "Dashboard", "Never used"} {
		clientIDs = append(clientIDs, e.apiLink(name)["client_id"].(string))
		e.clock.Add(time.Minute)
	}
	e.clock.Add(100 * day)
	now := e.clock.Now()
	for i, at := range []time.Time{now.Add(-95 * day), now.Add(-time.Hour)} {
		if _, _, err := e.st.TouchLastUse(ctx, store.LastUseRef{ClientID: clientIDs[i]}, at); err != nil {
			t.Fatal(err)
		}
	}
	cookie, _ := e.signIn("alice", time.Minute)
	names := func(body string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`<td data-label="Name"><a href="[^"]*">([^<]*)</a>`).FindAllStringSubmatch(body, -1) {
			out = append(out, m[1])
		}
		return out
	}
	var all resp
	for range 50 { // the list is an eventually consistent index
		if all = e.get(cookie, "/console/links"); len(names(all.body)) == 3 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := names(all.body); !slices.Equal(got, []string{"Old importer", "Dashboard", "Never used"}) {
		t.Fatalf("links: got %v, want the three in creation order", got)
	}
	for _, want := range []string{
		`<nav class="views" aria-label="Filter and sort links"><p><span>Show</span><a href="/console/links" aria-current="true">All links</a><a href="/console/links?unused_days=90">Not used in 90 days</a></p>`,
		`<p><span>Sort by</span><a href="/console/links" aria-current="true">Created</a><a href="/console/links?sort=last_used">Last used, oldest first</a></p></nav>`,
	} {
		if !strings.Contains(all.body, want) {
			t.Errorf("links: want %s:\n%s", want, all.body)
		}
	}

	idle := e.get(cookie, "/console/links?unused_days=90")
	if got := names(idle.body); !slices.Equal(got, []string{"Old importer", "Never used"}) {
		t.Errorf("not used in 90 days: got %v, want Old importer and Never used", got)
	}
	if n := strings.Count(idle.body, "Not used in 90 days</span>"); n != 2 {
		t.Errorf("not used in 90 days: %d rows marked, want both", n)
	}
	if !strings.Contains(idle.body, `<a href="/console/links?unused_days=90" aria-current="true">Not used in 90 days</a>`) ||
		!strings.Contains(idle.body, `<a href="/console/links?sort=last_used&amp;unused_days=90">Last used, oldest first</a>`) {
		t.Errorf("not used in 90 days: want the filter marked and kept by the sort:\n%s", idle.body)
	}
	byUse := e.get(cookie, "/console/links?sort=last_used")
	if got := names(byUse.body); !slices.Equal(got, []string{"Never used", "Old importer", "Dashboard"}) {
		t.Errorf("sorted by last use: got %v, want Never used, Old importer, Dashboard", got)
	}

	// More than a page: the next page keeps the choices.
	for i := range consolePageSize {
		e.apiLink("Spare " + string(rune('A'+i)))
	}
	e.clock.Add(91 * day)
	cookie, _ = e.signIn("alice", time.Minute)
	first := e.get(cookie, "/console/links?unused_days=90&sort=last_used")
	m := regexp.MustCompile(`<a href="(/console/links\?[^"]*)">Next page</a>`).FindStringSubmatch(first.body)
	if len(names(first.body)) != consolePageSize || m == nil || !strings.Contains(m[1], "sort=last_used") || !strings.Contains(m[1], "unused_days=90") {
		t.Fatalf("a full page: got %d links and next %v, want %d and a next page keeping the choices", len(names(first.body)), m, consolePageSize)
	}
	second := e.get(cookie, strings.ReplaceAll(m[1], "&amp;", "&"))
	if got := names(second.body); len(got) != 3 || got[2] != "Dashboard" || !strings.Contains(second.body, `<a href="/console/links?sort=last_used&amp;unused_days=90">First page</a>`) {
		t.Errorf("second page: got %v, want the last 3 ending with Dashboard, and First page keeping the choices:\n%s", got, second.body)
	}

	// None unused: said so, with the way back to every link.
	e2 := newConsoleEnv(t)
	e2.user("alice", true)
	e2.apiLink("Busy")
	c2, _ := e2.signIn("alice", time.Minute)
	if r := e2.get(c2, "/console/links?unused_days=90"); !strings.Contains(r.body, "Every link was used in the last 90 days") ||
		!strings.Contains(r.body, `<a href="/console/links">Show all links</a>`) || strings.Contains(r.body, "No application links yet") {
		t.Errorf("none unused: want the filter's empty state:\n%s", r.body)
	}
}
