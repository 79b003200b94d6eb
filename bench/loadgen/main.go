// Command loadgen drives a running provider (the local runner of `make run`)
// over loopback HTTP with concurrent clients and reports throughput and
// latency percentiles per operation:
//
//	refresh     POST /oauth2/token, grant_type=refresh_token (each client
//	            rotates its own refresh token)
//	introspect  POST /oauth2/introspect of an access token (RFC 7662)
//	codeflow    the whole browser flow of RFC 6749 §4.1 with PKCE (RFC
//	            7636): GET /oauth2/authorize (login page), POST the login
//	            form, GET /oauth2/authorize with the session (consent page),
//	            POST the consent form (approve), POST /oauth2/token
//	            (authorization_code); each step is also reported alone
//
// Before the timed runs it creates, through the admin API, one confidential
// link and one user per client (the sign-in limit refuses more than a few
// attempts of one username at once), and each client signs in once to get
// its tokens; at the end it deletes them. The HTML forms are read by the
// pages' contract: one
// <form method="post"> per page whose state travels in hidden inputs, login
// fields username and password, consent buttons name="decision" with values
// approve and deny.
//
// Every run is bounded by a count (-n, per operation) and a time (-duration,
// per operation), whichever comes first. It refuses any target that is not a
// loopback address (127.0.0.0/8, ::1, localhost), and checks the address it
// actually dials as well.
//
// Usage:
//
//	go run ./bench/loadgen -issuer http://127.0.0.1:8080 -admin-token "$ADMIN_TOKEN" \
//	    -c 8 -n 2000 -duration 30s -op refresh,introspect,codeflow
//
// # Another server
//
// With -token-url, loadgen drives another OAuth 2.0 server on this machine
// instead, for side-by-side comparisons, with the two operations any RFC
// 6749 server serves without this project's admin API or pages:
//
//	refresh     POST -token-url, grant_type=refresh_token (RFC 6749 §6),
//	            with -scope when given. A refresh_token in the answer
//	            replaces the client's (a rotating server); without one the
//	            client keeps using its own (a non-rotating server).
//	introspect  POST -introspect-url (RFC 7662) of the access token of the
//	            client's latest refresh (each client refreshes once, untimed,
//	            before the timed run); the answer must say "active": true.
//
// The server must already know a confidential client (-client-id and
// -client-secret, or $LOADGEN_CLIENT_SECRET), which authenticates with
// client_secret_basic (id and secret form-urlencoded before Base64, RFC
// 6749 §2.3.1) or, with -client-auth post, client_secret_post. Each
// concurrent client needs a refresh token of its own, issued to -client-id
// by the server beforehand (how depends on the server): -refresh-tokens
// names a file of them, one a line (blank lines are skipped), client i using
// the i-th; it must hold at least -c, all different. Nothing is created or
// deleted, so no admin token is needed and -issuer and -admin-token are
// refused; codeflow is refused (it reads this project's pages), and -op all
// means refresh, introspect when -introspect-url is given, and
// authorization when -authorize-url is given. Every URL must be a loopback
// one, as above. A rotating server consumes the file's
// tokens: a second run needs fresh ones. A client whose refresh fails on a
// server that rotates (or has not yet been seen not to) stops, since its
// refresh token may be gone; the failure is counted as usual, and before
// the next operation the client tries one untimed refresh and sits out if
// it fails. A refresh in flight at the end of -duration is let finish
// (within -timeout) so that a rotated token is not lost; it counts as cut.
// The report is the same but names the endpoints instead of the issuer (in
// JSON, token_url and introspect_url instead of issuer).
//
// One more operation is for another server only:
//
//	authorization  a full authorization of a signed-in user whose consent
//	               is remembered: GET -authorize-url (response_type=code,
//	               -client-id, -redirect-uri, a random state, PKCE S256, and
//	               -authorize-params such as scope and resource), following
//	               every redirect (the server's own, its login and consent
//	               app's) until one to -redirect-uri, whose state must be
//	               the request's and which must carry a code; then POST
//	               -token-url with that code and the PKCE verifier, whose
//	               answer must hold an access token. Steps reported:
//	               authorization/redirects, authorization/token-code.
//
// Each client's browser is signed in beforehand, and has consented, by
// whatever the server needs: -sessions names a file of Cookie header values
// (name=value; name2=value2), one a line, client i using the i-th, seeded
// into the client's own cookie jar for the authorization endpoint's host
// (every path). Cookies the server sets during a flow are kept for the next.
// A page (any answer but a redirect) on the way fails the operation: the
// session or the remembered consent is missing.
//
//	go run ./bench/loadgen -token-url http://127.0.0.1:9096/token \
//	    -introspect-url http://127.0.0.1:9096/introspect \
//	    -client-id bench -client-secret "$CLIENT_SECRET" \
//	    -refresh-tokens tokens.txt -c 4 -n 2000 -duration 15s
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/applinks/applinks/tests/testkit/oauthflow"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Getenv)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// Operations, in the order a run with -op all performs them.
const (
	opRefresh    = "refresh"
	opIntrospect = "introspect"
	opCodeFlow   = "codeflow"
	// opAuthorization is the external mode's authorization of a signed-in
	// user with a remembered consent (see the package doc).
	opAuthorization = "authorization"
)

