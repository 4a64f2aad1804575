import type { CatalogSnapshotService } from '#app/catalog/catalog-snapshot.service.js';
import type { AppConfig } from '#app/config/app-config.js';
import type { FederatedCalls } from '#app/federation/federated-calls.js';
import type { LoggedMessage, SessionMessageLog } from '#app/sessions/session-message-log.js';
import type { SessionStore } from '#app/sessions/session.store.js';
import type { ClientRequests } from '../client-requests.js';
import type { InFlightRequests } from '../in-flight-requests.js';
import type { McpDispatcher } from '../mcp-dispatcher.js';
import type { LiveStream, LiveStreams } from '../session-context.js';
import type { McpHttpExchange } from './http-common.js';
import type { SseWriter } from './sse-writer.js';

/** What the session-based HTTP transports (Streamable HTTP, legacy SSE) are built from. */
export interface SessionTransportDeps {
  dispatcher: McpDispatcher;
  inFlight: InFlightRequests;
  clientRequests: ClientRequests;
  federation: FederatedCalls;
  exchange: McpHttpExchange;
  sessions: SessionStore;
  log: SessionMessageLog;
  live: LiveStreams;
  catalog: CatalogSnapshotService;
  config: AppConfig;
}

/**
 * Serves one session stream from its message log until the client goes: writes `backlog`, then
 * every later append, whichever worker made it (the log's wake-up, and a poll at each
 * keep-alive in case a wake-up was lost). Registered as a live stream, so catalog notifications
 * for the session are logged by this worker.
 */
export async function serveSessionStream(
  deps: Pick<SessionTransportDeps, 'log' | 'live' | 'sessions' | 'config'>,
  sse: SseWriter,
  transport: LiveStream['transport'],
  sessionId: string,
  streamId: string,
  after: string | null,
  backlog: LoggedMessage[] = [],
): Promise<void> {
  const { log, live, sessions, config } = deps;
  let last = after;
  const write = (messages: LoggedMessage[]) => {
    for (const m of messages) {
      if (!sse.isOpen) return;
      sse.event(JSON.stringify(m.message), { id: m.id, event: 'message' });
      last = m.id;
    }
  };
  let pumping = false;
  let again = false;
  const pump = (): void => {
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    void log
      .readAfter(sessionId, streamId, last)
      .then(write)
      .catch(() => undefined)
      .finally(() => {
        pumping = false;
        if (again && sse.isOpen) {
          again = false;
          pump();
        }
      });
  };
  write(backlog);
  const unsubscribe = await log.subscribe(sessionId, streamId, pump);
  const remove = live.add({
    transport,
    sessionId,
    streamId,
    pump,
    end: () => sse.end(),
    subscribedTo: async (uri) => (await sessions.get(sessionId))?.subscriptions.includes(uri) ?? false,
  });
  sse.startKeepalive(config.sse.keepaliveIntervalMs, pump);
  pump(); // anything appended between the backlog read and the subscription
  await sse.closed;
  remove();
  await unsubscribe();
}
