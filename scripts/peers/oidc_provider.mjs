// An OpenID provider for the reviewer page's tests: node-oidc-provider (npm, pinned by
// scripts/test-peers) on a free loopback port, with one confidential client and accounts that
// match the example directory (examples/corp-directory.yaml).
//
// Its development login form accepts any login name: `alice` signs in as the directory's
// u-alice (claims `oid: u-alice`, `preferred_username` and `email: alice@corp.example`); a
// name the directory lacks (`mallory`) gets claims that name nobody there.
//
//   node oidc_provider.mjs --client-id ID --redirect-uri URI --ready FILE
//
// The client secret comes from the environment (OIDC_CLIENT_SECRET), not the command line.
// Once listening, the port is written to FILE as {"port": N} (renamed into place whole).
import fs from 'node:fs';
import http from 'node:http';
import crypto from 'node:crypto';
import Provider from 'oidc-provider';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => {
    if (arg.startsWith('--')) pairs.push([arg.slice(2), all[i + 1]]);
    return pairs;
  }, []),
);

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const names = {
    alice: 'Alice Nguyen', bob: 'Bob Martins', carol: 'Carol Schmidt', dave: 'Dave Okafor',
    erin: 'Erin Kowalski', frank: 'Frank Li', grace: 'Grace Hopper', peggy: 'Peggy Olson',
  };
  const provider = new Provider(issuer, {
    clients: [{
      client_id: args['client-id'],
      client_secret: process.env.OIDC_CLIENT_SECRET,
      redirect_uris: [args['redirect-uri']],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      // The provider takes the secret in the Authorization header or the body alike.
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username', 'oid'],
      email: ['email', 'email_verified'],
    },
    // The profile and email claims go into the ID token itself, as Entra ID puts them.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
    async findAccount(ctx, id) {
      return {
        accountId: id,
        async claims() {
          return {
            sub: id,
            oid: `u-${id}`,
            name: names[id] || id,
            preferred_username: `${id}@corp.example`,
            email: `${id}@corp.example`,
            email_verified: true,
          };
        },
      };
    },
  });
  server.on('request', provider.callback());
  const ready = args.ready;
  fs.writeFileSync(`${ready}.tmp`, JSON.stringify({ port }));
  fs.renameSync(`${ready}.tmp`, ready);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
