import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import { loadConfig, type AppConfig } from '#app/config/app-config.js';
import {
  buildDataSourceOptions,
  checkConnectionBudget,
  connectWithRetry,
  createDataSource,
  revertLastMigration,
  runMigrations,
} from '#app/database/data-source.js';
import { MIGRATIONS } from '#app/database/migrations/index.js';
import { ToolEntity } from '#app/tools/tool.entity.js';
import { createTestDatabase } from '../helpers/postgres-db.js';
import { serviceAvailable } from '../helpers/services.js';

/**
 * The schema is built only by migrations: run them on SQLite and on PostgreSQL, check the tables,
 * idempotence, revert, the entity mapping of the result, cascades, the advisory lock that lets
 * many workers start at once, and the start-up helpers around the data source.
 */

const hasPostgres = await serviceAvailable('postgres');
const CATALOG_TABLES = ['tools', 'resources', 'prompts', 'servers', 'server_tools', 'server_resources', 'server_prompts'];
const MIGRATION_NAMES = MIGRATIONS.map((m) => m.name).sort();
const id = (): string => randomBytes(16).toString('hex'); // 32 chars, the width of the id columns
const noLog = (): void => undefined;

async function existingTables(dataSource: DataSource, names: string[]): Promise<string[]> {
  const runner = dataSource.createQueryRunner();
  try {
    const found: string[] = [];
    for (const name of names) if (await runner.hasTable(name)) found.push(name);
    return found;
  } finally {
    await runner.release();
  }
}

/** Raw SQL with `?` placeholders, rewritten to `$n` on PostgreSQL. */
function sql(dataSource: DataSource, text: string, params: unknown[] = []): Promise<Array<Record<string, unknown>>> {
  let n = 0;
  const query = dataSource.options.type === 'postgres' ? text.replace(/\?/g, () => `$${++n}`) : text;
  return dataSource.query(query, params);
}

async function migrationRows(dataSource: DataSource): Promise<string[]> {
  return (await sql(dataSource, 'SELECT name FROM migrations ORDER BY name')).map((r) => String(r.name));
}

interface Target {
  database: AppConfig['database'];
  cleanup: () => Promise<void>;
}

interface TargetFactory {
  name: 'sqlite' | 'postgres';
  needsPostgres: boolean;
  create: () => Promise<Target>;
}

