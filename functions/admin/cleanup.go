package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store"
)

// IdleCleanupStore is what the daily clean-up of idle dynamic links needs;
// *store.Store implements it.
type IdleCleanupStore interface {
	GetRegistrationPolicy(ctx context.Context) (shared.RegistrationPolicy, time.Time, bool, error)
	ListLinks(ctx context.Context, limit int, cursor string) ([]store.Link, string, error)
	DeleteIdleLink(ctx context.Context, clientID string, idle store.IdleCheck, now time.Time) (bool, error)
	RecordEvent(ctx context.Context, writer string, subjects []store.EventSubject, ev store.Event, suffix string) error
}

var _ IdleCleanupStore = (*store.Store)(nil)

// CleanupReport is what one run of the clean-up did.
type CleanupReport struct {
	Checked int `json:"checked"` // dynamic links looked at
	Deleted int `json:"deleted"`
	Failed  int `json:"failed"`
}

// CleanupActor names the clean-up in audit lines and activity events.
const CleanupActor = "idle-link-clean-up"

// CleanIdleLinks deletes every link that registered itself (RFC 7591) and
// was not used, nor consented to, for the registration policy's idle days
// (30 when no policy was saved), and has no live grant: none approved or
// used within the refresh tokens' lifetime (cfg.RefreshTokenTTL), which is
// as long as a refresh token of it could still be redeemed. It is what the
// daily schedule runs (the admin function's Lambda entry point, and the
// local runner); each deletion is an audit line and an event of the link.
// A link that fails is logged and skipped; the run then returns an error
// after the others, and the next run retries it (deletion is idempotent).
func CleanIdleLinks(ctx context.Context, st IdleCleanupStore, cfg config.Config, now time.Time, log *slog.Logger) (CleanupReport, error) {
	var rep CleanupReport
	policy, _, found, err := st.GetRegistrationPolicy(ctx)
	if err != nil {
		return rep, fmt.Errorf("clean-up: %w", err)
	}
	if !found {
		policy = shared.DefaultRegistrationPolicy(cfg.Catalog)
	}
	idle := store.IdleCheck{
		UnusedSince: now.Add(-time.Duration(policy.DynamicRegistration.IdleDays) * 24 * time.Hour),
		LiveSince:   now.Add(-cfg.RefreshTokenTTL),
	}
	var failures []error
	cursor := ""
	for {
		links, next, err := st.ListLinks(ctx, 100, cursor)
		if err != nil {
			return rep, fmt.Errorf("clean-up: %w", err)
		}
		for _, l := range links {
			if l.Origin != shared.OriginDynamic || !l.CreatedAt.Before(idle.UnusedSince) {
				continue
			}
			rep.Checked++
			deleted, err := st.DeleteIdleLink(ctx, l.ClientID, idle, now)
			if err != nil {
				rep.Failed++
				failures = append(failures, err)
				log.Error("idle link not cleaned up", "link_id", l.ID, "client_id", l.ClientID, "error", err.Error())
				continue
			}
			if !deleted {
				continue
			}
			rep.Deleted++
			log.Info("audit", "audit", true, "event", "link_deleted", "actor", CleanupActor, "link_id", l.ID,
				"client_id", l.ClientID, "name", l.Name, "reason", "idle", "idle_days", policy.DynamicRegistration.IdleDays)
			ev := store.Event{Event: "link_deleted", Actor: CleanupActor, Via: "schedule", At: now.UTC(),
				Details: map[string]string{"link_id": l.ID, "client_id": l.ClientID, "name": l.Name, "reason": "idle"}}
			if err := st.RecordEvent(ctx, store.EventWriterAdmin, []store.EventSubject{{Kind: store.EventLink, ID: l.ID}}, ev, l.ID); err != nil {
				log.Warn("activity event not recorded", "event", "link_deleted", "error", err.Error())
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	log.Info("idle link clean-up", "checked", rep.Checked, "deleted", rep.Deleted, "failed", rep.Failed,
		"idle_days", policy.DynamicRegistration.IdleDays)
	if len(failures) > 0 {
		return rep, fmt.Errorf("clean-up: %d of %d links failed: %w", rep.Failed, rep.Checked, errors.Join(failures...))
	}
	return rep, nil
}
