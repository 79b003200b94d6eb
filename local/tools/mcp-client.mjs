// The MCP client of TestMCPClientSDK (tests/e2e/mcp_test.go): the official MCP
// TypeScript SDK (@modelcontextprotocol/sdk, pinned in package.json),
// unmodified, connecting to an MCP server that the provider protects.
//
// It lives here, beside package.json, so that the bare specifier
// "@modelcontextprotocol/sdk/..." resolves through Node's ordinary lookup to
// local/tools/node_modules.
//
// Nothing in the flow is the script's own: the SDK's Streamable HTTP
// transport gets the server's 401, reads its protected resource metadata
// (RFC 9728), the provider's metadata (RFC 8414), gets a client id the way
// MCP_REGISTRATION says, and builds the authorization URL (PKCE S256,
// resource, the scope the metadata lists). The script only implements the
// SDK's OAuthClientProvider in memory, as an application does, and hands
// the URL to the test, which plays the user in the provider's pages.
//
// Environment:
//   MCP_SERVER_URL          the MCP server's endpoint
//   MCP_REDIRECT_URI        the client's redirect URI
//   MCP_REGISTRATION        preregistered: MCP_CLIENT_ID (and MCP_CLIENT_SECRET
//                           for a confidential link) given to clientInformation();
//                           metadata_document: MCP_CLIENT_METADATA_URL as the
//                           provider's clientMetadataUrl; dynamic: the SDK
//                           registers at the provider's registration_endpoint
//   MCP_TOOL                the tool to call (no arguments)
// Lines:
//   stdout  {"authorization_url": "..."}   the user is sent there
//   stdin   the URL the provider redirected the user to (code, state, iss)
//   stdout  {"result": {...}}              the tool's answer and what the SDK kept,
//                                          then the same after the SDK's refresh
// Any error goes to stderr and the exit status is 1.
import * as readline from 'node:readline'
import { randomBytes } from 'node:crypto'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { auth, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'

const env = (name) => {
  const v = process.env[name]
  if (!v) throw new Error(`${name} is not set`)
  return v
}

const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]()
async function readLine() {
  const { value, done } = await lines.next()
  if (done) throw new Error('stdin closed before the callback URL came')
  return value.trim()
}

// An OAuthClientProvider that keeps everything in memory, like the SDK's
// own example (InMemoryOAuthClientProvider), plus state.
class MemoryProvider {
  constructor(redirectUrl, registration) {
    this._redirectUrl = redirectUrl
    this._state = randomBytes(16).toString('base64url')
    this.redirects = []
    // What the SDK sends to the registration endpoint (dynamic) and what a
    // metadata document says (metadata_document): a public client.
    this._clientMetadata = {
      client_name: 'MCP SDK test client',
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }
    if (registration === 'preregistered') {
      this._clientInformation = { client_id: env('MCP_CLIENT_ID') }
      if (process.env.MCP_CLIENT_SECRET) this._clientInformation.client_secret = process.env.MCP_CLIENT_SECRET
    } else if (registration === 'metadata_document') {
      this.clientMetadataUrl = env('MCP_CLIENT_METADATA_URL')
    } else if (registration !== 'dynamic') {
      throw new Error(`MCP_REGISTRATION ${registration}: want preregistered, metadata_document or dynamic`)
    }
  }
  get redirectUrl() { return this._redirectUrl }
  get clientMetadata() { return this._clientMetadata }
  state() { return this._state }
  clientInformation() { return this._clientInformation }
  saveClientInformation(info) { this._clientInformation = info }
  tokens() { return this._tokens }
  saveTokens(tokens) { this._tokens = tokens }
  redirectToAuthorization(url) { this.redirects.push(url.href) }
  saveCodeVerifier(v) { this._codeVerifier = v }
  codeVerifier() {
    if (!this._codeVerifier) throw new Error('no code verifier saved')
    return this._codeVerifier
  }
}

async function main() {
  const serverUrl = new URL(env('MCP_SERVER_URL'))
  const registration = env('MCP_REGISTRATION')
  const provider = new MemoryProvider(env('MCP_REDIRECT_URI'), registration)
  const newClient = () => new Client({ name: 'applinks-mcp-test', version: '1.0.0' })

  // The first connection: the server answers 401, the SDK discovers and
  // sends the user to the provider (redirectToAuthorization) and throws.
  const transport = new StreamableHTTPClientTransport(serverUrl, { authProvider: provider })
  let first = null
  try {
    await newClient().connect(transport)
  } catch (e) {
    first = e
  }
  if (!(first instanceof UnauthorizedError) || provider.redirects.length !== 1) {
    throw new Error(`first connection: ${first} after ${provider.redirects.length} redirects, want UnauthorizedError after one`)
  }
  console.log(JSON.stringify({ authorization_url: provider.redirects[0] }))

  // The application's callback: its state, then the code for the SDK.
  const callback = new URL(await readLine())
  if (callback.searchParams.get('error')) {
    throw new Error(`the provider answered ${callback.searchParams.get('error')}: ${callback.searchParams.get('error_description')}`)
  }
  if (callback.searchParams.get('state') !== provider.state()) {
    throw new Error(`callback state ${callback.searchParams.get('state')}, want ${provider.state()}`)
  }
  await transport.finishAuth(callback.searchParams.get('code'))

  // A new connection with the tokens: list the tools, call one.
  const session = async () => {
    const client = newClient()
    await client.connect(new StreamableHTTPClientTransport(serverUrl, { authProvider: provider }))
    const { tools } = await client.listTools()
    const called = await client.callTool({ name: env('MCP_TOOL'), arguments: {} })
    const server = client.getServerVersion()
    await client.close()
    return {
      server,
      tools: tools.map((t) => t.name),
      tool_text: called.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n'),
      tool_is_error: called.isError === true,
    }
  }
  const first_session = await session()
  const info = provider.clientInformation()
  const tokens = provider.tokens()

  // The SDK's auth(), which the transport runs on a 401, with a refresh
  // token in hand: it refreshes (sending the resource again), and the
  // refreshed token opens another session.
  const refreshed = await auth(provider, { serverUrl })
  const second_session = await session()
  const next = provider.tokens()

  console.log(JSON.stringify({
    result: {
      ...first_session,
      client_id: info.client_id,
      has_client_secret: info.client_secret !== undefined,
      client_id_issued_at: info.client_id_issued_at ?? null,
      token_type: tokens.token_type,
      scope: tokens.scope,
      access_token: tokens.access_token,
      has_refresh_token: tokens.refresh_token !== undefined,
      refresh: {
        auth: refreshed,
        redirects: provider.redirects.length,
        access_token: next.access_token,
        refresh_token_rotated: next.refresh_token !== undefined && next.refresh_token !== tokens.refresh_token,
        tool_text: second_session.tool_text,
      },
    },
  }))
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e?.stack ?? String(e))
    process.exit(1)
  },
)
