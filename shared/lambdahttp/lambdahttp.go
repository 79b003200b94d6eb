// Package lambdahttp is the Lambda entry point the three functions share:
// it reads the configuration, sets up logging, opens the store and builds
// the function's http.Handler once per cold start, then serves it through
// the API Gateway HTTP API (payload format 2.0) adapter. A function's main
// only says how to build its handler:
//
//	func main() {
//		lambdahttp.Serve("token", func(ctx context.Context, cfg config.Config, st *store.Store) (http.Handler, error) {
//			...
//		})
//	}
//
// Nothing here reads the request: the handlers are plain http.Handlers that
// the local runner and the tests mount as they are.
package lambdahttp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// Build builds a function's handler from the configuration and the store.
// It is called once per cold start; an error ends the process.
type Build func(ctx context.Context, cfg config.Config, st *store.Store) (http.Handler, error)

// Serve sets the function up from the environment and serves it until the
// Lambda runtime stops the process. When the set-up fails it writes one
// line to stderr, "name: error", and exits with status 1 (Lambda reports an
// init error and retries the cold start on the next invocation).
func Serve(name string, build Build) {
	h, err := setup(context.Background(), os.Getenv, os.Stdout, build)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
	lambda.Start(httpadapter.NewV2(h).ProxyWithContext)
}

// setup is Serve's set-up: the configuration through getenv, a JSON logger
// on logs that also becomes slog's default (for what logs outside a
// request, such as the keyring's audit line when it creates the signing
// key), the store (store.Open, which reads the AWS settings from the
// process environment), build, and web.Middleware with the API Gateway
// request id, so that a log line can be found from the API's access log or
// a client's report, inside web.HSTS (Strict-Transport-Security on every
// response of an https issuer).
func setup(ctx context.Context, getenv func(string) string, logs io.Writer, build Build) (http.Handler, error) {
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	slog.SetDefault(logger)
	st, err := store.Open(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	h, err := build(ctx, cfg, st)
	if err != nil {
		return nil, err
	}
	return web.HSTS(web.Middleware(h, logger, requestID), cfg.Issuer), nil
}

// requestID is the API Gateway request id of r ("" outside API Gateway,
// where web.Middleware makes up one).
func requestID(r *http.Request) string {
	if c, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok {
		return c.RequestID
	}
	return ""
}
