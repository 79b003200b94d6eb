package perf

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store/storetest"
)

// cpuTime is the CPU time (user and system) this process has used. Against
// DynamoDB Local, which runs in its own process, the CPU a benchmark uses
// per operation is the function's own (handler, SDK client, JSON, RSA)
// plus httptest's small share: the input of the Lambda duration in the
// cost model. Against kumo it includes the in-process emulator's CPU too.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU milliseconds per operation since start.
func reportCPU(b *testing.B, start time.Duration) {
	if b.N > 0 {
		b.ReportMetric(float64(cpuTime(b)-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	}
}

// The handler benchmarks: each request goes through web.Middleware and the
// handler in-process (httptest), and through the real store to the engine
// over loopback HTTP, so ns/op is the handler's CPU plus the engine's round
// trips. The sub-benchmarks name the engine: kumo (the embedded backend of
// `make run`) and dynamodb-local (AWS's DynamoDB Local; Secrets Manager is
// kumo in both), with "-es256" when the key set signs access tokens with
// ES256 (otherwise RS256, the default). Each checks the answer of every
// request, so a failing handler stops the benchmark instead of timing an
// error page.

// keyed are the backends, each with the two algorithms of access tokens:
// name is the backend's, with "-es256" for ES256.
func keyed() []struct {
	name, alg string
	backend   func(testing.TB) storetest.Backend
} {
	var out []struct {
		name, alg string
		backend   func(testing.TB) storetest.Backend
	}
	for _, be := range backends {
		out = append(out, struct {
			name, alg string
			backend   func(testing.TB) storetest.Backend
		}{be.name, signing.RS256, be.backend}, struct {
			name, alg string
			backend   func(testing.TB) storetest.Backend
		}{be.name + "-es256", signing.ES256, be.backend})
	}
	return out
}

// BenchmarkTokenCode is the code exchange (RFC 6749 §4.1.3) with PKCE and
// client_secret_basic. Codes are seeded in the store before the timer
// starts, one per iteration.
func BenchmarkTokenCode(b *testing.B) {
	for _, be := range keyed() {
		b.Run(be.name, func(b *testing.B) {
			p := newProviderAlg(b, be.backend(b), false, be.alg)
			l := p.seed("bench")
			codes := make([]string, b.N)
			for i := range codes {
				codes[i] = fmt.Sprintf("bench-code-%d-%s", i, b.Name())
				p.seedCode(l, "bench", codes[i])
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime(b)
			for i := 0; i < b.N; i++ {
				resp := p.serve(tokenRequest(l, "/oauth2/token", exchangeForm(codes[i])))
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("exchange: got status %d, want 200: %.300s", resp.StatusCode, body(resp))
				}
				_, _ = io.Copy(io.Discard, resp.Body)
			}
			reportCPU(b, cpu)
		})
	}
}

// BenchmarkRefresh is the refresh grant (RFC 6749 §6): one token family,
// rotated on every iteration.
func BenchmarkRefresh(b *testing.B) {
	for _, be := range keyed() {
		b.Run(be.name, func(b *testing.B) {
			p := newProviderAlg(b, be.backend(b), false, be.alg)
			l := p.seed("bench")
			p.seedCode(l, "bench", "bench-refresh-code")
			rt := p.tokens(l, exchangeForm("bench-refresh-code")).RefreshToken
			b.ReportAllocs()
			cpu := cpuTime(b)
			for b.Loop() {
				resp := p.serve(tokenRequest(l, "/oauth2/token", refreshForm(rt)))
				var t tokenResponse
				if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&t) != nil || t.RefreshToken == "" {
					b.Fatalf("refresh: got status %d, want 200 with a refresh token", resp.StatusCode)
				}
				rt = t.RefreshToken
			}
			reportCPU(b, cpu)
		})
	}
}

// BenchmarkIntrospect is token introspection (RFC 7662) of an active
// access token by the client it was issued to.
func BenchmarkIntrospect(b *testing.B) {
	for _, be := range keyed() {
		b.Run(be.name, func(b *testing.B) {
			p := newProviderAlg(b, be.backend(b), false, be.alg)
			l := p.seed("bench")
			p.seedCode(l, "bench", "bench-introspect-code")
			at := p.tokens(l, exchangeForm("bench-introspect-code")).AccessToken
			p.introspect(l, at)
			b.ReportAllocs()
			cpu := cpuTime(b)
			for b.Loop() {
				resp := p.serve(tokenRequest(l, "/oauth2/introspect", introspectForm(at)))
				var v struct {
					Active bool `json:"active"`
				}
				if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&v) != nil || !v.Active {
					b.Fatalf("introspect: got status %d, want 200 and active", resp.StatusCode)
				}
			}
			reportCPU(b, cpu)
		})
	}
}

// BenchmarkAuthorize is GET /oauth2/authorize with a signed-in session and
// no earlier grant: every parameter validated, then the consent page
// rendered (RFC 6749 §4.1.1).
func BenchmarkAuthorize(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			p := newProvider(b, be.backend(b), false)
			l := p.seed("bench")
			p.login(l, "bench")
			u := authorizeURL(l, "bench")
			p.page(u) // the consent page, checked once
			b.ReportAllocs()
			cpu := cpuTime(b)
			for b.Loop() {
				resp := p.get(u)
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("authorize: got status %d, want 200 (the consent page)", resp.StatusCode)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
			}
			reportCPU(b, cpu)
		})
	}
}

// BenchmarkRememberedFlow is what an application a user relies on every
// day costs: a signed-in user's authorization request that a remembered
// consent answers with a code at once (no page), and the code's exchange.
// The user has already authorized the same application history times
// (each a full authorization and exchange, through the handlers): the
// cost must stay flat as that history grows (one grant record per user
// and link, read by key; issue 11).
func BenchmarkRememberedFlow(b *testing.B) {
	for _, be := range backends {
		for _, history := range []int{1, 100, 1000} {
			b.Run(fmt.Sprintf("%s/history=%d", be.name, history), func(b *testing.B) {
				p := newProvider(b, be.backend(b), false)
				l := p.seed("bench")
				p.login(l, "bench")
				consent := p.page(authorizeURL(l, "first"))
				consent.values.Set("decision", "approve")
				first, err := url.Parse(p.submit(consent))
				if err != nil {
					b.Fatal(err)
				}
				p.tokens(l, exchangeForm(first.Query().Get("code")))
				for i := 1; i < history; i++ {
					p.tokens(l, exchangeForm(p.remembered(l, fmt.Sprintf("h%d", i))))
				}
				b.ReportAllocs()
				cpu := cpuTime(b)
				n := 0
				for b.Loop() {
					n++
					p.tokens(l, exchangeForm(p.remembered(l, fmt.Sprintf("m%d", n))))
				}
				reportCPU(b, cpu)
			})
		}
	}
}
