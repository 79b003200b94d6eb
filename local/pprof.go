package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/applinks/applinks/local/loopback"
)

// listenPprof listens on PPROF_ADDR for net/http/pprof, or returns nil when
// it is unset (the default). The address must be a loopback host:port: the
// profiles show the process's memory and arguments.
func listenPprof(addr string) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("PPROF_ADDR: %q is not host:port", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return nil, fmt.Errorf("PPROF_ADDR: %q needs a port from 0 to 65535", addr)
	}
	if !loopback.IsHost(host) { // an address of this machine, not SPEC's loopback hosts
		return nil, fmt.Errorf("PPROF_ADDR: %q is not a loopback address (127.0.0.1:PORT)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("PPROF_ADDR: %w", err)
	}
	return ln, nil
}

// servePprof serves net/http/pprof's handlers on ln, on a mux of their own
// (never the provider's), until ln is closed.
func servePprof(ln net.Listener) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	_ = srv.Serve(ln)
}
