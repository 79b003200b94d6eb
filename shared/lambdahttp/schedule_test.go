package lambdahttp

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// scheduledEvent is what an EventBridge rule's schedule sends its target.
const scheduledEvent = `{"version":"0","id":"89d1a02d-5ec7-412e-82f5-13505f849b41","detail-type":"Scheduled Event",
"source":"aws.events","account":"123456789012","time":"2026-12-07T03:00:00Z","region":"us-east-1",
"resources":["arn:aws:events:us-east-1:123456789012:rule/idle-links"],"detail":{}}`

// TestDispatch: a scheduled event runs the job (its error is the
// invocation's) and never reaches the HTTP handler; an HTTP API request,
// even one whose body or headers imitate a scheduled event, is served and
// never runs the job.
func TestDispatch(t *testing.T) {
	jobs, requests := 0, 0
	jobErr := error(nil)
	proxy := func(_ context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		requests++
		return events.APIGatewayV2HTTPResponse{StatusCode: 204}, nil
	}
	h := Dispatch(proxy, func(context.Context) error { jobs++; return jobErr })

	if _, err := h(context.Background(), json.RawMessage(scheduledEvent)); err != nil || jobs != 1 || requests != 0 {
		t.Fatalf("scheduled event: err %v, jobs %d, requests %d", err, jobs, requests)
	}
	jobErr = errors.New("store down")
	if _, err := h(context.Background(), json.RawMessage(scheduledEvent)); !errors.Is(err, jobErr) {
		t.Fatalf("failing job: err %v, want the job's", err)
	}
	req := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: "$default", RawPath: "/oauth2/register",
		Body: scheduledEvent, Headers: map[string]string{"source": "aws.events", "detail-type": "Scheduled Event"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/oauth2/register"}}}
	raw, _ := json.Marshal(req)
	out, err := h(context.Background(), raw)
	if err != nil || requests != 1 || jobs != 2 {
		t.Fatalf("HTTP request: err %v, jobs %d, requests %d", err, jobs, requests)
	}
	if resp, ok := out.(events.APIGatewayV2HTTPResponse); !ok || resp.StatusCode != 204 {
		t.Fatalf("HTTP request answered %#v", out)
	}
	if _, err := h(context.Background(), json.RawMessage(`[1,2]`)); err == nil {
		t.Fatal("an event that is neither was accepted")
	}
}
