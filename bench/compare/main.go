// Command compare prepares and measures make compare's runs
// (bench/compare/compare.sh): the same bench/loadgen load against this
// project's provider, panva's node-oidc-provider and ORY Hydra.
//
// Preparation: each of these obtains, for one load-generator run, a client
// and n signed-in browsers that have consented, and writes into -dir the
// files loadgen's external mode reads: client_id, client_secret,
// refresh_tokens (one per browser, from its code flow) and sessions (each
// browser's cookies, a Cookie header value a line). Every code flow uses
// PKCE S256; afterwards one more authorization with the first browser must
// come back without a page (the remembered consent), and every access token
// is checked to be what the run says (-alg: RS256, ES256, or opaque).
//
//	compare applinks -issuer URL -n N -dir DIR [-alg ES256]   ($ADMIN_TOKEN)
//	compare node -issuer URL -client-id compare|compare-opaque -n N -dir DIR   ($CLIENT_SECRET)
//	compare hydra -public URL -admin URL -n N -dir DIR
//
// applinks creates, through the admin API, one user and one confidential
// link, then signs each browser in through the pages (tests/testkit/oauthflow:
// login form, consent form). node uses server.mjs's two static clients and
// its headless interactions. hydra creates one confidential client through
// Hydra's admin API (grant types authorization_code and refresh_token,
// scope "offline_access bench", client_secret_basic); its browsers pass
// through the headless login and consent app below.
//
// Set-up of a server, once:
//
//	compare hydra-app -admin URL -listen 127.0.0.1:PORT
//	compare hydra-key -admin URL -bits 2048
//	compare rotate -issuer URL -alg ES256   ($ADMIN_TOKEN)
//
// hydra-app is Hydra's login and consent app, headless: GET
// /login?login_challenge= accepts the login as "compare-user" with
// remember, without any password check; GET /consent?consent_challenge=
// grants "offline_access bench" with remember; each answers 302 to Hydra's
// redirect_to. One admin API call per step, the least an app can do.
// hydra-key makes an RS256 key of -bits the only key of Hydra's JWT access
// token key set (Hydra generates 4096-bit keys; this provider's are 2048).
// rotate stages a signing key of -alg on this provider (POST
// /admin/signing-keys/rotate) and prints when it starts signing access
// tokens, in Unix seconds.
//
// Measurement (measure.go) and the report (summary.go):
//
//	compare measure -out FILE -server NAME -proc main=PID [-proc NAME=PID...] -- LOADGEN ARGS...
//	compare summary FILE...
//
// And where the local runner's CPU goes (cpushare.go): a CPU profile from
// its PPROF_ADDR split into the emulator, the AWS SDK, the GC, signatures,
// the handlers, the HTTP server and the rest, per operation with -ops:
//
//	compare cpushare [-ops N] PROFILE
//
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
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/applinks/applinks/local/loopback"
	"github.com/applinks/applinks/tests/testkit/oauthflow"
)

// callbackURI is the redirect URI of every client. Nothing listens there:
// the code is read from the Location header of the last redirect.
const callbackURI = "http://127.0.0.1/compare/callback"

// nodeResource and nodeScope are server.mjs's resource server and its
// scope; hydraScope is what the Hydra client asks for and is granted.
const (
	nodeResource = "https://bench.compare.test/"
	nodeScope    = "bench"
	hydraScope   = "offline_access bench"
	hydraSubject = "compare-user"
)

const maxBody = 1 << 20

