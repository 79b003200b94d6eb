package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp/kb"
	"golang.org/x/oauth2"

	"github.com/applinks/applinks/local/server"
	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store/storetest"
	chrome "github.com/applinks/applinks/tests/testkit/browser"
	"github.com/applinks/applinks/tests/testkit/testca"
)

// metadataServer serves one Client ID Metadata Document over https on
// loopback with ca's certificate; its client_id is its own URL.
//
// Any other path ending in .json serves a document for its own URL too
// (named "Loopback Agent" followed by the path), except /bad.json, whose
// client_id is another URL.
func metadataServer(t *testing.T, ca *testca.CA, redirectURI string) (clientID string) {
	t.Helper()
	var base string
	srv := ca.StartTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, ".json") {
			http.NotFound(w, r)
			return
		}
		id, name := base+r.URL.Path, "Loopback Agent"
		switch r.URL.Path {
		case "/oauth/client-metadata.json":
		case "/bad.json":
			id = base + "/other.json"
		default:
			name += " " + strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), ".json")
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=600")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"client_id": id, "client_name": name, "redirect_uris": []string{redirectURI},
			"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
			"token_endpoint_auth_method": "none",
		})
	}))
	base = srv.URL
	return base + "/oauth/client-metadata.json"
}

// TestMetadataDocumentFlow: an application that names itself by a Client
// ID Metadata Document on loopback https (a test certificate authority,
// CLIENT_METADATA_ALLOW_LOOPBACK=true) under trusted_hosts signs a user in
// with golang.org/x/oauth2 as a public client with PKCE: authorization
// code, token, refresh; the token names the URL as its client; a code
// exchange without the verifier is refused.
func TestMetadataDocumentFlow(t *testing.T) {
	ca := testca.NewT(t)
	const redirect = "http://127.0.0.1:53682/callback"
	clientID := metadataServer(t, ca, redirect)
	p := startProviderWith(t, map[string]string{"CLIENT_METADATA_ALLOW_LOOPBACK": "true"}, func(c *config.Config) {
		c.ClientMetadataRoots = ca.Pool()
	})
	policy := shared.DefaultRegistrationPolicy(shared.DefaultCatalog())
	policy.MetadataDocuments.Mode = shared.ModeTrustedHosts
	policy.MetadataDocuments.TrustedHosts = []string{"127.0.0.1"}
	policy.MetadataDocuments.Scopes = []string{"REPO_WRITE"}
	if err := p.st.PutRegistrationPolicy(context.Background(), policy, time.Now()); err != nil {
		t.Fatal(err)
	}
	p.createUser("mia", "plum kettle orbit meadow 41", []string{"REPO_WRITE"})

	conf := &oauth2.Config{
		ClientID:    clientID,
		Endpoint:    oauth2.Endpoint{AuthURL: p.issuer + "/oauth2/authorize", TokenURL: p.issuer + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: redirect,
		Scopes:      []string{"REPO_READ"},
	}
	verifier := oauth2.GenerateVerifier()
	b := newBrowser(t, "http://127.0.0.1:53682/")
	got := b.authorize(conf.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier)), "mia", "plum kettle orbit meadow 41", "approve")
	code := got.Query().Get("code")
	if code == "" || got.Query().Get("state") != "st-1" {
		t.Fatalf("redirect %s: no code", got)
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, p.client)
	if _, err := conf.Exchange(ctx, code+"x", oauth2.VerifierOption(verifier)); err == nil {
		t.Errorf("a wrong code was exchanged")
	}
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	claims := p.claims(tok.AccessToken)
	if claims["client_id"] != clientID {
		t.Errorf("access token client_id %v, want %s", claims["client_id"], clientID)
	}
	if tok.RefreshToken == "" {
		t.Fatalf("no refresh token")
	}
	fresh, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil || fresh.AccessToken == "" || fresh.AccessToken == tok.AccessToken {
		t.Fatalf("refresh: %v", err)
	}

	// PKCE is required: a second authorization's code without the
	// verifier is refused.
	got = b.authorize(conf.AuthCodeURL("st-2", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "mia", "", "approve")
	if _, err := conf.Exchange(ctx, got.Query().Get("code")); err == nil {
		t.Errorf("a code was exchanged without its verifier")
	}
	// Without a challenge the request never gets a code.
	noPKCE := b.get(conf.AuthCodeURL("st-3"))
	if loc, _ := url.Parse(noPKCE.header.Get("Location")); loc == nil || loc.Query().Get("error") != "invalid_request" {
		t.Errorf("a request without PKCE: %d %s", noPKCE.status, noPKCE.header.Get("Location"))
	}
}

