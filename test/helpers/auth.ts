import jwt from 'jsonwebtoken';

export const TEST_SECRET = 'test-secret-key';

/** `Bearer <jwt>`; an `exp` claim in `claims` wins over `expiresInSeconds`. */
export const bearer = (claims: Record<string, unknown> = { sub: 'admin@example.com' }, secret = TEST_SECRET, expiresInSeconds = 3600): string =>
  `Bearer ${jwt.sign(claims, secret, 'exp' in claims ? { algorithm: 'HS256' } : { algorithm: 'HS256', expiresIn: expiresInSeconds })}`;

export const basic = (user = 'admin', password = 'changeme'): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
