package storetest

import (
	"net"
	"strconv"
	"testing"
)

// TestFreePort: the port is bindable on loopback and, with room below the
// kernel's ephemeral range, below it (so that no outgoing connection of
// the tests can take it before a child process binds it).
func TestFreePort(t *testing.T) {
	lo := ephemeralLow()
	for range 20 {
		p, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if lo-10000 >= 1000 && (p < 10000 || p >= lo) {
			t.Errorf("FreePort() = %d, want a port in [10000, %d)", p, lo)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Errorf("listen on FreePort() = %d: %v", p, err)
			continue
		}
		l.Close()
	}
}
