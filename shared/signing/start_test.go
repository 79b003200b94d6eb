package signing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/clocktest"
	"github.com/applinks/applinks/shared/logtest"
	"github.com/applinks/applinks/shared/web"
)

// gatedSource is a Source whose reads wait until gate is closed (or the
// read's context ends), and that reports each read's start on started.
type gatedSource struct {
	*memSource
	gate    chan struct{}
	started chan struct{}
}

func newGated(src *memSource) *gatedSource {
	return &gatedSource{memSource: src, gate: make(chan struct{}), started: make(chan struct{}, 100)}
}

func (g *gatedSource) GetSigningKeys(ctx context.Context) ([]byte, error) {
	g.started <- struct{}{}
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.memSource.GetSigningKeys(ctx)
}

// TestStartReadsInTheBackground: Start returns before the key set is read;
// what needs no key (a token that does not parse) is answered at once
// while the read is under way; Sign waits for the read and succeeds; a
// caller whose context ends first gets ErrNoKeys (ErrUnavailable).
func TestStartReadsInTheBackground(t *testing.T) {
	ctx := context.Background()
	c := clocktest.New(time.Unix(1_800_000_000, 0))
	stored := &memSource{}
	newKeyring(t, stored, c) // the key set exists
	src := newGated(stored)
	k, err := Start(ctx, src, Options{Now: c.Now, Issuer: issuer})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	<-src.started // the read is under way, and blocked
	if _, err := k.Verify(ctx, "not-a-jwt"); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Verify of a non-JWT during the read: got %v, want ErrInvalidToken at once", err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := k.Sign(short, claimsAt(c.Now())); !errors.Is(err, ErrNoKeys) || !errors.Is(err, shared.ErrUnavailable) {
		t.Errorf("Sign whose context ends during the read: got %v, want ErrNoKeys and ErrUnavailable", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := k.Sign(ctx, claimsAt(c.Now()))
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Sign returned before the read ended: %v", err)
	default:
	}
	close(src.gate)
	if err := <-done; err != nil {
		t.Errorf("Sign after the read: got %v, want nil", err)
	}
	if err := k.Wait(ctx); err != nil {
		t.Errorf("Wait: %v", err)
	}
	if gets, _ := stored.stats(); gets != 2 { // newKeyring's and Start's
		t.Errorf("reads: got %d, want 2", gets)
	}
}

// TestStartFailureIsLoud: a key set that cannot be read is logged once, at
// error level, by Start's read; a caller that needs the keys then gets
// ErrNoKeys (ErrUnavailable) at once and nothing more is logged; after
// retryLoad a caller reads again, and once the store answers the keyring
// works.
func TestStartFailureIsLoud(t *testing.T) {
	c := clocktest.New(time.Unix(1_800_000_000, 0))
	stored := &memSource{}
	newKeyring(t, stored, c)
	stored.setFail(fmt.Errorf("secrets manager: %w", shared.ErrUnavailable))
	var logs logtest.Buffer
	ctx := web.WithLogger(context.Background(), slog.New(slog.NewJSONHandler(&logs, nil)))
	k, err := Start(ctx, stored, Options{Now: c.Now, Issuer: issuer})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := k.Wait(ctx); !errors.Is(err, ErrNoKeys) || !errors.Is(err, shared.ErrUnavailable) {
		t.Fatalf("Wait: got %v, want ErrNoKeys and ErrUnavailable", err)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `"level":"ERROR"`) || !strings.Contains(lines[0], "signing keys could not be read") {
		t.Fatalf("logs after the failed read: got %q, want one error line", lines)
	}
	gets, _ := stored.stats()
	for range 5 {
		if _, err := k.Sign(ctx, claimsAt(c.Now())); !errors.Is(err, ErrNoKeys) {
			t.Errorf("Sign: got %v, want ErrNoKeys", err)
		}
		if _, err := k.SignIDToken(ctx, ES256, idClaimsAt(c.Now(), "c")); !errors.Is(err, shared.ErrUnavailable) {
			t.Errorf("SignIDToken: got %v, want ErrUnavailable", err)
		}
		if _, err := k.JWKS(ctx); !errors.Is(err, ErrNoKeys) {
			t.Errorf("JWKS: got %v, want ErrNoKeys", err)
		}
	}
	if g, _ := stored.stats(); g != gets {
		t.Errorf("reads within retryLoad of the failure: got %d, want none", g-gets)
	}
	if got := strings.Count(strings.TrimSpace(logs.String()), "\n") + 1; got != 1 {
		t.Errorf("log lines after the refused calls: got %d, want still 1 (the caller logs its own)", got)
	}
	// After retryLoad, a caller reads again: still failing, then fixed.
	c.Add(retryLoad)
	if _, err := k.Sign(ctx, claimsAt(c.Now())); !errors.Is(err, ErrNoKeys) {
		t.Errorf("Sign after retryLoad, store down: got %v, want ErrNoKeys", err)
	}
	if g, _ := stored.stats(); g != gets+1 {
		t.Errorf("reads after retryLoad: got %d, want 1", g-gets)
	}
	stored.setFail(nil)
	if _, err := k.Sign(ctx, claimsAt(c.Now())); !errors.Is(err, ErrNoKeys) {
		t.Errorf("Sign within retryLoad of the second failure: got %v, want ErrNoKeys", err)
	}
	c.Add(retryLoad)
	tok, err := k.Sign(ctx, claimsAt(c.Now()))
	if err != nil {
		t.Fatalf("Sign once the store answers: %v", err)
	}
	if _, err := k.Verify(ctx, tok); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

// TestStartAfter: with Options.StartAfter, Start's read begins only once
// the channel is closed (the end of the function's set-up), and callers
// wait for it meanwhile.
func TestStartAfter(t *testing.T) {
	ctx := context.Background()
	c := clocktest.New(time.Unix(1_800_000_000, 0))
	stored := &memSource{}
	newKeyring(t, stored, c)
	src := newGated(stored)
	close(src.gate)
	after := make(chan struct{})
	k, err := Start(ctx, src, Options{Now: c.Now, StartAfter: after})
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := k.Wait(short); !errors.Is(err, ErrNoKeys) {
		t.Errorf("Wait before StartAfter: got %v, want ErrNoKeys (still waiting)", err)
	}
	select {
	case <-src.started:
		t.Fatal("the read began before StartAfter was closed")
	default:
	}
	close(after)
	if err := k.Wait(ctx); err != nil {
		t.Fatalf("Wait after StartAfter: %v", err)
	}
	<-src.started
}
