import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { MessageBus, Unsubscribe } from '#app/cache/message-bus.js';
import { assertSessionIdShape, isSessionIdShape } from './session-record.js';

/**
 * A `Last-Event-ID` (or an `after` id) that is malformed or belongs to another stream. Callers
 * answer 400.
 */
export class InvalidEventIdError extends Error {
  override readonly name = 'InvalidEventIdError';
  constructor(
    readonly eventId: string,
    reason: string,
  ) {
    super(`invalid event id ${JSON.stringify(eventId.length > 80 ? `${eventId.slice(0, 80)}…` : eventId)}: ${reason}`);
  }
}

export interface LoggedMessage {
  /** The SSE event id: `${streamId}_${position}`. */
  id: string;
  message: object;
}

export interface MessageLogOptions {
  /** MESSAGE_TTL: how long a stream's messages stay replayable after its last append. */
  ttlSeconds: number;
  /** Messages kept per stream; older ones are dropped. */
  maxLength?: number;
}

/** Stream ids name a session's streams: 'get', 'sse', or a per-POST id. They end up in keys and SSE `id:` lines. */
const STREAM_ID = /^[A-Za-z0-9._-]{1,64}$/;
/** `${milliseconds}-${sequence}`, the shape of a Redis stream entry id (the memory log makes the same). */
const POSITION = /^(\d{1,15})-(\d{1,15})$/;

export const DEFAULT_MAX_LENGTH = 1000;
/** The one bus channel for wake-ups: one subscription per worker, fanned out in process. */
export const APPEND_CHANNEL = 'session.append';

/**
 * Splits an event id (`${streamId}_${position}`) into the stream it belongs to and the position
 * in that stream. Throws InvalidEventIdError for anything else.
 */
export function parseEventId(eventId: string): { streamId: string; position: string } {
  const cut = typeof eventId === 'string' ? eventId.lastIndexOf('_') : -1;
  if (cut < 0) throw new InvalidEventIdError(String(eventId), 'expected <stream>_<position>');
  const streamId = eventId.slice(0, cut);
  const position = eventId.slice(cut + 1);
  if (!STREAM_ID.test(streamId)) throw new InvalidEventIdError(eventId, 'bad stream name');
  if (!POSITION.test(position)) throw new InvalidEventIdError(eventId, 'bad position');
  return { streamId, position };
}

const eventId = (streamId: string, position: string): string => `${streamId}_${position}`;

function assertStream(sessionId: string, streamId: string): void {
  assertSessionIdShape(sessionId);
  if (!STREAM_ID.test(streamId)) throw new TypeError(`stream id must match ${STREAM_ID}, got ${JSON.stringify(streamId)}`);
}

interface WakeUp {
  s: string;
  t: string;
}
const isWakeUp = (m: unknown): m is WakeUp => typeof m === 'object' && m !== null && typeof (m as WakeUp).s === 'string' && typeof (m as WakeUp).t === 'string';
// Neither part can contain a newline (session ids are visible ASCII, stream ids a small charset).
const wakeKey = (sessionId: string, streamId: string): string => `${sessionId}\n${streamId}`;

/**
 * Every server-to-client message of a session's streams (the Streamable HTTP GET stream, a
 * legacy SSE stream, the SSE response of one POST), kept in a bounded log per stream so that:
 * - a client reconnecting with `Last-Event-ID` to any worker gets what it missed replayed, and
 * - the worker holding the live stream is woken (over the MessageBus) when any worker appends.
 *
 * Event ids are `${streamId}_${position}`: unique in the session, increasing within a stream,
 * and they say which stream to replay. Wake-ups are at-most-once hints; the log is the truth,
 * so the holder reads from its last delivered id (and polls as a fallback).
 */
export abstract class SessionMessageLog {
  protected readonly ttlSeconds: number;
  protected readonly maxLength: number;
  private readonly logger = new Logger('SessionMessageLog');
  private readonly wakers = new Map<string, Set<() => void>>();
  private busSubscription: Promise<Unsubscribe> | null = null;
  private closed = false;

  protected constructor(
    private readonly bus: MessageBus,
    options: MessageLogOptions,
  ) {
    this.ttlSeconds = options.ttlSeconds;
    this.maxLength = options.maxLength ?? DEFAULT_MAX_LENGTH;
    if (!Number.isInteger(this.ttlSeconds) || this.ttlSeconds < 1) throw new RangeError(`message TTL must be a whole number of seconds >= 1, got ${this.ttlSeconds}`);
    if (!Number.isInteger(this.maxLength) || this.maxLength < 1) throw new RangeError(`message log length must be a whole number >= 1, got ${this.maxLength}`);
  }

