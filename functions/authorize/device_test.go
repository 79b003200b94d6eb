package authorize

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/permissions"
	"github.com/applinks/applinks/shared/permissions/permissionstest"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
)

// The fake store has no device authorizations: the device tests run on
// kumo under the authorize function's write prefixes (newKumoEnv).
func (f *fakeStore) DecideDevice(context.Context, string, store.DeviceDecision, time.Time) (store.Device, error) {
	return store.Device{}, errors.New("fake store: no device authorizations")
}

const devClient = "client-device"

// deviceEnv is a kumo env with a link that allows the device grant and a
// pending device authorization of it, whose user code it returns
// (normalized).
func deviceEnv(t *testing.T) (*env, string) {
	t.Helper()
	e := newKumoEnv(t)
	now := e.clock.Now()
	raw := e.store.(realStore).raw
	if _, _, err := raw.CreateLink(context.Background(), store.NewLink{
		ID: "id-" + devClient, ClientID: devClient, Name: "Deploy <CLI>", ClientType: store.Public, Enabled: true,
		Scopes: []string{"REPO_ADMIN"}, GrantTypes: []string{shared.GrantTypeRefreshToken, shared.GrantTypeDeviceCode},
	}, now); err != nil {
		t.Fatalf("CreateLink: %v", err)
	}
	return e, e.newDevice(devClient)
}

// newDevice stores a pending device authorization of clientID asking for
// REPO_WRITE and openid, and returns its user code.
func (e *env) newDevice(clientID string) string {
	e.t.Helper()
	code, err := shared.NewUserCode(strings.NewReader(strings.Repeat(e.t.Name()+clientID+e.clock.Now().String(), 4)))
	if err != nil {
		e.t.Fatal(err)
	}
	now := e.clock.Now()
	if err := e.store.(realStore).raw.CreateDevice(context.Background(), store.Device{
		UserCodeHash: shared.HashToken(code), DeviceHash: shared.HashToken("device-" + code), ClientID: clientID,
		Scope: []string{"REPO_WRITE"}, Protocol: []string{"openid"}, Interval: 5 * time.Second,
		CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute),
	}, now); err != nil {
		e.t.Fatalf("CreateDevice: %v", err)
	}
	return code
}

// device reads the authorization of a user code.
func (e *env) device(code string) store.Device {
	e.t.Helper()
	b, err := e.store.(realStore).raw.Fetch(context.Background(), store.Keys{DeviceUserCode: shared.HashToken(code)})
	if err != nil || b.Device == nil {
		e.t.Fatalf("Fetch(device) = %v, %v", b.Device, err)
	}
	return *b.Device
}

