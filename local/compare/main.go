// Command compare obtains the refresh tokens that local/loadgen's external
// mode (-token-url) needs, from this project's provider or from ORY Hydra,
// so that both servers can be driven with the same load (see hydra.sh in
// this directory, which runs the whole comparison).
//
//	go run ./local/compare applinks -issuer http://127.0.0.1:18080 \
//	    -admin-token "$ADMIN_TOKEN" -n 4 -dir DIR
//	go run ./local/compare hydra -public http://127.0.0.1:14444 \
//	    -admin http://127.0.0.1:14445 -n 4 -dir DIR
//
// applinks creates, through the admin API, one user and one confidential
// link, then signs in n times through the pages (GET /oauth2/authorize,
// POST the login form, GET /oauth2/authorize with the session, POST the
// consent form with decision=approve, POST /oauth2/token with the code and
// PKCE), with local/oauthflow as the load generator does (the forms read
// by SPEC's contract, the callback's state and iss checked). Nothing is
// deleted: the provider the script starts is thrown away.
//
// hydra creates, through Hydra's admin API (POST /admin/clients), one
// confidential client with the grant types authorization_code and
// refresh_token, the scope "offline_access bench" and
// client_secret_basic, then runs n authorization code flows in which
// Hydra's admin API plays the login and consent app: GET /oauth2/auth,
// read login_challenge from the redirect to the login URL, PUT
// /admin/oauth2/auth/requests/login/accept, follow, read consent_challenge,
// PUT /admin/oauth2/auth/requests/consent/accept granting offline_access
// and bench, follow to the redirect URI, POST /oauth2/token with the code.
//
// With -jwt-rsa-bits B, hydra first replaces the key set Hydra signs JWT
// access tokens with (hydra.jwt.access-token, PUT /admin/keys/{set}) by
// one RS256 key of B bits: Hydra generates RS256 keys of 4096 bits, this
// provider uses 2048, and the size sets the cost of signing each token.
//
// Both write into -dir three files: client_id, client_secret and
// refresh_tokens (one a line, as loadgen's -refresh-tokens reads them).
// Every URL must be a loopback one (127.0.0.0/8, ::1, localhost), and the
// address actually dialled is checked too.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/applinks/applinks/local/loopback"
	"github.com/applinks/applinks/local/oauthflow"
)

// callbackURI is the redirect URI of both clients. Nothing listens there:
// the code is read from the Location header of the last redirect.
const callbackURI = "http://127.0.0.1/compare/callback"

