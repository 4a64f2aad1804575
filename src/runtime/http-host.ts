import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Paths served by the MCP transports: POST / and /rpc, /mcp, /sse, /message(s), /ws, and the
 * same under /servers/{id}/. Everything else is the Nest application (admin API, probes, docs).
 */
const MCP_PATH = /^\/(?:rpc|mcp|sse|messages?|ws|servers\/[^/?#]+\/(?:rpc|mcp|sse|messages?|ws))\/?(?:[?#]|$)/;
/** An MCP endpoint path without query (to tell "wrong method" from "no such path"). */
export const MCP_ENDPOINT = /^\/(?:(?:rpc|mcp|sse|messages?|ws|servers\/[^/?#]+\/(?:rpc|mcp|sse|messages?|ws))\/?)?$/;
const isMcpRequest = (req: IncomingMessage): boolean => {
  const url = req.url ?? '/';
  return MCP_PATH.test(url) || (req.method === 'POST' && (url === '/' || url.startsWith('/?')));
};

const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The worker's one HTTP server, shared by two Fastify instances: Nest's, for the admin API, and
 * a bare one for the MCP transports, so the hot path runs none of Nest's per-request hooks.
 * Requests are split by path before either sees them.
 */
export class HttpHost {
  readonly server: http.Server;
  private nestHandler: Handler | null = null;
  private mcpHandler: Handler | null = null;

  constructor() {
    this.server = http.createServer((req, res) => {
      const handler = this.mcpHandler && isMcpRequest(req) ? this.mcpHandler : this.nestHandler;
      if (handler) return handler(req, res);
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"statusCode":503,"error":"Service Unavailable","message":"starting"}');
    });
  }

  /** For Nest's FastifyAdapter `serverFactory`: Nest's instance serves whatever MCP does not. */
  readonly serverFactory = (handler: Handler): http.Server => {
    this.nestHandler = handler;
    return this.server;
  };

  /** Options for the MCP Fastify instance: its requests arrive through this host's server. */
  mcpServerOptions(options: FastifyServerOptions): FastifyServerOptions & { serverFactory: (h: Handler) => http.Server } {
    return {
      ...options,
      serverFactory: (handler: Handler) => {
        this.mcpHandler = handler;
        // Never listens: the shared server hands requests over.
        return http.createServer();
      },
    };
  }
}

/** Options both Fastify instances share: correlation ids from a sane caller header, else new. */
export const correlationOptions = {
  requestIdHeader: 'x-correlation-id',
  genReqId: () => randomUUID(),
} as const;

/** Echoes the request's correlation id on its response, replacing an insane caller value. */
export function stampCorrelationId(request: FastifyRequest, reply: FastifyReply): void {
  if (!CORRELATION_ID.test(String(request.id))) (request as { id: string }).id = randomUUID();
  void reply.header('x-correlation-id', request.id);
}

/** The admin API does it in a hook; the MCP transports inline (see McpHttpExchange). */
export function addCorrelationIdHook(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    stampCorrelationId(request, reply);
    done();
  });
}
