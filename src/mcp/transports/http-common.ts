import type { Context } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthGuard, AuthenticatedUser } from '#app/auth/auth.guard.js';
import { toErrorBody } from '#app/common/all-exceptions.filter.js';
import { startHttpSpan } from '#app/metrics/http-tracing.js';
import type { MetricsService } from '#app/metrics/metrics.service.js';
import { tracing } from '#app/metrics/tracing.js';
import { stampCorrelationId } from '#app/runtime/http-host.js';
import { ErrorCode } from '../mcp-types.js';
import { errorResponse } from '../mcp-dispatcher.js';

/** The body as the MCP routes receive it: raw text, parsed by the transport (so bad JSON is -32700). */
export type RawBody = string | undefined;

/**
 * Registers, inside an encapsulated Fastify context, a JSON parser that keeps the raw text:
 * MCP transports must answer malformed JSON with a JSON-RPC parse error, not a REST 400.
 */
export function keepRawJson(instance: FastifyInstance): void {
  instance.removeContentTypeParser('application/json');
  instance.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => done(null, body));
}

/** Parses a raw JSON-RPC body; on failure the `error` is the serialized -32700 response. */
export function parseJsonRpc(body: RawBody): { ok: true; value: unknown } | { ok: false; error: string } {
  if (body === undefined || body.trim() === '') return { ok: false, error: errorResponse(null, ErrorCode.ParseError, 'empty body') };
  try {
    return { ok: true, value: JSON.parse(body) };
  } catch (error) {
    return { ok: false, error: errorResponse(null, ErrorCode.ParseError, `parse error: ${(error as Error).message}`) };
  }
}

export const JSON_TYPE = 'application/json; charset=utf-8';

/** Where `begin` keeps a request's trace context (its HTTP span active) for the dispatcher. */
const TRACE_SLOT = 'mcpTraceContext';
type TracedRequest = FastifyRequest & { [TRACE_SLOT]: Context | null };

/**
 * What every MCP HTTP exchange does around the dispatcher: authenticate, echo the correlation
 * id, start the HTTP span (tracing on), and record the request in the HTTP metrics. Done inline
 * rather than as Fastify hooks, which cost measurably on the hot path.
 */
export class McpHttpExchange {
  constructor(
    private readonly guard: AuthGuard,
    private readonly metrics: MetricsService,
  ) {}

  /** Authenticates; on failure answers 401 itself and returns null. */
  begin(request: FastifyRequest, reply: FastifyReply, route: string): AuthenticatedUser | null {
    this.stamp(request, reply);
    if (tracing) (request as TracedRequest)[TRACE_SLOT] = startHttpSpan(tracing, request, reply, route);
    try {
      return this.guard.authenticate(request.headers.authorization);
    } catch (error) {
      this.send(request, reply, route, 401, JSON.stringify(toErrorBody(error, String(request.id))), {
        'www-authenticate': 'Bearer realm="mcp-gateway"',
      });
      return null;
    }
  }

  /** The trace context of this request's HTTP span (tracing on, after `begin`), for the dispatcher. */
  trace(request: FastifyRequest): Context | undefined {
    return tracing ? ((request as TracedRequest)[TRACE_SLOT] ?? undefined) : undefined;
  }

  /** Echoes the correlation id (replacing an insane caller value). */
  stamp(request: FastifyRequest, reply: FastifyReply): void {
    stampCorrelationId(request, reply);
  }

  /**
   * Answers what Fastify itself rejects on the MCP instance (oversized body 413, bad content
   * type 415, unknown path 404, wrong method 405) the way the admin API does: a JSON error with
   * the correlation id, counted in the metrics.
   */
  install(fastify: FastifyInstance, knownPaths: RegExp): void {
    // With tracing on, every request of this instance has the slot from the start (one object
    // shape); with it off, requests stay as they are.
    if (tracing) fastify.decorateRequest(TRACE_SLOT, null);
    fastify.setErrorHandler((error, request, reply) => {
      this.stamp(request, reply);
      const body = toErrorBody(error, String(request.id));
      this.send(request, reply, request.routeOptions.url ?? 'unmatched', body.statusCode, JSON.stringify(body));
    });
    fastify.setNotFoundHandler((request, reply) => {
      this.stamp(request, reply);
      const path = (request.url ?? '/').split('?', 1)[0] as string;
      const known = knownPaths.test(path);
      const error = known
        ? { statusCode: 405, error: 'Method Not Allowed', message: `${request.method} is not allowed on ${path}` }
        : { statusCode: 404, error: 'Not Found', message: `no MCP endpoint at ${path}` };
      this.send(request, reply, 'unmatched', error.statusCode, JSON.stringify({ ...error, correlation_id: String(request.id) }), known ? { allow: path.endsWith('/rpc') || path === '/' ? 'POST' : 'GET, POST, DELETE' } : undefined);
    });
  }

  /** Sends a complete JSON (or empty) answer and records it. */
  send(request: FastifyRequest, reply: FastifyReply, route: string, status: number, body: string | null, headers?: Record<string, string>): FastifyReply {
    if (headers) void reply.headers(headers);
    void reply.status(status);
    if (body === null) void reply.send();
    else void reply.type(JSON_TYPE).send(body);
    this.observe(request, reply, route, status);
    return reply;
  }

  /** Records an exchange answered some other way (an event stream). */
  observe(request: FastifyRequest, reply: FastifyReply, route: string, status: number): void {
    this.metrics.observeHttp(request.method, route, status, reply.elapsedTime / 1000);
  }
}

/**
 * An AbortSignal that fires when the client goes away before we answered. Created on first use
 * (most requests never ask), and tied to this response only, so keep-alive sockets collect no
 * listeners.
 */
export function lazyDisconnectSignal(reply: FastifyReply): () => AbortSignal {
  let controller: AbortController | undefined;
  return () => {
    if (!controller) {
      const c = (controller = new AbortController());
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) c.abort(new Error('client disconnected'));
      });
    }
    return controller.signal;
  };
}

export const header = (request: FastifyRequest, name: string): string | undefined => {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
};
