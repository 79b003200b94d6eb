// Command keyfloor is the third baseline of the cold-start measurement:
// sdkfloor plus reading the signing key set from Secrets Manager
// (signing.New: one GetSecretValue, the first HTTP request of the process,
// and parsing the key), which the token function must do before it can sign
// or verify. Its init time over sdkfloor's is the price of that read; the
// token function's over keyfloor's is the token handler's own.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store"
)

func main() {
	ctx := context.Background()
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "keyfloor:", err)
		os.Exit(1)
	}
	st, err := store.Open(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "keyfloor:", err)
		os.Exit(1)
	}
	keys, err := signing.New(ctx, st, signing.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "keyfloor:", err)
		os.Exit(1)
	}
	lambda.Start(func(ctx context.Context, _ events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		jwks, err := keys.JWKS(ctx)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: string(jwks)}, nil
	})
}
