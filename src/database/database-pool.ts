import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { withTimeout } from '#app/common/with-timeout.js';
import type { AppConfig } from '#app/config/app-config.js';
import { APP_CONFIG } from '#app/config/config.module.js';

export interface PoolStats {
  /** Configured ceiling: DB_POOL_SIZE + DB_MAX_OVERFLOW (1 for SQLite). */
  size: number;
  active: number;
  idle: number;
  waiting: number;
}

interface PgPoolLike {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}

/** Read-only view of the connection pool, for metrics and the readiness probe. */
@Injectable()
export class DatabasePool {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  stats(): PoolStats {
    const db = this.config.database;
    if (db.type === 'sqlite') return { size: 1, active: this.dataSource.isInitialized ? 1 : 0, idle: 0, waiting: 0 };
    const pool = (this.dataSource.driver as unknown as { master?: PgPoolLike }).master;
    if (!pool) return { size: db.poolSize + db.maxOverflow, active: 0, idle: 0, waiting: 0 };
    return {
      size: db.poolSize + db.maxOverflow,
      active: pool.totalCount - pool.idleCount,
      idle: pool.idleCount,
      waiting: pool.waitingCount,
    };
  }

  /** Answers `SELECT 1` within `timeoutMs`, or throws. */
  async ping(timeoutMs: number): Promise<void> {
    await withTimeout(this.dataSource.query('SELECT 1'), timeoutMs, `database did not answer within ${timeoutMs} ms`);
  }
}
