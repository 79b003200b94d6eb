package token

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// Grant types (RFC 6749 §4.1.3, §6).
const (
	grantAuthorizationCode = "authorization_code"
	grantRefreshToken      = "refresh_token"
)

// tokenResponse is the successful response of RFC 6749 §5.1.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// token serves POST /oauth2/token (RFC 6749 §3.2).
func (h *Handler) token(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	form, err := parseForm(r)
	if err != nil {
		fail(ctx, w, "token request", err)
		return
	}
	creds, err := readCredentials(r, form)
	if err != nil {
		fail(ctx, w, "token request", err)
		return
	}
	var resp tokenResponse
	switch gt := form["grant_type"]; gt {
	case grantAuthorizationCode:
		resp, err = h.exchangeCode(ctx, creds, form)
	case grantRefreshToken:
		resp, err = h.refresh(ctx, creds, form)
	case "":
		err = shared.InvalidRequest("grant_type is required")
	default:
		err = shared.UnsupportedGrantType("grant_type must be authorization_code or refresh_token")
	}
	if err != nil {
		fail(ctx, w, "token request", err)
		return
	}
	writeNoStore(w, resp)
}

// clientForGrant authenticates the client and checks it may use grants: a
// resource_server link only receives tokens (RFC 6749 §5.2
// unauthorized_client).
func clientForGrant(ctx context.Context, c credentials, link *store.Link, now time.Time) (*store.Link, error) {
	link, err := authenticate(ctx, c, link, now)
	if err != nil {
		return nil, err
	}
	if link.ClientType == store.ResourceServer {
		return nil, shared.UnauthorizedClient("a resource server link cannot obtain tokens")
	}
	return link, nil
}

// exchangeCode is the authorization_code grant (RFC 6749 §4.1.3, RFC 7636
// §4.5-4.6). It costs three DynamoDB calls: Fetch (link and code),
// GetUserForClient (the user and their revocation marker for the client),
// RedeemCode.
func (h *Handler) exchangeCode(ctx context.Context, creds credentials, form map[string]string) (tokenResponse, error) {
	code := form["code"]
	if code == "" {
		return tokenResponse{}, shared.InvalidRequest("code is required")
	}
	now := h.now()
	codeHash := shared.HashToken(code)
	b, err := h.store.Fetch(ctx, store.Keys{ClientID: creds.clientID, CodeHash: codeHash})
	if err != nil {
		return tokenResponse{}, fmt.Errorf("fetch code %s: %w", shared.HashPrefix(code), err)
	}
	link, err := clientForGrant(ctx, creds, b.Link, now)
	if err != nil {
		return tokenResponse{}, err
	}
	c := b.Code
	log := web.Logger(ctx).With("client_id", link.ClientID, "code", shared.HashPrefix(code))
	switch {
	case c == nil:
		log.Info("code refused", "reason", "unknown code")
		return tokenResponse{}, shared.InvalidGrant("the authorization code is invalid")
	case c.Used:
		// RFC 6749 §4.1.2: a code used twice MUST be refused, and the
		// tokens issued from it SHOULD be revoked. This holds whichever
		// client presents it: a used code in anyone's hands is a leak.
		return tokenResponse{}, h.codeReplay(ctx, code, c)
	case c.ClientID != link.ClientID:
		log.Info("code refused", "reason", "code issued to another client")
		return tokenResponse{}, shared.InvalidGrant("the authorization code is invalid")
	case !now.Before(c.ExpiresAt):
		return tokenResponse{}, shared.InvalidGrant("the authorization code has expired")
	}
	if err := checkRedirectURI(c, link, form); err != nil {
		return tokenResponse{}, err
	}
	if err := h.checkPKCE(c, link, form); err != nil {
		return tokenResponse{}, err
	}

	// The user may have been deleted, disabled, re-created or given a new
	// password since consent, or have revoked the client: then the code no
	// longer speaks for them. The scope is the code's, capped again by the
	// link's and the user's current scopes; the grant keeps what the user
	// approved.
	user, err := h.codeHolder(ctx, log, c)
	if err != nil {
		return tokenResponse{}, err
	}
	scope, err := h.cfg.Catalog.CapRefresh("", c.Scope, link.Scopes, user.Permissions)
	if err != nil {
		return tokenResponse{}, fmt.Errorf("cap code scope: %w", err)
	}

	grantID, err := h.newID()
	if err != nil {
		return tokenResponse{}, err
	}
	rtoken, rt, err := h.newRefresh(store.RefreshToken{
		GrantID: grantID, ClientID: link.ClientID, Username: c.Username, Scope: c.Scope,
	}, now)
	if err != nil {
		return tokenResponse{}, err
	}
	// Sign before writing, so that nothing is stored for a response that
	// could not be made.
	access, err := h.signAccess(ctx, link.ClientID, c.Username, grantID, scope, now)
	if err != nil {
		return tokenResponse{}, err
	}
	g := store.Grant{
		ID: grantID, ClientID: link.ClientID, Username: c.Username, Scope: c.Scope,
		CreatedAt: now, UpdatedAt: now,
	}
	err = h.store.RedeemCode(ctx, codeHash, g, &rt, now)
	if errors.Is(err, shared.ErrConflict) {
		// Redeemed concurrently (or expired meanwhile): read it again to
		// tell a replay from an expiry.
		b, ferr := h.store.Fetch(ctx, store.Keys{CodeHash: codeHash})
		if ferr != nil {
			return tokenResponse{}, fmt.Errorf("re-read code %s: %w", shared.HashPrefix(code), ferr)
		}
		if b.Code != nil && b.Code.Used {
			return tokenResponse{}, h.codeReplay(ctx, code, b.Code)
		}
		return tokenResponse{}, shared.InvalidGrant("the authorization code has expired")
	}
	if err != nil {
		return tokenResponse{}, fmt.Errorf("redeem code %s: %w", shared.HashPrefix(code), err)
	}
	web.Audit(ctx, "grant_created", "grant_id", grantID, "client_id", link.ClientID,
		"username", c.Username, "scope", shared.FormatScope(c.Scope))
	return h.response(access, rtoken, scope), nil
}