var allOps = []string{opRefresh, opIntrospect, opCodeFlow}

// Bounds of the flags, so that no run is unbounded or floods the machine.
const (
	maxConcurrency = 256
	maxDuration    = 10 * time.Minute
)

// options are the parsed flags.
type options struct {
	issuer      string
	adminToken  string
	concurrency int
	count       int
	duration    time.Duration
	ops         []string
	timeout     time.Duration
	json        bool

	// External mode (tokenURL set): another server's endpoints, its client
	// and the clients' refresh tokens (exactly concurrency of them).
	tokenURL      string
	introspectURL string
	clientID      string
	clientSecret  string
	clientAuth    string
	scope         string
	refreshTokens []string

	// External mode's authorization: the endpoint, the redirect URI, the
	// extra parameters, and each client's Cookie header (sessions).
	authorizeURL    string
	redirectURI     string
	authorizeParams url.Values
	sessions        []string
}

// external reports whether the run drives another server (-token-url).
func (o options) external() bool { return o.tokenURL != "" }

// Values of -client-auth.
const (
	authBasic = "basic" // client_secret_basic (RFC 6749 §2.3.1)
	authPost  = "post"  // client_secret_post
)

// externalFlags are the flags of the external mode but -token-url.
var externalFlags = []string{"introspect-url", "client-id", "client-secret", "client-auth", "refresh-tokens", "scope",
	"authorize-url", "redirect-uri", "authorize-params", "sessions"}

// Bounds of -refresh-tokens' file.
const (
	maxTokenFile = 16 << 20 // bytes
	maxTokenLine = 64 << 10 // bytes of one line
)

