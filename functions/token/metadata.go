package token

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/web"
)

// publicCache is the Cache-Control of the JWK Sets. Its max-age is signing.JWKSMaxAge, which a
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
	// RegistrationEndpoint (RFC 8414 §2, RFC 7591) is present only while
	// the registration policy's dynamic_registration.mode is not off.
	RegistrationEndpoint string `json:"registration_endpoint,omitempty"`
	// ClientIDMetadataDocumentSupported
	// (draft-ietf-oauth-client-id-metadata-document) is present, true,
	// only while metadata_documents.mode is not off.
	ClientIDMetadataDocumentSupported bool `json:"client_id_metadata_document_supported,omitempty"`
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

// RegistrationPolicyReader reads the administrator's policy for
// self-registered links (found false: none saved, the default applies);
// *store.Store implements it.
type RegistrationPolicyReader interface {
	GetRegistrationPolicy(ctx context.Context) (shared.RegistrationPolicy, time.Time, bool, error)
}

// Caching of what the metadata documents say of the registration policy.
// A change of policy shows in the documents within policyTTL plus
// metadataMaxAge (a client's cache), under 5 minutes.
const (
	// policyTTL is how long an instance uses the policy it read.
	policyTTL = 4 * time.Minute
	// policyRetry is how long it keeps the last policy it read after a
	// failed read, before trying again.
	policyRetry = 10 * time.Second
	// metadataMaxAge is the Cache-Control max-age of the metadata
	// documents (the JWK Set keeps publicCache).
	metadataMaxAge = time.Minute
)

var metadataCache = "public, max-age=" + strconv.FormatInt(int64(metadataMaxAge/time.Second), 10)

// metadataDocs are the two metadata documents for one registration
// policy, encoded.
type metadataDocs struct {
	metadata, discovery []byte
}

// policyCache holds the metadata documents of the last policy read, and
// until when they are used. Safe for concurrent use.
type policyCache struct {
	mu     sync.Mutex
	docs   *metadataDocs
	expiry time.Time
}

// newMetadataDocs encodes both documents for policy p.
func newMetadataDocs(cfg config.Config, p shared.RegistrationPolicy) (*metadataDocs, error) {
	m := newMetadata(cfg)
	if p.DynamicRegistration.Mode != shared.ModeOff {
		m.RegistrationEndpoint = cfg.Issuer + "/oauth2/register"
	}
	m.ClientIDMetadataDocumentSupported = p.MetadataDocuments.Mode != shared.ModeOff
	md, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	disc, err := json.Marshal(newDiscovery(m))
	if err != nil {
		return nil, err
	}
	return &metadataDocs{metadata: md, discovery: disc}, nil
}

// metadataDocs returns the documents for the policy in force, read at most
// once per policyTTL. When the read fails, the documents of the last
// policy read stay (tried again after policyRetry); before any read
// succeeded, the default policy's (both modes off: nothing is advertised
// that may not be enabled).
func (h *Handler) metadataDocs(ctx context.Context) *metadataDocs {
	now := h.now()
	c := &h.policy
	c.mu.Lock()
	docs, fresh := c.docs, c.docs != nil && now.Before(c.expiry)
	c.mu.Unlock()
	if fresh {
		return docs
	}
	p, _, found, err := h.store.GetRegistrationPolicy(ctx)
	if !found && err == nil {
		p = shared.DefaultRegistrationPolicy(h.cfg.Catalog)
	}
	var next *metadataDocs
	if err == nil {
		next, err = newMetadataDocs(h.cfg, p)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		web.Logger(ctx).Warn("registration policy not read: the metadata keeps what it said", "err", err.Error())
		if c.docs == nil {
			return h.defaultDocs
		}
		c.expiry = now.Add(policyRetry)
		return c.docs
	}
	c.docs, c.expiry = next, now.Add(policyTTL)
	return next
}

// serveMetadata serves GET /.well-known/oauth-authorization-server (RFC 8414
// §3).
func (h *Handler) serveMetadata(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", metadataCache)
	_, _ = w.Write(h.metadataDocs(r.Context()).metadata)
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