func main() {
	ctx, stop := signalContext()
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

const usage = "usage: compare applinks|node|hydra|hydra-app|hydra-key|rotate|measure|summary|cpushare [flags] (see the package doc)"

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "measure":
		return measureCmd(ctx, args[1:], out)
	case "summary":
		return summaryCmd(args[1:], out)
	case "cpushare":
		return cpushareCmd(args[1:], out)
	case "hydra-app":
		return hydraAppCmd(ctx, args[1:])
	case "applinks", "node", "hydra", "hydra-key", "rotate":
	default:
		return errors.New(usage)
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	issuer := fs.String("issuer", "", "applinks, node, rotate: the server's issuer URL")
	public := fs.String("public", "", "hydra: the public URL")
	admin := fs.String("admin", "", "hydra, hydra-key: the admin URL")
	clientID := fs.String("client-id", "compare", "node: server.mjs's client (compare: JWT access tokens; compare-opaque: opaque)")
	n := fs.Int("n", 4, "browsers to sign in (one per loadgen client)")
	alg := fs.String("alg", "", "applinks: the access tokens' alg to check (RS256 or ES256; default RS256); rotate: the new key's")
	bits := fs.Int("bits", 2048, "hydra-key: the RSA key size")
	dir := fs.String("dir", "", "directory to write client_id, client_secret, refresh_tokens and sessions into")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	switch args[0] {
	case "hydra-key":
		if err := checkLoopback(*admin); err != nil {
			return fmt.Errorf("-admin: %w", err)
		}
		if *bits < 2048 || *bits > 8192 {
			return errors.New("-bits: 2048 to 8192")
		}
		return hydraSigningKey(ctx, strings.TrimSuffix(*admin, "/"), *bits)
	case "rotate":
		if err := checkLoopback(*issuer); err != nil {
			return fmt.Errorf("-issuer: %w", err)
		}
		from, err := rotate(ctx, strings.TrimSuffix(*issuer, "/"), os.Getenv("ADMIN_TOKEN"), *alg)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, from.Unix())
		return nil
	}
	if *dir == "" || *n < 1 || *n > 256 {
		return errors.New("-dir is required and -n must be 1 to 256")
	}
	var (
		p   prepared
		err error
	)
	switch args[0] {
	case "applinks":
		if err := checkLoopback(*issuer); err != nil {
			return fmt.Errorf("-issuer: %w", err)
		}
		want := *alg
		if want == "" {
			want = "RS256"
		}
		if want != "RS256" && want != "ES256" {
			return errors.New("-alg: RS256 or ES256")
		}
		p, err = applinksPrepare(ctx, strings.TrimSuffix(*issuer, "/"), os.Getenv("ADMIN_TOKEN"), *n, want)
	case "node":
		if err := checkLoopback(*issuer); err != nil {
			return fmt.Errorf("-issuer: %w", err)
		}
		p, err = nodePrepare(ctx, strings.TrimSuffix(*issuer, "/"), *clientID, os.Getenv("CLIENT_SECRET"), *n)
	case "hydra":
		if err := errors.Join(checkLoopback(*public), checkLoopback(*admin)); err != nil {
			return fmt.Errorf("-public, -admin: %w", err)
		}
		p, err = hydraPrepare(ctx, strings.TrimSuffix(*public, "/"), strings.TrimSuffix(*admin, "/"), *n)
	}
	if err != nil {
		return err
	}
	if err := p.write(*dir); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "compare: %s: client %s, %d signed-in browsers and refresh tokens in %s\n", args[0], p.clientID, len(p.refreshTokens), *dir)
	return nil
}

// prepared is what a preparation writes for loadgen.
type prepared struct {
	clientID, clientSecret string
	refreshTokens          []string
	sessions               []string // Cookie header values
}

func (p prepared) write(dir string) error {
	for name, content := range map[string]string{
		"client_id": p.clientID, "client_secret": p.clientSecret,
		"refresh_tokens": strings.Join(p.refreshTokens, "\n") + "\n",
		"sessions":       strings.Join(p.sessions, "\n") + "\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// browser is one signed-in browser of a preparation: its cookies and the
// tokens of its code flow.
type browser struct {
	jar  http.CookieJar
	toks oauthflow.Tokens
}

// cookieHeader is the Cookie header jar sends to u.
func cookieHeader(jar http.CookieJar, u string) (string, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	var parts []string
	for _, c := range jar.Cookies(pu) {
		parts = append(parts, c.Name+"="+c.Value)
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("the browser holds no cookie for %s after signing in", pu.Redacted())
	}
	return strings.Join(parts, "; "), nil
}

// checkAccessToken checks an access token's format: want is "opaque" (not
// a JWS compact serialization) or the JWS alg its header must name.
func checkAccessToken(at, want string) error {
	parts := strings.Split(at, ".")
	if want == "opaque" {
		if len(parts) == 3 {
			return errors.New("got a JWT access token, want an opaque one")
		}
		return nil
	}
	if len(parts) != 3 {
		return fmt.Errorf("got an opaque access token, want a %s JWT", want)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return fmt.Errorf("access token header: %w", err)
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return fmt.Errorf("access token header: %w", err)
	}
	if h.Alg != want {
		return fmt.Errorf("access token signed %s, want %s", h.Alg, want)
	}
	return nil
}

// authorizeURL is an authorization request of clientID with a fresh state
// and PKCE challenge, plus params; it returns the URL, the state and the
// verifier.
func authorizeURL(endpoint, clientID string, params url.Values) (*url.URL, string, string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, "", "", err
	}
	verifier, challenge := oauthflow.PKCE()
	state := oauthflow.State()
	q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {callbackURI},
		"state": {state}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	return u, state, verifier, nil
}

// redirectFlow runs one authorization whose login and consent end in
// redirects (node's interactions, Hydra's app) in jar, and redeems the code
// at tokenURL.
func redirectFlow(ctx context.Context, jar http.CookieJar, endpoint, tokenURL, clientID, secret string, params url.Values) (oauthflow.Tokens, error) {
	u, state, verifier, err := authorizeURL(endpoint, clientID, params)
	if err != nil {
		return oauthflow.Tokens{}, err
	}
	code, err := oauthflow.FollowToCallback(ctx, httpClient(jar), u, callbackURI, state)
	if err != nil {
		return oauthflow.Tokens{}, fmt.Errorf("authorization: %w", err)
	}
	c := &oauthflow.Client{Timeout: 30 * time.Second}
	data, err := c.PostForm(ctx, tokenURL, tokenURL, url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callbackURI}, "code_verifier": {verifier},
	}, clientID, secret, oauthflow.ClientSecretBasic)
	if err != nil {
		return oauthflow.Tokens{}, err
	}
	var t oauthflow.Tokens
	if err := json.Unmarshal(data, &t); err != nil {
		return oauthflow.Tokens{}, fmt.Errorf("token response: %w", err)
	}
	if t.AccessToken == "" || t.RefreshToken == "" {
		return oauthflow.Tokens{}, errors.New("token response lacks access_token or refresh_token")
	}
	return t, nil
}

