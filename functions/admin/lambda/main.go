// Command admin is the Lambda entry point of the admin function: it loads
// the signing keyring and serves admin.Handler through lambdahttp.Serve.
// Authentication is API Gateway's IAM authorization (SigV4) on /admin/*;
// the handler also refuses any request whose context carries no IAM
// principal. It holds no logic of its own.
package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/applinks/applinks/functions/admin"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/lambdahttp"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store"
)

func main() {
	lambdahttp.Serve("admin", func(ctx context.Context, cfg config.Config, st *store.Store) (http.Handler, error) {
		kr, err := signing.New(ctx, st, signing.Options{})
		if err != nil {
			return nil, fmt.Errorf("load signing keys: %w", err)
		}
		h, err := admin.New(admin.Options{Config: cfg, Store: st, Keys: kr, Auth: admin.IAMPrincipal()})
		if err != nil {
			return nil, fmt.Errorf("admin handler: %w", err)
		}
		return h, nil
	})
}
