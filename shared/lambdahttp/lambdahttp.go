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
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/applinks/applinks/shared"
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
	serving := make(chan struct{})
	h, err := setup(context.WithValue(context.Background(), servingKey{}, serving), os.Getenv, os.Stdout, build)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
	proxy := httpadapter.NewV2(h).ProxyWithContext
	close(serving)
	lambda.Start(proxy)
}

// Job is work a function does when a schedule invokes it directly (an
// EventBridge rule whose target is the function), with no HTTP request.
type Job func(ctx context.Context) error

// BuildJob builds a function's scheduled job once per cold start, from the
// same configuration and store as its handler.
type BuildJob func(ctx context.Context, cfg config.Config, st *store.Store) (Job, error)

// ServeWithSchedule is Serve for a function that a schedule also invokes:
// an event from EventBridge's scheduler (source "aws.events", detail-type
// "Scheduled Event") runs job; every other event is an HTTP API request.
// No HTTP route can run the job: API Gateway only sends request events,
// and only a principal allowed to invoke the function (the rule) sends
// anything else.
func ServeWithSchedule(name string, build Build, job BuildJob) {
	var j Job
	both := func(ctx context.Context, cfg config.Config, st *store.Store) (http.Handler, error) {
		h, err := build(ctx, cfg, st)
		if err != nil {
			return nil, err
		}
		if j, err = job(ctx, cfg, st); err != nil {
			return nil, err
		}
		return h, nil
	}
	serving := make(chan struct{})
	h, err := setup(context.WithValue(context.Background(), servingKey{}, serving), os.Getenv, os.Stdout, both)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
	close(serving)
	lambda.Start(Dispatch(httpadapter.NewV2(h).ProxyWithContext, j))
}

// Dispatch is ServeWithSchedule's Lambda handler: a scheduled event runs
// job (its error is the invocation's, so that the schedule's retry policy
// applies); any other event is decoded as an HTTP API (payload 2.0)
// request and served by proxy.
func Dispatch(proxy func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error), job Job) func(context.Context, json.RawMessage) (any, error) {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		if Scheduled(raw) {
			if err := job(ctx); err != nil {
				return nil, err
			}
			return map[string]string{"status": "done"}, nil
		}
		var req events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil, fmt.Errorf("event is neither a scheduled event nor an HTTP API request: %w", err)
		}
		return proxy(ctx, req)
	}
}

// Scheduled reports whether raw is an EventBridge scheduled event (and not
// an HTTP API request that happens to carry such fields).
func Scheduled(raw []byte) bool {
	var probe struct {
		Source     string `json:"source"`
		DetailType string `json:"detail-type"`
		RouteKey   string `json:"routeKey"`
		Context    any    `json:"requestContext"`
	}
	if json.Unmarshal(raw, &probe) != nil {
		return false
	}
	return probe.Source == "aws.events" && probe.DetailType == "Scheduled Event" && probe.RouteKey == "" && probe.Context == nil
}

type servingKey struct{}

// Serving returns, from the context Serve hands to Build, a channel that
// Serve closes once the handler is built, right before it asks the
// Lambda runtime for the first event: still during INIT, which ends with
// that request. Work a function starts in the background (the token
// function's signing-key read) can wait for it, so that it does not take
// the CPU from the rest of INIT. Outside Serve (tests, the local runner)
// it is nil: such work need not wait.
func Serving(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(servingKey{}).(chan struct{})
	if ch == nil {
		return nil
	}
	return ch
}

// setup is Serve's set-up: the configuration through getenv, a JSON logger
// on logs that also becomes slog's default (for what logs outside a
// request, such as the keyring's audit line when it creates the signing
// key), the store (store.Open, which reads the AWS settings from the
// process environment, protecting the secrets it creates as the
// configuration says), build, RequireOrigin when ORIGIN_VERIFY_SECRET is
// set, and web.Middleware with the API Gateway
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
	st, err = st.WithSecretProtection(store.SecretProtection{
		LinkPrincipals:          cfg.LinkSecretPrincipals,
		SigningKeyPrincipals:    cfg.SigningKeyPrincipals,
		PermissionKeyPrincipals: cfg.PermissionKeyPrincipals,
		KMSKey:                  cfg.SecretKMSKey,

		IdentityProviderPrincipals: cfg.IdentityProviderSecretPrincipals,
	})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	// The origin-verify value is read once, here, rather than passed in
	// the environment, where the Lambda console would show it.
	origin := ""
	if cfg.OriginVerifySecret != "" {
		if origin, err = st.GetConfigSecret(ctx, cfg.OriginVerifySecret); err != nil {
			return nil, fmt.Errorf("ORIGIN_VERIFY_SECRET: %w", err)
		}
	}
	h, err := build(ctx, cfg, st)
	if err != nil {
		return nil, err
	}
	if origin != "" {
		h = RequireOrigin(h, origin)
	}
	return web.HSTS(web.Middleware(h, logger, requestID), cfg.Issuer), nil
}

// OriginHeader is the header CloudFront adds, with a secret value, to
// every request it forwards to the API (the front door of infra/README.md).
// CloudFront overwrites a header of that name a viewer sends.
const OriginHeader = "X-Origin-Verify"

// RequireOrigin serves h only for requests that came through the front
// door (OriginHeader equal to value, compared in constant time) or that
// API Gateway authorized with IAM (SigV4: the admin API, /admin/*, which
// stays on the regional host and which CloudFront does not forward). Any
// other request, one sent to the regional host directly around CloudFront
// and its web ACL, gets a plain 403.
func RequireOrigin(h http.Handler, value string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if shared.Equal(r.Header.Get(OriginHeader), value) || iamAuthorized(r) {
			h.ServeHTTP(w, r)
			return
		}
		http.Error(w, http.StatusText(http.StatusForbidden), http.StatusForbidden)
	})
}

// iamAuthorized reports whether API Gateway authorized r with IAM: its
// request context names the IAM principal that signed it.
func iamAuthorized(r *http.Request) bool {
	rc, ok := core.GetAPIGatewayV2ContextFromContext(r.Context())
	if !ok || rc.Authorizer == nil || rc.Authorizer.IAM == nil {
		return false
	}
	iam := rc.Authorizer.IAM
	for _, p := range []string{iam.UserARN, iam.CallerID, iam.AccessKey} {
		if strings.TrimSpace(p) != "" {
			return true
		}
	}
	return false
}

// requestID is the API Gateway request id of r ("" outside API Gateway,
// where web.Middleware makes up one).
func requestID(r *http.Request) string {
	if c, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok {
		return c.RequestID
	}
	return ""
}
