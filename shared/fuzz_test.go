package shared

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Fuzz targets. Run one at a time, e.g.
//
//	go test ./shared -run '^$' -fuzz '^FuzzRedirect$' -fuzztime 20s
//
// The seed corpus comes from testdata/*.json, so plain `go test` runs every
// vector through the properties too.

// loopbackRE splits an http loopback URI into host, port and the rest; it is
// written independently of loopbackKey so the property does not check the
// code against itself.
var loopbackRE = regexp.MustCompile(`(?s)^http://(127\.0\.0\.1|\[::1\]|localhost)(?::([0-9]+))?([/?].*)?$`)

// FuzzRedirect checks registration and matching together. Properties: no
// panic; a matched URI equals a registered one byte for byte, or differs
// from a registered http loopback URI only by its port; a registered URI
// always matches itself; a matched URI of a valid registration is itself
// valid for registration.
func FuzzRedirect(f *testing.F) {
	var v redirectVectors
	loadJSON(f, "redirects.json", &v)
	for _, r := range v.Register {
		f.Add(r.URI, "", uint8(1), r.URI, true)
	}
	for _, a := range v.Authorize {
		r2 := ""
		if len(a.Registered) > 1 {
			r2 = a.Registered[1]
		}
		f.Add(a.Registered[0], r2, uint8(len(a.Registered)), deref(a.Request), a.Request != nil)
	}
	f.Fuzz(func(t *testing.T, r1, r2 string, n uint8, requested string, present bool) {
		registered := []string{r1}
		if n%2 == 0 {
			registered = append(registered, r2)
		}
		validErr := ValidateRedirectURIs(registered)
		for _, r := range registered {
			_ = ValidateRedirectURI(r)
		}
		got, ok := MatchRedirectURI(registered, requested, present)
		if !ok {
			if got != "" {
				t.Fatalf("refusal returned %q, want \"\"", got)
			}
			if validErr == nil && present {
				for _, r := range registered {
					if r == requested {
						t.Fatalf("registered %q refused for itself", r)
					}
				}
			}
			return
		}
		if !present && (len(registered) != 1 || got != registered[0]) {
			t.Fatalf("absent redirect_uri gave %q with %d registered, want the only one", got, len(registered))
		}
		if present && got != requested {
			t.Fatalf("got %q, want the requested %q", got, requested)
		}
		if !matchesRegistered(got, registered) {
			t.Fatalf("got %q, which is neither registered %q nor a port variant of a loopback one", got, registered)
		}
		if validErr == nil {
			if err := ValidateRedirectURI(got); err != nil {
				t.Fatalf("matched %q is not valid: %v", got, err)
			}
		}
	})
}

func matchesRegistered(got string, registered []string) bool {
	for _, r := range registered {
		if got == r {
			return true
		}
	}
	g := loopbackRE.FindStringSubmatch(got)
	if g == nil || !portOK(g[2]) {
		return false
	}
	for _, r := range registered {
		m := loopbackRE.FindStringSubmatch(r)
		if m != nil && portOK(m[2]) && m[1] == g[1] && m[3] == g[3] {
			return true
		}
	}
	return false
}

