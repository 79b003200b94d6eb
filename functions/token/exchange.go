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
	// IDToken is the OpenID Connect ID token, when openid was granted (OIDC
	// Core 1.0 §3.1.3.3).
	IDToken string `json:"id_token,omitempty"`
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
	case shared.GrantTypeDeviceCode:
		resp, err = h.deviceToken(ctx, creds, form) // RFC 8628 §3.4 (device.go)
	case "":
		err = shared.InvalidRequest("grant_type is required")
	default:
		err = shared.UnsupportedGrantType("grant_type must be authorization_code, refresh_token or " + shared.GrantTypeDeviceCode)
	}
	if err != nil {
		fail(ctx, w, "token request", err)
		return
	}
	writeNoStore(w, resp)
}

// clientForGrant authenticates the client and checks it may use the grant
// type gt: a resource_server link only receives tokens, and any other link
// uses only the grant types it allows (RFC 6749 §5.2 unauthorized_client).
func clientForGrant(ctx context.Context, c credentials, link *store.Link, now time.Time, gt string) (*store.Link, error) {
	link, err := authenticate(ctx, c, link, now)
	if err != nil {
		return nil, err
	}
	if link.ClientType == store.ResourceServer {
		return nil, shared.UnauthorizedClient("a resource server link cannot obtain tokens")
	}
	if !link.AllowsGrant(gt) {
		web.Logger(ctx).Info("grant type refused", "client_id", link.ClientID, "grant_type", gt)
		return nil, shared.UnauthorizedClient("the application link does not allow this grant type")
	}
	return link, nil
}

// exchangeCode is the authorization_code grant (RFC 6749 §4.1.3, RFC 7636
// §4.5-4.6). It costs four DynamoDB calls: Fetch (link and code), Fetch
// (the user and their grant for the client), and RedeemCode's two writes
// (the first refresh token, then the code's single-use gate). Nothing is
// sent to the client before both writes succeeded; when one fails
// (ErrUnavailable: 503 temporarily_unavailable), the code is still unused
// and the client's retry with it is a plain redemption, not a replay.
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
	link, err := clientForGrant(ctx, creds, b.Link, now, shared.GrantTypeAuthorizationCode)
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
	if err := checkResourceParam(ctx, form, c.Resource); err != nil {
		return tokenResponse{}, err
	}

	// The user may have been deleted, disabled or given a new password
	// since consent, or the grant revoked: then the code no longer speaks
	// for them. The scope is the code's, capped again by the link's and the
	// user's current scopes (the permission service asked now, with
	// PERMISSION_SOURCE=service: failing, nothing is redeemed); the family
	// keeps what the user approved.
	user, rsLink, err := h.codeHolder(ctx, log, c)
	if err != nil {
		return tokenResponse{}, err
	}
	resp, rt, err := h.issue(ctx, link, user, rsLink, c, now)
	if err != nil {
		return tokenResponse{}, err
	}
	err = h.store.RedeemCode(ctx, codeHash, rt, now)
	if errors.Is(err, store.ErrTransactionConflict) {
		// Another request was writing this code at the same moment and
		// DynamoDB refused the gate without deciding (on a multi-Region
		// strongly consistent table: a write of it in another region; a
		// transaction writing a code, should one ever). Its write may not
		// be visible yet, so a read now could still show the code unused:
		// nothing can be concluded from one. Nothing but a redemption
		// writes a code, so the code has been presented twice, and that is
		// a replay whichever request lands, or neither (RFC 6749 §4.1.2).
		// Revoking the code's grant ends every token the other redemption
		// issues, whether it lands before or after the revocation: it does
		// not write the grant, and every use of its tokens checks it.
		log.Info("code refused", "reason", "redeemed by another request at the same moment")
		return tokenResponse{}, h.codeReplay(ctx, code, c)
	}
	if errors.Is(err, shared.ErrConflict) {
		// A failed condition, evaluated against the code as committed (a
		// single-item write, so a strongly consistent read now sees what
		// refused it): it was redeemed already (a replay) or has expired
		// meanwhile. Read it again to tell which. This request's refresh
		// token, written before the gate, is never handed out.
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
	web.Audit(ctx, "code_redeemed", "grant_id", c.GrantID, "client_id", link.ClientID,
		"user_id", user.ID, "username", user.Username, "scope", shared.FormatScope(c.Scope))
	h.recordUse(ctx, link.ClientID, user.ID, c.GrantID, now)
	return resp, nil
}

