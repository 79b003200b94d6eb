package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
)

// base64url without padding: the alphabet of ids and client secrets.
var (
	reID     = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)
	reSecret = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
)

// linkBody is a link as the API answers it.
type linkBody struct {
	ID           string    `json:"id"`
	ClientID     string    `json:"client_id"`
	ClientSecret *string   `json:"client_secret"`
	Name         string    `json:"name"`
	RedirectURIs []string  `json:"redirect_uris"`
	PostLogout   []string  `json:"post_logout_redirect_uris"`
	Scopes       []string  `json:"scopes"`
	ClientType   string    `json:"client_type"`
	Enabled      bool      `json:"enabled"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// asLink re-decodes a response body into linkBody.
func asLink(t *testing.T, m map[string]any) linkBody {
	t.Helper()
	b, _ := json.Marshal(m)
	var l linkBody
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatalf("decode link %s: %v", b, err)
	}
	return l
}

// createLink creates a link through the API and returns it.
func (e *env) createLink(body string, header ...string) linkBody {
	e.t.Helper()
	return asLink(e.t, e.do(201, http.MethodPost, "/admin/links", body, header...))
}

const confidentialBody = `{"name":"  Jenkins  ","redirect_uris":["https://ci.example.com/oauth/callback","http://127.0.0.1/cb"],"scopes":["REPO_WRITE","REPO_READ","REPO_WRITE"]}`

func TestLinkValidation(t *testing.T) {
	e := newEnv(t, errStore{err: fmt.Errorf("the store must not be reached")}, nil)
	uris := func(n int) string {
		var s []string
		for i := range n {
			s = append(s, fmt.Sprintf(`"https://app.example.com/cb/%d"`, i))
		}
		return "[" + strings.Join(s, ",") + "]"
	}
	tests := []struct {
		name, body, field, reason string
	}{
		{"name missing", `{"redirect_uris":["https://a.example/cb"]}`, "name: ", "required"},
		{"name blank", `{"name":"   ","redirect_uris":["https://a.example/cb"]}`, "name: ", "empty"},
		{"name too long", `{"name":"` + strings.Repeat("é", MaxNameRunes+1) + `","redirect_uris":["https://a.example/cb"]}`, "name: ", "maximum of 200"},
		{"name control", `{"name":"a\u0007b","redirect_uris":["https://a.example/cb"]}`, "name: ", "control"},
		{"name newline", `{"name":"a\nb","redirect_uris":["https://a.example/cb"]}`, "name: ", "control"},
		{"name bidi override", `{"name":"abc\u202Egpj.exe","redirect_uris":["https://a.example/cb"]}`, "name: ", "U+202E"},
		{"name zero-width space", `{"name":"Jen\u200Bkins","redirect_uris":["https://a.example/cb"]}`, "name: ", "zero-width character U+200B"},
		{"name arabic letter mark", `{"name":"a\u061Cb","redirect_uris":["https://a.example/cb"]}`, "name: ", "bidirectional control character U+061C"},
		{"name isolate", `{"name":"a\u2067b","redirect_uris":["https://a.example/cb"]}`, "name: ", "U+2067"},
		{"name byte order mark", `{"name":"\uFEFFJenkins","redirect_uris":["https://a.example/cb"]}`, "name: ", "zero-width character U+FEFF"},
		{"name right-to-left mark", `{"name":"Jenkins\u200F","redirect_uris":["https://a.example/cb"]}`, "name: ", "U+200F"},
		{"client type", `{"name":"a","client_type":"spa","redirect_uris":["https://a.example/cb"]}`, "client_type: ", "confidential"},
		{"redirect uris missing", `{"name":"a"}`, "redirect_uris: ", "at least one"},
		{"redirect uris empty", `{"name":"a","redirect_uris":[]}`, "redirect_uris: ", "at least one"},
		{"redirect uris null", `{"name":"a","redirect_uris":null}`, "redirect_uris: ", "at least one"},
		{"too many redirect uris", `{"name":"a","redirect_uris":` + uris(11) + `}`, "redirect_uris: ", "maximum of 10"},
		{"http not loopback", `{"name":"a","redirect_uris":["https://a.example/cb","http://a.example/cb"]}`, "redirect_uris[1]: ", "loopback"},
		{"fragment", `{"name":"a","redirect_uris":["https://a.example/cb#x"]}`, "redirect_uris[0]: ", "fragment"},
		{"userinfo", `{"name":"a","redirect_uris":["https://u:p@a.example/cb"]}`, "redirect_uris[0]: ", "userinfo"},
		{"wildcard", `{"name":"a","redirect_uris":["https://*.a.example/cb"]}`, "redirect_uris[0]: ", "wildcard"},
		{"relative", `{"name":"a","redirect_uris":["/cb"]}`, "redirect_uris[0]: ", "absolute"},
		{"scheme without dot", `{"name":"a","redirect_uris":["myapp:/cb"]}`, "redirect_uris[0]: ", "private-use"},
		{"too long uri", `{"name":"a","redirect_uris":["https://a.example/` + strings.Repeat("a", 2000) + `"]}`, "redirect_uris[0]: ", "maximum of 2000"},
		{"duplicate uri", `{"name":"a","redirect_uris":["https://a.example/cb","https://b.example/cb","https://a.example/cb"]}`, "redirect_uris[2]: ", "duplicates redirect_uris[0]"},
		{"resource server with uris", `{"name":"a","client_type":"resource_server","redirect_uris":["https://a.example/cb"]}`, "redirect_uris: ", "resource_server"},
		{"post-logout http not loopback", `{"name":"a","redirect_uris":["https://a.example/cb"],"post_logout_redirect_uris":["http://a.example/bye"]}`, "post_logout_redirect_uris[0]: ", "loopback"},
		{"post-logout wildcard", `{"name":"a","redirect_uris":["https://a.example/cb"],"post_logout_redirect_uris":["https://a.example/bye","https://*.a.example/bye"]}`, "post_logout_redirect_uris[1]: ", "wildcard"},
		{"too many post-logout uris", `{"name":"a","redirect_uris":["https://a.example/cb"],"post_logout_redirect_uris":` + uris(11) + `}`, "post_logout_redirect_uris: ", "maximum of 10"},
		{"resource server with post-logout uris", `{"name":"a","client_type":"resource_server","post_logout_redirect_uris":["https://a.example/bye"]}`, "post_logout_redirect_uris: ", "resource_server"},
		{"unknown scope", `{"name":"a","redirect_uris":["https://a.example/cb"],"scopes":["NOPE"]}`, "scopes[0]: ", `"NOPE"`},
		{"second scope unknown", `{"name":"a","redirect_uris":["https://a.example/cb"],"scopes":["REPO_READ","repo_write"]}`, "scopes[1]: ", `"repo_write"`},
		{"empty scope", `{"name":"a","redirect_uris":["https://a.example/cb"],"scopes":[""]}`, "scopes[0]: ", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := e.do(422, http.MethodPost, "/admin/links", tt.body)
			checkError(t, body, "validation_failed", tt.field)
			checkError(t, body, "validation_failed", tt.reason)
			if msg := body["message"].(string); !strings.HasPrefix(msg, tt.field) {
				t.Errorf("got message %q, want it to start with the field %q", msg, tt.field)
			}
		})
	}
}

func TestOverlapValidation(t *testing.T) {
	e := newEnv(t, errStore{err: fmt.Errorf("the store must not be reached")}, nil)
	for _, body := range []string{`{"overlap_seconds":-1}`, `{"overlap_seconds":604801}`} {
		checkError(t, e.do(422, http.MethodPost, "/admin/links/abc/credentials/rotate", body),
			"validation_failed", "overlap_seconds: must be from 0 to 604800")
	}
}

func TestLinkCRUD(t *testing.T) {
	e := newStoreEnv(t)

	// Create: trimmed name, scopes deduplicated in catalog order, enabled
	// by default, a 256-bit base64url secret.
	l := e.createLink(confidentialBody)
	if !reID.MatchString(l.ID) || !reID.MatchString(l.ClientID) || l.ID == l.ClientID {
		t.Errorf("got id %q and client_id %q, want two distinct 22-character base64url ids", l.ID, l.ClientID)
	}
	if l.ClientSecret == nil || !reSecret.MatchString(*l.ClientSecret) {
		t.Fatalf("got client_secret %v, want 43 base64url characters", l.ClientSecret)
	}
	secret := *l.ClientSecret
	want := linkBody{
		ID: l.ID, ClientID: l.ClientID, ClientSecret: l.ClientSecret, Name: "Jenkins",
		RedirectURIs: []string{"https://ci.example.com/oauth/callback", "http://127.0.0.1/cb"}, PostLogout: []string{},
		Scopes: []string{"REPO_READ", "REPO_WRITE"}, ClientType: store.Confidential, Enabled: true,
		CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now(),
	}
	if !equalLinks(l, want) {
		t.Errorf("created:\n got %+v\nwant %+v", l, want)
	}

	// Read it back: the same, without the secret.
	got := asLink(t, e.do(200, http.MethodGet, "/admin/links/"+l.ID, ""))
	want.ClientSecret = nil
	if !equalLinks(got, want) {
		t.Errorf("read back:\n got %+v\nwant %+v", got, want)
	}

	// The stored verifier checks the secret the API answered.
	sl, err := e.st.GetLink(context.Background(), l.ID)
	if err != nil {
		t.Fatalf("GetLink: %v", err)
	}
	if !sl.VerifySecret(secret, e.clock.Now()) || sl.VerifySecret(secret+"x", e.clock.Now()) {
		t.Errorf("the stored link does not verify exactly the secret the API answered")
	}

	// View credentials.
	creds := e.do(200, http.MethodGet, "/admin/links/"+l.ID+"/credentials", "")
	if creds["client_id"] != l.ClientID || creds["client_secret"] != secret {
		t.Errorf("got credentials %v, want client_id %q and the secret answered at creation", creds, l.ClientID)
	}

	// Update: partial, client_type immutable.
	e.clock.Add(time.Minute)
	upd := asLink(t, e.do(200, http.MethodPatch, "/admin/links/"+l.ID,
		`{"name":"Jenkins CI","scopes":[],"enabled":false,"client_type":"confidential"}`))
	want.Name, want.Scopes, want.Enabled, want.UpdatedAt = "Jenkins CI", []string{}, false, e.clock.Now()
	if !equalLinks(upd, want) {
		t.Errorf("updated:\n got %+v\nwant %+v", upd, want)
	}
	upd = asLink(t, e.do(200, http.MethodPatch, "/admin/links/"+l.ID, `{"redirect_uris":["com.example.app:/oauth"]}`))
	want.RedirectURIs = []string{"com.example.app:/oauth"}
	if !equalLinks(upd, want) {
		t.Errorf("updated redirect URIs:\n got %+v\nwant %+v", upd, want)
	}
	upd = asLink(t, e.do(200, http.MethodPatch, "/admin/links/"+l.ID, `{"post_logout_redirect_uris":["https://ci.example.com/signed-out","http://127.0.0.1/bye"]}`))
	want.PostLogout = []string{"https://ci.example.com/signed-out", "http://127.0.0.1/bye"}
	if !equalLinks(upd, want) {
		t.Errorf("updated post-logout redirect URIs:\n got %+v\nwant %+v", upd, want)
	}
	if unchanged := asLink(t, e.do(200, http.MethodPatch, "/admin/links/"+l.ID, `{}`)); !equalLinks(unchanged, want) {
		t.Errorf("empty patch:\n got %+v\nwant %+v", unchanged, want)
	}
	patchErrors := []struct{ body, msg string }{
		{`{"client_type":"public"}`, "client_type: cannot be changed"},
		{`{"name":""}`, "name: must not be empty"},
		{`{"redirect_uris":[]}`, "redirect_uris: at least one"},
		{`{"redirect_uris":["https://a.example/cb","http://b.example/cb"]}`, "redirect_uris[1]: "},
		{`{"post_logout_redirect_uris":["https://a.example/bye#x"]}`, "post_logout_redirect_uris[0]: "},
		{`{"post_logout_redirect_uris":["https://a.example/bye","https://a.example/bye"]}`, "post_logout_redirect_uris[1]: duplicates post_logout_redirect_uris[0]"},
		{`{"scopes":["REPO_READ","BOGUS"]}`, `scopes[1]: unknown scope "BOGUS"`},
	}
	for _, pe := range patchErrors {
		checkError(t, e.do(422, http.MethodPatch, "/admin/links/"+l.ID, pe.body), "validation_failed", pe.msg)
	}
	if got := asLink(t, e.do(200, http.MethodGet, "/admin/links/"+l.ID, "")); !equalLinks(got, want) {
		t.Errorf("after refused patches:\n got %+v\nwant %+v", got, want)
	}

	// Delete, then everything about the link is 404.
	e.do(204, http.MethodDelete, "/admin/links/"+l.ID, "")
	for _, c := range []struct{ method, path, body string }{
		{http.MethodGet, "/admin/links/" + l.ID, ""},
		{http.MethodPatch, "/admin/links/" + l.ID, `{"name":"x"}`},
		{http.MethodDelete, "/admin/links/" + l.ID, ""},
		{http.MethodGet, "/admin/links/" + l.ID + "/credentials", ""},
		{http.MethodPost, "/admin/links/" + l.ID + "/credentials/rotate", ""},
		{http.MethodGet, "/admin/links/" + l.ID + "/grants", ""},
	} {
		checkError(t, e.do(404, c.method, c.path, c.body), "not_found", "no link")
	}
	if _, err := e.st.(*store.Store).GetLinkByClientID(context.Background(), l.ClientID); !isNotFound(err) {
		t.Errorf("GetLinkByClientID after delete: got %v, want not found", err)
	}

	// Audit: every change, by the principal, never the secret.
	for _, ev := range []string{"link_created", "credentials_viewed", "link_deleted"} {
		if a := e.audits(ev); len(a) != 1 || a[0]["principal"] != tokenPrincipal || a[0]["link_id"] != l.ID {
			t.Errorf("got %s events %v, want one for %s by %s", ev, a, l.ID, tokenPrincipal)
		}
	}
	if a := e.audits("link_updated"); len(a) != 3 {
		t.Errorf("got %d link_updated events, want 3 (the empty patch changes nothing)", len(a))
	}
	if strings.Contains(e.logText(), secret) {
		t.Errorf("the client secret was logged")
	}
}

// equalLinks compares two links, times to the second (the store keeps
// what it keeps; the API shows it in UTC).
func equalLinks(a, b linkBody) bool {
	sec := func(p *string) string {
		if p == nil {
			return "<none>"
		}
		return *p
	}
	return a.ID == b.ID && a.ClientID == b.ClientID && sec(a.ClientSecret) == sec(b.ClientSecret) &&
		a.Name == b.Name && slices.Equal(a.RedirectURIs, b.RedirectURIs) && slices.Equal(a.Scopes, b.Scopes) &&
		slices.Equal(a.PostLogout, b.PostLogout) && a.RedirectURIs != nil && a.Scopes != nil && a.PostLogout != nil &&
		a.ClientType == b.ClientType && a.Enabled == b.Enabled &&
		a.CreatedAt.Truncate(time.Second).Equal(b.CreatedAt.Truncate(time.Second)) &&
		a.UpdatedAt.Truncate(time.Second).Equal(b.UpdatedAt.Truncate(time.Second)) &&
		a.CreatedAt.Location() == time.UTC && a.UpdatedAt.Location() == time.UTC
}

func TestClientTypes(t *testing.T) {
	e := newStoreEnv(t)

	pub := e.createLink(`{"name":"CLI","client_type":"public","redirect_uris":["http://127.0.0.1/callback"],"enabled":false}`)
	if pub.ClientSecret != nil || pub.ClientType != store.Public || pub.Enabled {
		t.Errorf("got public link %+v, want no client_secret, client_type public, enabled false", pub)
	}
	checkError(t, e.do(409, http.MethodGet, "/admin/links/"+pub.ID+"/credentials", ""), "conflict", "public link has no client secret")
	checkError(t, e.do(409, http.MethodPost, "/admin/links/"+pub.ID+"/credentials/rotate", ""), "conflict", "public link has no client secret")
	if a := e.audits("credentials_viewed"); len(a) != 0 {
		t.Errorf("got %d credentials_viewed events, want none for a public link", len(a))
	}

	rs := e.createLink(`{"name":"Resource server","client_type":"resource_server","scopes":["REPO_READ"]}`)
	if rs.ClientSecret == nil || !reSecret.MatchString(*rs.ClientSecret) || len(rs.RedirectURIs) != 0 || rs.RedirectURIs == nil {
		t.Errorf("got resource server %+v, want a client_secret and redirect_uris []", rs)
	}
	checkError(t, e.do(422, http.MethodPatch, "/admin/links/"+rs.ID, `{"redirect_uris":["https://rs.example/cb"]}`),
		"validation_failed", "redirect_uris: a resource_server link has no redirect URIs")
	e.do(200, http.MethodPatch, "/admin/links/"+rs.ID, `{"redirect_uris":[]}`)
	if creds := e.do(200, http.MethodGet, "/admin/links/"+rs.ID+"/credentials", ""); creds["client_secret"] != *rs.ClientSecret {
		t.Errorf("got credentials %v, want the resource server's secret", creds)
	}
}

func TestIdempotentCreate(t *testing.T) {
	e := newStoreEnv(t)
	first := e.createLink(confidentialBody, "Idempotency-Key", "create-jenkins-1")
	w := e.serve(req(http.MethodPost, "/admin/links", confidentialBody, "Idempotency-Key", "create-jenkins-1"))
	if w.Code != 201 {
		t.Fatalf("replay: got status %d, want 201; body %s", w.Code, w.Body.String())
	}
	if got := w.Header().Get("Idempotent-Replayed"); got != "true" {
		t.Errorf("replay: got Idempotent-Replayed %q, want true", got)
	}
	var again linkBody
	if err := json.Unmarshal(w.Body.Bytes(), &again); err != nil {
		t.Fatal(err)
	}
	if !equalLinks(again, first) {
		t.Errorf("replay:\n got %+v\nwant %+v", again, first)
	}

	// The same key for another request is a conflict, not a second link.
	checkError(t, e.do(409, http.MethodPost, "/admin/links",
		`{"name":"Other","redirect_uris":["https://other.example/cb"]}`, "Idempotency-Key", "create-jenkins-1"),
		"conflict", "Idempotency-Key")
	// Another key (or none) is another link.
	other := e.createLink(confidentialBody, "Idempotency-Key", "create-jenkins-2")
	third := e.createLink(confidentialBody)
	if other.ID == first.ID || third.ID == first.ID || other.ID == third.ID {
		t.Errorf("got ids %q, %q, %q, want three links", first.ID, other.ID, third.ID)
	}
	list := e.do(200, http.MethodGet, "/admin/links", "")
	if n := len(list["links"].([]any)); n != 3 {
		t.Errorf("got %d links, want 3", n)
	}
	if a := e.audits("link_created"); len(a) != 3 {
		t.Errorf("got %d link_created events, want 3 (none for the replay)", len(a))
	}
}

// TestIdempotentReplayAfterRotation: a replay of POST /admin/links with
// the same Idempotency-Key answers the creation's secret only while the
// link still has it; after a rotation (the first secret leaked, say) the
// replay is 409 naming the link and its credentials path, with neither the
// new secret nor the old one.
func TestIdempotentReplayAfterRotation(t *testing.T) {
	e := newStoreEnv(t)
	const key = "create-jenkins-rotated"
	first := e.createLink(confidentialBody, "Idempotency-Key", key)
	if again := e.createLink(confidentialBody, "Idempotency-Key", key); again.ID != first.ID || *again.ClientSecret != *first.ClientSecret {
		t.Fatalf("replay before the rotation = %s, want %s with its secret", again.ID, first.ID)
	}
	rotated := e.do(200, http.MethodPost, "/admin/links/"+first.ID+"/credentials/rotate", `{"overlap_seconds":3600}`)
	newSecret, _ := rotated["client_secret"].(string)
	w := e.serve(req(http.MethodPost, "/admin/links", confidentialBody, "Idempotency-Key", key))
	if w.Code != http.StatusConflict {
		t.Fatalf("replay after the rotation: got %d, want 409; body %s", w.Code, w.Body.String())
	}
	body := w.Body.String()
	if newSecret == "" || strings.Contains(body, newSecret) || strings.Contains(body, *first.ClientSecret) || strings.Contains(body, "client_secret") {
		t.Errorf("replay after the rotation answered a secret: %s", body)
	}
	var m map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &m)
	checkError(t, m, "conflict", "rotated")
	checkError(t, m, "conflict", "/admin/links/"+first.ID+"/credentials")
	if w.Header().Get("Idempotent-Replayed") != "" {
		t.Errorf("got Idempotent-Replayed %q on a 409, want none", w.Header().Get("Idempotent-Replayed"))
	}
	if creds := e.do(200, http.MethodGet, "/admin/links/"+first.ID+"/credentials", ""); creds["client_secret"] != newSecret {
		t.Errorf("View credentials = %v, want the rotated secret", creds)
	}
}

// iamRequest is a request as aws-lambda-go-api-proxy hands it to the
// handler from API Gateway, signed by the IAM principal arn.
func iamRequest(t *testing.T, arn, method, path, body string, header ...string) *http.Request {
	t.Helper()
	h := map[string]string{"content-type": "application/json"}
	for i := 0; i+1 < len(header); i += 2 {
		h[strings.ToLower(header[i])] = header[i+1]
	}
	ev := events.APIGatewayV2HTTPRequest{
		RawPath: path, Body: body, Headers: h,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			DomainName: "api.example.com", RequestID: "req-" + arn,
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{UserARN: arn}},
		},
	}
	r, err := (&core.RequestAccessorV2{}).EventToRequestWithContext(context.Background(), ev)
	if err != nil {
		t.Fatalf("EventToRequestWithContext: %v", err)
	}
	return r
}

// TestIdempotencyKeyPerPrincipal: an Idempotency-Key is the sender's own:
// another IAM principal sending the same key (with the same body, or
// another) creates its own link and never gets the first one's secret;
// the first principal's retry still replays. The console's administrators
// and the API's principals do not share keys either, whatever the name.
func TestIdempotencyKeyPerPrincipal(t *testing.T) {
	e := newEnv(t, storetest.Kumo(t), IAMPrincipal())
	const alice, mallory, carol = "arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:user/mallory", "arn:aws:iam::123456789012:user/carol"
	const key = "create-jenkins-1"
	post := func(arn, body string) (*http.Response, linkBody) {
		t.Helper()
		w := e.serve(iamRequest(t, arn, http.MethodPost, "/admin/links", body, "Idempotency-Key", key))
		if w.Code != http.StatusCreated {
			t.Fatalf("POST as %s: got %d, want 201; body %s", arn, w.Code, w.Body.String())
		}
		var l linkBody
		if err := json.Unmarshal(w.Body.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		return w.Result(), l
	}
	_, la := post(alice, confidentialBody)
	resp, lm := post(mallory, confidentialBody)
	if lm.ID == la.ID || lm.ClientSecret == nil || *lm.ClientSecret == *la.ClientSecret || resp.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("mallory with alice's key = %s (replayed %q), want a link of mallory's own, not %s", lm.ID, resp.Header.Get("Idempotent-Replayed"), la.ID)
	}
	if _, lc := post(carol, `{"name":"Carol's app","redirect_uris":["https://carol.example/cb"]}`); lc.ID == la.ID || lc.ID == lm.ID {
		t.Errorf("carol with alice's key and another body = %s, want a new link", lc.ID)
	}
	resp, again := post(alice, confidentialBody)
	if again.ID != la.ID || *again.ClientSecret != *la.ClientSecret || resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("alice's retry = %s (replayed %q), want her link %s replayed", again.ID, resp.Header.Get("Idempotent-Replayed"), la.ID)
	}
	if a := e.audits("link_created"); len(a) != 3 || a[0]["principal"] != alice || a[1]["principal"] != mallory || a[2]["principal"] != carol {
		t.Errorf("got link_created events %v, want alice's, mallory's and carol's", a)
	}

	// The local admin token and a console administrator who happens to
	// be named like it: two principals.
	h, err := New(Options{Config: e.cfg, Store: e.st, Keys: e.keys, Auth: BearerToken(testToken), Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	name := "Token app"
	in := linkInput{Name: &name, RedirectURIs: &[]string{"https://token.example/cb"}}
	api, _, err := h.createLinkOp(context.Background(), call{principal: tokenPrincipal, via: "api"}, in, key)
	if err != nil {
		t.Fatal(err)
	}
	console, replayed, err := h.createLinkOp(context.Background(), call{principal: tokenPrincipal, via: "console"}, in, key)
	if err != nil || replayed || console.ID == api.ID {
		t.Errorf("console administrator %q with the API token's key = %s (replayed %v), %v, want a new link, not %s", tokenPrincipal, console.ID, replayed, err, api.ID)
	}
}

func TestListLinks(t *testing.T) {
	e := newStoreEnv(t)
	if body := e.do(200, http.MethodGet, "/admin/links", ""); len(body["links"].([]any)) != 0 || body["next_cursor"] != nil {
		t.Errorf("empty list: got %v, want links [] and no next_cursor", body)
	}
	var ids []string
	for i := range 5 {
		ids = append(ids, e.createLink(fmt.Sprintf(`{"name":"link %d","redirect_uris":["https://a.example/cb"]}`, i)).ID)
		e.clock.Add(time.Second)
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatalf("more than 3 pages of 2 for 5 links")
		}
		path := "/admin/links?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		body := e.do(200, http.MethodGet, path, "")
		links := body["links"].([]any)
		if len(links) > 2 {
			t.Fatalf("got a page of %d, want at most 2", len(links))
		}
		for _, l := range links {
			got = append(got, l.(map[string]any)["id"].(string))
		}
		next, _ := body["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(got, ids) {
		t.Errorf("got ids %v, want %v in creation order", got, ids)
	}
	// Empty values are omitted ones: the first page at the default limit.
	for _, q := range []string{"?limit=&cursor=", "?cursor=", "?limit="} {
		body := e.do(200, http.MethodGet, "/admin/links"+q, "")
		var first []string
		for _, l := range body["links"].([]any) {
			first = append(first, l.(map[string]any)["id"].(string))
		}
		if !slices.Equal(first, ids) || body["next_cursor"] != nil {
			t.Errorf("%s: got ids %v and next_cursor %v, want all %v on one page", q, first, body["next_cursor"], ids)
		}
	}
	checkError(t, e.do(400, http.MethodGet, "/admin/links?cursor=not-a-cursor", ""), "invalid_request", "cursor")
}

func TestRotateCredentials(t *testing.T) {
	e := newStoreEnv(t)
	l := e.createLink(confidentialBody)
	s0 := *l.ClientSecret
	verify := func(secret string, at time.Time) bool {
		t.Helper()
		sl, err := e.st.GetLink(context.Background(), l.ID)
		if err != nil {
			t.Fatalf("GetLink: %v", err)
		}
		return sl.VerifySecret(secret, at)
	}

	// Rotation with an hour of overlap.
	body := e.do(200, http.MethodPost, "/admin/links/"+l.ID+"/credentials/rotate", `{"overlap_seconds":3600}`)
	s1, _ := body["client_secret"].(string)
	if body["client_id"] != l.ClientID || !reSecret.MatchString(s1) || s1 == s0 {
		t.Fatalf("got %v, want the client id and a new 43-character secret", body)
	}
	now := e.clock.Now()
	wantExp := now.Add(time.Hour)
	if exp, err := time.Parse(time.RFC3339, fmt.Sprint(body["previous_expires_at"])); err != nil || !exp.Equal(wantExp) {
		t.Errorf("got previous_expires_at %v, want %v", body["previous_expires_at"], wantExp)
	}
	checks := []struct {
		secret string
		at     time.Time
		want   bool
	}{
		{s1, now, true},
		{s0, now, true},
		{s0, now.Add(time.Hour - time.Second), true},
		{s0, now.Add(time.Hour + time.Second), false},
		{s1, now.Add(time.Hour + time.Second), true},
	}
	for _, c := range checks {
		if got := verify(c.secret, c.at); got != c.want {
			t.Errorf("VerifySecret(%s, now+%v): got %v, want %v", shared.HashPrefix(c.secret), c.at.Sub(now), got, c.want)
		}
	}
	if creds := e.do(200, http.MethodGet, "/admin/links/"+l.ID+"/credentials", ""); creds["client_secret"] != s1 {
		t.Errorf("got credentials %v, want the new secret", creds)
	}

	// A rotation without a body: no overlap, and it ends the earlier one.
	e.clock.Add(time.Minute)
	body = e.do(200, http.MethodPost, "/admin/links/"+l.ID+"/credentials/rotate", "")
	s2, _ := body["client_secret"].(string)
	if _, ok := body["previous_expires_at"]; ok || !reSecret.MatchString(s2) {
		t.Errorf("got %v, want a new secret and no previous_expires_at", body)
	}
	now = e.clock.Now()
	for _, c := range []struct {
		name   string
		secret string
		want   bool
	}{{"current", s2, true}, {"previous", s1, false}, {"first", s0, false}} {
		if got := verify(c.secret, now); got != c.want {
			t.Errorf("after a rotation without overlap, the %s secret verifies: got %v, want %v", c.name, got, c.want)
		}
	}

	a := e.audits("credentials_rotated")
	if len(a) != 2 || a[0]["overlap_seconds"] != float64(3600) || a[1]["overlap_seconds"] != float64(0) {
		t.Errorf("got credentials_rotated events %v, want two with overlap 3600 and 0", a)
	}
	for _, s := range []string{s0, s1, s2} {
		if strings.Contains(e.logText(), s) {
			t.Errorf("a client secret was logged")
		}
	}
}

func TestViewGrant(t *testing.T) {
	created := time.Date(2026, 11, 28, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	revoked := created.Add(time.Hour)
	tests := []struct {
		name string
		in   store.Grant
		want string
	}{
		{"active", store.Grant{ID: "g1", ClientID: "c", UserID: "u1", Username: "alice", Scope: []string{"REPO_READ"}, CreatedAt: created, UpdatedAt: revoked},
			`{"grant_id":"g1","user_id":"u1","username":"alice","scope":["REPO_READ"],"created_at":"2026-11-28T09:00:00Z","updated_at":"2026-11-28T10:00:00Z","revoked":false}`},
		{"revoked", store.Grant{ID: "g2", UserID: "u2", Username: "bob", CreatedAt: created, UpdatedAt: created, Revoked: true, RevokedAt: revoked},
			`{"grant_id":"g2","user_id":"u2","username":"bob","scope":[],"created_at":"2026-11-28T09:00:00Z","updated_at":"2026-11-28T09:00:00Z","revoked":true,"revoked_at":"2026-11-28T10:00:00Z"}`},
		{"revoked, time unknown", store.Grant{ID: "g3", UserID: "u3", Username: "carol", CreatedAt: created, UpdatedAt: created, Revoked: true},
			`{"grant_id":"g3","user_id":"u3","username":"carol","scope":[],"created_at":"2026-11-28T09:00:00Z","updated_at":"2026-11-28T09:00:00Z","revoked":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(viewGrant(tt.in))
			if err != nil || string(b) != tt.want {
				t.Errorf("got %s (%v), want %s", b, err, tt.want)
			}
		})
	}
}

