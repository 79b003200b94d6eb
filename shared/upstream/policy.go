package upstream

import (
	"errors"
	"slices"
	"strings"
	"time"
)

// ClockSkew is how far the upstream's clock may be from the provider's
// when auth_time is compared.
const ClockSkew = time.Minute

// Errors of the sign-in rules.
var (
	// ErrNotFresh: the sign-in asked the upstream to authenticate the
	// person again (prompt=login) or recently (max_age), and its auth_time
	// says it did not.
	ErrNotFresh = errors.New("the upstream did not authenticate the person again as asked")
	// ErrEmailDomain: the provider admits only some email domains, and the
	// person's email is not verified or not in one of them.
	ErrEmailDomain = errors.New("the person's verified email is not in a domain this provider admits")
)

// CheckAuthTime checks the upstream's auth_time against what the sign-in
// asked for (OpenID Connect Core §3.1.2.1, §3.1.3.7 item 11): with maxAge
// (seconds, >= 0) auth_time must be present and at most maxAge old at now;
// with promptLogin, when present, not before the sign-in started (a
// cached upstream session is no new sign-in). ClockSkew is allowed either
// way.
func CheckAuthTime(id Identity, started time.Time, promptLogin bool, maxAge int, now time.Time) error {
	if maxAge >= 0 {
		if id.AuthTime.IsZero() || now.Sub(id.AuthTime) > time.Duration(maxAge)*time.Second+ClockSkew {
			return ErrNotFresh
		}
	}
	if promptLogin && !id.AuthTime.IsZero() && id.AuthTime.Before(started.Add(-ClockSkew)) {
		return ErrNotFresh
	}
	return nil
}

// EmailAllowed reports whether id may sign in through a provider limited
// to domains: always when domains is empty; otherwise only with a verified
// email (email_verified true) whose domain is one of domains, in any
// letter case. An unverified email never counts.
func EmailAllowed(id Identity, domains []string) bool {
	if len(domains) == 0 {
		return true
	}
	if !id.EmailVerified {
		return false
	}
	at := strings.LastIndexByte(id.Email, '@')
	if at < 1 || at == len(id.Email)-1 {
		return false
	}
	domain := strings.ToLower(id.Email[at+1:])
	for _, d := range domains {
		if strings.ToLower(d) == domain {
			return true
		}
	}
	return false
}

// MapPermissions turns the values of the permissions claim into scopes
// through m ({"claim value": ["SCOPE", ...]}), keeping only the scopes
// known reports true for, each once, sorted. A value m does not name gives
// nothing.
func MapPermissions(values []string, m map[string][]string, known func(string) bool) []string {
	out := []string{}
	for _, v := range values {
		for _, s := range m[v] {
			if (known == nil || known(s)) && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	slices.Sort(out)
	return out
}

// MaxUsernameLen is the longest username (as the admin API's).
const MaxUsernameLen = 100

// ValidUsername reports whether s can be a username: 1 to MaxUsernameLen
// ASCII letters, digits and . _ @ - (the admin API's alphabet). A
// username claim outside it never becomes a user.
func ValidUsername(s string) bool {
	if s == "" || len(s) > MaxUsernameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '@' || c == '-') {
			return false
		}
	}
	return true
}
