import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { RedisScript } from './redis-script.js';
import { assertSessionIdShape, isSessionIdShape, type SessionPatch, type SessionRecord } from './session-record.js';

/** `create` was given an id that is already in use. */
export class SessionExistsError extends Error {
  override readonly name = 'SessionExistsError';
  constructor(readonly sessionId: string) {
    super(`session ${sessionId} already exists`);
  }
}

/** An update lost the compare-and-set race too many times in a row (pathological contention). */
export class SessionUpdateConflictError extends Error {
  override readonly name = 'SessionUpdateConflictError';
  constructor(
    readonly sessionId: string,
    readonly attempts: number,
  ) {
    super(`session ${sessionId}: update still conflicted after ${attempts} attempts`);
  }
}

const FIXED_FIELDS = new Set(['id', 'createdAt', 'username']);

/** `patch` applied to `record`; undefined values and the fixed fields (id, createdAt, username) are ignored. */
function applyPatch(record: SessionRecord, patch: SessionPatch): SessionRecord {
  const next: Record<string, unknown> = { ...record };
  for (const [field, value] of Object.entries(patch)) {
    if (value !== undefined && !FIXED_FIELDS.has(field)) next[field] = value;
  }
  return next as unknown as SessionRecord;
}

/**
 * Session records, shared by every worker (Redis) or kept in process (memory). The TTL
 * (SESSION_TTL, seconds) slides: every read or write of a session pushes its expiry out again,
 * so an idle session disappears and a busy one stays. A missing session is 404 to callers,
 * whether it expired, was deleted or never existed.
 */
export abstract class SessionStore {
  protected constructor(protected readonly ttlSeconds: number) {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) throw new RangeError(`session TTL must be a whole number of seconds >= 1, got ${ttlSeconds}`);
  }

  /** Stores a new session. Rejects with SessionExistsError if the id is taken. */
  abstract create(record: SessionRecord): Promise<void>;

  /** The session, or null. Slides its TTL. */
  abstract get(id: string): Promise<SessionRecord | null>;

  /** Removes the session. False if it was not there. */
  abstract delete(id: string): Promise<boolean>;

  /** Frees timers and the like; the store is unusable afterwards. */
  async close(): Promise<void> {}

  /**
   * Merges `patch` into the session, atomically against concurrent updates from any worker
   * (none is lost), and slides the TTL. Returns the new record, or null if the session is gone.
   */
  update(id: string, patch: SessionPatch): Promise<SessionRecord | null> {
    return this.mutate(id, (record) => applyPatch(record, patch));
  }

  /** Adds a resources/subscribe URI (once), atomically. Null if the session is gone. */
  addSubscription(id: string, uri: string): Promise<SessionRecord | null> {
    return this.mutate(id, (record) => (record.subscriptions.includes(uri) ? record : { ...record, subscriptions: [...record.subscriptions, uri] }));
  }

  /** Removes a resources/subscribe URI, atomically. Null if the session is gone. */
  removeSubscription(id: string, uri: string): Promise<SessionRecord | null> {
    return this.mutate(id, (record) => ({ ...record, subscriptions: record.subscriptions.filter((s) => s !== uri) }));
  }

  /**
   * Replaces the record with `change(record)` so that no concurrent change is lost, and slides
   * the TTL. `change` may run more than once (optimistic retries), so it must be pure.
   */
  protected abstract mutate(id: string, change: (record: SessionRecord) => SessionRecord): Promise<SessionRecord | null>;
}

/**
 * In-process store for the embedded default (one worker). Records are kept as JSON strings, so
 * callers get copies, as from Redis. Expired entries are dropped when touched and by a periodic
 * sweep, so the map cannot grow without bound.
 */
export class MemorySessionStore extends SessionStore {
  private readonly sessions = new Map<string, { json: string; expiresAt: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(ttlSeconds: number) {
    super(ttlSeconds);
    const everyMs = Math.min(60_000, Math.max(1000, ttlSeconds * 1000));
    this.sweeper = setInterval(() => this.sweep(), everyMs).unref();
  }

  async create(record: SessionRecord): Promise<void> {
    assertSessionIdShape(record.id);
    if (this.live(record.id)) throw new SessionExistsError(record.id);
    this.sessions.set(record.id, { json: JSON.stringify(record), expiresAt: this.expiry() });
  }

  async get(id: string): Promise<SessionRecord | null> {
    const entry = this.live(id);
    if (!entry) return null;
    entry.expiresAt = this.expiry();
    return JSON.parse(entry.json) as SessionRecord;
  }

  async delete(id: string): Promise<boolean> {
    const existed = this.live(id) !== undefined;
    this.sessions.delete(id);
    return existed;
  }

  override async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.sessions.clear();
  }

