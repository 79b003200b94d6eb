package web

import (
	"net/http"
	"net/url"
)

// HSTSValue is the Strict-Transport-Security header (RFC 6797 §6.1) sent
// with an https issuer: two years, the max-age browsers' preload lists ask
// for. It has no includeSubDomains: the policy then covers exactly the
// issuer's host, whose every response is https (API Gateway serves only
// TLS). The issuer is often a host inside an organisation's domain (a
// custom domain such as auth.example.com) whose other subdomains this
// provider does not own and may still serve plain http; forcing them to
// https is that domain owner's decision, taken on the parent domain. For the
// same reason there is no preload.
const HSTSValue = "max-age=63072000"

// HSTS wraps next so that every response, whatever its status or which
// handler wrote it (a 404 or 405 of the mux, a recovered panic, HEAD),
// carries Strict-Transport-Security: HSTSValue, when issuer is an https
// URL. For any other issuer (the local runner's http loopback) it returns
// next unchanged: browsers ignore the header over http (RFC 6797 §8.1), and
// sending it would only mislead. The three functions (shared/lambdahttp)
// and the local runner (local/server) wrap their handlers with it.
func HSTS(next http.Handler, issuer string) http.Handler {
	if u, err := url.Parse(issuer); err != nil || u.Scheme != "https" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", HSTSValue)
		next.ServeHTTP(w, r)
	})
}
