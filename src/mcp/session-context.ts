import { SessionMessageLog } from '#app/sessions/session-message-log.js';
import type { SessionRecord } from '#app/sessions/session-record.js';
import { SessionStore } from '#app/sessions/session.store.js';
import type { McpSessionView } from './mcp-context.js';
import type { McpLogLevel } from './protocol.js';

/** The dispatcher's view of a stored session: its changes go straight to the SessionStore. */
export function sessionView(store: SessionStore, record: SessionRecord): McpSessionView {
  return {
    id: record.id,
    protocolVersion: record.protocolVersion,
    clientCapabilities: record.clientCapabilities,
    logLevel: record.logLevel as McpLogLevel | null,
    setLogLevel: async (level) => void (await store.update(record.id, { logLevel: level })),
    subscribe: async (uri) => void (await store.addSubscription(record.id, uri)),
    unsubscribe: async (uri) => void (await store.removeSubscription(record.id, uri)),
    markInitialized: async () => void (await store.update(record.id, { initialized: true })),
  };
}

export interface LiveStream {
  /** `listen` is a 2026-07-28 subscription stream: a stream, not a session. */
  readonly transport: 'streamable-http' | 'sse' | 'ws' | 'listen';
  readonly sessionId: string;
  readonly streamId: string;
  /** Delivers whatever the log holds past what this stream already sent. */
  pump(): void;
  /**
   * Sends a message straight to the client, for connections that cannot be resumed elsewhere
   * (WebSocket). Streams without it get the message through their log.
   */
  deliver?(message: object): void;
  /** Whether the client subscribed to this resource (resources/subscribe, or a listen filter). */
  subscribedTo?(uri: string): boolean | Promise<boolean>;
  /** Ends the stream (shutdown); the client reconnects elsewhere with Last-Event-ID. */
  end(): void;
}

/**
 * The server-to-client streams this worker holds open, by session. Catalog changes are appended
 * to their logs here (one holder per stream, so each message is logged once), and any worker's
 * append wakes the holder through the log's subscription.
 */
export class LiveStreams {
  private readonly bySession = new Map<string, Set<LiveStream>>();

  constructor(private readonly log: SessionMessageLog) {}

  add(stream: LiveStream): () => void {
    let set = this.bySession.get(stream.sessionId);
    if (!set) this.bySession.set(stream.sessionId, (set = new Set()));
    set.add(stream);
    return () => {
      set.delete(stream);
      if (set.size === 0) this.bySession.delete(stream.sessionId);
    };
  }

  get size(): number {
    return this.bySession.size;
  }

  /** Sessions with a stream or connection held here, by transport (for `sessions_active`). */
  sessionsByTransport(): Record<string, number> {
    const counts: Record<string, number> = { 'streamable-http': 0, sse: 0, ws: 0 };
    for (const streams of this.bySession.values()) {
      const first = streams.values().next().value;
      if (first && first.transport !== 'listen') counts[first.transport] = (counts[first.transport] ?? 0) + 1;
    }
    return counts;
  }

  /** Ends every stream held here, so a shutting-down worker is not held open by them. */
  endAll(): void {
    for (const streams of this.bySession.values()) for (const s of streams) s.end();
  }

  /** Sends a notification on every stream held here (e.g. notifications/tools/list_changed). */
  async broadcast(method: string, params: Record<string, unknown> = {}): Promise<void> {
    await Promise.allSettled(this.all().map((s) => this.send(s, { jsonrpc: '2.0', method, params })));
  }

  /** Sends notifications/resources/updated to the streams whose client subscribed to the URI. */
  async resourcesUpdated(uris: string[]): Promise<void> {
    const sends = this.all().map(async (s) => {
      for (const uri of uris) {
        if (s.subscribedTo && (await s.subscribedTo(uri))) {
          await this.send(s, { jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri } });
        }
      }
    });
    await Promise.allSettled(sends);
  }

  private all(): LiveStream[] {
    return [...this.bySession.values()].flatMap((set) => [...set]);
  }

  private async send(stream: LiveStream, message: object): Promise<void> {
    if (stream.deliver) stream.deliver(message);
    else await this.log.append(stream.sessionId, stream.streamId, message);
  }
}