// parseFlags reads the command line; defaults for -issuer and -admin-token
// come from ISSUER_URL and ADMIN_TOKEN.
func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var ops string
	issuer := getenv("ISSUER_URL")
	if issuer == "" {
		issuer = "http://127.0.0.1:8080"
	}
	fs.StringVar(&o.issuer, "issuer", issuer, "the provider's issuer URL (loopback only; default $ISSUER_URL or http://127.0.0.1:8080)")
	fs.StringVar(&o.adminToken, "admin-token", getenv("ADMIN_TOKEN"), "the local runner's admin token (default $ADMIN_TOKEN)")
	fs.IntVar(&o.concurrency, "c", 4, fmt.Sprintf("concurrent clients (1 to %d)", maxConcurrency))
	fs.IntVar(&o.count, "n", 1000, "operations per operation kind, at most")
	fs.DurationVar(&o.duration, "duration", 30*time.Second, fmt.Sprintf("time per operation kind, at most (up to %s)", maxDuration))
	fs.StringVar(&ops, "op", "all", "operations, comma-separated: refresh, introspect, codeflow, or all")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "timeout of one HTTP request")
	fs.BoolVar(&o.json, "json", false, "print the results as JSON instead of a table")
	fs.StringVar(&o.tokenURL, "token-url", "", "another server's token endpoint (loopback only): drive it instead of this project's provider, with refresh and introspect only")
	fs.StringVar(&o.introspectURL, "introspect-url", "", "with -token-url: the other server's introspection endpoint (RFC 7662; loopback only); without it, introspect is not run")
	fs.StringVar(&o.clientID, "client-id", "", "with -token-url: the other server's confidential client")
	fs.StringVar(&o.clientSecret, "client-secret", getenv("LOADGEN_CLIENT_SECRET"), "with -token-url: that client's secret (default $LOADGEN_CLIENT_SECRET)")
	fs.StringVar(&o.clientAuth, "client-auth", authBasic, "with -token-url: how the client authenticates, basic (client_secret_basic) or post (client_secret_post)")
	var tokenFile string
	fs.StringVar(&tokenFile, "refresh-tokens", "", "with -token-url: a file of refresh tokens issued to -client-id, one a line; client i uses the i-th, so it needs at least -c")
	fs.StringVar(&o.scope, "scope", "", "with -token-url: the scope parameter of every refresh (default: none, the grant's scope)")
	fs.StringVar(&o.authorizeURL, "authorize-url", "", "with -token-url: the other server's authorization endpoint (loopback only), for the authorization operation")
	fs.StringVar(&o.redirectURI, "redirect-uri", "", "with -authorize-url: the client's redirect URI, where the authorization's redirects end (never contacted)")
	var authParams, sessionFile string
	fs.StringVar(&authParams, "authorize-params", "", "with -authorize-url: more authorization request parameters, form-encoded (e.g. scope=a+b&resource=https%3A%2F%2Fapi.example%2F)")
	fs.StringVar(&sessionFile, "sessions", "", "with -authorize-url: a file of Cookie header values of signed-in browsers that have consented, one a line; client i uses the i-th")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.tokenURL != "" || set["token-url"] {
		return parseExternal(o, ops, tokenFile, authParams, sessionFile, set)
	}
	for _, name := range externalFlags {
		if set[name] {
			return options{}, fmt.Errorf("-%s: only with -token-url (another server)", name)
		}
	}
	o.clientSecret = "" // from the environment, unused here
	o.issuer = strings.TrimSuffix(o.issuer, "/")
	if err := checkLoopbackURL(o.issuer); err != nil {
		return options{}, fmt.Errorf("-issuer: %w", err)
	}
	if o.adminToken == "" {
		return options{}, errors.New("-admin-token: required (or set ADMIN_TOKEN); `make run` prints it")
	}
	if err := checkBounds(o); err != nil {
		return options{}, err
	}
	var err error
	if o.ops, err = parseOps(ops); err != nil {
		return options{}, fmt.Errorf("-op: %w", err)
	}
	return o, nil
}

// checkBounds checks the flags that bound a run, in either mode.
func checkBounds(o options) error {
	switch {
	case o.concurrency < 1 || o.concurrency > maxConcurrency:
		return fmt.Errorf("-c: %d is outside 1 to %d", o.concurrency, maxConcurrency)
	case o.count < 1:
		return fmt.Errorf("-n: %d is not positive", o.count)
	case o.duration <= 0 || o.duration > maxDuration:
		return fmt.Errorf("-duration: %s is outside (0, %s]", o.duration, maxDuration)
	case o.timeout <= 0:
		return fmt.Errorf("-timeout: %s is not positive", o.timeout)
	}
	return nil
}

