package token

import (
	"context"
	"fmt"
	"net/http"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store"
)

// introspection is the response of RFC 7662 §2.2. An inactive token is
// exactly {"active": false}: every other member is omitted.
type introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Username  string `json:"username,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	Exp       int64  `json:"exp,omitempty"`
	Iat       int64  `json:"iat,omitempty"`
	Sub       string `json:"sub,omitempty"`
	Aud       string `json:"aud,omitempty"`
	Iss       string `json:"iss,omitempty"`
	JTI       string `json:"jti,omitempty"`
	GrantID   string `json:"grant_id,omitempty"`
}

// introspect serves POST /oauth2/introspect (RFC 7662 §2). The caller must
// authenticate with a secret (§2.1 requires authorization, and a public
// client has none). A client sees its own tokens; a resource_server link
// sees the access tokens of its audience (introspectorSees: one of its
// resource URIs, RFC 8707, or AUDIENCE when it has none), but no refresh
// token; any other token is inactive. An access token costs one
// DynamoDB call (the caller's link, the token's link, grant, user and jti
// revocation in one Fetch), a refresh token two.
func (h *Handler) introspect(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	form, err := parseForm(r)
	if err != nil {
		fail(ctx, w, "introspection request", err)
		return
	}
	creds, err := readCredentials(r, form)
	if err != nil {
		fail(ctx, w, "introspection request", err)
		return
	}
	tok := form["token"]
	if tok == "" {
		fail(ctx, w, "introspection request", shared.InvalidRequest("token is required"))
		return
	}
	var resp introspection
	claims, isAccess := signing.AccessClaims{}, false
	if looksLikeJWT(tok) {
		if claims, isAccess, err = h.verifyAccess(ctx, tok); err != nil {
			fail(ctx, w, "introspection request", err)
			return
		}
	}
	if isAccess {
		resp, err = h.introspectAccess(ctx, creds, claims)
	} else {
		resp, err = h.introspectRefresh(ctx, creds, tok)
	}
	if err != nil {
		fail(ctx, w, "introspection request", err)
		return
	}
	writeNoStore(w, resp)
}

// introspector authenticates the caller of the introspection endpoint.
func (h *Handler) introspector(ctx context.Context, c credentials, link *store.Link) (*store.Link, error) {
	if c.method == methodNone {
		return nil, shared.InvalidClient("introspection requires client authentication with a secret")
	}
	return authenticate(ctx, c, link, h.now())
}

// linkLive reports whether the link a token was issued to still exists and
// is enabled: the tokens of a deleted or disabled link are inactive, even
// when a resource server asks (deleting a link also revokes its grants; this
// covers a grant the deletion's index query could not see yet).
func linkLive(l *store.Link) bool { return l != nil && l.Usable() }

func (h *Handler) introspectAccess(ctx context.Context, creds credentials, c signing.AccessClaims) (introspection, error) {
	b, err := h.store.Fetch(ctx, store.Keys{ClientID: creds.clientID, UserID: c.Subject, GrantClientID: c.ClientID,
		JTI: c.JTI, TokenClientID: c.ClientID})
	if err != nil {
		return introspection{}, fmt.Errorf("fetch grant of access token %q: %w", c.JTI, err)
	}
	caller, err := h.introspector(ctx, creds, b.Link)
	if err != nil {
		return introspection{}, err
	}
	g, u := b.Grant, b.User
	if !h.now().Before(c.ExpiresAt) || !g.Active(c.GrantID) || g.ClientID != c.ClientID ||
		b.AccessRevoked || u == nil || u.Disabled || !linkLive(b.TokenLink) || !h.introspectorSees(caller, c.ClientID, c.Audience) {
		return introspection{}, nil
	}
	return introspection{
		Active: true, Scope: c.Scope, ClientID: c.ClientID, Username: u.Username, TokenType: "Bearer",
		Exp: c.ExpiresAt.Unix(), Iat: c.IssuedAt.Unix(), Sub: c.Subject, Aud: c.Audience, Iss: c.Issuer,
		JTI: c.JTI, GrantID: c.GrantID,
	}, nil
}

func (h *Handler) introspectRefresh(ctx context.Context, creds credentials, tok string) (introspection, error) {
	b, err := h.store.Fetch(ctx, store.Keys{ClientID: creds.clientID, RefreshHash: shared.HashToken(tok)})
	if err != nil {
		return introspection{}, fmt.Errorf("fetch refresh token %s: %w", shared.HashPrefix(tok), err)
	}
	caller, err := h.introspector(ctx, creds, b.Link)
	if err != nil {
		return introspection{}, err
	}
	rt := b.Refresh
	// Only the client a refresh token was issued to learns about it, a
	// resource server included (RFC 7662 §2.2 lets the server answer
	// inactive to a caller it will not tell): a resource server checking
	// only "active" would otherwise accept a refresh token as an access
	// token.
	if rt == nil || rt.Status != store.RefreshActive || !h.now().Before(rt.ExpiresAt) || caller.ClientID != rt.ClientID {
		return introspection{}, nil
	}
	gb, err := h.store.Fetch(ctx, store.Keys{UserID: rt.UserID, GrantClientID: rt.ClientID, TokenClientID: rt.ClientID})
	if err != nil {
		return introspection{}, fmt.Errorf("fetch grant %q: %w", rt.GrantID, err)
	}
	if !gb.Grant.Active(rt.GrantID) || gb.User == nil || gb.User.Disabled || !linkLive(gb.TokenLink) {
		return introspection{}, nil
	}
	scope, err := h.cfg.Catalog.Validate(rt.Scope)
	if err != nil {
		// A scope since removed from the catalog: report what was stored.
		scope = rt.Scope
	}
	return introspection{
		Active: true, Scope: shared.FormatScope(scope), ClientID: rt.ClientID, Username: gb.User.Username,
		TokenType: "refresh_token", Exp: rt.ExpiresAt.Unix(), Iat: rt.CreatedAt.Unix(), Sub: rt.UserID,
		Iss: h.cfg.Issuer, GrantID: rt.GrantID,
	}, nil
}
