import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

/**
 * A real OAuth token issuer on loopback for tests: RFC 8414 metadata and a JWKS over HTTP, signing
 * access tokens with a key pair generated per run. `sign` makes good tokens and every kind of bad one.
 */
export interface TokenIssuer {
  issuer: string;
  jwksUrl: string;
  /** How often the JWKS and the metadata were fetched. */
  fetches: { metadata: number; jwks: number };
  sign(claims: Record<string, unknown>, opts?: SignOptions): Promise<string>;
  /** An unsigned token (`alg: none`) carrying the same claims. */
  unsigned(claims: Record<string, unknown>): string;
  close(): Promise<void>;
}

export interface SignOptions {
  /** Sign with a key the JWKS does not publish. */
  foreignKey?: boolean;
  expiresInSeconds?: number;
  audience?: string;
  issuer?: string;
  noExp?: boolean;
}

export async function startTokenIssuer(): Promise<TokenIssuer> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const foreign = await generateKeyPair('ES256');
  const kid = randomUUID();
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const fetches = { metadata: 0, jwks: 0 };
  let issuer = '';
  const server: Server = createServer((req, res) => {
    const send = (body: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/.well-known/oauth-authorization-server') {
      fetches.metadata++;
      return send({
        issuer,
        jwks_uri: `${issuer}/jwks.json`,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
      });
    }
    if (req.url === '/jwks.json') {
      fetches.jwks++;
      return send({ keys: [jwk] });
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return {
    issuer,
    jwksUrl: `${issuer}/jwks.json`,
    fetches,
    async sign(claims, opts = {}) {
      const key: CryptoKey = opts.foreignKey ? foreign.privateKey : privateKey;
      let jwt = new SignJWT({ ...claims })
        .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
        .setIssuer(opts.issuer ?? issuer)
        .setIssuedAt()
        .setJti(typeof claims.jti === 'string' ? claims.jti : randomUUID());
      if (opts.audience !== undefined) jwt = jwt.setAudience(opts.audience);
      if (!opts.noExp) jwt = jwt.setExpirationTime(Math.floor(Date.now() / 1000) + (opts.expiresInSeconds ?? 600));
      return jwt.sign(key);
    },
    unsigned(claims) {
      const now = Math.floor(Date.now() / 1000);
      return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: issuer, iat: now, exp: now + 600, ...claims })}.`;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
