package authorize

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/clientmeta"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
)

// docHost is the application's host in these tests: the test network
// resolves it to a public address and forwards that address's port 443
// to a loopback server (whose test certificate names example.com).
const (
	docHost   = "example.com"
	docPublic = "93.184.216.34"
)

// metaEnv is a handler on DynamoDB Local (under the authorize function's
// write policy) with a metadata-document server on the test network: its
// documents are served from docs, by path.
type metaEnv struct {
	*env
	raw  *store.Store
	mu   sync.Mutex
	docs map[string]map[string]any
	hits atomic.Int32
	// cache is the Cache-Control of every answer.
	cache string
}

// metaNet is the test network: a resolver that knows only docHost and a
// dialer that connects to loopback only (docPublic:443 forwarded to the
// document server); anything else fails the test.
type metaNet struct {
	t       *testing.T
	forward string
}

func (n metaNet) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if host != docHost {
		n.t.Errorf("unexpected look-up of %q", host)
		return nil, errors.New("no such host")
	}
	return []netip.Addr{netip.MustParseAddr(docPublic)}, nil
}

func (n metaNet) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	if address == net.JoinHostPort(docPublic, "443") {
		address = n.forward
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !ap.Addr().IsLoopback() {
		n.t.Errorf("a connection to %s was attempted", address)
		return nil, errors.New("refused by the test")
	}
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}

func newMetaEnv(t *testing.T, policy func(*shared.RegistrationPolicy)) *metaEnv {
	t.Helper()
	m := &metaEnv{docs: map[string]map[string]any{}, cache: "max-age=3600"}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.hits.Add(1)
		m.mu.Lock()
		doc, ok := m.docs[r.URL.Path]
		cache := m.cache
		m.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", cache)
		_ = json.NewEncoder(w).Encode(doc)
	}))
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	n := metaNet{t: t, forward: srv.Listener.Addr().String()}
	raw := storetest.DynamoLocal(t)
	var clock func() time.Time
	fetcher := func(o *Options) {
		clock = o.Now
		o.ClientMetadata = clientmeta.NewFetcher(clientmeta.Options{Resolver: n, Dial: n.Dial, RootCAs: pool,
			Now: func() time.Time { return clock() }})
	}
	m.env = newEnvWith(t, newRealStore(t, raw), []func(*Options){fetcher})
	m.raw = raw
	p := shared.DefaultRegistrationPolicy(shared.DefaultCatalog())
	p.MetadataDocuments.Scopes = []string{"REPO_WRITE"}
	if policy != nil {
		policy(&p)
	}
	if err := raw.PutRegistrationPolicy(context.Background(), p, m.clock.Now()); err != nil {
		t.Fatal(err)
	}
	return m
}

// serve publishes a document at path and returns its client_id.
func (m *metaEnv) serve(path string, mod func(map[string]any)) string {
	id := "https://" + docHost + path
	doc := map[string]any{"client_id": id, "client_name": "Coding Agent", "redirect_uris": []string{"http://127.0.0.1/callback"},
		"token_endpoint_auth_method": "none", "grant_types": []string{"authorization_code", "refresh_token"}}
	if mod != nil {
		mod(doc)
	}
	m.mu.Lock()
	m.docs[path] = doc
	m.mu.Unlock()
	return id
}

// metaAuthorizeURL is a valid request of clientID (PKCE, a loopback
// redirect URI on another port).
func metaAuthorizeURL(clientID string) string {
	q := url.Values{
		"client_id": {clientID}, "redirect_uri": {"http://127.0.0.1:49152/callback"}, "response_type": {"code"},
		"state": {"st"}, "scope": {"REPO_READ"}, "code_challenge": {testChallenge}, "code_challenge_method": {"S256"},
	}
	return "/oauth2/authorize?" + q.Encode()
}

