package shared

import (
	"net/url"
	"strings"
)

// AppendQuery adds params to the query of uri, keeping uri's bytes
// (including any query it already has) unchanged, as RFC 6749 §3.1.2 and
// §4.1.2 require of the redirection endpoint. It reports false when uri does
// not parse or carries a fragment. Handlers use it to build the success
// redirect (code, state, iss).
func AppendQuery(uri string, params url.Values) (string, bool) {
	u, err := url.Parse(uri)
	if err != nil || u.Fragment != "" || strings.Contains(uri, "#") {
		return "", false
	}
	enc := params.Encode()
	if enc == "" {
		return uri, true
	}
	switch {
	case u.RawQuery == "" && !strings.HasSuffix(uri, "?"):
		return uri + "?" + enc, true
	case strings.HasSuffix(uri, "?") || strings.HasSuffix(uri, "&"):
		return uri + enc, true
	default:
		return uri + "&" + enc, true
	}
}
