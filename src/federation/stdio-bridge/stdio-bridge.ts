/**
 * Serves one stdio MCP server to many HTTP clients, so a stdio server can be registered as a
 * gateway: Streamable HTTP with 2025-era sessions on `/mcp`, legacy HTTP+SSE on `/sse` +
 * `/message`, and `/healthz`. The bridge is the child's only client: it initializes the child once
 * per process (again after each restart) and answers every downstream `initialize` from that
 * cached result. Request ids, progress tokens and server→client request ids are remapped
 * (MCP-PROTOCOL.md §6), because every client numbers its messages from 0.
 */
import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Writable } from 'node:stream';
import { isObject } from '#app/common/is-object.js';
import { ErrorCode, type JsonRpcId } from '#app/mcp/mcp-types.js';
import { isLegacyVersion } from '#app/mcp/protocol.js';
import { SseWriter } from '#app/mcp/transports/sse-writer.js';
import { StdioChild, isJsonRpcMessage, type JsonRpcMessage, type Logger, type StdioChildOptions } from './stdio-child.js';

export interface StdioBridgeOptions {
  /** Shell command line of the stdio server. */
  command: string;
  /** Default 127.0.0.1: the bridge has no authentication of its own. */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  log?: Logger;
  /** Where the child's stderr goes (default: our stderr). */
  stderr?: Writable;
  /** Backoff, grace period and buffer limits of the child. */
  child?: Pick<StdioChildOptions, 'cwd' | 'env' | 'initialBackoffMs' | 'maxBackoffMs' | 'resetBackoffAfterMs' | 'killGraceMs' | 'maxLineBytes'>;
  maxBodyBytes?: number;
  /** How long a request may wait for the child to be (re)started and initialized. */
  readyTimeoutMs?: number;
  /** How long the child may take to answer `initialize` before it is restarted. */
  initializeTimeoutMs?: number;
  /** A Streamable HTTP session with no stream, no request in flight and no traffic this long ends. */
  sessionIdleMs?: number;
  maxSessions?: number;
}

export interface BridgeAddress {
  url: string;
  sseUrl: string;
  port: number;
}

export const BRIDGE_CLIENT_INFO = { name: 'mcp-gateway-translate', version: '0.1.0' } as const;
const CHILD_PROTOCOL_VERSION = '2025-11-25';
const CHILD_CAPABILITIES = { sampling: {}, elicitation: {}, roots: { listChanged: true } };
const SESSION_HEADER = 'mcp-session-id';
const KEEPALIVE_MS = 25_000;
/** A stream whose client reads slower than this much unsent data is dropped. */
const MAX_STREAM_BUFFER = 8 * 1024 * 1024;
/** Beyond the limit, a rejected body is drained this far (so the client reads its 413), then cut. */
const MAX_DRAIN_BYTES = 16 * 1024 * 1024;
/** Messages that may wait for the child to come (back) up. */
const MAX_WAITERS = 10_000;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

interface Session {
  id: string;
  kind: 'streamable' | 'sse';
  /** The standalone stream: `GET /mcp`, or the `/sse` stream itself. */
  stream: SseWriter | null;
  streamRes: ServerResponse | null;
  /** Child ids of this session's requests in flight, oldest first. */
  requests: Set<number>;
  lastSeen: number;
}

interface PendingRequest {
  childId: number;
  session: Session;
  clientId: JsonRpcId;
  /** The client's own progress token; the child sees `childId` instead. */
  progressToken?: JsonRpcId;
  /** The POST that waits for the answer; null on HTTP+SSE, where answers go on the session stream. */
  exchange: PostExchange | null;
  /** The child generation it was written to; null while queued. */
  sentTo: number | null;
}

/** A request the child sent to a client, keyed by the id the client sees. */
interface ServerRequest {
  childId: JsonRpcId;
  generation: number;
  session: Session;
}

interface Waiter {
  run: () => void;
  fail: () => void;
  timer: NodeJS.Timeout;
}

type ErrorReply = { code: number; message: string };

