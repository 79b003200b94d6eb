package authorize

import (
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/clocktest"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/password"
	"github.com/applinks/applinks/shared/store"
)

const (
	testIssuer   = "http://127.0.0.1:8080"
	alicePass    = "correct horse battery staple"
	appClient    = "client-app"
	appRedirect  = "https://app.example.com/cb"
	pubClient    = "client-public"
	pubRedirect  = "http://127.0.0.1/cb"
	twoClient    = "client-two"
	queryClient  = "client-query"
	queryRedir   = "https://q.example.com/cb?tenant=1"
	offClient    = "client-disabled"
	rsClient     = "client-rs"
	testVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	// aliceID and bobID are the users' ids (the sub of their tokens), in
	// the form of shared.NewID.
	aliceID = "aliceAAAAAAAAAAAAAAAAA"
	bobID   = "bobBBBBBBBBBBBBBBBBBBB"
)

var testChallenge = shared.S256Challenge(testVerifier)

// aliceHash is computed once: argon2id is deliberately slow.
var aliceHash = sync.OnceValue(func() string {
	h, err := password.Hash(alicePass, rand.NewChaCha8([32]byte{1}))
	if err != nil {
		panic(err)
	}
	return h
})

// lockedReader makes a deterministic random source safe for the test
// server's goroutines.
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

// seeder is what the tests need to set up data, on the fake or a real store.
type seeder interface {
	Store
	addLink(store.Link)
	addUser(store.User)
	// addGrant stores g as the user's grant for its client, as approved
	// at CreatedAt and last at UpdatedAt (and revoked when g.Revoked).
	addGrant(store.Grant)
	// code reads a stored code by hash; grant the grant of a user for a
	// client (zero when none).
	code(hash string) (store.Code, bool)
	grant(userID, clientID string) store.Grant
}

// mkEnv builds an env on some store (newEnv: the fake; newKumoEnv: kumo).
type mkEnv func(t *testing.T, opts ...envOption) *env

// sessionCookie returns the browser's session cookie value, "" when none.
func (b *browser) sessionCookie() string {
	u, _ := url.Parse(b.e.srv.URL)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == b.e.h.cookies.Session {
			return c.Value
		}
	}
	return ""
}

// env is a handler on a store with the standard fixtures, behind a test
// server.
type env struct {
	t     *testing.T
	store seeder
	fake  *fakeStore // nil on a real store
	clock *clocktest.Clock
	h     *Handler
	srv   *httptest.Server
	// sleeps are the sign-in slow-downs asked for (none is waited).
	sleeps *sleepRecorder
}

type envOption func(*config.Config)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	f := newFakeStore()
	e := newEnvOn(t, f, opts...)
	e.fake = f
	return e
}

func newEnvOn(t *testing.T, st seeder, opts ...envOption) *env {
	t.Helper()
	return newEnvWith(t, st, nil, opts...)
}

// newEnvWith is newEnvOn whose handler options are then changed by each
// of with.
func newEnvWith(t *testing.T, st seeder, with []func(*Options), opts ...envOption) *env {
	t.Helper()
	cfg := config.Config{
		Issuer:      testIssuer,
		AuthCodeTTL: 60 * time.Second,
		Catalog:     shared.DefaultCatalog(),
	}
	for _, o := range opts {
		o(&cfg)
	}
	// Start at the wall clock: emulators reap TTL items by it.
	clk := clocktest.New(time.Now().UTC().Truncate(time.Second))
	sleeps := &sleepRecorder{}
	o := Options{
		Config: cfg,
		Store:  st,
		Now:    clk.Now,
		Random: &lockedReader{r: rand.NewChaCha8([32]byte{byte(len(t.Name()))})},
		Sleep:  sleeps.sleep,
	}
	for _, f := range with {
		f(&o)
	}
	h, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	seed(st, clk.Now())
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{t: t, store: st, clock: clk, h: h, srv: srv, sleeps: sleeps}
}

