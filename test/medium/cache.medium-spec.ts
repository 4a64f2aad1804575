import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Redis } from 'ioredis';
import { CacheService } from '#app/cache/cache.service.js';
import { DistributedLock, MemoryLock, RedisLock } from '#app/cache/distributed-lock.js';
import { MemoryMessageBus, MessageBus, RedisMessageBus } from '#app/cache/message-bus.js';
import { createRedisClient } from '#app/cache/redis-client.js';
import { RedisHealth } from '#app/cache/redis-health.js';
import { loadConfig } from '#app/config/app-config.js';
import { freePort } from '../helpers/gateway-process.js';
import { REDIS_URL, serviceAvailable } from '../helpers/services.js';
import { waitFor } from '../helpers/wait.js';

/**
 * One behavioural table for the cache, the bus and the lock, run against the in-memory and the
 * Redis implementations, so both keep the same contract. The Redis side uses separate clients
 * where two workers would.
 */

const hasRedis = await serviceAvailable('redis');
const PREFIX = `mcpgw-test-${randomBytes(4).toString('hex')}:`;
const cacheConfig = loadConfig({ CACHE_TYPE: 'redis', REDIS_URL, CACHE_PREFIX: PREFIX, REDIS_MAX_RETRIES: '1', REDIS_RETRY_INTERVAL_MS: '200' }).cache;
const unique = (label: string): string => `${label}-${randomBytes(4).toString('hex')}`;