// enterCode fetches the code form (at path) and submits it with typed as
// the code.
func (b *browser) enterCode(path, typed string) *response {
	b.t.Helper()
	r := b.get(path)
	if r.status != 200 {
		b.t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	f := parsePage(b.t, r.body).form(b.t, "/device")
	return b.submit(f, "", map[string]string{"user_code": typed})
}

// follow GETs a 303's Location.
func (b *browser) follow(r *response) *response {
	b.t.Helper()
	if r.status != http.StatusSeeOther {
		b.t.Fatalf("got %d, want 303 (body %s)", r.status, r.body)
	}
	return b.get(r.location(b.t).String())
}

// TestDevicePages: the whole verification flow as a person sees it: the
// form pre-filled from verification_uri_complete (in any case, without the
// dash), confirmed; the sign-in naming the application; the consent page
// with the code; Allow; the page that sends the user back to the device.
// The authorization then holds the approval.
func TestDevicePages(t *testing.T) {
	e, code := deviceEnv(t)
	b := e.browser()
	shown := shared.FormatUserCode(code)
	r := b.get("/device?user_code=" + strings.ToLower(code))
	p := checkPage(t, r)
	f := p.form(t, "/device")
	var texts []field
	for _, in := range f.Inputs {
		if in.Type != "hidden" {
			texts = append(texts, in)
		}
	}
	if len(texts) != 1 || texts[0].Name != "user_code" || texts[0].Value != shown {
		t.Fatalf("code form inputs %+v, want one text input user_code pre-filled with %s", texts, shown)
	}
	if !strings.Contains(p.Text, "Check that the code below is the one") {
		t.Errorf("pre-filled form: %q", p.Text)
	}
	if e.device(code).Status != store.DevicePending {
		t.Fatal("showing the pre-filled form changed the authorization")
	}
	r = b.submit(f, "", nil)
	if r.status != 303 || r.location(t).String() != "/device?user_code="+shown {
		t.Fatalf("confirm: %d %s, want 303 to the code's page", r.status, r.header.Get("Location"))
	}
	// Not signed in: the sign-in, for the application.
	r = b.follow(r)
	p = checkPage(t, r)
	if !strings.Contains(p.Text, "Sign in to 127.0.0.1") || !strings.Contains(p.Text, "to continue to Deploy <CLI>") {
		t.Errorf("login page: %q", p.Text)
	}
	r = b.signIn(r, "alice", alicePass)
	if r.status != 303 || r.location(t).String() != "/device?user_code="+shown {
		t.Fatalf("sign-in: %d to %s, want 303 to the code's page", r.status, r.header.Get("Location"))
	}
	r = b.follow(r)
	p = checkPage(t, r)
	for _, want := range []string{"Deploy <CLI> wants to access your 127.0.0.1 account from a device", shown,
		"Signed in as alice", "Update projects and repositories", "Only allow access if you started signing in",
		"Sign you in with your account"} {
		if !strings.Contains(p.Text, want) {
			t.Errorf("consent page lacks %q: %q", want, p.Text)
		}
	}
	f = p.form(t, "/device")
	r = b.submit(f, "decision=approve", nil)
	if r.status != 303 || r.location(t).String() != "/device?done=approved" {
		t.Fatalf("approve: %d to %s", r.status, r.header.Get("Location"))
	}
	r = b.follow(r)
	p = checkPage(t, r)
	if !strings.Contains(p.Text, "You can go back to your device now") {
		t.Errorf("done page: %q", p.Text)
	}
	d := e.device(code)
	g := e.store.grant(aliceID, devClient)
	if d.Status != store.DeviceApproved || d.UserID != aliceID || d.GrantID == "" || d.GrantID != g.ID ||
		strings.Join(d.Granted, " ") != "REPO_WRITE" || strings.Join(d.Protocol, " ") != "openid" {
		t.Errorf("authorization after approval = %+v (grant %s)", d, g.ID)
	}
	// The code is spent: its page says so, and so does the form.
	if r := b.get("/device?user_code=" + shown); r.status != 200 || !strings.Contains(r.body, "Connect a device") {
		t.Errorf("code page after approval: %d", r.status)
	}
	r = b.enterCode("/device", shown)
	if !strings.Contains(parsePage(t, r.body).Text, "That code is not right") {
		t.Errorf("a used code entered again: %d %q", r.status, parsePage(t, r.body).Text)
	}
}

// TestDeviceDeny: Deny records the denial; the device then gets
// access_denied (functions/token).
func TestDeviceDeny(t *testing.T) {
	e, code := deviceEnv(t)
	b := e.browser()
	r := b.signIn(b.follow(b.enterCode("/device", code)), "alice", alicePass)
	r = b.follow(r)
	r = b.submit(parsePage(t, r.body).form(t, "/device"), "decision=deny", nil)
	if r.status != 303 || r.location(t).String() != "/device?done=denied" {
		t.Fatalf("deny: %d to %s", r.status, r.header.Get("Location"))
	}
	if p := checkPage(t, b.follow(r)); !strings.Contains(p.Text, "did not get access") {
		t.Errorf("denied page: %q", p.Text)
	}
	if d := e.device(code); d.Status != store.DeviceDenied || d.UserID != aliceID {
		t.Errorf("authorization after denial = %+v", d)
	}
}

// TestDeviceConsentAlwaysShown: a signed-in user whose earlier grant
// covers the request still gets the consent page for a device, and nothing
// is decided until they choose.
func TestDeviceConsentAlwaysShown(t *testing.T) {
	e, code := deviceEnv(t)
	now := e.clock.Now()
	e.store.addGrant(store.Grant{ID: "g-earlier", UserID: aliceID, Username: "alice", ClientID: devClient,
		Scope: []string{"REPO_ADMIN"}, Protocol: []string{"openid"}, CreatedAt: now, UpdatedAt: now})
	b := e.browser()
	b.signIn(b.get("/oauth2/login?return_to=/account/authorizations"), "alice", alicePass)
	r := b.follow(b.enterCode("/device", code))
	p := checkPage(t, r)
	if r.status != 200 || !strings.Contains(p.Text, "wants to access your") {
		t.Fatalf("with a covering grant: %d %q, want the consent page", r.status, p.Text)
	}
	f := p.form(t, "/device")
	if len(f.Buttons) != 3 {
		t.Errorf("consent buttons %+v, want the account switch, approve, deny", f.Buttons)
	}
	if d := e.device(code); d.Status != store.DevicePending {
		t.Errorf("authorization decided without the user: %+v", d)
	}
}

// TestDeviceLinkNeedsConfirmation: a verification_uri_complete link (a
// phishing message's) never reaches the consent page by itself, even
// signed in; and a decision posted without this browser's confirmation of
// the code decides nothing.
func TestDeviceLinkNeedsConfirmation(t *testing.T) {
	e, code := deviceEnv(t)
	b := e.browser()
	b.signIn(b.get("/oauth2/login?return_to=/account/authorizations"), "alice", alicePass)
	r := b.get("/device?user_code=" + shared.FormatUserCode(code))
	if p := checkPage(t, r); !strings.Contains(p.Text, "Connect a device") || strings.Contains(p.Text, "wants to access") {
		t.Errorf("the link, signed in: %q, want the code form", p.Text)
	}
	// The consent form of another browser, posted here with this
	// session's CSRF token: no confirmation cookie for this code.
	other := e.browser()
	other.signIn(other.get("/oauth2/login?return_to=/account/authorizations"), "alice", alicePass)
	cf := parsePage(t, other.follow(other.enterCode("/device", code)).body).form(t, "/device")
	acct := parsePage(t, b.get("/account/authorizations").body)
	csrf := ""
	for _, f := range acct.Forms {
		if v, ok := f.get("csrf"); ok {
			csrf = v
		}
	}
	if csrf == "" {
		// No application authorized yet: take the token from the sign-out page.
		lf := parsePage(t, b.get("/oauth2/logout").body).form(t, "/oauth2/logout")
		csrf, _ = lf.get("csrf")
	}
	r = b.submit(cf, "decision=approve", map[string]string{"csrf": csrf})
	if r.status != 303 || r.location(t).String() != "/device?user_code="+shared.FormatUserCode(code) {
		t.Errorf("decision without confirmation: %d to %s, want 303 back to the code's form", r.status, r.header.Get("Location"))
	}
	if d := e.device(code); d.Status != store.DevicePending {
		t.Errorf("a decision without the browser's confirmation landed: %+v", d)
	}
}

// deviceReq is a request to the handler from a source address with a
// double-submit token of its own (one browser).
func (e *env) deviceReq(source, browserToken, typed string) *httptest.ResponseRecorder {
	form := url.Values{"user_code": {typed}, "csrf": {browserToken}}
	r := httptest.NewRequest(http.MethodPost, "/device", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.RemoteAddr = source + ":40000"
	r.AddCookie(&http.Cookie{Name: e.h.cookies.LoginCSRF, Value: browserToken})
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// token is a well-formed double-submit token unique to n.
func token(n int) string {
	return strings.Repeat("A", 40) + string(rune('A'+n/26)) + string(rune('a'+n%26)) + "x"
}

// TestDeviceWrongCodesPerSource: after 5 wrong codes from one source
// address (from 5 browsers), every code from it is 429 until the window
// ends, even a right one; another source is not affected; after the
// window the right code works.
func TestDeviceWrongCodesPerSource(t *testing.T) {
	e, code := deviceEnv(t)
	for i := range MaxWrongUserCodes {
		if w := e.deviceReq("203.0.113.7", token(i), "BBBB-BBBB"); w.Code != 200 || !strings.Contains(w.Body.String(), "That code is not right") {
			t.Fatalf("wrong code %d: %d", i+1, w.Code)
		}
	}
	w := e.deviceReq("203.0.113.7", token(9), code)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Fatalf("right code after 5 wrong ones: %d (Retry-After %q), want 429", w.Code, w.Header().Get("Retry-After"))
	}
	if w := e.deviceReq("198.51.100.1", token(10), code); w.Code != 303 {
		t.Errorf("another source: %d, want 303", w.Code)
	}
	e.clock.Add(WrongUserCodeWindow)
	fresh := e.newDevice(devClient) // the first has expired by now
	if w := e.deviceReq("203.0.113.7", token(11), fresh); w.Code != 303 {
		t.Errorf("after the window: %d, want 303", w.Code)
	}
}

// TestDeviceWrongCodesPerBrowser: after 5 wrong codes from one browser
// (from 5 addresses), its codes are 429 until the window ends.
func TestDeviceWrongCodesPerBrowser(t *testing.T) {
	e, code := deviceEnv(t)
	for i := range MaxWrongUserCodes {
		if w := e.deviceReq("203.0.113."+string(rune('1'+i)), token(0), "BBBB-BBBB"); w.Code != 200 {
			t.Fatalf("wrong code %d: %d", i+1, w.Code)
		}
	}
	if w := e.deviceReq("198.51.100.9", token(0), code); w.Code != http.StatusTooManyRequests {
		t.Errorf("right code from the same browser: %d, want 429", w.Code)
	}
	if w := e.deviceReq("198.51.100.9", token(1), code); w.Code != 303 {
		t.Errorf("another browser at that address: %d, want 303", w.Code)
	}
}

// TestDeviceRightCodesNotCounted: right codes take their attempts back, so
// many people behind one address can connect devices.
func TestDeviceRightCodesNotCounted(t *testing.T) {
	e, code := deviceEnv(t)
	for i := range 2 * MaxWrongUserCodes {
		if w := e.deviceReq("203.0.113.7", token(i), code); w.Code != 303 {
			t.Fatalf("right code %d: %d, want 303", i+1, w.Code)
		}
	}
	// Malformed input is not a guess: it is not looked up or counted.
	for i := range 2 * MaxWrongUserCodes {
		if w := e.deviceReq("203.0.113.7", token(i), "12"); w.Code != 200 || !strings.Contains(w.Body.String(), "Enter the 8 letters") {
			t.Fatalf("malformed code %d: %d", i+1, w.Code)
		}
	}
	if w := e.deviceReq("203.0.113.7", token(0), code); w.Code != 303 {
		t.Errorf("after right and malformed codes: %d, want 303", w.Code)
	}
}

// TestDeviceForms: the code form's CSRF token, expired codes, methods.
func TestDeviceForms(t *testing.T) {
	e, code := deviceEnv(t)
	// A post without the double-submit cookie: 403, nothing counted.
	form := url.Values{"user_code": {code}, "csrf": {token(0)}}
	b := e.browser()
	if r := b.post("/device", form); r.status != 403 {
		t.Errorf("post without the cookie: %d, want 403", r.status)
	}
	if w := e.deviceReq("127.0.0.1", token(0), code); w.Code != 303 {
		t.Errorf("post with the token: %d, want 303", w.Code)
	}
	// An expired code is a wrong code.
	e.clock.Add(10 * time.Minute)
	if w := e.deviceReq("127.0.0.2", token(1), code); w.Code != 200 || !strings.Contains(w.Body.String(), "That code is not right") {
		t.Errorf("expired code: %d", w.Code)
	}
	for _, m := range []string{http.MethodPut, http.MethodDelete} {
		req, _ := http.NewRequest(m, e.srv.URL+"/device", nil)
		if r := b.do(req); r.status != 405 {
			t.Errorf("%s /device: %d, want 405", m, r.status)
		}
	}
	if r := b.get("/device?user_code=%zz"); r.status != 400 {
		t.Errorf("undecodable query: %d, want 400", r.status)
	}
}

// TestDeviceConsentCSRF: a decision with a wrong CSRF token is refused.
func TestDeviceConsentCSRF(t *testing.T) {
	e, code := deviceEnv(t)
	b := e.browser()
	r := b.follow(b.signIn(b.follow(b.enterCode("/device", code)), "alice", alicePass))
	f := parsePage(t, r.body).form(t, "/device")
	if r := b.submit(f, "decision=approve", map[string]string{"csrf": token(3)}); r.status != 403 {
		t.Errorf("wrong CSRF token: %d, want 403", r.status)
	}
	if d := e.device(code); d.Status != store.DevicePending {
		t.Errorf("decided with a wrong CSRF token: %+v", d)
	}
}

// TestCodeFlowNeedsItsGrantType: a link whose grant types lack
// authorization_code cannot start the code flow: unauthorized_client, sent
// back to its (registered) redirect URI.
func TestCodeFlowNeedsItsGrantType(t *testing.T) {
	e, _ := deviceEnv(t)
	if _, _, err := e.store.(realStore).raw.CreateLink(context.Background(), store.NewLink{
		ID: "id-devonly", ClientID: "client-devonly", Secret: "s", Name: "Device only", ClientType: store.Confidential, Enabled: true,
		RedirectURIs: []string{appRedirect}, GrantTypes: []string{shared.GrantTypeDeviceCode},
	}, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	r := e.browser().get(authorizeURL(map[string]string{"client_id": "client-devonly"}))
	if r.status != http.StatusFound {
		t.Fatalf("got %d, want 302", r.status)
	}
	if q := r.location(t).Query(); q.Get("error") != "unauthorized_client" || q.Get("state") != "st-123" {
		t.Errorf("redirect %s, want error=unauthorized_client with state", r.location(t))
	}
}

// TestDeviceSwitchAccount: "Not you? Use another account" on the device's
// consent page signs out and asks for a sign-in for the same code, without
// deciding anything.
func TestDeviceSwitchAccount(t *testing.T) {
	e, code := deviceEnv(t)
	b := e.browser()
	r := b.follow(b.signIn(b.follow(b.enterCode("/device", code)), "alice", alicePass))
	r = b.submit(parsePage(t, r.body).form(t, "/device"), "account=switch", nil)
	if r.status != 303 || r.location(t).String() != "/device?user_code="+shared.FormatUserCode(code) {
		t.Fatalf("switch: %d to %s", r.status, r.header.Get("Location"))
	}
	if b.sessionCookie() != "" {
		t.Error("the session cookie is still there")
	}
	if p := checkPage(t, b.follow(r)); !strings.Contains(p.Text, "Sign in to") || !strings.Contains(p.Text, "to continue to Deploy <CLI>") {
		t.Errorf("after the switch: %q, want the sign-in for the code", p.Text)
	}
	if d := e.device(code); d.Status != store.DevicePending {
		t.Errorf("the switch decided: %+v", d)
	}
}

// TestDevicePermissionService: with PERMISSION_SOURCE=service the device's
// consent page and its approval cap the scope by the permission service's
// answer (never the stored permissions); when the service fails, a 503
// page, and nothing is decided: the device keeps waiting.
func TestDevicePermissionService(t *testing.T) {
	svc := permissionstest.New(t)
	var now func() time.Time
	e := newEnvWith(t, newRealStore(t, storetest.Kumo(t)), []func(*Options){func(o *Options) {
		c, err := permissions.New(permissions.Options{Issuer: o.Config.Issuer, URL: svc.URL, Timeout: 2 * time.Second,
			MaxCache: 0, Catalog: o.Config.Catalog, Signer: permissionstest.Signer(t),
			Now: func() time.Time { return now() }})
		if err != nil {
			t.Fatal(err)
		}
		o.Permissions = c
	}}, func(c *config.Config) {
		c.Permissions = config.Permissions{Source: config.PermissionsService, URL: svc.URL, Timeout: 2 * time.Second}
	})
	now = e.clock.Now
	raw := e.store.(realStore).raw
	if _, _, err := raw.CreateLink(context.Background(), store.NewLink{
		ID: "id-" + devClient, ClientID: devClient, Name: "Deploy <CLI>", ClientType: store.Public, Enabled: true,
		Scopes: []string{"REPO_ADMIN"}, GrantTypes: []string{shared.GrantTypeRefreshToken, shared.GrantTypeDeviceCode},
	}, e.clock.Now()); err != nil {
		t.Fatalf("CreateLink: %v", err)
	}
	code := e.newDevice(devClient) // asks for REPO_WRITE; alice's stored permission is REPO_WRITE
	shown := shared.FormatUserCode(code)
	b := e.browser()
	r := b.get("/device?user_code=" + code)
	r = b.follow(b.submit(checkPage(t, r).form(t, "/device"), "", nil))
	r = b.follow(b.signIn(r, "alice", alicePass))

	svc.Answer(http.StatusInternalServerError, `{"permissions":["SYSTEM_ADMIN"]}`)
	r = b.get("/device?user_code=" + shown)
	if r.status != http.StatusServiceUnavailable || !strings.Contains(checkPage(t, r).Text, "cannot be confirmed") {
		t.Fatalf("service failing: got %d %.300s, want the 503 page", r.status, r.body)
	}
	if d := e.device(code); d.Status != store.DevicePending {
		t.Fatalf("service failing: the authorization is %v, want pending", d.Status)
	}

	svc.Grant(0, "REPO_READ")
	r = b.get("/device?user_code=" + shown)
	p := checkPage(t, r)
	if r.status != http.StatusOK || !strings.Contains(p.Text, "View projects and repositories") || strings.Contains(p.Text, "Update projects and repositories") {
		t.Fatalf("consent: got %d %q, want REPO_READ (the service's answer), not REPO_WRITE", r.status, p.Text)
	}
	b.submit(p.form(t, "/device"), "decision=approve", nil)
	if d := e.device(code); d.Status != store.DeviceApproved || shared.FormatScope(d.Granted) != "REPO_READ" {
		t.Errorf("approved: got %v %v, want approved with REPO_READ", d.Status, d.Granted)
	}
	if len(svc.Asked()) < 2 {
		t.Errorf("the service was asked %d times, want before the page and at the approval", len(svc.Asked()))
	}
}
