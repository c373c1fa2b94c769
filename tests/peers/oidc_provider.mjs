// A real OpenID Connect provider for the test suite, shaped like a Keycloak realm.
//
//   node tests/peers/oidc_provider.mjs <port>
//
// Environment:
//   OIDC_PROVIDER_PORT              the port, when not given as the argument (127.0.0.1 only)
//   OIDC_CLIENT_ID, OIDC_CLIENT_SECRET
//                                   the one confidential client (client_secret_post, like mozilla-django-oidc sends)
//   OIDC_REDIRECT_URI               its callback URL
//   OIDC_POST_LOGOUT_REDIRECT_URI   where RP-initiated logout may send the browser back to
//   OIDC_ACCOUNTS                   JSON list of accounts:
//     {"sub", "preferred_username", "email", "given_name", "family_name",
//      "realm_roles": [...], "client_roles": {"<client id>": [...]}, "organization": <any JSON>}
//
// Claims come out as Keycloak emits them: realm_access.roles, resource_access.<client>.roles and the
// organisation claim, in the ID token and from userinfo alike. A JSON list of accounts written as one
// line to stdin replaces the directory, as an administrator editing the realm would; "accounts <n>" is
// printed back once it applies.
//
// Logging in takes no browser: GET /interaction/<uid> is a plain form, POST /interaction/<uid>/login with
// login=<sub> signs that account in, and consent is granted on the account's behalf.
// Prints "ready <issuer>" on stdout once it listens.

import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';

import Provider from 'oidc-provider';

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`oidc_provider: ${name} is required`);
    process.exit(2);
  }
  return value;
}

function htmlEscape(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${htmlEscape(title)}</title></head>`
    + `<body><main><h1>${htmlEscape(title)}</h1>${body}</main></body></html>`;
}

const port = Number(process.argv[2] ?? process.env.OIDC_PROVIDER_PORT);
if (!Number.isInteger(port) || port <= 0) {
  console.error('oidc_provider: give the port as the argument or OIDC_PROVIDER_PORT');
  process.exit(2);
}
const clientId = required('OIDC_CLIENT_ID');
let accounts = JSON.parse(process.env.OIDC_ACCOUNTS ?? '[]');

function findAccountBySub(sub) {
  return accounts.find((account) => account.sub === sub);
}

function keycloakClaims(account) {
  const claims = {
    sub: account.sub,
    preferred_username: account.preferred_username ?? account.sub,
    email: account.email,
    email_verified: Boolean(account.email),
    given_name: account.given_name,
    family_name: account.family_name,
    name: [account.given_name, account.family_name].filter(Boolean).join(' ') || undefined,
    realm_access: { roles: account.realm_roles ?? [] },
    resource_access: Object.fromEntries(
      Object.entries(account.client_roles ?? {}).map(([client, roles]) => [client, { roles }]),
    ),
  };
  if (account.organization !== undefined && account.organization !== null) {
    claims.organization = account.organization;
  }
  return claims;
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: required('OIDC_CLIENT_SECRET'),
    redirect_uris: [required('OIDC_REDIRECT_URI')],
    post_logout_redirect_uris: [required('OIDC_POST_LOGOUT_REDIRECT_URI')],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
  }],
  jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' }] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  // Keycloak's default "roles" scope is always granted, so the role claims ride on "openid".
  claims: {
    openid: ['sub', 'realm_access', 'resource_access', 'organization'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username'],
  },
  // Keycloak puts the scope claims in the ID token of the code flow too.
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => {
        ctx.body = page('Sign out', `${form}<button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>`);
      },
      postLogoutSuccessSource: async (ctx) => {
        ctx.body = page('Signed out', '<p>You are signed out.</p>');
      },
    },
  },
  findAccount: async (ctx, sub) => {
    const account = findAccountBySub(sub);
    if (!account) {
      return undefined;
    }
    return { accountId: account.sub, claims: async () => keycloakClaims(account) };
  },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = page('Error', Object.entries(out).map(([k, v]) => `<p>${htmlEscape(k)}: ${htmlEscape(v)}</p>`).join(''));
  },
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    Grant: 3600,
    IdToken: 600,
    Interaction: 600,
    Session: 3600,
  },
});

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) {
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function loginForm(uid, error) {
  const message = error ? `<p role="alert">${htmlEscape(error)}</p>` : '';
  return page('Sign in', `${message}<form method="post" action="/interaction/${htmlEscape(uid)}/login">`
    + '<label for="login">Account</label><input id="login" name="login" autocomplete="username">'
    + '<button type="submit">Sign in</button></form>');
}

async function grantConsent(ctx, details) {
  const { missingOIDCScope = [], missingOIDCClaims = [], missingResourceScopes = {} } = details.prompt.details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  grant.addOIDCScope(missingOIDCScope.join(' '));
  grant.addOIDCClaims(missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missingResourceScopes)) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  return provider.interactionResult(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

const interactionRoute = /^\/interaction\/([\w-]+)(\/login)?$/;

provider.use(async (ctx, next) => {
  const match = interactionRoute.exec(ctx.path);
  if (!match) {
    return next();
  }
  const [, uid, login] = match;
  ctx.set('Cache-Control', 'no-store');
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (details.uid !== uid) {
    ctx.throw(400, 'interaction mismatch');
  }
  if (!login && ctx.method === 'GET') {
    if (details.prompt.name === 'login') {
      ctx.type = 'html';
      ctx.body = loginForm(uid);
      return undefined;
    }
    ctx.redirect(await grantConsent(ctx, details));
    return undefined;
  }
  if (login && ctx.method === 'POST') {
    const accountId = (await readForm(ctx.req)).get('login') ?? '';
    if (!findAccountBySub(accountId)) {
      ctx.status = 401;
      ctx.type = 'html';
      ctx.body = loginForm(uid, 'Unknown account.');
      return undefined;
    }
    const returnTo = await provider.interactionResult(
      ctx.req, ctx.res, { login: { accountId } }, { mergeWithLastSubmission: false },
    );
    ctx.redirect(returnTo);
    ctx.status = 303;
    return undefined;
  }
  ctx.throw(405);
  return undefined;
});

// Stdin closing means whoever started this is gone: stop rather than outlive it.
createInterface({ input: process.stdin })
  .on('line', (line) => {
    if (!line.trim()) {
      return;
    }
    accounts = JSON.parse(line);
    console.log(`accounts ${accounts.length}`);
  })
  .on('close', () => stop());

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
}

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, stop);
}
