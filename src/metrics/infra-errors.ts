/**
 * Failures of the shared infrastructure, counted where they happen (the Redis client factory,
 * the TypeORM logger, the pg pool) and read by MetricsService at scrape time. A plain module
 * tally rather than an injected counter: the Redis and database layers are built before, and
 * without, the metrics module, and counting must cost one increment.
 */
export const infraErrors = {
  /** Redis connection errors (ioredis 'error' events: refused, reset, timeouts). */
  redisConnection: 0,
  /** Redis commands that failed (including those rejected while Redis was away). */
  redisCommand: 0,
  /** SQL statements that failed. */
  dbQuery: 0,
  /** Database connections that failed or broke (pool errors). */
  dbConnection: 0,
};
