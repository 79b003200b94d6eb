package page

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/applinks/applinks/shared"
)

// Cookies names and builds the cookies of the browser pages. The end users'
// sign-in session is one cookie shared by the sign-in, consent and account
// pages of functions/authorize: HttpOnly, SameSite=Lax (the session must
// reach the authorize GET that a client's top-level redirect starts),
// Path=/, and Secure with the __Host- prefix (__Host-session), so that no
// sibling subdomain can plant or overwrite it. The administrators' console
// (functions/admin) has a session and a sign-in form of its own, in cookies
// of their own (__Host-console, __Host-console_login), SameSite=Strict
// (MakeStrict): no other site's link or form ever carries them. A
// plain-http loopback issuer (local runs) is the one exception: there the
// cookies are named without the prefix (session, console) and are not
// Secure.
type Cookies struct {
	// Secure is false only for a plain-http loopback issuer.
	Secure bool
	// Session is the session cookie's name: __Host-session or session.
	Session string
	// LoginCSRF is the name of the sign-in form's double-submit cookie:
	// __Host-login_csrf or login_csrf.
	LoginCSRF string
	// Console is the console's session cookie: __Host-console or console;
	// ConsoleLogin the console sign-in form's double-submit cookie:
	// __Host-console_login or console_login.
	Console, ConsoleLogin string
	// Upstream binds an upstream sign-in of the end users' pages to the
	// browser that started it (__Host-upstream or upstream), and
	// ConsoleUpstream one of the console (__Host-console_upstream or
	// console_upstream). Both are SameSite=Lax (Make): the upstream's
	// answer is a navigation from another site.
	Upstream, ConsoleUpstream string
}

// NewCookies returns the cookies of the provider whose issuer is issuer, an
// absolute http(s) URL.
func NewCookies(issuer string) (Cookies, error) {
	iss, err := url.Parse(issuer)
	if err != nil || issuer == "" || iss.Host == "" || (iss.Scheme != "https" && iss.Scheme != "http") {
		return Cookies{}, errors.New("the issuer must be an absolute http(s) URL")
	}
	if iss.Scheme == "http" && shared.IsLoopbackHost(iss.Hostname()) {
		return Cookies{Secure: false, Session: "session", LoginCSRF: "login_csrf", Console: "console", ConsoleLogin: "console_login",
			Upstream: "upstream", ConsoleUpstream: "console_upstream"}, nil
	}
	return Cookies{Secure: true, Session: "__Host-session", LoginCSRF: "__Host-login_csrf",
		Console: "__Host-console", ConsoleLogin: "__Host-console_login",
		Upstream: "__Host-upstream", ConsoleUpstream: "__Host-console_upstream"}, nil
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

// MakeStrict is Make with SameSite=Strict: the console's cookies.
func (c Cookies) MakeStrict(name, value string, maxAge time.Duration) *http.Cookie {
	k := c.Make(name, value, maxAge)
	k.SameSite = http.SameSiteStrictMode
	return k
}

// Token returns the value of r's cookie name when it is well formed
// (WellFormedToken), else "".
func (c Cookies) Token(r *http.Request, name string) string {
	k, err := r.Cookie(name)
	if err != nil || !WellFormedToken(k.Value) {
		return ""
	}
	return k.Value
}

// SessionToken returns the value of r's session cookie when it is well
// formed (WellFormedToken), else "".
func (c Cookies) SessionToken(r *http.Request) string { return c.Token(r, c.Session) }

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
