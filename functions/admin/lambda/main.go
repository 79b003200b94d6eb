// Command admin is the Lambda entry point of the admin function: it serves
// admin.Handler, with a signing-key Rotator, through lambdahttp.Serve.
// Authentication is API Gateway's IAM authorization (SigV4) on /admin/*;
// the handler also refuses any request whose context carries no IAM
// principal. The console (/console/*, no authorizer) authenticates with the
// sign-in session instead. A daily EventBridge schedule invokes it directly
// to delete idle dynamic links (admin.CleanIdleLinks); no HTTP route runs
// that. It holds no logic of its own.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/applinks/applinks/functions/admin"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/lambdahttp"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store"
)

func main() {
	lambdahttp.ServeWithSchedule("admin", func(ctx context.Context, cfg config.Config, st *store.Store) (http.Handler, error) {
		// The admin function only rotates the signing key: the Rotator reads
		// the key set when asked to, not at start.
		rot, err := signing.NewRotator(st, signing.Options{})
		if err != nil {
			return nil, fmt.Errorf("signing key rotator: %w", err)
		}
		h, err := admin.New(admin.Options{Config: cfg, Store: st, Keys: rot, Auth: admin.IAMPrincipal()})
		if err != nil {
			return nil, fmt.Errorf("admin handler: %w", err)
		}
		return h, nil
	}, func(ctx context.Context, cfg config.Config, st *store.Store) (lambdahttp.Job, error) {
		return func(ctx context.Context) error {
			_, err := admin.CleanIdleLinks(ctx, st, cfg, time.Now(), slog.Default())
			return err
		}, nil
	})
}
