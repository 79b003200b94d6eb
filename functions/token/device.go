package token

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// The Device Authorization Grant (RFC 8628), for command-line tools and
// devices without a browser: POST /oauth2/device_authorization gives the
// device a device code and the user a user code; the user enters the
// user code at $ISSUER/device (functions/authorize), signs in and
// approves; meanwhile the device polls the token endpoint with
// grant_type=urn:ietf:params:oauth:grant-type:device_code.

// Tunables of the device flow.
const (
	// DeviceCodeTTL is the lifetime of a device authorization (RFC 8628
	// §3.2 expires_in).
	DeviceCodeTTL = 10 * time.Minute
	// DefaultDeviceInterval is the minimum time between two polls of one
	// device code (§3.2 interval), when config.Config.DevicePollInterval
	// does not set another.
	DefaultDeviceInterval = 5 * time.Second
	// DeviceSlowDown is what each slow_down adds to the interval (§3.5).
	DeviceSlowDown = 5 * time.Second
	// devicePath is the verification URI's path (§3.2 verification_uri),
	// served by the authorize function.
	devicePath = "/device"
	// createAttempts bounds the user codes drawn for one authorization
	// when a drawn one is already live.
	createAttempts = 3
)

// The errors of the device access token request (RFC 8628 §3.5).
const (
	codeAuthorizationPending = "authorization_pending"
	codeSlowDown             = "slow_down"
	codeExpiredToken         = "expired_token"
)

func deviceError(code, desc string) *shared.Error {
	return &shared.Error{Code: code, Description: desc, Status: http.StatusBadRequest}
}

// Devices stores device authorizations (RFC 8628).
type Devices interface {
	// CreateDevice stores a pending authorization (ErrConflict when its
	// user code is live already).
	CreateDevice(ctx context.Context, d store.Device, now time.Time) error
	// RecordDevicePoll records a poll, unless another came since prev
	// (ErrConflict).
	RecordDevicePoll(ctx context.Context, userCodeHash string, prev time.Time, interval time.Duration, now time.Time) error
	// RedeemDevice marks an approved authorization redeemed and writes
	// the first refresh token of its family (ErrConflict when it is not
	// approved and unexpired, or another poll came since prev).
	RedeemDevice(ctx context.Context, userCodeHash string, prev time.Time, rt *store.RefreshToken, now time.Time) error
}

// deviceAuthResponse is the device authorization response (RFC 8628
// §3.2).
type deviceAuthResponse struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

// deviceInterval is the poll interval this handler asks for.
func (h *Handler) deviceInterval() time.Duration {
	if d := h.cfg.DevicePollInterval.Truncate(time.Second); d > 0 {
		return d
	}
	return DefaultDeviceInterval
}

// deviceAuthorization serves POST /oauth2/device_authorization (RFC 8628
// §3.1, §3.2): the client authenticates as at the token endpoint (a public
// link names itself with client_id), must allow the device grant, and may
// ask for a scope (checked as at the authorization endpoint; capped when
// the user approves) and one resource (RFC 8707: a resource URI of an
// enabled resource server, else invalid_target). It costs two DynamoDB
// calls, Fetch (the link) and CreateDevice, and one more with a resource
// (its server's link).
func (h *Handler) deviceAuthorization(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	resp, err := h.newDeviceAuthorization(ctx, r)
	if err != nil {
		fail(ctx, w, "device authorization request", err)
		return
	}
	writeNoStore(w, resp)
}