/** `promise`, or `fallback` after `ms`; the timer is cleared so it never holds the process open. */
async function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((r) => {
    timer = setTimeout(() => r(fallback), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

interface Backend {
  cache: CacheService;
  /** Two buses; on Redis they are two "workers" with their own connections. */
  busA: MessageBus;
  busB: MessageBus;
  /** Two views of the lock; on Redis, on two separate connections. */
  lockA: DistributedLock;
  lockB: DistributedLock;
  /** A raw client to inspect Redis (null for memory). */
  raw: Redis | null;
  close: () => Promise<void>;
}

interface BackendFactory {
  name: 'memory' | 'redis';
  needsRedis: boolean;
  create: () => Promise<Backend>;
}

const memory: BackendFactory = {
  name: 'memory',
  needsRedis: false,
  create: async () => {
    const bus = new MemoryMessageBus();
    const lock = new MemoryLock();
    const cache = CacheService.memory(PREFIX);
    return {
      cache,
      busA: bus,
      busB: bus,
      lockA: lock,
      lockB: lock,
      raw: null,
      close: async () => {
        await bus.close();
        await cache.close();
      },
    };
  },
};

const redis: BackendFactory = {
  name: 'redis',
  needsRedis: true,
  create: async () => {
    const workerA = createRedisClient(cacheConfig, 'cache-spec-a');
    const workerB = createRedisClient(cacheConfig, 'cache-spec-b');
    const subA = createRedisClient(cacheConfig, 'cache-spec-a-sub', { maxRetriesPerRequest: null });
    const subB = createRedisClient(cacheConfig, 'cache-spec-b-sub', { maxRetriesPerRequest: null });
    const raw = new Redis(REDIS_URL);
    const busA = new RedisMessageBus(workerA, subA, `${PREFIX}bus:`);
    const busB = new RedisMessageBus(workerB, subB, `${PREFIX}bus:`);
    const cache = CacheService.redis(workerA, PREFIX);
    return {
      cache,
      busA,
      busB,
      lockA: new RedisLock(workerA, PREFIX),
      lockB: new RedisLock(workerB, PREFIX),
      raw,
      close: async () => {
        await busA.close();
        await busB.close();
        await cache.close();
        const left = await raw.keys(`${PREFIX}*`);
        if (left.length > 0) await raw.del(...left);
        for (const client of [workerA, workerB, raw]) await client.quit().catch(() => client.disconnect());
      },
    };
  },
};

describe.each([memory, redis])('$name backend', (factory) => {
  // reason: Redis not reachable outside CI (serviceAvailable throws under CI=true instead)
  const d = factory.needsRedis && !hasRedis ? describe.skip : describe;

  d('behaviour', () => {
    let b: Backend;
    beforeAll(async () => {
      b = await factory.create();
    });
    afterAll(async () => {
      await b?.close();
    });

    describe('CacheService', () => {
      it('set, get and del', async () => {
        const key = unique('k');
        expect(await b.cache.get(key)).toBeUndefined();
        await b.cache.set(key, { n: 1, list: ['a', 'b'], nested: { ok: true } });
        expect(await b.cache.get(key)).toEqual({ n: 1, list: ['a', 'b'], nested: { ok: true } });
        await b.cache.set(key, 'replaced');
        expect(await b.cache.get(key)).toBe('replaced');
        await b.cache.del(key);
        expect(await b.cache.get(key)).toBeUndefined();
      });

      it.each([
        ['zero', 0],
        ['false', false],
        ['empty string', ''],
        ['number', 42.5],
        ['array', [1, 'two', null]],
      ])('round-trips %s', async (_label, value) => {
        const key = unique('v');
        await b.cache.set(key, value);
        expect(await b.cache.get(key)).toEqual(value);
      });

      it('expires a value after its TTL (ms)', async () => {
        const key = unique('ttl');
        await b.cache.set(key, 'short', 150);
        expect(await b.cache.get(key)).toBe('short');
        await sleep(300);
        expect(await b.cache.get(key)).toBeUndefined();
      });

      it('keeps a value without a TTL', async () => {
        const key = unique('no-ttl');
        await b.cache.set(key, 'kept');
        await sleep(200);
        expect(await b.cache.get(key)).toBe('kept');
      });

      it('wrap computes once and then serves the stored value', async () => {
        const key = unique('wrap');
        let calls = 0;
        const compute = async (): Promise<{ at: number }> => {
          calls++;
          await sleep(20);
          return { at: calls };
        };
        expect(await b.cache.wrap(key, compute, 5000)).toEqual({ at: 1 });
        expect(await b.cache.wrap(key, compute, 5000)).toEqual({ at: 1 });
        expect(await b.cache.get(key)).toEqual({ at: 1 });
        expect(calls).toBe(1);
      });

      it('wrap coalesces concurrent callers in one process', async () => {
        const key = unique('wrap-concurrent');
        let calls = 0;
        const compute = async (): Promise<string> => {
          calls++;
          await sleep(50);
          return 'value';
        };
        const results = await Promise.all([1, 2, 3, 4].map(() => b.cache.wrap(key, compute, 5000)));
        expect(results).toEqual(['value', 'value', 'value', 'value']);
        expect(calls).toBe(1);
      });

      it('wrap computes again after the TTL', async () => {
        const key = unique('wrap-ttl');
        let calls = 0;
        const compute = async (): Promise<number> => ++calls;
        expect(await b.cache.wrap(key, compute, 150)).toBe(1);
        await sleep(300);
        expect(await b.cache.wrap(key, compute, 150)).toBe(2);
      });

      if (factory.needsRedis) {
        it('stores the key in Redis under CACHE_PREFIX, with the TTL set on the key', async () => {
          const key = unique('probe');
          await b.cache.set(key, { hello: 'world' }, 5000);
          const found = await b.raw!.keys(`*${key}*`);
          expect(found).toEqual([`${PREFIX}cache:${key}`]);
          const pttl = await b.raw!.pttl(found[0]);
          expect(pttl).toBeGreaterThan(0);
          expect(pttl).toBeLessThanOrEqual(5000);
          await b.cache.del(key);
          expect(await b.raw!.exists(`${PREFIX}cache:${key}`)).toBe(0);
        });

        it('a second CacheService on another connection sees the same values', async () => {
          const key = unique('shared');
          const other = createRedisClient(cacheConfig, 'cache-spec-other');
          try {
            await b.cache.set(key, { from: 'A' });
            expect(await CacheService.redis(other, PREFIX).get(key)).toEqual({ from: 'A' });
            // ...but not a service with another prefix.
            expect(await CacheService.redis(other, `${PREFIX}other:`).get(key)).toBeUndefined();
          } finally {
            await other.quit();
          }
        });
      }
    });

    describe('MessageBus', () => {
      it('delivers a publish to a subscriber on the other bus (another worker)', async () => {
        const channel = unique('ch');
        const received: unknown[] = [];
        const unsubscribe = await b.busB.subscribe(channel, (m) => received.push(m));
        await b.busA.publish(channel, { event: 'catalog-changed', ids: [1, 2] });
        await waitFor(() => received.length === 1, 2000, 'delivery');
        expect(received).toEqual([{ event: 'catalog-changed', ids: [1, 2] }]);
        await unsubscribe();
      });

      it('delivers only to subscribers of that channel', async () => {
        const [one, two] = [unique('one'), unique('two')];
        const onOne: unknown[] = [];
        const onTwo: unknown[] = [];
        const u1 = await b.busB.subscribe(one, (m) => onOne.push(m));
        const u2 = await b.busB.subscribe(two, (m) => onTwo.push(m));
        await b.busA.publish(two, 'for-two');
        await waitFor(() => onTwo.length === 1, 2000, 'delivery on two');
        expect(onOne).toEqual([]);
        expect(onTwo).toEqual(['for-two']);
        await u1();
        await u2();
      });

      it('delivers to every handler of the channel; unsubscribing one keeps the other', async () => {
        const channel = unique('multi');
        const first: unknown[] = [];
        const second: unknown[] = [];
        const u1 = await b.busB.subscribe(channel, (m) => first.push(m));
        const u2 = await b.busB.subscribe(channel, (m) => second.push(m));
        await b.busA.publish(channel, 1);
        await waitFor(() => first.length === 1 && second.length === 1, 2000, 'delivery to both');
        await u1();
        await b.busA.publish(channel, 2);
        await waitFor(() => second.length === 2, 2000, 'second delivery');
        expect(first).toEqual([1]);
        expect(second).toEqual([1, 2]);
        await u2();
      });

      it('unsubscribe stops delivery', async () => {
        const [channel, sentinel] = [unique('stop'), unique('sentinel')];
        const received: unknown[] = [];
        const done: unknown[] = [];
        const unsubscribe = await b.busB.subscribe(channel, (m) => received.push(m));
        const unsubscribeSentinel = await b.busB.subscribe(sentinel, (m) => done.push(m));
        await unsubscribe();
        await unsubscribe(); // a second call is harmless
        await b.busA.publish(channel, 'should not arrive');
        await b.busA.publish(sentinel, 'done'); // published after, so delivered after
        await waitFor(() => done.length === 1, 2000, 'sentinel');
        await sleep(30);
        expect(received).toEqual([]);
        await unsubscribeSentinel();
      });

      it('delivers JSON copies, not the published object', async () => {
        const channel = unique('copy');
        const received: unknown[] = [];
        const unsubscribe = await b.busB.subscribe(channel, (m) => received.push(m));
        const message = { nested: { list: [1, 2] }, when: new Date('2026-01-02T03:04:05.000Z'), skip: undefined };
        await b.busA.publish(channel, message);
        message.nested.list.push(3); // mutating after publish must not show through
        await waitFor(() => received.length === 1, 2000, 'delivery');
        expect(received[0]).not.toBe(message);
        expect(received[0]).toEqual({ nested: { list: [1, 2] }, when: '2026-01-02T03:04:05.000Z' });
        expect(received[0]).not.toHaveProperty('skip');
        await unsubscribe();
      });

      it('publishes undefined as null', async () => {
        const channel = unique('null');
        const received: unknown[] = [];
        const unsubscribe = await b.busB.subscribe(channel, (m) => received.push(m));
        await b.busA.publish(channel, undefined);
        await waitFor(() => received.length === 1, 2000, 'delivery');
        expect(received).toEqual([null]);
        await unsubscribe();
      });

      if (factory.needsRedis) {
        it('uses prefixed Redis channels and really unsubscribes the connection', async () => {
          const channel = unique('raw');
          const full = `${PREFIX}bus:${channel}`;
          const numsub = async (): Promise<number> => Number(((await b.raw!.pubsub('NUMSUB', full)) as [string, string | number])[1]);
          const unsubscribe = await b.busB.subscribe(channel, () => undefined);
          expect(await numsub()).toBe(1);
          // A raw publish on the prefixed channel reaches a bus subscriber; a non-JSON one is ignored.
          const received: unknown[] = [];
          const unsubscribe2 = await b.busA.subscribe(channel, (m) => received.push(m));
          await b.raw!.publish(full, 'not json');
          await b.raw!.publish(full, '{"raw":true}');
          await waitFor(() => received.length === 1, 2000, 'raw delivery');
          expect(received).toEqual([{ raw: true }]);
          await unsubscribe();
          await unsubscribe2();
          expect(await numsub()).toBe(0);
        });
      }
    });

    describe('DistributedLock', () => {
      it('refuses a second acquire while the lock is held', async () => {
        const name = unique('lock');
        const token = await b.lockA.acquire(name, 5000);
        expect(typeof token).toBe('string');
        expect(await b.lockB.acquire(name, 5000)).toBeNull();
        expect(await b.lockA.acquire(name, 5000)).toBeNull();
        expect(await b.lockA.release(name, token!)).toBe(true);
      });

      it('release and extend with a wrong token fail and leave the lock held', async () => {
        const name = unique('lock');
        const token = await b.lockA.acquire(name, 5000);
        expect(await b.lockB.release(name, 'not-the-token')).toBe(false);
        expect(await b.lockB.extend(name, 'not-the-token', 5000)).toBe(false);
        expect(await b.lockB.acquire(name, 5000)).toBeNull();
        expect(await b.lockA.release(name, token!)).toBe(true);
      });

      it('extend keeps the lock past its first TTL', async () => {
        const name = unique('lock');
        const token = await b.lockA.acquire(name, 150);
        await sleep(50);
        expect(await b.lockA.extend(name, token!, 800)).toBe(true);
        await sleep(250); // past the first 150 ms
        expect(await b.lockB.acquire(name, 5000)).toBeNull();
        expect(await b.lockA.release(name, token!)).toBe(true);
      });

      it('expiry frees the lock, and the old holder can no longer extend or release it', async () => {
        const name = unique('lock');
        const old = await b.lockA.acquire(name, 150);
        expect(old).not.toBeNull();
        await sleep(300);
        const next = await b.lockB.acquire(name, 5000);
        expect(next).not.toBeNull();
        expect(next).not.toBe(old);
        expect(await b.lockA.extend(name, old!, 5000)).toBe(false);
        expect(await b.lockA.release(name, old!)).toBe(false);
        // The new holder still holds it.
        expect(await b.lockA.acquire(name, 5000)).toBeNull();
        expect(await b.lockB.release(name, next!)).toBe(true);
      });

      it('an expired lock cannot be extended by its holder', async () => {
        const name = unique('lock');
        const token = await b.lockA.acquire(name, 150);
        await sleep(300);
        expect(await b.lockA.extend(name, token!, 5000)).toBe(false);
      });

      it('release frees the lock at once', async () => {
        const name = unique('lock');
        const token = await b.lockA.acquire(name, 5000);
        expect(await b.lockA.release(name, token!)).toBe(true);
        expect(await b.lockA.release(name, token!)).toBe(false); // already released
        const next = await b.lockB.acquire(name, 5000);
        expect(next).not.toBeNull();
        expect(await b.lockB.release(name, next!)).toBe(true);
      });

      it('locks with different names are independent', async () => {
        const [x, y] = [unique('lock-x'), unique('lock-y')];
        const tx = await b.lockA.acquire(x, 5000);
        const ty = await b.lockB.acquire(y, 5000);
        expect(tx).not.toBeNull();
        expect(ty).not.toBeNull();
        expect(await b.lockA.release(x, tx!)).toBe(true);
        expect(await b.lockB.release(y, ty!)).toBe(true);
      });

      if (factory.needsRedis) {
        it('keeps the lock in Redis under CACHE_PREFIX with a TTL, holding the token', async () => {
          const name = unique('lock');
          const token = await b.lockA.acquire(name, 5000);
          expect(await b.raw!.get(`${PREFIX}lock:${name}`)).toBe(token);
          const pttl = await b.raw!.pttl(`${PREFIX}lock:${name}`);
          expect(pttl).toBeGreaterThan(0);
          expect(pttl).toBeLessThanOrEqual(5000);
          await b.lockA.release(name, token!);
          expect(await b.raw!.exists(`${PREFIX}lock:${name}`)).toBe(0);
        });
      }
    });
  });
});

describe('Redis client resilience', () => {
  let child: ChildProcess | undefined;
  let client: Redis | undefined;

  afterAll(async () => {
    client?.disconnect();
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await within(exited, 3000, undefined);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  it('reports a dead Redis quickly without unhandled errors, then recovers on the same client once Redis is up', async () => {
    const port = await freePort();
    const config = loadConfig({
      CACHE_TYPE: 'redis',
      REDIS_URL: `redis://127.0.0.1:${port}/0`,
      CACHE_PREFIX: PREFIX,
      REDIS_MAX_RETRIES: '0',
      REDIS_RETRY_INTERVAL_MS: '100',
    }).cache;
    const consoleError = jest.spyOn(console, 'error');
    try {
      client = createRedisClient(config, 'resilience-spec');
      let errors = 0;
      client.on('error', () => errors++);
      const health = new RedisHealth(client);
      expect(health.configured).toBe(true);

      const started = Date.now();
      await expect(health.check(300)).rejects.toThrow(/^redis is (connecting|reconnecting|close|end|wait)/);
      expect(Date.now() - started).toBeLessThan(300); // it does not queue behind the dead connection

      await waitFor(() => errors >= 2, 3000, 'reconnect attempts');
      expect(client.status).not.toBe('end'); // still retrying, never gives up

      // A command issued while Redis is away fails (after REDIS_MAX_RETRIES reconnects) instead of hanging.
      const outcome = await within(client.get('x').then(() => 'resolved', (e: Error) => e.name), 3000, 'hung');
      expect(outcome).toBe('MaxRetriesPerRequestError');

      // Bring a throwaway Redis up on that port; the same client must recover by itself.
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      const spawnError = new Promise<Error>((r) => child!.once('error', r));
      const ready = new Promise<void>((r) => client!.once('ready', () => r()));
      const first = await within(Promise.race([ready.then(() => 'ready'), spawnError.then((e) => `spawn failed: ${e.message}`)]), 5000, 'timeout');
      expect(first).toBe('ready');
      await expect(health.check(1000)).resolves.toBeUndefined();
      await client.set(`${PREFIX}resilience`, 'ok');
      expect(await client.get(`${PREFIX}resilience`)).toBe('ok');

      const unhandled = consoleError.mock.calls.filter((args) => String(args[0]).includes('Unhandled error event'));
      expect(unhandled).toEqual([]);
    } finally {
      consoleError.mockRestore();
    }
  });
});
