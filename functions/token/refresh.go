package token

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// refresh is the refresh_token grant (RFC 6749 §6) with rotation and reuse
// detection (RFC 9700 §4.14.2). On success it costs four DynamoDB calls:
// Fetch (link and token), Fetch (user and grant), and RotateRefresh's two
// writes (the successor, then the old token's rotation). Nothing is sent
// before both succeeded; when one fails (503 temporarily_unavailable) the
// old token is still active, so the client's retry with it is a plain
// rotation, never reuse.
func (h *Handler) refresh(ctx context.Context, creds credentials, form map[string]string) (tokenResponse, error) {
	tok := form["refresh_token"]
	if tok == "" {
		return tokenResponse{}, shared.InvalidRequest("refresh_token is required")
	}
	now := h.now()
	hash := shared.HashToken(tok)
	b, err := h.store.Fetch(ctx, store.Keys{ClientID: creds.clientID, RefreshHash: hash})
	if err != nil {
		return tokenResponse{}, fmt.Errorf("fetch refresh token %s: %w", shared.HashPrefix(tok), err)
	}
	link, err := clientForGrant(ctx, creds, b.Link, now, shared.GrantTypeRefreshToken)
	if err != nil {
		return tokenResponse{}, err
	}
	rt := b.Refresh
	switch {
	case rt == nil:
		return tokenResponse{}, shared.InvalidGrant("the refresh token is invalid")
	case rt.ClientID != link.ClientID:
		// RFC 6749 §6: the token must have been issued to this client.
		web.Logger(ctx).Info("refresh refused", "client_id", link.ClientID, "reason", "token of another client",
			"token", shared.HashPrefix(tok))
		return tokenResponse{}, shared.InvalidGrant("the refresh token is invalid")
	case !now.Before(rt.ExpiresAt):
		return tokenResponse{}, shared.InvalidGrant("the refresh token has expired")
	}
	resp, err := h.useRefresh(ctx, link, *rt, tok, refreshParams{scope: form["scope"], form: form}, now, true)
	if err == nil {
		h.recordUse(ctx, link.ClientID, rt.UserID, rt.GrantID, now)
	}
	return resp, err
}

// useRefresh acts on rt by its status. retry allows one re-read after a lost
// race (a concurrent rotation or revocation).
func (h *Handler) useRefresh(ctx context.Context, link *store.Link, rt store.RefreshToken, tok string, p refreshParams, now time.Time, retry bool) (tokenResponse, error) {
	switch rt.Status {
	case store.RefreshActive:
		resp, next, err := h.mint(ctx, link, rt, p, now)
		if err != nil {
			return tokenResponse{}, err
		}
		rotate := func() error { return h.store.RotateRefresh(ctx, rt, next, now) }
		err = rotate()
		if errors.Is(err, store.ErrTransactionConflict) {
			// A transaction was writing this token at the same moment
			// (ReplaceSuccessor of its predecessor, within the grace; on a
			// multi-Region strongly consistent table, a write of it in
			// another region), and may not have committed yet: a read now
			// could still show it active. See concurrentUse. Calling
			// RotateRefresh again with the same next is safe (its put
			// accepts its own earlier write).
			if h.cfg.RefreshReuseGrace <= 0 {
				return tokenResponse{}, h.concurrentUse(ctx, rt, tok)
			}
			err = store.RetryInFlight(ctx, err, rotate)
		}
		if errors.Is(err, shared.ErrConflict) {
			return h.afterConflict(ctx, link, rt, tok, p, now, retry)
		}
		if err != nil {
			return tokenResponse{}, fmt.Errorf("rotate refresh token %s: %w", shared.HashPrefix(tok), err)
		}
		return resp, nil

	case store.RefreshRotated:
		grace := h.cfg.RefreshReuseGrace
		if grace <= 0 || now.After(rt.RotatedAt.Add(grace)) {
			return tokenResponse{}, h.reuse(ctx, rt, tok)
		}
		// Within REFRESH_REUSE_GRACE (a client retrying after a lost
		// response): its unused successor is replaced by a new pair.
		resp, next, err := h.mint(ctx, link, rt, p, now)
		if err != nil {
			return tokenResponse{}, err
		}
		replace := func() error { return h.store.ReplaceSuccessor(ctx, rt, next, now) }
		// A transaction in flight on one of its items (the successor being
		// rotated, another retry, an approval of the grant) decides
		// nothing yet: wait for its outcome.
		err = store.RetryInFlight(ctx, replace(), replace)
		if errors.Is(err, shared.ErrConflict) {
			// The successor was used already (or the grant revoked): this
			// is reuse, not a retry.
			return tokenResponse{}, h.reuse(ctx, rt, tok)
		}
		if err != nil {
			return tokenResponse{}, fmt.Errorf("replace successor of %s: %w", shared.HashPrefix(tok), err)
		}
		return resp, nil

	case store.RefreshReplaced:
		// A successor replaced by a retry of its predecessor within the
		// grace period: the client that retried never received it, so
		// whoever presents it had its chain taken over by a replay of the
		// predecessor (or is replaying it itself). Either way one party
		// holds a stolen token: reuse, the grant is revoked.
		return tokenResponse{}, h.reuse(ctx, rt, tok)
	}
	return tokenResponse{}, shared.InvalidGrant("the refresh token has been revoked")
}