// seed adds the standard links and users.
func seed(st seeder, now time.Time) {
	link := func(cid, name, typ string, enabled bool, scopes []string, uris ...string) {
		st.addLink(store.Link{ID: "id-" + cid, ClientID: cid, Name: name, RedirectURIs: uris,
			Scopes: scopes, ClientType: typ, Enabled: enabled, CreatedAt: now, UpdatedAt: now})
	}
	link(appClient, "Build <Bot> & Co", store.Confidential, true, []string{"REPO_ADMIN"}, appRedirect)
	link(pubClient, "Desktop App", store.Public, true, []string{"REPO_READ"}, pubRedirect)
	link(twoClient, "Two URIs", store.Confidential, true, []string{"REPO_READ"}, "https://two.example.com/a", "https://two.example.com/b")
	link(queryClient, "Query App", store.Confidential, true, []string{"REPO_READ"}, queryRedir)
	link(offClient, "Disabled App", store.Confidential, false, []string{"REPO_READ"}, "https://off.example.com/cb")
	link(rsClient, "Resource Server", store.ResourceServer, true, []string{"REPO_READ"})
	// The users exist a minute before the test's clock starts, so that a
	// session begun at its first instant is strictly after their
	// credentials (store.User.IssuedSince).
	made := now.Add(-time.Minute)
	st.addUser(store.User{ID: aliceID, Username: "alice", PasswordHash: aliceHash(), Permissions: []string{"REPO_WRITE"}, CreatedAt: made, UpdatedAt: made})
	st.addUser(store.User{ID: bobID, Username: "bob", PasswordHash: aliceHash(), Permissions: []string{"REPO_WRITE"}, Disabled: true, CreatedAt: made, UpdatedAt: made})
}

// authorizeURL is a valid request of the app link, with overrides
// (an empty value removes the parameter).
func authorizeURL(over map[string]string) string {
	q := url.Values{
		"client_id":     {appClient},
		"redirect_uri":  {appRedirect},
		"response_type": {"code"},
		"state":         {"st-123"},
		"scope":         {"REPO_READ"},
	}
	for k, v := range over {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	return "/oauth2/authorize?" + q.Encode()
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	t      *testing.T
	e      *env
	client *http.Client
}

func (e *env) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &browser{t: e.t, e: e, client: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// response is a read response.
type response struct {
	status int
	header http.Header
	body   string
}

// location parses the Location header.
func (r *response) location(t *testing.T) *url.URL {
	t.Helper()
	l := r.header.Get("Location")
	if l == "" {
		t.Fatalf("no Location header (status %d)", r.status)
	}
	u, err := url.Parse(l)
	if err != nil {
		t.Fatalf("Location %q: %v", l, err)
	}
	return u
}

func (b *browser) do(req *http.Request) *response {
	b.t.Helper()
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatalf("read body: %v", err)
	}
	return &response{status: res.StatusCode, header: res.Header, body: string(body)}
}

func (b *browser) get(path string, hdr ...string) *response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.e.srv.URL+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return b.do(req)
}

func (b *browser) post(path string, form url.Values, hdr ...string) *response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.e.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return b.do(req)
}

// submit posts form f as a browser would: its fields plus the pressed
// button (name, value; "" for none), with set overriding fields.
func (b *browser) submit(f htmlForm, button string, set map[string]string) *response {
	b.t.Helper()
	v := url.Values{}
	for _, in := range f.Inputs {
		v.Set(in.Name, in.Value)
	}
	if button != "" {
		found := false
		for _, bt := range f.Buttons {
			if bt.Name+"="+bt.Value == button {
				v.Set(bt.Name, bt.Value)
				found = true
			}
		}
		if !found {
			b.t.Fatalf("form %s has no button %s", f.Action, button)
		}
	}
	for k, val := range set {
		v.Set(k, val)
	}
	if f.Method != "post" {
		b.t.Fatalf("form method %q, want post", f.Method)
	}
	return b.post(f.Action, v)
}

// signIn submits the login form of page with alice's (or other)
// credentials and returns the answer.
func (b *browser) signIn(page *response, user, pw string) *response {
	b.t.Helper()
	p := parsePage(b.t, page.body)
	f := p.form(b.t, "/oauth2/login")
	return b.submit(f, "", map[string]string{"username": user, "password": pw})
}

// field is one input or button of a form.
type field struct{ Name, Value, Type, ID string }

// htmlForm is a form as a browser sees it.
type htmlForm struct {
	Method, Action string
	Inputs         []field // inputs with a name (not buttons)
	Buttons        []field
}

func (f htmlForm) get(name string) (string, bool) {
	for _, in := range f.Inputs {
		if in.Name == name {
			return in.Value, true
		}
	}
	return "", false
}