export class StdioBridge {
  private readonly child: StdioChild;
  private readonly log: Logger;
  private readonly server: http.Server;
  private readonly maxBodyBytes: number;
  private readonly readyTimeoutMs: number;
  private readonly initializeTimeoutMs: number;
  private readonly sessionIdleMs: number;
  private readonly maxSessions: number;
  private readonly allowedHosts: Set<string>;

  private readonly sessions = new Map<string, Session>();
  private readonly pending = new Map<number, PendingRequest>();
  private readonly serverRequests = new Map<number, ServerRequest>();
  private waiters: Waiter[] = [];
  private nextChildId = 0;
  private nextServerRequestId = 0;

  private generation = 0;
  private ready = false;
  private initializeResult: Record<string, unknown> | null = null;
  private initRequestId: number | null = null;
  private initTimer: NodeJS.Timeout | null = null;
  private sweeper: NodeJS.Timeout | null = null;
  private closing = false;

  constructor(private readonly options: StdioBridgeOptions) {
    this.log = options.log ?? ((level, message) => level !== 'debug' && level !== 'info' && process.stderr.write(`${message}\n`));
    this.maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;
    this.readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
    this.initializeTimeoutMs = options.initializeTimeoutMs ?? 120_000;
    this.sessionIdleMs = options.sessionIdleMs ?? 30 * 60_000;
    this.maxSessions = options.maxSessions ?? 10_000;
    this.allowedHosts = new Set([...LOOPBACK_HOSTS, options.host ?? '127.0.0.1']);
    this.child = new StdioChild({
      ...options.child,
      command: options.command,
      log: this.log,
      stderr: options.stderr,
      onMessage: (message) => this.onChildMessage(message),
      onSpawn: () => this.initializeChild(),
      onExit: () => this.onChildExit(),
    });
    this.server = http.createServer((req, res) => {
      this.route(req, res).catch((error: unknown) => {
        this.log('error', `request failed: ${error instanceof Error ? error.stack : String(error)}`);
        if (!res.headersSent) sendError(res, 500, ErrorCode.InternalError, 'Internal error');
        else res.destroy();
      });
    });
  }

  get childPid(): number | null {
    return this.child.pid;
  }

  /** Listens first, so a taken port fails before any child is spawned. */
  async start(): Promise<BridgeAddress> {
    const host = this.options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.child.start();
    this.sweeper = setInterval(() => this.sweepIdleSessions(), 60_000);
    this.sweeper.unref();
    const { port } = this.server.address() as AddressInfo;
    const base = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    return { url: `${base}/mcp`, sseUrl: `${base}/sse`, port };
  }