  // One thread and no await between read and write: atomic by construction.
  protected async mutate(id: string, change: (record: SessionRecord) => SessionRecord): Promise<SessionRecord | null> {
    const entry = this.live(id);
    if (!entry) return null;
    entry.json = JSON.stringify(change(JSON.parse(entry.json) as SessionRecord));
    entry.expiresAt = this.expiry();
    return JSON.parse(entry.json) as SessionRecord;
  }

  private expiry(): number {
    return Date.now() + this.ttlSeconds * 1000;
  }

  /** The entry if present and unexpired; an expired one is dropped on the way. */
  private live(id: string): { json: string; expiresAt: number } | undefined {
    const entry = this.sessions.get(id);
    if (entry && entry.expiresAt <= Date.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    return entry;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, entry] of this.sessions) if (entry.expiresAt <= now) this.sessions.delete(id);
  }
}

/**
 * Compare-and-set: writes ARGV[2] (with the TTL ARGV[3]) only if the key still holds ARGV[1].
 * Returns 1 on success, 0 if the key is gone, or the current value when someone else changed it.
 */
const COMPARE_AND_SET = new RedisScript(
  `local current = redis.call('GET', KEYS[1])
if not current then return 0 end
if current ~= ARGV[1] then return current end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1`,
  1,
);

/** Enough for dozens of workers writing one session at the same instant; beyond that, something is wrong. */
const MAX_CAS_ATTEMPTS = 50;

/**
 * Redis store: one JSON string per session at `${prefix}session:${id}`, with the TTL on the key.
 *
 * Updates are optimistic: read, change in JS, then a Lua compare-and-set that writes only if
 * nobody else wrote in between (and otherwise hands back the newer value to retry on, without
 * another read). The change is computed in JS rather than in Lua because Redis' cjson does not
 * round-trip JSON faithfully (an empty array comes back as `{}`), and the record carries
 * client-supplied objects. No WATCH: it would need a connection of its own per update.
 * Within one worker, changes to a session are queued, so retries only come from other workers.
 */
export class RedisSessionStore extends SessionStore {
  /** Per session id, the tail of this worker's queue of changes to it. */
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(
    private readonly client: Redis,
    private readonly prefix: string,
    ttlSeconds: number,
  ) {
    super(ttlSeconds);
  }

  async create(record: SessionRecord): Promise<void> {
    assertSessionIdShape(record.id);
    const ok = await this.client.set(this.key(record.id), JSON.stringify(record), 'EX', this.ttlSeconds, 'NX');
    if (ok !== 'OK') throw new SessionExistsError(record.id);
  }

  async get(id: string): Promise<SessionRecord | null> {
    if (!isSessionIdShape(id)) return null;
    const json = await this.client.getex(this.key(id), 'EX', this.ttlSeconds);
    return json === null ? null : (JSON.parse(json) as SessionRecord);
  }

  async delete(id: string): Promise<boolean> {
    if (!isSessionIdShape(id)) return false;
    return (await this.client.del(this.key(id))) > 0;
  }

  protected mutate(id: string, change: (record: SessionRecord) => SessionRecord): Promise<SessionRecord | null> {
    if (!isSessionIdShape(id)) return Promise.resolve(null);
    // Changes to one session from this worker go one at a time, so they never race each other;
    // only changes from other workers can make the compare-and-set retry.
    const previous = this.inFlight.get(id) ?? Promise.resolve();
    const run = previous.then(() => this.compareAndSet(id, change));
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.set(id, settled);
    void settled.then(() => {
      if (this.inFlight.get(id) === settled) this.inFlight.delete(id);
    });
    return run;
  }

  private async compareAndSet(id: string, change: (record: SessionRecord) => SessionRecord): Promise<SessionRecord | null> {
    const key = this.key(id);
    let current = await this.client.get(key);
    for (let attempt = 1; current !== null; attempt++) {
      const next = JSON.stringify(change(JSON.parse(current) as SessionRecord));
      const result = await COMPARE_AND_SET.run(this.client, [key, current, next, this.ttlSeconds]);
      if (result === 1) return JSON.parse(next) as SessionRecord;
      if (result === 0) return null;
      if (attempt >= MAX_CAS_ATTEMPTS) throw new SessionUpdateConflictError(id, attempt);
      current = String(result);
      // Lost several races in a row: step aside briefly so the writers spread out.
      if (attempt >= 3) await sleep(Math.random() * attempt * 2);
    }
    return null;
  }

  private key(id: string): string {
    return `${this.prefix}session:${id}`;
  }
}