  /**
   * Appends `message` to the stream, wakes its holder (on whatever worker), and returns the
   * event id. Rejects only if the message was not stored.
   */
  async append(sessionId: string, streamId: string, message: object): Promise<string> {
    assertStream(sessionId, streamId);
    const position = await this.write(sessionId, streamId, JSON.stringify(message));
    // The message is stored: failing here would invite a retry and a duplicate. A lost wake-up
    // only delays delivery until the holder's next poll.
    await this.bus.publish(APPEND_CHANNEL, { s: sessionId, t: streamId } satisfies WakeUp).catch((error: unknown) => {
      this.logger.warn(`wake-up for session ${sessionId} stream ${streamId} not published: ${(error as Error)?.message ?? error}`);
    });
    return eventId(streamId, position);
  }

  /**
   * The retained messages of the stream strictly after `afterEventId` (all of them when null),
   * oldest first, at most `limit`. Throws InvalidEventIdError if `afterEventId` is malformed or
   * names another stream. A session or stream that is gone (expired, deleted) reads as empty.
   */
  async readAfter(sessionId: string, streamId: string, afterEventId: string | null, limit = this.maxLength): Promise<LoggedMessage[]> {
    assertStream(sessionId, streamId);
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a whole number >= 1, got ${limit}`);
    let after: string | null = null;
    if (afterEventId !== null) {
      const parsed = parseEventId(afterEventId);
      if (parsed.streamId !== streamId) throw new InvalidEventIdError(afterEventId, `belongs to stream "${parsed.streamId}", not "${streamId}"`);
      after = parsed.position;
    }
    const rows = await this.read(sessionId, streamId, after, limit);
    return rows.map(({ position, json }) => ({ id: eventId(streamId, position), message: JSON.parse(json) as object }));
  }

  /** Removes every stream of the session. */
  abstract deleteSession(sessionId: string): Promise<void>;

  /**
   * Calls `onAppend` (with no arguments: it only means "read the log") whenever any worker
   * appends to this stream. For the worker holding the live stream. Returns the unsubscribe.
   */
  async subscribe(sessionId: string, streamId: string, onAppend: () => void): Promise<() => Promise<void>> {
    assertStream(sessionId, streamId);
    await this.listen();
    const key = wakeKey(sessionId, streamId);
    const waker = (): void => onAppend(); // its own identity, so the same function may subscribe twice
    let set = this.wakers.get(key);
    if (!set) {
      set = new Set();
      this.wakers.set(key, set);
    }
    set.add(waker);
    return async () => {
      const current = this.wakers.get(key);
      if (current?.delete(waker) && current.size === 0) this.wakers.delete(key);
    };
  }

  /** Stops wake-ups and frees timers. The bus itself belongs to the cache module. */
  async close(): Promise<void> {
    this.closed = true;
    this.wakers.clear();
    const subscription = this.busSubscription;
    this.busSubscription = null;
    if (subscription) await subscription.then((unsubscribe) => unsubscribe()).catch(() => undefined);
  }

  /** Stores the JSON text and returns its position (`ms-seq`, increasing within the stream). */
  protected abstract write(sessionId: string, streamId: string, json: string): Promise<string>;

  /** Entries strictly after `after` (from the start when null), oldest first, at most `limit`. */
  protected abstract read(sessionId: string, streamId: string, after: string | null, limit: number): Promise<Array<{ position: string; json: string }>>;

  /** The worker's one bus subscription, made on first use; retried on the next use if it failed. */
  private async listen(): Promise<void> {
    if (this.closed) throw new Error('SessionMessageLog is closed');
    this.busSubscription ??= this.bus.subscribe(APPEND_CHANNEL, (m) => this.wake(m));
    try {
      await this.busSubscription;
    } catch (error) {
      this.busSubscription = null;
      throw error;
    }
  }

  private wake(message: unknown): void {
    if (!isWakeUp(message)) return;
    const set = this.wakers.get(wakeKey(message.s, message.t));
    if (!set) return;
    for (const waker of [...set]) {
      try {
        waker();
      } catch (error) {
        this.logger.warn(`a wake-up handler for session ${message.s} stream ${message.t} threw: ${(error as Error)?.message ?? error}`);
      }
    }
  }
}

interface MemoryStream {
  entries: Array<{ ms: number; seq: number; json: string }>;
  expiresAt: number;
}

/**
 * In-process log for the embedded default (one worker). Same contract as Redis: bounded per
 * stream, expiring MESSAGE_TTL after the last append (dropped when touched and by a periodic
 * sweep), positions shaped like Redis stream ids.
 */
export class MemorySessionMessageLog extends SessionMessageLog {
  private readonly sessions = new Map<string, Map<string, MemoryStream>>();
  private readonly sweeper: NodeJS.Timeout;
  private lastMs = 0;
  private lastSeq = 0;

  constructor(bus: MessageBus, options: MessageLogOptions) {
    super(bus, options);
    const everyMs = Math.min(60_000, Math.max(1000, this.ttlSeconds * 1000));
    this.sweeper = setInterval(() => this.sweep(), everyMs).unref();
  }

  async deleteSession(sessionId: string): Promise<void> {
    this.sessions.delete(sessionId);
  }

  override async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.sessions.clear();
    await super.close();
  }

  protected async write(sessionId: string, streamId: string, json: string): Promise<string> {
    let streams = this.sessions.get(sessionId);
    if (!streams) {
      streams = new Map();
      this.sessions.set(sessionId, streams);
    }
    let stream = this.live(streams, streamId);
    if (!stream) {
      stream = { entries: [], expiresAt: 0 };
      streams.set(streamId, stream);
    }
    // Like Redis: milliseconds, then a sequence within the millisecond; never goes backwards.
    const now = Date.now();
    if (now > this.lastMs) {
      this.lastMs = now;
      this.lastSeq = 0;
    } else {
      this.lastSeq++;
    }
    stream.entries.push({ ms: this.lastMs, seq: this.lastSeq, json });
    if (stream.entries.length > this.maxLength) stream.entries.splice(0, stream.entries.length - this.maxLength);
    stream.expiresAt = now + this.ttlSeconds * 1000;
    return `${this.lastMs}-${this.lastSeq}`;
  }

  protected async read(sessionId: string, streamId: string, after: string | null, limit: number): Promise<Array<{ position: string; json: string }>> {
    const streams = this.sessions.get(sessionId);
    const stream = streams && this.live(streams, streamId);
    if (!stream) return [];
    let start = 0;
    if (after !== null) {
      const [ms, seq] = after.split('-').map(Number);
      // First entry strictly after (ms, seq); entries are in order, so binary search.
      let [low, high] = [0, stream.entries.length];
      while (low < high) {
        const mid = (low + high) >>> 1;
        const e = stream.entries[mid];
        if (e.ms < ms || (e.ms === ms && e.seq <= seq)) low = mid + 1;
        else high = mid;
      }
      start = low;
    }
    return stream.entries.slice(start, start + limit).map((e) => ({ position: `${e.ms}-${e.seq}`, json: e.json }));
  }

  private live(streams: Map<string, MemoryStream>, streamId: string): MemoryStream | undefined {
    const stream = streams.get(streamId);
    if (stream && stream.expiresAt <= Date.now()) {
      streams.delete(streamId);
      return undefined;
    }
    return stream;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [sessionId, streams] of this.sessions) {
      for (const [streamId, stream] of streams) if (stream.expiresAt <= now) streams.delete(streamId);
      if (streams.size === 0) this.sessions.delete(sessionId);
    }
  }
}

/**
 * Redis log: one Redis stream per session stream at `${prefix}session:${id}:stream:${streamId}`
 * (XADD with an exact MAXLEN, EXPIRE on every append), and a set of the session's stream ids at
 * `${prefix}session:${id}:streams` with the same TTL, so deleteSession needs no SCAN.
 *
 * The cap is exact (`MAXLEN n`, not `~ n`): approximate trimming only drops whole 100-entry
 * nodes, so a small cap would not hold at all. Trimming one entry per append is cheap.
 */
export class RedisSessionMessageLog extends SessionMessageLog {
  constructor(
    private readonly client: Redis,
    bus: MessageBus,
    private readonly prefix: string,
    options: MessageLogOptions,
  ) {
    super(bus, options);
  }

  async deleteSession(sessionId: string): Promise<void> {
    if (!isSessionIdShape(sessionId)) return;
    const setKey = this.streamsKey(sessionId);
    const streamIds = await this.client.smembers(setKey);
    // A stream appended between these two commands outlives this by at most MESSAGE_TTL.
    await this.client.del(setKey, ...streamIds.map((streamId) => this.streamKey(sessionId, streamId)));
  }

  protected async write(sessionId: string, streamId: string, json: string): Promise<string> {
    const key = this.streamKey(sessionId, streamId);
    const setKey = this.streamsKey(sessionId);
    const results = await this.client
      .multi()
      .xadd(key, 'MAXLEN', this.maxLength, '*', 'm', json)
      .expire(key, this.ttlSeconds)
      .sadd(setKey, streamId)
      .expire(setKey, this.ttlSeconds)
      .exec();
    if (!results) throw new Error('redis: append to the session message log was aborted');
    const failed = results.find(([error]) => error);
    if (failed) throw failed[0] as Error;
    return results[0][1] as string;
  }

  protected async read(sessionId: string, streamId: string, after: string | null, limit: number): Promise<Array<{ position: string; json: string }>> {
    const entries = await this.client.xrange(this.streamKey(sessionId, streamId), after === null ? '-' : `(${after}`, '+', 'COUNT', limit);
    return entries.map(([position, fields]) => ({ position, json: fields[fields.indexOf('m') + 1] }));
  }

  private streamKey(sessionId: string, streamId: string): string {
    return `${this.prefix}session:${sessionId}:stream:${streamId}`;
  }

  private streamsKey(sessionId: string): string {
    return `${this.prefix}session:${sessionId}:streams`;
  }
}
