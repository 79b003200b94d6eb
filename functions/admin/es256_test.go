package admin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store/storetest"
	"github.com/applinks/applinks/shared/web"
)

// TestRotateSigningKeyAlg: the rotation's body may name the algorithm of
// the new key; without it the access-token algorithm is rotated; another
// value is 422 and rotates nothing; the answer and the audit event carry
// the algorithm.
func TestRotateSigningKeyAlg(t *testing.T) {
	e := newStoreEnv(t)
	got := e.do(200, http.MethodPost, "/admin/signing-keys/rotate", `{"alg":"ES256"}`)
	if got["alg"] != "ES256" || got["kid"] != "kid-1" {
		t.Errorf("rotate ES256: got %v, want alg ES256, kid-1", got)
	}
	if got := e.do(200, http.MethodPost, "/admin/signing-keys/rotate", `{}`); got["alg"] != "RS256" {
		t.Errorf("rotate with no alg: got %v, want the fake's RS256", got)
	}
	e.do(200, http.MethodPost, "/admin/signing-keys/rotate", "")
	if want := []string{"ES256", "", ""}; !slices.Equal(e.keys.algs, want) {
		t.Errorf("algorithms asked: got %q, want %q", e.keys.algs, want)
	}
	for _, body := range []string{`{"alg":"HS256"}`, `{"alg":"none"}`, `{"alg":""}`, `{"alg":"es256"}`} {
		checkError(t, e.do(422, http.MethodPost, "/admin/signing-keys/rotate", body), "validation_failed", `alg: must be "RS256" or "ES256"`)
	}
	if w := e.serve(req(http.MethodPost, "/admin/signing-keys/rotate", `{"alg":256}`)); w.Code != http.StatusBadRequest {
		t.Errorf("alg as a number: got %d, want 400", w.Code)
	}
	if w := e.serve(req(http.MethodPost, "/admin/signing-keys/rotate", `{"algorithm":"ES256"}`)); w.Code != http.StatusBadRequest {
		t.Errorf("an unknown member: got %d, want 400", w.Code)
	}
	if len(e.keys.algs) != 3 {
		t.Errorf("refused requests rotated: %q", e.keys.algs)
	}
	a := e.audits("signing_key_rotated")
	if len(a) != 3 || a[0]["alg"] != "ES256" || a[0]["previous_access_alg"] != "RS256" || a[0]["previous_kid"] != "kid-0" {
		t.Errorf("audit events: got %v", a)
	}
}

