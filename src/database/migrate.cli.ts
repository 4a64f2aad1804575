#!/usr/bin/env node
/**
 * Schema migrations, the same set on SQLite and PostgreSQL:
 *   npm run migrate            run pending migrations (what every worker does at start by default)
 *   npm run migrate -- revert  undo the newest one
 *   npm run migrate -- show    list pending migrations; exit 1 if any are pending
 */
import { ConfigError, loadConfig } from '#app/config/app-config.js';
import { connectWithRetry, createDataSource, describeError, revertLastMigration, runMigrations } from './data-source.js';

async function main(command: string): Promise<number> {
  const config = loadConfig();
  const dataSource = createDataSource(config.database);
  await connectWithRetry(dataSource, config.database, (m) => process.stderr.write(`migrate: ${m}\n`));
  try {
    switch (command) {
      case 'run': {
        const ran = await runMigrations(dataSource);
        process.stdout.write(ran.length ? `migrate: ran ${ran.map((m) => m.name).join(', ')}\n` : 'migrate: schema is up to date\n');
        return 0;
      }
      case 'revert':
        await revertLastMigration(dataSource);
        process.stdout.write('migrate: reverted the newest migration\n');
        return 0;
      case 'show': {
        const pending = await dataSource.showMigrations();
        process.stdout.write(pending ? 'migrate: migrations are pending\n' : 'migrate: schema is up to date\n');
        return pending ? 1 : 0;
      }
      default:
        process.stderr.write(`migrate: unknown command "${command}" (use run, revert or show)\n`);
        return 2;
    }
  } finally {
    await dataSource.destroy();
  }
}

try {
  process.exitCode = await main(process.argv[2] ?? 'run');
} catch (error) {
  process.stderr.write(`${error instanceof ConfigError ? error.message : `migrate: ${describeError(error)}`}\n`);
  process.exitCode = 1;
}
