package admin

import (
	"context"
	"crypto/rand"
	"log/slog"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/logtest"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
)

// TestCleanIdleLinks: the daily clean-up deletes the dynamic links idle
// for the policy's idle days (an audit line and an event of the link
// each), and keeps a younger dynamic link and an administrator's idle
// link; a second run finds nothing more to do.
func TestCleanIdleLinks(t *testing.T) {
	ctx := context.Background()
	st := storetest.Kumo(t)
	cfg := testConfig(t)
	now := time.Now().UTC().Truncate(time.Second)
	p := shared.DefaultRegistrationPolicy(cfg.Catalog)
	p.DynamicRegistration.IdleDays = 7
	if err := st.PutRegistrationPolicy(ctx, p, now); err != nil {
		t.Fatal(err)
	}
	mk := func(name, origin string, age time.Duration) store.Link {
		id, _ := shared.NewID(rand.Reader)
		cid, _ := shared.NewID(rand.Reader)
		l, _, err := st.CreateLink(ctx, store.NewLink{ID: id, ClientID: cid, Name: name, Secret: "s3cret-" + cid,
			RedirectURIs: []string{"https://app.example/cb"}, Scopes: []string{"REPO_READ"}, ClientType: store.Confidential,
			Enabled: true, Origin: origin}, now.Add(-age))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	idle := mk("Idle agent", shared.OriginDynamic, 8*24*time.Hour)
	young := mk("Young agent", shared.OriginDynamic, 6*24*time.Hour)
	admin := mk("Admin's old link", shared.OriginAdmin, 400*24*time.Hour)

	var logs logtest.Buffer
	rep, err := CleanIdleLinks(ctx, st, cfg, now, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if rep != (CleanupReport{Checked: 1, Deleted: 1}) {
		t.Fatalf("report %+v, want 1 checked, 1 deleted", rep)
	}
	if _, err := st.GetLink(ctx, idle.ID); !isNotFound(err) {
		t.Errorf("idle dynamic link: %v, want not found", err)
	}
	for _, l := range []store.Link{young, admin} {
		if _, err := st.GetLink(ctx, l.ID); err != nil {
			t.Errorf("%s: %v, want kept", l.Name, err)
		}
	}
	audits, err := logs.Audits("link_deleted")
	if err != nil || len(audits) != 1 || audits[0]["link_id"] != idle.ID || audits[0]["reason"] != "idle" || audits[0]["actor"] != CleanupActor {
		t.Errorf("audit lines %v (%v), want one link_deleted of %s by the clean-up", audits, err, idle.ID)
	}
	evs, _, err := st.ListEvents(ctx, store.EventWriterAdmin, store.EventSubject{Kind: store.EventLink, ID: idle.ID}, 10, "", now)
	if err != nil || len(evs) != 1 || evs[0].Event != "link_deleted" || evs[0].Actor != CleanupActor {
		t.Errorf("events of the deleted link: %+v (%v)", evs, err)
	}
	if rep, err := CleanIdleLinks(ctx, st, cfg, now, slog.New(slog.NewJSONHandler(&logs, nil))); err != nil || rep.Deleted != 0 {
		t.Errorf("second run: %+v, %v; want nothing deleted", rep, err)
	}
}