func (h *Handler) newDeviceAuthorization(ctx context.Context, r *http.Request) (deviceAuthResponse, error) {
	form, err := parseForm(r)
	if err != nil {
		return deviceAuthResponse{}, err
	}
	creds, err := readCredentials(r, form)
	if err != nil {
		return deviceAuthResponse{}, err
	}
	now := h.now()
	// The resource's registration (RFC 8707) is read with the link.
	b, err := h.store.Fetch(ctx, store.Keys{ClientID: creds.clientID, ResourceURI: resourceParam(form)})
	if err != nil {
		return deviceAuthResponse{}, fmt.Errorf("fetch link: %w", err)
	}
	link, err := clientForGrant(ctx, creds, b.Link, now, shared.GrantTypeDeviceCode)
	if err != nil {
		return deviceAuthResponse{}, err
	}
	// RFC 6749 §3.3 as at the authorization endpoint: every scope token is
	// a catalog scope or an OpenID Connect protocol scope.
	catalogScope, protocol := shared.SplitProtocolScopes(form["scope"])
	var requested []string
	if catalogScope != "" {
		names, err := shared.ParseScope(catalogScope)
		if err != nil {
			return deviceAuthResponse{}, shared.InvalidScope("the scope parameter is malformed")
		}
		if requested, err = h.cfg.Catalog.Validate(names); err != nil {
			return deviceAuthResponse{}, shared.InvalidScope("the scope parameter names an unknown scope")
		}
	}
	resource, rsClientID, err := h.deviceResource(ctx, form, b)
	if err != nil {
		return deviceAuthResponse{}, err
	}
	interval := h.deviceInterval()
	for range createAttempts {
		userCode, err := shared.NewUserCode(h.random)
		if err != nil {
			return deviceAuthResponse{}, err
		}
		deviceCode, err := shared.NewDeviceCode(h.random, userCode)
		if err != nil {
			return deviceAuthResponse{}, err
		}
		d := store.Device{
			UserCodeHash: shared.HashToken(userCode), DeviceHash: shared.HashToken(deviceCode),
			ClientID: link.ClientID, Scope: requested, Protocol: protocol,
			Resource: resource, ResourceClientID: rsClientID,
			Interval: interval, CreatedAt: now, ExpiresAt: now.Add(DeviceCodeTTL),
		}
		err = h.store.CreateDevice(ctx, d, now)
		if errors.Is(err, shared.ErrConflict) {
			continue // that user code is live: draw another
		}
		if err != nil {
			return deviceAuthResponse{}, fmt.Errorf("create device authorization: %w", err)
		}
		web.Logger(ctx).Info("device authorization created", "client_id", link.ClientID,
			"user_code", shared.HashPrefix(userCode), "scope", shared.FormatScope(append(requested, protocol...)))
		shown := shared.FormatUserCode(userCode)
		return deviceAuthResponse{
			DeviceCode:              deviceCode,
			UserCode:                shown,
			VerificationURI:         h.cfg.Issuer + devicePath,
			VerificationURIComplete: h.cfg.Issuer + devicePath + "?" + url.Values{"user_code": {shown}}.Encode(),
			ExpiresIn:               int64(DeviceCodeTTL / time.Second),
			Interval:                int64(interval / time.Second),
		}, nil
	}
	return deviceAuthResponse{}, fmt.Errorf("create device authorization: every user code drawn was live: %w", shared.ErrUnavailable)
}

// deviceToken is the device access token request (RFC 8628 §3.4, §3.5):
// grant_type=urn:ietf:params:oauth:grant-type:device_code with the
// device_code the client was issued. Answers, in order:
//
//   - invalid_grant: an unknown device code, one issued to another client,
//     or one redeemed already (tokens are issued once);
//   - expired_token: past its expiry;
//   - slow_down: a poll less than the current interval after the previous
//     poll of the same device code (the first poll never is), which adds
//     DeviceSlowDown to the interval;
//   - authorization_pending while the user has not decided,
//     access_denied once they denied;
//   - after approval, the code exchange's response (issue), once.
//
// A pending poll costs two DynamoDB calls (Fetch, RecordDevicePoll); a
// redemption three (Fetch, the user and grant, RedeemDevice).
func (h *Handler) deviceToken(ctx context.Context, creds credentials, form map[string]string) (tokenResponse, error) {
	dc := form["device_code"]
	if dc == "" {
		return tokenResponse{}, shared.InvalidRequest("device_code is required")
	}
	now := h.now()
	userCode, wellFormed := shared.ParseDeviceCode(dc)
	k := store.Keys{ClientID: creds.clientID}
	hash := ""
	if wellFormed {
		hash = shared.HashToken(userCode)
		k.DeviceUserCode = hash
	}
	b, err := h.store.Fetch(ctx, k)
	if err != nil {
		return tokenResponse{}, fmt.Errorf("fetch device code %s: %w", shared.HashPrefix(dc), err)
	}
	link, err := clientForGrant(ctx, creds, b.Link, now, shared.GrantTypeDeviceCode)
	if err != nil {
		return tokenResponse{}, err
	}
	d := b.Device
	log := web.Logger(ctx).With("client_id", link.ClientID, "device_code", shared.HashPrefix(dc))
	switch {
	case d == nil || !shared.Equal(d.DeviceHash, shared.HashToken(dc)):
		log.Info("device code refused", "reason", "unknown device code")
		return tokenResponse{}, shared.InvalidGrant("the device code is invalid")
	case d.ClientID != link.ClientID:
		// RFC 8628 §3.4: the device code is bound to the client it was
		// issued to.
		log.Info("device code refused", "reason", "device code issued to another client")
		return tokenResponse{}, shared.InvalidGrant("the device code is invalid")
	case d.Status == store.DeviceRedeemed:
		log.Info("device code refused", "reason", "already redeemed")
		return tokenResponse{}, shared.InvalidGrant("the device code has already been used")
	case !now.Before(d.ExpiresAt):
		return tokenResponse{}, deviceError(codeExpiredToken, "the device code has expired")
	}
	if err := checkResourceParam(ctx, form, d.Resource); err != nil {
		return tokenResponse{}, err
	}
	if !d.LastPoll.IsZero() && now.Before(d.LastPoll.Add(d.Interval)) {
		// §3.5: too fast. The interval grows for this and every later
		// poll; the poll is recorded, so the next one counts from now.
		interval := d.Interval + DeviceSlowDown
		if err := h.store.RecordDevicePoll(ctx, hash, d.LastPoll, interval, now); err != nil && !errors.Is(err, shared.ErrConflict) {
			return tokenResponse{}, fmt.Errorf("record device poll: %w", err)
		}
		log.Info("device poll too fast", "interval_s", int64(interval/time.Second))
		return tokenResponse{}, deviceError(codeSlowDown, "poll less often: wait the interval between polls, now "+
			fmt.Sprint(int64(interval/time.Second))+" seconds")
	}
	switch d.Status {
	case store.DevicePending, store.DeviceDenied:
		err := h.store.RecordDevicePoll(ctx, hash, d.LastPoll, d.Interval, now)
		if errors.Is(err, shared.ErrConflict) {
			// Another poll of this device code was recorded since it was
			// read: two polls at once.
			return tokenResponse{}, deviceError(codeSlowDown, "poll less often: another poll of this device code came at the same moment")
		}
		if err != nil {
			return tokenResponse{}, fmt.Errorf("record device poll: %w", err)
		}
		if d.Status == store.DeviceDenied {
			return tokenResponse{}, deviceError(shared.CodeAccessDenied, "the user denied the request")
		}
		return tokenResponse{}, deviceError(codeAuthorizationPending, "the user has not approved the request yet")
	case store.DeviceApproved:
		return h.redeemDevice(ctx, log, link, d, now)
	}
	log.Error("device authorization in an unknown state", "status", d.Status)
	return tokenResponse{}, shared.ServerError()
}

