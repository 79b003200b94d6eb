// Command sdkfloor is the second baseline of the cold-start measurement:
// hello plus what every provider function does before serving, reading the
// configuration and building the DynamoDB and Secrets Manager clients
// (store.Open), with no call to either. Its init time over hello's is the
// share of the SDK; a function's over sdkfloor's is its own.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store"
)

func main() {
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sdkfloor:", err)
		os.Exit(1)
	}
	st, err := store.Open(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sdkfloor:", err)
		os.Exit(1)
	}
	lambda.Start(func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: st.TableName()}, nil
	})
}
