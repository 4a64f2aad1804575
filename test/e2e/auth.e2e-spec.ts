import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TEST_SECRET, basic, bearer } from '../helpers/auth.js';
import { api, startGateway, type GatewayProcess } from '../helpers/gateway-process.js';

const ROUTE_GROUPS = ['/tools', '/servers', '/resources', '/prompts', '/metrics', '/openapi.json', '/openapi.yaml', '/docs'];

describe('auth on every route group', () => {
  let gw: GatewayProcess;

  beforeAll(async () => {
    gw = await startGateway({ JWT_SECRET_KEY: TEST_SECRET, BASIC_AUTH_USER: 'ops', BASIC_AUTH_PASSWORD: 'pw-123' });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  const cases: Array<[string, string | undefined, RegExp]> = [
    ['no token', undefined, /missing Authorization/],
    ['a malformed token', 'Bearer not.a.jwt', /invalid token/],
    ['a token signed with another key', bearer({ sub: 'a' }, 'wrong-key'), /invalid signature/],
    ['an expired token', bearer({ sub: 'a', exp: Math.floor(Date.now() / 1000) - 60 }), /expired/],
    ['a token without a subject', bearer({ role: 'x' }), /sub/],
    ['wrong Basic credentials', basic('ops', 'nope'), /invalid username or password/],
    ['an unknown scheme', 'Digest abc', /unsupported/],
  ];

  for (const path of ROUTE_GROUPS) {
    it.each(cases)(`${path}: 401 with %s`, async (_label, header, message) => {
      const res = await api(gw.url, 'GET', path, { auth: header });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/Basic/);
      expect(res.body).toMatchObject({ statusCode: 401, message: expect.stringMatching(message) });
    });

    it(`${path}: 200 with a valid bearer token and with Basic credentials`, async () => {
      expect((await api(gw.url, 'GET', path, { auth: bearer({ sub: 'admin@example.com' }) })).status).toBe(200);
      expect((await api(gw.url, 'GET', path, { auth: basic('ops', 'pw-123') })).status).toBe(200);
    });
  }

  it('accepts a token without expiry from the token CLI', async () => {
    const { execFileSync } = await import('node:child_process');
    const token = execFileSync(process.execPath, ['dist/auth/token.cli.js', '--username', 'admin@example.com', '--exp', '0', '--secret', TEST_SECRET])
      .toString()
      .trim();
    const [, payload] = token.split('.');
    expect(JSON.parse(Buffer.from(payload as string, 'base64url').toString())).not.toHaveProperty('exp');
    expect((await api(gw.url, 'GET', '/tools', { auth: `Bearer ${token}` })).status).toBe(200);
  });

  it('leaves the probes open', async () => {
    expect((await api(gw.url, 'GET', '/health')).body).toEqual({ status: 'healthy' });
    expect((await api(gw.url, 'GET', '/ready')).body).toEqual({ status: 'ready' });
  });
});

describe('AUTH_REQUIRED=false', () => {
  let gw: GatewayProcess;
  beforeAll(async () => {
    gw = await startGateway({ AUTH_REQUIRED: 'false', LOG_LEVEL: 'info' });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('opens every route and warns at start', async () => {
    for (const path of ROUTE_GROUPS) expect([path, (await api(gw.url, 'GET', path)).status]).toEqual([path, 200]);
    expect(gw.output()).toMatch(/AUTH_REQUIRED=false/);
  });
});
