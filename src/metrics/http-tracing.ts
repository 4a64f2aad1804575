import type { FastifyInstance } from 'fastify';
import type { Tracing } from './tracing.js';

/**
 * HTTP server spans on a Fastify instance, added only when tracing is on (a hook costs on every
 * request, so there is one). The span starts once the body is read, continues the caller's W3C
 * trace context (`traceparent` header), and is the active context for the route handler, so
 * the JSON-RPC, tool, upstream, SQL and Redis spans of the request are its children. It ends
 * when the response closes, which also covers hijacked event streams. Requests Fastify refuses
 * before any handler runs (404, 413, 415) get no span; the metrics count them.
 */
export function traceHttp(fastify: FastifyInstance, t: Tracing): void {
  const { api, tracer } = t;
  fastify.addHook('preHandler', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const headers = request.headers;
    const parent = headers.traceparent === undefined ? api.ROOT_CONTEXT : api.propagation.extract(api.ROOT_CONTEXT, headers);
    const span = tracer.startSpan(`${request.method} ${route}`, { kind: api.SpanKind.SERVER }, parent);
    if (span.isRecording()) {
      span.setAttributes({
        'http.request.method': request.method,
        'http.route': route,
        'url.path': request.url.split('?', 1)[0],
        'client.address': request.ip,
        'mcp_gateway.correlation_id': String(request.id),
      });
    }
    reply.raw.once('close', () => {
      const status = reply.raw.statusCode;
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) span.setStatus({ code: api.SpanStatusCode.ERROR });
      span.end();
    });
    api.context.with(api.trace.setSpan(parent, span), done);
  });
}
