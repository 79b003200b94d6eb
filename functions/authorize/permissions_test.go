package authorize

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/permissions"
	"github.com/applinks/applinks/shared/permissions/permissionstest"
)

// newPermEnv is a handler on the fake store whose permissions come from
// the permission service svc (PERMISSION_SOURCE=service), with timeout.
func newPermEnv(t *testing.T, timeout time.Duration) (*env, *permissionstest.Service) {
	t.Helper()
	svc := permissionstest.New(t)
	var now func() time.Time
	f := newFakeStore()
	e := newEnvWith(t, f, []func(*Options){func(o *Options) {
		c, err := permissions.New(permissions.Options{Issuer: o.Config.Issuer, URL: svc.URL, Timeout: timeout,
			MaxCache: time.Minute, Catalog: o.Config.Catalog, Signer: permissionstest.Signer(t),
			Now: func() time.Time { return now() }})
		if err != nil {
			t.Fatal(err)
		}
		o.Permissions = c
	}}, func(c *config.Config) {
		c.Permissions = config.Permissions{Source: config.PermissionsService, URL: svc.URL, Timeout: timeout, Cache: time.Minute}
	})
	e.fake = f
	now = e.clock.Now
	return e, svc
}

// TestPermissionServiceAtConsent: with PERMISSION_SOURCE=service the
// consent page shows the scope capped by the service's answer, not by the
// stored permissions; the service is asked about the request's scope
// within the link's (alice, the app, no unverified email), before the page
// and again at the approval, whose code carries the capped scope.
func TestPermissionServiceAtConsent(t *testing.T) {
	e, svc := newPermEnv(t, 2*time.Second)
	svc.Grant(0, "REPO_READ") // alice's stored permission is REPO_WRITE
	b := e.browser()
	consent := b.flow(authorizeURL(map[string]string{"scope": "SYSTEM_ADMIN"}))
	if consent.status != http.StatusOK {
		t.Fatalf("consent: got %d, want 200 (body %.300s)", consent.status, consent.body)
	}
	p := checkPage(t, consent)
	if !strings.Contains(p.Text, "View projects and repositories") || strings.Contains(p.Text, "Update projects and repositories") {
		t.Errorf("consent page text %q: want REPO_READ (the service's answer), not REPO_WRITE (stored)", p.Text)
	}
	asked := svc.Asked()
	if len(asked) != 1 {
		t.Fatalf("got %d requests to the service before the consent page, want 1", len(asked))
	}
	want := permissions.Request{Sub: aliceID, ClientID: appClient, Scopes: []string{"REPO_ADMIN"}, Username: "alice"}
	if got := asked[0].Body; got.Sub != want.Sub || got.ClientID != want.ClientID || !slices.Equal(got.Scopes, want.Scopes) ||
		got.Username != want.Username || got.Email != "" || got.Upstream != nil {
		t.Errorf("request: got %+v, want %+v", got, want)
	}
	c := approveOn(t, e, b, consent)
	if !slices.Equal(c.Scope, []string{"REPO_READ"}) {
		t.Errorf("code scope: got %v, want [REPO_READ]", c.Scope)
	}
	if svc.Count() != 2 {
		t.Errorf("got %d requests, want 2 (the consent page and the approval)", svc.Count())
	}

	// Raised at the service: the next request (remembered consent, which
	// covers REPO_READ only) gets the consent page for the wider scope;
	// lowered: a code at once, with the lower scope.
	svc.Grant(0, "REPO_ADMIN")
	if r := b.get(authorizeURL(map[string]string{"scope": "REPO_WRITE"})); r.status != http.StatusOK {
		t.Errorf("raised: got %d, want 200 (consent for the wider scope)", r.status)
	}
	svc.Grant(0)
	r := b.get(authorizeURL(map[string]string{"scope": "REPO_READ"}))
	if r.status != http.StatusFound {
		t.Fatalf("lowered: got %d, want 302 with a code", r.status)
	}
	if c := codeOf(t, e, r); !slices.Equal(c.Scope, []string{"PUBLIC_REPOS"}) {
		t.Errorf("lowered to none: code scope %v, want the baseline [PUBLIC_REPOS]", c.Scope)
	}
}

