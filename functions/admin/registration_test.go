package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
)

func (s errStore) GetRegistrationPolicy(context.Context) (shared.RegistrationPolicy, time.Time, bool, error) {
	return shared.RegistrationPolicy{}, time.Time{}, false, s.err
}
func (s errStore) PutRegistrationPolicy(context.Context, shared.RegistrationPolicy, time.Time) error {
	return s.err
}
func (s errStore) ListLinksBy(context.Context, store.LinkFilter, int, string) ([]store.Link, string, error) {
	return nil, "", s.err
}
func (s errStore) SetLinkStatus(context.Context, string, string, time.Time) (store.Link, error) {
	return store.Link{}, s.err
}
func (s errStore) CountPendingLinks(context.Context) (int, error) { return 0, s.err }
func (s errStore) RegistrationAttempt(context.Context, string, time.Time) (bool, error) {
	return false, s.err
}

// putPolicy saves the registration policy through the API.
func (e *env) putPolicy(dynamicMode string, dynamicScopes ...string) {
	e.t.Helper()
	p := shared.DefaultRegistrationPolicy(e.cfg.Catalog)
	p.DynamicRegistration.Mode = dynamicMode
	if dynamicScopes != nil {
		p.DynamicRegistration.Scopes = dynamicScopes
	}
	b, _ := json.Marshal(p)
	e.do(http.StatusOK, http.MethodPut, "/admin/client-registration", string(b))
}

// registerReq is an unauthenticated registration from addr.
func registerReq(body, addr string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, RegisterPath, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.RemoteAddr = addr
	return r
}

// register posts a registration and decodes the answer.
func (e *env) register(wantStatus int, body, addr string) (map[string]any, *httptest.ResponseRecorder) {
	e.t.Helper()
	w := e.serve(registerReq(body, addr))
	if w.Code != wantStatus {
		e.t.Fatalf("register %s: got %d, want %d: %s", body, w.Code, wantStatus, w.Body.String())
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		e.t.Errorf("register: Cache-Control %q, want no-store", cc)
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		e.t.Fatalf("register: %v: %s", err, w.Body.String())
	}
	return m, w
}

// TestClientRegistrationPolicy: GET answers the default until a policy is
// saved; PUT replaces the whole document, refuses an invalid one with 422
// naming every bad field (and saves nothing), and is audited and recorded
// as the policy's activity.
func TestClientRegistrationPolicy(t *testing.T) {
	e := newStoreEnv(t)
	got := e.do(http.StatusOK, http.MethodGet, "/admin/client-registration", "")
	var want map[string]any
	b, _ := json.Marshal(shared.DefaultRegistrationPolicy(e.cfg.Catalog))
	_ = json.Unmarshal(b, &want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("default policy: got %v, want %v", got, want)
	}
	bad := `{"metadata_documents": {"mode": "sometimes", "trusted_hosts": ["Example.COM", "ok.example"], "scopes": []},
		"dynamic_registration": {"mode": "open", "scopes": ["NOPE"], "idle_days": 0}}`
	body := e.do(http.StatusUnprocessableEntity, http.MethodPut, "/admin/client-registration", bad)
	var fields []string
	for _, f := range body["fields"].([]any) {
		fields = append(fields, f.(map[string]any)["field"].(string))
	}
	wantFields := []string{"dynamic_registration.idle_days", "dynamic_registration.scopes", "metadata_documents.mode", "metadata_documents.trusted_hosts[0]"}
	if !slices.Equal(fields, wantFields) {
		t.Fatalf("fields %v, want %v (body %v)", fields, wantFields, body)
	}
	for _, f := range wantFields {
		if !strings.Contains(body["message"].(string), f) {
			t.Errorf("message %q does not name %s", body["message"], f)
		}
	}
	if got := e.do(http.StatusOK, http.MethodGet, "/admin/client-registration", ""); got["dynamic_registration"].(map[string]any)["mode"] != "off" {
		t.Fatalf("a refused policy was saved: %v", got)
	}
	e.do(http.StatusBadRequest, http.MethodPut, "/admin/client-registration", `{"metadata_documents": {}, "extra": 1}`)

	good := `{"metadata_documents": {"mode": "trusted_hosts", "trusted_hosts": [".agents.example"], "scopes": ["REPO_WRITE", "REPO_READ"]},
		"dynamic_registration": {"mode": "approval", "scopes": ["REPO_READ"], "idle_days": 7}}`
	put := e.do(http.StatusOK, http.MethodPut, "/admin/client-registration", good)
	if s := put["metadata_documents"].(map[string]any)["scopes"]; len(s.([]any)) != 2 || s.([]any)[0] != "REPO_READ" {
		t.Errorf("scopes not in catalog order: %v", s)
	}
	got = e.do(http.StatusOK, http.MethodGet, "/admin/client-registration", "")
	if dr := got["dynamic_registration"].(map[string]any); dr["mode"] != "approval" || dr["idle_days"] != 7.0 {
		t.Fatalf("saved policy: %v", got)
	}
	a := e.audits("client_registration_changed")
	if len(a) != 1 || a[0]["dynamic_registration_mode"] != "approval" || a[0]["principal"] != tokenPrincipal {
		t.Fatalf("audit events: %v", a)
	}
	evs, _, err := e.st.ListEvents(context.Background(), store.EventWriterAdmin, store.EventSubject{Kind: store.EventPolicy, ID: policySubject}, 10, "", e.clock.Now())
	if err != nil || len(evs) != 1 || evs[0].Event != "client_registration_changed" {
		t.Fatalf("policy activity: %v, %v", evs, err)
	}
}

