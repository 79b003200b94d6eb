// Command token is the Lambda entry point of the token function: it starts
// reading the signing keyring in the background at the end of its set-up
// (signing.Start after lambdahttp.Serving: INIT does not wait for Secrets
// Manager, nor share the CPU with the read; the first request that signs
// or verifies waits for the read, which overlaps that request's own
// DynamoDB reads; a key set that cannot be read is logged and makes those
// requests answer temporarily_unavailable), loads, with
// PERMISSION_SOURCE=service, the permission-request key set, and serves
// token.Handler through lambdahttp.Serve. It holds no logic of its own.
package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/applinks/applinks/functions/token"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/lambdahttp"
	"github.com/applinks/applinks/shared/permissions"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store"
)

func main() {
	lambdahttp.Serve("token", func(ctx context.Context, cfg config.Config, st *store.Store) (http.Handler, error) {
		kr, err := signing.Start(ctx, st, signing.Options{StartAfter: lambdahttp.Serving(ctx)})
		if err != nil {
			return nil, fmt.Errorf("signing keys: %w", err)
		}
		perms, permKeys, err := permissions.Setup(ctx, cfg, st.PermissionRequestKeys())
		if err != nil {
			return nil, err
		}
		h, err := token.New(token.Options{Config: cfg, Store: st, Keys: kr, Permissions: perms, PermissionKeys: permKeys})
		if err != nil {
			return nil, fmt.Errorf("token handler: %w", err)
		}
		return h, nil
	})
}
