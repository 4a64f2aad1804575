import { Global, Inject, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { AppConfig } from '#app/config/app-config.js';
import { APP_CONFIG } from '#app/config/config.module.js';
import { CacheService } from './cache.service.js';
import { DistributedLock, MemoryLock, RedisLock } from './distributed-lock.js';
import { MemoryMessageBus, MessageBus, RedisMessageBus } from './message-bus.js';
import { createRedisClient } from './redis-client.js';
import { RedisHealth } from './redis-health.js';

/** Injection token for the worker's one shared ioredis client (null with CACHE_TYPE=memory). */
export const REDIS_CLIENT = Symbol('REDIS_CLIENT');

/**
 * Owns shared, non-relational state: the key/value cache, the pub/sub bus and locks, each with
 * a Redis and an in-memory implementation chosen by CACHE_TYPE. One ioredis client per worker
 * serves the cache, publishing and locks; the bus adds one connection for SUBSCRIBE.
 */
@Global()
@Module({
  providers: [
    {
      provide: REDIS_CLIENT,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig): Redis | null => {
        if (config.cache.type !== 'redis') return null;
        const client = createRedisClient(config.cache, 'mcp-gateway');
        const log = new Logger('Redis');
        let down = false;
        client.on('ready', () => {
          if (down) log.log('reconnected');
          down = false;
        });
        client.on('error', (error: Error) => {
          if (!down) log.warn(`connection lost (${error.message}); retrying every ${config.cache.redisRetryIntervalMs} ms`);
          down = true;
        });
        return client;
      },
    },
    {
      provide: CacheService,
      inject: [APP_CONFIG, REDIS_CLIENT],
      useFactory: (config: AppConfig, redis: Redis | null) =>
        redis ? CacheService.redis(redis, config.cache.prefix) : CacheService.memory(config.cache.prefix),
    },
    {
      provide: MessageBus,
      inject: [APP_CONFIG, REDIS_CLIENT],
      useFactory: (config: AppConfig, redis: Redis | null): MessageBus => {
        if (!redis) return new MemoryMessageBus();
        // Subscriptions must not give up while Redis is away: ioredis re-subscribes on reconnect.
        // No ready check: a SUBSCRIBE queued before the connection is up puts it in subscriber
        // mode, where the check's INFO is refused and start-up failed (seen with a fast SQLite start).
        const subscriber = createRedisClient(config.cache, 'mcp-gateway-sub', { maxRetriesPerRequest: null, enableReadyCheck: false });
        return new RedisMessageBus(redis, subscriber, `${config.cache.prefix}bus:`);
      },
    },
    {
      provide: DistributedLock,
      inject: [APP_CONFIG, REDIS_CLIENT],
      useFactory: (config: AppConfig, redis: Redis | null): DistributedLock =>
        redis ? new RedisLock(redis, config.cache.prefix) : new MemoryLock(),
    },
    {
      provide: RedisHealth,
      inject: [REDIS_CLIENT],
      useFactory: (redis: Redis | null) => new RedisHealth(redis),
    },
  ],
  exports: [REDIS_CLIENT, CacheService, MessageBus, DistributedLock, RedisHealth],
})
export class CacheModule implements OnApplicationShutdown {
  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis | null,
    @Inject(MessageBus) private readonly bus: MessageBus,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.bus.close();
    if (this.redis) await this.redis.quit().catch(() => this.redis?.disconnect());
  }
}
