package shared

import (
	"testing"
)

// The benchmarks of the hot paths every token or authorize request runs:
// scope capping, redirect matching and PKCE verification. Each checks its
// result once before the timed loop, so a benchmark of a wrong answer fails
// instead of reporting a number.

// Typed sinks keep the compiler from discarding benchmarked results without
// adding the allocation an interface conversion would.
var (
	sinkScopes []string
	sinkString string
	sinkBool   bool
)

func BenchmarkCap(b *testing.B) {
	c := DefaultCatalog()
	cases := []struct {
		name    string
		request string
		ceiling []string
		user    []string
		want    string
	}{
		{"absent-request", "", []string{"REPO_ADMIN"}, []string{"REPO_WRITE"}, "REPO_WRITE"},
		{"two-branches", "ADMIN_WRITE", []string{"SYSTEM_ADMIN"}, []string{"PROJECT_ADMIN", "ACCOUNT_WRITE"}, "ACCOUNT_WRITE PROJECT_ADMIN"},
		{"baseline", "REPO_READ", nil, nil, "PUBLIC_REPOS"},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			got, err := c.Cap(tc.request, tc.ceiling, tc.user)
			if err != nil || FormatScope(got) != tc.want {
				b.Fatalf("Cap(%q) = %q, %v; want %q", tc.request, FormatScope(got), err, tc.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				sinkScopes, _ = c.Cap(tc.request, tc.ceiling, tc.user)
			}
		})
	}
}

func BenchmarkCapRefresh(b *testing.B) {
	c := DefaultCatalog()
	before := []string{"REPO_ADMIN"}
	ceiling := []string{"REPO_ADMIN"}
	user := []string{"REPO_WRITE"}
	got, err := c.CapRefresh("REPO_READ", before, ceiling, user)
	if err != nil || FormatScope(got) != "REPO_READ" {
		b.Fatalf("CapRefresh = %q, %v; want REPO_READ", FormatScope(got), err)
	}
	b.ReportAllocs()
	for b.Loop() {
		sinkScopes, _ = c.CapRefresh("REPO_READ", before, ceiling, user)
	}
}

func BenchmarkMatchRedirectURI(b *testing.B) {
	registered := []string{
		"https://app.example.com/callback",
		"https://app.example.com/other",
		"http://127.0.0.1:8123/cb",
		"com.example.app:/oauth2redirect",
	}
	cases := []struct {
		name      string
		requested string
		present   bool
		want      string
	}{
		{"exact-first", "https://app.example.com/callback", true, "https://app.example.com/callback"},
		{"exact-last", "com.example.app:/oauth2redirect", true, "com.example.app:/oauth2redirect"},
		{"loopback-port", "http://127.0.0.1:50123/cb", true, "http://127.0.0.1:50123/cb"},
		{"no-match", "https://app.example.com/callbacks", true, ""},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			got, ok := MatchRedirectURI(registered, tc.requested, tc.present)
			if got != tc.want || ok != (tc.want != "") {
				b.Fatalf("MatchRedirectURI(%q) = %q, %v; want %q", tc.requested, got, ok, tc.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				sinkString, _ = MatchRedirectURI(registered, tc.requested, tc.present)
			}
		})
	}
}

func BenchmarkVerifyS256(b *testing.B) {
	// RFC 7636 Appendix B.
	const (
		verifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
		challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	)
	if !VerifyS256(verifier, challenge) {
		b.Fatal("VerifyS256(RFC 7636 Appendix B) = false, want true")
	}
	b.ReportAllocs()
	for b.Loop() {
		sinkBool = VerifyS256(verifier, challenge)
	}
}

func BenchmarkHashToken(b *testing.B) {
	const tok = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	if HashToken(tok) == HashToken(tok+"x") {
		b.Fatal("HashToken gives equal hashes for different tokens")
	}
	b.ReportAllocs()
	for b.Loop() {
		sinkString = HashToken(tok)
	}
}