// issue builds the tokens of an approval that is being redeemed: the
// authorization code c, or a device authorization (RFC 8628 §3.5) read as
// one. The scope is the approval's, capped again by the link's and the
// user's current scopes (with PERMISSION_SOURCE=service, the permission
// service's answer: failing, nothing is issued); the refresh-token family (nil when the link does
// not allow refresh_token) keeps what the user approved. Everything is
// signed before the caller writes anything, so nothing is stored for a
// response that could not be made. The code exchange and the device grant
// share it, so the two answer alike (RFC 8628 §3.5: "as described in
// Section 5.1 of [RFC6749]"). With a resource (RFC 8707), rsLink is its
// resource server as read now: the access token is for the resource, its
// scope capped by the server's scopes too, and the family remembers it.
func (h *Handler) issue(ctx context.Context, link *store.Link, user store.User, rsLink *store.Link, c *store.Code, now time.Time) (tokenResponse, *store.RefreshToken, error) {
	rs, err := resourceServer(c.Resource, rsLink)
	if err != nil {
		return tokenResponse{}, nil, err
	}
	scope, err := h.recapScope(ctx, user, link, rs, c.Scope)
	if err != nil {
		return tokenResponse{}, nil, fmt.Errorf("cap code scope: %w", err)
	}
	var rtoken string
	var rt *store.RefreshToken
	if link.AllowsGrant(shared.GrantTypeRefreshToken) {
		tok, r, err := h.newRefresh(store.RefreshToken{
			GrantID: c.GrantID, ClientID: link.ClientID, UserID: user.ID, Scope: c.Scope, AuthTime: c.AuthTime,
			Protocol: c.Protocol, Resource: c.Resource, ResourceClientID: c.ResourceClientID,
		}, now)
		if err != nil {
			return tokenResponse{}, nil, err
		}
		rtoken, rt = tok, &r
	}
	granted := append(slices.Clone(scope), c.Protocol...)
	access, err := h.signAccess(ctx, link.ClientID, user, c.GrantID, h.audience(c.Resource), granted, now)
	if err != nil {
		return tokenResponse{}, nil, err
	}
	resp := h.response(access, rtoken, granted)
	if resp.IDToken, err = h.idToken(ctx, link, user, c.Protocol, c.AuthTime, c.Nonce, access, now); err != nil {
		return tokenResponse{}, nil, err
	}
	return resp, rt, nil
}

// codeReplay revokes the grant of a code presented again (RFC 6749 §4.1.2,
// §10.5): every token of it, from every family, since a used code in
// anyone's hands is a leak. It returns the invalid_grant to send; a
// failure to revoke is returned instead, so that it is logged and the
// client may retry.
func (h *Handler) codeReplay(ctx context.Context, code string, c *store.Code) error {
	web.Audit(ctx, "code_replay", "client_id", c.ClientID, "grant_id", c.GrantID,
		"user_id", c.UserID, "code", shared.HashPrefix(code))
	if err := h.revokeGrant(ctx, c.UserID, c.ClientID, c.GrantID, "code_replay"); err != nil {
		return err
	}
	return shared.InvalidGrant("the authorization code has already been used")
}

// revokeGrant revokes the user's grant for the client while its ID is
// grantID (an absent or newer grant is not an error: a token of an earlier
// grant must not end a newer one) and audits it.
func (h *Handler) revokeGrant(ctx context.Context, userID, clientID, grantID, reason string) error {
	if grantID == "" {
		return nil
	}
	_, err := store.RevokeGrantAudited(ctx, h.store, userID, clientID, grantID, h.now(), nil, "reason", reason)
	if errors.Is(err, shared.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("revoke grant %q (%s): %w", grantID, reason, err)
	}
	return nil
}

// checkRedirectURI applies RFC 6749 §4.1.3: when the authorization request
// carried redirect_uri, the token request must carry the identical value;
// when it did not, the token request may omit it or send a registered URI.
//
// Both comparisons are exact equality on purpose, not
// shared.MatchRedirectURI: the code was issued for one URI (SPEC: the same
// redirect_uri as the authorization request), and the loopback port
// exception of RFC 8252 §7.3 has already been applied when it was chosen.
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

