// Command authorize is the Lambda entry point of the authorize function: it
// reads the configuration, opens the store once per cold start, and serves
// authorize.Handler through the API Gateway HTTP API (payload format 2.0)
// adapter. It holds no logic of its own.
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

	"github.com/applinks/applinks/functions/authorize"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

func main() {
	h, err := setup(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "authorize:", err)
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
	h, err := authorize.New(authorize.Options{Config: cfg, Store: st})
	if err != nil {
		return nil, fmt.Errorf("authorize handler: %w", err)
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
