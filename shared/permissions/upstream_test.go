package permissions

import (
	"encoding/json"
	"testing"

	"github.com/applinks/applinks/shared/store"
)

// TestForUserUpstream: the request names the user's linked upstream
// identity (issuer and subject), and null for a user with none.
func TestForUserUpstream(t *testing.T) {
	u := store.User{ID: "u.1", Username: "ada", Upstream: &store.UpstreamIdentity{ProviderID: "p1", Issuer: "https://idp.example", Subject: "00u1"}}
	b, _ := json.Marshal(ForUser(u, "c1", nil))
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	up, _ := m["upstream"].(map[string]any)
	if up["issuer"] != "https://idp.example" || up["subject"] != "00u1" || len(up) != 2 {
		t.Errorf("upstream: got %v", m["upstream"])
	}
	u.Upstream = nil
	b, _ = json.Marshal(ForUser(u, "c1", nil))
	_ = json.Unmarshal(b, &m)
	if v, ok := m["upstream"]; !ok || v != nil {
		t.Errorf("no upstream: got %v (present %v), want null", v, ok)
	}
}