// wantPage checks an error page's status and that its text says want.
func wantPage(t *testing.T, r *response, status int, want ...string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d (body %.400s)", r.status, status, r.body)
	}
	p := checkPage(t, r)
	for _, w := range want {
		if !strings.Contains(p.Text, w) {
			t.Errorf("the page lacks %q (text %q)", w, p.Text)
		}
	}
	if loc := r.header.Get("Location"); loc != "" {
		t.Errorf("a refusal redirected to %s", loc)
	}
}

// TestMetadataOff: with the policy's default mode off, a URL client_id is
// an unknown application and nothing is fetched.
func TestMetadataOff(t *testing.T) {
	m := newMetaEnv(t, nil)
	id := m.serve("/agent.json", nil)
	wantPage(t, m.browser().get(metaAuthorizeURL(id)), http.StatusBadRequest, "not recognised")
	if n := m.hits.Load(); n != 0 {
		t.Errorf("the document was fetched %d times with the mode off", n)
	}
}

// TestMetadataTrustedHosts: under trusted_hosts an untrusted host is
// refused before any look-up or fetch; a trusted host's document becomes
// an active link at its first use with the policy's ceiling, the consent
// page names its host, says it registered itself and warns that its
// redirect URIs are all loopback; approval returns a code; the document is
// not fetched again while its cache lasts, and once it expired a changed
// name is taken without approval.
func TestMetadataTrustedHosts(t *testing.T) {
	m := newMetaEnv(t, func(p *shared.RegistrationPolicy) {
		p.MetadataDocuments.Mode = shared.ModeTrustedHosts
		p.MetadataDocuments.TrustedHosts = []string{"agents.example.org", docHost}
	})
	id := m.serve("/agent.json", nil)
	b := m.browser()

	for _, other := range []string{"https://evil.example/agent.json", "https://sub.example.com/agent.json", "https://10.0.0.1/agent.json"} {
		wantPage(t, b.get(metaAuthorizeURL(other)), http.StatusBadRequest, "not allowed", "the administrator does not allow it")
	}
	wantPage(t, b.get(metaAuthorizeURL("https://"+docHost+":8443/agent.json")), http.StatusBadRequest, "port 443")
	if n := m.hits.Load(); n != 0 {
		t.Fatalf("refused hosts fetched %d times", n)
	}

	consent := b.flow(metaAuthorizeURL(id))
	if consent.status != http.StatusOK {
		t.Fatalf("consent: %d %.300s", consent.status, consent.body)
	}
	p := checkPage(t, consent)
	for _, want := range []string{"Coding Agent", "From " + docHost, "registered itself", "Only continue if you just started this application on this computer"} {
		if !strings.Contains(p.Text, want) {
			t.Errorf("consent page lacks %q (text %q)", want, p.Text)
		}
	}
	l, err := m.raw.GetLinkByClientID(context.Background(), id)
	if err != nil || l.Origin != shared.OriginMetadataDocument || l.Status != shared.StatusActive || l.ClientType != store.Public ||
		strings.Join(l.Scopes, " ") != "REPO_WRITE" {
		t.Fatalf("the recorded link: %+v, %v", l, err)
	}
	r := b.submit(p.form(t, "/oauth2/consent"), "decision=approve", nil)
	if r.status != http.StatusSeeOther || r.location(t).Query().Get("code") == "" {
		t.Fatalf("approve: %d %s", r.status, r.header.Get("Location"))
	}
	if n := m.hits.Load(); n != 1 {
		t.Errorf("fetched %d times within the cache, want 1", n)
	}

	// The cache expires; the document changed its name: taken as it is.
	m.serve("/agent.json", func(d map[string]any) { d["client_name"] = "Coding Agent 2" })
	m.clock.Add(time.Hour)
	c2 := b.get(metaAuthorizeURL(id))
	if c2.status != http.StatusOK || !strings.Contains(checkPage(t, c2).Text, "Coding Agent 2") {
		t.Fatalf("after the cache: %d %.300s", c2.status, c2.body)
	}
	if n := m.hits.Load(); n != 2 {
		t.Errorf("fetched %d times, want 2", n)
	}
}

