import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestDatabase } from '../helpers/postgres-db.js';
import { api, startGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { serviceAvailable } from '../helpers/services.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

const hasPostgres = await serviceAvailable('postgres');
const hasRedis = await serviceAvailable('redis');

/** Polls `path` until it answers `status`, returning how long that took (ms). */
async function until(gw: GatewayProcess, path: string, status: number, limitMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < limitMs) {
    const res = await api(gw.url, 'GET', path).catch(() => null);
    if (res?.status === status) return Date.now() - started;
    await sleep(100);
  }
  throw new Error(`${path} did not answer ${status} within ${limitMs} ms`);
}

// Reason for skipping: these need the real PostgreSQL and Redis (required under CI=true).
(hasPostgres && hasRedis ? describe : describe.skip)('readiness follows PostgreSQL and Redis outages', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const pgProxy = new TcpProxy(5432);
  const redisProxy = new TcpProxy(6379);
  let gw: GatewayProcess;

  beforeAll(async () => {
    db = await createTestDatabase();
    await pgProxy.start();
    await redisProxy.start();
    const url = new URL(db.url);
    url.port = String(pgProxy.port);
    gw = await startGateway({
      DATABASE_URL: url.toString(),
      CACHE_TYPE: 'redis',
      REDIS_URL: `redis://127.0.0.1:${redisProxy.port}/0`,
      CACHE_PREFIX: `rdy${Date.now()}:`,
      REDIS_RETRY_INTERVAL_MS: '200',
      REDIS_MAX_RETRIES: '1',
      DB_POOL_TIMEOUT: '2',
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await pgProxy.stop();
    await redisProxy.stop();
    await db?.drop();
  });

  it('answers 503 within 5 s of PostgreSQL stopping and 200 again once it is back, without a restart', async () => {
    expect((await api(gw.url, 'GET', '/ready')).status).toBe(200);
    await pgProxy.stop();
    expect(await until(gw, '/ready', 503, 5000)).toBeLessThan(5000);
    const health = await api(gw.url, 'GET', '/health');
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ status: 'unhealthy', error: expect.stringContaining('database') });
    // Admin calls fail cleanly meanwhile: 503 with a correlation id, not a 500 or a hang.
    const during = await api(gw.url, 'GET', '/tools', { auth: 'Basic ' + Buffer.from('admin:changeme').toString('base64') });
    expect(during.status).toBe(503);
    expect(during.body.correlation_id).toEqual(expect.any(String));

    await pgProxy.start();
    await until(gw, '/ready', 200, 10_000);
    expect((await api(gw.url, 'GET', '/health')).body).toEqual({ status: 'healthy' });
    expect(gw.child.exitCode).toBeNull();
  });

  it('answers 503 while Redis is away, keeps liveness, and recovers on its own', async () => {
    await redisProxy.stop();
    await until(gw, '/ready', 503, 5000);
    const ready = await api(gw.url, 'GET', '/ready');
    expect(ready.body.error).toMatch(/redis/);
    expect((await api(gw.url, 'GET', '/health')).status).toBe(200);
    // A catalog write still commits, without waiting for the unreachable bus.
    const started = Date.now();
    const created = await api(gw.url, 'POST', '/tools', {
      auth: 'Basic ' + Buffer.from('admin:changeme').toString('base64'),
      body: { name: 'written_during_redis_outage', url: 'http://127.0.0.1:9/x' },
    });
    expect(created.status).toBe(201);
    expect(Date.now() - started).toBeLessThan(1000);
    await sleep(1000); // several reconnect attempts fail meanwhile; the worker must stay up
    expect(gw.child.exitCode).toBeNull();
    expect(gw.output()).toMatch(/could not announce tool \w+ created/);

    await redisProxy.start();
    await until(gw, '/ready', 200, 10_000);
    expect(gw.child.exitCode).toBeNull();
  });
});
