import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { AuthGuard, AuthenticatedUser } from '#app/auth/auth.guard.js';
import type { CatalogSnapshotService } from '#app/catalog/catalog-snapshot.service.js';
import type { AppConfig } from '#app/config/app-config.js';
import type { MetricsService } from '#app/metrics/metrics.service.js';
import { newSessionId } from '#app/sessions/session-record.js';
import { isObject } from '#app/common/is-object.js';
import type { McpSessionView } from '../mcp-context.js';
import type { ClientRequests } from '../client-requests.js';
import { errorResponse, type McpDispatcher } from '../mcp-dispatcher.js';
import { ErrorCode, type JsonRpcId } from '../mcp-types.js';
import { BATCH_VERSION, type McpLogLevel } from '../protocol.js';
import type { LiveStreams } from '../session-context.js';

const WS_PATH = /^\/(?:servers\/([^/?#]+)\/)?ws\/?(?:\?|$)/;
const SUBPROTOCOL = 'mcp';
/** Close codes: 1002 protocol error, 1003 unsupported data, 1008 policy violation (auth). */
const CLOSE = { protocol: 1002, unsupported: 1003, policy: 1008, goingAway: 1001 } as const;

export interface WebSocketDeps {
  dispatcher: McpDispatcher;
  clientRequests: ClientRequests;
  guard: AuthGuard;
  live: LiveStreams;
  catalog: CatalogSnapshotService;
  metrics: MetricsService;
  config: AppConfig;
}

/**
 * MCP over WebSocket at `/ws` and `/servers/{id}/ws`: subprotocol `mcp`, one JSON-RPC message
 * per text frame, server pings every SSE_KEEPALIVE_INTERVAL (a peer that misses a pong is cut),
 * and a clean close (1008, with the reason) when auth fails. A connection is its own session;
 * it lives on the worker that accepted it, so nothing of it needs to be shared.
 *
 * Built on `ws` (the library under @nestjs/platform-ws) rather than a Nest gateway: a gateway
 * binds one fixed path and routes `{event, data}` frames, while MCP needs `/servers/{id}/ws`,
 * raw JSON-RPC frames, and auth before the connection is used.
 */
export class WebSocketTransport {
  private readonly wss: WebSocketServer;
  private readonly sockets = new Set<WebSocket>();

  constructor(private readonly deps: WebSocketDeps) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: deps.config.server.maxBodyBytes,
      handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    });
  }

  /** Takes the upgrades for its paths; leaves other upgrades alone (returns false). */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const match = WS_PATH.exec(request.url ?? '');
    if (!match) return false;
    this.wss.handleUpgrade(request, socket, head, (ws) => this.accept(ws, request, match[1] ? decodeURIComponent(match[1]) : null));
    return true;
  }

  /** Closes every connection (shutdown): clients reconnect to another worker. */
  closeAll(): void {
    for (const ws of this.sockets) ws.close(CLOSE.goingAway, 'server shutting down');
  }

  private accept(ws: WebSocket, request: IncomingMessage, serverId: string | null): void {
    const { dispatcher, live, catalog, config } = this.deps;
    this.deps.metrics.observeHttp('GET', serverId === null ? '/ws' : '/servers/:id/ws', 101, 0);
    if (ws.protocol !== SUBPROTOCOL) return ws.close(CLOSE.protocol, `subprotocol "${SUBPROTOCOL}" is required`);
    let user: AuthenticatedUser;
    try {
      user = this.deps.guard.authenticate(request.headers.authorization ?? tokenFromQuery(request.url));
    } catch (error) {
      const reason = (error as { getResponse?: () => { message?: string } }).getResponse?.().message ?? 'unauthorized';
      return ws.close(CLOSE.policy, `unauthorized: ${reason}`.slice(0, 120));
    }
    if (serverId !== null && !catalog.current.server(serverId)) return ws.close(CLOSE.policy, `virtual server ${serverId} does not exist`.slice(0, 120));

    this.sockets.add(ws);
    const state = { protocolVersion: undefined as string | undefined, logLevel: null as McpLogLevel | null, capabilities: {} as Record<string, unknown> };
    const subscriptions = new Set<string>();
    const inFlight = new Map<JsonRpcId, AbortController>();
    const closed = new AbortController();
    const session: McpSessionView = {
      id: newSessionId(),
      get protocolVersion() {
        return state.protocolVersion ?? '2025-11-25';
      },
      get clientCapabilities() {
        return state.capabilities;
      },
      get logLevel() {
        return state.logLevel;
      },
      setLogLevel: async (level) => void (state.logLevel = level),
      subscribe: async (uri) => void subscriptions.add(uri),
      unsubscribe: async (uri) => void subscriptions.delete(uri),
      markInitialized: async () => undefined,
    };
    const send = (text: string) => {
      if (ws.readyState === ws.OPEN) ws.send(text);
    };
    const remove = live.add({
      transport: 'ws',
      sessionId: session.id,
      streamId: 'ws',
      pump: () => undefined,
      deliver: (message) => send(JSON.stringify(message)),
      subscribedTo: (uri) => subscriptions.has(uri),
      end: () => ws.close(CLOSE.goingAway, 'server shutting down'),
    });

    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) return ws.close(CLOSE.unsupported, 'one JSON-RPC message per text frame');
      let message: unknown;
      try {
        message = JSON.parse(data.toString());
      } catch (error) {
        return send(errorResponse(null, ErrorCode.ParseError, `parse error: ${(error as Error).message}`));
      }
      const id = isObject(message) && (typeof message.id === 'string' || typeof message.id === 'number') ? message.id : null;
      const controller = id !== null ? new AbortController() : null;
      if (id !== null && controller) inFlight.set(id, controller);
      void dispatcher
        .dispatch(message, {
          transport: 'ws',
          user,
          serverId,
          protocolVersion: state.protocolVersion,
          session,
          allowBatch: state.protocolVersion === BATCH_VERSION,
          signal: () => AbortSignal.any([closed.signal, ...(controller ? [controller.signal] : [])]),
          cancel: (requestId) => inFlight.get(requestId)?.abort(new Error('cancelled by the client')),
          notify: (method, params) => send(JSON.stringify({ jsonrpc: '2.0', method, params })),
          request: (method, params, signal) => this.deps.clientRequests.request(session.id, (m) => send(JSON.stringify(m)), method, params, signal),
          clientResponse: (m) => this.deps.clientRequests.accept(session.id, m),
          headers: request.headers,
        })
        .then((response) => {
          if (isObject(message) && message.method === 'initialize' && response) {
            const result = (JSON.parse(response) as { result?: { protocolVersion?: string } }).result;
            if (result?.protocolVersion) {
              state.protocolVersion = result.protocolVersion;
              const params = isObject(message.params) ? message.params : {};
              state.capabilities = isObject(params.capabilities) ? params.capabilities : {};
            }
          }
          if (response !== null) send(response);
        })
        .finally(() => {
          if (id !== null) inFlight.delete(id);
        });
    });

    let alive = true;
    ws.on('pong', () => (alive = true));
    const heartbeat = setInterval(() => {
      if (!alive) return ws.terminate();
      alive = false;
      ws.ping();
    }, config.sse.keepaliveIntervalMs);
    heartbeat.unref();
    ws.on('close', () => {
      clearInterval(heartbeat);
      closed.abort(new Error('connection closed'));
      remove();
      this.sockets.delete(ws);
    });
    ws.on('error', () => ws.terminate());
  }
}

/** Browsers cannot set headers on a WebSocket: accept `?token=<jwt>` as the bearer token. */
function tokenFromQuery(url: string | undefined): string | undefined {
  const query = url?.split('?', 2)[1];
  const token = query ? new URLSearchParams(query).get('token') : null;
  return token ? `Bearer ${token}` : undefined;
}
