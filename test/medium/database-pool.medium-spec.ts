import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DataSource } from 'typeorm';
import { classifyInfrastructureError } from '#app/common/infrastructure-error.js';
import { loadConfig } from '#app/config/app-config.js';
import { createDataSource } from '#app/database/data-source.js';
import { DatabasePool } from '#app/database/database-pool.js';
import { createTestDatabase } from '../helpers/postgres-db.js';
import { serviceAvailable } from '../helpers/services.js';

const hasPostgres = await serviceAvailable('postgres');

/** The PostgreSQL pool honours DB_POOL_SIZE, DB_MAX_OVERFLOW, DB_POOL_TIMEOUT and DB_POOL_RECYCLE. */
// Reason for skipping: needs the real PostgreSQL (required under CI=true).
(hasPostgres ? describe : describe.skip)('PostgreSQL pool settings', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const open: DataSource[] = [];

  async function pool(env: Record<string, string>): Promise<{ ds: DataSource; stats: DatabasePool }> {
    const config = loadConfig({ DATABASE_URL: db.url, CACHE_TYPE: 'redis', WORKERS: '1', ...env });
    const ds = createDataSource(config.database);
    await ds.initialize();
    open.push(ds);
    return { ds, stats: new DatabasePool(ds, config) };
  }

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    for (const ds of open) if (ds.isInitialized) await ds.destroy();
    await db?.drop();
  });

  it('makes a request wait at most DB_POOL_TIMEOUT for a connection, then fails with a clear error', async () => {
    const { ds, stats } = await pool({ DB_POOL_SIZE: '1', DB_MAX_OVERFLOW: '0', DB_POOL_TIMEOUT: '0.4' });
    const holder = ds.createQueryRunner();
    await holder.connect(); // takes the only connection
    try {
      const started = Date.now();
      const waiting = ds.query('SELECT 1');
      await sleep(100);
      expect(stats.stats()).toMatchObject({ size: 1, active: 1, waiting: 1 });
      const error = await waiting.then(() => null, (e: unknown) => e);
      const took = Date.now() - started;
      expect(error).toBeInstanceOf(Error);
      expect(took).toBeGreaterThanOrEqual(350);
      expect(took).toBeLessThan(3000);
      expect(classifyInfrastructureError(error)).toMatch(/pool exhausted/);
    } finally {
      await holder.release();
    }
    await expect(ds.query('SELECT 1 AS ok')).resolves.toEqual([{ ok: 1 }]);
  });

  it('opens up to DB_POOL_SIZE + DB_MAX_OVERFLOW connections and queues the rest', async () => {
    const { ds, stats } = await pool({ DB_POOL_SIZE: '2', DB_MAX_OVERFLOW: '1', DB_POOL_TIMEOUT: '10' });
    const queries = Array.from({ length: 5 }, () => ds.query('SELECT pg_sleep(0.4)'));
    await sleep(150);
    expect(stats.stats()).toMatchObject({ size: 3, active: 3, waiting: 2 });
    await Promise.all(queries);
    expect(stats.stats().waiting).toBe(0);
  });

  it('replaces a connection older than DB_POOL_RECYCLE seconds', async () => {
    const { ds } = await pool({ DB_POOL_SIZE: '1', DB_MAX_OVERFLOW: '0', DB_POOL_RECYCLE: '1' });
    const [{ pid: first }] = await ds.query('SELECT pg_backend_pid() AS pid');
    await sleep(1300);
    const [{ pid: second }] = await ds.query('SELECT pg_backend_pid() AS pid');
    expect(second).not.toBe(first);
  });
});