// finish checks the browsers' tokens against want, checks that the first
// browser's next authorization is answered without a page (check runs it),
// and collects the refresh tokens and sessions.
func finish(bs []browser, cookieURL, want, clientID, secret string, check func(http.CookieJar) error) (prepared, error) {
	p := prepared{clientID: clientID, clientSecret: secret}
	for i, b := range bs {
		if err := checkAccessToken(b.toks.AccessToken, want); err != nil {
			return prepared{}, fmt.Errorf("browser %d: %w", i+1, err)
		}
		h, err := cookieHeader(b.jar, cookieURL)
		if err != nil {
			return prepared{}, fmt.Errorf("browser %d: %w", i+1, err)
		}
		p.refreshTokens = append(p.refreshTokens, b.toks.RefreshToken)
		p.sessions = append(p.sessions, h)
	}
	if err := check(bs[0].jar); err != nil {
		return prepared{}, fmt.Errorf("a remembered authorization: %w", err)
	}
	return p, nil
}

// applinksPrepare signs n browsers in to this project's provider.
func applinksPrepare(ctx context.Context, issuer, adminToken string, n int, alg string) (prepared, error) {
	if adminToken == "" {
		return prepared{}, errors.New("$ADMIN_TOKEN is required")
	}
	c := &oauthflow.Client{Issuer: issuer, AdminToken: adminToken, Name: "compare", RedirectURI: callbackURI, Timeout: 30 * time.Second}
	fx, err := c.Setup(ctx)
	if err != nil {
		return prepared{}, err
	}
	bs := make([]browser, n)
	for i := range bs {
		if bs[i].jar, err = cookiejar.New(nil); err != nil {
			return prepared{}, err
		}
		if bs[i].toks, err = c.CodeFlowIn(ctx, bs[i].jar, fx, nil); err != nil {
			return prepared{}, fmt.Errorf("code flow: %w", err)
		}
	}
	endpoint := issuer + "/oauth2/authorize"
	params := url.Values{"scope": {oauthflow.RequestScope}}
	return finish(bs, endpoint, alg, fx.ClientID, fx.ClientSecret, func(jar http.CookieJar) error {
		u, state, _, err := authorizeURL(endpoint, fx.ClientID, params)
		if err != nil {
			return err
		}
		_, err = oauthflow.FollowToCallback(ctx, httpClient(jar), u, callbackURI, state)
		return err
	})
}

// nodePrepare signs n browsers in to server.mjs (node-oidc-provider).
func nodePrepare(ctx context.Context, issuer, clientID, secret string, n int) (prepared, error) {
	if secret == "" {
		return prepared{}, errors.New("$CLIENT_SECRET is required")
	}
	want := "RS256"
	switch clientID {
	case "compare":
	case "compare-opaque":
		want = "opaque"
	default:
		return prepared{}, errors.New("-client-id: compare or compare-opaque")
	}
	params := url.Values{"scope": {nodeScope}, "resource": {nodeResource}}
	return redirectPrepare(ctx, issuer+"/auth", issuer+"/token", clientID, secret, params, want, n)
}

