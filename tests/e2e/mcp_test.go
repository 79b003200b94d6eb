package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2"

	"github.com/applinks/applinks/docs/resourceserver"
)

// mcpServer is an MCP server a team runs: the official Go MCP SDK's
// Streamable HTTP handler behind the README's resource server
// (docs/resourceserver), which publishes its protected resource metadata
// (RFC 9728) naming the provider and lets through only the provider's
// access tokens whose aud is the server's resource. Its one tool, whoami,
// answers what the verified token says.
type mcpServer struct {
	srv      *httptest.Server
	resource string // the endpoint's URL, which MCP clients are given
	link     link   // its resource_server link
}

// startMCPServer starts the server, registers its endpoint as the resource
// URI of a resource_server link with scopes, and protects it for the
// provider.
func startMCPServer(t *testing.T, p *provider, scopes []string) *mcpServer {
	t.Helper()
	m := &mcpServer{}
	var h http.Handler = http.NotFoundHandler()
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(m.srv.Close)
	m.resource = m.srv.URL + "/mcp"
	p.admin("POST", "/admin/links", map[string]any{"name": "Repos MCP server", "client_type": "resource_server",
		"scopes": scopes, "resource_uris": []string{m.resource}}, 201, &m.link)

	server := mcp.NewServer(&mcp.Implementation{Name: "repos-mcp", Version: "1.0.0"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "whoami", Description: "Who the access token is for"},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			ti := req.Extra.TokenInfo
			if ti == nil {
				return nil, nil, fmt.Errorf("no token information")
			}
			text := fmt.Sprintf("sub=%s username=%v client_id=%v scope=%s", ti.UserID, ti.Extra["username"], ti.Extra["client_id"], strings.Join(ti.Scopes, " "))
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}, nil, nil
		})
	streamable := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	// The Go SDK gives a tool the caller as auth.TokenInfo (and keeps a
	// session to the user who opened it); its middleware takes it here from
	// the claims resourceserver.Handler has already verified.
	fromClaims := auth.RequireBearerToken(func(_ context.Context, _ string, r *http.Request) (*auth.TokenInfo, error) {
		c, ok := resourceserver.ClaimsFrom(r.Context())
		if !ok || c.Expiry == nil {
			return nil, auth.ErrInvalidToken
		}
		return &auth.TokenInfo{UserID: c.Subject, Scopes: strings.Fields(c.Scope), Expiration: c.Expiry.Time(),
			Extra: map[string]any{"username": c.Username, "client_id": c.ClientID}}, nil
	}, nil)
	h = resourceserver.Handler(p.issuer, m.resource, scopes, fromClaims(streamable))
	return m
}

