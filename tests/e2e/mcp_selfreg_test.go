package e2e

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/tests/testkit/testca"
)

// The two ways a client gets a client id without an administrator: its
// metadata document's URL, and dynamic registration; init adds them to
// mcpRegistrations (tests/e2e/mcp_test.go).
func init() { mcpRegistrations = append(mcpRegistrations, mcpSelfRegistrations...) }

// registrationPolicy is the body of PUT /admin/client-registration with
// metadata documents and dynamic registration in the given modes, both
// capped at REPO_READ.
func registrationPolicy(metadataMode string, trustedHosts []string, dynamicMode string) map[string]any {
	if trustedHosts == nil {
		trustedHosts = []string{}
	}
	return map[string]any{
		"metadata_documents":   map[string]any{"mode": metadataMode, "trusted_hosts": trustedHosts, "scopes": []string{"REPO_READ"}},
		"dynamic_registration": map[string]any{"mode": dynamicMode, "scopes": []string{"REPO_READ"}, "idle_days": 30},
	}
}

// checkSelfRegistered asserts that the admin API lists the link the SDK
// used under its origin, active.
func checkSelfRegistered(origin string) func(t *testing.T, p *provider, clientID string) {
	return func(t *testing.T, p *provider, clientID string) {
		t.Helper()
		var page struct {
			Links []struct {
				ClientID string `json:"client_id"`
				Origin   string `json:"origin"`
				Status   string `json:"status"`
			} `json:"links"`
		}
		p.admin("GET", "/admin/links?origin="+origin, nil, 200, &page)
		if len(page.Links) != 1 || page.Links[0].ClientID != clientID || page.Links[0].Origin != origin || page.Links[0].Status != "active" {
			t.Errorf("GET /admin/links?origin=%s: %+v, want the one link %s, active", origin, page.Links, clientID)
		}
	}
}

var mcpSelfRegistrations = []mcpRegistration{
	{
		// The SDK's clientMetadataUrl: its client id is the URL of its
		// metadata document, which the provider fetches. The SDK takes
		// only https URLs, so the document is served on loopback https
		// with a test CA the provider trusts through SSL_CERT_FILE, and
		// CLIENT_METADATA_ALLOW_LOOPBACK lets the provider fetch from
		// 127.0.0.1 (node itself never fetches the document).
		name: "metadata_document",
		start: func(t *testing.T) (*provider, map[string]string, string) {
			ca := testca.NewT(t)
			var docURL string
			doc := ca.StartTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/mcp-client.json" {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Cache-Control", "max-age=300")
				_ = json.NewEncoder(w).Encode(map[string]any{
					"client_id": docURL, "client_name": "MCP SDK test client", "redirect_uris": []string{callbackURL},
					"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
					"token_endpoint_auth_method": "none",
				})
			}))
			docURL = doc.URL + "/mcp-client.json"
			// In-process, the provider trusts the test authority through
			// its configuration (SSL_CERT_FILE is read once per process;
			// TestMetadataDocumentSSLCertFile proves that path in a
			// process of its own).
			p := startProviderWith(t, map[string]string{"CLIENT_METADATA_ALLOW_LOOPBACK": "true"},
				func(c *config.Config) { c.ClientMetadataRoots = ca.Pool() })
			p.admin("PUT", "/admin/client-registration", registrationPolicy("trusted_hosts", []string{"127.0.0.1"}, "off"), 200, nil)
			return p, map[string]string{"MCP_CLIENT_METADATA_URL": docURL}, docURL
		},
		check: checkSelfRegistered("metadata_document"),
	},
	{
		// No client id at all: the SDK registers itself at the provider's
		// registration_endpoint (RFC 7591) as a public client.
		name: "dynamic",
		start: func(t *testing.T) (*provider, map[string]string, string) {
			p := startProvider(t, nil)
			p.admin("PUT", "/admin/client-registration", registrationPolicy("off", nil, "open"), 200, nil)
			return p, map[string]string{}, ""
		},
		check: checkSelfRegistered("dynamic"),
	},
}