const sqlite: TargetFactory = {
  name: 'sqlite',
  needsPostgres: false,
  create: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcpgw-migrations-'));
    // A directory that does not exist yet: the data source creates it.
    const file = join(dir, 'nested', 'mcp.db');
    return {
      database: loadConfig({ DATABASE_URL: `sqlite:///${file}` }).database,
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
};

const postgres: TargetFactory = {
  name: 'postgres',
  needsPostgres: true,
  create: async () => {
    const db = await createTestDatabase('mcpgw_migr');
    return {
      database: loadConfig({ DATABASE_URL: db.url, DB_POOL_SIZE: '2', DB_MAX_OVERFLOW: '2' }).database,
      cleanup: db.drop,
    };
  },
};

describe.each([sqlite, postgres])('migrations on $name', (factory) => {
  // reason: PostgreSQL not reachable outside CI (serviceAvailable throws under CI=true instead)
  const d = factory.needsPostgres && !hasPostgres ? describe.skip : describe;

  d('a fresh database', () => {
    let target: Target;
    let dataSource: DataSource;

    beforeAll(async () => {
      target = await factory.create();
      dataSource = createDataSource(target.database);
      await connectWithRetry(dataSource, target.database, noLog);
    });
    afterAll(async () => {
      if (dataSource?.isInitialized) await dataSource.destroy();
      await target?.cleanup();
    });

    it('starts empty', async () => {
      expect(await existingTables(dataSource, CATALOG_TABLES)).toEqual([]);
      if (target.database.type === 'sqlite') expect(existsSync(target.database.sqlitePath)).toBe(true);
    });

    it('runs every migration and creates the catalog tables', async () => {
      const ran = await runMigrations(dataSource);
      expect(ran.map((m) => m.name).sort()).toEqual(MIGRATION_NAMES);
      expect(await existingTables(dataSource, CATALOG_TABLES)).toEqual(CATALOG_TABLES);
      expect(await migrationRows(dataSource)).toEqual(MIGRATION_NAMES);
    });

    it('runs nothing the second time', async () => {
      expect(await runMigrations(dataSource)).toEqual([]);
      expect(await migrationRows(dataSource)).toEqual(MIGRATION_NAMES);
    });

    it('round-trips a tool through the ToolEntity repository with proper types', async () => {
      const repo = dataSource.getRepository(ToolEntity);
      const toolId = id();
      const before = Date.now();
      await repo.save(
        repo.create({
          id: toolId,
          name: `weather-${toolId}`,
          originalName: null,
          url: 'https://api.example.com/weather',
          description: 'Current weather',
          integrationType: 'REST',
          requestType: 'POST',
          headers: { 'X-Trace': 'on' },
          inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
          outputSchema: null,
          annotations: { readOnlyHint: true, title: 'Weather' },
          authType: null,
          authValue: null,
          tags: ['weather', 'demo'],
          timeoutMs: 1500,
          isActive: false,
          gatewayId: null,
        }),
      );

      const loaded = await dataSource.getRepository(ToolEntity).findOneByOrFail({ id: toolId });
      expect(loaded.headers).toEqual({ 'X-Trace': 'on' });
      expect(loaded.inputSchema).toEqual({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] });
      expect(loaded.annotations).toEqual({ readOnlyHint: true, title: 'Weather' });
      expect(loaded.outputSchema).toBeNull();
      expect(loaded.tags).toEqual(['weather', 'demo']);
      expect(loaded.isActive).toBe(false);
      expect(loaded.timeoutMs).toBe(1500);
      expect(loaded.integrationType).toBe('REST');
      expect(loaded.createdAt).toBeInstanceOf(Date);
      expect(loaded.updatedAt).toBeInstanceOf(Date);
      // Timestamps are real instants (no time-zone shift): within a minute of the insert.
      expect(Math.abs(loaded.createdAt.getTime() - before)).toBeLessThan(60_000);

      loaded.isActive = true;
      await repo.save(loaded);
      const updated = await repo.findOneByOrFail({ id: toolId });
      expect(updated.isActive).toBe(true);
      expect(updated.updatedAt.getTime()).toBeGreaterThanOrEqual(updated.createdAt.getTime());
    });

    it('applies the column defaults to rows inserted with raw SQL', async () => {
      const toolId = id();
      const before = Date.now();
      await sql(
        dataSource,
        "INSERT INTO tools (id, name, integration_type, request_type, input_schema, tags) VALUES (?, ?, 'REST', 'GET', ?, ?)",
        [toolId, `raw-${toolId}`, '{"type":"object"}', '[]'],
      );
      const loaded = await dataSource.getRepository(ToolEntity).findOneByOrFail({ id: toolId });
      expect(loaded.isActive).toBe(true);
      expect(loaded.inputSchema).toEqual({ type: 'object' });
      expect(loaded.tags).toEqual([]);
      expect(loaded.createdAt).toBeInstanceOf(Date);
      // The database's CURRENT_TIMESTAMP comes back as the right instant, whatever the local time zone.
      expect(Math.abs(loaded.createdAt.getTime() - before)).toBeLessThan(60_000);
    });

    it('enforces unique tool names', async () => {
      const repo = dataSource.getRepository(ToolEntity);
      const base = { integrationType: 'REST' as const, requestType: 'GET' as const, inputSchema: {}, tags: [], isActive: true };
      const name = `dup-${id()}`;
      await repo.insert({ ...base, id: id(), name });
      await expect(repo.insert({ ...base, id: id(), name })).rejects.toThrow();
    });

    it('deleting a tool cascades out of server_tools; deleting a server does too', async () => {
      const repo = dataSource.getRepository(ToolEntity);
      const base = { integrationType: 'REST' as const, requestType: 'GET' as const, inputSchema: {}, tags: [], isActive: true };
      const [toolA, toolB, serverId] = [id(), id(), id()];
      await repo.insert({ ...base, id: toolA, name: `a-${toolA}` });
      await repo.insert({ ...base, id: toolB, name: `b-${toolB}` });
      await sql(dataSource, 'INSERT INTO servers (id, name, tags) VALUES (?, ?, ?)', [serverId, `srv-${serverId}`, '[]']);
      await sql(dataSource, 'INSERT INTO server_tools (server_id, tool_id) VALUES (?, ?), (?, ?)', [serverId, toolA, serverId, toolB]);
      const links = async (): Promise<string[]> =>
        (await sql(dataSource, 'SELECT tool_id FROM server_tools WHERE server_id = ? ORDER BY tool_id', [serverId])).map((r) => String(r.tool_id));
      expect(await links()).toEqual([toolA, toolB].sort());

      expect((await repo.delete({ id: toolA })).affected).toBe(1);
      expect(await links()).toEqual([toolB]);
      expect(await sql(dataSource, 'SELECT id FROM servers WHERE id = ?', [serverId])).toHaveLength(1);

      await sql(dataSource, 'DELETE FROM servers WHERE id = ?', [serverId]);
      expect(await links()).toEqual([]);
      expect(await repo.findOneBy({ id: toolB })).not.toBeNull(); // the tool itself stays
    });

    it('refuses a server_tools row that points at no tool', async () => {
      const serverId = id();
      await sql(dataSource, 'INSERT INTO servers (id, name, tags) VALUES (?, ?, ?)', [serverId, `srv-${serverId}`, '[]']);
      await expect(sql(dataSource, 'INSERT INTO server_tools (server_id, tool_id) VALUES (?, ?)', [serverId, id()])).rejects.toThrow();
    });

    it('revert undoes one migration at a time; reverting all removes the tables; migrating again restores them', async () => {
      for (let left = MIGRATION_NAMES.length; left > 0; left--) {
        expect(await migrationRows(dataSource)).toHaveLength(left);
        expect(await existingTables(dataSource, CATALOG_TABLES)).toEqual(CATALOG_TABLES);
        await revertLastMigration(dataSource);
      }
      expect(await existingTables(dataSource, CATALOG_TABLES)).toEqual([]);
      expect(await migrationRows(dataSource)).toEqual([]);

      expect((await runMigrations(dataSource)).map((m) => m.name).sort()).toEqual(MIGRATION_NAMES);
      expect(await existingTables(dataSource, CATALOG_TABLES)).toEqual(CATALOG_TABLES);
    });

    it('checkConnectionBudget has nothing to say about this (small) configuration', async () => {
      expect(await checkConnectionBudget(dataSource, loadConfig({ DATABASE_URL: target.database.type === 'postgres' ? target.database.url : undefined }))).toBeNull();
    });
  });
});