// TestPermissionServiceFailsAtConsent: when the service fails (a status,
// a timeout), the consent page is a 503 page that says the permissions
// cannot be confirmed (no form, no redirect, no code, no grant), even with
// a remembered consent; prompt=none goes back to the client with
// error=temporarily_unavailable; an approval posted meanwhile is the same
// 503 page. An unknown scope is invalid_scope before the service is asked.
func TestPermissionServiceFailsAtConsent(t *testing.T) {
	e, svc := newPermEnv(t, 300*time.Millisecond)
	b := e.browser()
	svc.Grant(0, "REPO_WRITE")
	consent := b.flow(authorizeURL(map[string]string{"scope": "REPO_WRITE"}))
	approveOn(t, e, b, consent) // a remembered consent from now on
	svc.Grant(0, "REPO_ADMIN")
	consent = b.get(authorizeURL(map[string]string{"scope": "REPO_ADMIN"}))
	if consent.status != http.StatusOK {
		t.Fatalf("consent: got %d, want 200", consent.status)
	}
	grant := e.store.grant(aliceID, appClient)

	for _, fail := range []struct {
		name string
		set  func()
	}{
		{"500", func() { svc.Answer(http.StatusInternalServerError, `{"permissions":["SYSTEM_ADMIN"]}`) }},
		{"timeout", func() { svc.Grant(0, "SYSTEM_ADMIN"); svc.Block() }},
	} {
		t.Run(fail.name, func(t *testing.T) {
			fail.set()
			defer svc.Unblock()
			before := len(e.fake.codes)
			for _, scope := range []string{"REPO_ADMIN", "REPO_WRITE"} { // the second is remembered
				r := b.get(authorizeURL(map[string]string{"scope": scope}))
				if r.status != http.StatusServiceUnavailable {
					t.Fatalf("scope %s: got %d, want 503 (body %.300s)", scope, r.status, r.body)
				}
				p := checkPage(t, r)
				if len(p.Forms) != 0 || r.header.Get("Location") != "" {
					t.Errorf("scope %s: the 503 page has %d forms, Location %q; want neither", scope, len(p.Forms), r.header.Get("Location"))
				}
				for _, want := range []string{"Your permissions cannot be confirmed right now", "Build <Bot> & Co", "Nothing has been shared", "temporarily_unavailable"} {
					if !strings.Contains(p.Text, want) {
						t.Errorf("scope %s: page text %q lacks %q", scope, p.Text, want)
					}
				}
			}
			r := b.get(authorizeURL(map[string]string{"scope": "REPO_WRITE", "prompt": "none"}))
			if r.status != http.StatusFound {
				t.Fatalf("prompt=none: got %d, want 302", r.status)
			}
			q := r.location(t).Query()
			if q.Get("error") != shared.CodeTemporarilyUnavailable || q.Get("state") != "st-123" || q.Get("iss") != testIssuer || q.Has("code") {
				t.Errorf("prompt=none: got %v, want error=temporarily_unavailable with state and iss, no code", q)
			}
			f := parsePage(t, consent.body).form(t, "/oauth2/consent")
			a := b.submit(f, "decision=approve", nil)
			if a.status != http.StatusServiceUnavailable || a.header.Get("Location") != "" ||
				!strings.Contains(parsePage(t, a.body).Text, "Your permissions cannot be confirmed right now") {
				t.Errorf("approve: got %d Location %q, want the 503 page", a.status, a.header.Get("Location"))
			}
			if len(e.fake.codes) != before {
				t.Errorf("got %d new codes, want none", len(e.fake.codes)-before)
			}
			if g := e.store.grant(aliceID, appClient); !g.UpdatedAt.Equal(grant.UpdatedAt) || !slices.Equal(g.Scope, grant.Scope) {
				t.Errorf("grant changed to %+v, want %+v", g, grant)
			}
		})
	}

	asked := svc.Count()
	r := b.get(authorizeURL(map[string]string{"scope": "NOPE"}))
	if q := r.location(t).Query(); q.Get("error") != shared.CodeInvalidScope || svc.Count() != asked {
		t.Errorf("unknown scope: got %v after %d requests to the service, want invalid_scope and none", q, svc.Count()-asked)
	}
	// Back: the flow works again.
	svc.Grant(0, "REPO_ADMIN")
	if c := approveOn(t, e, b, b.get(authorizeURL(map[string]string{"scope": "REPO_ADMIN"}))); !slices.Equal(c.Scope, []string{"REPO_ADMIN"}) {
		t.Errorf("after the service came back: code scope %v, want [REPO_ADMIN]", c.Scope)
	}
}

// TestPermissionServiceNeedsClient: New refuses PERMISSION_SOURCE=service
// without a client, and with stored permissions the client is never used.
func TestPermissionServiceNeedsClient(t *testing.T) {
	cfg := config.Config{Issuer: testIssuer, AuthCodeTTL: time.Minute,
		Permissions: config.Permissions{Source: config.PermissionsService, URL: "https://perms.example.com/p", Timeout: time.Second}}
	if _, err := New(Options{Config: cfg, Store: newFakeStore()}); err == nil {
		t.Error("New: got nil, want an error")
	}
	svc := permissionstest.New(t)
	e := newEnvWith(t, newFakeStore(), []func(*Options){func(o *Options) {
		c, err := permissions.New(permissions.Options{Issuer: testIssuer, URL: svc.URL, Timeout: time.Second,
			Catalog: shared.DefaultCatalog(), Signer: permissionstest.Signer(t)})
		if err != nil {
			t.Fatal(err)
		}
		o.Permissions = c
	}})
	b := e.browser()
	c := approveOn(t, e, b, b.flow(authorizeURL(map[string]string{"scope": "REPO_ADMIN"})))
	if !slices.Equal(c.Scope, []string{"REPO_WRITE"}) || svc.Count() != 0 {
		t.Errorf("stored: code scope %v after %d requests to the service, want the stored [REPO_WRITE] after none", c.Scope, svc.Count())
	}
}
