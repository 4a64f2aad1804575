import type { Context } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Tracing } from './tracing.js';

/**
 * Starts the HTTP server span of a request: the child of the caller's W3C trace context
 * (`traceparent` header), ended when the response closes, which also covers hijacked event
 * streams. The MCP transports call this inline (McpHttpExchange.begin, which keeps the returned
 * context on the request for the spans it causes); a Fastify hook would cost on every request of
 * that instance. A request without the caller's trace context starts a root span (see
 * root-spans.ts for why it is not simply the SDK's).
 */
export function startHttpSpan(t: Tracing, request: FastifyRequest, reply: FastifyReply, route: string): Context {
  const { api, tracer } = t;
  const headers = request.headers;
  const name = `${request.method} ${route}`;
  const parent = headers.traceparent === undefined ? api.ROOT_CONTEXT : api.propagation.extract(api.ROOT_CONTEXT, headers);
  const span = parent === api.ROOT_CONTEXT ? t.startRootSpan(name, api.SpanKind.SERVER) : tracer.startSpan(name, { kind: api.SpanKind.SERVER }, parent);
  // An unsampled span records nothing, so it needs no attributes and no end.
  if (span.isRecording()) {
    span.setAttributes({
      'http.request.method': request.method,
      'http.route': route,
      'url.path': request.url.split('?', 1)[0],
      'client.address': request.ip,
      'mcp_gateway.correlation_id': String(request.id),
    });
    reply.raw.once('close', () => {
      const status = reply.raw.statusCode;
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) span.setStatus({ code: api.SpanStatusCode.ERROR });
      span.end();
    });
  }
  return api.trace.setSpan(parent, span);
}

/**
 * HTTP server spans for every request of a Fastify instance (the admin API's), through a
 * preHandler hook added only when tracing is on. The handler runs with the span's context
 * active, so SQL and Redis spans nest under it where the active context follows awaits.
 * Requests Fastify refuses before any handler runs (404, 413, 415) get no span; the metrics
 * count them.
 */
export function traceHttp(fastify: FastifyInstance, t: Tracing): void {
  fastify.addHook('preHandler', (request, reply, done) => {
    const context = startHttpSpan(t, request, reply, request.routeOptions.url ?? 'unmatched');
    t.api.context.with(context, done);
  });
}