// concurrentUse answers a refresh whose rotation DynamoDB cancelled because
// another request was writing the token at the same moment
// (TransactionConflict), when there is no reuse grace. Only a rotation or
// a replacement of this token writes it, so it has been presented twice
// at once: with no grace a client never does that, and it is reuse
// whichever request commits, or neither (RFC 9700 §4.14.2). The other
// request may not have committed yet, so nothing is read back (it could
// still show the token active); the grant is revoked at once, which ends
// the other request's new pair whether it commits before or after: its
// rotation does not write the grant, and every use of a token checks it.
//
// With a grace, a second presentation is a retry, not reuse, so the
// caller instead waits for the other request's outcome (RetryInFlight):
// its rotation either goes through or fails its condition, and the token
// as committed then routes the request.
func (h *Handler) concurrentUse(ctx context.Context, rt store.RefreshToken, tok string) error {
	web.Logger(ctx).Info("refresh refused", "client_id", rt.ClientID, "token", shared.HashPrefix(tok),
		"reason", "used by another request at the same moment")
	return h.reuse(ctx, rt, tok)
}

// afterConflict re-reads a token whose rotation failed its condition (the
// token as committed is no longer active) and acts on its new state once.
func (h *Handler) afterConflict(ctx context.Context, link *store.Link, rt store.RefreshToken, tok string, p refreshParams, now time.Time, retry bool) (tokenResponse, error) {
	b, err := h.store.Fetch(ctx, store.Keys{RefreshHash: rt.Hash, UserID: rt.UserID, GrantClientID: rt.ClientID})
	if err != nil {
		return tokenResponse{}, fmt.Errorf("re-read refresh token %s: %w", shared.HashPrefix(tok), err)
	}
	switch {
	case b.Refresh == nil || !b.Grant.Active(rt.GrantID):
		return tokenResponse{}, shared.InvalidGrant("the refresh token has been revoked")
	case b.Refresh.Status == store.RefreshReplaced:
		// Replaced while this request rotated it: reuse, whatever retry.
		return h.useRefresh(ctx, link, *b.Refresh, tok, p, now, false)
	case b.Refresh.Status == store.RefreshActive || !retry:
		// Still active, so the rotation failed for another reason; do not
		// loop.
		return tokenResponse{}, shared.InvalidGrant("the refresh token is invalid")
	}
	return h.useRefresh(ctx, link, *b.Refresh, tok, p, now, false)
}

