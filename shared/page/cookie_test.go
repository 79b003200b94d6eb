package page

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestNewCookies(t *testing.T) {
	tests := []struct {
		issuer  string
		secure  bool
		session string
	}{
		{"https://idp.example", true, "__Host-session"},
		{"https://localhost:8443", true, "__Host-session"},
		{"http://localhost:8080", false, "session"},
		{"http://127.0.0.1:8080", false, "session"},
		{"http://[::1]:8080", false, "session"},
		{"http://idp.example", true, "__Host-session"},
	}
	for _, tc := range tests {
		c, err := NewCookies(tc.issuer)
		if err != nil {
			t.Fatalf("NewCookies(%q): %v", tc.issuer, err)
		}
		if c.Secure != tc.secure || c.Session != tc.session {
			t.Errorf("NewCookies(%q): got %+v, want Secure=%v Session=%q", tc.issuer, c, tc.secure, tc.session)
		}
		if tc.secure != strings.HasPrefix(c.LoginCSRF, "__Host-") {
			t.Errorf("NewCookies(%q): got login cookie %q, want the __Host- prefix exactly when Secure", tc.issuer, c.LoginCSRF)
		}
	}
	for _, bad := range []string{"", "idp.example", "ftp://idp.example", "https://", "%"} {
		if _, err := NewCookies(bad); err == nil {
			t.Errorf("NewCookies(%q): got no error, want one", bad)
		}
	}
}

func TestMake(t *testing.T) {
	c, _ := NewCookies("https://idp.example")
	k := c.Make(c.Session, "v", 90*time.Second+time.Millisecond)
	if k.Name != "__Host-session" || k.Value != "v" || k.Path != "/" || !k.HttpOnly || !k.Secure ||
		k.SameSite != http.SameSiteLaxMode || k.MaxAge != 90 || k.Domain != "" {
		t.Errorf("got %+v, want a host-only, HttpOnly, Secure, Lax cookie for 90 s", k)
	}
	if d := c.Make(c.Session, "", -1); d.MaxAge != -1 {
		t.Errorf("got MaxAge %d, want -1 (delete)", d.MaxAge)
	}
}

func TestSessionToken(t *testing.T) {
	c, _ := NewCookies("http://localhost:8080")
	good := strings.Repeat("a", 42) + "_"
	for _, tc := range []struct{ value, want string }{
		{good, good},
		{strings.Repeat("a", 42), ""},
		{strings.Repeat("a", 42) + "=", ""},
		{strings.Repeat("a", 44), ""},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(&http.Cookie{Name: "session", Value: tc.value})
		if got := c.SessionToken(r); got != tc.want {
			t.Errorf("SessionToken(%q): got %q, want %q", tc.value, got, tc.want)
		}
	}
	if got := c.SessionToken(httptest.NewRequest(http.MethodGet, "/", nil)); got != "" {
		t.Errorf("got %q without a cookie, want \"\"", got)
	}
}
