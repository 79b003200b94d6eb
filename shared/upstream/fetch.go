package upstream

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/safefetch"
)

// Limits of every request to an upstream identity provider (discovery,
// JWK Set, token and UserInfo endpoints).
const (
	// DefaultTimeout bounds one request, connection to last byte.
	DefaultTimeout = 5 * time.Second
	// DefaultMaxBody bounds a response body: a discovery document or a key
	// set is a few kilobytes.
	DefaultMaxBody = 256 << 10
)

// Errors of the fetch client (the redirect, size and address errors are
// shared/safefetch's).
var (
	// ErrScheme: the URL is neither https nor plain http on a loopback
	// host.
	ErrScheme = errors.New("only https URLs, or plain http on a loopback host (127.0.0.1, [::1], localhost), may be fetched")
	// ErrRedirect: the upstream answered with a redirect, which is not
	// followed.
	ErrRedirect = safefetch.ErrRedirect
	// ErrTooLarge: the response body is larger than the limit.
	ErrTooLarge = safefetch.ErrTooLarge
	// ErrAddress: the host resolved to an address that is not public
	// (safefetch.CheckAddress).
	ErrAddress = safefetch.ErrAddress
)

// CheckURL accepts an absolute https URL, or a plain http URL whose host
// is a loopback name (127.0.0.1, [::1], localhost): the only URLs the
// provider fetches from or sends people to at an upstream. The host of an
// http URL is checked by name, not by resolving it, so no DNS answer can
// make another host count as loopback.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" || u.User != nil {
		return fmt.Errorf("%q is not an absolute URL with a host", raw)
	}
	return checkURL(u)
}

func checkURL(u *url.URL) error {
	switch {
	case u.Scheme == "https" && u.Hostname() != "":
		return nil
	case u.Scheme == "http" && shared.IsLoopbackHost(u.Hostname()):
		return nil
	}
	return ErrScheme
}

// NewHTTPClient returns the client of every request to an upstream
// (shared/safefetch): each request's URL is checked (CheckURL) before it
// is sent, only public addresses are connected to (loopback only for a
// host named as loopback), redirects are never followed (ErrRedirect), a
// body over maxBody bytes fails the read (ErrTooLarge), and the whole
// request, body included, ends after timeout. Zero values take
// DefaultTimeout and DefaultMaxBody.
func NewHTTPClient(timeout time.Duration, maxBody int64) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	return safefetch.New(safefetch.Options{
		Timeout: timeout, MaxBody: maxBody, AllowLoopback: true, CheckURL: checkURL,
	})
}

// describe turns a fetch failure into words for an administrator (the 422
// of a save) without internal detail.
func describe(err error) string {
	switch {
	case errors.Is(err, ErrScheme):
		return ErrScheme.Error()
	case errors.Is(err, ErrRedirect):
		return ErrRedirect.Error()
	case errors.Is(err, ErrTooLarge):
		return ErrTooLarge.Error()
	case safefetch.IsTimeout(err):
		return "the upstream did not answer in time"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return "the upstream could not be reached"
	}
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

func isTimeout(err error) bool { return safefetch.IsTimeout(err) }
