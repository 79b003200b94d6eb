package admin

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// ActivityStore keeps what the console shows of a link's and a user's
// activity: the last use of links and grants (written by the token
// function) and the audit events of the admin function's operations.
type ActivityStore interface {
	// LastUses reads the last use of each ref (absent: never, or not
	// since the grant was made again).
	LastUses(ctx context.Context, refs []store.LastUseRef) (map[store.LastUseRef]time.Time, error)
	// RecordEvent writes an event under writer for each subject.
	RecordEvent(ctx context.Context, writer string, subjects []store.EventSubject, ev store.Event, suffix string) error
	// ListEvents lists the events writer recorded about sub, newest first.
	ListEvents(ctx context.Context, writer string, sub store.EventSubject, limit int, cursor string, now time.Time) ([]store.Event, string, error)
}

// UnusedAfter is how long without a use marks a link "not used" in the
// console (and GET /admin/links?unused_days=90 in the admin API).
const UnusedAfter = 90 * 24 * time.Hour

// recordEvent keeps the audit event of an operation in the table, for the
// link (link_id) and the user (user_id) it names, beside its log line. A
// failure is logged and never the operation's: the log line is the record
// a SIEM reads, the table's copy is the console's view of it.
func (h *Handler) recordEvent(ctx context.Context, c call, event string, attrs []any) {
	ev := store.Event{Event: event, Actor: c.principal, Via: c.via, Details: map[string]string{}, At: h.now().UTC()}
	var subjects []store.EventSubject
	for i := 0; i+1 < len(attrs); i += 2 {
		k, ok := attrs[i].(string)
		if !ok {
			continue
		}
		v := fmt.Sprint(attrs[i+1])
		ev.Details[k] = v
		switch k {
		case "link_id":
			subjects = append(subjects, store.EventSubject{Kind: store.EventLink, ID: v})
		case "user_id":
			subjects = append(subjects, store.EventSubject{Kind: store.EventUser, ID: v})
		case "policy":
			subjects = append(subjects, store.EventSubject{Kind: store.EventPolicy, ID: v})
		}
	}
	if len(subjects) == 0 {
		return
	}
	suffix, err := shared.NewID(h.random)
	if err == nil {
		err = h.store.RecordEvent(ctx, store.EventWriterAdmin, subjects, ev, suffix)
	}
	if err != nil {
		web.Logger(ctx).Warn("activity event not recorded", "event", event, "error", err.Error())
	}
}

// lastUses reads the last use of links and grants for a page; a failure
// is logged and shows as unknown (null), never fails the page.
func (h *Handler) lastUses(ctx context.Context, refs []store.LastUseRef) map[store.LastUseRef]time.Time {
	if len(refs) == 0 {
		return nil
	}
	m, err := h.store.LastUses(ctx, refs)
	if err != nil {
		web.Logger(ctx).Warn("last use not read", "error", err.Error())
		return nil
	}
	return m
}

// linkLastUse fills the last_used_at of link views.
func (h *Handler) linkLastUse(ctx context.Context, views []linkView) {
	refs := make([]store.LastUseRef, len(views))
	for i, v := range views {
		refs[i] = store.LastUseRef{ClientID: v.ClientID}
	}
	m := h.lastUses(ctx, refs)
	for i := range views {
		if t, ok := m[refs[i]]; ok {
			t = t.UTC()
			views[i].LastUsedAt = &t
		}
	}
}

// grantLastUse fills the last_used_at of grant views of clientID.
func (h *Handler) grantLastUse(ctx context.Context, clientID string, views []grantView) {
	refs := make([]store.LastUseRef, len(views))
	for i, v := range views {
		refs[i] = store.LastUseRef{ClientID: clientID, UserID: v.UserID, GrantID: v.GrantID}
	}
	m := h.lastUses(ctx, refs)
	for i := range views {
		if t, ok := m[refs[i]]; ok {
			t = t.UTC()
			views[i].LastUsedAt = &t
		}
	}
}

// eventView is an event in the admin API.
type eventView struct {
	Event   string            `json:"event"`
	Actor   string            `json:"actor"`
	Via     string            `json:"via"`
	At      time.Time         `json:"at"`
	Details map[string]string `json:"details"`
}

func viewEvents(evs []store.Event) []eventView {
	out := make([]eventView, 0, len(evs))
	for _, e := range evs {
		out = append(out, eventView{Event: e.Event, Actor: e.Actor, Via: e.Via, At: e.At.UTC(), Details: e.Details})
	}
	return out
}

// eventsOp lists a page of the events of sub, newest first.
func (h *Handler) eventsOp(ctx context.Context, sub store.EventSubject, limit int, cursor string) ([]store.Event, string, error) {
	evs, next, err := h.store.ListEvents(ctx, store.EventWriterAdmin, sub, limit, cursor, h.now())
	if err != nil {
		return nil, "", cursorError(cursor, wrapf(err, "list events"))
	}
	return evs, next, nil
}

func writeEvents(w http.ResponseWriter, evs []store.Event, next string) {
	web.WriteJSON(w, http.StatusOK, struct {
		Events     []eventView `json:"events"`
		NextCursor string      `json:"next_cursor,omitempty"`
	}{viewEvents(evs), next})
}

// linkEvents serves GET /admin/links/{id}/events: what was done to the
// link, newest first, for 90 days.
func (h *Handler) linkEvents(w http.ResponseWriter, r *http.Request, c call) error {
	limit, cursor, err := pageParams(r)
	if err != nil {
		return err
	}
	link, err := h.getLinkOp(r.Context(), c.param)
	if err != nil {
		return err
	}
	evs, next, err := h.eventsOp(r.Context(), store.EventSubject{Kind: store.EventLink, ID: link.ID}, limit, cursor)
	if err != nil {
		return err
	}
	writeEvents(w, evs, next)
	return nil
}

// userEvents serves GET /admin/users/{username}/events: what was done to
// the user, newest first, for 90 days.
func (h *Handler) userEvents(w http.ResponseWriter, r *http.Request, c call) error {
	limit, cursor, err := pageParams(r)
	if err != nil {
		return err
	}
	u, err := h.userOp(r.Context(), c.param)
	if err != nil {
		return err
	}
	evs, next, err := h.eventsOp(r.Context(), store.EventSubject{Kind: store.EventUser, ID: u.ID}, limit, cursor)
	if err != nil {
		return err
	}
	writeEvents(w, evs, next)
	return nil
}