// redirectPrepare signs n browsers in where login and consent end in
// redirects.
func redirectPrepare(ctx context.Context, endpoint, tokenURL, clientID, secret string, params url.Values, want string, n int) (prepared, error) {
	bs := make([]browser, n)
	var err error
	for i := range bs {
		if bs[i].jar, err = cookiejar.New(nil); err != nil {
			return prepared{}, err
		}
		if bs[i].toks, err = redirectFlow(ctx, bs[i].jar, endpoint, tokenURL, clientID, secret, params); err != nil {
			return prepared{}, fmt.Errorf("browser %d: %w", i+1, err)
		}
	}
	return finish(bs, endpoint, want, clientID, secret, func(jar http.CookieJar) error {
		_, err := redirectFlow(ctx, jar, endpoint, tokenURL, clientID, secret, params)
		return err
	})
}

// hydraPrepare creates a Hydra client and signs n browsers in through the
// headless app (hydra-app), which Hydra's URLS_LOGIN and URLS_CONSENT name.
func hydraPrepare(ctx context.Context, public, admin string, n int) (prepared, error) {
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
		return prepared{}, fmt.Errorf("create client: %w", err)
	}
	if cl.ClientID == "" {
		return prepared{}, errors.New("create client: the answer lacks client_id")
	}
	// Hydra's JWT strategy signs RS256; its opaque strategy's tokens are
	// HMAC-based strings of two dot-separated parts.
	want := "RS256"
	if os.Getenv("HYDRA_STRATEGY") == "opaque" {
		want = "opaque"
	}
	return redirectPrepare(ctx, public+"/oauth2/auth", public+"/oauth2/token", cl.ClientID, secret,
		url.Values{"scope": {hydraScope}}, want, n)
}

// rotate stages a signing key of alg and returns when it signs.
func rotate(ctx context.Context, issuer, adminToken, alg string) (time.Time, error) {
	if adminToken == "" {
		return time.Time{}, errors.New("$ADMIN_TOKEN is required")
	}
	if alg != "RS256" && alg != "ES256" {
		return time.Time{}, errors.New("-alg: RS256 or ES256")
	}
	var out struct {
		ActiveFrom time.Time `json:"active_from"`
		Alg        string    `json:"alg"`
	}
	hdr := http.Header{"Authorization": {"Bearer " + adminToken}}
	if err := jsonCall(ctx, httpClient(nil), http.MethodPost, issuer+"/admin/signing-keys/rotate", hdr,
		map[string]string{"alg": alg}, http.StatusOK, &out); err != nil {
		return time.Time{}, err
	}
	if out.Alg != alg || out.ActiveFrom.IsZero() {
		return time.Time{}, fmt.Errorf("rotate: got alg %q, active_from %v", out.Alg, out.ActiveFrom)
	}
	return out.ActiveFrom, nil
}

// hydraAppCmd serves Hydra's headless login and consent app until ctx ends.
func hydraAppCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hydra-app", flag.ContinueOnError)
	admin := fs.String("admin", "", "Hydra's admin URL")
	listen := fs.String("listen", "", "the loopback address to listen on (127.0.0.1:PORT)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkLoopback(*admin); err != nil {
		return fmt.Errorf("-admin: %w", err)
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil || !loopback.IsHost(host) {
		return errors.New("-listen: a loopback host:port")
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: hydraApp(strings.TrimSuffix(*admin, "/")), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// hydraApp is the handler of hydra-app.
func hydraApp(admin string) http.Handler {
	hc := &http.Client{Transport: &http.Transport{DialContext: loopback.Dialer().DialContext, MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	accept := func(w http.ResponseWriter, r *http.Request, kind string, body any) {
		challenge := r.URL.Query().Get(kind + "_challenge")
		if r.Method != http.MethodGet || challenge == "" {
			http.Error(w, "want GET with "+kind+"_challenge", http.StatusBadRequest)
			return
		}
		var out struct {
			RedirectTo string `json:"redirect_to"`
		}
		u := admin + "/admin/oauth2/auth/requests/" + kind + "/accept?" + kind + "_challenge=" + url.QueryEscape(challenge)
		if err := jsonCall(r.Context(), hc, http.MethodPut, u, nil, body, http.StatusOK, &out); err != nil || out.RedirectTo == "" {
			http.Error(w, fmt.Sprintf("accept %s: %v", kind, err), http.StatusBadGateway)
			return
		}
		http.Redirect(w, r, out.RedirectTo, http.StatusFound)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		accept(w, r, "login", map[string]any{"subject": hydraSubject, "remember": true, "remember_for": 0})
	})
	mux.HandleFunc("/consent", func(w http.ResponseWriter, r *http.Request) {
		accept(w, r, "consent", map[string]any{"grant_scope": strings.Fields(hydraScope), "remember": true, "remember_for": 0})
	})
	return mux
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
