import jwt from 'jsonwebtoken';

export const TEST_SECRET = 'test-secret-key';

export const bearer = (claims: Record<string, unknown> = { sub: 'admin@example.com' }, secret = TEST_SECRET, expiresIn: number | undefined = 3600): string =>
  `Bearer ${jwt.sign(claims, secret, expiresIn === undefined ? { algorithm: 'HS256' } : { algorithm: 'HS256', expiresIn })}`;

export const basic = (user = 'admin', password = 'changeme'): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
