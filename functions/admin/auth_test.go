package admin

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
)

func TestBearerToken(t *testing.T) {
	tests := []struct {
		name       string
		configured string
		header     []string // Authorization values
		status     int
		challenge  string // WWW-Authenticate, "" for none
	}{
		{"missing", testToken, nil, 401, `Bearer realm="admin"`},
		{"wrong", testToken, []string{"Bearer wrong"}, 401, `Bearer realm="admin", error="invalid_token"`},
		{"prefix of the token", testToken, []string{"Bearer " + testToken[:10]}, 401, `Bearer realm="admin", error="invalid_token"`},
		{"token with suffix", testToken, []string{"Bearer " + testToken + "x"}, 401, `Bearer realm="admin", error="invalid_token"`},
		{"empty token", testToken, []string{"Bearer "}, 401, `Bearer realm="admin", error="invalid_token"`},
		{"other scheme", testToken, []string{"Basic " + testToken}, 401, `Bearer realm="admin"`},
		{"no scheme", testToken, []string{testToken}, 401, `Bearer realm="admin"`},
		{"repeated header", testToken, []string{"Bearer " + testToken, "Bearer " + testToken}, 401, `Bearer realm="admin", error="invalid_token"`},
		{"nothing configured", "", []string{"Bearer "}, 401, `Bearer realm="admin", error="invalid_token"`},
		{"right", testToken, []string{"Bearer " + testToken}, 200, ""},
		{"right, scheme in lower case", testToken, []string{"bearer " + testToken}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, errStore{}, BearerToken(tt.configured))
			r := req(http.MethodPost, "/admin/signing-keys/rotate", "", "Authorization", "")
			for _, v := range tt.header {
				r.Header.Add("Authorization", v)
			}
			w := e.serve(r)
			if w.Code != tt.status {
				t.Fatalf("got status %d, want %d; body %s", w.Code, tt.status, w.Body.String())
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("got WWW-Authenticate %q, want %q", got, tt.challenge)
			}
			if tt.status == 401 {
				if !strings.Contains(w.Body.String(), `"error":"unauthorized"`) {
					t.Errorf("got body %s, want error unauthorized", w.Body.String())
				}
				if len(e.keys.keeps) != 0 {
					t.Errorf("got %d rotations, want none before authentication", len(e.keys.keeps))
				}
			}
			if strings.Contains(e.logText(), testToken) {
				t.Errorf("the admin token was logged")
			}
		})
	}
}

// Authentication comes before routing: an unauthenticated request learns
// nothing about which paths or methods exist.
func TestAuthenticationBeforeRouting(t *testing.T) {
	e := newEnv(t, errStore{}, nil)
	for _, r := range []*http.Request{
		req(http.MethodGet, "/admin/nothing", "", "Authorization", ""),
		req(http.MethodPut, "/admin/links", "", "Authorization", ""),
		req(http.MethodPost, "/admin/links", `{"name":`, "Authorization", "Bearer no"),
	} {
		if w := e.serve(r); w.Code != 401 {
			t.Errorf("%s %s: got status %d, want 401", r.Method, r.URL.Path, w.Code)
		}
	}
}

// gatewayRequest builds the request aws-lambda-go-api-proxy hands the
// handler for an API Gateway v2 event with authorizer az (nil for none).
func gatewayRequest(t *testing.T, az *events.APIGatewayV2HTTPRequestContextAuthorizerDescription) *http.Request {
	t.Helper()
	ev := events.APIGatewayV2HTTPRequest{
		RawPath: "/admin/signing-keys/rotate",
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			DomainName: "api.example.com",
			RequestID:  "req-1",
			HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodPost, Path: "/admin/signing-keys/rotate"},
			Authorizer: az,
		},
	}
	r, err := (&core.RequestAccessorV2{}).EventToRequestWithContext(context.Background(), ev)
	if err != nil {
		t.Fatalf("EventToRequestWithContext: %v", err)
	}
	return r
}

func TestIAMPrincipal(t *testing.T) {
	const arn = "arn:aws:iam::123456789012:user/ops"
	iam := func(d events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription) *events.APIGatewayV2HTTPRequestContextAuthorizerDescription {
		return &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{IAM: &d}
	}
	tests := []struct {
		name      string
		r         func(t *testing.T) *http.Request
		status    int
		principal string
	}{
		{"no gateway context", func(t *testing.T) *http.Request {
			return req(http.MethodPost, "/admin/signing-keys/rotate", "")
		}, 403, ""},
		{"no authorizer", func(t *testing.T) *http.Request { return gatewayRequest(t, nil) }, 403, ""},
		{"JWT authorizer only", func(t *testing.T) *http.Request {
			return gatewayRequest(t, &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"sub": "x"}},
			})
		}, 403, ""},
		{"IAM without identity", func(t *testing.T) *http.Request {
			return gatewayRequest(t, iam(events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{AccountID: "123456789012"}))
		}, 403, ""},
		{"IAM user ARN", func(t *testing.T) *http.Request {
			return gatewayRequest(t, iam(events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{
				UserARN: arn, CallerID: "AIDAEXAMPLE", AccessKey: "AKIAEXAMPLE"}))
		}, 200, arn},
		{"IAM caller id only", func(t *testing.T) *http.Request {
			return gatewayRequest(t, iam(events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{CallerID: "AROAEXAMPLE:session"}))
		}, 200, "AROAEXAMPLE:session"},
		{"IAM access key only", func(t *testing.T) *http.Request {
			return gatewayRequest(t, iam(events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{AccessKey: "ASIAEXAMPLE"}))
		}, 200, "ASIAEXAMPLE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, errStore{}, IAMPrincipal())
			w := e.serve(tt.r(t))
			if w.Code != tt.status {
				t.Fatalf("got status %d, want %d; body %s", w.Code, tt.status, w.Body.String())
			}
			if tt.status == 403 {
				if !strings.Contains(w.Body.String(), `"error":"forbidden"`) {
					t.Errorf("got body %s, want error forbidden", w.Body.String())
				}
				if len(e.keys.keeps) != 0 {
					t.Errorf("got %d rotations, want none when forbidden", len(e.keys.keeps))
				}
				return
			}
			a := e.audits("signing_key_rotated")
			if len(a) != 1 || a[0]["principal"] != tt.principal {
				t.Errorf("got audit events %v, want one by %q", a, tt.principal)
			}
		})
	}
}
