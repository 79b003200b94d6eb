package loopback

import (
	"context"
	"errors"
	"net"
	"testing"
)

func TestIsHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LocalHost": true, "127.0.0.1": true, "127.1.2.3": true, "::1": true,
		"::ffff:127.0.0.1": true, "fe80::1%lo": false, "10.0.0.1": false, "192.0.2.1": false,
		"localhost.example.com": false, "example.com": false, "": false, "0.0.0.0": false,
	} {
		if got := IsHost(host); got != want {
			t.Errorf("IsHost(%q): got %v, want %v", host, got, want)
		}
	}
}

func TestParseURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"http://127.0.0.1:8080": true, "https://localhost/token?x=1": true, "http://[::1]:9/": true,
		"http://192.0.2.1/": false, "http://auth.example.com/": false, "ftp://127.0.0.1/": false,
		"127.0.0.1:8080": false, "/token": false, "http://%zz": false,
	} {
		u, err := ParseURL(raw)
		if (err == nil) != ok || (ok && u == nil) {
			t.Errorf("ParseURL(%q): got (%v, %v), want ok=%v", raw, u, err, ok)
		}
	}
	if _, err := ParseURL("http://192.0.2.1/"); !errors.Is(err, ErrNotLoopback) {
		t.Errorf("got %v, want ErrNotLoopback", err)
	}
}

// TestDialer: a loopback listener is reached, any other address is refused
// before a packet leaves.
func TestDialer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := Dialer().DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial %s: got %v, want a connection", ln.Addr(), err)
	}
	c.Close()
	if _, err := Dialer().DialContext(context.Background(), "tcp", "192.0.2.1:80"); !errors.Is(err, ErrNotLoopback) {
		t.Errorf("dial 192.0.2.1: got %v, want ErrNotLoopback", err)
	}
}
