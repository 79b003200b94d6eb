// Package permissionservice is the example permission service of
// docs/permission-service.md: what a team writes to answer the provider's
// permission requests (PERMISSION_SOURCE=service). The document shows this
// file whole; its test runs it against the provider's own client.
package permissionservice

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Request is the provider's question: who (Sub, or Upstream), for which
// application (ClientID), about which scopes. Username and Email are for
// display only: identify the user by Sub or Upstream.
type Request struct {
	Sub      string    `json:"sub"`
	Upstream *Upstream `json:"upstream"`
	ClientID string    `json:"client_id"`
	Scopes   []string  `json:"scopes"`
	Username string    `json:"username"`
	Email    string    `json:"email"`
}

// Upstream is the user's account at the organisation's identity provider.
type Upstream struct {
	Issuer  string `json:"issuer"`
	Subject string `json:"subject"`
}

// Handler serves PERMISSIONS_URL (endpoint) for the provider at issuer: it
// answers only requests whose JWT the provider signed for this endpoint,
// with the permissions permissionsOf finds.
func Handler(issuer, endpoint string, permissionsOf func(context.Context, Request) ([]string, error)) http.Handler {
	keys := oidc.NewRemoteKeySet(context.Background(), issuer+"/.well-known/permissions-jwks.json")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		claims, err := verify(r.Context(), keys, raw, issuer, endpoint)
		if err != nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var req Request
		err = json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req)
		if err != nil || req.Sub != claims.Subject {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		perms, err := permissionsOf(r.Context(), req)
		if err != nil { // the provider then grants nothing: it never falls back
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=30") // kept at most 30 s (and PERMISSIONS_CACHE)
		_ = json.NewEncoder(w).Encode(map[string][]string{"permissions": perms})
	})
}

// verify checks the request's JWT: RS256, typ permissions-request+jwt,
// signed by a key of permissions-jwks.json, iss the provider, aud this
// endpoint, and not expired.
func verify(ctx context.Context, keys *oidc.RemoteKeySet, raw, issuer, endpoint string) (jwt.Claims, error) {
	var c jwt.Claims
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return c, err
	}
	if typ := jws.Signatures[0].Header.ExtraHeaders[jose.HeaderType]; typ != "permissions-request+jwt" {
		return c, errors.New("not a permission request")
	}
	payload, err := keys.VerifySignature(ctx, raw)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.Expiry == nil {
		return c, errors.New("bad claims")
	}
	want := jwt.Expected{Issuer: issuer, AnyAudience: jwt.Audience{endpoint}, Time: time.Now()}
	return c, c.ValidateWithLeeway(want, 30*time.Second)
}
