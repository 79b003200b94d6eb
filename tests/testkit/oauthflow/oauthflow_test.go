package oauthflow

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/applinks/applinks/local/loopback"
)

// TestBasicAuth checks that id and secret are form-urlencoded before
// Base64 (RFC 6749 §2.3.1), which plain SetBasicAuth does not do.
func TestBasicAuth(t *testing.T) {
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/token", nil)
	BasicAuth(req, "cl ient:1", "s3cr%t+/=")
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("cl+ient%3A1:s3cr%25t%2B%2F%3D"))
	if got := req.Header.Get("Authorization"); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	id, secret, ok := req.BasicAuth()
	if !ok {
		t.Fatal("no Basic credentials")
	}
	if id, _ = url.QueryUnescape(id); id != "cl ient:1" {
		t.Errorf("id: got %q after unescaping", id)
	}
	if secret, _ = url.QueryUnescape(secret); secret != "s3cr%t+/=" {
		t.Errorf("secret: got %q after unescaping", secret)
	}
}

// TestCheckCallback checks what the consent's redirect must carry: the
// redirect URI, no error, the request's state, the issuer (RFC 9207) and
// a code.
func TestCheckCallback(t *testing.T) {
	c := &Client{Issuer: "http://127.0.0.1:8080", RedirectURI: "http://127.0.0.1/test/callback"}
	iss := url.QueryEscape(c.Issuer)
	tests := []struct {
		name, back, want string // want: the code, or a substring of the error
		ok               bool
	}{
		{"ok", c.RedirectURI + "?code=abc&state=s1&iss=" + iss, "abc", true},
		{"another URI", "http://127.0.0.1/other?code=abc&state=s1&iss=" + iss, "want the callback", false},
		{"error", c.RedirectURI + "?error=access_denied&state=s1&iss=" + iss, "error=access_denied", false},
		{"another state", c.RedirectURI + "?code=abc&state=s2&iss=" + iss, "state", false},
		{"no iss", c.RedirectURI + "?code=abc&state=s1", "iss", false},
		{"another iss", c.RedirectURI + "?code=abc&state=s1&iss=http%3A%2F%2F127.0.0.1%3A9090", "iss", false},
		{"no code", c.RedirectURI + "?state=s1&iss=" + iss, "no code", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			back, err := url.Parse(tc.back)
			if err != nil {
				t.Fatal(err)
			}
			code, err := c.checkCallback(back, "s1")
			switch {
			case tc.ok && (err != nil || code != tc.want):
				t.Errorf("got %q, %v; want %q", code, err, tc.want)
			case !tc.ok && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %q, %v; want an error about %s", code, err, tc.want)
			}
		})
	}
}

// TestDefaultTransportDialsLoopbackOnly: a Client without a Transport
// refuses to dial anything but loopback addresses.
func TestDefaultTransportDialsLoopbackOnly(t *testing.T) {
	c := &Client{Issuer: "http://192.0.2.1:8080", AdminToken: "x", Name: "test", RedirectURI: "http://127.0.0.1/test/callback"}
	_, err := c.Setup(context.Background())
	if !errors.Is(err, loopback.ErrNotLoopback) {
		t.Errorf("Setup against 192.0.2.1: got %v, want %v", err, loopback.ErrNotLoopback)
	}
}
