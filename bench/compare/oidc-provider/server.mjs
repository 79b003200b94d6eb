// server.mjs: panva's node-oidc-provider (npm oidc-provider, pinned in
// package.json) as make compare's peer, configured like the other servers
// of the comparison:
//
//   - its own in-memory adapter (MemoryAdapter), whose LRU is sized up from
//     1,000 entries to ADAPTER_ENTRIES (default 5,000,000): at 1,000, idle
//     refresh chains are evicted under load ("refresh token not found");
//   - JWT access tokens through resource indicators (RFC 8707 / RFC 9068),
//     signed RS256 with a 2048-bit key made at start, for the client
//     "compare"; opaque access tokens for the client "compare-opaque",
//     since it refuses to introspect a JWT (unsupported_token_type);
//   - refresh tokens on every code exchange of a client allowed the
//     refresh_token grant (issueRefreshToken), rotated on every refresh
//     (rotateRefreshToken);
//   - PKCE required (S256) for every client;
//   - login and consent finished headlessly, without a password check: GET
//     /interaction/:uid signs in the one account "compare-user" (remember:
//     true, so later authorizations of the same browser skip it) and grants
//     the scopes the request misses, stored as a Grant (remembered consent).
//     This plays the part of Hydra's login and consent app in the Hydra run.
//
// Environment: PORT (required; it listens on 127.0.0.1 only), CLIENT_SECRET
// (required: the secret of both clients), REDIRECT_URI (required),
// ADAPTER_ENTRIES (optional). The issuer is http://127.0.0.1:PORT. It prints
// one line "listening on URL" when it serves.
import { generateKeyPair, exportJWK } from 'jose';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import Provider, { errors } from 'oidc-provider';
import MemoryAdapter, { setStorage } from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`server.mjs: ${name} is required`);
    process.exit(2);
  }
  return v;
}

const port = Number(need('PORT'));
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error('server.mjs: PORT must be 1 to 65535');
  process.exit(2);
}
const clientSecret = need('CLIENT_SECRET');
const redirectURI = need('REDIRECT_URI');
const entries = Number(process.env.ADAPTER_ENTRIES || 5_000_000);
const issuer = `http://127.0.0.1:${port}`;

// The resource server every access token is for, and its one scope.
const RESOURCE = 'https://bench.compare.test/';
const RESOURCE_SCOPE = 'bench';
const OPAQUE_CLIENT = 'compare-opaque';
const ACCOUNT = 'compare-user';

setStorage(new LRU({ maxSize: entries }));

const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
const jwk = { ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'compare-rs256' };

const client = (id) => ({
  client_id: id,
  client_secret: clientSecret,
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  redirect_uris: [redirectURI],
  token_endpoint_auth_method: 'client_secret_basic',
});

const provider = new Provider(issuer, {
  adapter: MemoryAdapter,
  clients: [client('compare'), client(OPAQUE_CLIENT)],
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  pkce: { required: () => true },
  issueRefreshToken: async (_ctx, c) => c.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: () => true,
  // This provider's lifetimes where it has them (access token 1 hour).
  ttl: {
    AccessToken: 3600,
    AuthorizationCode: 60,
    Grant: 14 * 24 * 3600,
    Interaction: 3600,
    RefreshToken: 14 * 24 * 3600,
    Session: 14 * 24 * 3600,
  },
  features: {
    devInteractions: { enabled: false },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => RESOURCE,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, indicator, c) => {
        if (indicator !== RESOURCE) throw new errors.InvalidTarget();
        return {
          scope: RESOURCE_SCOPE,
          audience: RESOURCE,
          accessTokenTTL: 3600,
          accessTokenFormat: c.clientId === OPAQUE_CLIENT ? 'opaque' : 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
});

provider.on('server_error', (_ctx, err) => console.error('server_error:', err));

// The headless login and consent app.
provider.use(async (ctx, next) => {
  if (ctx.method !== 'GET' || !ctx.path.startsWith('/interaction/')) {
    return next();
  }
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const { prompt, params, session } = details;
  let result;
  switch (prompt.name) {
    case 'login':
      result = { login: { accountId: ACCOUNT, remember: true } };
      break;
    case 'consent': {
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      const d = prompt.details;
      if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
      if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(d.missingResourceScopes ?? {})) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      result = { consent: { grantId: await grant.save() } };
      break;
    }
    default:
      result = { error: 'access_denied', error_description: `unexpected prompt ${prompt.name}` };
  }
  const to = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  ctx.status = 303;
  ctx.set('Location', to);
  ctx.body = '';
});

const server = http.createServer(provider.callback());
// Longer than the load generator's idle connections, so that the server
// never closes one the client is about to reuse.
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.listen(port, '127.0.0.1', () => console.log(`listening on ${issuer}`));
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => { server.close(() => process.exit(0)); server.closeAllConnections(); });
}
