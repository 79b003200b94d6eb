package token

import (
	"net/http"
	"strconv"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/signing"
)

// publicCache is the Cache-Control of the public, rarely changing documents:
// metadata and the JWK Set. Its max-age is signing.JWKSMaxAge, which a
// staged rotation waits for before the new key signs (see
// signing.Keyring.Rotate), so a cached JWK Set always holds the signing key.
var publicCache = "public, max-age=" + strconv.FormatInt(int64(signing.JWKSMaxAge/time.Second), 10)

// metadata is the authorization server metadata of RFC 8414 §2, with the
// parameter of RFC 9207 §3.
type metadata struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint"`
	DeviceAuthorizationEndpoint                string   `json:"device_authorization_endpoint"`
	JWKSURI                                    string   `json:"jwks_uri"`
	ScopesSupported                            []string `json:"scopes_supported"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	ResponseModesSupported                     []string `json:"response_modes_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported"`
	AuthorizationResponseIssParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
}

func newMetadata(cfg config.Config) metadata {
	iss := cfg.Issuer
	return metadata{
		Issuer:                                 iss,
		AuthorizationEndpoint:                  iss + "/oauth2/authorize",
		TokenEndpoint:                          iss + "/oauth2/token",
		RevocationEndpoint:                     iss + "/oauth2/revoke",
		IntrospectionEndpoint:                  iss + "/oauth2/introspect",
		DeviceAuthorizationEndpoint:            iss + "/oauth2/device_authorization", // RFC 8628 §4
		JWKSURI:                                iss + "/.well-known/jwks.json",
		ScopesSupported:                        cfg.Catalog.Names(),
		ResponseTypesSupported:                 []string{"code"},
		ResponseModesSupported:                 []string{"query"},
		GrantTypesSupported:                    []string{grantAuthorizationCode, grantRefreshToken, shared.GrantTypeDeviceCode},
		TokenEndpointAuthMethodsSupported:      []string{methodBasic, methodPost, methodNone},
		RevocationEndpointAuthMethodsSupported: []string{methodBasic, methodPost, methodNone},
		// Introspection needs a secret (RFC 7662 §2.1).
		IntrospectionEndpointAuthMethodsSupported:  []string{methodBasic, methodPost},
		CodeChallengeMethodsSupported:              []string{"S256"},
		AuthorizationResponseIssParameterSupported: true,
	}
}

// serveMetadata serves GET /.well-known/oauth-authorization-server (RFC 8414
// §3).
func (h *Handler) serveMetadata(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", publicCache)
	_, _ = w.Write(h.metadata)
}

// serveJWKS serves GET /.well-known/jwks.json (RFC 7517 §5), the public keys
// that verify access tokens.
func (h *Handler) serveJWKS(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	doc, err := h.keys.JWKS(ctx)
	if err != nil {
		fail(ctx, w, "jwks", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", publicCache)
	_, _ = w.Write(doc)
}
