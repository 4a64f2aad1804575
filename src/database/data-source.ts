import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource, MigrationExecutor, type DataSourceOptions, type Logger as TypeOrmLogger, type Migration } from 'typeorm';
import type { AppConfig } from '#app/config/app-config.js';
import { infraErrors } from '#app/metrics/infra-errors.js';
import { activeParent, inSpan, tracing } from '#app/metrics/tracing.js';
import { ENTITIES } from './entities.js';
import { MIGRATIONS } from './migrations/index.js';

/** Key of the PostgreSQL advisory lock that serialises migrations across workers and pods. */
const MIGRATION_LOCK_KEY = 7_264_517_001;
/** Overflow connections above DB_POOL_SIZE are closed after this much idleness. */
const OVERFLOW_IDLE_MS = 10_000;

type Log = (message: string) => void;

/** TypeORM prints nothing (errors reach callers as exceptions); failed statements are counted. */
const countingLogger: TypeOrmLogger = {
  logQuery: () => undefined,
  logQueryError: () => void infraErrors.dbQuery++,
  logQuerySlow: () => undefined,
  logSchemaBuild: () => undefined,
  logMigration: () => undefined,
  log: () => undefined,
};

/**
 * One builder drives the app, the migration CLI and the start-up probe, so they can never
 * disagree on how to connect. SQLite for the embedded default; PostgreSQL through pg's pool with
 * the seed's pool settings mapped onto pg-pool's options.
 */
export function buildDataSourceOptions(db: AppConfig['database']): DataSourceOptions {
  const common = { entities: ENTITIES, migrations: MIGRATIONS, synchronize: false, migrationsRun: false, logger: countingLogger } as const;
  if (db.type === 'sqlite') {
    mkdirSync(dirname(db.sqlitePath), { recursive: true });
    // WAL lets readers run beside a writer; the busy timeout rides out a concurrent writer.
    return { ...common, type: 'better-sqlite3', database: db.sqlitePath, enableWAL: true, timeout: 5000 };
  }
  return {
    ...common,
    type: 'postgres',
    url: db.url,
    applicationName: 'mcp-gateway',
    // An idle connection that broke (server restart, network): counted; the pool replaces it.
    poolErrorHandler: () => void infraErrors.dbConnection++,
    extra: {
      min: db.poolSize,
      max: db.poolSize + db.maxOverflow,
      connectionTimeoutMillis: db.poolTimeoutMs,
      idleTimeoutMillis: OVERFLOW_IDLE_MS,
      maxLifetimeSeconds: db.poolRecycleSeconds,
      keepAlive: true,
    },
  };
}

export function createDataSource(db: AppConfig['database']): DataSource {
  return new DataSource(buildDataSourceOptions(db));
}

/**
 * With tracing on, every SQL statement TypeORM runs inside a traced operation is a client span
 * (the statement text, never its parameters), its child. It needs the active context to follow
 * awaits (see OTEL_ASYNC_CONTEXT); a statement outside any traced operation makes no span.
 */
export function traceQueries(dataSource: DataSource): void {
  const t = tracing;
  if (!t) return;
  const system = dataSource.options.type === 'postgres' ? 'postgresql' : 'sqlite';
  const driver = dataSource.driver;
  const createQueryRunner = driver.createQueryRunner.bind(driver);
  // SQLite's driver hands out one runner again and again: wrap each runner once.
  const wrapped = new WeakSet<object>();
  driver.createQueryRunner = (mode) => {
    const runner = createQueryRunner(mode);
    if (wrapped.has(runner)) return runner;
    wrapped.add(runner);
    const query = runner.query.bind(runner) as (...args: unknown[]) => Promise<unknown>;
    (runner as { query: unknown }).query = (sql: string, ...rest: unknown[]) => {
      const parent = activeParent(t);
      if (!parent) return query(sql, ...rest);
      const operation = /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? 'QUERY';
      const attributes = { 'db.system.name': system, 'db.operation.name': operation, 'db.query.text': sql.length > 2048 ? `${sql.slice(0, 2048)}…` : sql };
      return inSpan(t, `${operation} ${system}`, t.api.SpanKind.CLIENT, attributes, parent, () => query(sql, ...rest));
    };
    return runner;
  };
}

type PgConnectCallback = (error: Error | undefined, ...rest: unknown[]) => void;

/**
 * Counts failed connection attempts of the PostgreSQL pool (server down, refused, pool
 * timeout): they fail before a statement runs, so the query logger never sees them.
 */
export function countConnectFailures(dataSource: DataSource): void {
  const pool = (dataSource.driver as unknown as { master?: { connect: (cb?: PgConnectCallback) => unknown } }).master;
  if (!pool) return;
  const connect = pool.connect.bind(pool);
  pool.connect = (callback?: PgConnectCallback) => {
    if (!callback) {
      return (connect() as Promise<unknown>).catch((error: unknown) => {
        infraErrors.dbConnection++;
        throw error;
      });
    }
    return connect((error, ...rest) => {
      if (error) infraErrors.dbConnection++;
      callback(error, ...rest);
    });
  };
}

/** Connects, retrying DB_MAX_RETRIES times DB_RETRY_INTERVAL_MS apart. Throws the last error. */
export async function connectWithRetry(dataSource: DataSource, db: AppConfig['database'], log: Log): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await dataSource.initialize();
      return;
    } catch (error) {
      if (attempt >= db.maxRetries) throw error;
      log(`database not reachable (${describeError(error)}); retry ${attempt + 1}/${db.maxRetries} in ${db.retryIntervalMs} ms`);
      await sleep(db.retryIntervalMs);
    }
  }
}

/**
 * Runs pending migrations. On PostgreSQL an advisory lock makes every other worker or pod wait
 * until the first is done, so exactly one runs them and the rest find nothing pending.
 */
export async function runMigrations(dataSource: DataSource): Promise<Migration[]> {
  const runner = dataSource.createQueryRunner();
  const postgres = dataSource.options.type === 'postgres';
  try {
    if (postgres) await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const executor = new MigrationExecutor(dataSource, runner);
    executor.transaction = 'each';
    return await executor.executePendingMigrations();
  } finally {
    if (postgres) await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await runner.release();
  }
}

/** Reverts the newest migration (CLI only). */
export async function revertLastMigration(dataSource: DataSource): Promise<void> {
  await dataSource.undoLastMigration({ transaction: 'each' });
}

/**
 * Warns when every worker filling its pool could exceed PostgreSQL's max_connections.
 * Returns the warning, or null when the budget fits.
 */
export async function checkConnectionBudget(dataSource: DataSource, config: AppConfig): Promise<string | null> {
  if (config.database.type !== 'postgres') return null;
  const rows: Array<{ max_connections: string }> = await dataSource.query('SHOW max_connections');
  const max = Number(rows[0]?.max_connections);
  const perWorker = config.database.poolSize + config.database.maxOverflow;
  const total = config.workers.count * perWorker;
  if (!Number.isFinite(max) || total <= max) return null;
  return (
    `connection budget: WORKERS (${config.workers.count}) x (DB_POOL_SIZE + DB_MAX_OVERFLOW) (${perWorker}) = ${total} ` +
    `exceeds PostgreSQL max_connections (${max}) on this pod alone; lower the pool or raise max_connections`
  );
}

export function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describeError(error.errors[0]);
  if (error instanceof Error) return (error as NodeJS.ErrnoException).code ?? error.message;
  return String(error);
}
