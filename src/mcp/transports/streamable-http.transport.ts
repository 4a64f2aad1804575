import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthenticatedUser } from '#app/auth/auth.guard.js';
import { InvalidEventIdError } from '#app/sessions/session-message-log.js';
import { isSessionIdShape, newSessionId, type SessionRecord } from '#app/sessions/session-record.js';
import { isObject } from '#app/common/is-object.js';
import { errorResponse, responseErrorCode } from '../mcp-dispatcher.js';
import { ErrorCode, type JsonRpcId } from '../mcp-types.js';
import { BATCH_VERSION, META, MODERN_VERSIONS, isLegacyVersion, isModernVersion } from '../protocol.js';
import { sessionView } from '../session-context.js';
import { header, lazyDisconnectSignal, parseJsonRpc, type RawBody } from './http-common.js';
import { serveSessionStream, type SessionTransportDeps } from './session-stream.js';
import { SseWriter } from './sse-writer.js';

/** The standalone GET stream's id in the session's message log. */
const GET_STREAM = 'get';

/**
 * Streamable HTTP at `/mcp` (the whole catalog) and `/servers/{id}/mcp` (one virtual server),
 * in both protocol eras:
 * - 2025 era: `initialize` creates a session in the SessionStore and answers `Mcp-Session-Id`;
 *   later POSTs must carry it (400 without, 404 unknown or ended); GET opens the session's
 *   server-to-client stream, replayable from `Last-Event-ID` on any worker; DELETE ends it.
 * - 2026-07-28: no session; each POST carries its version and capabilities in `_meta`;
 *   `subscriptions/listen` opens a stream of the opted-in change notifications.
 * Both: a foreign `Origin` gets 403; the reply is JSON (or one SSE event when the client only
 * accepts event streams).
 */
