package admin

import (
	"context"
	"time"

	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store"
)

// validateIDTokenAlg checks the id_token_signed_response_alg of a link of
// clientType (OpenID Connect Dynamic Client Registration 1.0 §2) and
// returns it as stored: RS256 (the default, nil or "") or ES256; none for a
// resource server, which gets no ID tokens.
func validateIDTokenAlg(clientType string, in *string) (string, error) {
	switch {
	case clientType == store.ResourceServer && (in == nil || *in == ""):
		return "", nil
	case clientType == store.ResourceServer:
		return "", errValidation("id_token_signed_response_alg", "a resource_server link gets no ID tokens")
	case in == nil || *in == "":
		return store.DefaultIDTokenAlg, nil
	case signing.Supported(*in):
		return *in, nil
	}
	return "", errValidation("id_token_signed_response_alg", `must be "RS256" or "ES256"`)
}

// ensureIDTokenKey makes sure the key set can sign the ID tokens of a link
// that asks for alg: a key set written before ES256 gets its first ES256
// key, staged as a rotation's (published at once, signing after the
// activation delay; the link's ID tokens wait for it). Nothing is read for
// RS256, which every key set has.
func (h *Handler) ensureIDTokenKey(ctx context.Context, c call, alg string) error {
	if alg == "" || alg == store.DefaultIDTokenAlg {
		return nil
	}
	rot, staged, err := h.keys.EnsureKey(ctx, alg)
	if err != nil {
		return wrapf(err, "ensure a %s signing key", alg)
	}
	if staged {
		c.audit(ctx, "signing_key_added", "alg", rot.Alg, "kid", rot.KeyID, "active_from", rot.ActiveFrom.UTC().Format(time.RFC3339))
	}
	return nil
}