// parseExternal checks the flags of the external mode (-token-url); set
// names the flags given on the command line.
func parseExternal(o options, ops, tokenFile, authParams, sessionFile string, set map[string]bool) (options, error) {
	switch {
	case set["issuer"]:
		return options{}, errors.New("-issuer: not with -token-url (another server is driven through -token-url and -introspect-url)")
	case set["admin-token"]:
		return options{}, errors.New("-admin-token: not with -token-url (nothing is created on another server; its client and refresh tokens are given)")
	}
	o.issuer, o.adminToken = "", "" // defaults from the environment, unused here
	if err := checkLoopbackEndpoint(o.tokenURL); err != nil {
		return options{}, fmt.Errorf("-token-url: %w", err)
	}
	if o.introspectURL != "" || set["introspect-url"] {
		if err := checkLoopbackEndpoint(o.introspectURL); err != nil {
			return options{}, fmt.Errorf("-introspect-url: %w", err)
		}
	}
	authorization := o.authorizeURL != "" || set["authorize-url"]
	if authorization {
		if err := checkLoopbackEndpoint(o.authorizeURL); err != nil {
			return options{}, fmt.Errorf("-authorize-url: %w", err)
		}
		if err := checkRedirectURI(o.redirectURI); err != nil {
			return options{}, fmt.Errorf("-redirect-uri: %w", err)
		}
		var err error
		if o.authorizeParams, err = parseAuthorizeParams(authParams); err != nil {
			return options{}, fmt.Errorf("-authorize-params: %w", err)
		}
	} else {
		for _, name := range []string{"redirect-uri", "authorize-params", "sessions"} {
			if set[name] {
				return options{}, fmt.Errorf("-%s: only with -authorize-url", name)
			}
		}
	}
	switch {
	case o.clientID == "":
		return options{}, errors.New("-client-id: required with -token-url (a confidential client the other server knows)")
	case o.clientSecret == "":
		return options{}, errors.New("-client-secret: required with -token-url (or set LOADGEN_CLIENT_SECRET)")
	case o.clientAuth != authBasic && o.clientAuth != authPost:
		return options{}, fmt.Errorf("-client-auth: %q is neither %s (client_secret_basic) nor %s (client_secret_post)", o.clientAuth, authBasic, authPost)
	}
	if err := checkBounds(o); err != nil {
		return options{}, err
	}
	var err error
	if o.ops, err = parseExternalOps(ops, o.introspectURL != "", authorization); err != nil {
		return options{}, fmt.Errorf("-op: %w", err)
	}
	needTokens := slices.ContainsFunc(o.ops, func(op string) bool { return op != opAuthorization })
	switch {
	case needTokens && tokenFile == "":
		return options{}, errors.New("-refresh-tokens: required with -token-url (a file of refresh tokens, one a line, at least one per client of -c)")
	case slices.Contains(o.ops, opAuthorization) && sessionFile == "":
		return options{}, errors.New("-sessions: required for authorization (a file of Cookie header values of signed-in browsers, one a line, at least one per client of -c)")
	}
	if tokenFile != "" {
		if o.refreshTokens, err = readRefreshTokens(tokenFile, o.concurrency); err != nil {
			return options{}, fmt.Errorf("-refresh-tokens: %w", err)
		}
	}
	if sessionFile != "" {
		if o.sessions, err = readSessions(sessionFile, o.concurrency); err != nil {
			return options{}, fmt.Errorf("-sessions: %w", err)
		}
	}
	return o, nil
}

// loadgenParams are the authorization request parameters loadgen sets
// itself, which -authorize-params may not.
var loadgenParams = []string{"response_type", "client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method"}

// parseAuthorizeParams reads -authorize-params: form-encoded parameters,
// each once, none of those loadgen sets.
func parseAuthorizeParams(s string) (url.Values, error) {
	v, err := url.ParseQuery(s)
	if err != nil {
		return nil, fmt.Errorf("not form-encoded: %w", err)
	}
	for k, vs := range v {
		switch {
		case slices.Contains(loadgenParams, k):
			return nil, fmt.Errorf("%s is set by loadgen", k)
		case len(vs) != 1:
			return nil, fmt.Errorf("%s is given %d times", k, len(vs))
		}
	}
	return v, nil
}