// redeemDevice issues the tokens of an approved device authorization
// exactly as a code exchange does (issue), after the same checks that the
// approval still speaks for its user (codeHolder: user enabled, no new
// credentials since the approval, grant not revoked), then marks it
// redeemed with the first refresh token in one transaction.
func (h *Handler) redeemDevice(ctx context.Context, log *slog.Logger, link *store.Link, d *store.Device, now time.Time) (tokenResponse, error) {
	approval := &store.Code{
		ClientID: d.ClientID, UserID: d.UserID, GrantID: d.GrantID, Scope: d.Granted, Protocol: d.Protocol,
		Resource: d.Resource, ResourceClientID: d.ResourceClientID,
		AuthTime: d.AuthTime, CreatedAt: d.DecidedAt, ExpiresAt: d.ExpiresAt,
	}
	user, rsLink, err := h.codeHolder(ctx, log, approval)
	if err != nil {
		return tokenResponse{}, err
	}
	resp, rt, err := h.issue(ctx, link, user, rsLink, approval, now)
	if err != nil {
		return tokenResponse{}, err
	}
	err = h.store.RedeemDevice(ctx, d.UserCodeHash, d.LastPoll, rt, now)
	if errors.Is(err, shared.ErrConflict) {
		// Redeemed, expired or polled by another request since it was
		// read (a TransactionConflict too: another poll at the same
		// moment). Nothing was written; read it again to say which.
		b, ferr := h.store.Fetch(ctx, store.Keys{DeviceUserCode: d.UserCodeHash})
		switch {
		case ferr != nil:
			return tokenResponse{}, fmt.Errorf("re-read device authorization: %w", ferr)
		case b.Device == nil || b.Device.Status == store.DeviceRedeemed:
			log.Info("device code refused", "reason", "redeemed by another request")
			return tokenResponse{}, shared.InvalidGrant("the device code has already been used")
		case !now.Before(b.Device.ExpiresAt):
			return tokenResponse{}, deviceError(codeExpiredToken, "the device code has expired")
		}
		return tokenResponse{}, deviceError(codeSlowDown, "poll less often: another poll of this device code came at the same moment")
	}
	if err != nil {
		return tokenResponse{}, fmt.Errorf("redeem device authorization: %w", err)
	}
	web.Audit(ctx, "device_code_redeemed", "grant_id", d.GrantID, "client_id", link.ClientID,
		"user_id", user.ID, "username", user.Username, "scope", shared.FormatScope(d.Granted))
	h.recordUse(ctx, link.ClientID, user.ID, d.GrantID, now)
	return resp, nil
}
