import { Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { REDIS_CLIENT } from '#app/cache/cache.module.js';
import { MessageBus } from '#app/cache/message-bus.js';
import type { AppConfig } from '#app/config/app-config.js';
import { APP_CONFIG } from '#app/config/config.module.js';
import { MemorySessionMessageLog, RedisSessionMessageLog, SessionMessageLog } from './session-message-log.js';
import { MemorySessionStore, RedisSessionStore, SessionStore } from './session.store.js';

/**
 * Owns the shared state of 2025-era MCP sessions: the session records (SessionStore, sliding
 * SESSION_TTL) and each session's bounded, replayable message logs with cross-worker wake-ups
 * (SessionMessageLog, MESSAGE_TTL). In Redis with CACHE_TYPE=redis, so any worker or pod can
 * serve any request of a session; in process otherwise. Uses the cache module's shared client
 * and bus, and opens no connections of its own.
 */
@Module({
  providers: [
    {
      provide: SessionStore,
      inject: [APP_CONFIG, REDIS_CLIENT],
      useFactory: (config: AppConfig, redis: Redis | null): SessionStore =>
        redis
          ? new RedisSessionStore(redis, config.cache.prefix, config.cache.sessionTtlSeconds)
          : new MemorySessionStore(config.cache.sessionTtlSeconds),
    },
    {
      provide: SessionMessageLog,
      inject: [APP_CONFIG, REDIS_CLIENT, MessageBus],
      useFactory: (config: AppConfig, redis: Redis | null, bus: MessageBus): SessionMessageLog => {
        const options = { ttlSeconds: config.cache.messageTtlSeconds };
        return redis ? new RedisSessionMessageLog(redis, bus, config.cache.prefix, options) : new MemorySessionMessageLog(bus, options);
      },
    },
  ],
  exports: [SessionStore, SessionMessageLog],
})
export class SessionsModule implements OnApplicationShutdown {
  constructor(
    @Inject(SessionStore) private readonly store: SessionStore,
    @Inject(SessionMessageLog) private readonly log: SessionMessageLog,
  ) {}

  // Runs before the global cache module's shutdown (Nest shuts feature modules down first), so
  // the bus is still there to unsubscribe from; close() tolerates it being gone anyway.
  async onApplicationShutdown(): Promise<void> {
    await this.log.close();
    await this.store.close();
  }
}