// checkRedirectURI accepts the absolute http(s) URL of a client's redirect
// URI without a query or fragment. loadgen never contacts it, so any host
// is allowed.
func checkRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return err
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("%q is not an absolute http(s) URL", raw)
	case u.RawQuery != "" || u.Fragment != "" || strings.Contains(raw, "#") || u.User != nil:
		return fmt.Errorf("%q: a redirect URI here has no userinfo, query or fragment", raw)
	}
	return nil
}

// parseExternalOps reads the -op list of the external mode: all is refresh,
// introspect with an introspection endpoint, and authorization with an
// authorization endpoint; codeflow is refused.
func parseExternalOps(s string, introspection, authorization bool) ([]string, error) {
	if strings.TrimSpace(s) == "all" {
		ops := []string{opRefresh}
		if introspection {
			ops = append(ops, opIntrospect)
		}
		if authorization {
			ops = append(ops, opAuthorization)
		}
		return ops, nil
	}
	ops, err := parseOpList(s, true)
	if err != nil {
		return nil, err
	}
	for _, op := range ops {
		switch {
		case op == opCodeFlow:
			return nil, errors.New("codeflow is not available with -token-url: it signs in through this project's login and consent pages; another server offers refresh, introspect and authorization")
		case op == opIntrospect && !introspection:
			return nil, errors.New("introspect needs -introspect-url with -token-url")
		case op == opAuthorization && !authorization:
			return nil, errors.New("authorization needs -authorize-url with -token-url")
		}
	}
	return ops, nil
}

// readRefreshTokens reads the first n refresh tokens of the file at path,
// one a line, surrounding spaces trimmed and blank lines skipped. It fails
// when there are fewer than n or two are the same. Tokens are secrets: no
// message quotes one.
func readRefreshTokens(path string, n int) ([]string, error) {
	return readLines(path, n, "refresh tokens", "refresh token")
}

// readSessions reads the first n Cookie header values of the file at path,
// as readRefreshTokens reads tokens (each client needs its own browser),
// and checks that each parses as name=value pairs.
func readSessions(path string, n int) ([]string, error) {
	lines, err := readLines(path, n, "sessions", "session")
	if err != nil {
		return nil, err
	}
	for i, l := range lines {
		if _, err := parseCookieHeader(l); err != nil {
			return nil, fmt.Errorf("%s: session %d: %w", path, i+1, err)
		}
	}
	return lines, nil
}

// parseCookieHeader reads a Cookie header value (RFC 6265 §4.2.1). Cookie
// values are secrets: no message quotes one.
func parseCookieHeader(s string) ([]*http.Cookie, error) {
	cs, err := http.ParseCookie(s)
	if err != nil {
		return nil, errors.New("not a Cookie header value (name=value; name2=value2)")
	}
	return cs, nil
}

// readLines reads the first n lines of the file at path that are not
// blank, trimmed; plural and singular name what they hold in errors.
func readLines(path string, n int, plural, singular string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, maxTokenFile))
	sc.Buffer(make([]byte, 0, 4096), maxTokenLine)
	var toks []string
	lineOf := map[string]int{}
	line := 0
	for len(toks) < n && sc.Scan() {
		line++
		tok := strings.TrimSpace(sc.Text())
		if tok == "" {
			continue
		}
		if prev, ok := lineOf[tok]; ok {
			return nil, fmt.Errorf("%s: lines %d and %d hold the same %s (each client needs its own)", path, prev, line, singular)
		}
		lineOf[tok] = line
		toks = append(toks, tok)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: line %d: %w", path, line+1, err)
	}
	if len(toks) < n {
		return nil, fmt.Errorf("%s holds %d %s, fewer than the %d clients of -c (one per client, one a line)", path, len(toks), plural, n)
	}
	return toks, nil
}

