import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isSessionIdShape, newSessionId, type SessionRecord } from '#app/sessions/session-record.js';
import { isObject } from '#app/common/is-object.js';
import { errorResponse } from '../mcp-dispatcher.js';
import { ErrorCode } from '../mcp-types.js';
import { BATCH_VERSION } from '../protocol.js';
import { sessionView } from '../session-context.js';
import { parseJsonRpc, type RawBody } from './http-common.js';
import { serveSessionStream, type SessionTransportDeps } from './session-stream.js';
import { SseWriter } from './sse-writer.js';

/** The legacy stream's id in the session's message log. */
const SSE_STREAM = 'sse';
/** Until `initialize` says otherwise, an HTTP+SSE session speaks the transport's own version. */
const SSE_TRANSPORT_VERSION = '2024-11-05';

/**
 * The 2024-11-05 HTTP+SSE transport at `GET /sse` (and `/servers/{id}/sse`). The stream opens a
 * session and first sends an `endpoint` event naming `/message?session_id=…`; clients POST their
 * messages there and get 202, and the replies arrive on the stream as `message` events. The POST
 * may land on any worker: the reply is appended to the session's log in Redis, which wakes the
 * worker holding the stream. Keep-alive comments every SSE_KEEPALIVE_INTERVAL.
 */
export function registerLegacySseTransport(fastify: FastifyInstance, deps: SessionTransportDeps): void {
  const { dispatcher, exchange, sessions, log, catalog, inFlight, clientRequests } = deps;

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

    await serveSessionStream(deps, sse, 'sse', record.id, SSE_STREAM, null);
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
        // Everything for the client goes through the session's log to whichever worker holds its stream.
        notify: (method, params) => void log.append(record.id, SSE_STREAM, { jsonrpc: '2.0', method, params }).catch(() => undefined),
        request: (method, params, signal) => clientRequests.request(record.id, (m) => log.append(record.id, SSE_STREAM, m).then(() => undefined), method, params, signal),
        clientResponse: (m) => clientRequests.accept(record.id, m),
        headers: request.headers,
        trace: exchange.trace(request),
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
