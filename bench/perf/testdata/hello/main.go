// Command hello is the baseline of the cold-start measurement: the smallest
// aws-lambda-go function that answers an API Gateway HTTP API (payload 2.0)
// event, built exactly like the provider's bootstrap binaries. It lives
// under testdata so that ./... ignores it; the benchmark builds it by path.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func handle(_ context.Context, _ events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return events.APIGatewayV2HTTPResponse{
		StatusCode: 200,
		Headers:    map[string]string{"Content-Type": "text/plain"},
		Body:       "hello",
	}, nil
}

func main() { lambda.Start(handle) }
