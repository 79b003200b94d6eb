package token

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// discovery is the OpenID Provider metadata of OpenID Connect Discovery
// 1.0 §3: the RFC 8414 document (same issuer, endpoints and keys) and the
// OpenID Connect fields.
type discovery struct {
	metadata
	UserinfoEndpoint string `json:"userinfo_endpoint"`
	// EndSessionEndpoint is OpenID Connect RP-Initiated Logout 1.0 §2.1.
	EndSessionEndpoint               string   `json:"end_session_endpoint"`
	SubjectTypesSupported            []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
	ClaimsSupported                  []string `json:"claims_supported"`
}

func newDiscovery(m metadata) discovery {
	m.ScopesSupported = append(append([]string(nil), m.ScopesSupported...), shared.ProtocolScopes...)
	return discovery{
		metadata:                         m,
		UserinfoEndpoint:                 m.Issuer + "/oauth2/userinfo",
		EndSessionEndpoint:               m.Issuer + "/oauth2/logout",
		SubjectTypesSupported:            []string{"public"},
		IDTokenSigningAlgValuesSupported: signing.Algorithms(),
		ClaimsSupported: []string{"iss", "sub", "aud", "azp", "exp", "iat", "auth_time", "nonce", "at_hash",
			"name", "preferred_username", "email", "email_verified"},
	}
}

// serveDiscovery serves GET /.well-known/openid-configuration.
func (h *Handler) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", metadataCache)
	_, _ = w.Write(h.metadataDocs(r.Context()).discovery)
}

// userinfo serves GET and POST /oauth2/userinfo (OIDC Core 1.0 §5.3): the
// bearer access token (RFC 6750 §2.1 header, or §2.2 form body on POST)
// must be active, be for AUDIENCE (not for a resource of RFC 8707) and
// carry openid; the claims are sub and, by the token's
// scope, name and preferred_username (profile), email and email_verified
// (email). Errors are RFC 6750 §3 challenges.
func (h *Handler) userinfo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tok, malformed := bearer(r)
	switch {
	case malformed != "":
		challenge(w, http.StatusBadRequest, "invalid_request", malformed)
		return
	case tok == "":
		challenge(w, http.StatusUnauthorized, "", "")
		return
	}
	c, valid, err := h.verifyAccess(ctx, tok)
	if err != nil {
		serverTrouble(ctx, w, err)
		return
	}
	if !valid || !h.now().Before(c.ExpiresAt) {
		challenge(w, http.StatusUnauthorized, "invalid_token", "the access token is invalid or has expired")
		return
	}
	if c.Audience != h.cfg.Audience {
		// A token for a resource (RFC 8707) is that resource's alone.
		challenge(w, http.StatusUnauthorized, "invalid_token", "the access token is for another resource")
		return
	}
	scopes := strings.Fields(c.Scope)
	if !slices.Contains(scopes, "openid") {
		challenge(w, http.StatusForbidden, "insufficient_scope", "the access token was not issued with the openid scope")
		return
	}
	b, err := h.store.Fetch(ctx, store.Keys{UserID: c.Subject, GrantClientID: c.ClientID, JTI: c.JTI, TokenClientID: c.ClientID})
	if err != nil {
		serverTrouble(ctx, w, err)
		return
	}
	u := b.User
	if !b.Grant.Active(c.GrantID) || b.AccessRevoked || u == nil || u.Disabled || !linkLive(b.TokenLink) {
		challenge(w, http.StatusUnauthorized, "invalid_token", "the access token is no longer active")
		return
	}
	claims := map[string]any{"sub": u.ID}
	if slices.Contains(scopes, "profile") {
		claims["preferred_username"] = u.Username
		if u.Name != "" {
			claims["name"] = u.Name
		}
	}
	if slices.Contains(scopes, "email") && u.Email != "" {
		claims["email"], claims["email_verified"] = u.Email, u.EmailVerified
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(claims)
}

// serverTrouble answers UserInfo's failure to reach a dependency (the
// store, the signing keys): one log line, and the status of
// shared.AsError (503 for an unavailable one) with its code as the body.
func serverTrouble(ctx context.Context, w http.ResponseWriter, err error) {
	web.Logger(ctx).Error("userinfo", "err", err.Error())
	e := shared.AsError(err)
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, e.Code, e.Status)
}

// bearer reads the access token of r: the Authorization header's Bearer
// credentials, or on POST the access_token form field (RFC 6750 §2.2). It
// returns "" when there is none, and a reason when the request is
// malformed (RFC 6750 §3.1 invalid_request): a form body that does not
// parse (a repeated field, a body over the limit), or the token sent both
// ways (§2: a client MUST NOT use more than one method).
func bearer(r *http.Request) (tok, malformed string) {
	h := r.Header.Get("Authorization")
	if scheme, cred, found := strings.Cut(h, " "); found && strings.EqualFold(scheme, "Bearer") {
		tok = strings.TrimSpace(cred)
	}
	if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		form, err := web.ParseForm(r, false)
		if err != nil {
			return "", "the request body is malformed"
		}
		if v := form.Get("access_token"); v != "" {
			if tok != "" {
				return "", "the access token is sent both in the Authorization header and in the body"
			}
			tok = v
		}
	}
	return tok, ""
}

// challenge answers an RFC 6750 §3 error: WWW-Authenticate Bearer with
// error and error_description when given (none when the request had no
// token, §3.1).
func challenge(w http.ResponseWriter, status int, code, desc string) {
	v := `Bearer realm="userinfo"`
	if code != "" {
		v += `, error="` + code + `", error_description="` + desc + `"`
	}
	w.Header().Set("WWW-Authenticate", v)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
}
