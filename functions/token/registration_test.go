package token

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
)

func (c *counting) GetRegistrationPolicy(ctx context.Context) (shared.RegistrationPolicy, time.Time, bool, error) {
	if err := c.hit("GetRegistrationPolicy"); err != nil {
		return shared.RegistrationPolicy{}, time.Time{}, false, err
	}
	return c.Store.GetRegistrationPolicy(ctx)
}

// advertised reads what both metadata documents say of self-registration.
func (e *env) advertised() (endpoint string, cimd bool) {
	e.t.Helper()
	var got []string
	var flags []bool
	for _, p := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		w := e.do(req{method: http.MethodGet, path: p})
		if w.Code != http.StatusOK || w.Header().Get("Cache-Control") != "public, max-age=60" {
			e.t.Fatalf("%s: %d, Cache-Control %q", p, w.Code, w.Header().Get("Cache-Control"))
		}
		var m map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
			e.t.Fatal(err)
		}
		if _, ok := m["client_id_metadata_document_supported"]; ok && m["client_id_metadata_document_supported"] != true {
			e.t.Fatalf("%s: client_id_metadata_document_supported %v, want true or absent", p, m["client_id_metadata_document_supported"])
		}
		if m["device_authorization_endpoint"] != issuer+"/oauth2/device_authorization" {
			e.t.Errorf("%s: device_authorization_endpoint %v", p, m["device_authorization_endpoint"])
		}
		ep, _ := m["registration_endpoint"].(string)
		got = append(got, ep)
		flags = append(flags, m["client_id_metadata_document_supported"] == true)
	}
	if got[0] != got[1] || flags[0] != flags[1] {
		e.t.Fatalf("the two documents differ: %v %v", got, flags)
	}
	return got[0], flags[0]
}

// TestMetadataFollowsPolicy: the metadata documents advertise
// registration_endpoint only while dynamic registration is on, and
// client_id_metadata_document_supported only while metadata documents
// are; a change of policy shows once the instance's copy (policyTTL)
// expires, which with the documents' max-age is within 5 minutes; the
// policy is read once per policyTTL, and a failed read keeps what the
// documents said.
func TestMetadataFollowsPolicy(t *testing.T) {
	if policyTTL+metadataMaxAge > 5*time.Minute {
		t.Fatalf("policyTTL %v + metadataMaxAge %v exceed 5 minutes", policyTTL, metadataMaxAge)
	}
	e := newEnv(t, nil)
	if ep, cimd := e.advertised(); ep != "" || cimd {
		t.Fatalf("default policy: registration_endpoint %q, client_id_metadata_document_supported %v", ep, cimd)
	}
	ctx := context.Background()
	p := shared.DefaultRegistrationPolicy(e.cfg.Catalog)
	p.DynamicRegistration.Mode = shared.ModeApproval
	if err := e.st.PutRegistrationPolicy(ctx, p, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(policyTTL - time.Second)
	if ep, _ := e.advertised(); ep != "" {
		t.Fatalf("before the cached policy expires: %q", ep)
	}
	if n := e.calls.calls["GetRegistrationPolicy"]; n != 1 {
		t.Fatalf("policy read %d times within policyTTL, want 1", n)
	}
	e.clock.Add(time.Second)
	if ep, cimd := e.advertised(); ep != issuer+"/oauth2/register" || cimd {
		t.Fatalf("dynamic registration on: registration_endpoint %q, client_id_metadata_document_supported %v", ep, cimd)
	}

	p.DynamicRegistration.Mode = shared.ModeOff
	p.MetadataDocuments.Mode = shared.ModeTrustedHosts
	if err := e.st.PutRegistrationPolicy(ctx, p, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.calls.fail["GetRegistrationPolicy"] = errors.New("table unavailable")
	e.clock.Add(policyTTL)
	if ep, cimd := e.advertised(); ep != issuer+"/oauth2/register" || cimd {
		t.Fatalf("after a failed read: registration_endpoint %q, cimd %v; want the last policy's", ep, cimd)
	}
	delete(e.calls.fail, "GetRegistrationPolicy")
	e.clock.Add(policyRetry)
	if ep, cimd := e.advertised(); ep != "" || !cimd {
		t.Fatalf("metadata documents on, registration off: registration_endpoint %q, cimd %v", ep, cimd)
	}
}
