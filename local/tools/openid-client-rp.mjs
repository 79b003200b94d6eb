// The relying party of TestOpenIDClientNode (tests/e2e/openidclient_test.go):
// openid-client v6 (panva), unmodified and with its default settings,
// signing a user in against the local runner.
//
// It lives here, beside package.json, so that the bare specifier
// "openid-client" resolves through Node's ordinary lookup to
// local/tools/node_modules (ES modules ignore NODE_PATH; they look in the
// node_modules folders above the importing file).
//
// The Go test runs it with OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET,
// OIDC_REDIRECT_URI and OIDC_POST_LOGOUT_REDIRECT_URI in the environment and
// talks to it by lines:
//   stdout  {"authorization_url": "..."}   the browser is sent there
//   stdin   the URL the provider redirected the browser to (code, state, iss)
//   stdout  {"result": {...}}              what the library handed over
// Any error goes to stderr (with the library's code, cause and the OAuth
// error of the response) and the exit status is 1.
import * as readline from 'node:readline'
import {
  allowInsecureRequests,
  authorizationCodeGrant,
  buildAuthorizationUrl,
  buildEndSessionUrl,
  calculatePKCECodeChallenge,
  discovery,
  fetchUserInfo,
  randomNonce,
  randomPKCECodeVerifier,
  randomState,
  refreshTokenGrant,
} from 'openid-client'

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

async function main() {
  const issuer = env('OIDC_ISSUER')
  const postLogout = env('OIDC_POST_LOGOUT_REDIRECT_URI')

  // The client secret as a string: the library's default client
  // authentication, client_secret_post. The one option, allowInsecureRequests,
  // is there only because the local issuer is plain http (the library refuses
  // http: endpoints otherwise); nothing else departs from the defaults.
  const config = await discovery(new URL(issuer), env('OIDC_CLIENT_ID'), env('OIDC_CLIENT_SECRET'), undefined, {
    execute: [allowInsecureRequests],
  })

  const pkceCodeVerifier = randomPKCECodeVerifier()
  const codeChallenge = await calculatePKCECodeChallenge(pkceCodeVerifier)
  const state = randomState()
  const nonce = randomNonce()
  const authorizationUrl = buildAuthorizationUrl(config, {
    redirect_uri: env('OIDC_REDIRECT_URI'),
    scope: 'openid profile email REPO_READ',
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    state,
    nonce,
  })
  console.log(JSON.stringify({ authorization_url: authorizationUrl.href }))

  const callback = new URL(await readLine())
  // Checks state and iss in the response (RFC 9207, the provider announces
  // authorization_response_iss_parameter_supported), sends the verifier,
  // validates the ID token's claims (iss, aud, azp, exp, iat, nonce,
  // auth_time's type) and its alg.
  const tokens = await authorizationCodeGrant(config, callback, {
    pkceCodeVerifier,
    expectedState: state,
    expectedNonce: nonce,
  })
  const claims = tokens.claims()
  if (!claims) throw new Error('authorizationCodeGrant: no ID token')

  // Checks the response's sub against the ID token's.
  const userinfo = await fetchUserInfo(config, tokens.access_token, claims.sub)

  // A later iat for the refreshed ID token.
  await new Promise((resolve) => setTimeout(resolve, 1100))
  const refreshed = await refreshTokenGrant(config, tokens.refresh_token)
  const refreshedClaims = refreshed.claims() ?? null

  const endSessionUrl = buildEndSessionUrl(config, {
    id_token_hint: refreshed.id_token ?? tokens.id_token,
    post_logout_redirect_uri: postLogout,
    state: 'st-bye',
  })

  console.log(JSON.stringify({
    result: {
      authorization_url: authorizationUrl.href,
      state,
      nonce,
      scope: tokens.scope,
      token_type: tokens.token_type,
      access_token: tokens.access_token,
      id_token: tokens.id_token,
      has_refresh_token: typeof tokens.refresh_token === 'string' && tokens.refresh_token !== '',
      claims,
      userinfo,
      refreshed: {
        scope: refreshed.scope,
        access_token: refreshed.access_token,
        id_token: refreshed.id_token ?? null,
        refresh_token_rotated: typeof refreshed.refresh_token === 'string' && refreshed.refresh_token !== tokens.refresh_token,
        claims: refreshedClaims,
      },
      end_session_url: endSessionUrl.href,
    },
  }))
}

main().then(
  () => process.exit(0),
  async (err) => {
    const detail = { name: err?.name, code: err?.code, message: err?.message }
    if (err?.error) detail.error = err.error
    if (err?.error_description) detail.error_description = err.error_description
    if (err?.status) detail.status = err.status
    if (err?.cause !== undefined) {
      try {
        detail.cause = err.cause instanceof Response ? `HTTP ${err.cause.status}` : JSON.parse(JSON.stringify(err.cause))
      } catch {
        detail.cause = String(err.cause)
      }
    }
    if (err?.response instanceof Response && !err.response.bodyUsed) {
      detail.response_body = await err.response.text().catch((e) => `(unreadable: ${e})`)
    }
    console.error(`openid-client-rp: ${err?.stack ?? err}`)
    console.error(`openid-client-rp: ${JSON.stringify(detail)}`)
    process.exit(1)
  },
)