// codeReplay revokes the grant issued from a code presented again (RFC 6749
// §4.1.2, §10.5) and returns the invalid_grant to send. A failure to revoke
// is returned instead, so that it is logged and the client may retry.
func (h *Handler) codeReplay(ctx context.Context, code string, c *store.Code) error {
	web.Audit(ctx, "code_replay", "client_id", c.ClientID, "grant_id", c.GrantID,
		"username", c.Username, "code", shared.HashPrefix(code))
	if c.GrantID != "" {
		if err := h.revokeGrant(ctx, c.GrantID, "code_replay"); err != nil {
			return err
		}
	}
	return shared.InvalidGrant("the authorization code has already been used")
}

// revokeGrant revokes a grant (an absent one is not an error) and audits it.
func (h *Handler) revokeGrant(ctx context.Context, grantID, reason string) error {
	err := h.store.RevokeGrant(ctx, grantID, h.now())
	if errors.Is(err, shared.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("revoke grant %q (%s): %w", grantID, reason, err)
	}
	web.Audit(ctx, "grant_revoked", "grant_id", grantID, "reason", reason)
	return nil
}

// checkRedirectURI applies RFC 6749 §4.1.3: when the authorization request
// carried redirect_uri, the token request must carry the identical value;
// when it did not, the token request may omit it or send a registered URI.
func checkRedirectURI(c *store.Code, link *store.Link, form map[string]string) error {
	got, present := form["redirect_uri"]
	switch {
	case c.RedirectURI != "" && (!present || got != c.RedirectURI):
		return shared.InvalidGrant("redirect_uri does not match the authorization request")
	case c.RedirectURI == "" && present && !slices.Contains(link.RedirectURIs, got):
		return shared.InvalidGrant("redirect_uri is not registered for this client")
	}
	return nil
}

// checkPKCE applies RFC 7636 §4.6 (S256 only): a code bound to a challenge
// needs the matching code_verifier; a code_verifier for a code without a
// challenge is refused (it would signal a downgrade); public clients, and
// every client under REQUIRE_PKCE, must have used PKCE.
func (h *Handler) checkPKCE(c *store.Code, link *store.Link, form map[string]string) error {
	verifier, present := form["code_verifier"]
	switch {
	case c.Challenge != "" && !present:
		return shared.InvalidGrant("code_verifier is required")
	case c.Challenge != "" && !shared.ValidVerifier(verifier):
		return shared.InvalidGrant("code_verifier is malformed")
	case c.Challenge != "" && !shared.VerifyS256(verifier, c.Challenge):
		return shared.InvalidGrant("code_verifier does not match the code challenge")
	case c.Challenge == "" && present:
		return shared.InvalidGrant("code_verifier sent, but the authorization request had no code_challenge")
	case c.Challenge == "" && (link.ClientType == store.Public || h.cfg.RequirePKCE):
		return shared.InvalidGrant("PKCE is required for this client")
	}
	return nil
}

