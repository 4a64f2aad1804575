import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from '@jest/globals';
import jwt from 'jsonwebtoken';
import { TokenError, TokenService } from './token.service.js';

const SECRET = 'token-service-spec-secret';
const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Calls verify and returns the TokenError it throws (fails the test otherwise). */
function refusal(service: TokenService, token: string): TokenError {
  try {
    service.verify(token);
  } catch (error) {
    expect(error).toBeInstanceOf(TokenError);
    return error as TokenError;
  }
  throw new Error('verify accepted the token');
}

describe('TokenService', () => {
  it('signs an HS256 token that it verifies back', () => {
    const service = new TokenService(SECRET);
    const token = service.sign({ sub: 'admin@example.com', scope: 'admin' }, 60);
    expect(jwt.decode(token, { complete: true })?.header.alg).toBe('HS256');
    const claims = service.verify(token);
    expect(claims.sub).toBe('admin@example.com');
    expect(claims.scope).toBe('admin');
    expect(claims.exp! - claims.iat!).toBe(3600);
    // The signature is a real HMAC with our secret: jsonwebtoken agrees.
    expect(() => jwt.verify(token, SECRET, { algorithms: ['HS256'] })).not.toThrow();
  });

  it('rounds fractional minutes to whole seconds', () => {
    const claims = jwt.decode(new TokenService(SECRET).sign({ sub: 'a' }, 1.5)) as jwt.JwtPayload;
    expect(claims.exp! - claims.iat!).toBe(90);
  });

  it('expiresInMinutes 0 means no exp claim, and the token still verifies', () => {
    const service = new TokenService(SECRET);
    const token = service.sign({ sub: 'forever' }, 0);
    const decoded = jwt.decode(token) as jwt.JwtPayload;
    expect(decoded).not.toHaveProperty('exp');
    expect(typeof decoded.iat).toBe('number');
    expect(service.verify(token).sub).toBe('forever');
  });

  it('refuses an expired token with "token has expired"', () => {
    const token = jwt.sign({ sub: 'a', exp: nowSeconds() - 60 }, SECRET, { algorithm: 'HS256' });
    expect(refusal(new TokenService(SECRET), token).message).toBe('token has expired');
  });

  it('refuses a token signed with another secret', () => {
    const token = jwt.sign({ sub: 'a' }, 'another-secret', { algorithm: 'HS256', expiresIn: 60 });
    expect(refusal(new TokenService(SECRET), token).message).toBe('invalid token: invalid signature');
  });

  it('refuses an unsigned (alg none) token', () => {
    const token = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: 'admin', iat: nowSeconds() })}.`;
    expect(refusal(new TokenService(SECRET), token).message).toMatch(/^invalid token: /);
  });

  it('refuses an alg none token that carries a signature from our secret', () => {
    const good = new TokenService(SECRET).sign({ sub: 'admin' }, 5);
    const [, payload, signature] = good.split('.');
    const forged = `${b64url({ alg: 'none', typ: 'JWT' })}.${payload}.${signature}`;
    expect(refusal(new TokenService(SECRET), forged).message).toMatch(/^invalid token: /);
  });

  it('refuses HS512 even with the right secret', () => {
    const token = jwt.sign({ sub: 'a' }, SECRET, { algorithm: 'HS512', expiresIn: 60 });
    expect(refusal(new TokenService(SECRET), token).message).toBe('invalid token: invalid algorithm');
  });

  it.each([
    ['no sub', { scope: 'admin' }],
    ['empty sub', { sub: '' }],
    ['numeric sub', { sub: 42 }],
  ])('refuses a token with %s', (_label, claims) => {
    const token = jwt.sign(claims, SECRET, { algorithm: 'HS256', expiresIn: 60 });
    expect(refusal(new TokenService(SECRET), token).message).toBe('token has no subject (sub) claim');
  });

  it('refuses a string payload', () => {
    const token = jwt.sign('just a string', SECRET, { algorithm: 'HS256' });
    expect(refusal(new TokenService(SECRET), token).message).toBe('token has no subject (sub) claim');
  });

  it.each(['not-a-jwt', 'a.b.c', ''])('refuses garbage %j', (token) => {
    expect(refusal(new TokenService(SECRET), token).message).toMatch(/^invalid token/);
  });

  it('refuses a token whose payload was tampered with', () => {
    const token = new TokenService(SECRET).sign({ sub: 'user' }, 5);
    const [header, , signature] = token.split('.');
    const tampered = `${header}.${b64url({ sub: 'admin', iat: nowSeconds() })}.${signature}`;
    expect(refusal(new TokenService(SECRET), tampered).message).toBe('invalid token: invalid signature');
  });

  it('serves a repeated verification from the cache (same claims object)', () => {
    const service = new TokenService(SECRET);
    const token = service.sign({ sub: 'a' }, 5);
    expect(service.verify(token)).toBe(service.verify(token));
  });

  it('a failed verification is not cached as a success', () => {
    const service = new TokenService(SECRET);
    const token = jwt.sign({ sub: 'a' }, 'another-secret', { algorithm: 'HS256' });
    refusal(service, token);
    expect(refusal(service, token).message).toBe('invalid token: invalid signature');
  });

  it('a cached verification still refuses the token once it has expired', async () => {
    const service = new TokenService(SECRET);
    // exp has one-second resolution; start early in a second so the first verify is safely before it.
    if (Date.now() % 1000 > 800) await sleep(1000 - (Date.now() % 1000));
    const exp = nowSeconds() + 1;
    const token = jwt.sign({ sub: 'short-lived', exp }, SECRET, { algorithm: 'HS256' });
    expect(service.verify(token).sub).toBe('short-lived');
    expect(service.verify(token).sub).toBe('short-lived'); // now cached
    const wait = exp * 1000 - Date.now() + 50;
    expect(wait).toBeLessThan(1100);
    await sleep(Math.max(0, wait));
    expect(refusal(service, token).message).toBe('token has expired');
    // And again, now that the cache entry is gone and jsonwebtoken decides.
    expect(refusal(service, token).message).toBe('token has expired');
  });
});
