package storetest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// FreePort returns a loopback port, free a moment ago, for a child process
// to listen on (DynamoDB Local, the Lambda emulator). It is taken below the
// kernel's ephemeral range when there is room, so that an outgoing
// connection of the tests cannot take it between the check and the child's
// bind (the kernel picks those ports from the ephemeral range); otherwise
// it asks the kernel for one.
func FreePort() (int, error) {
	lo := ephemeralLow()
	const floor = 10000
	if lo-floor >= 1000 {
		for range 50 {
			p := floor + rand.IntN(lo-floor)
			if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p)); err == nil {
				l.Close()
				return p, nil
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux's
// default when it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 0 {
				return n
			}
		}
	}
	return 32768
}
