package token

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
)

// Links of the device tests, beside the seeded ones.
const (
	devConfID     = "device-conf"
	devConfSecret = "device-conf-secret"
	devOtherID    = "device-other"
	devOtherSec   = "device-other-secret"
	devPublicID   = "device-cli"
	devNoRefresh  = "device-no-refresh"
)

const grantDevice = "urn:ietf:params:oauth:grant-type:device_code"

// deviceLinks seeds the links that allow the device grant: two
// confidential ones with the code flow too, a public one with no redirect
// URI, and a public one without refresh_token.
func (e *env) deviceLinks() {
	e.t.Helper()
	all := []string{shared.GrantTypeAuthorizationCode, shared.GrantTypeRefreshToken, shared.GrantTypeDeviceCode}
	for _, l := range []store.NewLink{
		{ID: "l-dev-conf", ClientID: devConfID, Secret: devConfSecret, ClientType: store.Confidential, Enabled: true,
			RedirectURIs: []string{redirect}, Scopes: []string{"REPO_WRITE", "ACCOUNT_WRITE"}, GrantTypes: all},
		{ID: "l-dev-other", ClientID: devOtherID, Secret: devOtherSec, ClientType: store.Confidential, Enabled: true,
			RedirectURIs: []string{redirect}, Scopes: []string{"REPO_WRITE"}, GrantTypes: all},
		{ID: "l-dev-cli", ClientID: devPublicID, ClientType: store.Public, Enabled: true,
			Scopes: []string{"REPO_READ"}, GrantTypes: []string{shared.GrantTypeRefreshToken, shared.GrantTypeDeviceCode}},
		{ID: "l-dev-norefresh", ClientID: devNoRefresh, ClientType: store.Public, Enabled: true,
			Scopes: []string{"REPO_READ"}, GrantTypes: []string{shared.GrantTypeDeviceCode}},
	} {
		l.Name = l.ID
		if _, _, err := e.st.CreateLink(context.Background(), l, e.clock.Now()); err != nil {
			e.t.Fatalf("CreateLink %s: %v", l.ID, err)
		}
	}
}

// deviceAuth is a decoded device authorization response.
type deviceAuth struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

// publicForm is the form of a public client naming itself.
func publicForm(clientID string, kv ...string) url.Values {
	f := url.Values{"client_id": {clientID}}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}

// authorizeDevice asks for a device authorization and decodes the answer.
func (e *env) authorizeDevice(auth string, form url.Values) deviceAuth {
	e.t.Helper()
	w := e.post("/oauth2/device_authorization", auth, form)
	if w.Code != http.StatusOK {
		e.t.Fatalf("device authorization: got %d %s, want 200", w.Code, w.Body)
	}
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		e.t.Errorf("device authorization: Cache-Control %q, want no-store", got)
	}
	var da deviceAuth
	if err := json.Unmarshal(w.Body.Bytes(), &da); err != nil {
		e.t.Fatalf("decode %s: %v", w.Body, err)
	}
	return da
}

// poll polls the token endpoint with the device code.
func (e *env) poll(auth string, form url.Values, deviceCode string) *httptest.ResponseRecorder {
	e.t.Helper()
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	f.Set("grant_type", grantDevice)
	f.Set("device_code", deviceCode)
	return e.post("/oauth2/token", auth, f)
}

// decide records alice's decision on the user code as the authorize
// function does: for an approval, her grant for clientID first.
func (e *env) decide(userCode, clientID string, approve bool, granted []string) {
	e.t.Helper()
	uc, ok := shared.NormalizeUserCode(userCode)
	if !ok {
		e.t.Fatalf("user code %q does not normalize", userCode)
	}
	dec := store.DeviceDecision{Approve: approve, UserID: e.aliceID, AuthTime: e.clock.Now().Add(-time.Second)}
	if approve {
		g := e.grant(clientID, granted)
		dec.GrantID, dec.Granted = g.ID, granted
	}
	if _, err := e.st.DecideDevice(context.Background(), shared.HashToken(uc), dec, e.clock.Now()); err != nil {
		e.t.Fatalf("DecideDevice: %v", err)
	}
}

