package token

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
)

// Bounds of retryInFlight. On AWS a transaction holds its items for a few
// milliseconds, so waits of about 10, 20, 40 and 80 ms (each between half
// and all of that, so that two requests retrying together drift apart)
// outlast one; a write still refused after them meets a stream of writes.
const (
	inFlightAttempts  = 5
	inFlightFirstWait = 10 * time.Millisecond
)

// retryInFlight retries write while it answers store.ErrTransactionConflict
// (another request was writing the same item at that moment, with an
// outcome not known yet); err is write's first answer. It makes at most
// inFlightAttempts attempts in all, waiting before each, and returns the
// last answer, except that a conflict still in flight after the last one
// becomes shared.ErrUnavailable (503 temporarily_unavailable: the client
// may try again), no longer a shared.ErrConflict, since nothing was
// decided.
func retryInFlight(ctx context.Context, err error, write func() error) error {
	wait := inFlightFirstWait
	for attempt := 1; errors.Is(err, store.ErrTransactionConflict); attempt++ {
		if attempt == inFlightAttempts {
			return fmt.Errorf("%w: still written by another request after %d attempts: %v",
				shared.ErrUnavailable, attempt, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w (after %v)", shared.ErrUnavailable, ctx.Err(), err)
		case <-time.After(wait/2 + rand.N(wait/2+1)):
		}
		wait *= 2
		err = write()
	}
	return err
}
