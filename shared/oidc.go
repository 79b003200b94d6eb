package shared

import (
	"slices"
	"strings"
)

// ProtocolScopes are the OpenID Connect scopes (OIDC Core 1.0 §3.1.2.1,
// §5.4, §11): they ask for an ID token, claims about the user, or a refresh
// token, not for a permission, so they are outside the permission catalog
// and outside capping. offline_access is accepted and changes nothing:
// refresh tokens are issued as for every authorization code, as
// Bitbucket-compatible clients expect.
var ProtocolScopes = []string{"openid", "profile", "email", "offline_access"}

// SplitProtocolScopes splits a scope parameter into the catalog part (the
// other tokens, in their order, for capping) and the protocol scopes it
// names (in ProtocolScopes order, once each). A parameter without a protocol
// scope is returned unchanged, so that requests without openid get exactly
// the answers they got before OpenID Connect.
func SplitProtocolScopes(scope string) (catalog string, protocol []string) {
	toks := strings.Split(scope, " ")
	seen := map[string]bool{}
	var rest []string
	for _, t := range toks {
		if slices.Contains(ProtocolScopes, t) {
			seen[t] = true
		} else {
			rest = append(rest, t)
		}
	}
	if len(seen) == 0 {
		return scope, nil
	}
	for _, p := range ProtocolScopes {
		if seen[p] {
			protocol = append(protocol, p)
		}
	}
	return strings.Join(rest, " "), protocol
}

// CoversProtocol reports whether every protocol scope of want is in have:
// a remembered consent covers a request, and a refresh may keep a scope,
// only for OpenID Connect scopes the user approved.
func CoversProtocol(have, want []string) bool {
	for _, p := range want {
		if !slices.Contains(have, p) {
			return false
		}
	}
	return true
}