// initialize POSTs an MCP initialize request to the server with the bearer
// token tok and returns the status and the challenge.
func (m *mcpServer) initialize(t *testing.T, tok string) (int, string) {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}`
	req, _ := http.NewRequest(http.MethodPost, m.resource, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
}

// mcpRegistration is one way the SDK gets its client id from the provider.
type mcpRegistration struct {
	name string
	// start starts the provider as this way needs it and sets it up (a
	// link, a policy); it returns the provider, the node client's
	// environment for this way and the client id the SDK must end up with
	// ("" when the provider assigns it).
	start func(t *testing.T) (p *provider, env map[string]string, clientID string)
	// check, when set, looks at the link the flow used, by its client id,
	// as the admin API shows it.
	check func(t *testing.T, p *provider, clientID string)
}

// mcpRegistrations are the ways TestMCPClientSDK runs.
var mcpRegistrations = []mcpRegistration{
	{
		// An administrator created the link and gave its credentials to the
		// application, which hands them to the SDK's
		// OAuthClientProvider.clientInformation().
		name: "preregistered",
		start: func(t *testing.T) (*provider, map[string]string, string) {
			p := startProvider(t, nil)
			l := p.createLink("MCP SDK client", callbackURL, []string{"REPO_READ"}, "confidential")
			return p, map[string]string{"MCP_CLIENT_ID": l.ClientID, "MCP_CLIENT_SECRET": l.ClientSecret}, l.ClientID
		},
	},
}

// TestMCPClientSDK links the official MCP TypeScript SDK
// (@modelcontextprotocol/sdk, pinned in local/tools/package.json),
// unmodified, to the provider, for an MCP server written with the official
// Go MCP SDK behind the README's resource server, once per way of getting a
// client id (mcpRegistrations). The client is local/tools/mcp-client.mjs:
// its Streamable HTTP transport gets the server's 401 naming the metadata,
// reads the metadata, then the provider's, and sends the user to the
// authorization URL it built; the test plays the user in the provider's
// pages (sign-in and consent, through their forms) and hands the redirect
// back; the SDK exchanges the code, connects again with the token and
// calls the server's whoami tool; then its auth() refreshes the token and
// the tool is called again.
//
// It asserts the authorization URL (the resource the metadata names, the
// scope it lists, PKCE S256, the client id), the redirect's iss (RFC 9207),
// the tool's answer (the user, the link, the scope the resource server
// caps), the SDK's access token (signed by the JWKS, aud the resource), and
// its refresh (a new token for the same resource without the user).
// The MCP server refuses, 401 with its resource_metadata challenge, a token
// of the same user and link asked for without the resource (aud AUDIENCE).
func TestMCPClientSDK(t *testing.T) {
	tools, err := filepath.Abs("../../local/tools")
	if err != nil {
		t.Fatal(err)
	}
	version := nodePackageInstalled(t, tools, "@modelcontextprotocol/sdk")
	for _, reg := range mcpRegistrations {
		t.Run(reg.name, func(t *testing.T) { runMCPClient(t, tools, reg) })
	}
	t.Logf("@modelcontextprotocol/sdk %s", version)
}

func runMCPClient(t *testing.T, tools string, reg mcpRegistration) {
	p, env, wantClientID := reg.start(t)
	const pw = "plum tractor velvet orbit"
	userID := p.createUser("grace", pw, []string{"REPO_WRITE"})
	srv := startMCPServer(t, p, []string{"REPO_READ"})
	env["MCP_SERVER_URL"] = srv.resource
	env["MCP_REDIRECT_URI"] = callbackURL
	env["MCP_REGISTRATION"] = reg.name
	env["MCP_TOOL"] = "whoami"

	client := startNodeScript(t, tools, "mcp-client.mjs", "MCP SDK client", env)
	var start struct {
		AuthorizationURL string `json:"authorization_url"`
	}
	client.read("authorization_url", &start)
	authURL, err := url.Parse(start.AuthorizationURL)
	if err != nil {
		t.Fatalf("authorization URL from redirectToAuthorization: %v", err)
	}
	aq := authURL.Query()
	clientID := aq.Get("client_id")
	if withoutQuery(authURL) != p.issuer+"/oauth2/authorize" || aq.Get("response_type") != "code" ||
		(wantClientID != "" && clientID != wantClientID) || clientID == "" || aq.Get("redirect_uri") != callbackURL ||
		aq.Get("resource") != srv.resource || aq.Get("scope") != "REPO_READ" ||
		aq.Get("code_challenge_method") != "S256" || aq.Get("code_challenge") == "" || aq.Get("state") == "" {
		t.Errorf("authorization URL from the SDK: %s\nwant the provider's authorization endpoint, client_id %q, resource %s, scope REPO_READ (the metadata's scopes_supported), PKCE S256, a state",
			authURL, wantClientID, srv.resource)
	}

	b := newBrowser(t, callbackURL)
	cb := b.authorize(authURL.String(), "grace", pw, "approve")
	if q := cb.Query(); q.Get("code") == "" || q.Get("state") != aq.Get("state") || q.Get("iss") != p.issuer {
		t.Fatalf("redirect to the application: %v, want code, the state and iss", cb)
	}
	client.write(cb.String())

	var out struct {
		Result struct {
			Server struct {
				Name string `json:"name"`
			} `json:"server"`
			Tools           []string `json:"tools"`
			ToolText        string   `json:"tool_text"`
			ToolIsError     bool     `json:"tool_is_error"`
			ClientID        string   `json:"client_id"`
			HasClientSecret bool     `json:"has_client_secret"`
			TokenType       string   `json:"token_type"`
			Scope           string   `json:"scope"`
			AccessToken     string   `json:"access_token"`
			HasRefresh      bool     `json:"has_refresh_token"`
			Refresh         struct {
				Auth        string `json:"auth"`
				Redirects   int    `json:"redirects"`
				AccessToken string `json:"access_token"`
				Rotated     bool   `json:"refresh_token_rotated"`
				ToolText    string `json:"tool_text"`
			} `json:"refresh"`
		} `json:"result"`
	}
	client.read("result", &out)
	client.wait()
	r := out.Result

	if r.Server.Name != "repos-mcp" || len(r.Tools) != 1 || r.Tools[0] != "whoami" {
		t.Errorf("the SDK connected to %q with tools %v, want repos-mcp with whoami", r.Server.Name, r.Tools)
	}
	want := fmt.Sprintf("sub=%s username=grace client_id=%s scope=REPO_READ", userID, clientID)
	if r.ToolIsError || r.ToolText != want {
		t.Errorf("whoami through the SDK: %q (error %v), want %q (grace's REPO_WRITE capped by the MCP server's REPO_READ)", r.ToolText, r.ToolIsError, want)
	}
	if r.ClientID != clientID || r.Scope != "REPO_READ" || !strings.EqualFold(r.TokenType, "bearer") || !r.HasRefresh {
		t.Errorf("what the SDK kept: client_id %q, scope %q, token_type %q, refresh token %v; want %s, REPO_READ, Bearer, a refresh token",
			r.ClientID, r.Scope, r.TokenType, r.HasRefresh, clientID)
	}
	c := p.claims(r.AccessToken)
	if c["aud"] != srv.resource || c["sub"] != userID || c["client_id"] != clientID || c["scope"] != "REPO_READ" {
		t.Errorf("the SDK's access token: aud %v sub %v client_id %v scope %v; want aud %s, grace, the link, REPO_READ",
			c["aud"], c["sub"], c["client_id"], c["scope"], srv.resource)
	}
	// The SDK's refresh (auth() with the refresh token, as its transport
	// does on a 401): a new token for the same resource, the refresh token
	// rotated, no second trip to the user, and the tool answers the same.
	f := r.Refresh
	if f.Auth != "AUTHORIZED" || f.Redirects != 1 || f.AccessToken == r.AccessToken || !f.Rotated || f.ToolText != want {
		t.Errorf("after the SDK's refresh: auth %q, %d redirects in all, new access token %v, refresh token rotated %v, whoami %q; want AUTHORIZED, 1, a new token, rotated, %q",
			f.Auth, f.Redirects, f.AccessToken != r.AccessToken, f.Rotated, f.ToolText, want)
	}
	if c := p.claims(f.AccessToken); c["aud"] != srv.resource || c["sub"] != userID || c["scope"] != "REPO_READ" {
		t.Errorf("the SDK's refreshed access token: aud %v sub %v scope %v; want aud %s, grace, REPO_READ", c["aud"], c["sub"], c["scope"], srv.resource)
	}
	if reg.check != nil {
		reg.check(t, p, clientID)
	}

	// The server itself, with the SDK's token and with one of the same
	// user and link for AUDIENCE (asked for without the resource): only the
	// first gets in; the second gets the challenge naming the metadata.
	challenge := `Bearer resource_metadata="` + srv.srv.URL + `/.well-known/oauth-protected-resource/mcp"`
	if status, _ := srv.initialize(t, r.AccessToken); status != http.StatusOK {
		t.Errorf("initialize with the SDK's token: %d, want 200", status)
	}
	// The same link's credentials: the secret the administrator handed out,
	// or none for a public client (PKCE alone).
	l := link{ClientID: clientID, ClientSecret: env["MCP_CLIENT_SECRET"]}
	conf := oauthConfig(p, l, "/oauth2", oauth2.AuthStyleInParams, "REPO_READ")
	verifier := oauth2.GenerateVerifier()
	cb = b.authorize(conf.AuthCodeURL("s-plain", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "consent")),
		"grace", pw, "approve")
	plain, err := conf.Exchange(context.Background(), cb.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange without a resource: %v", err)
	}
	if c := p.claims(plain.AccessToken); c["aud"] != p.issuer || c["client_id"] != clientID {
		t.Fatalf("token asked for without the resource: aud %v client_id %v, want %s and the link", c["aud"], c["client_id"], p.issuer)
	}
	if status, got := srv.initialize(t, plain.AccessToken); status != http.StatusUnauthorized || got != challenge {
		t.Errorf("initialize with a token for AUDIENCE: %d %q, want 401 %s", status, got, challenge)
	}
	if status, got := srv.initialize(t, ""); status != http.StatusUnauthorized || got != challenge {
		t.Errorf("initialize without a token: %d %q, want 401 %s", status, got, challenge)
	}
}
