package admin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/applinks/applinks/shared/store"
)

// Finding the links no one uses: GET /admin/links?unused_days=N keeps the
// links not used in the last N days (last use before then, or never used
// and created before then), and ?sort=last_used lists the least recently
// used first (never used first, oldest creation first among them). Last
// use lives in items of its own (LASTUSE#, written by the token function),
// not on the link's index, so either one reads every link and their last
// uses on each request (one Query per 100 links, one BatchGetItem per 100)
// and pages the result with a cursor of its own: a few calls for the tens
// or hundreds of links an instance has.

// Sort orders of GET /admin/links.
const (
	sortCreated  = "created"   // the default: creation order, oldest first
	sortLastUsed = "last_used" // least recently used first
)

// maxUnusedDays bounds unused_days (ten years).
const maxUnusedDays = 3650

// linkQuery is which links a listing shows, and in which order.
type linkQuery struct {
	UnusedDays int    // > 0: only links not used in that many days
	Sort       string // sortCreated or sortLastUsed
	// Filter keeps the links of an origin and/or status (registration.go).
	Filter store.LinkFilter
}

// plain reports whether the listing is the store's own (the links of
// q.Filter, in creation order), paged by the store's cursor.
func (q linkQuery) plain() bool { return q.UnusedDays == 0 && q.Sort == sortCreated }

// values are q's query parameters (none for the plain listing).
func (q linkQuery) values() url.Values {
	v := url.Values{}
	if q.UnusedDays > 0 {
		v.Set("unused_days", strconv.Itoa(q.UnusedDays))
	}
	if q.Sort != sortCreated {
		v.Set("sort", q.Sort)
	}
	if q.Filter.Origin != "" {
		v.Set("origin", q.Filter.Origin)
	}
	if q.Filter.Status != "" {
		v.Set("status", q.Filter.Status)
	}
	return v
}

// parseLinkQuery reads unused_days (1 to maxUnusedDays; empty: all links),
// sort (created, last_used; empty: created), origin and status (empty:
// any).
func parseLinkQuery(q url.Values) (linkQuery, error) {
	out := linkQuery{Sort: sortCreated}
	f, err := parseLinkFilter(q)
	if err != nil {
		return out, err
	}
	out.Filter = f
	if s := q.Get("unused_days"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxUnusedDays {
			return out, errValidation("unused_days", fmt.Sprintf("must be a whole number of days from 1 to %d", maxUnusedDays))
		}
		out.UnusedDays = n
	}
	switch s := q.Get("sort"); s {
	case "", sortCreated:
	case sortLastUsed:
		out.Sort = sortLastUsed
	default:
		return out, errValidation("sort", "must be created or last_used")
	}
	return out, nil
}

// unused reports whether a link last used at (zero: never) and created at
// created has not been used in the d before now: the console's "Not used
// in 90 days" (lastUseOf) with d = UnusedAfter.
func unused(created, at, now time.Time, d time.Duration) bool {
	since := created
	if !at.IsZero() {
		since = at
	}
	return now.Sub(since) >= d
}

// linkOrderKey is a link's position in a listing by last use or creation:
// strings that sort as the listing does (never used before any use; times
// fixed-width), unique by the link's id.
func linkOrderKey(q linkQuery, l store.Link, at time.Time) string {
	const layout = "2006-01-02T15:04:05.000000000Z"
	k := l.CreatedAt.UTC().Format(layout) + "#" + l.ID
	if q.Sort == sortLastUsed {
		used := ""
		if !at.IsZero() {
			used = at.UTC().Format(layout)
		}
		k = used + "#" + k
	}
	return k
}

// linkCursor is the position a cursor of a listing by last use holds: the
// order key of the last link of the page, and the listing it belongs to.
type linkCursor struct {
	Query string `json:"q"`
	After string `json:"a"`
}

func encodeLinkCursor(q linkQuery, after string) string {
	b, _ := json.Marshal(linkCursor{Query: q.values().Encode(), After: after})
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeLinkCursor reads a cursor of the listing q; one of another
// listing, or not one at all, is store.ErrInvalidCursor.
func decodeLinkCursor(q linkQuery, s string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	var c linkCursor
	if err != nil || json.Unmarshal(b, &c) != nil || c.After == "" || c.Query != q.values().Encode() {
		return "", store.ErrInvalidCursor
	}
	return c.After, nil
}

// listLinksByUse lists a page of the links q chooses, in its order, with
// the last use of each (absent: never); see the comment at the top.
func (h *Handler) listLinksByUse(ctx context.Context, q linkQuery, limit int, cursor string) ([]store.Link, map[store.LastUseRef]time.Time, string, error) {
	after := ""
	if cursor != "" {
		var err error
		if after, err = decodeLinkCursor(q, cursor); err != nil {
			return nil, nil, "", cursorError(cursor, err)
		}
	}
	var all []store.Link
	for page := ""; ; {
		links, next, err := h.store.ListLinks(ctx, 100, page)
		if err != nil {
			return nil, nil, "", wrapf(err, "list links")
		}
		all = append(all, links...)
		if next == "" {
			break
		}
		page = next
	}
	refs := make([]store.LastUseRef, len(all))
	for i, l := range all {
		refs[i] = store.LastUseRef{ClientID: l.ClientID}
	}
	uses := map[store.LastUseRef]time.Time{}
	if len(refs) > 0 {
		m, err := h.store.LastUses(ctx, refs)
		if err != nil { // unlike a plain page, the answer depends on them
			return nil, nil, "", wrapf(err, "read last uses")
		}
		uses = m
	}
	type entry struct {
		link store.Link
		key  string
	}
	now := h.now()
	var chosen []entry
	for i, l := range all {
		at := uses[refs[i]]
		if q.UnusedDays > 0 && !unused(l.CreatedAt, at, now, time.Duration(q.UnusedDays)*24*time.Hour) || !q.Filter.Matches(l) {
			continue
		}
		if k := linkOrderKey(q, l, at); after == "" || k > after {
			chosen = append(chosen, entry{l, k})
		}
	}
	slices.SortFunc(chosen, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	next := ""
	if len(chosen) > limit {
		chosen = chosen[:limit]
		next = encodeLinkCursor(q, chosen[limit-1].key)
	}
	links := make([]store.Link, len(chosen))
	for i, e := range chosen {
		links[i] = e.link
	}
	return links, uses, next, nil
}