// TestDeviceFlow: a public client's device authorization, polled while
// pending (a too-early poll is slow_down and grows the interval), approved,
// redeemed once for a refresh token and an ID token, never again.
func TestDeviceFlow(t *testing.T) {
	e := newEnv(t, nil)
	e.deviceLinks()
	e.calls.reset()
	da := e.authorizeDevice("", publicForm(devPublicID, "scope", "REPO_READ openid profile"))
	if n, m := e.calls.total(); n != 2 {
		t.Errorf("device authorization: %d store calls %v, want 2 (Fetch, CreateDevice)", n, m)
	}
	uc, ok := shared.NormalizeUserCode(da.UserCode)
	if !ok || da.UserCode != shared.FormatUserCode(uc) || len(da.UserCode) != 9 {
		t.Errorf("user_code %q, want XXXX-XXXX of the alphabet", da.UserCode)
	}
	if !strings.HasPrefix(da.DeviceCode, uc+".") {
		t.Errorf("device_code does not name its user code")
	}
	want := deviceAuth{DeviceCode: da.DeviceCode, UserCode: da.UserCode, VerificationURI: issuer + "/device",
		VerificationURIComplete: issuer + "/device?user_code=" + da.UserCode, ExpiresIn: 600, Interval: 5}
	if da != want {
		t.Errorf("device authorization = %+v, want %+v", da, want)
	}

	// Pending: the first poll is never slow_down.
	e.calls.reset()
	oauthError(t, e.poll("", publicForm(devPublicID), da.DeviceCode), 400, "authorization_pending")
	if n, m := e.calls.total(); n != 2 {
		t.Errorf("pending poll: %d store calls %v, want 2 (Fetch, RecordDevicePoll)", n, m)
	}
	// Too early: slow_down, and the interval becomes 10 s.
	e.clock.Add(4 * time.Second)
	oauthError(t, e.poll("", publicForm(devPublicID), da.DeviceCode), 400, "slow_down")
	e.clock.Add(9 * time.Second)
	oauthError(t, e.poll("", publicForm(devPublicID), da.DeviceCode), 400, "slow_down")
	// 15 s: the interval is now 15 s after two slow_downs.
	e.clock.Add(15 * time.Second)
	oauthError(t, e.poll("", publicForm(devPublicID), da.DeviceCode), 400, "authorization_pending")

	e.decide(da.UserCode, devPublicID, true, []string{"REPO_READ"})
	e.clock.Add(15 * time.Second)
	e.calls.reset()
	w := e.poll("", publicForm(devPublicID), da.DeviceCode)
	tk := e.ok(w)
	if n, m := e.calls.total(); n != 3 {
		t.Errorf("redemption: %d store calls %v, want 3 (Fetch, Fetch user and grant, RedeemDevice)", n, m)
	}
	var full struct {
		IDToken string `json:"id_token"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &full)
	if tk.Scope != "REPO_READ openid profile" || tk.RefreshToken == "" || full.IDToken == "" || tk.TokenType != "Bearer" {
		t.Errorf("tokens = %+v (id token %t), want REPO_READ openid profile with a refresh token and an ID token", tk, full.IDToken != "")
	}
	if !e.audited("device_code_redeemed") {
		t.Error("no device_code_redeemed audit event")
	}
	// The refresh token works like any other.
	if w := e.post("/oauth2/token", "", publicForm(devPublicID, "grant_type", "refresh_token", "refresh_token", tk.RefreshToken)); w.Code != 200 {
		t.Errorf("refresh of a device grant's token: %d %s", w.Code, w.Body)
	}
	e.noSecretsLogged(da.DeviceCode, tk.AccessToken, tk.RefreshToken, full.IDToken)
}

// TestDeviceSecondPollAfterSuccess: tokens are issued once; any later poll
// of the same device code is invalid_grant and issues nothing.
func TestDeviceSecondPollAfterSuccess(t *testing.T) {
	e := newEnv(t, nil)
	e.deviceLinks()
	da := e.authorizeDevice(basic(devConfID, devConfSecret), url.Values{"scope": {"REPO_WRITE"}})
	e.decide(da.UserCode, devConfID, true, []string{"REPO_WRITE"})
	first := e.ok(e.poll(basic(devConfID, devConfSecret), nil, da.DeviceCode))
	for range 2 {
		e.clock.Add(time.Minute)
		oauthError(t, e.poll(basic(devConfID, devConfSecret), nil, da.DeviceCode), 400, "invalid_grant")
	}
	if e.introspect(basic(devConfID, devConfSecret), first.AccessToken)["active"] != true {
		t.Error("the first redemption's access token is no longer active")
	}
}

// TestDeviceCodeOtherClient: a device code is bound to the client it was
// issued to: another client (with a device grant of its own) gets
// invalid_grant, and the code still works for its own client.
func TestDeviceCodeOtherClient(t *testing.T) {
	e := newEnv(t, nil)
	e.deviceLinks()
	da := e.authorizeDevice(basic(devConfID, devConfSecret), url.Values{"scope": {"REPO_WRITE"}})
	e.decide(da.UserCode, devConfID, true, []string{"REPO_WRITE"})
	oauthError(t, e.poll(basic(devOtherID, devOtherSec), nil, da.DeviceCode), 400, "invalid_grant")
	if !strings.Contains(e.logs.String(), "device code issued to another client") {
		t.Error("no log line names the reason")
	}
	e.clock.Add(5 * time.Second)
	e.ok(e.poll(basic(devConfID, devConfSecret), nil, da.DeviceCode))
}

// TestDeviceExpired: a device code past its expires_in is expired_token,
// whether the user decided or not.
func TestDeviceExpired(t *testing.T) {
	e := newEnv(t, nil)
	e.deviceLinks()
	pending := e.authorizeDevice("", publicForm(devPublicID))
	approved := e.authorizeDevice("", publicForm(devPublicID))
	e.decide(approved.UserCode, devPublicID, true, []string{"REPO_READ"})
	e.clock.Add(DeviceCodeTTL)
	oauthError(t, e.poll("", publicForm(devPublicID), pending.DeviceCode), 400, "expired_token")
	oauthError(t, e.poll("", publicForm(devPublicID), approved.DeviceCode), 400, "expired_token")
}

// TestDeviceDenied: after the user denied, polls are access_denied.
func TestDeviceDenied(t *testing.T) {
	e := newEnv(t, nil)
	e.deviceLinks()
	da := e.authorizeDevice("", publicForm(devPublicID))
	e.decide(da.UserCode, devPublicID, false, nil)
	oauthError(t, e.poll("", publicForm(devPublicID), da.DeviceCode), 400, "access_denied")
	e.clock.Add(5 * time.Second)
	oauthError(t, e.poll("", publicForm(devPublicID), da.DeviceCode), 400, "access_denied")
}

// TestDeviceRevokedBeforeRedemption: an approval whose grant was revoked
// (account page, administrator) before the device polled issues nothing.
func TestDeviceRevokedBeforeRedemption(t *testing.T) {
	e := newEnv(t, nil)
	e.deviceLinks()
	da := e.authorizeDevice("", publicForm(devPublicID))
	e.decide(da.UserCode, devPublicID, true, []string{"REPO_READ"})
	if _, err := e.st.RevokeGrant(context.Background(), e.aliceID, devPublicID, "", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	oauthError(t, e.poll("", publicForm(devPublicID), da.DeviceCode), 400, "invalid_grant")
}

// TestDeviceScopeCapped: the approved scope is capped again at redemption
// by the link's current ceiling and the user's permissions.
func TestDeviceScopeCapped(t *testing.T) {
	e := newEnv(t, nil)
	e.deviceLinks()
	da := e.authorizeDevice(basic(devConfID, devConfSecret), url.Values{"scope": {"REPO_WRITE ACCOUNT_WRITE"}})
	e.decide(da.UserCode, devConfID, true, []string{"REPO_WRITE", "ACCOUNT_WRITE"})
	perms := []string{"REPO_READ"}
	if _, err := e.st.UpdateUser(context.Background(), e.aliceID, store.UserUpdate{Permissions: &perms}, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if tk := e.ok(e.poll(basic(devConfID, devConfSecret), nil, da.DeviceCode)); tk.Scope != "REPO_READ" {
		t.Errorf("scope %q, want REPO_READ (capped by alice's permissions now)", tk.Scope)
	}
}

// TestDeviceNoRefreshToken: a link without refresh_token gets no refresh
// token.
func TestDeviceNoRefreshToken(t *testing.T) {
	e := newEnv(t, nil)
	e.deviceLinks()
	da := e.authorizeDevice("", publicForm(devNoRefresh))
	e.decide(da.UserCode, devNoRefresh, true, []string{"REPO_READ"})
	if tk := e.ok(e.poll("", publicForm(devNoRefresh), da.DeviceCode)); tk.RefreshToken != "" || tk.AccessToken == "" {
		t.Errorf("tokens = %+v, want an access token and no refresh token", tk)
	}
}

// TestDeviceAuthorizationRefused: the device authorization endpoint's
// errors.
func TestDeviceAuthorizationRefused(t *testing.T) {
	e := newEnv(t, nil)
	e.deviceLinks()
	for _, tc := range []struct {
		name   string
		auth   string
		form   url.Values
		status int
		code   string
	}{
		{"no client", "", url.Values{}, 401, "invalid_client"},
		{"unknown client", "", publicForm("nobody"), 401, "invalid_client"},
		{"confidential without secret", "", publicForm(devConfID), 401, "invalid_client"},
		{"wrong secret", basic(devConfID, "wrong"), url.Values{}, 401, "invalid_client"},
		{"link without the device grant", basic(confID, confSecret), url.Values{}, 400, "unauthorized_client"},
		{"public link without the device grant", "", publicForm(publicID), 400, "unauthorized_client"},
		{"resource server", basic(rsID, rsSecret), url.Values{}, 400, "unauthorized_client"},
		{"disabled link", basic(offID, offSecret), url.Values{}, 401, "invalid_client"},
		{"unknown scope", "", publicForm(devPublicID, "scope", "REPO_READ NOPE"), 400, "invalid_scope"},
		{"resource", "", publicForm(devPublicID, "resource", "https://api.example.com/"), 400, "invalid_target"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oauthError(t, e.post("/oauth2/device_authorization", tc.auth, tc.form), tc.status, tc.code)
		})
	}
	if w := e.do(req{method: http.MethodGet, path: "/oauth2/device_authorization"}); w.Code != 405 {
		t.Errorf("GET: %d, want 405", w.Code)
	}
}

// TestDeviceTokenRefused: malformed and unknown device codes, and a link
// that does not allow the grant.
func TestDeviceTokenRefused(t *testing.T) {
	e := newEnv(t, nil)
	e.deviceLinks()
	da := e.authorizeDevice("", publicForm(devPublicID))
	oauthError(t, e.poll("", publicForm(devPublicID), ""), 400, "invalid_request")
	oauthError(t, e.poll("", publicForm(devPublicID), "not-a-device-code"), 400, "invalid_grant")
	// The right user code with another secret part.
	forged := da.DeviceCode[:9] + strings.Repeat("A", 43)
	oauthError(t, e.poll("", publicForm(devPublicID), forged), 400, "invalid_grant")
	oauthError(t, e.poll(basic(confID, confSecret), nil, da.DeviceCode), 400, "unauthorized_client")
	// Still pending for its own client: nothing above touched it.
	oauthError(t, e.poll("", publicForm(devPublicID), da.DeviceCode), 400, "authorization_pending")
}

// TestGrantTypesEnforced: a link uses only the grant types it allows: the
// code exchange needs authorization_code, a refresh needs refresh_token.
func TestGrantTypesEnforced(t *testing.T) {
	e := newEnv(t, nil)
	e.deviceLinks()
	code := e.code(codeOpts{clientID: devNoRefresh, scope: []string{"REPO_READ"}})
	oauthError(t, e.post("/oauth2/token", "", publicForm(devNoRefresh, "grant_type", "authorization_code", "code", code,
		"code_verifier", verifier)), 400, "unauthorized_client")
	oauthError(t, e.post("/oauth2/token", "", publicForm(devNoRefresh, "grant_type", "refresh_token", "refresh_token", "x")),
		400, "unauthorized_client")
}

// TestDeviceMetadata: both metadata documents name the device
// authorization endpoint and list the device grant.
func TestDeviceMetadata(t *testing.T) {
	e := newEnv(t, nil)
	for _, p := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		w := e.do(req{method: http.MethodGet, path: p})
		var md struct {
			Endpoint   string   `json:"device_authorization_endpoint"`
			GrantTypes []string `json:"grant_types_supported"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &md); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if md.Endpoint != issuer+"/oauth2/device_authorization" || !slices.Contains(md.GrantTypes, grantDevice) {
			t.Errorf("%s: device_authorization_endpoint %q, grant_types_supported %v", p, md.Endpoint, md.GrantTypes)
		}
	}
}

func (c *counting) CreateDevice(ctx context.Context, d store.Device, now time.Time) error {
	if err := c.hit("CreateDevice"); err != nil {
		return err
	}
	return c.Store.CreateDevice(ctx, d, now)
}

func (c *counting) RecordDevicePoll(ctx context.Context, h string, prev time.Time, interval time.Duration, now time.Time) error {
	if err := c.hit("RecordDevicePoll"); err != nil {
		return err
	}
	return c.Store.RecordDevicePoll(ctx, h, prev, interval, now)
}

func (c *counting) RedeemDevice(ctx context.Context, h string, prev time.Time, rt *store.RefreshToken, now time.Time) error {
	if err := c.hit("RedeemDevice"); err != nil {
		return err
	}
	return c.Store.RedeemDevice(ctx, h, prev, rt, now)
}
