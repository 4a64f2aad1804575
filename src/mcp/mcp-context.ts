import type { Context } from '@opentelemetry/api';
import type { AuthenticatedUser } from '#app/auth/auth.guard.js';
import type { McpLogLevel } from './protocol.js';

export type McpTransportName = 'rpc' | 'streamable-http' | 'sse' | 'ws';

/** A 2025-era session as a request sees it; the transport persists changes. */
export interface McpSessionView {
  readonly id: string;
  readonly protocolVersion: string;
  readonly clientCapabilities: Record<string, unknown>;
  readonly logLevel: McpLogLevel | null;
  setLogLevel(level: McpLogLevel): Promise<void>;
  subscribe(uri: string): Promise<void>;
  unsubscribe(uri: string): Promise<void>;
  markInitialized(): Promise<void>;
}

/**
 * Everything the dispatcher needs to know about where a message came from. Transports build one
 * per connection (WebSocket, SSE) or per request (HTTP); the dispatcher never sees HTTP.
 */
export interface McpConnectionContext {
  readonly transport: McpTransportName;
  readonly user: AuthenticatedUser;
  /** Virtual server scope (`/servers/{id}/…`), or null for the whole catalog. */
  readonly serverId: string | null;
  /** The 2025-era session, when the transport has one. */
  readonly session?: McpSessionView;
  /** Protocol version the transport already knows (session, or the MCP-Protocol-Version header). */
  readonly protocolVersion?: string;
  /** Whether a JSON-RPC batch (array) is allowed here (2025-03-26 only). */
  readonly allowBatch: boolean;
  /**
   * Aborted when the client goes away or cancels; handlers pass it on to upstream calls. A
   * function, so transports create the signal only for requests that ask (an accessor property
   * here would push every context object onto V8's slow path: measured at -30% on /rpc).
   */
  readonly signal?: () => AbortSignal;
  /** Sends a notification that belongs to the request in progress (progress, log messages). */
  readonly notify?: (method: string, params: Record<string, unknown>) => void;
  /**
   * Sends a server-to-client request (sampling, elicitation, roots) to this client and resolves
   * with its answer, which may come back through any worker. Absent where the transport cannot
   * carry one (`/rpc`, 2026-07-28 requests, which use `input_required` instead).
   */
  readonly request?: (method: string, params: Record<string, unknown>, signal?: AbortSignal) => Promise<Record<string, unknown>>;
  /** Takes a response the client sent to one of our server-to-client requests. */
  readonly clientResponse?: (message: Record<string, unknown>) => void;
  /** Cancels a request of this session or connection (notifications/cancelled). */
  readonly cancel?: (requestId: string | number, reason?: string) => void;
  /** Headers of the downstream request, for passthrough to upstreams. */
  readonly headers?: Record<string, string | string[] | undefined>;
  /** Tracing on: the trace context of the HTTP request that carried the message (its span active). */
  readonly trace?: Context;
}
