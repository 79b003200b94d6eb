package authorize

import (
	"context"
	crand "crypto/rand"
	"net/http"
	"net/url"
	"slices"
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

// The resource servers of the resource indicator tests (RFC 8707).
const (
	rsAClient   = "client-rs-a"
	rsOffClient = "client-rs-off"
	resA        = "https://api.example.com/a"
	resOff      = "https://api.example.com/off"
)

// seedResourceServers adds resource server A (resource resA, scope
// REPO_READ) and a disabled one (resOff).
func (e *env) seedResourceServers() {
	now := e.clock.Now()
	e.store.addLink(store.Link{ID: "id-" + rsAClient, ClientID: rsAClient, Name: "Repos API", ClientType: store.ResourceServer,
		Enabled: true, Scopes: []string{"REPO_READ"}, ResourceURIs: []string{resA}, CreatedAt: now, UpdatedAt: now})
	e.store.addLink(store.Link{ID: "id-" + rsOffClient, ClientID: rsOffClient, Name: "Old API", ClientType: store.ResourceServer,
		Enabled: false, Scopes: []string{"REPO_WRITE"}, ResourceURIs: []string{resOff}, CreatedAt: now, UpdatedAt: now})
}

// wantRedirectError checks a redirect to the app with error code, the
// request's state and iss.
func wantRedirectError(t *testing.T, r *response, code string) {
	t.Helper()
	if r.status != http.StatusFound && r.status != http.StatusSeeOther {
		t.Fatalf("got %d (body %.300s), want a redirect with error=%s", r.status, r.body, code)
	}
	q := r.location(t).Query()
	if q.Get("error") != code || q.Get("state") != "st-123" || q.Get("iss") != testIssuer || q.Has("code") {
		t.Errorf("redirect query %v, want error=%s with state and iss, no code", q, code)
	}
}

// resourceURL is the app's authorization request for resource (raw query
// parts may repeat it).
func resourceURL(over map[string]string, extra string) string {
	return authorizeURL(over) + extra
}

// TestResourceInvalidTarget: an authorization request naming a resource
// that is not a registered resource URI of an enabled resource server
// (unknown, of a disabled link, a client's redirect URI, another case), or
// naming two, is answered invalid_target at the client's redirect URI,
// signed in or not; the client and redirect URI are checked first.
func TestResourceInvalidTarget(t *testing.T) {
	e := newKumoEnv(t)
	e.seedResourceServers()
	cases := map[string]string{
		"unknown":            "&resource=" + url.QueryEscape("https://nowhere.example.com/"),
		"disabled server":    "&resource=" + url.QueryEscape(resOff),
		"not a resource URI": "&resource=" + url.QueryEscape(appRedirect),
		"another case":       "&resource=" + url.QueryEscape(strings.ToUpper(resA)),
		"a trailing slash":   "&resource=" + url.QueryEscape(resA+"/"),
		"two resources":      "&resource=" + url.QueryEscape(resA) + "&resource=" + url.QueryEscape(resA),
		"two, one unknown":   "&resource=" + url.QueryEscape(resA) + "&resource=x",
		"too long":           "&resource=" + url.QueryEscape("https://api.example.com/"+strings.Repeat("a", maxResourceBytes)),
	}
	signedOut := e.browser()
	for name, extra := range cases {
		t.Run("signed out/"+name, func(t *testing.T) { wantRedirectError(t, signedOut.get(resourceURL(nil, extra)), "invalid_target") })
	}
	signedIn := e.browser()
	approveOn(t, e, signedIn, signedIn.flow(authorizeURL(nil)))
	for name, extra := range cases {
		t.Run("signed in/"+name, func(t *testing.T) { wantRedirectError(t, signedIn.get(resourceURL(nil, extra)), "invalid_target") })
	}
	// An unknown client with a resource: the error page, no redirect.
	r := signedOut.get(resourceURL(map[string]string{"client_id": "nobody"}, "&resource="+url.QueryEscape(resA)))
	if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
		t.Errorf("unknown client with a resource: %d %q, want the 400 page", r.status, r.header.Get("Location"))
	}
	// A resource server disabled between the sign-in and the request: the
	// remembered consent's path refuses it too.
	off := false
	if _, err := e.store.(realStore).raw.UpdateLink(context.Background(), "id-"+rsAClient, store.LinkUpdate{Enabled: &off}, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	wantRedirectError(t, signedIn.get(resourceURL(nil, "&resource="+url.QueryEscape(resA))), "invalid_target")
}

// TestResourceCode: a request for resource A shows and grants the scope
// capped by A's scopes; the consent form carries the resource; the code
// remembers the resource and its server; a remembered consent with the
// resource issues such a code at once.
func TestResourceCode(t *testing.T) {
	e := newKumoEnv(t)
	e.seedResourceServers()
	b := e.browser()
	// The app may have REPO_ADMIN, alice REPO_WRITE; A allows REPO_READ.
	path := resourceURL(map[string]string{"scope": "REPO_WRITE"}, "&resource="+url.QueryEscape(resA))
	consent := b.flow(path)
	p := checkPage(t, consent)
	if !strings.Contains(p.Text, "View projects and repositories") || strings.Contains(p.Text, "Update projects and repositories") {
		t.Errorf("consent page text %q: want REPO_READ (capped by the resource server), not REPO_WRITE", p.Text)
	}
	if v, ok := p.form(t, "/oauth2/consent").get("resource"); !ok || v != resA {
		t.Errorf("consent form resource = %q, %v, want %q", v, ok, resA)
	}
	c := approveOn(t, e, b, consent)
	if c.Resource != resA || c.ResourceClientID != rsAClient || !slices.Equal(c.Scope, []string{"REPO_READ"}) {
		t.Errorf("code = resource %q of %q, scope %v; want %q of %q, [REPO_READ]", c.Resource, c.ResourceClientID, c.Scope, resA, rsAClient)
	}
	// Remembered: the same request again, a code at once.
	e.clock.Add(time.Minute)
	r := b.get(resourceURL(map[string]string{"scope": "REPO_WRITE", "state": "st-123"}, "&resource="+url.QueryEscape(resA)))
	if r.status != http.StatusFound {
		t.Fatalf("remembered consent with a resource: %d, want 302 with a code", r.status)
	}
	if c := codeOf(t, e, r); c.Resource != resA || !slices.Equal(c.Scope, []string{"REPO_READ"}) {
		t.Errorf("remembered code = resource %q scope %v", c.Resource, c.Scope)
	}
	// Without the resource: the link's ceiling and no resource.
	c = approveOn(t, e, b, b.get(authorizeURL(map[string]string{"scope": "REPO_WRITE", "prompt": "consent"})))
	if c.Resource != "" || c.ResourceClientID != "" || !slices.Equal(c.Scope, []string{"REPO_WRITE"}) {
		t.Errorf("code without a resource = %q of %q, scope %v; want none, [REPO_WRITE]", c.Resource, c.ResourceClientID, c.Scope)
	}
}

// TestResourcePermissionService: with PERMISSION_SOURCE=service the
// service is asked about the request's scope within the link's and the
// resource server's scopes.
func TestResourcePermissionService(t *testing.T) {
	svc := permissionstest.New(t)
	var now func() time.Time
	e := newEnvWith(t, newRealStore(t, storetest.Kumo(t)), []func(*Options){func(o *Options) {
		c, err := permissions.New(permissions.Options{Issuer: o.Config.Issuer, URL: svc.URL, Timeout: 2 * time.Second,
			Catalog: o.Config.Catalog, Signer: permissionstest.Signer(t), Now: func() time.Time { return now() }})
		if err != nil {
			t.Fatal(err)
		}
		o.Permissions = c
	}}, func(c *config.Config) {
		c.Permissions = config.Permissions{Source: config.PermissionsService, URL: svc.URL, Timeout: 2 * time.Second}
	})
	now = e.clock.Now
	e.seedResourceServers()
	svc.Grant(0, "SYSTEM_ADMIN")
	b := e.browser()
	c := approveOn(t, e, b, b.flow(resourceURL(map[string]string{"scope": "SYSTEM_ADMIN"}, "&resource="+url.QueryEscape(resA))))
	if !slices.Equal(c.Scope, []string{"REPO_READ"}) {
		t.Errorf("code scope %v, want [REPO_READ]", c.Scope)
	}
	asked := svc.Asked()
	if len(asked) == 0 {
		t.Fatal("the service was not asked")
	}
	for _, a := range asked {
		if !slices.Equal(a.Body.Scopes, []string{"REPO_READ"}) {
			t.Errorf("asked about %v, want [REPO_READ] (the app's REPO_ADMIN capped by the resource server)", a.Body.Scopes)
		}
	}
}

// TestResourceDevicePages: a device authorization for a resource shows
// and approves the scope capped by its resource server; once that server
// is disabled, its page says the service is not available and nothing can
// be approved.
func TestResourceDevicePages(t *testing.T) {
	e, _ := deviceEnv(t)
	e.seedResourceServers()
	code := e.newResourceDevice(devClient, resA, rsAClient)
	b := e.browser()
	r := b.get("/device?user_code=" + code)
	r = b.follow(b.submit(checkPage(t, r).form(t, "/device"), "", nil))
	r = b.follow(b.signIn(r, "alice", alicePass))
	p := checkPage(t, r)
	if !strings.Contains(p.Text, "View projects and repositories") || strings.Contains(p.Text, "Update projects and repositories") {
		t.Errorf("device consent text %q: want REPO_READ only", p.Text)
	}
	done := b.submit(p.form(t, "/device"), "decision=approve", nil)
	if done.status != http.StatusSeeOther {
		t.Fatalf("approve: %d %.300s", done.status, done.body)
	}
	if d := e.device(code); d.Status != store.DeviceApproved || !slices.Equal(d.Granted, []string{"REPO_READ"}) {
		t.Errorf("device after approval: %v granted %v, want approved [REPO_READ]", d.Status, d.Granted)
	}

	code = e.newResourceDevice(devClient, resA, rsAClient)
	off := false
	if _, err := e.store.(realStore).raw.UpdateLink(context.Background(), "id-"+rsAClient, store.LinkUpdate{Enabled: &off}, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	r = b.get("/device?user_code=" + code)
	r = b.follow(b.submit(checkPage(t, r).form(t, "/device"), "", nil))
	if p := checkPage(t, r); r.status != http.StatusBadRequest || !strings.Contains(p.Text, "not available") {
		t.Errorf("device of a disabled resource server: %d %q, want the 400 page", r.status, p.Text)
	}
	if d := e.device(code); d.Status != store.DevicePending {
		t.Errorf("device of a disabled resource server: %v, want pending", d.Status)
	}
}

// newResourceDevice stores a pending device authorization of clientID for
// resource (of the resource server rsClientID), asking for REPO_WRITE,
// and returns its user code.
func (e *env) newResourceDevice(clientID, resource, rsClientID string) string {
	e.t.Helper()
	code, err := shared.NewUserCode(crand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	now := e.clock.Now()
	if err := e.store.(realStore).raw.CreateDevice(context.Background(), store.Device{
		UserCodeHash: shared.HashToken(code), DeviceHash: shared.HashToken("device-" + code), ClientID: clientID,
		Scope: []string{"REPO_WRITE"}, Resource: resource, ResourceClientID: rsClientID, Interval: 5 * time.Second,
		CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute),
	}, now); err != nil {
		e.t.Fatalf("CreateDevice: %v", err)
	}
	return code
}
