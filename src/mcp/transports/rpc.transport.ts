import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { McpDispatcher } from '../mcp-dispatcher.js';
import { errorResponse } from '../mcp-dispatcher.js';
import { ErrorCode } from '../mcp-types.js';
import { BATCH_VERSION, LEGACY_VERSIONS, MODERN_VERSIONS, isLegacyVersion, isModernVersion } from '../protocol.js';
import { header, lazyDisconnectSignal, parseJsonRpc, type McpHttpExchange, type RawBody } from './http-common.js';

/**
 * Plain JSON-RPC over HTTP at `POST /` and `POST /rpc` (the seed's load-test target): one message
 * or, for 2025-03-26, a batch in; the JSON response out (202 for notifications). No session.
 */
export function registerRpcTransport(fastify: FastifyInstance, dispatcher: McpDispatcher, exchange: McpHttpExchange): void {
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const route = request.routeOptions.url ?? '/rpc';
    const user = exchange.begin(request, reply, route);
    if (!user) return reply;
    const version = header(request, 'mcp-protocol-version');
    if (version !== undefined && !isLegacyVersion(version) && !isModernVersion(version)) {
      const error = errorResponse(null, ErrorCode.UnsupportedProtocolVersion, `unsupported MCP-Protocol-Version ${JSON.stringify(version)}`, {
        supported: [...MODERN_VERSIONS, ...LEGACY_VERSIONS],
        requested: version,
      });
      return exchange.send(request, reply, route, 400, error);
    }
    const parsed = parseJsonRpc(request.body as RawBody);
    if (!parsed.ok) return exchange.send(request, reply, route, 400, parsed.error);
    const response = await dispatcher.dispatch(parsed.value, {
      transport: 'rpc',
      user,
      serverId: null,
      protocolVersion: version,
      allowBatch: version === BATCH_VERSION,
      signal: lazyDisconnectSignal(reply),
      headers: request.headers,
      trace: exchange.trace(request),
    });
    return response === null ? exchange.send(request, reply, route, 202, null) : exchange.send(request, reply, route, 200, response);
  };
  fastify.post('/', handler);
  fastify.post('/rpc', handler);
}