// TestRegister: RFC 7591 registration under each mode: off is 404; open
// makes an active link (confidential with a secret shown once, or public
// without), unknown metadata ignored, scopes above the ceiling dropped;
// approval makes a pending link (201 too), which the API approves or
// rejects; invalid metadata is 400 with the RFC's error codes.
func TestRegister(t *testing.T) {
	e := newStoreEnv(t)
	const addr = "192.0.2.10:5000"
	reg := `{"client_name": "Agent", "redirect_uris": ["http://127.0.0.1/cb"], "grant_types": ["authorization_code", "refresh_token"], "logo_uri": "https://x.example/l.png", "software_id": "x"}`
	m, _ := e.register(http.StatusNotFound, reg, addr)
	if m["error"] != "not_found" {
		t.Fatalf("mode off: %v", m)
	}
	e.putPolicy(shared.ModeOpen, "REPO_READ")

	m, _ = e.register(http.StatusCreated, reg, addr)
	if m["client_id"] == "" || m["client_secret"] == nil || m["client_secret_expires_at"] != 0.0 || m["client_id_issued_at"] != float64(e.clock.Now().Unix()) ||
		m["token_endpoint_auth_method"] != "client_secret_basic" || m["scope"] != "REPO_READ" || m["client_name"] != "Agent" {
		t.Fatalf("open registration: %v", m)
	}
	if _, ok := m["logo_uri"]; ok {
		t.Error("unknown metadata echoed")
	}
	link, err := e.st.(*store.Store).GetLinkByClientID(context.Background(), m["client_id"].(string))
	if err != nil || link.Origin != shared.OriginDynamic || link.Status != shared.StatusActive || !link.Usable() ||
		!link.VerifySecret(m["client_secret"].(string), e.clock.Now()) || !slices.Equal(link.Scopes, []string{"REPO_READ"}) {
		t.Fatalf("registered link: %+v, %v", link, err)
	}
	if a := e.audits("link_registered"); len(a) != 1 || a[0]["status"] != "active" || a[0]["source"] != "192.0.2.10" {
		t.Fatalf("audit: %v", a)
	}

	m, _ = e.register(http.StatusCreated, `{"client_name": "CLI", "redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "none", "scope": "openid REPO_ADMIN UNKNOWN"}`, addr)
	if _, ok := m["client_secret"]; ok || m["scope"] != "openid REPO_READ" || m["token_endpoint_auth_method"] != "none" {
		t.Fatalf("public registration: %v", m)
	}
	if g := m["grant_types"].([]any); len(g) != 1 || g[0] != "authorization_code" {
		t.Errorf("default grant_types: %v", g)
	}

	for _, c := range []struct{ body, code string }{
		{`{"redirect_uris": ["http://evil.example/cb"]}`, "invalid_redirect_uri"},
		{`{"redirect_uris": []}`, "invalid_redirect_uri"},
		{`{"redirect_uris": "https://a.example/cb"}`, "invalid_redirect_uri"},
		{`{"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}`, "invalid_client_metadata"},
		{`{"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}`, "invalid_client_metadata"},
		{`{"redirect_uris": ["https://a.example/cb"], "grant_types": ["client_credentials"]}`, "invalid_client_metadata"},
		{`{"redirect_uris": ["https://a.example/cb"], "client_name": 7}`, "invalid_client_metadata"},
		{`{"redirect_uris": ["https://a.example/cb"], "client_name": "a\u202eb"}`, "invalid_client_metadata"},
		{`{"redirect_uris": ["https://a.example/cb"], "scope": "  "}`, "invalid_client_metadata"},
		{`[1]`, "invalid_client_metadata"},
	} {
		m, _ := e.register(http.StatusBadRequest, c.body, addr)
		if m["error"] != c.code || m["error_description"] == "" {
			t.Errorf("%s: got %v, want %s", c.body, m, c.code)
		}
	}

	e.putPolicy(shared.ModeApproval)
	m, _ = e.register(http.StatusCreated, reg, addr)
	pending, err := e.st.(*store.Store).GetLinkByClientID(context.Background(), m["client_id"].(string))
	if err != nil || pending.Status != shared.StatusPending || pending.Usable() || !slices.Equal(pending.Scopes, []string{e.cfg.Catalog.Baseline()}) {
		t.Fatalf("approval registration: %+v, %v", pending, err)
	}
	listed := e.do(http.StatusOK, http.MethodGet, "/admin/links?origin=dynamic&status=pending", "")["links"].([]any)
	if len(listed) != 1 || listed[0].(map[string]any)["id"] != pending.ID || listed[0].(map[string]any)["origin"] != "dynamic" {
		t.Fatalf("pending links: %v", listed)
	}
	v := e.do(http.StatusOK, http.MethodPost, "/admin/links/"+pending.ID+"/approve", "")
	if v["status"] != "active" || v["origin"] != "dynamic" {
		t.Fatalf("approved: %v", v)
	}
	v = e.do(http.StatusOK, http.MethodPost, "/admin/links/"+pending.ID+"/reject", "")
	if v["status"] != "rejected" {
		t.Fatalf("rejected: %v", v)
	}
	if l, _ := e.st.GetLink(context.Background(), pending.ID); l.Status != shared.StatusRejected || l.Usable() {
		t.Fatalf("rejected link: %+v", l)
	}
	if a, r := e.audits("link_approved"), e.audits("link_rejected"); len(a) != 1 || len(r) != 1 || a[0]["link_id"] != pending.ID {
		t.Fatalf("decision audits: %v %v", a, r)
	}
	admin := e.do(http.StatusCreated, http.MethodPost, "/admin/links", `{"name": "Admin's", "redirect_uris": ["https://a.example/cb"]}`)
	if admin["origin"] != "admin" || admin["status"] != "active" {
		t.Fatalf("an admin link's origin and status: %v", admin)
	}
	checkError(t, e.do(http.StatusConflict, http.MethodPost, "/admin/links/"+admin["id"].(string)+"/approve", ""), "conflict", "created by an administrator")
	e.do(http.StatusNotFound, http.MethodPost, "/admin/links/nope/reject", "")
	checkError(t, e.do(http.StatusUnprocessableEntity, http.MethodGet, "/admin/links?status=approved", ""), "validation_failed", "status")
	checkError(t, e.do(http.StatusUnprocessableEntity, http.MethodGet, "/admin/links?origin=self", ""), "validation_failed", "origin")
	all := e.do(http.StatusOK, http.MethodGet, "/admin/links?origin=admin", "")["links"].([]any)
	if len(all) != 1 || all[0].(map[string]any)["id"] != admin["id"] {
		t.Fatalf("admin links: %v", all)
	}
}