// TestMetadataDocumentSSLCertFile: a provider in a process of its own
// trusts a test certificate authority given by SSL_CERT_FILE alone (Go's
// system roots read it; nothing is injected), as a client library's test
// in another language uses it: the same flow as TestMetadataDocumentFlow
// against that process (this test binary run again as
// TestHelperProviderProcess).
func TestMetadataDocumentSSLCertFile(t *testing.T) {
	ca := testca.NewT(t)
	const redirect = "http://127.0.0.1:53683/callback"
	clientID := metadataServer(t, ca, redirect)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProviderProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "APPLINKS_HELPER_PROVIDER=1", "SSL_CERT_FILE="+ca.File(t),
		"CLIENT_METADATA_ALLOW_LOOPBACK=true", "AWS_ENDPOINT_URL=")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = stdin.Close() // the helper stops when its input ends
		_ = cmd.Wait()
	}()
	issuer := ""
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "ISSUER="); ok {
			issuer = v
			break
		}
	}
	if issuer == "" {
		t.Fatalf("the helper process did not start: %v", sc.Err())
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()

	conf := &oauth2.Config{
		ClientID:    clientID,
		Endpoint:    oauth2.Endpoint{AuthURL: issuer + "/oauth2/authorize", TokenURL: issuer + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: redirect,
		Scopes:      []string{"REPO_READ"},
	}
	verifier := oauth2.GenerateVerifier()
	b := newBrowser(t, "http://127.0.0.1:53683/")
	got := b.authorize(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), "mia", "plum kettle orbit meadow 41", "approve")
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Timeout: 30 * time.Second})
	tok, err := conf.Exchange(ctx, got.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("Exchange: %v", err)
	}
}

