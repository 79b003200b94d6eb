package clientmeta

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/applinks/applinks/shared/safefetch"
)

// testNet is the only network these tests use: a resolver that answers
// from a table (an unknown name fails the test) and a dialer that connects
// to loopback addresses only, or to an address of the table's public
// addresses translated to a loopback server; any other connection fails
// the test. No test here reaches anything off this machine.
type testNet struct {
	t       *testing.T
	names   map[string][]string
	forward map[string]string // public "ip:port" -> loopback "ip:port"
	dials   atomic.Int32
}

func (n *testNet) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	as, ok := n.names[host]
	if !ok {
		n.t.Errorf("unexpected look-up of %q", host)
		return nil, errors.New("no such host")
	}
	var out []netip.Addr
	for _, a := range as {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

func (n *testNet) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	n.dials.Add(1)
	if to, ok := n.forward[address]; ok {
		address = to
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !ap.Addr().Unmap().IsLoopback() {
		n.t.Errorf("a connection to %s was attempted", address)
		return nil, errors.New("refused by the test")
	}
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}

// docServer is a loopback https server of metadata documents; handler
// answers them (the request's URL is the document's URL).
func docServer(t *testing.T, handler http.HandlerFunc) (*httptest.Server, *x509.CertPool) {
	t.Helper()
	srv := httptest.NewTLSServer(handler)
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return srv, pool
}

func validDoc(clientID string) []byte {
	b, _ := json.Marshal(map[string]any{
		"client_id": clientID, "client_name": "Agent", "redirect_uris": []string{"http://127.0.0.1:3000/callback"},
		"token_endpoint_auth_method": "none",
	})
	return b
}

// TestFetchRefusesNonPublicAddresses: a host whose address is in any of
// the special-purpose registries is refused after resolution, before any
// connection, whether the name resolves to it or the URL writes it; with
// loopback allowed too (only loopback names reach loopback).
func TestFetchRefusesNonPublicAddresses(t *testing.T) {
	n := &testNet{t: t, names: map[string][]string{
		"private10.example":   {"10.0.0.5"},
		"private172.example":  {"172.20.1.1"},
		"private192.example":  {"192.168.10.10"},
		"metadata.example":    {"169.254.169.254"},
		"metadata6.example":   {"fd00:ec2::254"},
		"shared.example":      {"100.64.0.1"},
		"linklocal.example":   {"169.254.1.1"},
		"linklocal6.example":  {"fe80::1"},
		"ula.example":         {"fd12:3456:789a::1"},
		"multicast.example":   {"224.0.0.251"},
		"multicast6.example":  {"ff02::fb"},
		"docs.example":        {"192.0.2.10"},
		"docs6.example":       {"2001:db8::10"},
		"bench.example":       {"198.18.0.1"},
		"unspecified.example": {"0.0.0.0"},
		"mapped.example":      {"::ffff:10.0.0.5"},
		"mappedmeta.example":  {"::ffff:169.254.169.254"},
		"rebind.example":      {"127.0.0.1"},
		"rebind6.example":     {"::1"},
		"both.example":        {"93.184.216.34", "10.0.0.5"},
	}}
	var urls []string
	for host := range n.names {
		urls = append(urls, "https://"+host+"/client.json")
	}
	urls = append(urls,
		"https://10.0.0.5/client.json",
		"https://169.254.169.254/latest/meta-data",
		"https://[::ffff:169.254.169.254]/client.json",
		"https://[fd00:ec2::254]/client.json",
		"https://100.64.0.1/client.json",
		"https://[::ffff:127.0.0.1]/client.json",
	)
	for _, allow := range []bool{false, true} {
		f := NewFetcher(Options{AllowLoopback: allow, Resolver: n, Dial: n.Dial})
		for _, u := range urls {
			_, err := f.Fetch(context.Background(), u)
			if !errors.Is(err, safefetch.ErrAddress) {
				t.Errorf("Fetch(%s), loopback allowed %v: got %v, want ErrAddress", u, allow, err)
			}
			if err != nil && !strings.Contains(err.Error(), "not a public one") {
				t.Errorf("Fetch(%s): the reason %q does not say the address is not public", u, err)
			}
		}
	}
	// Without loopback allowed, a loopback URL is refused as well.
	for _, u := range []string{"https://127.0.0.1/client.json", "https://[::1]/client.json"} {
		if _, err := NewFetcher(Options{Resolver: n, Dial: n.Dial}).Fetch(context.Background(), u); !errors.Is(err, safefetch.ErrAddress) {
			t.Errorf("Fetch(%s) without loopback: got %v, want ErrAddress", u, err)
		}
	}
	if d := n.dials.Load(); d != 0 {
		t.Errorf("the dialer was asked %d times, want 0", d)
	}
}

// TestFetchURLRules: a client_id that is not an https URL on port 443
// with a path is refused before anything is looked up.
func TestFetchURLRules(t *testing.T) {
	n := &testNet{t: t}
	f := NewFetcher(Options{Resolver: n, Dial: n.Dial})
	for _, u := range []string{
		"http://app.example/client.json",
		"https://app.example:8443/client.json",
		"https://app.example",
		"https://app.example/",
		"https://app.example/a/../client.json",
		"https://app.example/./client.json",
		"https://app.example/%2e%2e/client.json",
		"https://user:pw@app.example/client.json",
		"https://app.example/client.json#x",
		"https://app.example/" + strings.Repeat("a", MaxURLBytes),
		"ftp://app.example/client.json",
		"http://127.0.0.1:8080/client.json", // loopback not allowed here
	} {
		_, err := f.Fetch(context.Background(), u)
		var ce *Error
		if !errors.As(err, &ce) || errors.Is(err, safefetch.ErrAddress) {
			t.Errorf("Fetch(%.60s): got %v, want a URL refusal", u, err)
		}
	}
	if d := n.dials.Load(); d != 0 {
		t.Errorf("the dialer was asked %d times, want 0", d)
	}
}

// TestFetchPublicHost: a name that resolves to a public address is
// fetched on port 443 (here the test network forwards that address to a
// loopback server whose certificate names example.com), and the document
// is cached as its headers say.
func TestFetchPublicHost(t *testing.T) {
	const clientID = "https://example.com/oauth/client.json"
	srv, pool := docServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/oauth/client.json" {
			t.Errorf("got %s %s", r.Method, r.URL)
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(validDoc(clientID))
	})
	n := &testNet{t: t, names: map[string][]string{"example.com": {"93.184.216.34"}},
		forward: map[string]string{"93.184.216.34:443": srv.Listener.Addr().String()}}
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	f := NewFetcher(Options{Resolver: n, Dial: n.Dial, RootCAs: pool, Now: func() time.Time { return now }})
	got, err := f.Fetch(context.Background(), clientID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Document.ClientName != "Agent" || got.FetchedAt != now || got.CacheUntil != now.Add(time.Hour) {
		t.Errorf("got %+v, want Agent fetched now, cached one hour", got)
	}
}

