import { Redis, type RedisOptions } from 'ioredis';
import { withTimeout } from '#app/common/with-timeout.js';
import type { AppConfig } from '#app/config/app-config.js';
import { infraErrors } from '#app/metrics/infra-errors.js';
import { activeParent, tracing } from '#app/metrics/tracing.js';

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
  client.on('error', () => void infraErrors.redisConnection++);
  // Every command passes here: failures are counted, and with tracing on each one inside a traced
  // operation is a client span, its child (where the active context follows awaits).
  const send = client.sendCommand.bind(client);
  client.sendCommand = (command, stream) => {
    command.promise.catch(() => void infraErrors.redisCommand++);
    const parent = tracing && activeParent(tracing);
    if (tracing && parent) {
      const { api, tracer } = tracing;
      const span = tracer.startSpan(`redis ${command.name}`, {
        kind: api.SpanKind.CLIENT,
        attributes: { 'db.system.name': 'redis', 'db.operation.name': command.name, 'db.client.connection.name': connectionName },
      }, parent);
      command.promise.then(
        () => span.end(),
        (error: Error) => {
          span.setStatus({ code: api.SpanStatusCode.ERROR, message: error.message });
          span.end();
        },
      );
    }
    return send(command, stream);
  };
  return client;
}

/** Answers PING within `timeoutMs`, or throws. Does not queue behind a dead connection. */
export async function pingRedis(client: Redis, timeoutMs: number): Promise<void> {
  if (client.status !== 'ready') throw new Error(`redis is ${client.status}`);
  await withTimeout(client.ping(), timeoutMs, `redis did not answer within ${timeoutMs} ms`);
}
