import { createCache, KeyvAdapter, type Cache, type CacheManagerStore } from 'cache-manager';
import { redisInsStore } from 'cache-manager-ioredis-yet';
import type { Redis } from 'ioredis';
import { Keyv } from 'keyv';

/**
 * Key/value with TTL, shared by every worker when CACHE_TYPE=redis and kept in process when
 * CACHE_TYPE=memory. Every key carries CACHE_PREFIX. TTLs are in milliseconds.
 */
export class CacheService {
  private readonly cache: Cache;
  private readonly prefix: string;

  private constructor(cache: Cache, prefix: string) {
    this.cache = cache;
    this.prefix = `${prefix}cache:`;
  }

  static memory(prefix: string): CacheService {
    return new CacheService(createCache({ stores: [new Keyv({ namespace: undefined })] }), prefix);
  }

  /** Uses the worker's shared ioredis client through cache-manager-ioredis-yet and KeyvAdapter. */
  static redis(client: Redis, prefix: string): CacheService {
    // ioredis-yet's typings predate cache-manager 7; at run time its store fits KeyvAdapter.
    const store = new KeyvAdapter(redisInsStore(client) as unknown as CacheManagerStore);
    return new CacheService(createCache({ stores: [new Keyv({ store, namespace: undefined })] }), prefix);
  }

  async get<T>(key: string): Promise<T | undefined> {
    const value = await this.cache.get<T>(this.prefix + key);
    return value ?? undefined;
  }

  async set<T>(key: string, value: T, ttlMs?: number): Promise<void> {
    await this.cache.set(this.prefix + key, value, ttlMs);
  }

  async del(key: string): Promise<void> {
    await this.cache.del(this.prefix + key);
  }

  /** Returns the cached value, or computes, stores and returns it. */
  async wrap<T>(key: string, compute: () => Promise<T>, ttlMs?: number): Promise<T> {
    return this.cache.wrap(this.prefix + key, compute, ttlMs);
  }

  async close(): Promise<void> {
    await this.cache.disconnect().catch(() => undefined);
  }
}