// TestHelperProviderProcess is TestMetadataDocumentSSLCertFile's provider
// process: it does nothing unless APPLINKS_HELPER_PROVIDER=1. Its
// configuration is its environment (SSL_CERT_FILE,
// CLIENT_METADATA_ALLOW_LOOPBACK), on kumo in-process; it allows metadata
// documents from 127.0.0.1, adds the user mia, prints ISSUER=<url> and
// serves until its standard input ends.
func TestHelperProviderProcess(t *testing.T) {
	if os.Getenv("APPLINKS_HELPER_PROVIDER") != "1" {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	cfg, err := config.FromEnv(func(k string) string {
		switch k {
		case "ISSUER_URL":
			return issuer
		case "ADMIN_TOKEN":
			return adminToken
		}
		return os.Getenv(k)
	})
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.Kumo(t)
	policy := shared.DefaultRegistrationPolicy(shared.DefaultCatalog())
	policy.MetadataDocuments.Mode = shared.ModeTrustedHosts
	policy.MetadataDocuments.TrustedHosts = []string{"127.0.0.1"}
	if err := st.PutRegistrationPolicy(context.Background(), policy, time.Now()); err != nil {
		t.Fatal(err)
	}
	h, err := server.New(context.Background(), cfg, st, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	p := &provider{t: t, issuer: issuer, client: &http.Client{Timeout: 30 * time.Second}, st: st}
	p.createUser("mia", "plum kettle orbit meadow 41", []string{"REPO_WRITE"})
	fmt.Printf("ISSUER=%s\n", issuer)
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// TestMetadataPagesInBrowser looks at the pages of metadata-document
// applications in headless Chromium at 375 and 1280 px: the consent page
// (the host named prominently, "registered itself", the loopback warning),
// the account page (named by its id, with its host), and the refusals
// (must be approved first, not allowed, a bad document). None scrolls
// sideways at 375 px.
func TestMetadataPagesInBrowser(t *testing.T) {
	ca := testca.NewT(t)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "the application's callback") }))
	defer cb.Close()
	redirect := cb.URL + "/callback"
	clientID := metadataServer(t, ca, redirect)
	base := strings.TrimSuffix(clientID, "/oauth/client-metadata.json")
	p := startProviderWith(t, map[string]string{"CLIENT_METADATA_ALLOW_LOOPBACK": "true", "PROVIDER_NAME": "Example Corp"},
		func(c *config.Config) { c.ClientMetadataRoots = ca.Pool() })
	setPolicy := func(mode string) {
		policy := shared.DefaultRegistrationPolicy(shared.DefaultCatalog())
		policy.MetadataDocuments.Mode = mode
		policy.MetadataDocuments.TrustedHosts = []string{"127.0.0.1"}
		policy.MetadataDocuments.Scopes = []string{"REPO_WRITE"}
		if err := p.st.PutRegistrationPolicy(context.Background(), policy, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	setPolicy(shared.ModeTrustedHosts)
	p.createUser("alice", "plum tractor velvet orbit", []string{"REPO_WRITE"})
	authz := func(id string) string {
		return p.issuer + "/oauth2/authorize?" + url.Values{
			"response_type": {"code"}, "client_id": {id}, "scope": {"REPO_WRITE"}, "state": {"s"}, "redirect_uri": {redirect},
			"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"},
		}.Encode()
	}
	b := chrome.New(t)
	alice := b.User("alice")
	look := func(name string, wants ...string) {
		t.Helper()
		text := alice.BodyText()
		for _, w := range wants {
			if !strings.Contains(text, w) {
				t.Errorf("%s: page lacks %q; it says:\n%s", name, w, text)
			}
		}
		if alice.HorizontalOverflow(375) {
			t.Errorf("%s: the page scrolls sideways at 375 px", name)
		}
		alice.Screenshot(name)
	}
	host := strings.TrimPrefix(base, "https://")
	if st := alice.Navigate(authz(clientID)); st != 200 {
		t.Fatalf("login page: status %d", st)
	}
	alice.Type("#username", "alice")
	alice.Type("#password", "plum tractor velvet orbit")
	alice.Press(kb.Enter, true)
	look("metadata-consent", "Loopback Agent wants to access your Example Corp account", "From "+host,
		"This application registered itself", "Only continue if you just started this application on this computer")
	if !alice.Exists("strong.host") {
		t.Error("consent: the host is not shown prominently")
	}
	alice.Submit("button[name=decision][value=approve]")
	alice.Navigate(p.issuer + "/account/authorizations")
	look("metadata-account", "Loopback Agent", "From "+host, "Registered by the application itself")
	if !alice.Exists(`form[action^="/account/authorizations/m."]`) {
		t.Error("account: the revoke path does not name the link by its id")
	}

	alice.Navigate(authz(base + "/bad.json"))
	look("metadata-bad-document", "This application's description cannot be used", "client_id is not the URL it was fetched from")
	setPolicy(shared.ModeApproval)
	alice.Navigate(authz(base + "/new-agent.json"))
	look("metadata-pending", "This application must be approved first", "the administrator must approve the application first")
	setPolicy(shared.ModeTrustedHosts)
	if err := p.st.PutRegistrationPolicy(context.Background(), shared.RegistrationPolicy{
		MetadataDocuments:   shared.MetadataDocumentPolicy{Mode: shared.ModeTrustedHosts, TrustedHosts: []string{"agents.example.com"}, Scopes: []string{"REPO_READ"}},
		DynamicRegistration: shared.DefaultRegistrationPolicy(shared.DefaultCatalog()).DynamicRegistration,
	}, time.Now()); err != nil {
		t.Fatal(err)
	}
	alice.Navigate(authz(base + "/another-agent-with-a-rather-long-name-for-narrow-screens.json"))
	look("metadata-not-allowed", "This application is not allowed", "the administrator does not allow it")
	alice.CheckConsole()
}
