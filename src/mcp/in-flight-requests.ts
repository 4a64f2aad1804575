import { Logger } from '@nestjs/common';
import type { MessageBus, Unsubscribe } from '#app/cache/message-bus.js';
import type { JsonRpcId } from './mcp-types.js';

/** Bus channel on which `notifications/cancelled` reaches every worker. */
const CANCEL_CHANNEL = 'mcp.cancel';

interface Entry {
  controller?: AbortController;
  cancelled?: string;
}

/**
 * The session requests this worker is running, so `notifications/cancelled` can stop them
 * whichever worker it lands on: a cancel is applied here and published on the bus, and the
 * worker running the request aborts it. `1` and `"1"` are different ids, as JSON-RPC says.
 */
export class InFlightRequests {
  private readonly log = new Logger('InFlightRequests');
  private readonly entries = new Map<string, Entry>();
  private unsubscribe: Promise<Unsubscribe> | null = null;

  constructor(private readonly bus: MessageBus) {}

  async start(): Promise<void> {
    this.unsubscribe = this.bus.subscribe(CANCEL_CHANNEL, (message) => {
      const m = message as { k?: unknown; r?: unknown };
      if (typeof m.k === 'string') this.abortLocal(m.k, typeof m.r === 'string' ? m.r : 'cancelled by the client');
    });
    await this.unsubscribe;
  }

  async stop(): Promise<void> {
    await (await this.unsubscribe)?.();
  }

  /** Registers a request; `signal` creates its AbortSignal on first use; call `done` when answered. */
  track(sessionId: string, id: JsonRpcId): { signal: () => AbortSignal; done: () => void } {
    const key = keyOf(sessionId, id);
    const entry: Entry = {};
    this.entries.set(key, entry);
    return {
      signal: () => {
        if (!entry.controller) {
          entry.controller = new AbortController();
          if (entry.cancelled) entry.controller.abort(new Error(entry.cancelled));
        }
        return entry.controller.signal;
      },
      done: () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    };
  }

  /** Cancels a request of the session on whichever worker runs it. */
  cancel(sessionId: string, id: JsonRpcId, reason = 'cancelled by the client'): void {
    const key = keyOf(sessionId, id);
    if (this.abortLocal(key, reason)) return;
    this.bus.publish(CANCEL_CHANNEL, { k: key, r: reason }).catch((error: Error) => this.log.warn(`cancel not published: ${error.message}`));
  }

  private abortLocal(key: string, reason: string): boolean {
    const entry = this.entries.get(key);
    if (!entry) return false;
    entry.cancelled = reason;
    entry.controller?.abort(new Error(reason));
    return true;
  }
}

const keyOf = (sessionId: string, id: JsonRpcId): string => `${sessionId}\u0000${typeof id}:${String(id)}`;
