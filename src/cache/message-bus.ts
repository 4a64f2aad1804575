import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';

export type BusHandler = (message: unknown) => void;
export type Unsubscribe = () => Promise<void>;

/**
 * A small publish/subscribe bus for cross-worker signals (catalog changed, session wake-ups).
 * Messages are JSON values. Delivery is at-most-once: anything that must not be lost is written
 * elsewhere first (the database, a session's message log) and the bus only says "look".
 */
export abstract class MessageBus {
  abstract publish(channel: string, message: unknown): Promise<void>;
  abstract subscribe(channel: string, handler: BusHandler): Promise<Unsubscribe>;
  abstract close(): Promise<void>;
}

/** In-process bus for the embedded default (a single worker). */
export class MemoryMessageBus extends MessageBus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  async publish(channel: string, message: unknown): Promise<void> {
    // Deliver asynchronously and as a copy, like Redis would.
    const copy = JSON.parse(JSON.stringify(message ?? null)) as unknown;
    queueMicrotask(() => this.emitter.emit(channel, copy));
  }

  async subscribe(channel: string, handler: BusHandler): Promise<Unsubscribe> {
    this.emitter.on(channel, handler);
    return async () => {
      this.emitter.off(channel, handler);
    };
  }

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}

/**
 * Redis pub/sub. Publishes on the worker's shared client; subscribes on one dedicated
 * connection (a subscribed connection can't run other commands), which ioredis re-subscribes
 * after a reconnect.
 */
export class RedisMessageBus extends MessageBus {
  private readonly handlers = new Map<string, Set<BusHandler>>();

  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    private readonly prefix: string,
  ) {
    super();
    subscriber.on('message', (channel: string, raw: string) => {
      const handlers = this.handlers.get(channel);
      if (!handlers) return;
      let message: unknown;
      try {
        message = JSON.parse(raw);
      } catch {
        return; // not ours
      }
      for (const handler of handlers) handler(message);
    });
  }

  async publish(channel: string, message: unknown): Promise<void> {
    await this.publisher.publish(this.prefix + channel, JSON.stringify(message ?? null));
  }

  async subscribe(channel: string, handler: BusHandler): Promise<Unsubscribe> {
    const full = this.prefix + channel;
    let handlers = this.handlers.get(full);
    if (!handlers) {
      handlers = new Set();
      this.handlers.set(full, handlers);
      await this.subscriber.subscribe(full);
    }
    handlers.add(handler);
    return async () => {
      const set = this.handlers.get(full);
      if (!set?.delete(handler) || set.size > 0) return;
      this.handlers.delete(full);
      await this.subscriber.unsubscribe(full).catch(() => undefined);
    };
  }

  async close(): Promise<void> {
    this.handlers.clear();
    this.subscriber.disconnect();
  }
}