// TestFetchLoopbackRefusals: on the loopback server that
// CLIENT_METADATA_ALLOW_LOOPBACK allows, each refusal of the fetch: a
// redirect (not followed), a document over the size limit (announced or
// not), a server that does not answer in time, a client_id that differs
// from the URL, a status other than 200; a document at the size limit is
// accepted.
func TestFetchLoopbackRefusals(t *testing.T) {
	var redirected atomic.Int32
	release := make(chan struct{})
	var srvURL string
	srv, pool := docServer(t, func(w http.ResponseWriter, r *http.Request) {
		self := srvURL + r.URL.Path
		switch r.URL.Path {
		case "/redirect.json":
			http.Redirect(w, r, srvURL+"/target.json", http.StatusFound)
		case "/target.json":
			redirected.Add(1)
			_, _ = w.Write(validDoc(self))
		case "/large.json", "/large-chunked.json":
			doc := validDoc(self)
			body := string(doc[:len(doc)-1]) + `,"pad":"` + strings.Repeat("x", MaxDocumentBytes) + `"}`
			if r.URL.Path == "/large-chunked.json" {
				w.(http.Flusher).Flush()
			}
			_, _ = w.Write([]byte(body))
		case "/exact.json":
			doc := validDoc(self)
			_, _ = w.Write(append(doc, []byte(strings.Repeat(" ", MaxDocumentBytes-len(doc)))...))
		case "/slow.json":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/slow-body.json":
			w.Header().Set("Content-Length", "100")
			_, _ = w.Write([]byte(`{"client_id":`))
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/other.json":
			_, _ = w.Write(validDoc("https://app.example/client.json"))
		case "/missing.json":
			http.NotFound(w, r)
		}
	})
	defer close(release)
	srvURL = srv.URL
	n := &testNet{t: t, names: map[string][]string{"localhost": {"127.0.0.1"}}}
	f := NewFetcher(Options{AllowLoopback: true, Resolver: n, Dial: n.Dial, RootCAs: pool, Timeout: 300 * time.Millisecond})
	for _, tc := range []struct {
		path, want string
		is         error
	}{
		{"/redirect.json", "redirect", safefetch.ErrRedirect},
		{"/large.json", "larger than 5120 bytes", safefetch.ErrTooLarge},
		{"/large-chunked.json", "larger than 5120 bytes", safefetch.ErrTooLarge},
		{"/slow.json", "did not answer within", nil},
		{"/slow-body.json", "did not answer within", nil},
		{"/other.json", "client_id is not the URL it was fetched from", nil},
		{"/missing.json", "HTTP status 404", nil},
	} {
		_, err := f.Fetch(context.Background(), srv.URL+tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.want) || tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%s: got %v, want %q", tc.path, err, tc.want)
		}
	}
	if n := redirected.Load(); n != 0 {
		t.Errorf("the redirect's target was asked %d times, want 0", n)
	}
	if got, err := f.Fetch(context.Background(), srv.URL+"/exact.json"); err != nil || got.Document.ClientName != "Agent" {
		t.Errorf("a document of exactly %d bytes: %+v, %v", MaxDocumentBytes, got, err)
	}
	// localhost, by name, reaches a loopback server too (plain http
	// is allowed on loopback).
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(validDoc("http://" + r.Host + r.URL.Path))
	}))
	defer plain.Close()
	local := strings.Replace(plain.URL, "127.0.0.1", "localhost", 1) + "/client.json"
	if got, err := f.Fetch(context.Background(), local); err != nil || got.Document.ClientID != local {
		t.Errorf("%s: got %+v, %v", local, got, err)
	}
}

