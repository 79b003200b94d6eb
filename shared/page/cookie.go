package page

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Cookies names and builds the cookies of the browser pages. The sign-in
// session is one cookie shared by every page of the provider (the sign-in,
// consent and account pages of functions/authorize and the console of
// functions/admin): HttpOnly, SameSite=Lax (the session must reach the
// authorize GET that a client's top-level redirect starts), Path=/, and
// Secure with the __Host- prefix (__Host-session), so that no sibling
// subdomain can plant or overwrite it. A plain-http loopback issuer (local
// runs) is the one exception: there the cookies are named without the
// prefix (session) and are not Secure.
type Cookies struct {
	// Secure is false only for a plain-http loopback issuer.
	Secure bool
	// Session is the session cookie's name: __Host-session or session.
	Session string
	// LoginCSRF is the name of the sign-in form's double-submit cookie:
	// __Host-login_csrf or login_csrf.
	LoginCSRF string
}

// NewCookies returns the cookies of the provider whose issuer is issuer, an
// absolute http(s) URL.
func NewCookies(issuer string) (Cookies, error) {
	iss, err := url.Parse(issuer)
	if err != nil || issuer == "" || iss.Host == "" || (iss.Scheme != "https" && iss.Scheme != "http") {
		return Cookies{}, errors.New("the issuer must be an absolute http(s) URL")
	}
	if iss.Scheme == "http" && isLoopback(iss.Hostname()) {
		return Cookies{Secure: false, Session: "session", LoginCSRF: "login_csrf"}, nil
	}
	return Cookies{Secure: true, Session: "__Host-session", LoginCSRF: "__Host-login_csrf"}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Make returns the cookie name=value for maxAge (rounded down to seconds);
// a negative maxAge makes a cookie that deletes it.
func (c Cookies) Make(name, value string, maxAge time.Duration) *http.Cookie {
	k := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   c.Secure,
		SameSite: http.SameSiteLaxMode,
	}
	if maxAge < 0 {
		k.MaxAge = -1
	} else {
		k.MaxAge = int(maxAge / time.Second)
	}
	return k
}

// SessionToken returns the value of r's session cookie when it is well
// formed (WellFormedToken), else "".
func (c Cookies) SessionToken(r *http.Request) string {
	k, err := r.Cookie(c.Session)
	if err != nil || !WellFormedToken(k.Value) {
		return ""
	}
	return k.Value
}

// WellFormedToken reports whether s looks like a shared.NewToken value (43
// base64url characters), so that garbage never reaches the store.
func WellFormedToken(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