// TestMetadataApproval: under approval the first use records a pending
// link and says the administrator must approve it; after the approval the
// same request works; a document whose redirect URIs change when its cache
// expires goes back to pending; a rejected one is not allowed.
func TestMetadataApproval(t *testing.T) {
	m := newMetaEnv(t, func(p *shared.RegistrationPolicy) { p.MetadataDocuments.Mode = shared.ModeApproval })
	id := m.serve("/agent.json", nil)
	b := m.browser()
	path := metaAuthorizeURL(id)
	wantPage(t, b.get(path), http.StatusBadRequest, "must approve the application first", docHost)
	wantPage(t, b.get(path), http.StatusBadRequest, "must approve the application first")
	n, err := m.raw.CountPendingLinks(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("pending: %d, %v", n, err)
	}
	if _, err := m.raw.SetLinkStatus(context.Background(), store.MetadataLinkID(id), shared.StatusActive, m.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if c := b.flow(path); c.status != http.StatusOK || !strings.Contains(checkPage(t, c).Text, "Coding Agent") {
		t.Fatalf("after approval: %d %.300s", c.status, c.body)
	}

	m.serve("/agent.json", func(d map[string]any) { d["redirect_uris"] = []string{"https://attacker.example/cb"} })
	m.clock.Add(time.Hour)
	wantPage(t, b.get(path), http.StatusBadRequest, "must approve the application first")
	if l, _ := m.raw.GetLinkByClientID(context.Background(), id); l.Status != shared.StatusPending {
		t.Errorf("after the change: status %q, want pending", l.Status)
	}
	if _, err := m.raw.SetLinkStatus(context.Background(), store.MetadataLinkID(id), shared.StatusRejected, m.clock.Now()); err != nil {
		t.Fatal(err)
	}
	wantPage(t, b.get(path), http.StatusBadRequest, "not allowed")
}

// TestMetadataBadDocument: a document that fails a check is a 400 page
// saying what is wrong, and nothing is recorded.
func TestMetadataBadDocument(t *testing.T) {
	m := newMetaEnv(t, func(p *shared.RegistrationPolicy) {
		p.MetadataDocuments.Mode = shared.ModeTrustedHosts
		p.MetadataDocuments.TrustedHosts = []string{docHost}
	})
	b := m.browser()
	for _, tc := range []struct {
		path string
		mod  func(map[string]any)
		want string
	}{
		{"/other.json", func(d map[string]any) { d["client_id"] = "https://" + docHost + "/agent.json" }, "client_id is not the URL"},
		{"/secret.json", func(d map[string]any) { d["token_endpoint_auth_method"] = "client_secret_basic" }, `must be "none"`},
		{"/noname.json", func(d map[string]any) { delete(d, "client_name") }, "no client_name"},
		{"/http.json", func(d map[string]any) { d["redirect_uris"] = []string{"http://app.example/cb"} }, "redirect_uris"},
	} {
		id := m.serve(tc.path, tc.mod)
		wantPage(t, b.get(metaAuthorizeURL(id)), http.StatusBadRequest, "cannot be used", tc.want)
		if _, err := m.raw.GetLinkByClientID(context.Background(), id); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("%s: a link was recorded (%v)", tc.path, err)
		}
	}
	wantPage(t, b.get(metaAuthorizeURL("https://"+docHost+"/missing.json")), http.StatusBadRequest, "HTTP status 404")
}

