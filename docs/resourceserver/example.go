// Package resourceserver is the example resource server of the README's
// "Resource indicators": a service that registered its resource URI on a
// resource_server link publishes its protected resource metadata (RFC
// 9728) and accepts only the provider's access tokens for that resource.
// The README shows this file whole; its tests run it against the
// provider's tokens.
package resourceserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Claims are what an access token says (RFC 9068 §2.2).
type Claims struct {
	jwt.Claims
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	Username string `json:"username"`
}

type claimsKey struct{}

// ClaimsFrom returns the claims of the request's access token.
func ClaimsFrom(ctx context.Context) (Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(Claims)
	return c, ok
}

// MetadataPath is where RFC 9728 §3.1 puts resource's metadata: the
// well-known path, then the resource's path without a final slash.
func MetadataPath(resource string) string {
	u, err := url.Parse(resource)
	if err != nil {
		return "/.well-known/oauth-protected-resource"
	}
	return "/.well-known/oauth-protected-resource" + strings.TrimSuffix(u.EscapedPath(), "/")
}

// Handler serves resource for the provider at issuer. GET MetadataPath
// answers the metadata (RFC 9728 §2), so that a client finds the provider
// and the resource value to ask for. Any other request needs the provider's
// access token for this resource: typ at+jwt, signed by a key of
// issuer/.well-known/jwks.json, iss issuer, aud resource, unexpired. Then
// next serves it (ClaimsFrom gives the claims); otherwise the answer is
// 401 with a challenge naming the metadata (RFC 9728 §5.1).
func Handler(issuer, resource string, scopes []string, next http.Handler) http.Handler {
	keys := oidc.NewRemoteKeySet(context.Background(), issuer+"/.well-known/jwks.json")
	u, _ := url.Parse(resource)
	metadataURL := u.Scheme + "://" + u.Host + MetadataPath(resource)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == MetadataPath(resource) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"resource": resource,
				"authorization_servers": []string{issuer}, "scopes_supported": scopes,
				"bearer_methods_supported": []string{"header"}})
			return
		}
		raw, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		c, err := verify(r.Context(), keys, raw, issuer, resource)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+metadataURL+`"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, c)))
	})
}

// verify checks an access token (RFC 9068 §4): typ at+jwt, a signature of
// the provider's keys, iss the provider, aud this resource (a token the
// provider issued for another resource, or for AUDIENCE, is refused), and
// not expired.
func verify(ctx context.Context, keys *oidc.RemoteKeySet, raw, issuer, resource string) (Claims, error) {
	var c Claims
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		return c, err
	}
	if typ := jws.Signatures[0].Header.ExtraHeaders[jose.HeaderType]; typ != "at+jwt" {
		return c, errors.New("not an access token")
	}
	payload, err := keys.VerifySignature(ctx, raw)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.Expiry == nil {
		return c, errors.New("bad claims")
	}
	want := jwt.Expected{Issuer: issuer, AnyAudience: jwt.Audience{resource}, Time: time.Now()}
	return c, c.ValidateWithLeeway(want, 30*time.Second)
}
