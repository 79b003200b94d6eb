package testca

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// childURL set in the environment makes the test binary a child process
// that GETs it with Go's default client (the system roots, which
// SSL_CERT_FILE replaces) and prints the body or the error.
const childURL = "TESTCA_CHILD_GET"

func TestMain(m *testing.M) {
	if u := os.Getenv(childURL); u != "" {
		c := &http.Client{Timeout: 10 * time.Second}
		resp, err := c.Get(u)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(0)
		}
		body, _ := io.ReadAll(resp.Body)
		fmt.Printf("%d %s\n", resp.StatusCode, body)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func hello() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hello over "+r.Proto) })
}

// TestStartTLS: a client that trusts the CA reaches its loopback server by
// 127.0.0.1 and localhost (the certificate names ::1 too); a client with only the system roots,
// and one trusting another test CA, are refused with an unknown authority.
func TestStartTLS(t *testing.T) {
	ca := NewT(t)
	srv := ca.StartTLS(t, hello())
	if !strings.HasPrefix(srv.URL, "https://127.0.0.1:") {
		t.Fatalf("server URL %s, want https on 127.0.0.1", srv.URL)
	}
	port := strings.TrimPrefix(srv.URL, "https://127.0.0.1")
	for _, u := range []string{srv.URL, "https://localhost" + port} {
		resp, err := ca.Client().Get(u)
		if err != nil {
			t.Fatalf("GET %s trusting the CA: %v", u, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "hello over HTTP/") {
			t.Errorf("GET %s: %d %q", u, resp.StatusCode, body)
		}
	}
	leaf := srv.TLS.Certificates[0].Leaf
	if len(leaf.IPAddresses) != 2 || !leaf.IPAddresses[1].IsLoopback() || len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "localhost" {
		t.Errorf("server certificate names %v %v, want 127.0.0.1, ::1 and localhost", leaf.IPAddresses, leaf.DNSNames)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "::1"}); err != nil {
		t.Errorf("the certificate for ::1: %v", err)
	}

	other := NewT(t)
	for name, c := range map[string]*http.Client{"the system roots": {Timeout: 10 * time.Second}, "another test CA": other.Client()} {
		_, err := c.Get(srv.URL)
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Errorf("GET %s trusting %s: %v, want an unknown authority", srv.URL, name, err)
		}
	}
	// The CA signs only what it is asked to: a certificate for another
	// name does not verify for 127.0.0.1.
	cert, err := ca.Issue("mcp.test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "127.0.0.1"}); err == nil {
		t.Error("a certificate for mcp.test verified for 127.0.0.1")
	}
	if cert.Leaf.IsCA || !ca.Cert.IsCA || !ca.Cert.MaxPathLenZero {
		t.Errorf("leaf IsCA %v, root IsCA %v MaxPathLenZero %v", cert.Leaf.IsCA, ca.Cert.IsCA, ca.Cert.MaxPathLenZero)
	}
}

// TestSSLCertFile: a Go process started with SSL_CERT_FILE set to File's
// path trusts the CA with its default client, as a provider started that
// way fetches metadata documents from a loopback https server; without it
// the same process refuses the server.
func TestSSLCertFile(t *testing.T) {
	ca := NewT(t)
	srv := ca.StartTLS(t, hello())
	path := ca.File(t)
	data, err := os.ReadFile(path)
	if err != nil || string(data) != string(ca.PEM) || !strings.HasPrefix(string(data), "-----BEGIN CERTIFICATE-----") {
		t.Fatalf("File wrote %q (%v), want the root's PEM", data, err)
	}
	child := func(env ...string) string {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), append(env, childURL+"="+srv.URL)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v: %s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if out := child("SSL_CERT_FILE=" + path); !strings.HasPrefix(out, "200 hello over HTTP/") {
		t.Errorf("child with SSL_CERT_FILE: %q, want 200 and the body", out)
	}
	if out := child("SSL_CERT_FILE=" + os.DevNull); !strings.Contains(out, "certificate signed by unknown authority") {
		t.Errorf("child with SSL_CERT_FILE=%s: %q, want an unknown authority", os.DevNull, out)
	}
}