// pendingFull reports the pending links as at the limit.
type pendingFull struct{ *store.Store }

func (pendingFull) CountPendingLinks(context.Context) (int, error) {
	return store.MaxPendingLinks, nil
}

// TestRegisterLimits: MaxRegistrationsPerSource registrations per source
// (an IPv6 /64 is one source) an hour, then 429 with Retry-After until the
// window ends, others unaffected; with MaxPendingLinks pending, approval
// mode answers 429 and creates nothing.
func TestRegisterLimits(t *testing.T) {
	e := newStoreEnv(t)
	e.putPolicy(shared.ModeOpen)
	reg := `{"redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "none"}`
	for i := range store.MaxRegistrationsPerSource {
		// Addresses of one /64.
		e.register(http.StatusCreated, reg, "[2001:db8:1:2::"+string(rune('a'+i%6))+"]:443")
	}
	m, w := e.register(http.StatusTooManyRequests, reg, "[2001:db8:1:2:ffff::1]:443")
	if m["error"] != "too_many_requests" || w.Header().Get("Retry-After") != "3600" {
		t.Fatalf("over the limit: %v, Retry-After %q", m, w.Header().Get("Retry-After"))
	}
	e.register(http.StatusCreated, reg, "[2001:db8:1:3::1]:443")
	e.clock.Add(store.RegistrationWindow)
	e.register(http.StatusCreated, reg, "[2001:db8:1:2::1]:443")
	if l := e.do(http.StatusOK, http.MethodGet, "/admin/links?origin=dynamic&limit=100", "")["links"].([]any); len(l) != store.MaxRegistrationsPerSource+2 {
		t.Fatalf("%d links registered, want %d", len(l), store.MaxRegistrationsPerSource+2)
	}
	if name := e.do(http.StatusOK, http.MethodGet, "/admin/links?origin=dynamic&limit=1", "")["links"].([]any)[0].(map[string]any)["name"]; name != "app.example" {
		t.Errorf("the name of a registration without client_name: %v, want the redirect host", name)
	}

	full := newEnv(t, pendingFull{e.st.(*store.Store)}, nil)
	full.putPolicy(shared.ModeApproval)
	m, _ = full.register(http.StatusTooManyRequests, reg, "198.51.100.7:1")
	if m["error"] != "too_many_requests" {
		t.Fatalf("pending full: %v", m)
	}
	if n, _ := e.st.CountPendingLinks(context.Background()); n != 0 {
		t.Fatalf("a refused registration left %d pending links", n)
	}
}

// TestOpenAPIClientRegistration: the ClientRegistration schema lists
// exactly the JSON fields of the policy document and of its two parts.
func TestOpenAPIClientRegistration(t *testing.T) {
	type schema struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	var d struct {
		Components struct {
			Schemas map[string]schema `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPI(), &d); err != nil {
		t.Fatal(err)
	}
	fieldsOf := func(typ reflect.Type) []string {
		var out []string
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			out = append(out, name)
		}
		slices.Sort(out)
		return out
	}
	keys := func(s schema) []string {
		var out []string
		for k := range s.Properties {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	top := d.Components.Schemas["ClientRegistration"]
	for name, typ := range map[string]reflect.Type{
		"":                     reflect.TypeFor[shared.RegistrationPolicy](),
		"metadata_documents":   reflect.TypeFor[shared.MetadataDocumentPolicy](),
		"dynamic_registration": reflect.TypeFor[shared.DynamicRegistrationPolicy](),
	} {
		s := top
		if name != "" {
			s = schema{}
			if err := json.Unmarshal(top.Properties[name], &s); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := keys(s), fieldsOf(typ); !slices.Equal(got, want) {
			t.Errorf("ClientRegistration %q: documented %v, want %v", name, got, want)
		}
	}
}
