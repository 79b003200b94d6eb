package token

import (
	"context"
	"sync"
	"time"

	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// LastUse records when links and grants last issued tokens.
type LastUse interface {
	// TouchLastUse writes the last use of r at now unless the stored one
	// is less than store.LastUseInterval old (a conditional write, no
	// read); it returns the last use as stored and whether it wrote.
	TouchLastUse(ctx context.Context, r store.LastUseRef, now time.Time) (time.Time, bool, error)
}

// lastUseCacheMax bounds the per-instance memory of recent writes; past it
// the memory starts again (costing at most one conditional write per link
// and grant in use).
const lastUseCacheMax = 10000

// lastUseCache remembers, per warm instance, the last use each link and
// grant is known to have stored, so that a use within the hour costs no
// DynamoDB call at all. Another instance's write is learnt from the failed
// condition of this one's (the stored time comes back with it).
type lastUseCache struct {
	mu sync.Mutex
	m  map[store.LastUseRef]time.Time
}

func (c *lastUseCache) fresh(r store.LastUseRef, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.m[r]
	return ok && now.Sub(t) < store.LastUseInterval
}

func (c *lastUseCache) set(r store.LastUseRef, t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= lastUseCacheMax {
		c.m = map[store.LastUseRef]time.Time{}
	}
	c.m[r] = t
}

// recordUse records that the link clientID, and the grant grantID of
// userID for it, issued tokens at now: a successful code exchange, refresh
// or device-code redemption. It costs nothing when this instance knows
// both were recorded within the hour, otherwise one conditional UpdateItem
// each (in parallel). A failure is logged, never the request's: the
// tokens are issued already.
func (h *Handler) recordUse(ctx context.Context, clientID, userID, grantID string, now time.Time) {
	refs := []store.LastUseRef{{ClientID: clientID}}
	if userID != "" && grantID != "" {
		refs = append(refs, store.LastUseRef{ClientID: clientID, UserID: userID, GrantID: grantID})
	}
	var wg sync.WaitGroup
	for _, r := range refs {
		if h.lastUse.fresh(r, now) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			stored, _, err := h.store.TouchLastUse(ctx, r, now)
			if err != nil {
				web.Logger(ctx).Warn("last use not recorded", "client_id", r.ClientID, "grant_id", r.GrantID, "error", err.Error())
				// Try again in a minute at the earliest, not on every request.
				h.lastUse.set(r, now.Add(time.Minute-store.LastUseInterval))
				return
			}
			if stored.IsZero() || stored.After(now) {
				stored = now
			}
			h.lastUse.set(r, stored)
		}()
	}
	wg.Wait()
}