const maxBody = 1 << 20

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 || (args[0] != "applinks" && args[0] != "hydra") {
		return errors.New("usage: compare applinks|hydra [flags] (see the package doc)")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	issuer := fs.String("issuer", "", "applinks: the provider's issuer URL")
	adminToken := fs.String("admin-token", "", "applinks: the admin token (or $ADMIN_TOKEN)")
	public := fs.String("public", "", "hydra: the public URL")
	admin := fs.String("admin", "", "hydra: the admin URL")
	n := fs.Int("n", 4, "refresh tokens to obtain (one per loadgen client)")
	rsaBits := fs.Int("jwt-rsa-bits", 0, "hydra: replace Hydra's JWT access token signing key by an RS256 key of this size (0: keep Hydra's)")
	dir := fs.String("dir", "", "directory to write client_id, client_secret and refresh_tokens into")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *dir == "" || *n < 1 || *n > 256 {
		return errors.New("-dir is required and -n must be 1 to 256")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var (
		id, secret string
		toks       []string
		err        error
	)
	switch args[0] {
	case "applinks":
		if *adminToken == "" {
			*adminToken = os.Getenv("ADMIN_TOKEN")
		}
		if err := checkLoopback(*issuer); err != nil {
			return fmt.Errorf("-issuer: %w", err)
		}
		if *adminToken == "" {
			return errors.New("-admin-token or $ADMIN_TOKEN is required")
		}
		id, secret, toks, err = applinksTokens(ctx, strings.TrimSuffix(*issuer, "/"), *adminToken, *n)
	case "hydra":
		if err := errors.Join(checkLoopback(*public), checkLoopback(*admin)); err != nil {
			return fmt.Errorf("-public, -admin: %w", err)
		}
		if *rsaBits != 0 && (*rsaBits < 2048 || *rsaBits > 8192) {
			return errors.New("-jwt-rsa-bits: 0, or 2048 to 8192")
		}
		if *rsaBits != 0 {
			if err := hydraSigningKey(ctx, strings.TrimSuffix(*admin, "/"), *rsaBits); err != nil {
				return err
			}
		}
		id, secret, toks, err = hydraTokens(ctx, strings.TrimSuffix(*public, "/"), strings.TrimSuffix(*admin, "/"), *n)
	}
	if err != nil {
		return err
	}
	for name, content := range map[string]string{
		"client_id": id, "client_secret": secret, "refresh_tokens": strings.Join(toks, "\n") + "\n",
	} {
		if err := os.WriteFile(filepath.Join(*dir, name), []byte(content), 0o600); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "compare: %s: client %s, %d refresh tokens in %s\n", args[0], id, len(toks), *dir)
	return nil
}

// checkLoopback accepts an absolute http(s) URL whose host is localhost or
// a loopback IP literal.
func checkLoopback(raw string) error {
	_, err := loopback.ParseURL(raw)
	return err
}

// httpClient never follows redirects, dials loopback addresses only and
// keeps cookies in jar (nil: none).
func httpClient(jar http.CookieJar) *http.Client {
	d := loopback.Dialer()
	return &http.Client{
		Transport:     &http.Transport{DialContext: d.DialContext},
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// do sends a request and returns the status, the Location (nil when none)
// and the body.
func do(ctx context.Context, hc *http.Client, method, u string, hdr http.Header, body io.Reader) (int, *url.URL, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, nil, nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s: read answer: %w", method, req.URL.Path, err)
	}
	loc, _ := resp.Location()
	return resp.StatusCode, loc, data, nil
}

// jsonCall sends v as JSON (nil: no body) and decodes the answer into out
// when the status is want.
func jsonCall(ctx context.Context, hc *http.Client, method, u string, hdr http.Header, v any, want int, out any) error {
	var body io.Reader
	if hdr == nil {
		hdr = http.Header{}
	}
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
		hdr.Set("Content-Type", "application/json")
	}
	status, _, data, err := do(ctx, hc, method, u, hdr, body)
	if err != nil {
		return err
	}
	if status != want {
		return fmt.Errorf("%s %s: got status %d, want %d: %s", method, u, status, want, short(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, u, err)
		}
	}
	return nil
}

func short(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// exchange redeems a Hydra code at tokenURL with client_secret_basic
// (oauthflow.BasicAuth, RFC 6749 §2.3.1) and returns the refresh token.
func exchange(ctx context.Context, hc *http.Client, tokenURL, id, secret string, form url.Values) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	oauthflow.BasicAuth(req, id, secret)
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("POST %s: got status %d: %s", tokenURL, resp.StatusCode, short(data))
	}
	var t struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(data, &t); err != nil || t.RefreshToken == "" {
		return "", fmt.Errorf("POST %s: no refresh_token in the answer: %s", tokenURL, short(data))
	}
	return t.RefreshToken, nil
}

// codeFrom reads the code from the redirect to callbackURI.
func codeFrom(loc *url.URL, state string) (string, error) {
	if loc == nil || !strings.HasPrefix(loc.String(), callbackURI+"?") {
		return "", fmt.Errorf("redirected to %v, want the callback", loc)
	}
	q := loc.Query()
	if e := q.Get("error"); e != "" {
		return "", fmt.Errorf("the callback got error=%s: %s", e, q.Get("error_description"))
	}
	if q.Get("state") != state || q.Get("code") == "" {
		return "", errors.New("the callback lacks the code or has another state")
	}
	return q.Get("code"), nil
}

// applinksTokens creates the fixtures of this project's provider and runs
// n code flows (local/oauthflow), returning the link's credentials and the
// refresh tokens.
func applinksTokens(ctx context.Context, issuer, adminToken string, n int) (string, string, []string, error) {
	c := &oauthflow.Client{
		Issuer: issuer, AdminToken: adminToken, Name: "compare", RedirectURI: callbackURI,
		Timeout: 30 * time.Second,
	}
	fx, err := c.Setup(ctx)
	if err != nil {
		return "", "", nil, err
	}
	var toks []string
	for range n {
		t, err := c.CodeFlow(ctx, fx, nil)
		if err != nil {
			return "", "", nil, fmt.Errorf("code flow: %w", err)
		}
		toks = append(toks, t.RefreshToken)
	}
	return fx.ClientID, fx.ClientSecret, toks, nil
}