  /** Ends every session, stops listening and stops the child (its whole process group). */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.sweeper) clearInterval(this.sweeper);
    if (this.initTimer) clearTimeout(this.initTimer);
    for (const session of [...this.sessions.values()]) this.endSession(session, 'bridge shutting down');
    for (const waiter of this.takeWaiters()) waiter.fail();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await Promise.all([closed, this.child.stop()]);
  }

  // ---- child lifecycle -------------------------------------------------------------------------

  private initializeChild(): void {
    this.generation++;
    this.ready = false;
    const id = ++this.nextChildId;
    this.initRequestId = id;
    this.child.send({
      jsonrpc: '2.0',
      id,
      method: 'initialize',
      params: { protocolVersion: CHILD_PROTOCOL_VERSION, capabilities: CHILD_CAPABILITIES, clientInfo: BRIDGE_CLIENT_INFO },
    });
    if (this.initTimer) clearTimeout(this.initTimer);
    this.initTimer = setTimeout(() => this.child.restart(`no answer to initialize within ${this.initializeTimeoutMs} ms`), this.initializeTimeoutMs);
  }

  private onInitializeAnswer(message: JsonRpcMessage): void {
    if (this.initTimer) clearTimeout(this.initTimer);
    this.initTimer = null;
    this.initRequestId = null;
    const result = message.result;
    if (message.error || typeof result !== 'object' || result === null) {
      this.child.restart(`initialize failed: ${message.error?.message ?? 'no result'}`);
      return;
    }
    this.initializeResult = result as Record<string, unknown>;
    this.child.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    this.ready = true;
    this.log('info', `stdio server initialized (protocol ${String(this.initializeResult.protocolVersion)})`);
    for (const waiter of this.takeWaiters()) waiter.run();
  }

  private onChildExit(): void {
    this.ready = false;
    this.initRequestId = null;
    if (this.initTimer) clearTimeout(this.initTimer);
    this.initTimer = null;
    // The dead process's questions can no longer be answered; late answers are dropped as unknown.
    this.serverRequests.clear();
  }

  /** Runs `run` once the child is initialized; `fail` if that takes too long or the queue is full. */
  private whenReady(run: () => void, fail: () => void): void {
    if (this.ready) return run();
    if (this.closing || this.waiters.length >= MAX_WAITERS) return fail();
    const waiter: Waiter = {
      run,
      fail,
      timer: setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        fail();
      }, this.readyTimeoutMs),
    };
    this.waiters.push(waiter);
  }

  private takeWaiters(): Waiter[] {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) clearTimeout(waiter.timer);
    return waiters;
  }

  // ---- child → clients -------------------------------------------------------------------------

  private onChildMessage(message: JsonRpcMessage): void {
    if (message.method === undefined) return this.onChildResponse(message);
    if (message.id !== undefined && message.id !== null) return this.onChildRequest({ ...message, id: message.id });
    this.onChildNotification(message);
  }

  private onChildResponse(message: JsonRpcMessage): void {
    if (message.id === this.initRequestId && this.initRequestId !== null) return this.onInitializeAnswer(message);
    const pending = typeof message.id === 'number' ? this.pending.get(message.id) : undefined;
    if (!pending) return this.log('debug', `dropping a stdio server answer to unknown id ${JSON.stringify(message.id)}`);
    this.settle(pending, message.error ? { error: message.error } : { result: message.result });
  }

  private onChildRequest(message: JsonRpcMessage & { id: JsonRpcId }): void {
    if (message.method === 'ping') {
      this.child.send({ jsonrpc: '2.0', id: message.id, result: {} });
      return;
    }
    const target = this.pickClientFor();
    if (!target) {
      // No roots is the honest answer when no client is there to have any.
      if (message.method === 'roots/list') this.child.send({ jsonrpc: '2.0', id: message.id, result: { roots: [] } });
      else this.child.send({ jsonrpc: '2.0', id: message.id, error: { code: ErrorCode.InternalError, message: `no connected client can answer ${message.method}` } });
      return;
    }
    const downstreamId = ++this.nextServerRequestId;
    this.serverRequests.set(downstreamId, { childId: message.id, generation: this.generation, session: target.session });
    const outgoing = { ...message, id: downstreamId };
    if (!target.exchange?.sendRelated(outgoing)) this.sendOnStream(target.session, outgoing);
  }

  /**
   * stdio carries no "related request" marker, so a server→client request goes to the client whose
   * request is most recently in flight (most likely the one that caused it), on that request's
   * own stream when it has one; failing that, to any session with an open stream.
   */
  private pickClientFor(): { session: Session; exchange: PostExchange | null } | null {
    const inFlight = [...this.pending.values()];
    for (let i = inFlight.length - 1; i >= 0; i--) {
      const { session, exchange } = inFlight[i];
      if (exchange?.canStream) return { session, exchange };
      if (session.stream?.isOpen) return { session, exchange: null };
    }
    let best: Session | null = null;
    for (const session of this.sessions.values()) {
      if (session.stream?.isOpen && (!best || session.lastSeen > best.lastSeen)) best = session;
    }
    return best ? { session: best, exchange: null } : null;
  }

  private onChildNotification(message: JsonRpcMessage): void {
    const params = message.params ?? {};
    if (message.method === 'notifications/progress') {
      const pending = typeof params.progressToken === 'number' ? this.pending.get(params.progressToken) : undefined;
      if (pending?.progressToken === undefined) return;
      const restored = { ...message, params: { ...params, progressToken: pending.progressToken } };
      if (!pending.exchange?.sendRelated(restored)) this.sendOnStream(pending.session, restored);
      return;
    }
    if (message.method === 'notifications/cancelled') {
      // The child withdrew one of its own requests: tell the client it was sent to, in its ids.
      for (const [downstreamId, request] of this.serverRequests) {
        if (request.childId !== params.requestId || request.generation !== this.generation) continue;
        this.serverRequests.delete(downstreamId);
        this.sendOnStream(request.session, { ...message, params: { ...params, requestId: downstreamId } });
        return;
      }
      return;
    }
    for (const session of this.sessions.values()) this.sendOnStream(session, message);
  }

  private settle(pending: PendingRequest, reply: Pick<JsonRpcMessage, 'result' | 'error'>): void {
    this.forget(pending);
    const message: JsonRpcMessage = { jsonrpc: '2.0', id: pending.clientId, ...reply };
    if (pending.exchange) pending.exchange.respond(message);
    else this.sendOnStream(pending.session, message);
  }

  private forget(pending: PendingRequest): void {
    this.pending.delete(pending.childId);
    pending.session.requests.delete(pending.childId);
  }

  /** The client will never read the answer: free the mapping and let the child stop working on it. */
  private abandon(pending: PendingRequest, reason: string): void {
    if (this.pending.get(pending.childId) !== pending) return;
    this.forget(pending);
    pending.exchange?.close();
    if (pending.sentTo === this.generation && this.ready) {
      this.child.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: pending.childId, reason } });
    }
  }

  private sendOnStream(session: Session, message: JsonRpcMessage): boolean {
    const stream = session.stream;
    if (!stream?.isOpen || !session.streamRes) return false;
    stream.event(JSON.stringify(message), { event: 'message' });
    if (session.streamRes.writableLength > MAX_STREAM_BUFFER) {
      this.log('warn', `session ${session.id}: dropping a stream whose client does not read it`);
      session.streamRes.destroy();
    }
    return true;
  }

  // ---- clients → child -------------------------------------------------------------------------

  private forwardRequest(session: Session, message: JsonRpcMessage & { id: JsonRpcId; method: string }, exchange: PostExchange | null): void {
    const childId = ++this.nextChildId;
    const pending: PendingRequest = { childId, session, clientId: message.id, exchange, sentTo: null };
    let params = message.params;
    const meta = params?._meta;
    if (isObject(meta) && (typeof meta.progressToken === 'string' || typeof meta.progressToken === 'number')) {
      // Every SDK client uses its own request id as token, so tokens collide across clients.
      pending.progressToken = meta.progressToken;
      params = { ...params, _meta: { ...meta, progressToken: childId } };
    }
    this.pending.set(childId, pending);
    session.requests.add(childId);
    exchange?.onAbort(() => this.abandon(pending, 'client disconnected'));
    const upstream: JsonRpcMessage = { jsonrpc: '2.0', id: childId, method: message.method, ...(params ? { params } : {}) };
    this.whenReady(
      () => {
        if (this.pending.get(childId) !== pending) return;
        if (this.child.send(upstream)) pending.sentTo = this.generation;
        else this.settle(pending, { error: { code: ErrorCode.InternalError, message: 'stdio server is not accepting input' } });
      },
      () => {
        if (this.pending.get(childId) === pending) this.settle(pending, { error: { code: ErrorCode.InternalError, message: 'stdio server is not ready' } });
      },
    );
  }

  /** A client notification or response (an answer to one of the child's requests). */
  private onClientMessage(session: Session, message: JsonRpcMessage): void {
    if (message.method === undefined) {
      const request = typeof message.id === 'number' ? this.serverRequests.get(message.id) : undefined;
      if (!request || request.session !== session) return this.log('debug', `session ${session.id}: dropping an answer to unknown id ${JSON.stringify(message.id)}`);
      this.serverRequests.delete(message.id as number);
      if (request.generation !== this.generation) return;
      const reply = message.error ? { error: message.error } : { result: message.result };
      this.child.send({ jsonrpc: '2.0', id: request.childId, ...reply });
      return;
    }
    // The bridge already told the child it is initialized.
    if (message.method === 'notifications/initialized') return;
    if (message.method === 'notifications/cancelled') {
      const requestId = message.params?.requestId;
      for (const childId of session.requests) {
        const pending = this.pending.get(childId);
        if (pending && pending.clientId === requestId) {
          this.abandon(pending, typeof message.params?.reason === 'string' ? message.params.reason : 'cancelled by the client');
          return;
        }
      }
      return;
    }
    const notification: JsonRpcMessage = { jsonrpc: '2.0', method: message.method, ...(message.params ? { params: message.params } : {}) };
    this.whenReady(
      () => void this.child.send(notification),
      () => this.log('warn', `dropping ${message.method}: stdio server is not ready`),
    );
  }

  /** The cached InitializeResult, in the client's protocol version when we speak it. */
  private initializeReply(request: JsonRpcMessage): Record<string, unknown> {
    const result = this.initializeResult ?? {};
    const requested = request.params?.protocolVersion;
    return { ...result, protocolVersion: isLegacyVersion(requested) ? requested : result.protocolVersion };
  }

  private createSession(kind: Session['kind']): Session {
    const session: Session = { id: randomUUID(), kind, stream: null, streamRes: null, requests: new Set(), lastSeen: Date.now() };
    this.sessions.set(session.id, session);
    return session;
  }

  private endSession(session: Session, reason: string): void {
    if (this.sessions.get(session.id) !== session) return;
    this.sessions.delete(session.id);
    for (const childId of [...session.requests]) {
      const pending = this.pending.get(childId);
      if (pending) this.abandon(pending, reason);
    }
    for (const [downstreamId, request] of this.serverRequests) {
      if (request.session !== session) continue;
      this.serverRequests.delete(downstreamId);
      if (request.generation === this.generation) {
        this.child.send({ jsonrpc: '2.0', id: request.childId, error: { code: ErrorCode.InternalError, message: `client session ended: ${reason}` } });
      }
    }
    session.stream?.end();
  }

  private sweepIdleSessions(): void {
    const cutoff = Date.now() - this.sessionIdleMs;
    for (const session of [...this.sessions.values()]) {
      if (session.kind === 'streamable' && !session.stream?.isOpen && session.requests.size === 0 && session.lastSeen < cutoff) {
        this.endSession(session, 'session idle');
      }
    }
  }

  // ---- HTTP ------------------------------------------------------------------------------------

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://bridge');
    if (url.pathname === '/healthz' && req.method === 'GET') {
      sendJson(res, 200, { status: 'ok', child: this.ready ? 'running' : 'restarting', pid: this.child.pid });
      return;
    }
    if (!this.originAllowed(req)) return sendError(res, 403, ErrorCode.TransportError, 'Forbidden: Origin not allowed');
    if (url.pathname === '/mcp') {
      if (req.method === 'POST') return this.postMcp(req, res);
      if (req.method === 'GET') return this.getMcp(req, res);
      if (req.method === 'DELETE') return this.deleteMcp(req, res);
      res.setHeader('allow', 'GET, POST, DELETE');
      return sendError(res, 405, ErrorCode.TransportError, 'Method not allowed');
    }
    if (url.pathname === '/sse' && req.method === 'GET') return this.getSse(res);
    if (url.pathname === '/message' && req.method === 'POST') {
      return this.postMessage(req, res, url.searchParams.get('session_id') ?? url.searchParams.get('sessionId'));
    }
    sendError(res, 404, ErrorCode.TransportError, 'Not found');
  }

  private async postMcp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const accept = String(req.headers.accept ?? '');
    if (accept && !/application\/json|text\/event-stream|\*\/\*/.test(accept)) {
      return sendError(res, 406, ErrorCode.TransportError, 'Not Acceptable: Accept must list application/json or text/event-stream');
    }
    const message = await this.readMessage(req, res);
    if (!message) return;
    if (message.method === 'initialize' && message.id !== undefined && message.id !== null) {
      const id = message.id;
      if (this.sessions.size >= this.maxSessions) return sendError(res, 503, ErrorCode.TransportError, 'Too many sessions', id);
      this.whenReady(
        () => {
          if (res.destroyed) return;
          const session = this.createSession('streamable');
          res.setHeader('mcp-session-id', session.id);
          sendJson(res, 200, { jsonrpc: '2.0', id, result: this.initializeReply(message) });
        },
        () => sendJson(res, 200, { jsonrpc: '2.0', id, error: { code: ErrorCode.InternalError, message: 'stdio server is not ready' } }),
      );
      return;
    }
    const session = this.sessionFor(req, res, 'streamable');
    if (!session) return;
    if (message.method === undefined || message.id === undefined || message.id === null) {
      this.onClientMessage(session, message);
      res.writeHead(202).end();
      return;
    }
    if (message.method === 'ping') return sendJson(res, 200, { jsonrpc: '2.0', id: message.id, result: {} });
    const exchange = new PostExchange(res, accept.includes('text/event-stream'));
    this.forwardRequest(session, { ...message, id: message.id, method: message.method }, exchange);
  }

  private getMcp(req: IncomingMessage, res: ServerResponse): void {
    if (!String(req.headers.accept ?? '').includes('text/event-stream')) {
      return sendError(res, 406, ErrorCode.TransportError, 'Not Acceptable: GET needs Accept: text/event-stream');
    }
    const session = this.sessionFor(req, res, 'streamable');
    if (!session) return;
    if (session.stream?.isOpen) return sendError(res, 409, ErrorCode.TransportError, 'Conflict: this session already has a stream open');
    this.attachStream(session, res);
  }

  private deleteMcp(req: IncomingMessage, res: ServerResponse): void {
    const session = this.sessionFor(req, res, 'streamable');
    if (!session) return;
    this.endSession(session, 'session deleted by the client');
    res.writeHead(200).end();
  }

  private getSse(res: ServerResponse): void {
    if (this.sessions.size >= this.maxSessions) return sendError(res, 503, ErrorCode.TransportError, 'Too many sessions');
    const session = this.createSession('sse');
    const stream = this.attachStream(session, res);
    stream.event(`/message?session_id=${session.id}`, { event: 'endpoint' });
    void stream.closed.then(() => this.endSession(session, 'client disconnected'));
  }

  private async postMessage(req: IncomingMessage, res: ServerResponse, sessionId: string | null): Promise<void> {
    if (!sessionId) return sendError(res, 400, ErrorCode.TransportError, 'Bad Request: session_id is required');
    const session = this.sessions.get(sessionId);
    if (!session || session.kind !== 'sse') return sendError(res, 404, ErrorCode.SessionNotFound, 'Session not found');
    const message = await this.readMessage(req, res);
    if (!message) return;
    session.lastSeen = Date.now();
    res.writeHead(202, { 'content-type': 'text/plain' }).end('Accepted');
    if (message.method === undefined || message.id === undefined || message.id === null) return this.onClientMessage(session, message);
    const id = message.id;
    if (message.method === 'ping') return void this.sendOnStream(session, { jsonrpc: '2.0', id, result: {} });
    if (message.method === 'initialize') {
      return this.whenReady(
        () => void this.sendOnStream(session, { jsonrpc: '2.0', id, result: this.initializeReply(message) }),
        () => void this.sendOnStream(session, { jsonrpc: '2.0', id, error: { code: ErrorCode.InternalError, message: 'stdio server is not ready' } }),
      );
    }
    this.forwardRequest(session, { ...message, id, method: message.method }, null);
  }

  private attachStream(session: Session, res: ServerResponse): SseWriter {
    const stream = new SseWriter(res, session.kind === 'streamable' ? { 'mcp-session-id': session.id } : {});
    session.stream = stream;
    session.streamRes = res;
    stream.startKeepalive(KEEPALIVE_MS);
    void stream.closed.then(() => {
      if (session.stream !== stream) return;
      session.stream = null;
      session.streamRes = null;
      session.lastSeen = Date.now();
    });
    return stream;
  }

  /** The session named by the `Mcp-Session-Id` header; answers 400/404 itself when there is none. */
  private sessionFor(req: IncomingMessage, res: ServerResponse, kind: Session['kind']): Session | null {
    const id = req.headers[SESSION_HEADER];
    if (typeof id !== 'string' || !id) {
      sendError(res, 400, ErrorCode.TransportError, 'Bad Request: Mcp-Session-Id header is required');
      return null;
    }
    const session = this.sessions.get(id);
    if (!session || session.kind !== kind) {
      sendError(res, 404, ErrorCode.SessionNotFound, 'Session not found');
      return null;
    }
    session.lastSeen = Date.now();
    return session;
  }

  /** Reads and validates one JSON-RPC message; on failure answers the HTTP error and returns null. */
  private async readMessage(req: IncomingMessage, res: ServerResponse): Promise<JsonRpcMessage | null> {
    const contentType = String(req.headers['content-type'] ?? '');
    if (!contentType.includes('application/json')) {
      sendError(res, 415, ErrorCode.TransportError, 'Unsupported Media Type: Content-Type must be application/json');
      req.resume();
      return null;
    }
    const body = await this.readBody(req, res);
    if (body === null) return null;
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      sendError(res, 400, ErrorCode.ParseError, 'Parse error: the body is not valid JSON');
      return null;
    }
    if (Array.isArray(parsed)) {
      sendError(res, 400, ErrorCode.InvalidRequest, 'Invalid Request: JSON-RPC batches are not supported');
      return null;
    }
    if (!isJsonRpcMessage(parsed)) {
      sendError(res, 400, ErrorCode.InvalidRequest, 'Invalid Request: not a JSON-RPC 2.0 message');
      return null;
    }
    return parsed;
  }

  private readBody(req: IncomingMessage, res: ServerResponse): Promise<string | null> {
    const limit = this.maxBodyBytes;
    const tooLarge = (): null => {
      res.setHeader('connection', 'close');
      sendError(res, 413, ErrorCode.TransportError, `Payload Too Large: the limit is ${limit} bytes`);
      let drained = 0;
      req.removeAllListeners('data');
      req.on('data', (chunk: Buffer) => {
        drained += chunk.length;
        if (drained > MAX_DRAIN_BYTES) req.destroy();
      });
      req.resume();
      return null;
    };
    if (Number(req.headers['content-length'] ?? 0) > limit) return Promise.resolve(tooLarge());
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit) return resolve(tooLarge());
        chunks.push(chunk);
      });
      req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.once('error', reject);
    });
  }

  /** Blocks DNS rebinding: a browser page may only reach the bridge from a loopback origin. */
  private originAllowed(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (!origin) return true;
    try {
      return this.allowedHosts.has(new URL(origin).hostname);
    } catch {
      return false;
    }
  }
}