// TestFetcherDefaults: the fetch's deadline is 5 s and its body limit
// 5,120 bytes unless a test shortens the deadline.
func TestFetcherDefaults(t *testing.T) {
	f := NewFetcher(Options{})
	if f.client.Timeout != 5*time.Second {
		t.Errorf("timeout %s, want 5s", f.client.Timeout)
	}
	if MaxDocumentBytes != 5120 || MaxURLBytes != 512 {
		t.Errorf("limits %d, %d; want 5120, 512", MaxDocumentBytes, MaxURLBytes)
	}
}

// TestParse: each rule of the document, worded for the error page.
func TestParse(t *testing.T) {
	const id = "https://app.example/client.json"
	doc := func(mod func(map[string]any)) []byte {
		m := map[string]any{"client_id": id, "client_name": "Agent", "redirect_uris": []string{"https://app.example/cb"},
			"token_endpoint_auth_method": "none", "logo_uri": "https://app.example/logo.png"}
		mod(m)
		b, _ := json.Marshal(m)
		return b
	}
	for _, tc := range []struct {
		name string
		body []byte
		want string // "" ok
	}{
		{"valid", doc(func(map[string]any) {}), ""},
		{"valid with grant types", doc(func(m map[string]any) { m["grant_types"] = []string{"authorization_code", "refresh_token"} }), ""},
		{"other client_id", doc(func(m map[string]any) { m["client_id"] = id + "?x" }), "client_id is not the URL"},
		{"no client_id", doc(func(m map[string]any) { delete(m, "client_id") }), "client_id is not the URL"},
		{"no name", doc(func(m map[string]any) { delete(m, "client_name") }), "no client_name"},
		{"blank name", doc(func(m map[string]any) { m["client_name"] = "  " }), "no client_name"},
		{"bidi name", doc(func(m map[string]any) { m["client_name"] = "abc\u202egpj.exe" }), "bidirectional"},
		{"long name", doc(func(m map[string]any) { m["client_name"] = strings.Repeat("n", 201) }), "above the maximum"},
		{"no redirect", doc(func(m map[string]any) { delete(m, "redirect_uris") }), "no redirect_uris"},
		{"bad redirect", doc(func(m map[string]any) { m["redirect_uris"] = []string{"http://app.example/cb"} }), "redirect_uris"},
		{"wildcard redirect", doc(func(m map[string]any) { m["redirect_uris"] = []string{"https://*.app.example/cb"} }), "wildcard"},
		{"secret method", doc(func(m map[string]any) { m["token_endpoint_auth_method"] = "client_secret_basic" }), `must be "none"`},
		{"jwt method", doc(func(m map[string]any) { m["token_endpoint_auth_method"] = "private_key_jwt" }), `must be "none"`},
		{"no method", doc(func(m map[string]any) { delete(m, "token_endpoint_auth_method") }), `must be "none"`},
		{"secret", doc(func(m map[string]any) { m["client_secret"] = "s3cr3t" }), "client_secret"},
		{"secret expiry", doc(func(m map[string]any) { m["client_secret_expires_at"] = 0 }), "client_secret_expires_at"},
		{"device only", doc(func(m map[string]any) { m["grant_types"] = []string{"urn:ietf:params:oauth:grant-type:device_code"} }), "authorization_code"},
		{"implicit", doc(func(m map[string]any) { m["response_types"] = []string{"token"} }), "response_types"},
		{"wrong type", doc(func(m map[string]any) { m["redirect_uris"] = "https://app.example/cb" }), "wrong type"},
		{"array", []byte(`[1]`), "not a JSON object"},
		{"not json", []byte(`<html>`), "not a JSON object"},
	} {
		_, err := Parse(tc.body, id)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%s: the reason repeats the secret", tc.name)
		}
	}
}