// parseOps reads the -op list of this project's mode.
func parseOps(s string) ([]string, error) {
	if strings.TrimSpace(s) == "all" {
		return allOps, nil
	}
	return parseOpList(s, false)
}

// parseOpList reads a comma-separated list of operations; authorization
// only when external.
func parseOpList(s string, external bool) ([]string, error) {
	var ops []string
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		switch f {
		case opRefresh, opIntrospect, opCodeFlow:
		case opAuthorization:
			if !external {
				return nil, errors.New("authorization is for another server (-token-url); this project's code flow is codeflow")
			}
		default:
			return nil, fmt.Errorf("unknown operation %q (want refresh, introspect, codeflow, authorization or all)", f)
		}
		if !seen[f] {
			seen[f] = true
			ops = append(ops, f)
		}
	}
	return ops, nil
}

// run parses args, prepares the fixtures, runs each operation in turn and
// writes the report to out. It fails when any request failed.
func run(ctx context.Context, args []string, out io.Writer, getenv func(string) string) error {
	o, err := parseFlags(args, getenv, out)
	if err != nil {
		return err
	}
	if o.external() {
		return runExternal(ctx, o, out)
	}
	c := newClient(o.issuer, o.adminToken, o.concurrency, o.timeout)
	fx, err := c.flow.Setup(ctx)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	// One user per client: the sign-in limit counts a username's attempts
	// before it checks their passwords, so more clients than its limit
	// signing in as one user at once would be refused.
	users := []*oauthflow.Fixtures{fx}
	defer func() {
		// Cleanup runs even when ctx was cancelled (Ctrl-C), bounded.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		var errs []error
		for _, u := range users[1:] {
			errs = append(errs, c.flow.RemoveUser(cctx, u))
		}
		if err := errors.Join(append(errs, c.flow.Teardown(cctx, fx))...); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen: cleanup:", err)
		}
	}()
	for len(users) < o.concurrency {
		u, err := c.flow.AddUser(ctx, fx)
		if err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		users = append(users, u)
	}

	var results []result
	for _, op := range o.ops {
		rs, err := runOp(ctx, c, users, op, o, nil)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		results = append(results, rs...)
	}
	return report(ctx, out, o, results)
}

// runExternal runs the operations against another server (-token-url): no
// fixtures are created, and each client keeps its refresh token from the
// file across the operations.
func runExternal(ctx context.Context, o options, out io.Writer) error {
	c := newExternalClient(o)
	fx := &oauthflow.Fixtures{ClientID: o.clientID, ClientSecret: o.clientSecret}
	workers := make([]*worker, o.concurrency)
	for i := range workers {
		w := &worker{id: i + 1, fx: fx}
		if o.refreshTokens != nil {
			w.tok = oauthflow.Tokens{RefreshToken: o.refreshTokens[i]}
		}
		if o.sessions != nil {
			jar, err := sessionJar(o.authorizeURL, o.sessions[i])
			if err != nil {
				return fmt.Errorf("session %d: %w", i+1, err)
			}
			w.jar = jar
		}
		workers[i] = w
	}
	var results []result
	for _, op := range o.ops {
		rs, err := runOp(ctx, c, nil, op, o, workers)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		results = append(results, rs...)
	}
	return report(ctx, out, o, results)
}

// report writes the results to out and fails when any operation failed.
func report(ctx context.Context, out io.Writer, o options, results []result) error {
	if o.json {
		if err := writeJSON(out, o, results); err != nil {
			return err
		}
	} else {
		writeTable(out, o, results)
	}
	failed := 0
	for _, r := range results {
		if !strings.Contains(r.Op, "/") {
			failed += r.Errors
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d operations failed (see the report)", failed)
	}
	return ctx.Err()
}
