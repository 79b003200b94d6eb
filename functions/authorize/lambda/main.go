// Command authorize is the Lambda entry point of the authorize function: it
// loads the permission-request key set when PERMISSION_SOURCE is service
// and serves authorize.Handler through lambdahttp.Serve. It holds no logic
// of its own.
package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/applinks/applinks/functions/authorize"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/lambdahttp"
	"github.com/applinks/applinks/shared/permissions"
	"github.com/applinks/applinks/shared/store"
)

func main() {
	lambdahttp.Serve("authorize", func(ctx context.Context, cfg config.Config, st *store.Store) (http.Handler, error) {
		perms, _, err := permissions.Setup(ctx, cfg, st.PermissionRequestKeys())
		if err != nil {
			return nil, err
		}
		h, err := authorize.New(authorize.Options{Config: cfg, Store: st, Permissions: perms})
		if err != nil {
			return nil, fmt.Errorf("authorize handler: %w", err)
		}
		return h, nil
	})
}