// TestListGrants: who authorized a link, newest first: active grants with
// their last use, and revoked ones with when, until RevokedGrantTTL.
func TestListGrants(t *testing.T) {
	e := newStoreEnv(t)
	st := e.st.(*store.Store)
	ctx := context.Background()
	l := e.createLink(confidentialBody)
	other := e.createLink(`{"name":"other","redirect_uris":["https://o.example/cb"]}`)

	// Grants through the store's own code path: a user's approval, one
	// record per user and link.
	grant := func(clientID, user string, scope []string) store.Grant {
		t.Helper()
		u, err := st.GetUserByName(ctx, user)
		if err != nil {
			u = store.User{ID: "uid-" + user, Username: user, CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
			if err := st.CreateUser(ctx, u); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
		}
		id, err := shared.NewID(strings.NewReader(strings.Repeat(user+clientID, 10)))
		if err != nil {
			t.Fatal(err)
		}
		g, err := st.ApproveGrant(ctx, store.Grant{ID: id, UserID: u.ID, Username: user, ClientID: clientID, Scope: scope},
			e.cfg.Catalog.Union, e.clock.Now())
		if err != nil {
			t.Fatalf("ApproveGrant: %v", err)
		}
		e.clock.Add(time.Second)
		return g
	}
	g1 := grant(l.ClientID, "alice", []string{"REPO_READ"})
	g2 := grant(l.ClientID, "bob", []string{"REPO_WRITE"})
	g3 := grant(l.ClientID, "carol", []string{"REPO_READ"})
	grant(other.ClientID, "carol", []string{"PUBLIC_REPOS"})
	// carol authorizes again: still one grant of hers for the link.
	if again := grant(l.ClientID, "carol", []string{"ACCOUNT_WRITE"}); again.ID != g3.ID {
		t.Errorf("carol's second authorization made grant %s, want her first, %s", again.ID, g3.ID)
	}
	if _, err := st.RevokeGrant(ctx, g1.UserID, g1.ClientID, g1.ID, e.clock.Now()); err != nil {
		t.Fatalf("RevokeGrant: %v", err)
	}

	revokedAt := e.clock.Now().UTC()
	used := e.clock.Now().Add(-time.Minute).UTC()
	if _, _, err := st.TouchLastUse(ctx, store.LastUseRef{ClientID: l.ClientID, UserID: g2.UserID, GrantID: g2.ID}, used); err != nil {
		t.Fatal(err)
	}

	type listed struct {
		GrantID    string     `json:"grant_id"`
		UserID     string     `json:"user_id"`
		Username   string     `json:"username"`
		Scope      []string   `json:"scope"`
		CreatedAt  time.Time  `json:"created_at"`
		Revoked    bool       `json:"revoked"`
		RevokedAt  *time.Time `json:"revoked_at"`
		LastUsedAt *time.Time `json:"last_used_at"`
	}
	var body struct {
		Grants     []listed `json:"grants"`
		NextCursor string   `json:"next_cursor"`
	}
	list := func(want func() bool) []byte {
		t.Helper()
		var b []byte
		for range 50 { // the link's listing is an eventually consistent index
			b, _ = json.Marshal(e.do(200, http.MethodGet, "/admin/links/"+l.ID+"/grants", ""))
			body.Grants, body.NextCursor = nil, ""
			if err := json.Unmarshal(b, &body); err != nil {
				t.Fatal(err)
			}
			if want() {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		return b
	}
	b := list(func() bool { return len(body.Grants) == 3 && body.Grants[2].Revoked })
	if len(body.Grants) != 3 || body.NextCursor != "" {
		t.Fatalf("got %s, want the link's three grants (one per user; alice's revoked one too) and no next_cursor", b)
	}
	// Newest first.
	if g := body.Grants[0]; g.GrantID != g3.ID || g.Username != "carol" || g.UserID != "uid-carol" ||
		!slices.Equal(g.Scope, []string{"ACCOUNT_WRITE", "REPO_READ"}) || g.Revoked || g.RevokedAt != nil || g.LastUsedAt != nil {
		t.Errorf("got first grant %+v, want carol's active grant %s with both approvals, never used", g, g3.ID)
	}
	if g := body.Grants[1]; g.GrantID != g2.ID || g.Username != "bob" || !slices.Equal(g.Scope, []string{"REPO_WRITE"}) || g.Revoked ||
		g.LastUsedAt == nil || !g.LastUsedAt.Equal(used) {
		t.Errorf("got second grant %+v, want bob's active REPO_WRITE grant %s, last used %v", g, g2.ID, used)
	}
	// A revoked grant stays listed, revoked, with when.
	if g := body.Grants[2]; g.GrantID != g1.ID || g.Username != "alice" || !g.Revoked || g.RevokedAt == nil || !g.RevokedAt.Equal(revokedAt) {
		t.Errorf("got third grant %+v, want alice's grant %s revoked at %v", g, g1.ID, revokedAt)
	}
	// Revoking it again changes nothing and audits nothing.
	before := len(e.audits("grant_revoked"))
	e.clock.Add(time.Minute)
	e.do(204, http.MethodDelete, "/admin/links/"+l.ID+"/grants/"+g1.ID, "")
	if n := len(e.audits("grant_revoked")); n != before {
		t.Errorf("revoking a revoked grant: %d grant_revoked events, want %d", n, before)
	}
	if g, err := st.GetGrant(ctx, g1.UserID, g1.ClientID); err != nil || !g.RevokedAt.Equal(revokedAt) {
		t.Errorf("after revoking again: got %+v, %v, want revoked at %v still", g, err, revokedAt)
	}

	page := e.do(200, http.MethodGet, "/admin/links/"+l.ID+"/grants?limit=1", "")
	if n := len(page["grants"].([]any)); n != 1 || page["next_cursor"] == nil {
		t.Errorf("got %v, want one grant and a next_cursor", page)
	}

	// Once its time is up (store.RevokedGrantTTL), the revoked grant is no
	// longer listed, whether or not DynamoDB has deleted it yet.
	e.clock.Add(revokedAt.Add(store.RevokedGrantTTL).Sub(e.clock.Now()))
	if b := list(func() bool { return len(body.Grants) == 2 }); len(body.Grants) != 2 || body.Grants[1].GrantID != g2.ID {
		t.Errorf("after RevokedGrantTTL: got %s, want carol's and bob's grants only", b)
	}

	// Deleting the link revokes every grant of it.
	e.do(204, http.MethodDelete, "/admin/links/"+l.ID, "")
	switch g, err := st.GetGrant(ctx, g2.UserID, g2.ClientID); {
	case err != nil && !isNotFound(err):
		t.Fatalf("GetGrant: %v", err)
	case err == nil && !g.Revoked:
		t.Errorf("grant %s of the deleted link: got revoked false, want true (or gone)", g2.ID)
	}
}

// TestAPIPathDecoded: outside the console the API's path is matched
// unescaped, a %2F separating segments as "/" does (the console's is not:
// TestConsolePathDecodedOnce).
func TestAPIPathDecoded(t *testing.T) {
	e := newStoreEnv(t)
	l := e.createLink(confidentialBody)
	got := e.do(http.StatusOK, "GET", "/admin/links%2F"+l.ID, "")
	if got["id"] != l.ID {
		t.Errorf("GET /admin/links%%2F{id}: got id %v, want %s", got["id"], l.ID)
	}
}