// mint checks the user and the requested scope and makes the response and
// the next refresh token. The access token gets the scope capped against
// the link's and the user's current scopes; the next refresh token keeps the
// grant's approved scope, so a narrowing refresh narrows only the access
// token (SPEC "Scopes and capping").
func (h *Handler) mint(ctx context.Context, link *store.Link, rt store.RefreshToken, p refreshParams, now time.Time) (tokenResponse, store.RefreshToken, error) {
	// RFC 8707 §2.2: the family's resource, repeated or omitted; never
	// another one (checked after reuse detection, which useRefresh's
	// switch did first).
	if err := checkResourceParam(ctx, p.form, rt.Resource); err != nil {
		return tokenResponse{}, store.RefreshToken{}, err
	}
	user, rsLink, err := h.grantHolder(ctx, rt)
	if err != nil {
		return tokenResponse{}, store.RefreshToken{}, err
	}
	rs, err := resourceServer(rt.Resource, rsLink)
	if err != nil {
		return tokenResponse{}, store.RefreshToken{}, err
	}
	// OpenID Connect protocol scopes are outside capping: a refresh may
	// keep or drop them, never add one the family did not have.
	catalogParam, protocol := shared.SplitProtocolScopes(p.scope)
	if p.scope == "" {
		protocol = rt.Protocol
	}
	if !shared.CoversProtocol(rt.Protocol, protocol) {
		return tokenResponse{}, store.RefreshToken{}, shared.InvalidScope("the scope exceeds the scope originally granted")
	}
	// With PERMISSION_SOURCE=service the service is asked here, after
	// reuse detection (useRefresh's switch) and before the rotation, so a
	// failure leaves the refresh token unspent.
	scope, err := h.capScope(ctx, user, link, rs, catalogParam, rt.Scope)
	if err != nil {
		return tokenResponse{}, store.RefreshToken{}, err
	}
	tok, next, err := h.newRefresh(store.RefreshToken{
		GrantID: rt.GrantID, ClientID: rt.ClientID, UserID: rt.UserID, Scope: rt.Scope, AuthTime: rt.AuthTime,
		Protocol: rt.Protocol, Resource: rt.Resource, ResourceClientID: rt.ResourceClientID,
	}, now)
	if err != nil {
		return tokenResponse{}, store.RefreshToken{}, err
	}
	granted := append(slices.Clone(scope), protocol...)
	access, err := h.signAccess(ctx, link.ClientID, user, rt.GrantID, h.audience(rt.Resource), granted, now)
	if err != nil {
		return tokenResponse{}, store.RefreshToken{}, err
	}
	resp := h.response(access, tok, granted)
	// OIDC Core §12.2: a fresh ID token, the same auth_time, no nonce.
	if resp.IDToken, err = h.idToken(ctx, link, user, protocol, rt.AuthTime, "", access, now); err != nil {
		return tokenResponse{}, store.RefreshToken{}, err
	}
	return resp, next, nil
}

// reuse handles a rotated refresh token presented again after the grace
// period, or a replaced one at any time: the token was probably stolen, so
// the whole grant is revoked (RFC 9700 §4.14.2).
func (h *Handler) reuse(ctx context.Context, rt store.RefreshToken, tok string) error {
	web.Audit(ctx, "refresh_token_reuse", "client_id", rt.ClientID, "grant_id", rt.GrantID,
		"user_id", rt.UserID, "token", shared.HashPrefix(tok))
	if err := h.revokeGrant(ctx, rt.UserID, rt.ClientID, rt.GrantID, "refresh_token_reuse"); err != nil {
		return err
	}
	return shared.InvalidGrant("the refresh token has already been used")
}

// grantHolder reads rt's grant and user, and the link of its family's
// resource server if any (RFC 8707), in one call: a revoked grant (or a
// newer grant of the same user and client, made after a revocation) is
// invalid_grant (RotateRefresh does not check it), and so is a user who is
// gone or disabled.
func (h *Handler) grantHolder(ctx context.Context, rt store.RefreshToken) (store.User, *store.Link, error) {
	b, err := h.store.Fetch(ctx, store.Keys{UserID: rt.UserID, GrantClientID: rt.ClientID, ResourceClientID: rt.ResourceClientID})
	switch {
	case err != nil:
		return store.User{}, nil, fmt.Errorf("fetch grant %q and its user: %w", rt.GrantID, err)
	case !b.Grant.Active(rt.GrantID):
		return store.User{}, nil, shared.InvalidGrant("the refresh token has been revoked")
	case b.User == nil:
		return store.User{}, nil, shared.InvalidGrant("the user of this grant no longer exists")
	case b.User.Disabled:
		return store.User{}, nil, shared.InvalidGrant("the user of this grant is disabled")
	}
	return *b.User, b.ResourceLink, nil
}

// refreshParams are the parameters of a refresh request that shape its
// answer: the scope (RFC 6749 §6) and the form, for its resource (RFC 8707
// §2.2).
type refreshParams struct {
	scope string
	form  map[string]string
}
