package embedded

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
	"github.com/sivchari/kumo"
)

// TestInProcessTransport: kumo's handler is reached without a socket (the
// server's listener is closed first), unsigned requests are served, and an
// error answer keeps its status and code.
func TestInProcessTransport(t *testing.T) {
	srv := kumo.NewServer()
	rt := Transport(srv)
	if rt == nil {
		t.Fatal("Transport(kumo.NewServer()) = nil: kumo.Server no longer keeps its handler where kumoHandler reads it; " +
			"the embedded store fell back to loopback HTTP")
	}
	srv.Close() // the listener is gone: only the in-process path can answer
	ctx := context.Background()
	cfg := awsConfig(rt)
	db := dynamodb.NewFromConfig(cfg, endpoint(srv.URL))
	if _, err := db.ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("ListTables through the in-process transport: %v", err)
	}
	_, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("no-such-table-inprocess"),
		Key: layoutKey})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "ResourceNotFoundException" {
		t.Errorf("GetItem on a missing table = %v, want ResourceNotFoundException", err)
	}
	sm := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	if _, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("no-such-secret-inprocess")}); err == nil ||
		!errors.As(err, &api) || api.ErrorCode() != "ResourceNotFoundException" {
		t.Errorf("GetSecretValue of a missing secret = %v, want ResourceNotFoundException", err)
	}
}

// TestInProcessUnsigned: the embedded store's requests carry no SigV4
// signature (kumo reads none), while they reach kumo.
func TestInProcessUnsigned(t *testing.T) {
	srv := kumo.NewServer()
	defer srv.Close()
	var auth []string
	rt := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		auth = append(auth, req.Header.Get("Authorization"))
		return Transport(srv).RoundTrip(req)
	})
	db := dynamodb.NewFromConfig(awsConfig(rt), endpoint(srv.URL))
	if _, err := db.ListTables(context.Background(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatal(err)
	}
	if len(auth) != 1 || strings.TrimSpace(auth[0]) != "" {
		t.Errorf("Authorization headers sent: %q, want one empty", auth)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// TestInProcessPanic: a panic in the handler is an error of the call, not
// of the process.
func TestInProcessPanic(t *testing.T) {
	rt := inProcess{h: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })}
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:1/", strings.NewReader("{}"))
	if resp, err := rt.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("RoundTrip = %v, %v; want the panic as an error", resp, err)
	}
}