export function registerStreamableHttpTransport(fastify: FastifyInstance, deps: SessionTransportDeps): void {
  const { dispatcher, exchange, sessions, log, live, catalog, config, inFlight, clientRequests, federation } = deps;
  const allowedOrigins = new Set(config.server.allowedOrigins);

  /** Common gate: origin, auth, scope. Answers the error itself and returns null on failure. */
  const open = (request: FastifyRequest<{ Params: { id?: string } }>, reply: FastifyReply, route: string) => {
    const origin = header(request, 'origin');
    if (origin !== undefined && !originAllowed(origin, header(request, 'host'), allowedOrigins)) {
      exchange.begin(request, reply, route); // still stamps the correlation id
      exchange.send(request, reply, route, 403, errorResponse(null, ErrorCode.TransportError, `origin ${origin} is not allowed`));
      return null;
    }
    const user = exchange.begin(request, reply, route);
    if (!user) return null;
    const serverId = request.params.id ?? null;
    if (serverId !== null && !catalog.current.server(serverId)) {
      exchange.send(request, reply, route, 404, errorResponse(null, ErrorCode.InvalidParams, `virtual server ${serverId} does not exist or is inactive`));
      return null;
    }
    return { user, serverId };
  };

  /** Loads the session named by Mcp-Session-Id: 400 without one, 404 unknown, ended or foreign. */
  const loadSession = async (request: FastifyRequest, reply: FastifyReply, route: string, user: AuthenticatedUser, serverId: string | null) => {
    const id = header(request, 'mcp-session-id');
    if (!id) {
      exchange.send(request, reply, route, 400, errorResponse(null, ErrorCode.TransportError, 'Bad Request: Mcp-Session-Id header is required'));
      return null;
    }
    const record = isSessionIdShape(id) ? await sessions.get(id) : null;
    if (!record || record.username !== user.username || record.serverId !== serverId || record.transport !== 'streamable-http') {
      exchange.send(request, reply, route, 404, errorResponse(null, ErrorCode.SessionNotFound, 'Session not found'));
      return null;
    }
    const version = header(request, 'mcp-protocol-version');
    if (version !== undefined && version !== record.protocolVersion) {
      exchange.send(request, reply, route, 400, errorResponse(null, ErrorCode.TransportError, `MCP-Protocol-Version ${version} does not match the session's ${record.protocolVersion}`));
      return null;
    }
    return record;
  };

  const post = async (request: FastifyRequest<{ Params: { id?: string } }>, reply: FastifyReply) => {
    const route = request.routeOptions.url ?? '/mcp';
    const gate = open(request, reply, route);
    if (!gate) return reply;
    const accept = header(request, 'accept') ?? '*/*';
    const acceptsJson = /application\/json|\*\/\*|application\/\*/.test(accept);
    const acceptsSse = /text\/event-stream/.test(accept);
    if (!acceptsJson && !acceptsSse) {
      return exchange.send(request, reply, route, 406, errorResponse(null, ErrorCode.TransportError, 'Not Acceptable: Accept must include application/json or text/event-stream'));
    }
    const type = header(request, 'content-type') ?? '';
    if (!type.startsWith('application/json')) {
      return exchange.send(request, reply, route, 415, errorResponse(null, ErrorCode.TransportError, 'Unsupported Media Type: Content-Type must be application/json'));
    }
    const parsed = parseJsonRpc(request.body as RawBody);
    if (!parsed.ok) return exchange.send(request, reply, route, 400, parsed.error);
    const message = parsed.value;
    const headerVersion = header(request, 'mcp-protocol-version');
    // Messages related to the request (progress, log messages, server-to-client requests) turn
    // the reply into an event stream that ends with the response; without any, it stays JSON.
    let stream: SseWriter | null = null;
    let answered = false;
    const related = (message: Record<string, unknown>): void => {
      // Late messages (e.g. of an upstream call parked past this request) have nowhere to go.
      if (!acceptsSse || answered) return;
      if (!stream) {
        void reply.hijack();
        stream = new SseWriter(reply.raw, { 'x-correlation-id': String(request.id) });
      }
      if (stream.isOpen) stream.event(JSON.stringify(message), { event: 'message' });
    };
    const notify = (method: string, params: Record<string, unknown>) => related({ jsonrpc: '2.0', method, params });
    const respond = (status: number, body: string | null) => {
      answered = true;
      if (stream) {
        if (body !== null) stream.event(body, { event: 'message' });
        stream.end();
        exchange.observe(request, reply, route, 200);
        return reply;
      }
      if (body !== null && !acceptsJson) {
        // The client takes only event streams: one event with the response, then the end.
        void reply.hijack();
        const sse = new SseWriter(reply.raw, { 'x-correlation-id': String(request.id) });
        sse.event(body, { event: 'message' });
        sse.end();
        return reply;
      }
      return exchange.send(request, reply, route, status, body);
    };

    // 2026-07-28: the envelope in `_meta` makes it stateless, whatever the method.
    const meta = isObject(message) && isObject(message.params) && isObject(message.params._meta) ? message.params._meta : null;
    const modernVersion = meta?.[META.protocolVersion];
    if (modernVersion !== undefined) {
      if (!isModernVersion(modernVersion)) {
        return respond(400, errorResponse(idOf(message), ErrorCode.UnsupportedProtocolVersion, `unsupported protocol version ${JSON.stringify(modernVersion)}`, { supported: [...MODERN_VERSIONS], requested: modernVersion }));
      }
      if (headerVersion !== undefined && headerVersion !== modernVersion) {
        return respond(400, errorResponse(idOf(message), ErrorCode.HeaderMismatch, `MCP-Protocol-Version header ${headerVersion} does not match params._meta version ${String(modernVersion)}`));
      }
      if (!isObject(meta?.[META.clientCapabilities])) {
        return respond(400, errorResponse(idOf(message), ErrorCode.InvalidParams, `params._meta["${META.clientCapabilities}"] is required`));
      }
      if (isObject(message) && message.method === 'subscriptions/listen' && idOf(message) !== null) {
        return listen(request, reply, idOf(message) as JsonRpcId, isObject(message.params) ? message.params : {}, gate.serverId);
      }
      const body = await dispatcher.dispatch(message, {
        transport: 'streamable-http', user: gate.user, serverId: gate.serverId, protocolVersion: modernVersion as string,
        allowBatch: false, signal: lazyDisconnectSignal(reply), headers: request.headers, trace: exchange.trace(request), notify,
      });
      if (body === null) return respond(202, null);
      const code = responseErrorCode(body);
      return respond(code === ErrorCode.MethodNotFound ? 404 : 200, body);
    }
    if (isModernVersion(headerVersion)) {
      return respond(400, errorResponse(idOf(message), ErrorCode.InvalidParams, `MCP-Protocol-Version ${headerVersion} requires params._meta["${META.protocolVersion}"]`));
    }

    // 2025 era: initialize opens a session.
    if (isObject(message) && message.method === 'initialize') {
      const body = await dispatcher.dispatch(message, { transport: 'streamable-http', user: gate.user, serverId: gate.serverId, allowBatch: false, headers: request.headers, trace: exchange.trace(request) });
      if (body === null) return respond(202, null);
      const result = (JSON.parse(body) as { result?: { protocolVersion?: string } }).result;
      if (!result?.protocolVersion) return respond(200, body); // an error: no session
      const params = isObject(message.params) ? message.params : {};
      const record: SessionRecord = {
        id: newSessionId(),
        transport: 'streamable-http',
        protocolVersion: result.protocolVersion,
        clientInfo: isObject(params.clientInfo) ? (params.clientInfo as SessionRecord['clientInfo']) : null,
        clientCapabilities: isObject(params.capabilities) ? params.capabilities : {},
        serverId: gate.serverId,
        logLevel: null,
        subscriptions: [],
        username: gate.user.username,
        createdAt: Date.now(),
        initialized: false,
      };
      await sessions.create(record);
      void reply.header('mcp-session-id', record.id);
      return respond(200, body);
    }

    const record = await loadSession(request, reply, route, gate.user, gate.serverId);
    if (!record) return reply;
    if (headerVersion !== undefined && !isLegacyVersion(headerVersion)) {
      return respond(400, errorResponse(null, ErrorCode.TransportError, `unsupported MCP-Protocol-Version ${headerVersion}`));
    }
    // A session request can be cancelled from any worker (notifications/cancelled).
    const id = idOf(message);
    const tracked = id === null ? null : inFlight.track(record.id, id);
    try {
      const body = await dispatcher.dispatch(message, {
        transport: 'streamable-http', user: gate.user, serverId: gate.serverId, protocolVersion: record.protocolVersion,
        session: sessionView(sessions, record), allowBatch: record.protocolVersion === BATCH_VERSION,
        signal: tracked ? tracked.signal : lazyDisconnectSignal(reply),
        cancel: (requestId, reason) => inFlight.cancel(record.id, requestId, reason),
        notify,
        ...(acceptsSse ? { request: (method: string, params: Record<string, unknown>, signal?: AbortSignal) => clientRequests.request(record.id, related, method, params, signal) } : {}),
        clientResponse: (m) => clientRequests.accept(record.id, m),
        headers: request.headers,
        trace: exchange.trace(request),
      });
      return respond(body === null ? 202 : 200, body);
    } finally {
      tracked?.done();
    }
  };

  /**
   * 2026-07-28 `subscriptions/listen`: a long-lived event stream that first acknowledges the
   * notifications it will honour, then carries the opted-in `list_changed` notifications, each
   * tagged with the listen request's id as `subscriptionId`. The client ends it by closing.
   */
  const listen = async (request: FastifyRequest, reply: FastifyReply, id: JsonRpcId, params: Record<string, unknown>, serverId: string | null) => {
    const wanted = isObject(params.notifications) ? params.notifications : {};
    const honoured: Record<string, boolean> = {};
    const methods = new Set<string>();
    for (const [flag, method] of [
      ['toolsListChanged', 'notifications/tools/list_changed'],
      ['promptsListChanged', 'notifications/prompts/list_changed'],
      ['resourcesListChanged', 'notifications/resources/list_changed'],
    ] as const) {
      if (wanted[flag] === true) {
        honoured[flag] = true;
        methods.add(method);
      }
    }
    // Resource updates are honoured for the URIs this scope serves.
    const scope = serverId === null ? catalog.current.all : catalog.current.server(serverId);
    const uris = new Set(
      (Array.isArray(wanted.resourceSubscriptions) ? wanted.resourceSubscriptions : []).filter(
        (u): u is string => typeof u === 'string' && scope?.resourcesByUri.has(u) === true,
      ),
    );
    const honouredUris = [...uris];
    // Federated resources change upstream: make sure this worker's upstream session watches them.
    if (honouredUris.length > 0 && scope) void federation.subscribeForListen(honouredUris, scope, catalog.current);
    if (honouredUris.length > 0) {
      (honoured as Record<string, unknown>).resourceSubscriptions = honouredUris;
      methods.add('notifications/resources/updated');
    }
    void reply.hijack();
    const sse = new SseWriter(reply.raw, { 'x-correlation-id': String(request.id) });
    const tagged = (method: string, p: Record<string, unknown>) =>
      JSON.stringify({ jsonrpc: '2.0', method, params: { ...p, _meta: { ...(isObject(p._meta) ? p._meta : {}), [META.subscriptionId]: id } } });
    sse.event(tagged('notifications/subscriptions/acknowledged', { notifications: honoured }));
    const remove = live.add({
      transport: 'listen',
      sessionId: `listen:${String(request.id)}`,
      streamId: 'listen',
      pump: () => undefined,
      deliver: (message) => {
        const m = message as { method?: string; params?: Record<string, unknown> };
        if (m.method && methods.has(m.method)) sse.event(tagged(m.method, m.params ?? {}));
      },
      subscribedTo: (uri) => uris.has(uri),
      end: () => {
        // A graceful end: the listen request's result, then close.
        sse.event(JSON.stringify({ jsonrpc: '2.0', id, result: { resultType: 'complete', _meta: { [META.subscriptionId]: id } } }));
        sse.end();
      },
    });
    sse.startKeepalive(config.sse.keepaliveIntervalMs);
    await sse.closed;
    remove();
    if (honouredUris.length > 0 && scope) void federation.subscribeForListen(honouredUris, scope, catalog.current, false);
    return reply;
  };

  const get = async (request: FastifyRequest<{ Params: { id?: string } }>, reply: FastifyReply) => {
    const route = request.routeOptions.url ?? '/mcp';
    const gate = open(request, reply, route);
    if (!gate) return reply;
    if (!/text\/event-stream/.test(header(request, 'accept') ?? '')) {
      return exchange.send(request, reply, route, 406, errorResponse(null, ErrorCode.TransportError, 'Not Acceptable: GET needs Accept: text/event-stream'));
    }
    if (!header(request, 'mcp-session-id')) {
      // 2026-07-28 has no GET stream; neither does a request without a session.
      return exchange.send(request, reply, route, 405, errorResponse(null, ErrorCode.TransportError, 'Method not allowed: open a session with initialize first (2026-07-28 uses POST only)'), { allow: 'POST' });
    }
    const record = await loadSession(request, reply, route, gate.user, gate.serverId);
    if (!record) return reply;
    const last = header(request, 'last-event-id') ?? null;
    let backlog;
    try {
      backlog = await log.readAfter(record.id, GET_STREAM, last);
    } catch (error) {
      if (error instanceof InvalidEventIdError) {
        return exchange.send(request, reply, route, 400, errorResponse(null, ErrorCode.TransportError, `Last-Event-ID: ${error.message}`));
      }
      throw error;
    }
    void reply.hijack();
    const sse = new SseWriter(reply.raw, { 'x-correlation-id': String(request.id) });
    await serveSessionStream(deps, sse, 'streamable-http', record.id, GET_STREAM, last, backlog);
    return reply;
  };

  const del = async (request: FastifyRequest<{ Params: { id?: string } }>, reply: FastifyReply) => {
    const route = request.routeOptions.url ?? '/mcp';
    const gate = open(request, reply, route);
    if (!gate) return reply;
    const record = await loadSession(request, reply, route, gate.user, gate.serverId);
    if (!record) return reply;
    await sessions.delete(record.id);
    await log.deleteSession(record.id);
    return exchange.send(request, reply, route, 200, null);
  };

  for (const path of ['/mcp', '/mcp/', '/servers/:id/mcp', '/servers/:id/mcp/']) {
    fastify.post(path, post);
    fastify.get(path, get);
    fastify.delete(path, del);
  }
}

function idOf(message: unknown): JsonRpcId | null {
  const id = isObject(message) ? message.id : undefined;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}

/**
 * DNS-rebinding protection: a browser's Origin must be listed in ALLOWED_ORIGINS, or name the
 * host the request was sent to.
 */
function originAllowed(origin: string, host: string | undefined, allowed: Set<string>): boolean {
  if (allowed.has(origin) || allowed.has('*')) return true;
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}
