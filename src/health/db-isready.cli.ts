#!/usr/bin/env node
/**
 * Start-up probe: exits 0 once the configured database accepts connections.
 *   npm run db:isready -- --max-tries=1 --timeout=2
 *   node dist/health/db-isready.cli.js --max-tries=30 --interval=2 --timeout=2
 * Exit codes: 0 ready, 1 not ready after all tries, 2 bad arguments or configuration.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { withTimeout } from '#app/common/with-timeout.js';
import { ConfigError, loadConfig } from '#app/config/app-config.js';
import { createDataSource, describeError } from '#app/database/data-source.js';

async function probeOnce(timeoutMs: number): Promise<void> {
  const config = loadConfig();
  const db = config.database.type === 'postgres'
    ? { ...config.database, poolSize: 1, maxOverflow: 0, poolTimeoutMs: timeoutMs }
    : config.database;
  const dataSource = createDataSource(db);
  try {
    await withTimeout(
      dataSource.initialize().then(() => dataSource.query('SELECT 1')),
      timeoutMs,
      `no answer within ${timeoutMs} ms`,
    );
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy().catch(() => undefined);
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      'max-tries': { type: 'string', default: '30' },
      interval: { type: 'string', default: '2' },
      timeout: { type: 'string', default: '2' },
    },
    strict: true,
  });
  const tries = Number(values['max-tries']);
  const intervalMs = Number(values.interval) * 1000;
  const timeoutMs = Number(values.timeout) * 1000;
  if (![tries, intervalMs, timeoutMs].every((n) => Number.isFinite(n) && n > 0)) {
    process.stderr.write('db-isready: --max-tries, --interval and --timeout must be positive numbers\n');
    return 2;
  }
  for (let attempt = 1; attempt <= tries; attempt++) {
    try {
      await probeOnce(timeoutMs);
      process.stdout.write('db-isready: database accepts connections\n');
      return 0;
    } catch (error) {
      if (error instanceof ConfigError) {
        process.stderr.write(`${error.message}\n`);
        return 2;
      }
      process.stderr.write(`db-isready: attempt ${attempt}/${tries} failed: ${describeError(error)}\n`);
      if (attempt < tries) await sleep(intervalMs);
    }
  }
  return 1;
}

process.exitCode = await main();
