package admin

import (
	"net/url"
	"strings"
	"time"

	"github.com/applinks/applinks/shared/page"
	"github.com/applinks/applinks/shared/store"
)

// activityPageSize is the number of events an Activity section lists.
const activityPageSize = 10

// activity is a page's Activity section: a page of events, newest first.
type activity struct {
	Kind   string // store.EventLink or store.EventUser
	Events []store.Event
	Next   string // the cursor of older events
	Older  bool   // this is not the newest page
	Base   string // the page's path, for "Show older"
	Failed bool   // the events could not be read
}

// activityOf reads the page of events of sub the request asks for
// (?older=<cursor>); a failure shows as a sentence, never fails the page.
func (c *consoleReq) activityOf(sub store.EventSubject, base string) activity {
	a := activity{Kind: sub.Kind, Base: base}
	cursor := c.r.URL.Query().Get("older")
	if len(cursor) > maxCursor {
		cursor = ""
	}
	a.Older = cursor != ""
	evs, next, err := c.h.eventsOp(c.ctx(), sub, activityPageSize, cursor)
	if err != nil {
		if cursor == "" || !isAPIBadRequest(err) {
			a.Failed = true
			return a
		}
		// A stale or altered cursor: the newest events instead.
		a.Older = false
		if evs, next, err = c.h.eventsOp(c.ctx(), sub, activityPageSize, ""); err != nil {
			a.Failed = true
			return a
		}
	}
	a.Events, a.Next = evs, next
	return a
}

func isAPIBadRequest(err error) bool {
	e, ok := err.(*apiError)
	return ok && e.Status/100 == 4
}

// eventPhrases are the events in plain words, by subject kind.
var eventPhrases = map[string]string{
	"link_created":                "Link created",
	"link_updated":                "Settings changed",
	"link_deleted":                "Link deleted",
	"credentials_viewed":          "Credentials viewed",
	"credentials_rotated":         "Secret rotated",
	"user_created":                "User created",
	"user_updated":                "Details changed",
	"user_deleted":                "User deleted",
	"user_grants_revoked":         "Everything the user had authorized revoked",
	"user_unlocked":               "Sign-in unlocked",
	"user_upstream_linked":        "Upstream identity linked",
	"user_upstream_unlinked":      "Upstream identity unlinked",
	"passkey_enrolled":            "Passkey added",
	"passkey_removed":             "Passkey removed",
	"passkeys_removed":            "All passkeys removed",
	"passkey_enrollment_issued":   "Passkey enrollment link made",
	"link_registered":             "Registered by the application itself",
	"link_approved":               "Approved",
	"link_rejected":               "Rejected",
	"client_registration_changed": "Policy changed",
}

// eventPhrase is what happened, in plain words.
func eventPhrase(kind string, ev store.Event) string {
	d := ev.Details
	switch ev.Event {
	case "link_updated":
		if d["fields"] == "[enabled]" {
			if d["enabled"] == "true" {
				return "Enabled"
			}
			return "Disabled"
		}
	case "user_updated":
		if d["fields"] == "[password]" {
			return "Password set"
		}
	case "credentials_rotated":
		if s := d["overlap_seconds"]; s != "" && s != "0" {
			if n, err := time.ParseDuration(s + "s"); err == nil {
				return "Secret rotated (the old one kept for " + humanDuration(n) + ")"
			}
		}
		return "Secret rotated (the old one stopped at once)"
	case "grant_revoked":
		if kind == store.EventUser {
			return "An authorization of theirs revoked"
		}
		if u := d["username"]; u != "" {
			return u + "'s authorization revoked"
		}
		return "An authorization revoked"
	}
	if p, ok := eventPhrases[ev.Event]; ok {
		return p
	}
	return strings.ReplaceAll(ev.Event, "_", " ")
}

// viaWords is how the event was made.
func viaWords(via string) string {
	switch via {
	case viaConsole:
		return "from the console"
	case viaAPI:
		return "through the admin API"
	}
	return ""
}

// activitySection writes an Activity section.
func activitySection(b *page.Buffer, a activity) {
	if a.Kind == "" {
		return // not read for this page
	}
	b.WriteString(`<h2 id="activity">Activity</h2>` + "\n")
	if a.Failed {
		b.WriteString("<p>The activity could not be read just now. Reload the page to try again.</p>\n")
		return
	}
	if len(a.Events) == 0 {
		if a.Older {
			b.WriteString("<p>There is no older activity.</p>\n")
		} else {
			b.WriteString("<p>Nothing recorded in the last 90 days.</p>\n")
		}
	} else {
		b.WriteString(`<ul class="activity">` + "\n")
		for _, ev := range a.Events {
			b.Fill(`<li>%s`, eventPhrase(a.Kind, ev))
			if ev.Actor != "" {
				b.Fill(` by %s`, ev.Actor)
			}
			if v := viaWords(ev.Via); v != "" {
				b.Fill(` %s`, v)
			}
			b.Fill(`, <time datetime="%s">%s</time></li>`+"\n", page.RFC3339(ev.At), page.Day(ev.At))
		}
		b.WriteString("</ul>\n")
	}
	b.WriteString(`<div class="pager">`)
	if a.Older {
		b.Fill(`<a href="%s">Newest activity</a>`, a.Base+"#activity")
	}
	if a.Next != "" {
		b.Fill(`<a href="%s">Show older</a>`, a.Base+"?older="+url.QueryEscape(a.Next)+"#activity")
	}
	b.WriteString("</div>\n")
	b.WriteString(`<p class="small">Activity is kept for 90 days.</p>` + "\n")
}

// lastUse is what the console says of a link's last use.
type lastUse struct {
	At     time.Time // zero: never (or not known)
	Unused bool      // not used in UnusedAfter (never used, and older than that)
}

func lastUseOf(l store.Link, at time.Time, ok bool, now time.Time) lastUse {
	u := lastUse{}
	if ok {
		u.At = at
	}
	u.Unused = unused(l.CreatedAt, u.At, now, UnusedAfter)
	return u
}

// lastUseCell writes a last use: its date or "Never", and the "not used"
// badge.
func lastUseCell(b *page.Buffer, u lastUse) {
	if u.At.IsZero() {
		b.WriteString("Never")
	} else {
		b.Fill(`<time datetime="%s">%s</time>`, page.RFC3339(u.At), page.Day(u.At))
	}
	if u.Unused {
		b.WriteString(` <span class="status idle">Not used in 90 days</span>`)
	}
}

// linkLastUses reads the last use of links for a page (absent when the
// read failed: shown as never).
func (c *consoleReq) linkLastUses(links []store.Link) []lastUse {
	return c.linkLastUsesFrom(links, nil)
}

// linkLastUsesFrom is linkLastUses from m, the last uses already read
// (nil: read them).
func (c *consoleReq) linkLastUsesFrom(links []store.Link, m map[store.LastUseRef]time.Time) []lastUse {
	refs := make([]store.LastUseRef, len(links))
	for i, l := range links {
		refs[i] = store.LastUseRef{ClientID: l.ClientID}
	}
	if m == nil {
		m = c.h.lastUses(c.ctx(), refs)
	}
	now := c.h.now()
	out := make([]lastUse, len(links))
	for i, l := range links {
		t, ok := m[refs[i]]
		out[i] = lastUseOf(l, t, ok, now)
	}
	return out
}
