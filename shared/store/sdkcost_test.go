package store

import (
	"bytes"
	"context"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	smithyendpoints "github.com/aws/smithy-go/endpoints"

	"github.com/applinks/applinks/shared/config"
)

// cannedDynamoDB answers the calls of a refresh as DynamoDB would, with
// items of about the real size and the CRC32 header DynamoDB sends, without
// a network: the SDK's own cost per call, what a Lambda pays on top of the
// round trips.
type cannedDynamoDB struct{}

// An item of about the size of a link or a refresh token (0.5-1 KB).
const cannedItem = `{"pk":{"S":"REFRESH#Jd0xQm2bq3Xv8d4Hc9l0pQm2bq3Xv8d4Hc9l0pQm2bq3X"},"sk":{"S":"REFRESH"},` +
	`"grant_id":{"S":"g-5f0c1d2e3a4b5c6d7e8f"},"client_id":{"S":"c-0123456789abcdef0123"},` +
	`"user_id":{"S":"u-0123456789abcdef0123"},"scope":{"L":[{"S":"openid"},{"S":"profile"},{"S":"email"},{"S":"offline_access"}]},` +
	`"status":{"S":"active"},"auth_time":{"S":"2026-12-07T14:00:00Z"},"protocol":{"L":[{"S":"oauth2"}]},` +
	`"created_at":{"S":"2026-12-07T14:00:00Z"},"expires_at":{"S":"2027-01-06T14:00:00Z"},"ttl":{"N":"1799244000"},` +
	`"redirect_uris":{"L":[{"S":"https://app.example.com/callback"},{"S":"https://app.example.com/silent"}]},` +
	`"secret_hash":{"S":"sha256$Jd0xQm2bq3Xv8d4Hc9l0pQm2bq3Xv8d4Hc9l0pQm2bq3X"},"name":{"S":"Example app"},` +
	`"disabled":{"BOOL":false},"revoked":{"BOOL":false}}`

func (cannedDynamoDB) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	body := `{}`
	if strings.HasSuffix(req.Header.Get("X-Amz-Target"), ".BatchGetItem") {
		body = `{"Responses":{"t":[` + cannedItem + `,` + cannedItem + `]},"UnprocessedKeys":{}}`
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(body))), 10))
	h.Set("X-Amzn-Requestid", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGHIJKLMNOP")
	return &http.Response{StatusCode: 200, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader([]byte(body))), ContentLength: int64(len(body)), Request: req}, nil
}

// benchRefreshCalls runs the DynamoDB calls of a refresh (two Fetch, the
// rotation's PutItem and UpdateItem) through s, b.N times.
func benchRefreshCalls(b *testing.B, s *Store) {
	ctx := context.Background()
	now := time.Now()
	old := RefreshToken{Hash: "Jd0xQm2bq3Xv8d4Hc9l0pQm2bq3Xv8d4Hc9l0pQm2bq3X", GrantID: "g-5f0c1d2e3a4b5c6d7e8f",
		ClientID: "c-0123456789abcdef0123", UserID: "u-0123456789abcdef0123",
		Scope: []string{"openid", "profile", "email", "offline_access"}, Protocol: []string{"oauth2"},
		AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour)}
	next := old
	next.Hash = "Xv8d4Hc9l0pQm2bq3Xv8d4Hc9l0pQm2bq3Jd0xQm2bq3X"
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Fetch(ctx, Keys{ClientID: old.ClientID, RefreshHash: old.Hash}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Fetch(ctx, Keys{UserID: old.UserID, GrantClientID: old.ClientID}); err != nil {
			b.Fatal(err)
		}
		if err := s.RotateRefresh(ctx, old, next, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSDKRefreshCalls is the floor of a refresh's four DynamoDB calls
// in this process: the store's request building and item decoding and the
// SDK's middleware, signing and JSON, against canned answers (no network).
// "lambda" is the client store.Open builds from a Lambda's environment (no
// endpoint: the SDK resolves the regional one); "unsigned" the same with
// anonymous credentials, for SigV4's share only (never for AWS).
func BenchmarkSDKRefreshCalls(b *testing.B) {
	env := map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "ASIAEXAMPLEEXAMPLE",
		"AWS_SECRET_ACCESS_KEY": "secretsecretsecretsecretsecretsecretsecr", "AWS_SESSION_TOKEN": strings.Repeat("t", 800)}
	open := func(b *testing.B, tweak func(*aws.Config)) *Store {
		cfg, err := envConfig(func(k string) string { return env[k] }, "")
		if err != nil {
			b.Fatal(err)
		}
		cfg.HTTPClient = &http.Client{Transport: cannedDynamoDB{}}
		if tweak != nil {
			tweak(&cfg)
		}
		st := OpenConfig(cfg, config.Config{TableName: "t"})
		return st
	}
	b.Run("lambda", func(b *testing.B) { benchRefreshCalls(b, open(b, nil)) })
	b.Run("unsigned", func(b *testing.B) {
		benchRefreshCalls(b, open(b, func(c *aws.Config) { c.Credentials = aws.AnonymousCredentials{} }))
	})
	// Each lever of the SDK's per-call work on its own (BENCHMARKS.md,
	// "CPU per operation"): none of them is used, each was within noise.
	tweak := func(name string, f func(*dynamodb.Options)) {
		b.Run(name, func(b *testing.B) {
			st := open(b, nil)
			st.db = dynamodb.New(st.db.(*dynamodb.Client).Options(), f)
			benchRefreshCalls(b, st)
		})
	}
	tweak("no-checksum", func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = true })
	tweak("no-rate-limit", func(o *dynamodb.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.RateLimiter = ratelimit.None })
	})
	tweak("static-endpoint", func(o *dynamodb.Options) { o.EndpointResolverV2 = staticEndpoint{} })
}

// staticEndpoint resolves every call to the regional endpoint without the
// SDK's rules.
type staticEndpoint struct{}

func (staticEndpoint) ResolveEndpoint(context.Context, dynamodb.EndpointParameters) (smithyendpoints.Endpoint, error) {
	u, _ := url.Parse("https://dynamodb.eu-west-1.amazonaws.com")
	return smithyendpoints.Endpoint{URI: *u}, nil
}
