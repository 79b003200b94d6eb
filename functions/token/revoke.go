package token

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// revoke serves POST /oauth2/revoke (RFC 7009 §2). A refresh token of the
// calling client revokes its whole grant (§2.1: the server SHOULD also
// invalidate the access tokens of the same authorization); an access token
// of the calling client is revoked by its jti. A token that is unknown,
// expired or issued to another client is answered 200 with no change
// (§2.2). token_type_hint is only a hint (§2.1): both kinds are looked up
// whatever its value, so an unknown hint is ignored rather than refused.
func (h *Handler) revoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	form, err := parseForm(r)
	if err != nil {
		fail(ctx, w, "revocation request", err)
		return
	}
	creds, err := readCredentials(r, form)
	if err != nil {
		fail(ctx, w, "revocation request", err)
		return
	}
	tok := form["token"]
	if tok == "" {
		fail(ctx, w, "revocation request", shared.InvalidRequest("token is required"))
		return
	}
	now := h.now()
	b, err := h.store.Fetch(ctx, store.Keys{ClientID: creds.clientID, RefreshHash: shared.HashToken(tok)})
	if err != nil {
		fail(ctx, w, "revocation request", fmt.Errorf("fetch token %s: %w", shared.HashPrefix(tok), err))
		return
	}
	link, err := authenticate(ctx, creds, b.Link, now)
	if err != nil {
		fail(ctx, w, "revocation request", err)
		return
	}
	switch rt := b.Refresh; {
	case rt != nil && rt.ClientID == link.ClientID:
		err = h.revokeGrant(ctx, rt.UserID, rt.ClientID, rt.GrantID, "refresh_token_revoked")
	case rt == nil && looksLikeJWT(tok):
		err = h.revokeAccess(ctx, link, tok)
	}
	if err != nil {
		fail(ctx, w, "revocation request", err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// revokeAccess records the jti of a valid, unexpired access token of link
// as revoked until the token's expiry.
func (h *Handler) revokeAccess(ctx context.Context, link *store.Link, tok string) error {
	c, ok, err := h.verifyAccess(ctx, tok)
	if err != nil {
		return err
	}
	if !ok || c.ClientID != link.ClientID || !h.now().Before(c.ExpiresAt) {
		return nil
	}
	if err := h.store.RevokeAccessToken(ctx, c.JTI, c.ExpiresAt); err != nil {
		return fmt.Errorf("revoke access token %q: %w", c.JTI, err)
	}
	web.Audit(ctx, "access_token_revoked", "client_id", link.ClientID, "grant_id", c.GrantID, "jti", c.JTI)
	return nil
}

// looksLikeJWT reports whether tok has the shape of a JWS compact
// serialization (three dot-separated parts); refresh tokens never do.
func looksLikeJWT(tok string) bool { return strings.Count(tok, ".") == 2 }

// verifyAccess verifies an access token's signature and issuer (expiry and
// revocation are the caller's): ok is false for a token that is not one of
// ours, and err is set only when the keys cannot be had (it wraps
// shared.ErrUnavailable: temporarily_unavailable, rather than a valid
// token taken for an invalid one).
func (h *Handler) verifyAccess(ctx context.Context, tok string) (c signing.AccessClaims, ok bool, err error) {
	c, err = h.keys.Verify(ctx, tok)
	switch {
	case errors.Is(err, signing.ErrInvalidToken):
		return signing.AccessClaims{}, false, nil
	case err != nil:
		return signing.AccessClaims{}, false, err
	case c.Issuer != h.cfg.Issuer:
		return signing.AccessClaims{}, false, nil
	}
	return c, true, nil
}
