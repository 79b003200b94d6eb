package upstream

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://login.example.com", true},
		{"https://login.example.com/realms/a", true},
		{"http://127.0.0.1:8080", true},
		{"http://localhost:9000/x", true},
		{"http://[::1]:1", true},
		{"http://login.example.com", false},
		{"http://10.0.0.1", false},
		{"http://169.254.169.254/latest/meta-data", false},
		{"http://127.0.0.1.nip.io", false},
		{"http://localhost.example.com", false},
		{"ftp://login.example.com", false},
		{"file:///etc/passwd", false},
		{"https://", false},
		{"login.example.com", false},
		{"https://user:pw@login.example.com", false},
	} {
		if err := CheckURL(tc.url); (err == nil) != tc.ok {
			t.Errorf("CheckURL(%q) = %v, want ok %v", tc.url, err, tc.ok)
		}
	}
}

// TestFetchScheme: the client refuses, before any connection, a plain
// http URL whose host is not a loopback name, whoever chose it (the
// operator's issuer, or an endpoint a discovery document names).
func TestFetchScheme(t *testing.T) {
	c := NewHTTPClient(time.Second, 1024)
	for _, u := range []string{"http://login.example.com/.well-known/openid-configuration", "http://169.254.169.254/latest/meta-data/", "gopher://127.0.0.1:70/"} {
		_, err := c.Get(u)
		if !errors.Is(err, ErrScheme) {
			t.Errorf("GET %s: got %v, want ErrScheme", u, err)
		}
	}
}

// TestFetchNoRedirects: a redirect is not followed, to another host or the
// same one: the target is never asked.
func TestFetchNoRedirects(t *testing.T) {
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer target.Close()
	for _, loc := range []string{target.URL + "/doc", "/doc"} {
		src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/doc" {
				hits.Add(1)
				return
			}
			http.Redirect(w, r, loc, http.StatusFound)
		}))
		_, err := NewHTTPClient(time.Second, 1024).Get(src.URL + "/start")
		src.Close()
		if !errors.Is(err, ErrRedirect) {
			t.Errorf("redirect to %s: got %v, want ErrRedirect", loc, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the redirect targets were asked %d times, want 0", n)
	}
}

// TestFetchBodyLimit: a body over the limit fails the read, whether its
// length is announced or not; one at the limit reads whole.
func TestFetchBodyLimit(t *testing.T) {
	const limit = 1000
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := limit
		if r.URL.Path != "/exact" {
			n = limit + 1
		}
		if r.URL.Path == "/chunked" {
			w.(http.Flusher).Flush() // no Content-Length
		}
		_, _ = w.Write([]byte(strings.Repeat("x", n)))
	}))
	defer srv.Close()
	c := NewHTTPClient(time.Second, limit)
	for _, path := range []string{"/announced", "/chunked"} {
		resp, err := c.Get(srv.URL + path)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: got %v, want ErrTooLarge", path, err)
		}
	}
	resp, err := c.Get(srv.URL + "/exact")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || len(body) != limit {
		t.Errorf("a body at the limit: read %d bytes, %v; want %d", len(body), err, limit)
	}
}

// TestFetchTimeout: an upstream that never finishes answering ends the
// request at the client's deadline, headers or body.
func TestFetchTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/body" {
			w.Header().Set("Content-Length", "10")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("12345"))
			w.(http.Flusher).Flush()
		}
		<-release
	}))
	defer srv.Close()
	defer close(release)
	c := NewHTTPClient(200*time.Millisecond, 1024)
	for _, path := range []string{"/headers", "/body"} {
		done := make(chan error, 1)
		go func() {
			resp, err := c.Get(srv.URL + path)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !(errors.Is(err, context.DeadlineExceeded) || isTimeout(err)) {
				t.Errorf("%s: got %v, want a timeout", path, err)
			}
		case <-time.After(10 * time.Second):
			// A bound on the test, far above the client's 200 ms.
			t.Errorf("%s: the request did not end within 10 s", path)
		}
	}
}

// TestFetchNonPublicAddress: a host whose address is not public is
// refused by the dialer before it connects, whatever its name: here an
// IPv4-mapped loopback address, which is not a loopback name, so the test
// reaches nothing off this machine even if the check breaks (the private
// ranges are TestCheckAddress's; no name is looked up).
func TestFetchNonPublicAddress(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the server was reached: %s", r.URL)
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	c := NewHTTPClient(time.Second, 1024)
	for _, u := range []string{"https://[::ffff:127.0.0.1]:" + port + "/"} {
		if _, err := c.Get(u); !errors.Is(err, ErrAddress) {
			t.Errorf("GET %s: got %v, want ErrAddress", u, err)
		}
	}
}