// TestMetadataCreationLimits: at most 20 new applications per source
// address per hour (the 21st is 429), and none while 100 wait for
// approval.
func TestMetadataCreationLimits(t *testing.T) {
	m := newMetaEnv(t, func(p *shared.RegistrationPolicy) {
		p.MetadataDocuments.Mode = shared.ModeTrustedHosts
		p.MetadataDocuments.TrustedHosts = []string{docHost}
	})
	b := m.browser()
	for i := 1; i <= store.MaxRegistrationsPerSource; i++ {
		id := m.serve("/agent-"+strconv.Itoa(i)+".json", nil)
		if r := b.get(metaAuthorizeURL(id)); r.status != http.StatusOK {
			t.Fatalf("application %d: %d %.300s", i, r.status, r.body)
		}
	}
	id := m.serve("/one-more.json", nil)
	r := b.get(metaAuthorizeURL(id))
	wantPage(t, r, http.StatusTooManyRequests, "Too many new applications")
	if r.header.Get("Retry-After") == "" {
		t.Errorf("no Retry-After")
	}
	// A recorded application is not a new one: it still works.
	if r := b.get(metaAuthorizeURL("https://" + docHost + "/agent-1.json")); r.status != http.StatusOK {
		t.Errorf("a recorded application after the limit: %d", r.status)
	}
	m.clock.Add(store.RegistrationWindow)
	if r := b.get(metaAuthorizeURL(id)); r.status != http.StatusOK {
		t.Errorf("after the window: %d %.300s", r.status, r.body)
	}

	// 100 pending links refuse a new pending one.
	if err := m.raw.PutRegistrationPolicy(context.Background(), shared.RegistrationPolicy{
		MetadataDocuments:   shared.MetadataDocumentPolicy{Mode: shared.ModeApproval, TrustedHosts: []string{}, Scopes: []string{"REPO_READ"}},
		DynamicRegistration: shared.DefaultRegistrationPolicy(shared.DefaultCatalog()).DynamicRegistration,
	}, m.clock.Now()); err != nil {
		t.Fatal(err)
	}
	at := m.clock.Now()
	for i := range store.MaxPendingLinks {
		if _, err := m.raw.CreateMetadataLink(context.Background(), store.NewMetadataLink{
			ClientID: "https://pending.example/" + strconv.Itoa(i), Name: "p", RedirectURIs: []string{"https://pending.example/cb"},
			Scopes: []string{"REPO_READ"}, Status: shared.StatusPending, Cache: store.MetadataCache{FetchedAt: at, CacheUntil: at.Add(time.Hour)},
		}, at); err != nil {
			t.Fatal(err)
		}
	}
	before := m.hits.Load()
	wantPage(t, m.browser().get(metaAuthorizeURL(m.serve("/pending-101.json", nil))), http.StatusTooManyRequests, "Too many new applications")
	if m.hits.Load() != before {
		t.Errorf("the document was fetched over the pending limit")
	}
}

// TestMetadataAccountPage: on the account page a metadata-document link
// is named by its id (revoke path, technical details) with its host, and
// revoking through that path revokes the user's grant.
func TestMetadataAccountPage(t *testing.T) {
	m := newMetaEnv(t, func(p *shared.RegistrationPolicy) {
		p.MetadataDocuments.Mode = shared.ModeTrustedHosts
		p.MetadataDocuments.TrustedHosts = []string{docHost}
	})
	id := m.serve("/agent.json", nil)
	b := m.browser()
	consent := b.flow(metaAuthorizeURL(id))
	if r := b.submit(checkPage(t, consent).form(t, "/oauth2/consent"), "decision=approve", nil); r.status != http.StatusSeeOther {
		t.Fatalf("approve: %d", r.status)
	}
	acct := b.get("/account/authorizations")
	p := checkPage(t, acct)
	linkID := store.MetadataLinkID(id)
	action := "/account/authorizations/" + linkID + "/revoke"
	for _, want := range []string{"Coding Agent", "From " + docHost, "Registered by the application itself", linkID} {
		if !strings.Contains(p.Text, want) {
			t.Errorf("account page lacks %q (text %q)", want, p.Text)
		}
	}
	f := p.form(t, action)
	r := b.submit(f, "", nil)
	if r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "revoked="+url.QueryEscape(linkID)) {
		t.Fatalf("revoke: %d %s", r.status, r.header.Get("Location"))
	}
	if g := m.store.grant(aliceID, id); !g.Revoked {
		t.Errorf("the grant after revoke: %+v", g)
	}
	after := checkPage(t, b.get(r.header.Get("Location")))
	if !strings.Contains(after.Text, "Access revoked: Coding Agent") {
		t.Errorf("the confirmation: %q", after.Text)
	}
}
