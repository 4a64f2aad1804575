import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * A named lock with a TTL: whoever holds it must extend it before it expires (a heartbeat), or
 * someone else may take it. Used for leader election (federation health checks) and
 * one-at-a-time jobs. Tokens make release and extend safe: only the holder can do either.
 */
export abstract class DistributedLock {
  /** Returns a token if the lock was free and is now ours for `ttlMs`, else null. */
  abstract acquire(name: string, ttlMs: number): Promise<string | null>;
  /** Pushes our expiry out to `ttlMs` from now. False if we no longer hold it. */
  abstract extend(name: string, token: string, ttlMs: number): Promise<boolean>;
  /** Frees the lock if we still hold it. */
  abstract release(name: string, token: string): Promise<boolean>;
}

const newToken = (): string => randomBytes(16).toString('hex');

/** In-process lock for the embedded default, where the single worker always leads. */
export class MemoryLock extends DistributedLock {
  private readonly held = new Map<string, { token: string; expiresAt: number }>();

  async acquire(name: string, ttlMs: number): Promise<string | null> {
    const current = this.held.get(name);
    if (current && current.expiresAt > Date.now()) return null;
    const token = newToken();
    this.held.set(name, { token, expiresAt: Date.now() + ttlMs });
    return token;
  }

  async extend(name: string, token: string, ttlMs: number): Promise<boolean> {
    const current = this.held.get(name);
    if (!current || current.token !== token || current.expiresAt <= Date.now()) return false;
    current.expiresAt = Date.now() + ttlMs;
    return true;
  }

  async release(name: string, token: string): Promise<boolean> {
    const current = this.held.get(name);
    if (!current || current.token !== token) return false;
    this.held.delete(name);
    return current.expiresAt > Date.now();
  }
}

// Compare-and-act scripts: a holder whose lock expired and was taken by another must not touch it.
const EXTEND = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/** Redis lock: SET NX PX to take it, Lua compare-and-set to extend or release it. */
export class RedisLock extends DistributedLock {
  constructor(
    private readonly client: Redis,
    private readonly prefix: string,
  ) {
    super();
  }

  private key(name: string): string {
    return `${this.prefix}lock:${name}`;
  }

  async acquire(name: string, ttlMs: number): Promise<string | null> {
    const token = newToken();
    const ok = await this.client.set(this.key(name), token, 'PX', Math.max(1, Math.round(ttlMs)), 'NX');
    return ok === 'OK' ? token : null;
  }

  async extend(name: string, token: string, ttlMs: number): Promise<boolean> {
    const result = await this.client.eval(EXTEND, 1, this.key(name), token, String(Math.max(1, Math.round(ttlMs))));
    return result === 1;
  }

  async release(name: string, token: string): Promise<boolean> {
    const result = await this.client.eval(RELEASE, 1, this.key(name), token);
    return result === 1;
  }
}
