import { Redis, type RedisOptions } from 'ioredis';
import { withTimeout } from '#app/common/with-timeout.js';
import type { AppConfig } from '#app/config/app-config.js';

/**
 * Builds an ioredis client that never gives up on the server: it reconnects every
 * REDIS_RETRY_INTERVAL_MS for as long as the process lives, so a Redis outage makes the worker
 * not-ready rather than crash-looping. A command issued while Redis is away waits through
 * REDIS_MAX_RETRIES reconnect attempts, then fails with a clear error.
 */
export function createRedisClient(cache: AppConfig['cache'], connectionName: string, overrides: RedisOptions = {}): Redis {
  const client = new Redis(cache.redisUrl, {
    connectionName,
    maxRetriesPerRequest: cache.redisMaxRetries,
    retryStrategy: () => cache.redisRetryIntervalMs,
    connectTimeout: Math.max(1000, cache.redisRetryIntervalMs),
    enableOfflineQueue: true,
    lazyConnect: false,
    ...overrides,
  });
  // Without a listener, ioredis reports connection errors as unhandled 'error' events.
  client.on('error', () => undefined);
  return client;
}

/** Answers PING within `timeoutMs`, or throws. Does not queue behind a dead connection. */
export async function pingRedis(client: Redis, timeoutMs: number): Promise<void> {
  if (client.status !== 'ready') throw new Error(`redis is ${client.status}`);
  await withTimeout(client.ping(), timeoutMs, `redis did not answer within ${timeoutMs} ms`);
}
