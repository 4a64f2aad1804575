import { STATUS_CODES } from 'node:http';
import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { QueryFailedError } from 'typeorm';
import { classifyInfrastructureError } from './infrastructure-error.js';

/** The JSON body of every REST error. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  /** Per-field validation failures, when there are any. */
  details?: Array<{ field: string; message: string }>;
  /** What a 409 collided with (e.g. the names a gateway registration would take). */
  conflicts?: string[];
  correlation_id: string;
}

/**
 * The last line: every exception becomes a JSON error with a correlation id. Known failures keep
 * their status; database and Redis outages become 503; anything else is logged with its stack
 * and answered 500 without internals.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly log = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const ctx = host.switchToHttp();
    const request = ctx.getRequest<FastifyRequest>();
    const reply = ctx.getResponse<FastifyReply>();
    const body = toErrorBody(exception, String(request.id));
    if (body.statusCode >= 500 && !(exception instanceof HttpException)) {
      this.log.error(`${request.method} ${request.url} [${body.correlation_id}]: ${describe(exception)}`);
    }
    if (reply.sent || reply.raw.headersSent) return;
    if (body.statusCode === 401) reply.header('WWW-Authenticate', 'Bearer realm="mcp-gateway", Basic realm="mcp-gateway"');
    void reply.status(body.statusCode).header('content-type', 'application/json; charset=utf-8').send(body);
  }
}

export function toErrorBody(exception: unknown, correlationId: string): ErrorBody {
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const response = exception.getResponse();
    const r = typeof response === 'object' && response !== null ? (response as Record<string, unknown>) : {};
    const message = Array.isArray(r.message) ? r.message.join('; ') : String(r.message ?? exception.message);
    return {
      statusCode: status,
      error: typeof r.error === 'string' ? r.error : (STATUS_CODES[status] ?? 'Error'),
      message,
      ...(Array.isArray(r.details) ? { details: r.details as ErrorBody['details'] } : {}),
      ...(Array.isArray(r.conflicts) ? { conflicts: r.conflicts as string[] } : {}),
      correlation_id: correlationId,
    };
  }
  const fastifyStatus = (exception as { statusCode?: unknown } | null)?.statusCode;
  if (typeof fastifyStatus === 'number' && fastifyStatus >= 400 && fastifyStatus < 500) {
    // Fastify's own client errors: oversized body (413), bad JSON (400), bad content type (415).
    return {
      statusCode: fastifyStatus,
      error: STATUS_CODES[fastifyStatus] ?? 'Bad Request',
      message: (exception as Error).message,
      correlation_id: correlationId,
    };
  }
  const infra = classifyInfrastructureError(exception);
  if (infra) return { statusCode: 503, error: 'Service Unavailable', message: infra, correlation_id: correlationId };
  if (exception instanceof QueryFailedError) {
    return { statusCode: 500, error: 'Internal Server Error', message: 'database error', correlation_id: correlationId };
  }
  return { statusCode: 500, error: 'Internal Server Error', message: 'internal error', correlation_id: correlationId };
}

function describe(exception: unknown): string {
  return exception instanceof Error ? (exception.stack ?? exception.message) : String(exception);
}