func portOK(p string) bool {
	if p == "" {
		return true
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

// FuzzScope checks parsing and capping. Properties: no panic; a failure is
// invalid_scope; a parsed scope formats back to the input; the grant is
// non-empty, in catalog order without duplicates, maximal (no member implied
// by another), and unless it is exactly the baseline, every member lies in
// closure(request) ∩ closure(ceiling) ∩ closure(user) (and, for a refresh,
// closure(grantedBefore)).
func FuzzScope(f *testing.F) {
	var v scopeVectors
	loadJSON(f, "scopes.json", &v)
	for _, a := range v.Authorize {
		f.Add(deref(a.Request), strings.Join(a.Ceiling, " "), strings.Join(a.User, " "), "")
	}
	for _, r := range v.Refresh {
		f.Add(deref(r.Request), strings.Join(r.Ceiling, " "), strings.Join(r.User, " "), strings.Join(r.GrantedBefore, " "))
	}
	f.Add("A  B", "X", " ", "\x00")
	c := DefaultCatalog()
	f.Fuzz(func(t *testing.T, request, ceiling, user, before string) {
		if toks, err := ParseScope(request); err == nil {
			if got := FormatScope(toks); got != request {
				t.Fatalf("FormatScope(ParseScope(%q)) = %q, want the input", request, got)
			}
		}
		cs, us, bs := strings.Fields(ceiling), strings.Fields(user), strings.Fields(before)
		reqNames := cs
		if request != "" {
			reqNames = strings.Split(request, " ")
		}
		got, err := c.Cap(request, cs, us)
		checkGrant(t, c, got, err, reqNames, cs, us, nil)

		refReq := bs
		if request != "" {
			refReq = strings.Split(request, " ")
		}
		got, err = c.CapRefresh(request, bs, cs, us)
		checkGrant(t, c, got, err, refReq, cs, us, bs)
	})
}

// checkGrant asserts FuzzScope's properties with a naive closure.
func checkGrant(t *testing.T, c *Catalog, got []string, err error, req, ceiling, user, before []string) {
	t.Helper()
	if err != nil {
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeInvalidScope {
			t.Fatalf("got error %v, want invalid_scope", err)
		}
		if got != nil {
			t.Fatalf("got %q with an error, want nil", got)
		}
		return
	}
	if len(got) == 0 {
		t.Fatal("got an empty grant, want at least the baseline")
	}
	order := map[string]int{}
	for i, n := range c.Names() {
		order[n] = i
	}
	last := -1
	for _, g := range got {
		i, ok := order[g]
		if !ok {
			t.Fatalf("granted unknown scope %q", g)
		}
		if i <= last {
			t.Fatalf("got %q, want catalog order without duplicates", got)
		}
		last = i
	}
	for _, a := range got {
		for _, b := range got {
			if a != b && naiveClosure(c, []string{a})[b] {
				t.Fatalf("got %q: %s implies %s, want max()", got, a, b)
			}
		}
	}
	if len(got) == 1 && got[0] == c.Baseline() {
		return
	}
	sets := []map[string]bool{naiveClosure(c, req), naiveClosure(c, ceiling), naiveClosure(c, user)}
	if before != nil {
		sets = append(sets, naiveClosure(c, before))
	}
	for _, g := range got {
		for i, s := range sets {
			if !s[g] {
				t.Fatalf("granted %q outside closure set %d (req %q, ceiling %q, user %q, before %q)", g, i, req, ceiling, user, before)
			}
		}
	}
}

// naiveClosure computes closure(names) by a worklist over Scopes().
func naiveClosure(c *Catalog, names []string) map[string]bool {
	implies := map[string][]string{}
	for _, s := range c.Scopes() {
		implies[s.Name] = s.Implies
	}
	out := map[string]bool{}
	work := append([]string(nil), names...)
	for len(work) > 0 {
		n := work[len(work)-1]
		work = work[:len(work)-1]
		imp, known := implies[n]
		if !known || out[n] {
			continue
		}
		out[n] = true
		work = append(work, imp...)
	}
	return out
}

// FuzzPKCE checks RFC 7636 verification. Properties: no panic; a valid
// verifier verifies against its own S256 challenge, which is itself valid;
// VerifyS256 is true exactly for a valid verifier and its challenge.
func FuzzPKCE(f *testing.F) {
	f.Add(rfc7636Verifier, rfc7636Challenge)
	f.Add(rfc7636Verifier, rfc7636Verifier)
	f.Add(strings.Repeat("a", 43), "")
	f.Add(strings.Repeat("~", 128), strings.Repeat("-", 43))
	f.Add("short", S256Challenge("short"))
	f.Fuzz(func(t *testing.T, verifier, challenge string) {
		own := S256Challenge(verifier)
		if !ValidChallenge(own) {
			t.Fatalf("S256Challenge(%q) = %q, not a valid challenge", verifier, own)
		}
		valid := ValidVerifier(verifier)
		if got := VerifyS256(verifier, own); got != valid {
			t.Fatalf("VerifyS256(%q, own challenge) = %v, want %v", verifier, got, valid)
		}
		want := valid && challenge == own
		if got := VerifyS256(verifier, challenge); got != want {
			t.Fatalf("VerifyS256(%q, %q) = %v, want %v", verifier, challenge, got, want)
		}
	})
}
