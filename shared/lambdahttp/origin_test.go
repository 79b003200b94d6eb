package lambdahttp

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
)

// event is an API Gateway v2 request for path with headers, signed with
// SigV4 by principal when it is not "".
func event(method, path string, headers map[string]string, principal string) events.APIGatewayV2HTTPRequest {
	if headers == nil {
		headers = map[string]string{}
	}
	e := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RawPath: path, Headers: headers,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: "req-1",
			HTTP:      events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path},
		},
	}
	if principal != "" {
		e.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{UserARN: principal},
		}
	}
	return e
}

// TestRequireOrigin: behind the check, a request reaches the handler only
// with the exact origin-verify value, or when API Gateway authorized it
// with IAM; any other gets a plain 403 and the handler never runs.
func TestRequireOrigin(t *testing.T) {
	const value = "s3cret-origin-value"
	calls := 0
	h := RequireOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.WriteHeader(http.StatusTeapot)
	}), value)
	proxy := httpadapter.NewV2(h).ProxyWithContext
	cases := []struct {
		name    string
		e       events.APIGatewayV2HTTPRequest
		through bool
	}{
		{"no header", event("POST", "/oauth2/login", nil, ""), false},
		{"wrong value", event("POST", "/oauth2/login", map[string]string{"x-origin-verify": "guess"}, ""), false},
		{"value with a suffix", event("GET", "/console", map[string]string{"x-origin-verify": value + "x"}, ""), false},
		{"value's prefix", event("GET", "/console", map[string]string{"x-origin-verify": value[:5]}, ""), false},
		{"empty value", event("GET", "/console", map[string]string{"x-origin-verify": ""}, ""), false},
		{"admin path without IAM", event("POST", "/admin/users", nil, ""), false},
		{"right value", event("POST", "/oauth2/login", map[string]string{"x-origin-verify": value}, ""), true},
		{"right value, header name in capitals", event("GET", "/.well-known/jwks.json", map[string]string{"X-Origin-Verify": value}, ""), true},
		{"IAM-authorized admin call", event("POST", "/admin/users", nil, "arn:aws:iam::111111111111:user/ops"), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := calls
			resp, err := proxy(context.Background(), c.e)
			if err != nil {
				t.Fatal(err)
			}
			if c.through {
				if resp.StatusCode != http.StatusTeapot || calls != before+1 {
					t.Errorf("got %d (handler calls %d), want the handler's answer", resp.StatusCode, calls-before)
				}
				return
			}
			if resp.StatusCode != http.StatusForbidden || calls != before {
				t.Errorf("got %d (handler calls %d), want 403 without the handler", resp.StatusCode, calls-before)
			}
			if strings.TrimSpace(resp.Body) != "Forbidden" || strings.Contains(resp.Body, value) {
				t.Errorf("got body %q, want a plain Forbidden", resp.Body)
			}
		})
	}
}

// TestSetupFromConfiguration: setup reads the origin-verify value from the
// secret ORIGIN_VERIFY_SECRET names and puts the check in front of the
// handler; it hands build a store that protects the secrets it creates as
// LINK_SECRET_PRINCIPALS and SIGNING_KEY_PRINCIPALS say; and a missing
// origin secret stops the start.
func TestSetupFromConfiguration(t *testing.T) {
	clearAWSEnv(t)
	b := storetest.KumoBackend(t)
	t.Setenv("AWS_ENDPOINT_URL", b.DynamoDBEndpoint)
	originName := b.Options.SecretPrefix + "/origin-verify"
	if _, err := b.SecretsManager.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: aws.String(originName), SecretString: aws.String("front-door-value"),
	}); err != nil {
		t.Fatal(err)
	}
	const role = "arn:aws:iam::111111111111:role/token"
	env := map[string]string{
		"ISSUER_URL":             "https://auth.example.com",
		"TABLE_NAME":             b.Options.TableName,
		"SECRET_PREFIX":          b.Options.SecretPrefix,
		"ORIGIN_VERIFY_SECRET":   originName,
		"SIGNING_KEY_PRINCIPALS": role,
		// PERMISSION_SOURCE=service: the permission-request keys too.
		"PERMISSION_KEY_PRINCIPALS": role + ",arn:aws:iam::111111111111:role/authorize",
	}
	getenv := func(k string) string { return env[k] }
	h, err := setup(context.Background(), getenv, &bytes.Buffer{},
		func(ctx context.Context, _ config.Config, st *store.Store) (http.Handler, error) {
			if err := st.CreateSigningKeys(ctx, []byte(`{"keys":[]}`)); err != nil {
				return nil, err
			}
			if err := st.PermissionRequestKeys().CreateSigningKeys(ctx, []byte(`{"keys":[]}`)); err != nil {
				return nil, err
			}
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }), nil
		})
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	proxy := httpadapter.NewV2(h).ProxyWithContext
	resp, err := proxy(context.Background(), event("GET", "/oauth2/authorize", nil, ""))
	if err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("without the header: got %d, %v; want 403", resp.StatusCode, err)
	}
	resp, err = proxy(context.Background(), event("GET", "/oauth2/authorize", map[string]string{"x-origin-verify": "front-door-value"}, ""))
	if err != nil || resp.StatusCode != http.StatusTeapot {
		t.Errorf("with the header: got %d, %v; want the handler's 418", resp.StatusCode, err)
	}
	out, err := b.SecretsManager.GetResourcePolicy(context.Background(), &secretsmanager.GetResourcePolicyInput{
		SecretId: aws.String(b.Options.SecretPrefix + "/signing-keys"),
	})
	if err != nil {
		t.Fatalf("GetResourcePolicy: %v", err)
	}
	var got bytes.Buffer
	_ = json.Compact(&got, []byte(aws.ToString(out.ResourcePolicy)))
	if want, _ := store.SecretPolicy([]string{role}); got.String() != want {
		t.Errorf("signing-key secret policy: got %s, want %s", got.String(), want)
	}
	out, err = b.SecretsManager.GetResourcePolicy(context.Background(), &secretsmanager.GetResourcePolicyInput{
		SecretId: aws.String(b.Options.SecretPrefix + "/permission-request-keys"),
	})
	if err != nil {
		t.Fatalf("GetResourcePolicy: %v", err)
	}
	got.Reset()
	_ = json.Compact(&got, []byte(aws.ToString(out.ResourcePolicy)))
	if want, _ := store.SecretPolicy([]string{role, "arn:aws:iam::111111111111:role/authorize"}); got.String() != want {
		t.Errorf("permission-request key secret policy: got %s, want %s", got.String(), want)
	}

	env["ORIGIN_VERIFY_SECRET"] = originName + "-missing"
	if _, err := setup(context.Background(), getenv, &bytes.Buffer{}, func(context.Context, config.Config, *store.Store) (http.Handler, error) {
		t.Error("build called without the origin secret")
		return http.NotFoundHandler(), nil
	}); err == nil || !strings.HasPrefix(err.Error(), "ORIGIN_VERIFY_SECRET: ") {
		t.Errorf("missing origin secret: got %v, want an ORIGIN_VERIFY_SECRET error", err)
	}
}
