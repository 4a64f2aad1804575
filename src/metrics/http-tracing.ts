import type { Context } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Tracing } from './tracing.js';

const kContext = Symbol('otel.context');
type TracedRequest = FastifyRequest & { [kContext]?: Context };

/**
 * HTTP server spans on a Fastify instance, added only when tracing is on (hooks cost on every
 * request). The span continues the caller's W3C trace context (`traceparent` header) and is
 * made the active context for the route handler, so the JSON-RPC, tool, upstream, SQL and Redis
 * spans of the request are its children. It ends when the response closes, which also covers
 * hijacked event streams.
 */
export function traceHttp(fastify: FastifyInstance, t: Tracing): void {
  const { api, tracer } = t;
  fastify.addHook('onRequest', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const parent = api.propagation.extract(api.ROOT_CONTEXT, request.headers);
    const span = tracer.startSpan(
      `${request.method} ${route}`,
      {
        kind: api.SpanKind.SERVER,
        attributes: {
          'http.request.method': request.method,
          'http.route': route,
          'url.path': request.url.split('?', 1)[0],
          'client.address': request.ip,
          'mcp_gateway.correlation_id': String(request.id),
        },
      },
      parent,
    );
    (request as TracedRequest)[kContext] = api.trace.setSpan(parent, span);
    reply.raw.once('close', () => {
      const status = reply.raw.statusCode;
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) span.setStatus({ code: api.SpanStatusCode.ERROR });
      span.end();
    });
    done();
  });
  // After the body is read: the handler (and everything it awaits) runs in the span's context.
  fastify.addHook('preHandler', (request, _reply, done) => {
    const context = (request as TracedRequest)[kContext];
    if (context) api.context.with(context, done);
    else done();
  });
}
