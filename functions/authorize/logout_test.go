package authorize

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const (
	appSignedOut = "https://app.example.com/signed-out"
	// appOtherPage is registered as a redirect URI, not as a post-logout
	// one: logout must not send the browser there.
	appOtherPage = "https://app.example.com/cb"
)

// logoutEnv is an env whose app link registers appSignedOut (and one with
// a query) as post_logout_redirect_uris, and a browser signed in as alice.
func logoutEnv(t *testing.T) (*env, *browser) {
	t.Helper()
	e := newEnv(t)
	l, _ := e.store.GetLinkByClientID(t.Context(), appClient)
	l.PostLogoutRedirectURIs = []string{appSignedOut, appSignedOut + "?from=provider"}
	e.store.addLink(l)
	b := e.browser()
	b.flow(authorizeURL(nil)) // signs in
	if b.sessionCookie() == "" {
		t.Fatal("no session after sign-in")
	}
	return e, b
}

func logoutURL(q url.Values) string { return "/oauth2/logout?" + q.Encode() }

// fakeIDToken is a compact JWS with claims (the authorize function does
// not check signatures: see hintSubject).
func fakeIDToken(claims string) string { return fakeIDTokenAlg("RS256", claims) }

// fakeIDTokenAlg is fakeIDToken with alg in its header.
func fakeIDTokenAlg(alg, claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"`+alg+`","typ":"JWT"}`)) + "." + enc([]byte(claims)) + ".c2ln"
}

// algNone is hint with its header changed to alg none and its signature
// dropped, as the conformance suite's modified-id-token-hint module sends.
func algNone(hint string) string {
	parts := strings.Split(hint, ".")
	return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + "."
}

// signedIn reports whether b's session still works (the account page
// answers it rather than the login page).
func (b *browser) signedIn() bool {
	b.t.Helper()
	r := b.get(accountPath)
	return r.status == http.StatusOK && strings.Contains(r.body, "Signed in as")
}

// TestRPInitiatedLogout: OpenID Connect RP-Initiated Logout 1.0 at
// /oauth2/logout. The application's request shows the confirmation page
// (the GET signs nobody out), naming the application and where the browser
// goes; its post ends the session and answers 303 to the registered
// post_logout_redirect_uri with state; the application may be named by
// client_id or by id_token_hint, and by form post as well as by GET.
func TestRPInitiatedLogout(t *testing.T) {
	hint := fakeIDToken(`{"iss":"` + testIssuer + `","sub":"` + aliceID + `","aud":"` + appClient + `","azp":"` + appClient + `"}`)
	es256Hint := fakeIDTokenAlg("ES256", `{"iss":"`+testIssuer+`","sub":"`+aliceID+`","aud":"`+appClient+`","azp":"`+appClient+`"}`)
	for _, c := range []struct {
		name  string
		q     url.Values
		post  bool
		want  string
		state string
	}{
		{"client_id", url.Values{"client_id": {appClient}, "post_logout_redirect_uri": {appSignedOut}, "state": {"s 1&2"}}, false, appSignedOut + "?state=s+1%262", "s 1&2"},
		{"id_token_hint", url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {appSignedOut}}, false, appSignedOut, ""},
		// The ID token of a link that asks for ES256.
		{"ES256 id_token_hint", url.Values{"id_token_hint": {es256Hint}, "post_logout_redirect_uri": {appSignedOut}}, false, appSignedOut, ""},
		{"both, by POST", url.Values{"id_token_hint": {hint}, "client_id": {appClient}, "post_logout_redirect_uri": {appSignedOut + "?from=provider"}, "state": {"x"}, "ui_locales": {"fr"}}, true, appSignedOut + "?from=provider&state=x", "x"},
		{"no redirect", url.Values{"client_id": {appClient}}, false, logoutPath, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, b := logoutEnv(t)
			var r *response
			if c.post {
				// An application's form post: 303 to the same request as a
				// GET, naming the application by client_id.
				r = b.post("/oauth2/logout", c.q)
				loc := r.location(t)
				if r.status != http.StatusSeeOther || loc.Path != logoutPath || loc.Query().Get("client_id") != appClient ||
					loc.Query().Has("id_token_hint") || loc.Query().Get("state") != c.state {
					t.Fatalf("logout request by POST: got %d to %q, want 303 to the GET of the request", r.status, loc)
				}
				r = b.get(loc.RequestURI())
			} else {
				r = b.get(logoutURL(c.q))
			}
			if r.status != http.StatusOK {
				t.Fatalf("logout request: status %d, want 200 (the confirmation page); body %.300s", r.status, r.body)
			}
			p := checkPage(t, r)
			if len(p.Forms) != 1 {
				t.Fatalf("confirmation page has %d forms, want 1", len(p.Forms))
			}
			if !strings.Contains(r.body, "Build &lt;Bot&gt; &amp; Co</strong> asks to sign you out") {
				t.Errorf("the page does not name the application that asks: %.600s", r.body)
			}
			if c.want != logoutPath {
				if !strings.Contains(r.body, "go back to Build &lt;Bot&gt; &amp; Co at <strong>app.example.com</strong>") {
					t.Errorf("the page does not say where the browser goes afterwards")
				}
				if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://app.example.com") {
					t.Errorf("CSP %q: the form's redirect to the application would be blocked", csp)
				}
			}
			if !b.signedIn() {
				t.Fatal("the logout request alone signed the user out: it must ask")
			}
			f := p.form(t, "/oauth2/logout")
			if st, _ := f.get("state"); st != c.state {
				t.Errorf("form state %q, want %q", st, c.state)
			}
			out := b.submit(f, "", nil)
			if out.status != http.StatusSeeOther || out.header.Get("Location") != c.want {
				t.Fatalf("sign out: got %d to %q, want 303 to %q", out.status, out.header.Get("Location"), c.want)
			}
			if b.signedIn() {
				t.Error("still signed in after the confirmation")
			}
		})
	}
}

// TestRPInitiatedLogoutRefusals: a logout request that names no
// registered post-logout redirect is a 400 page that sends the browser
// nowhere and signs nobody out (§3: no redirect unless the URI exactly
// matches one registered for the application).
func TestRPInitiatedLogoutRefusals(t *testing.T) {
	e, b := logoutEnv(t)
	hintFor := func(iss, aud string) string {
		return fakeIDToken(`{"iss":"` + iss + `","sub":"` + aliceID + `","aud":"` + aud + `"}`)
	}
	for name, q := range map[string]url.Values{
		"a redirect URI, not a post-logout one":  {"client_id": {appClient}, "post_logout_redirect_uri": {appOtherPage}},
		"unregistered":                           {"client_id": {appClient}, "post_logout_redirect_uri": {"https://evil.example/"}},
		"another port":                           {"client_id": {appClient}, "post_logout_redirect_uri": {"https://app.example.com:8443/signed-out"}},
		"no application named":                   {"post_logout_redirect_uri": {appSignedOut}},
		"another application's URI":              {"client_id": {twoClient}, "post_logout_redirect_uri": {appSignedOut}},
		"unknown application":                    {"client_id": {"nobody"}, "post_logout_redirect_uri": {appSignedOut}},
		"disabled application":                   {"client_id": {offClient}},
		"resource server":                        {"client_id": {rsClient}},
		"hint for another client than client_id": {"client_id": {twoClient}, "id_token_hint": {hintFor(testIssuer, appClient)}, "post_logout_redirect_uri": {appSignedOut}},
		"hint from another issuer":               {"id_token_hint": {hintFor("https://elsewhere.example", appClient)}, "post_logout_redirect_uri": {appSignedOut}},
		"hint that is not a JWT":                 {"id_token_hint": {"nope"}, "post_logout_redirect_uri": {appSignedOut}},
		"hint whose azp is not an audience":      {"id_token_hint": {fakeIDToken(`{"iss":"` + testIssuer + `","sub":"` + aliceID + `","aud":["` + twoClient + `"],"azp":"` + appClient + `"}`)}, "post_logout_redirect_uri": {appSignedOut}},
		"hint with an empty audience":            {"id_token_hint": {fakeIDToken(`{"iss":"` + testIssuer + `","sub":"` + aliceID + `","aud":""}`)}},
		// oidcc-rp-initiated-logout-modified-id-token-hint: alg none.
		"hint changed to alg none": {"id_token_hint": {algNone(hintFor(testIssuer, appClient))}, "post_logout_redirect_uri": {appSignedOut}},
		"hint without a signature": {"id_token_hint": {strings.TrimSuffix(hintFor(testIssuer, appClient), "c2ln")}, "post_logout_redirect_uri": {appSignedOut}},
		"hint changed to HS256":    {"id_token_hint": {fakeIDTokenAlg("HS256", `{"iss":"`+testIssuer+`","sub":"`+aliceID+`","aud":"`+appClient+`"}`)}, "post_logout_redirect_uri": {appSignedOut}},
		"hint with alg ES384":      {"id_token_hint": {fakeIDTokenAlg("ES384", `{"iss":"`+testIssuer+`","sub":"`+aliceID+`","aud":"`+appClient+`"}`)}, "post_logout_redirect_uri": {appSignedOut}},
		"repeated":                 {"client_id": {appClient, appClient}},
	} {
		r := b.get(logoutURL(q))
		if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
			t.Errorf("%s: got %d (Location %q), want a 400 page", name, r.status, r.header.Get("Location"))
			continue
		}
		checkPage(t, r)
		if !strings.Contains(r.body, "This sign-out link is not valid") || !strings.Contains(r.body, "Details for the application") {
			t.Errorf("%s: the page does not explain: %.400s", name, r.body)
		}
	}
	// A confirmation form whose hidden redirect was changed is checked
	// again: nobody is signed out and the browser goes nowhere.
	ok := b.get(logoutURL(url.Values{"client_id": {appClient}, "post_logout_redirect_uri": {appSignedOut}}))
	f := parsePage(t, ok.body).form(t, "/oauth2/logout")
	if r := b.submit(f, "", map[string]string{"post_logout_redirect_uri": "https://evil.example/"}); r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
		t.Errorf("tampered form: got %d to %q, want a 400 page", r.status, r.header.Get("Location"))
	}
	// A post without the CSRF token signs nobody out: with logout
	// parameters it is an application's request (303 to the confirmation
	// page), without them the expired-form page; an invalid one by post is
	// refused as by GET.
	if r := b.post("/oauth2/logout", url.Values{"client_id": {appClient}, "post_logout_redirect_uri": {appSignedOut}}); r.status != http.StatusSeeOther ||
		!strings.HasPrefix(r.header.Get("Location"), logoutPath+"?") {
		t.Errorf("logout request by POST: got %d to %q, want 303 to the confirmation page", r.status, r.header.Get("Location"))
	}
	if r := b.post("/oauth2/logout", url.Values{"client_id": {appClient}, "post_logout_redirect_uri": {"https://evil.example/"}}); r.status != http.StatusBadRequest {
		t.Errorf("invalid logout request by POST: got %d, want 400", r.status)
	}
	if r := b.post("/oauth2/logout", url.Values{}); r.status != http.StatusForbidden {
		t.Errorf("post without CSRF token or parameters: got %d, want 403", r.status)
	}
	if r := b.submit(f, "", map[string]string{"csrf": "wrong"}); r.status != http.StatusForbidden {
		t.Errorf("wrong CSRF token: got %d, want 403", r.status)
	}
	if !b.signedIn() {
		t.Error("a refused logout request signed the user out")
	}
	// Signed out, a valid request goes back to the application at once
	// (there is nothing to ask); an invalid one is still refused.
	signedOut := e.browser()
	r := signedOut.get(logoutURL(url.Values{"client_id": {appClient}, "post_logout_redirect_uri": {appSignedOut}, "state": {"st"}}))
	if r.status != http.StatusSeeOther || r.header.Get("Location") != appSignedOut+"?state=st" {
		t.Errorf("signed out: got %d to %q, want 303 to %s?state=st", r.status, r.header.Get("Location"), appSignedOut)
	}
	if r := signedOut.get(logoutURL(url.Values{"client_id": {appClient}, "post_logout_redirect_uri": {"https://evil.example/"}})); r.status != http.StatusBadRequest {
		t.Errorf("signed out, unregistered URI: got %d, want 400", r.status)
	}
	if r := signedOut.get("/oauth2/logout"); r.status != http.StatusOK || !strings.Contains(r.body, "You are signed out") {
		t.Errorf("signed out, no parameters: got %d, want the signed-out page", r.status)
	}
}

// TestLogoutPageWithoutApplication: the person's own sign-out (no
// parameters) is unchanged: the page, then 303 to the signed-out page;
// state alone (oidcc-rp-initiated-logout-only-state) is the same, with no
// redirect anywhere.
func TestLogoutPageWithoutApplication(t *testing.T) {
	for _, path := range []string{"/oauth2/logout", "/oauth2/logout?state=only-state"} {
		_, b := logoutEnv(t)
		r := b.get(path)
		p := checkPage(t, r)
		if strings.Contains(r.body, "asks to sign you out") {
			t.Errorf("%s: the sign-out page names an application", path)
		}
		f := p.form(t, "/oauth2/logout")
		for _, name := range []string{"client_id", "post_logout_redirect_uri", "state"} {
			if _, ok := f.get(name); ok {
				t.Errorf("%s: the sign-out form carries %s", path, name)
			}
		}
		if out := b.submit(f, "", nil); out.status != http.StatusSeeOther || out.header.Get("Location") != logoutPath {
			t.Errorf("%s: sign out: got %d to %q, want 303 to %s", path, out.status, out.header.Get("Location"), logoutPath)
		}
		if b.signedIn() {
			t.Errorf("%s: still signed in", path)
		}
	}
}

// TestLogoutCrossSitePost: a cross-site form post to /oauth2/logout comes
// without the session cookie (SameSite=Lax), so it finds no session; it
// must not answer with a Set-Cookie that deletes the cookie, or any site
// could sign its visitors out without asking them. Found by review.
func TestLogoutCrossSitePost(t *testing.T) {
	e, _ := logoutEnv(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, body := range []url.Values{
		{},
		{"csrf": {"anything"}},
		{"csrf": {"x"}, "client_id": {appClient}, "post_logout_redirect_uri": {appSignedOut}, "state": {"attacker"}},
	} {
		// What the browser sends cross-site: no cookie.
		res, err := client.PostForm(e.srv.URL+"/oauth2/logout", body)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		for _, c := range res.Cookies() {
			if c.Name == e.h.cookies.Session {
				t.Errorf("post %v without a cookie: answered Set-Cookie %s (deletes the session cookie)", body, c)
			}
		}
	}
}