// reason: PostgreSQL not reachable outside CI (serviceAvailable throws under CI=true instead)
const pg = hasPostgres ? describe : describe.skip;

pg('PostgreSQL: concurrent start-up and the connection budget', () => {
  let drop: (() => Promise<void>) | undefined;
  let url: string;
  const sources: DataSource[] = [];

  beforeAll(async () => {
    const db = await createTestDatabase('mcpgw_migr');
    drop = db.drop;
    url = db.url;
  });
  afterAll(async () => {
    for (const s of sources) if (s.isInitialized) await s.destroy();
    await drop?.();
  });

  it('two workers migrating the same fresh database at once both succeed; each migration is recorded once', async () => {
    const database = loadConfig({ DATABASE_URL: url, DB_POOL_SIZE: '2', DB_MAX_OVERFLOW: '1' }).database;
    const a = createDataSource(database);
    const b = createDataSource(database);
    sources.push(a, b);
    await Promise.all([connectWithRetry(a, database, noLog), connectWithRetry(b, database, noLog)]);

    const [ranA, ranB] = await Promise.all([runMigrations(a), runMigrations(b)]);
    expect([...ranA, ...ranB].map((m) => m.name).sort()).toEqual(MIGRATION_NAMES);
    expect(Math.min(ranA.length, ranB.length)).toBe(0); // exactly one of them did the work

    const counts = await a.query('SELECT name, COUNT(*)::int AS n FROM migrations GROUP BY name ORDER BY name');
    expect(counts).toEqual(MIGRATION_NAMES.map((name) => ({ name, n: 1 })));
    expect(await existingTables(b, CATALOG_TABLES)).toEqual(CATALOG_TABLES);

    // The advisory lock is released afterwards: nobody is left holding or waiting on it.
    const locks = await a.query(
      "SELECT COUNT(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    );
    expect(locks[0].n).toBe(0);
  });

  it('checkConnectionBudget warns when workers x (pool + overflow) exceeds max_connections, and not otherwise', async () => {
    const dataSource = sources[0];
    const max = Number((await dataSource.query('SHOW max_connections'))[0].max_connections);
    expect(max).toBeGreaterThan(0);

    const huge = loadConfig({ DATABASE_URL: url, CACHE_TYPE: 'redis', WORKERS: '50', DB_POOL_SIZE: '1000' });
    const warning = await checkConnectionBudget(dataSource, huge);
    expect(typeof warning).toBe('string');
    expect(warning).toContain('WORKERS (50)');
    expect(warning).toContain('(1010)');
    expect(warning).toContain(`= ${50 * 1010}`);
    expect(warning).toContain(`max_connections (${max})`);
    expect(warning).not.toContain('\n');

    const modest = loadConfig({ DATABASE_URL: url });
    expect(await checkConnectionBudget(dataSource, modest)).toBeNull();

    // Exactly at the limit fits; one over does not.
    const at = (poolSize: number): AppConfig => ({ ...modest, database: { ...modest.database, poolSize, maxOverflow: 0 } });
    expect(await checkConnectionBudget(dataSource, at(max))).toBeNull();
    expect(await checkConnectionBudget(dataSource, at(max + 1))).toContain(`= ${max + 1}`);
  });
});

describe('checkConnectionBudget on SQLite', () => {
  it('returns null without asking the database', async () => {
    const config = loadConfig({ CACHE_TYPE: 'redis', WORKERS: '50', DB_POOL_SIZE: '1000' });
    const neverQueried = { query: () => Promise.reject(new Error('must not query')) } as unknown as DataSource;
    expect(await checkConnectionBudget(neverQueried, config)).toBeNull();
  });
});

describe('buildDataSourceOptions', () => {
  it('maps the pool settings onto pg-pool', () => {
    const database = loadConfig({ DATABASE_URL: 'postgres://u@h/db', DB_POOL_SIZE: '7', DB_MAX_OVERFLOW: '3', DB_POOL_TIMEOUT: '2.5', DB_POOL_RECYCLE: '120' }).database;
    const options = buildDataSourceOptions(database) as { type: string; url: string; synchronize: boolean; migrationsRun: boolean; extra: Record<string, unknown> };
    expect(options.type).toBe('postgres');
    expect(options.url).toBe('postgres://u@h/db');
    expect(options.synchronize).toBe(false);
    expect(options.migrationsRun).toBe(false);
    expect(options.extra).toMatchObject({ min: 7, max: 10, connectionTimeoutMillis: 2500, maxLifetimeSeconds: 120 });
  });
});

describe('connectWithRetry', () => {
  const closed = (retries: string) =>
    loadConfig({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/x', DB_MAX_RETRIES: retries, DB_RETRY_INTERVAL_MS: '50', DB_POOL_TIMEOUT: '1' }).database;

  it.each([
    ['0', 0],
    ['1', 1],
    ['2', 2],
  ])('against a closed port with DB_MAX_RETRIES=%s rejects after %d logged retries', async (retries, expected) => {
    const database = closed(retries);
    const dataSource = createDataSource(database);
    const logged: string[] = [];
    const started = Date.now();
    await expect(connectWithRetry(dataSource, database, (m) => logged.push(m))).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(logged).toHaveLength(expected);
    logged.forEach((message, i) => {
      expect(message).toContain('ECONNREFUSED');
      expect(message).toContain(`retry ${i + 1}/${expected} in 50 ms`);
    });
    expect(dataSource.isInitialized).toBe(false);
  });
});
