package config

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/applinks/applinks/shared"
)

// PermissionSource is PERMISSION_SOURCE: where a user's permissions, the
// ceiling of every scope an application gets on their behalf, come from.
type PermissionSource string

// The values of PERMISSION_SOURCE.
const (
	// PermissionsStored (the default): the permissions an administrator
	// set on the user.
	PermissionsStored PermissionSource = "stored"
	// PermissionsClaims: the permissions mapped from the upstream
	// identity provider's claims at the user's last upstream sign-in,
	// kept on the user (read like stored ones).
	PermissionsClaims PermissionSource = "claims"
	// PermissionsService: asked from the service itself at PERMISSIONS_URL
	// (shared/permissions) before the consent page, at the code exchange
	// and at every refresh.
	PermissionsService PermissionSource = "service"
)

// Defaults and limits of the permission service's settings.
const (
	DefaultPermissionsTimeout = 2 * time.Second
	MaxPermissionsTimeout     = 10 * time.Second
	DefaultPermissionsCache   = 60 * time.Second
	MaxPermissionsCache       = 300 * time.Second
	// maxPermissionsURL bounds PERMISSIONS_URL (it is also the aud of
	// every request's JWT).
	maxPermissionsURL = 2000
)

// Permissions is where permissions come from, and how the permission
// service is asked.
type Permissions struct {
	// Source is PERMISSION_SOURCE (default stored).
	Source PermissionSource
	// URL is PERMISSIONS_URL: required with the service source, refused
	// with the others. https, or plain http on a loopback host
	// (127.0.0.1, [::1], localhost); no userinfo or fragment; not
	// AUDIENCE.
	URL string
	// Timeout is PERMISSIONS_TIMEOUT (default 2s, at most 10s): the whole
	// request to the service, connection to last byte.
	Timeout time.Duration
	// Cache is PERMISSIONS_CACHE (default 60s, 0 to 300s; 0 turns the
	// cache off): the longest an answer is kept, whatever the service's
	// max-age says.
	Cache time.Duration
}

// Service reports whether permissions are asked from the permission
// service.
func (p Permissions) Service() bool { return p.Source == PermissionsService }

// readPermissions reads PERMISSION_SOURCE, PERMISSIONS_URL,
// PERMISSIONS_TIMEOUT and PERMISSIONS_CACHE through get (trimmed values)
// once the audience is known. Its errors name the variable.
func readPermissions(get func(string) string, audience string) (Permissions, error) {
	p := Permissions{Source: PermissionsStored, Timeout: DefaultPermissionsTimeout, Cache: DefaultPermissionsCache}
	switch v := get("PERMISSION_SOURCE"); strings.ToLower(v) {
	case "", string(PermissionsStored):
	case string(PermissionsClaims):
		p.Source = PermissionsClaims
	case string(PermissionsService):
		p.Source = PermissionsService
	default:
		return Permissions{}, fmt.Errorf("PERMISSION_SOURCE: %q is not one of stored, claims, service", v)
	}
	if v := get("PERMISSIONS_TIMEOUT"); v != "" {
		d, err := parseTimeout(v)
		switch {
		case err != nil:
			return Permissions{}, fmt.Errorf("PERMISSIONS_TIMEOUT: %w", err)
		case d <= 0:
			return Permissions{}, fmt.Errorf("PERMISSIONS_TIMEOUT: %s must be positive", v)
		case d > MaxPermissionsTimeout:
			return Permissions{}, fmt.Errorf("PERMISSIONS_TIMEOUT: %s is above the maximum of %s", v, formatSeconds(MaxPermissionsTimeout))
		}
		p.Timeout = d
	}
	if v := get("PERMISSIONS_CACHE"); v != "" {
		d, err := parseDuration(v)
		switch {
		case err != nil:
			return Permissions{}, fmt.Errorf("PERMISSIONS_CACHE: %w", err)
		case d < 0:
			return Permissions{}, fmt.Errorf("PERMISSIONS_CACHE: %s must not be negative", v)
		case d > MaxPermissionsCache:
			return Permissions{}, fmt.Errorf("PERMISSIONS_CACHE: %s is above the maximum of %s", v, formatSeconds(MaxPermissionsCache))
		}
		p.Cache = d
	}
	p.URL = get("PERMISSIONS_URL")
	switch {
	case p.URL == "" && p.Service():
		return Permissions{}, errors.New("PERMISSIONS_URL: required when PERMISSION_SOURCE is service")
	case p.URL != "" && !p.Service():
		return Permissions{}, fmt.Errorf("PERMISSIONS_URL: set, but PERMISSION_SOURCE is %s (it is used only with service)", p.Source)
	case p.URL != "":
		if err := checkPermissionsURL(p.URL, audience); err != nil {
			return Permissions{}, fmt.Errorf("PERMISSIONS_URL: %w", err)
		}
	}
	return p, nil
}

// checkPermissionsURL applies the rules of Permissions.URL. The provider
// sends a bearer JWT there, so a URL that leaks it (plain http off the
// machine) or that could be confused with a resource server of this
// provider's tokens (AUDIENCE) is refused. Registered resource URIs (RFC
// 8707) live in the table, where start-up does not look: the admin API
// refuses a resource URI that is PERMISSIONS_URL (or AUDIENCE) when it is
// saved (SameURL).
func checkPermissionsURL(s, audience string) error {
	if len(s) > maxPermissionsURL {
		return fmt.Errorf("%d bytes is above the maximum of %d", len(s), maxPermissionsURL)
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a valid URL", s)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q must be an absolute https URL", s)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("%q has no host", s)
	case u.User != nil:
		return fmt.Errorf("%q must not contain userinfo", s)
	case u.Fragment != "" || strings.Contains(s, "#"):
		return fmt.Errorf("%q must not have a fragment", s)
	case u.Scheme == "http" && !shared.IsLoopbackHost(u.Hostname()):
		return fmt.Errorf("%q must use https (http only for 127.0.0.1, [::1] or localhost)", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q has an invalid port", s)
		}
	}
	if SameURL(s, audience) {
		return fmt.Errorf("%q is AUDIENCE, the audience of access tokens; the permission service needs a URL of its own", s)
	}
	return nil
}

// SameURL reports whether the URLs a and b name one resource up to the
// case of the scheme and host, a default port and an empty path's slash:
// PERMISSIONS_URL may be neither AUDIENCE nor a registered resource URI
// (RFC 8707), since a token for one would then be accepted by the other.
func SameURL(a, b string) bool {
	u, err := url.Parse(a)
	if err != nil {
		return false
	}
	v, err := url.Parse(b)
	if err != nil {
		return false
	}
	norm := func(u *url.URL) string {
		scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
		if scheme == "https" && port == "443" || scheme == "http" && port == "80" {
			port = ""
		}
		p := u.EscapedPath()
		if p == "/" {
			p = ""
		}
		return scheme + "://" + host + ":" + port + p + "?" + u.RawQuery
	}
	return norm(u) == norm(v)
}

// parseTimeout reads a Go duration ("2s", "1500ms") or whole seconds
// ("2"), to the millisecond.
func parseTimeout(v string) (time.Duration, error) {
	if _, err := strconv.ParseInt(v, 10, 64); err == nil {
		return parseDuration(v)
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (e.g. 2s, 1500ms) or a number of seconds", v)
	}
	if d%time.Millisecond != 0 {
		return 0, fmt.Errorf("%q is not a whole number of milliseconds", v)
	}
	return d, nil
}
