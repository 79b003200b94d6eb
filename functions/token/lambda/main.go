// Command token is the Lambda entry point of the token function: it reads
// the configuration, opens the store and the signing keyring once per cold
// start, and serves token.Handler through the API Gateway HTTP API (payload
// format 2.0) adapter. It holds no logic of its own.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/applinks/applinks/functions/token"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

func main() {
	h, err := setup(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "token:", err)
		os.Exit(1)
	}
	lambda.Start(httpadapter.NewV2(h).ProxyWithContext)
}

// setup builds the handler from the environment.
func setup(ctx context.Context) (http.Handler, error) {
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	// JSON lines on stdout, also for what logs outside a request (the
	// keyring's audit line when it creates the signing key).
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	slog.SetDefault(logger)
	st, err := store.Open(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	kr, err := signing.New(ctx, st, signing.Options{})
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	h, err := token.New(token.Options{Config: cfg, Store: st, Keys: kr})
	if err != nil {
		return nil, fmt.Errorf("token handler: %w", err)
	}
	return web.Middleware(h, logger, requestID), nil
}

// requestID is the API Gateway request id, so that a log line can be found
// from the API's access log or a client's report.
func requestID(r *http.Request) string {
	if c, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok {
		return c.RequestID
	}
	return ""
}