// codeHolder reads the user of code c together with their revocation
// marker for c's client (one BatchGetItem) and checks that the code still
// speaks for them (RFC 6749 §5.2 invalid_grant otherwise, with a log line
// giving the reason): the user exists and is enabled, their credentials
// have not changed since the code was issued (a new password, a disabling,
// or a deletion and re-creation under the same name all move
// CredentialsChangedAt), and they have not revoked the client on the
// account page since (store.RevokePendingCodes).
//
// Precision: the store keeps every time at the nanosecond (fmtTime writes
// fixed-width UTC with nine fractional digits; parseTime reads RFC 3339
// with nanoseconds), so the two times compare exactly, nothing rounded. A
// code is accepted only when created strictly after the change or the
// revocation: at equal stored instants the order cannot be known, the
// code could have been created first, so it is refused (the cost, a code
// issued in that very nanosecond after the change, is one more consent).
// The times come from the clocks of different instances; their skew
// (sub-millisecond under the Amazon Time Sync Service) is not covered by a
// margin, which would refuse legitimate codes of a user who signs in right
// after being created or given a new password.
func (h *Handler) codeHolder(ctx context.Context, log *slog.Logger, c *store.Code) (store.User, error) {
	u, revokedAt, err := h.store.GetUserForClient(ctx, c.Username, c.ClientID)
	log = log.With("username", c.Username)
	switch {
	case errors.Is(err, shared.ErrNotFound):
		log.Info("code refused", "reason", "user no longer exists")
		return store.User{}, shared.InvalidGrant("the user of this grant no longer exists")
	case err != nil:
		return store.User{}, fmt.Errorf("get user %q for client %q: %w", c.Username, c.ClientID, err)
	case u.Disabled:
		log.Info("code refused", "reason", "user disabled")
		return store.User{}, shared.InvalidGrant("the user of this grant is disabled")
	case !u.IssuedSince(c.CreatedAt):
		log.Info("code refused", "reason", "user credentials changed (new password, disabled, or re-created) since the code was issued",
			"code_created_at", c.CreatedAt, "credentials_changed_at", u.CredentialsChangedAt)
		return store.User{}, shared.InvalidGrant("the authorization code is no longer valid")
	case !revokedAt.IsZero() && !c.CreatedAt.After(revokedAt):
		log.Info("code refused", "reason", "user revoked the client since the code was issued",
			"code_created_at", c.CreatedAt, "revoked_at", revokedAt)
		return store.User{}, shared.InvalidGrant("the authorization code is no longer valid")
	}
	return u, nil
}

// newRefresh returns a fresh refresh token (256-bit random) and its record
// built from tmpl: active, hashed, expiring after REFRESH_TOKEN_TTL.
func (h *Handler) newRefresh(tmpl store.RefreshToken, now time.Time) (string, store.RefreshToken, error) {
	tok, err := shared.NewToken(h.random)
	if err != nil {
		return "", store.RefreshToken{}, fmt.Errorf("new refresh token: %w", err)
	}
	rt := tmpl
	rt.Hash = shared.HashToken(tok)
	rt.Status = store.RefreshActive
	rt.CreatedAt = now
	rt.ExpiresAt = now.Add(h.cfg.RefreshTokenTTL)
	rt.RotatedAt = time.Time{}
	rt.Successor = ""
	return tok, rt, nil
}

// signAccess issues an access token (RFC 9068 §2.2).
func (h *Handler) signAccess(ctx context.Context, clientID, username, grantID string, scope []string, now time.Time) (string, error) {
	jti, err := h.newID()
	if err != nil {
		return "", err
	}
	return h.keys.Sign(ctx, signing.AccessClaims{
		Issuer: h.cfg.Issuer, Subject: username, Audience: h.cfg.Audience, ClientID: clientID,
		Scope: shared.FormatScope(scope), JTI: jti, GrantID: grantID,
		IssuedAt: now, ExpiresAt: now.Add(h.cfg.AccessTokenTTL),
	})
}

func (h *Handler) response(access, refresh string, scope []string) tokenResponse {
	return tokenResponse{
		AccessToken: access, TokenType: "Bearer",
		ExpiresIn: int64(h.cfg.AccessTokenTTL / time.Second),
		Scope:     shared.FormatScope(scope), RefreshToken: refresh,
	}
}
