import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CatalogSnapshotService } from '#app/catalog/catalog-snapshot.service.js';
import type { AppConfig } from '#app/config/app-config.js';
import type { SessionMessageLog } from '#app/sessions/session-message-log.js';
import { isSessionIdShape, newSessionId, type SessionRecord } from '#app/sessions/session-record.js';
import type { SessionStore } from '#app/sessions/session.store.js';
import { errorResponse, type McpDispatcher } from '../mcp-dispatcher.js';
import { ErrorCode } from '../mcp-types.js';
import { BATCH_VERSION } from '../protocol.js';
import type { InFlightRequests } from '../in-flight-requests.js';
import { sessionView, type LiveStreams } from '../session-context.js';
import { parseJsonRpc, type McpHttpExchange, type RawBody } from './http-common.js';
import { SseWriter } from './sse-writer.js';

/** The legacy stream's id in the session's message log. */
const SSE_STREAM = 'sse';
/** Until `initialize` says otherwise, an HTTP+SSE session speaks the transport's own version. */
const SSE_TRANSPORT_VERSION = '2024-11-05';

export interface LegacySseDeps {
  dispatcher: McpDispatcher;
  inFlight: InFlightRequests;
  exchange: McpHttpExchange;
  sessions: SessionStore;
  log: SessionMessageLog;
  live: LiveStreams;
  catalog: CatalogSnapshotService;
  config: AppConfig;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The 2024-11-05 HTTP+SSE transport at `GET /sse` (and `/servers/{id}/sse`). The stream opens a
 * session and first sends an `endpoint` event naming `/message?session_id=…`; clients POST their
 * messages there and get 202, and the replies arrive on the stream as `message` events. The POST
 * may land on any worker: the reply is appended to the session's log in Redis, which wakes the
 * worker holding the stream. Keep-alive comments every SSE_KEEPALIVE_INTERVAL.
 */
export function registerLegacySseTransport(fastify: FastifyInstance, deps: LegacySseDeps): void {
  const { dispatcher, exchange, sessions, log, live, catalog, config, inFlight } = deps;

  const stream = async (request: FastifyRequest<{ Params: { id?: string } }>, reply: FastifyReply) => {
    const route = request.routeOptions.url ?? '/sse';
    const user = exchange.begin(request, reply, route);
    if (!user) return reply;
    const serverId = request.params.id ?? null;
    if (serverId !== null && !catalog.current.server(serverId)) {
      return exchange.send(request, reply, route, 404, errorResponse(null, ErrorCode.InvalidParams, `virtual server ${serverId} does not exist or is inactive`));
    }
    const record: SessionRecord = {
      id: newSessionId(),
      transport: 'sse',
      protocolVersion: SSE_TRANSPORT_VERSION,
      clientInfo: null,
      clientCapabilities: {},
      serverId,
      logLevel: null,
      subscriptions: [],
      username: user.username,
      createdAt: Date.now(),
      initialized: false,
    };
    await sessions.create(record);
    void reply.hijack();
    const sse = new SseWriter(reply.raw, { 'x-correlation-id': String(request.id) });
    const endpoint = `${serverId === null ? '' : `/servers/${encodeURIComponent(serverId)}`}/message?session_id=${record.id}`;
    sse.event(endpoint, { event: 'endpoint' });

    let last: string | null = null;
    let pumping = false;
    let again = false;
    const pump = (): void => {
      if (pumping) {
        again = true;
        return;
      }
      pumping = true;
      void log
        .readAfter(record.id, SSE_STREAM, last)
        .then((messages) => {
          for (const m of messages) {
            if (!sse.isOpen) return;
            sse.event(JSON.stringify(m.message), { event: 'message', id: m.id });
            last = m.id;
          }
        })
        .catch(() => undefined)
        .finally(() => {
          pumping = false;
          if (again && sse.isOpen) {
            again = false;
            pump();
          }
        });
    };
    const unsubscribe = await log.subscribe(record.id, SSE_STREAM, pump);
    const remove = live.add({
      sessionId: record.id,
      streamId: SSE_STREAM,
      pump,
      end: () => sse.end(),
      subscribedTo: async (uri) => (await sessions.get(record.id))?.subscriptions.includes(uri) ?? false,
    });
    sse.startKeepalive(config.sse.keepaliveIntervalMs, pump);
    await sse.closed;
    remove();
    await unsubscribe();
    // The HTTP+SSE session lives as long as its stream.
    await sessions.delete(record.id).catch(() => undefined);
    await log.deleteSession(record.id).catch(() => undefined);
    return reply;
  };

  const message = async (request: FastifyRequest<{ Params: { id?: string }; Querystring: Record<string, string | undefined> }>, reply: FastifyReply) => {
    const route = request.routeOptions.url ?? '/message';
    const user = exchange.begin(request, reply, route);
    if (!user) return reply;
    const id = request.query.session_id ?? request.query.sessionId;
    if (!id) return exchange.send(request, reply, route, 400, errorResponse(null, ErrorCode.TransportError, 'session_id query parameter is required'));
    const record = isSessionIdShape(id) ? await sessions.get(id) : null;
    const serverId = request.params.id ?? null;
    if (!record || record.transport !== 'sse' || record.username !== user.username || record.serverId !== serverId) {
      return exchange.send(request, reply, route, 404, errorResponse(null, ErrorCode.SessionNotFound, 'Session not found'));
    }
    const parsed = parseJsonRpc(request.body as RawBody);
    if (!parsed.ok) {
      // JSON-RPC errors go where replies go: on the stream.
      await log.append(record.id, SSE_STREAM, JSON.parse(parsed.error) as object);
      return exchange.send(request, reply, route, 400, parsed.error);
    }
    const view = sessionView(sessions, record);
    const requestId = isObject(parsed.value) && (typeof parsed.value.id === 'string' || typeof parsed.value.id === 'number') ? parsed.value.id : null;
    // The POST is not the reply channel, so its disconnect is no cancel; notifications/cancelled is, from any worker.
    const tracked = requestId === null ? null : inFlight.track(record.id, requestId);
    let response: string | null;
    try {
      response = await dispatcher.dispatch(parsed.value, {
        transport: 'sse',
        user,
        serverId,
        protocolVersion: record.protocolVersion,
        session: view,
        allowBatch: record.protocolVersion === BATCH_VERSION,
        ...(tracked ? { signal: tracked.signal } : {}),
        cancel: (id, reason) => inFlight.cancel(record.id, id, reason),
        headers: request.headers,
      });
    } finally {
      tracked?.done();
    }
    if (isObject(parsed.value) && parsed.value.method === 'initialize' && response !== null) {
      const result = (JSON.parse(response) as { result?: { protocolVersion?: string } }).result;
      const params = isObject(parsed.value.params) ? parsed.value.params : {};
      if (result?.protocolVersion) {
        await sessions.update(record.id, {
          protocolVersion: result.protocolVersion,
          clientInfo: isObject(params.clientInfo) ? (params.clientInfo as SessionRecord['clientInfo']) : null,
          clientCapabilities: isObject(params.capabilities) ? params.capabilities : {},
        });
      }
    }
    // The reply is stored before the POST is acknowledged, so it survives this worker.
    if (response !== null) await log.append(record.id, SSE_STREAM, JSON.parse(response) as object);
    return exchange.send(request, reply, route, 202, null);
  };

  for (const path of ['/sse', '/servers/:id/sse']) fastify.get(path, stream);
  for (const path of ['/message', '/messages', '/servers/:id/message', '/servers/:id/messages']) fastify.post(path, message);
}
