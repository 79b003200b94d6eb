package lambdatest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared/store/storetest"
)

// TestTokenKeysUnreadable: the token function whose signing keys cannot be
// read (Secrets Manager refuses, as it would without the IAM grant) still
// starts: its key read does not hold up INIT; the failure is logged once,
// at error level; a request that needs no key (metadata) is answered, and
// one that needs the keys (the JWK Set) answers 503 with one error line of
// its own.
func TestTokenKeysUnreadable(t *testing.T) {
	denied := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"AccessDeniedException","message":"not authorized to perform secretsmanager:GetSecretValue"}`))
	}))
	defer denied.Close()
	rie, err := RIEPath()
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range storetest.DynamoLocalEnv(t).Environ() {
		if strings.HasPrefix(kv, "AWS_ENDPOINT_URL_SECRETS_MANAGER=") {
			kv = "AWS_ENDPOINT_URL_SECRETS_MANAGER=" + denied.URL
		}
		env = append(env, kv)
	}
	e := Start(t, rie, bootstraps(t)["token"], append(env, "ISSUER_URL="+issuer))
	d := deployment{"token": e}
	if md := d.invoke(t, "token", Event("GET", "/.well-known/oauth-authorization-server", nil, "")); md.StatusCode != http.StatusOK {
		t.Fatalf("metadata: got %d, want 200; body %s\n%s", md.StatusCode, body(t, md), e.Output())
	}
	jwks := d.invoke(t, "token", Event("GET", "/.well-known/jwks.json", nil, ""))
	if jwks.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("jwks: got %d, want 503; body %s", jwks.StatusCode, body(t, jwks))
	}
	if rs := e.WaitReports(2, 5*time.Second); len(rs) != 2 || rs[0].InitDuration <= 0 {
		t.Fatalf("got %d reports, want a cold start and a warm invocation:\n%s", len(rs), e.Output())
	}
	var initErr, reqErr int
	for _, l := range functionLines(e.Output()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Errorf("log line is not JSON: %q", l)
			continue
		}
		if m["level"] != "ERROR" {
			continue
		}
		switch {
		case strings.Contains(m["msg"].(string), "signing keys could not be read"):
			initErr++
			if !strings.Contains(l, "AccessDeniedException") && !strings.Contains(l, "not authorized") {
				t.Errorf("the start-up error does not say why: %s", l)
			}
		case m["request_id"] != nil:
			reqErr++
		}
	}
	if initErr != 1 || reqErr != 1 {
		t.Errorf("error lines: got %d about the key read and %d of requests, want 1 and 1 (the JWK Set's):\n%s", initErr, reqErr, e.Output())
	}
}