/**
 * The response to one POSTed request: plain JSON, unless the client accepts SSE and something
 * related (progress, a server→client request) must go out before the answer; the first such
 * message turns the response into an event stream, which ends after the answer.
 */
class PostExchange {
  private stream: SseWriter | null = null;
  private done = false;
  private abortHandler: (() => void) | null = null;

  constructor(
    private readonly res: ServerResponse,
    private readonly acceptsSse: boolean,
  ) {
    res.once('close', () => {
      if (this.done) return;
      this.done = true;
      this.abortHandler?.();
    });
  }

  get canStream(): boolean {
    return this.acceptsSse && !this.done;
  }

  /** Called when the client goes away before the answer. */
  onAbort(handler: () => void): void {
    this.abortHandler = handler;
  }

  sendRelated(message: JsonRpcMessage): boolean {
    if (!this.canStream) return false;
    if (!this.stream) {
      this.stream = new SseWriter(this.res);
      this.stream.startKeepalive(KEEPALIVE_MS);
    }
    this.stream.event(JSON.stringify(message), { event: 'message' });
    if (this.res.writableLength > MAX_STREAM_BUFFER) this.res.destroy();
    return true;
  }

  respond(message: JsonRpcMessage): void {
    if (this.done) return;
    this.done = true;
    if (this.stream) {
      this.stream.event(JSON.stringify(message), { event: 'message' });
      this.stream.end();
    } else {
      sendJson(this.res, 200, message);
    }
  }

  /** No answer will come (cancelled, session ended). */
  close(): void {
    if (this.done) return;
    this.done = true;
    if (this.stream) this.stream.end();
    else this.res.writeHead(204).end();
  }
}


function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

function sendError(res: ServerResponse, status: number, code: number, message: string, id: JsonRpcId | null = null): void {
  const error: ErrorReply = { code, message };
  sendJson(res, status, { jsonrpc: '2.0', id, error });
}