// TestRotateSigningKeyToES256OnStore: through the admin API and the
// Rotator on the store, a rotation to ES256 publishes an ES256 key that
// an instance reading the store past its active_from signs access tokens
// with.
func TestRotateSigningKeyToES256OnStore(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	st := storetest.Kumo(t)
	rot, err := signing.NewRotator(st, signing.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Options{Config: testConfig(t), Store: st, Keys: rot, Auth: BearerToken(testToken), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	web.Middleware(h, slog.New(slog.DiscardHandler), nil).ServeHTTP(w, req(http.MethodPost, "/admin/signing-keys/rotate", `{"alg":"ES256"}`))
	if w.Code != http.StatusOK {
		t.Fatalf("rotate: got %d %s", w.Code, w.Body)
	}
	var body struct{ Alg, Kid string }
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Alg != "ES256" || body.Kid == "" {
		t.Fatalf("rotate: got %s (%v), want alg ES256 and a kid", w.Body, err)
	}
	later, err := signing.New(ctx, st, signing.Options{Now: func() time.Time { return now.Add(10 * time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := later.Sign(ctx, signing.AccessClaims{Issuer: "https://i.example", Subject: "u", Audience: "https://i.example",
		ClientID: "c", JTI: "j", IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var head struct{ Alg, Kid string }
	raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err := json.Unmarshal(raw, &head); err != nil || head.Alg != "ES256" || head.Kid != body.Kid {
		t.Errorf("access token header past active_from: got %s (%v), want ES256 %s", raw, err, body.Kid)
	}
}

// TestLinkIDTokenAlgAPI: links carry id_token_signed_response_alg, RS256
// by default; asking for ES256 makes sure the key set has an ES256 key
// first (a key set without one gets it staged, audited), and a failure to
// do so creates or changes nothing; a resource server has none.
func TestLinkIDTokenAlgAPI(t *testing.T) {
	e := newStoreEnv(t)
	def := e.do(201, http.MethodPost, "/admin/links", confidentialBody)
	if def["id_token_signed_response_alg"] != "RS256" {
		t.Errorf("default: got %v, want RS256", def["id_token_signed_response_alg"])
	}
	if len(e.keys.ensured) != 0 {
		t.Errorf("an RS256 link asked for keys: %q", e.keys.ensured)
	}
	es := e.do(201, http.MethodPost, "/admin/links", `{"name":"Go app","redirect_uris":["https://go.example/cb"],"id_token_signed_response_alg":"ES256"}`)
	if es["id_token_signed_response_alg"] != "ES256" {
		t.Errorf("ES256 link: got %v", es["id_token_signed_response_alg"])
	}
	if got := e.do(200, http.MethodGet, "/admin/links/"+es["id"].(string), ""); got["id_token_signed_response_alg"] != "ES256" {
		t.Errorf("GET: got %v, want ES256", got["id_token_signed_response_alg"])
	}
	if a := e.audits("signing_key_added"); len(a) != 1 || a[0]["alg"] != "ES256" || a[0]["kid"] != "kid-ES256" {
		t.Errorf("signing_key_added: got %v, want one for the first ES256 key", a)
	}
	if a := e.audits("link_created"); len(a) != 2 || a[1]["id_token_signed_response_alg"] != "ES256" {
		t.Errorf("link_created: got %v", a)
	}
	id := def["id"].(string)
	if got := e.do(200, http.MethodPatch, "/admin/links/"+id, `{"id_token_signed_response_alg":"ES256"}`); got["id_token_signed_response_alg"] != "ES256" {
		t.Errorf("PATCH to ES256: got %v", got["id_token_signed_response_alg"])
	}
	if a := e.audits("signing_key_added"); len(a) != 1 {
		t.Errorf("a second ES256 link staged another key: %v", a)
	}
	if got := e.do(200, http.MethodPatch, "/admin/links/"+id, `{"id_token_signed_response_alg":"RS256"}`); got["id_token_signed_response_alg"] != "RS256" {
		t.Errorf("PATCH back to RS256: got %v", got["id_token_signed_response_alg"])
	}
	if want := []string{"ES256", "ES256"}; !slices.Equal(e.keys.ensured, want) {
		t.Errorf("EnsureKey calls: got %q, want %q", e.keys.ensured, want)
	}
	if a := e.audits("link_updated"); len(a) != 2 || !slices.Contains(toStrings(a[0]["fields"]), "id_token_signed_response_alg") {
		t.Errorf("link_updated: got %v", a)
	}

	for _, tc := range []struct{ name, method, path, body, want string }{
		{"unknown", "POST", "/admin/links", `{"name":"a","redirect_uris":["https://a.example/cb"],"id_token_signed_response_alg":"PS256"}`, `id_token_signed_response_alg: must be "RS256" or "ES256"`},
		{"none", "POST", "/admin/links", `{"name":"a","redirect_uris":["https://a.example/cb"],"id_token_signed_response_alg":"none"}`, `id_token_signed_response_alg: must be`},
		{"HS256 by PATCH", "PATCH", "/admin/links/" + id, `{"id_token_signed_response_alg":"HS256"}`, `id_token_signed_response_alg: must be`},
		{"resource server", "POST", "/admin/links", `{"name":"API","client_type":"resource_server","id_token_signed_response_alg":"ES256"}`, "id_token_signed_response_alg: a resource_server link gets no ID tokens"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkError(t, e.do(422, tc.method, tc.path, tc.body), "validation_failed", tc.want)
		})
	}
	rs := e.do(201, http.MethodPost, "/admin/links", `{"name":"API","client_type":"resource_server"}`)
	if _, ok := rs["id_token_signed_response_alg"]; ok {
		t.Errorf("resource server: got %v, want no id_token_signed_response_alg", rs["id_token_signed_response_alg"])
	}

	// The key set cannot be read: nothing is created or changed.
	e.keys.err = fmt.Errorf("get signing keys: %w", shared.ErrUnavailable)
	checkError(t, e.do(503, http.MethodPost, "/admin/links", `{"name":"Down","redirect_uris":["https://d.example/cb"],"id_token_signed_response_alg":"ES256"}`),
		"unavailable", "try again")
	checkError(t, e.do(503, http.MethodPatch, "/admin/links/"+id, `{"id_token_signed_response_alg":"ES256"}`), "unavailable", "try again")
	if got := e.do(200, http.MethodGet, "/admin/links/"+id, ""); got["id_token_signed_response_alg"] != "RS256" {
		t.Errorf("after the failed PATCH: got %v, want RS256 unchanged", got["id_token_signed_response_alg"])
	}
	list := e.do(200, http.MethodGet, "/admin/links", "")
	for _, l := range list["links"].([]any) {
		if l.(map[string]any)["name"] == "Down" {
			t.Error("a link was created although the key set could not be read")
		}
	}
	// An RS256 link needs no key-set read.
	e.do(201, http.MethodPost, "/admin/links", `{"name":"Up","redirect_uris":["https://u.example/cb"],"id_token_signed_response_alg":"RS256"}`)
}

// TestConsoleKeysAlgorithm: the keys page shows each key's algorithm and
// what it signs, and the rotation form offers RS256 and ES256 with the
// access-token algorithm chosen; the choice reaches the rotation; any
// other value is a 422 page that rotates nothing.
func TestConsoleKeysAlgorithm(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	cookie, csrf := e.signIn("alice", time.Minute)
	if _, err := signing.New(context.Background(), e.st, signing.Options{}); err != nil {
		t.Fatal(err)
	}
	r := e.get(cookie, "/console/keys")
	for _, want := range []string{
		`<th scope="col">Algorithm</th>`,
		`<td data-label="Algorithm">RS256</td>`, "Signs access tokens and RS256 ID tokens",
		`<td data-label="Algorithm">ES256</td>`, "Signs ES256 ID tokens",
		`<input type="radio" id="alg-RS256" name="alg" value="RS256" checked>`,
		`<input type="radio" id="alg-ES256" name="alg" value="ES256">`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("keys page: lacks %q", want)
		}
	}
	if r := e.post(cookie, "/console/keys/rotate", url.Values{"csrf": {csrf}, "alg": {"ES256"}}); r.status != http.StatusSeeOther {
		t.Fatalf("rotate ES256: got %d %s", r.status, r.body)
	}
	r = e.post(cookie, "/console/keys/rotate", url.Values{"csrf": {csrf}, "alg": {"HS256"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Choose RS256 or ES256") {
		t.Errorf("rotate HS256: got %d", r.status)
	}
	if want := []string{"ES256"}; !slices.Equal(e.keys.algs, want) {
		t.Errorf("rotations: got %q, want %q", e.keys.algs, want)
	}
	if a := e.audits("signing_key_rotated"); len(a) != 1 || a[0]["alg"] != "ES256" || a[0]["via"] != "console" {
		t.Errorf("audit: got %v", a)
	}
}

// TestConsoleLinkIDTokenAlg: the link form's "ID token signature" choice
// (RS256 checked by default) sets the link's algorithm, the edit form
// shows it, the link page names it, and editing changes it.
func TestConsoleLinkIDTokenAlg(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	cookie, csrf := e.signIn("alice", time.Minute)
	if r := e.get(cookie, "/console/links/new"); !strings.Contains(r.body, `<input type="radio" id="id_token_alg_RS256" name="id_token_alg" value="RS256" checked>`) ||
		!strings.Contains(r.body, `<input type="radio" id="id_token_alg_ES256" name="id_token_alg" value="ES256">`) {
		t.Fatal("create form: no ID token signature choice with RS256 checked")
	}
	form := url.Values{"csrf": {csrf}, "app_type": {"external"}, "direction": {"incoming"}, "name": {"Go app"},
		"redirect_uri": {"https://go.example/cb"}, "client_type": {"confidential"}, "scope": {"REPO_READ"}, "id_token_alg": {"ES256"}}
	r := e.post(cookie, "/console/links/new", form)
	if r.status != http.StatusSeeOther {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(r.location(), "/console/links/"), "/created")
	if got := e.do(200, "GET", "/admin/links/"+id, ""); got["id_token_signed_response_alg"] != "ES256" {
		t.Errorf("link from the console: got %v, want ES256", got["id_token_signed_response_alg"])
	}
	if !slices.Equal(e.keys.ensured, []string{"ES256"}) {
		t.Errorf("EnsureKey: got %q, want [ES256]", e.keys.ensured)
	}
	if p := e.get(cookie, "/console/links/"+id); !strings.Contains(p.body, "<dt>ID token signature</dt><dd>ES256</dd>") {
		t.Error("link page does not name the algorithm")
	}
	if edit := e.get(cookie, "/console/links/"+id+"/edit"); !strings.Contains(edit.body, `value="ES256" checked`) {
		t.Error("edit form: ES256 not checked")
	}
	ef := url.Values{"csrf": {csrf}, "name": {"Go app"}, "redirect_uri": {"https://go.example/cb"}, "scope": {"REPO_READ"}, "id_token_alg": {"RS256"}}
	if r := e.post(cookie, "/console/links/"+id+"/edit", ef); r.status != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", r.status, r.body)
	}
	if got := e.do(200, "GET", "/admin/links/"+id, ""); got["id_token_signed_response_alg"] != "RS256" {
		t.Errorf("after edit: got %v, want RS256", got["id_token_signed_response_alg"])
	}
	ef.Set("id_token_alg", "none")
	if r := e.post(cookie, "/console/links/"+id+"/edit", ef); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "ID token signature must be &#34;RS256&#34; or &#34;ES256&#34;.") {
		t.Errorf("edit with alg none: got %d", r.status)
	}
	// A form without the field leaves the algorithm as it is.
	ef.Del("id_token_alg")
	e.do(200, http.MethodPatch, "/admin/links/"+id, `{"id_token_signed_response_alg":"ES256"}`)
	if r := e.post(cookie, "/console/links/"+id+"/edit", ef); r.status != http.StatusSeeOther {
		t.Fatalf("edit without the field: %d", r.status)
	}
	if got := e.do(200, "GET", "/admin/links/"+id, ""); got["id_token_signed_response_alg"] != "ES256" {
		t.Errorf("edit without the field: got %v, want ES256 kept", got["id_token_signed_response_alg"])
	}
}