// htmlPage is what the tests read of a page.
type htmlPage struct {
	Lang, Title   string
	Viewport      bool
	Forms         []htmlForm
	Labels        map[string]bool // label for= ids
	Unlabelled    []string        // visible inputs without a label
	Text          string          // the visible text
	ExternalAsset bool            // a script, link, img or iframe with a src/href
}

func (p htmlPage) form(t *testing.T, action string) htmlForm {
	t.Helper()
	var found []htmlForm
	for _, f := range p.Forms {
		if f.Action == action {
			found = append(found, f)
		}
	}
	if len(found) != 1 {
		t.Fatalf("got %d forms with action %s, want 1 (page text: %q)", len(found), action, p.Text)
	}
	return found[0]
}

func attr(n *html.Node, name string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val, true
		}
	}
	return "", false
}

// parsePage parses body as a browser would.
func parsePage(t *testing.T, body string) htmlPage {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse HTML: %v", err)
	}
	p := htmlPage{Labels: map[string]bool{}}
	var text strings.Builder
	var visible []field
	var inLabel int
	var cur *htmlForm
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode && n.Parent != nil && n.Parent.Data != "style" && n.Parent.Data != "title" {
			text.WriteString(n.Data)
		}
		if n.Type == html.ElementNode && !inline[n.Data] && n.Data != "br" {
			// A block's text is apart from its neighbours' as a browser
			// shows it, whether or not white space separates them in the
			// markup (templ writes none between blocks).
			text.WriteString(" ")
			defer text.WriteString(" ")
		}
		if n.Type == html.ElementNode {
			switch n.Data {
			case "html":
				p.Lang, _ = attr(n, "lang")
			case "title":
				if n.FirstChild != nil {
					p.Title = n.FirstChild.Data
				}
			case "meta":
				if v, _ := attr(n, "name"); v == "viewport" {
					c, _ := attr(n, "content")
					p.Viewport = strings.Contains(c, "width=device-width")
				}
			case "script", "link", "img", "iframe":
				_, src := attr(n, "src")
				_, href := attr(n, "href")
				p.ExternalAsset = p.ExternalAsset || src || href || n.Data == "script"
			case "label":
				if v, ok := attr(n, "for"); ok {
					p.Labels[v] = true
				}
				inLabel++
				defer func() { inLabel-- }()
			case "form":
				m, _ := attr(n, "method")
				a, _ := attr(n, "action")
				p.Forms = append(p.Forms, htmlForm{Method: strings.ToLower(m), Action: a})
				prev := cur
				cur = &p.Forms[len(p.Forms)-1]
				defer func() { cur = prev }()
			case "input", "button":
				var f field
				f.Name, _ = attr(n, "name")
				f.Value, _ = attr(n, "value")
				f.Type, _ = attr(n, "type")
				f.ID, _ = attr(n, "id")
				if n.Data == "button" {
					if cur != nil {
						cur.Buttons = append(cur.Buttons, f)
					}
					break
				}
				if f.Type != "hidden" && inLabel == 0 {
					visible = append(visible, f)
				}
				if cur != nil && f.Name != "" {
					cur.Inputs = append(cur.Inputs, f)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	for _, f := range visible {
		if f.ID == "" || !p.Labels[f.ID] {
			p.Unlabelled = append(p.Unlabelled, f.Name)
		}
	}
	p.Text = strings.Join(strings.Fields(text.String()), " ")
	return p
}

// checkPage asserts the rules every page follows (SPEC "Endpoints").
func checkPage(t *testing.T, r *response) htmlPage {
	t.Helper()
	h := r.header
	if got := h.Get("Content-Type"); !strings.HasPrefix(got, "text/html") {
		t.Errorf("Content-Type = %q, want text/html", got)
	}
	if got := h.Get("Content-Security-Policy"); !strings.Contains(got, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy = %q, want frame-ancestors 'none'", got)
	}
	for k, want := range map[string]string{
		"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	p := parsePage(t, r.body)
	if p.Lang != "en" {
		t.Errorf("lang = %q, want en", p.Lang)
	}
	if p.Title == "" {
		t.Errorf("page has no title")
	}
	if !p.Viewport {
		t.Errorf("page has no viewport meta")
	}
	if len(p.Unlabelled) > 0 {
		t.Errorf("inputs without a label: %v", p.Unlabelled)
	}
	if p.ExternalAsset {
		t.Errorf("page loads an external asset")
	}
	return p
}
