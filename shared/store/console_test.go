package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
	"github.com/applinks/applinks/shared/store/table"
)

// TestConsoleSessions: a console session is read back as written; a touch
// starts its idle period again and records a confirmation; it ends when
// idle, at its absolute end, or when deleted, and an ended one is not
// brought back by a touch. The authorize and token functions' write
// policies refuse it.
func TestConsoleSessions(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s := b.Store()
		at := now()
		const idle = 30 * time.Minute
		cs := store.ConsoleSession{ID: uniq("console"), UserID: "uid-1", CSRF: "csrf-1",
			CreatedAt: at, ConfirmedAt: at, LastSeen: at, ExpiresAt: at.Add(8 * time.Hour)}
		if err := s.CreateConsoleSession(ctx(), cs, idle); err != nil {
			t.Fatalf("CreateConsoleSession: %v", err)
		}
		if err := s.CreateConsoleSession(ctx(), cs, idle); !errors.Is(err, shared.ErrConflict) {
			t.Errorf("CreateConsoleSession again: got %v, want ErrConflict", err)
		}
		got, err := s.GetConsoleSession(ctx(), cs.ID, idle, at.Add(time.Minute))
		if err != nil || got != cs {
			t.Fatalf("GetConsoleSession = %+v, %v; want %+v", got, err, cs)
		}
		if _, err := s.GetConsoleSession(ctx(), cs.ID, idle, at.Add(idle)); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("GetConsoleSession idle: got %v, want ErrNotFound", err)
		}
		// A touch 20 minutes in keeps it open 30 more minutes.
		t1 := at.Add(20 * time.Minute)
		got, err = s.TouchConsoleSession(ctx(), cs.ID, false, idle, t1)
		if err != nil || !got.LastSeen.Equal(t1) || !got.ConfirmedAt.Equal(at) {
			t.Fatalf("TouchConsoleSession = %+v, %v", got, err)
		}
		if _, err := s.GetConsoleSession(ctx(), cs.ID, idle, at.Add(idle+time.Minute)); err != nil {
			t.Errorf("GetConsoleSession after a touch: %v", err)
		}
		t2 := t1.Add(time.Minute)
		if got, err = s.TouchConsoleSession(ctx(), cs.ID, true, idle, t2); err != nil || !got.ConfirmedAt.Equal(t2) {
			t.Errorf("TouchConsoleSession(confirmed) = %+v, %v; want confirmed at %v", got, err, t2)
		}
		// Idle: a late touch does not bring it back.
		if _, err := s.TouchConsoleSession(ctx(), cs.ID, true, idle, t2.Add(idle)); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("TouchConsoleSession of an idle session: got %v, want ErrNotFound", err)
		}
		// The absolute end holds however recent the last request.
		if _, err := s.GetConsoleSession(ctx(), cs.ID, 24*time.Hour, cs.ExpiresAt); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("GetConsoleSession at the end: got %v, want ErrNotFound", err)
		}
		if _, err := s.TouchConsoleSession(ctx(), cs.ID, false, 24*time.Hour, cs.ExpiresAt); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("TouchConsoleSession at the end: got %v, want ErrNotFound", err)
		}
		if err := s.DeleteConsoleSession(ctx(), cs.ID); err != nil {
			t.Fatalf("DeleteConsoleSession: %v", err)
		}
		if _, err := s.GetConsoleSession(ctx(), cs.ID, idle, t2); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("GetConsoleSession after delete: got %v, want ErrNotFound", err)
		}
		if _, err := s.TouchConsoleSession(ctx(), cs.ID, false, idle, t2); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("TouchConsoleSession after delete: got %v, want ErrNotFound", err)
		}
		if n := countItems(t, b, "CONSOLE#"+cs.ID); n != 0 {
			t.Errorf("a touch after delete left %d items", n)
		}
		for _, fn := range []string{"authorize", "token"} {
			limited := s.WithDynamoDB(func(db store.DynamoDB) store.DynamoDB { return storetest.LeadingKeys(db, table.WritePrefixes[fn]) })
			other := cs
			other.ID = uniq("console")
			if err := limited.CreateConsoleSession(ctx(), other, idle); err == nil {
				t.Errorf("CreateConsoleSession under the %s function's write policy succeeded", fn)
			}
		}
	})
}
