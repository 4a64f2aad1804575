import { Global, Inject, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { AppConfig } from '#app/config/app-config.js';
import { APP_CONFIG } from '#app/config/config.module.js';
import { checkConnectionBudget, connectWithRetry, countConnectFailures, createDataSource, runMigrations, traceQueries } from './data-source.js';
import { DatabasePool } from './database-pool.js';

/**
 * Owns the TypeORM data source: connects with retries at start, runs migrations (once per
 * cluster, see `runMigrations`), checks the connection budget, and closes the pool on shutdown.
 * Repositories get the `DataSource`; nothing else imports TypeORM.
 */
@Global()
@Module({
  providers: [
    {
      provide: DataSource,
      inject: [APP_CONFIG],
      useFactory: async (config: AppConfig): Promise<DataSource> => {
        const log = new Logger('Database');
        const dataSource = createDataSource(config.database);
        await connectWithRetry(dataSource, config.database, (m) => log.warn(m));
        countConnectFailures(dataSource);
        traceQueries(dataSource);
        if (config.database.migrateOnStart) {
          const ran = await runMigrations(dataSource);
          if (ran.length > 0) log.log(`ran ${ran.length} migration(s): ${ran.map((m) => m.name).join(', ')}`);
        }
        const warning = await checkConnectionBudget(dataSource, config);
        if (warning) log.warn(warning);
        log.log(`connected to ${config.database.type === 'sqlite' ? `SQLite ${config.database.sqlitePath}` : 'PostgreSQL'}`);
        return dataSource;
      },
    },
    DatabasePool,
  ],
  exports: [DataSource, DatabasePool],
})
export class DatabaseModule implements OnApplicationShutdown {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}