// codeHolder reads the user of code c together with their grant for c's
// client, and the link of the resource server the code names, if any (one
// BatchGetItem, returned for issue to check), and checks that the code still speaks for them
// (RFC 6749 §5.2 invalid_grant otherwise, with a log line giving the
// reason): the user exists and is enabled, their credentials have not
// changed since the code was issued (a new password or a disabling move
// CredentialsChangedAt), and the grant the user's approval created is
// still their active grant for the client (revoking it on the account
// page, or by an administrator, ends it; a new approval makes a new one).
// A user deleted and created again under the same name has a new id, so
// the code names a user that no longer exists.
//
// Precision: the store keeps every time at the nanosecond, so the code's
// creation and the credentials change compare exactly; at equal instants
// the order cannot be known, so the code is refused.
func (h *Handler) codeHolder(ctx context.Context, log *slog.Logger, c *store.Code) (store.User, *store.Link, error) {
	b, err := h.store.Fetch(ctx, store.Keys{UserID: c.UserID, GrantClientID: c.ClientID, ResourceClientID: c.ResourceClientID})
	log = log.With("user_id", c.UserID)
	switch {
	case err != nil:
		return store.User{}, nil, fmt.Errorf("get user %s and grant for client %q: %w", c.UserID, c.ClientID, err)
	case b.User == nil:
		log.Info("code refused", "reason", "user no longer exists")
		return store.User{}, nil, shared.InvalidGrant("the user of this grant no longer exists")
	case b.User.Disabled:
		log.Info("code refused", "reason", "user disabled")
		return store.User{}, nil, shared.InvalidGrant("the user of this grant is disabled")
	case !b.User.IssuedSince(c.CreatedAt):
		log.Info("code refused", "reason", "user credentials changed (new password or disabled) since the code was issued",
			"code_created_at", c.CreatedAt, "credentials_changed_at", b.User.CredentialsChangedAt)
		return store.User{}, nil, shared.InvalidGrant("the authorization code is no longer valid")
	case !b.Grant.Active(c.GrantID):
		log.Info("code refused", "reason", "the grant was revoked since the code was issued", "grant_id", c.GrantID)
		return store.User{}, nil, shared.InvalidGrant("the authorization code is no longer valid")
	}
	return *b.User, b.ResourceLink, nil
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

// signAccess issues an access token (RFC 9068 §2.2) for user: sub is the
// user's immutable id, username their username, aud the resource it is for
// (AUDIENCE, or a resource indicator of RFC 8707).
func (h *Handler) signAccess(ctx context.Context, clientID string, user store.User, grantID, aud string, scope []string, now time.Time) (string, error) {
	jti, err := h.newID()
	if err != nil {
		return "", err
	}
	return h.keys.Sign(ctx, signing.AccessClaims{
		Issuer: h.cfg.Issuer, Subject: user.ID, Username: user.Username, Audience: aud, ClientID: clientID,
		Scope: shared.FormatScope(scope), JTI: jti, GrantID: grantID,
		IssuedAt: now, ExpiresAt: now.Add(h.cfg.AccessTokenTTL),
	})
}

// idToken signs the OpenID Connect ID token of a response (OIDC Core 1.0
// §2, §3.1.3.6, §5.4) for link, with the algorithm it registered
// (id_token_signed_response_alg: RS256 or ES256), or returns "" when
// openid is not among protocol: sub is the user's immutable id, aud and
// azp the client, auth_time the sign-in, at_hash the access token's
// (SHA-256 for both algorithms); profile adds name and preferred_username,
// email adds email and email_verified. nonce is "" on a refresh (§12.2: no
// nonce). A key set without a current key of the link's algorithm (one
// written before ES256, whose first ES256 key is pending) is an error
// wrapping shared.ErrUnavailable: temporarily_unavailable, nothing
// written.
func (h *Handler) idToken(ctx context.Context, link *store.Link, user store.User, protocol []string, authTime time.Time, nonce, access string, now time.Time) (string, error) {
	if !slices.Contains(protocol, "openid") {
		return "", nil
	}
	clientID := link.ClientID
	c := signing.IDClaims{
		Issuer: h.cfg.Issuer, Subject: user.ID, Audience: clientID, AuthorizedParty: clientID,
		IssuedAt: now.Unix(), ExpiresAt: now.Add(h.cfg.AccessTokenTTL).Unix(), AuthTime: authTime.Unix(),
		Nonce: nonce, AccessTokenHash: signing.AccessTokenHash(access),
	}
	if slices.Contains(protocol, "profile") {
		c.Name, c.Username = user.Name, user.Username
	}
	if slices.Contains(protocol, "email") && user.Email != "" {
		verified := user.EmailVerified
		c.Email, c.EmailVerified = user.Email, &verified
	}
	tok, err := h.keys.SignIDToken(ctx, link.IDTokenSignedResponseAlg, c)
	if err != nil {
		return "", fmt.Errorf("id token: %w", err)
	}
	return tok, nil
}

func (h *Handler) response(access, refresh string, scope []string) tokenResponse {
	return tokenResponse{
		AccessToken: access, TokenType: "Bearer",
		ExpiresIn: int64(h.cfg.AccessTokenTTL / time.Second),
		Scope:     shared.FormatScope(scope), RefreshToken: refresh,
	}
}