// TestCacheFor: the headers' lifetime, clamped to [5 min, 24 h].
func TestCacheFor(t *testing.T) {
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		h    map[string]string
		want time.Duration
	}{
		{nil, MinCache},
		{map[string]string{"Cache-Control": "max-age=3600"}, time.Hour},
		{map[string]string{"Cache-Control": "public, max-age=60"}, MinCache},
		{map[string]string{"Cache-Control": "max-age=999999999"}, MaxCache},
		{map[string]string{"Cache-Control": "no-store"}, MinCache},
		{map[string]string{"Cache-Control": "max-age=7200, no-cache"}, MinCache},
		{map[string]string{"Cache-Control": "max-age=bogus"}, MinCache},
		{map[string]string{"Expires": now.Add(2 * time.Hour).Format(http.TimeFormat)}, 2 * time.Hour},
		{map[string]string{"Expires": now.Add(2 * time.Hour).Format(http.TimeFormat), "Date": now.Add(time.Hour).Format(http.TimeFormat)}, time.Hour},
		{map[string]string{"Expires": "0"}, MinCache},
		{map[string]string{"Cache-Control": "max-age=600", "Expires": now.Add(48 * time.Hour).Format(http.TimeFormat)}, 10 * time.Minute},
	} {
		h := http.Header{}
		for k, v := range tc.h {
			h.Set(k, v)
		}
		if got := CacheFor(h, now); got != tc.want {
			t.Errorf("CacheFor(%v) = %s, want %s", tc.h, got, tc.want)
		}
	}
}