// hydraSigningKey makes an RS256 key of bits the only key of Hydra's JWT
// access token key set.
func hydraSigningKey(ctx context.Context, admin string, bits int) error {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return err
	}
	b64 := func(i *big.Int) string { return base64.RawURLEncoding.EncodeToString(i.Bytes()) }
	jwk := map[string]string{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": fmt.Sprintf("compare-rs256-%d", bits),
		"n": b64(k.N), "e": b64(big.NewInt(int64(k.E))), "d": b64(k.D),
		"p": b64(k.Primes[0]), "q": b64(k.Primes[1]),
		"dp": b64(k.Precomputed.Dp), "dq": b64(k.Precomputed.Dq), "qi": b64(k.Precomputed.Qinv),
	}
	if err := jsonCall(ctx, httpClient(nil), http.MethodPut, admin+"/admin/keys/hydra.jwt.access-token", nil,
		map[string]any{"keys": []any{jwk}}, http.StatusOK, nil); err != nil {
		return fmt.Errorf("replace Hydra's JWT access token key: %w", err)
	}
	return nil
}

// hydraScope is what the Hydra client may ask for and is granted.
const hydraScope = "offline_access bench"

func hydraTokens(ctx context.Context, public, admin string, n int) (string, string, []string, error) {
	hc := httpClient(nil)
	secret := randomString(24)
	var cl struct {
		ClientID string `json:"client_id"`
	}
	if err := jsonCall(ctx, hc, http.MethodPost, admin+"/admin/clients", nil, map[string]any{
		"client_name": "compare", "client_secret": secret,
		"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
		"scope": hydraScope, "redirect_uris": []string{callbackURI},
		"token_endpoint_auth_method": "client_secret_basic",
	}, http.StatusCreated, &cl); err != nil {
		return "", "", nil, fmt.Errorf("create client: %w", err)
	}
	if cl.ClientID == "" {
		return "", "", nil, errors.New("create client: the answer lacks client_id")
	}
	var toks []string
	for range n {
		tok, err := hydraFlow(ctx, public, admin, cl.ClientID, secret)
		if err != nil {
			return "", "", nil, fmt.Errorf("code flow: %w", err)
		}
		toks = append(toks, tok)
	}
	return cl.ClientID, secret, toks, nil
}

// hydraFlow runs one authorization code flow with Hydra's admin API as the
// login and consent app.
func hydraFlow(ctx context.Context, public, admin, clientID, secret string) (string, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return "", err
	}
	hc := httpClient(jar)
	state := randomString(12)
	q := url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {callbackURI},
		"scope": {hydraScope}, "state": {state},
	}
	// follow GETs u (a Hydra URL, with the CSRF cookies in the jar) and
	// returns where it redirects.
	follow := func(u string) (*url.URL, error) {
		status, loc, body, err := do(ctx, hc, http.MethodGet, u, nil, nil)
		if err != nil {
			return nil, err
		}
		if status < 300 || status > 399 || loc == nil {
			return nil, fmt.Errorf("GET %s: got status %d, want a redirect: %s", u, status, short(body))
		}
		return loc, nil
	}
	// accept answers a login or consent challenge and returns redirect_to.
	accept := func(kind, challenge string, body any) (string, error) {
		var out struct {
			RedirectTo string `json:"redirect_to"`
		}
		u := admin + "/admin/oauth2/auth/requests/" + kind + "/accept?" + kind + "_challenge=" + url.QueryEscape(challenge)
		if err := jsonCall(ctx, hc, http.MethodPut, u, nil, body, http.StatusOK, &out); err != nil {
			return "", err
		}
		if out.RedirectTo == "" {
			return "", fmt.Errorf("accept %s: no redirect_to", kind)
		}
		return out.RedirectTo, nil
	}
	loc, err := follow(public + "/oauth2/auth?" + q.Encode())
	if err != nil {
		return "", err
	}
	challenge := loc.Query().Get("login_challenge")
	if challenge == "" {
		return "", fmt.Errorf("redirected to %s, want the login URL with login_challenge", loc.Redacted())
	}
	next, err := accept("login", challenge, map[string]any{"subject": "compare-user", "remember": false})
	if err != nil {
		return "", err
	}
	if loc, err = follow(next); err != nil {
		return "", err
	}
	challenge = loc.Query().Get("consent_challenge")
	if challenge == "" {
		return "", fmt.Errorf("redirected to %s, want the consent URL with consent_challenge", loc.Redacted())
	}
	next, err = accept("consent", challenge, map[string]any{
		"grant_scope": strings.Fields(hydraScope), "remember": false,
	})
	if err != nil {
		return "", err
	}
	if loc, err = follow(next); err != nil {
		return "", err
	}
	code, err := codeFrom(loc, state)
	if err != nil {
		return "", err
	}
	return exchange(ctx, hc, public+"/oauth2/token", clientID, secret, url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callbackURI},
	})
}
