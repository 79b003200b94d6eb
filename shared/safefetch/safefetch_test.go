package safefetch

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// TestCheckAddress: only public unicast addresses pass, and loopback
// when allowed; every kind of IANA's special-purpose registries fails,
// in its IPv4-mapped form too.
func TestCheckAddress(t *testing.T) {
	for _, tc := range []struct {
		addr     string
		loopback bool
		ok       bool
	}{
		{"8.8.8.8", false, true},
		{"93.184.216.34", false, true},
		{"2001:4860:4860::8888", false, true},
		{"127.0.0.1", true, true},
		{"::1", true, true},
		{"::ffff:127.0.0.1", true, true},
		{"127.0.0.1", false, false},
		{"127.8.9.10", false, false},
		{"::1", false, false},
		{"::ffff:127.0.0.1", false, false},
		{"10.0.0.1", false, false},
		{"172.16.0.1", false, false},
		{"192.168.1.1", false, false},
		{"169.254.169.254", false, false}, // cloud metadata
		{"169.254.169.254", true, false},
		{"fd00:ec2::254", false, false}, // cloud metadata (IPv6)
		{"100.64.0.1", false, false},    // shared address space
		{"100.127.255.254", false, false},
		{"192.0.0.1", true, false},
		{"0.0.0.0", true, false},
		{"::", true, false},
		{"224.0.0.1", false, false},
		{"ff02::1", false, false},
		{"255.255.255.255", false, false},
		{"240.0.0.1", false, false},
		{"fe80::1", false, false},
		{"fe80::1%eth0", false, false},
		{"fd00::1", false, false},
		{"fc00::1", false, false},
		{"::ffff:10.0.0.1", false, false},
		{"::ffff:169.254.169.254", false, false},
		{"::ffff:100.64.0.1", false, false},
		{"::10.0.0.1", false, false},     // IPv4-compatible (deprecated)
		{"64:ff9b::a00:1", false, false}, // NAT64 of 10.0.0.1
		{"2002:a00:1::1", false, false},  // 6to4 of 10.0.0.1
		{"192.0.2.1", false, false},      // documentation
		{"198.51.100.7", false, false},   // documentation
		{"203.0.113.9", false, false},    // documentation
		{"2001:db8::1", false, false},    // documentation
		{"198.18.0.1", false, false},     // benchmarking
		{"198.19.255.1", false, false},   // benchmarking
		{"2001:2::1", false, false},      // benchmarking (IPv6)
		{"100::1", false, false},         // discard
		{"192.88.99.1", false, false},    // 6to4 relay anycast
	} {
		err := CheckAddress(netip.MustParseAddr(tc.addr), tc.loopback)
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrAddress) {
			t.Errorf("CheckAddress(%s, loopback %v) = %v, want ok %v", tc.addr, tc.loopback, err, tc.ok)
		}
	}
}

// fakeResolver answers from a table; an unknown name fails the test.
type fakeResolver struct {
	t     *testing.T
	names map[string][]string
}

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	as, ok := r.names[host]
	if !ok {
		r.t.Errorf("unexpected look-up of %q", host)
		return nil, errors.New("no such host")
	}
	var out []netip.Addr
	for _, a := range as {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

// loopbackOnly is a dialer that connects to loopback addresses only and
// fails the test on any other.
func loopbackOnly(t *testing.T) DialFunc {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !ap.Addr().Unmap().IsLoopback() {
			t.Errorf("a connection to %s was attempted", address)
			return nil, errors.New("refused by the test")
		}
		var d net.Dialer
		return d.DialContext(ctx, network, address)
	}
}

// TestResolvedAddressRefused: a host name that resolves to an address
// that is not public is refused after resolution, before any connection,
// whatever else it resolves to; with loopback allowed, a name that merely
// resolves to loopback is still refused.
func TestResolvedAddressRefused(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	res := fakeResolver{t: t, names: map[string][]string{
		"private.example":   {"10.1.2.3"},
		"metadata.example":  {"169.254.169.254"},
		"mapped.example":    {"::ffff:127.0.0.1"},
		"rebind.example":    {"127.0.0.1"},
		"mixed.example":     {"8.8.8.8", "192.168.0.1"},
		"ula.example":       {"fd12:3456::1"},
		"shared.example":    {"100.64.1.1"},
		"linklocal.example": {"fe80::1"},
	}}
	for _, loopback := range []bool{false, true} {
		c := New(Options{Timeout: 2 * time.Second, AllowLoopback: loopback, Resolver: res, Dial: loopbackOnly(t)})
		for host := range res.names {
			u := (&url.URL{Scheme: "http", Host: net.JoinHostPort(host, strconv.Itoa(port)), Path: "/"}).String()
			_, err := c.Get(u)
			if !errors.Is(err, ErrAddress) {
				t.Errorf("GET %s (loopback allowed: %v): got %v, want ErrAddress", u, loopback, err)
			}
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the server was reached %d times", n)
	}
}

// TestLoopbackName: a loopback name reaches loopback only when allowed.
func TestLoopbackName(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	port := strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	res := fakeResolver{t: t, names: map[string][]string{"localhost": {"127.0.0.1"}}}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		u := "http://" + net.JoinHostPort(host, port) + "/"
		if _, err := New(Options{Resolver: res, Dial: loopbackOnly(t)}).Get(u); !errors.Is(err, ErrAddress) {
			t.Errorf("GET %s without loopback: got %v, want ErrAddress", u, err)
		}
		resp, err := New(Options{AllowLoopback: true, Resolver: res, Dial: loopbackOnly(t)}).Get(u)
		if err != nil {
			t.Errorf("GET %s with loopback: %v", u, err)
			continue
		}
		resp.Body.Close()
	}
}

// TestCheckURLFirst: the caller's URL check runs before anything is
// resolved.
func TestCheckURLFirst(t *testing.T) {
	refused := errors.New("refused")
	c := New(Options{Resolver: fakeResolver{t: t}, Dial: loopbackOnly(t), CheckURL: func(*url.URL) error { return refused }})
	if _, err := c.Get("https://app.example/doc"); !errors.Is(err, refused) {
		t.Errorf("got %v, want the URL check's error", err)
	}
}
