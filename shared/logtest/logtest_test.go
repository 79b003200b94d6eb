package logtest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

func TestAudits(t *testing.T) {
	var b Buffer
	log := slog.New(slog.NewJSONHandler(&b, nil))
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			log.InfoContext(context.Background(), "audit", "audit", true, "event", "link_created", "n", i)
			log.Info("request", "status", 200)
		})
	}
	wg.Wait()
	log.Info("audit", "audit", true, "event", "link_deleted")

	created, err := b.Audits("link_created")
	if err != nil {
		t.Fatal(err)
	}
	if len(created) != 20 {
		t.Errorf("got %d link_created events, want 20", len(created))
	}
	deleted, err := b.Audits("link_deleted")
	if err != nil {
		t.Fatal(err)
	}
	if len(deleted) != 1 || deleted[0]["msg"] != "audit" {
		t.Errorf("got link_deleted events %v, want the one line", deleted)
	}
	if none, err := b.Audits("request"); err != nil || len(none) != 0 {
		t.Errorf("got %v, %v for a message that is no audit event, want none", none, err)
	}
	if got := strings.Count(b.String(), "\n"); got != 41 {
		t.Errorf("got %d lines, want 41", got)
	}
}

func TestAuditsNotJSON(t *testing.T) {
	var b Buffer
	fmt.Fprintln(&b, `{"audit":true,"event":"x"}`)
	fmt.Fprintln(&b, "plain text")
	if got, err := b.Audits("x"); err == nil {
		t.Errorf("got %v, nil, want an error for the line that is not JSON", got)
	}
}
