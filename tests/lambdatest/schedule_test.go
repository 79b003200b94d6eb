package lambdatest

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
)

// TestAdminScheduledCleanup: the admin function's binary, under the
// emulator, runs the idle-link clean-up when invoked with an EventBridge
// scheduled event (the daily schedule's target): an idle dynamic link is
// deleted, an administrator's link of the same age is kept, and the run is
// logged with its counts.
func TestAdminScheduledCleanup(t *testing.T) {
	b := storetest.DynamoLocalBackend(t)
	st := b.Store()
	ctx := context.Background()
	old := time.Now().UTC().Add(-60 * 24 * time.Hour)
	mk := func(origin string) store.Link {
		id, _ := shared.NewID(rand.Reader)
		cid, _ := shared.NewID(rand.Reader)
		l, _, err := st.CreateLink(ctx, store.NewLink{ID: id, ClientID: cid, Name: origin + " link", Secret: "s-" + cid,
			RedirectURIs: []string{"https://app.example/cb"}, ClientType: store.Confidential, Enabled: true, Origin: origin}, old)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	dynamic, admin := mk(shared.OriginDynamic), mk(shared.OriginAdmin)

	rie, err := RIEPath()
	if err != nil {
		t.Fatal(err)
	}
	env := storetest.Env{DynamoDBEndpoint: b.DynamoDBEndpoint, SecretsManagerEndpoint: b.SecretsManagerEndpoint,
		TableName: b.Options.TableName, SecretPrefix: b.Options.SecretPrefix}
	fn := Start(t, rie, bootstraps(t)["admin"], append(env.Environ(), "ISSUER_URL="+issuer))
	if _, err := fn.InvokeRaw([]byte(scheduledEvent)); err != nil {
		t.Fatalf("scheduled event: %v\n%s", err, fn.Output())
	}
	if _, err := st.GetLink(ctx, dynamic.ID); !errors.Is(err, shared.ErrNotFound) {
		t.Errorf("idle dynamic link after the run: %v, want not found", err)
	}
	if _, err := st.GetLink(ctx, admin.ID); err != nil {
		t.Errorf("administrator's link after the run: %v, want kept", err)
	}
	if out := fn.Output(); !strings.Contains(out, `"msg":"idle link clean-up"`) || !strings.Contains(out, `"deleted":1`) {
		t.Errorf("no log line of the run with deleted 1 in:\n%s", out)
	}
}

// scheduledEvent is what an EventBridge rule's schedule sends its target.
const scheduledEvent = `{"version":"0","id":"89d1a02d-5ec7-412e-82f5-13505f849b41","detail-type":"Scheduled Event",
"source":"aws.events","account":"123456789012","time":"2026-12-07T03:00:00Z","region":"us-east-1",
"resources":["arn:aws:events:us-east-1:123456789012:rule/idle-links"],"detail":{}}`
