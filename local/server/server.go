// Package server assembles the provider's three handlers (admin, authorize,
// token) on one http.ServeMux, exactly as API Gateway routes them, behind
// the shared request middleware. The local runner serves it; the end-to-end,
// security and performance tests drive it in-process.
package server

import (
	"context"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/applinks/applinks/functions/admin"
	"github.com/applinks/applinks/functions/authorize"
	"github.com/applinks/applinks/functions/token"
	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/permissions"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// CallbackPath is the local runner's demo redirect target: it shows the
// authorization code it receives, so the quick start needs no application.
const CallbackPath = "/local/callback"

// New mounts the three functions' handlers on one mux, exactly as API
// Gateway routes them, plus the demo callback page, behind the shared
// request middleware and, with an https issuer, web.HSTS as in Lambda. The
// admin API authenticates with cfg.AdminToken.
func New(ctx context.Context, cfg config.Config, st *store.Store, logger *slog.Logger) (http.Handler, error) {
	return NewWith(ctx, cfg, st, logger, Options{})
}

// Options are the settings of NewWith that are not configuration: what
// tests change to run several instances of the provider as one deployment
// would run in several regions.
type Options struct {
	// Now is the clock of the three handlers and of the signing keys
	// (default time.Now). Instances that share one clock can be moved
	// through time together: past the signing keys' refresh interval, a
	// rotation's active_from or the console's confirmation lifetime.
	Now func() time.Time
}

// NewWith is New with o.
func NewWith(ctx context.Context, cfg config.Config, st *store.Store, logger *slog.Logger, o Options) (http.Handler, error) {
	// Users' permissions follow PERMISSION_SOURCE (as store.Open's do).
	st = st.WithPermissionSource(cfg.Permissions.Source)
	keys, err := signing.New(ctx, st, signing.Options{Now: o.Now})
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	// PERMISSION_SOURCE=service: the permission-request key set and the
	// client that asks PERMISSIONS_URL (nils otherwise).
	perms, permKeys, err := permissions.Setup(ctx, cfg, st.PermissionRequestKeys())
	if err != nil {
		return nil, err
	}
	tok, err := token.New(token.Options{Config: cfg, Store: st, Keys: keys, Permissions: perms, PermissionKeys: permKeys, Now: o.Now})
	if err != nil {
		return nil, fmt.Errorf("token handler: %w", err)
	}
	authz, err := authorize.New(authorize.Options{Config: cfg, Store: st, Permissions: perms, Now: o.Now})
	if err != nil {
		return nil, fmt.Errorf("authorize handler: %w", err)
	}
	adm, err := admin.New(admin.Options{Config: cfg, Store: st, Keys: keys, Auth: admin.BearerToken(cfg.AdminToken), Now: o.Now})
	if err != nil {
		return nil, fmt.Errorf("admin handler: %w", err)
	}
	return web.HSTS(web.Middleware(newMux(tok, authz, adm), logger, nil), cfg.Issuer), nil
}

// newMux mounts each function's handler on its Paths, as API Gateway
// routes them, and the demo callback page. Each handler answers its own
// 404s and 405s under its paths (TestLocalMuxRoutes: every route of
// routes.Token, routes.Authorize and routes.Admin reaches its function).
func newMux(tok, authz, adm http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	for _, m := range []struct {
		paths []string
		h     http.Handler
	}{{token.Paths, tok}, {authorize.Paths, authz}, {admin.Paths, adm}} {
		for _, p := range m.paths {
			mux.Handle(p, m.h)
		}
	}
	mux.HandleFunc("GET "+CallbackPath, callback)
	return mux
}

var callbackPage = template.Must(template.New("cb").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Local callback</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}code{word-break:break-all;background:#f3f3f3;padding:.1rem .3rem}</style>
</head><body><main>
<h1>Local callback</h1>
{{if .Error}}<p>The authorization ended with <code>{{.Error}}</code>{{if .Description}}: {{.Description}}{{end}}.</p>
{{else}}<p>Authorization code (valid for a short time and for one exchange: exchanging it a second time revokes the tokens of the first):</p>
<p><code>{{.Code}}</code></p>
<p>Exchange it:</p>
<p><code>curl -s -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=authorization_code -d code={{.Code}} "$ISSUER/oauth2/token"</code></p>{{end}}
<p>state: <code>{{.State}}</code>, iss: <code>{{.Iss}}</code></p>
</main></body></html>`))

// callback is the demo redirect target of the quick start (local runner
// only; never deployed).
func callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	shared.SetPageHeaders(w.Header())
	_ = callbackPage.Execute(w, map[string]string{
		"Code": q.Get("code"), "State": q.Get("state"), "Iss": q.Get("iss"),
		"Error": q.Get("error"), "Description": q.Get("error_description"),
	})
}
