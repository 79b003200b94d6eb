// Package upstreamtest starts real OpenID Providers for tests of upstream
// sign-in: zitadel/oidc's example OP (exampleop.SetupServer, unmodified),
// and drives a person's browser through its login form. Nothing here is a
// fake of an upstream.
//
// It is test support: no Lambda function may import it (shared/lambdahttp's
// TestLambdaDependencies refuses it).
package upstreamtest

import (
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
)

// Zitadel users (storage.NewUserStore): Username is test-user@localhost
// (sub id1, email test-user@zitadel.ch, verified) and Username2 test-user2
// (sub id2); both have Password.
const (
	Username  = "test-user@localhost"
	Username2 = "test-user2"
	Password  = "verysecure"
)

// StartZitadel serves zitadel/oidc's example OpenID Provider on
// http://localhost:PORT (listening on 127.0.0.1) with a web client per
// entry of clients (client id → redirect URI), each with the secret
// "secret", until the test ends. It returns the issuer.
func StartZitadel(t testing.TB, clients map[string]string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	issuer := "http://localhost:" + port
	cs := map[string]*storage.Client{}
	for id, redirect := range clients {
		cs[id] = storage.WebClient(id, "secret", redirect)
	}
	router := exampleop.SetupServer(issuer, storage.NewStorageWithClients(storage.NewUserStore(issuer), cs), nil, false)
	srv := &http.Server{Handler: router, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return issuer
}

// ZitadelLogin drives b (a client with a cookie jar whose CheckRedirect
// stops where the test wants) from an upstream authorization URL through
// the example OP's login form, and returns the last response's request URL
// and the redirect the OP answered with (its Location), which the caller
// follows itself.
func ZitadelLogin(t testing.TB, b *http.Client, authURL, username, password string) *url.URL {
	t.Helper()
	stop := b.CheckRedirect
	var back *url.URL
	b.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if strings.Contains(req.URL.Path, "/upstream/callback") {
			back = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}
	defer func() { b.CheckRedirect = stop }()
	resp, err := b.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Request.URL.Query().Get("authRequestID")
	if id == "" {
		t.Fatalf("the OP's login page: %s (status %d), want ?authRequestID=", resp.Request.URL, resp.StatusCode)
	}
	login := *resp.Request.URL
	login.RawQuery = ""
	resp, err = b.PostForm(login.String(), url.Values{"id": {id}, "username": {username}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if back == nil {
		t.Fatalf("signing in at the OP did not lead to an upstream callback (status %d at %s)", resp.StatusCode, resp.Request.URL)
	}
	return back
}

// NewBrowser is a client with a cookie jar.
func NewBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second}
}
