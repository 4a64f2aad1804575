import type { Redis } from 'ioredis';
import { pingRedis } from './redis-client.js';

/** Whether the shared Redis answers; null client means Redis is not configured (memory cache). */
export class RedisHealth {
  constructor(private readonly client: Redis | null) {}

  get configured(): boolean {
    return this.client !== null;
  }

  /** Throws unless Redis is configured and answers PING within `timeoutMs`. */
  async check(timeoutMs: number): Promise<void> {
    if (this.client) await pingRedis(this.client, timeoutMs);
  }
}
