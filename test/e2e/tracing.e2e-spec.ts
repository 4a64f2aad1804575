import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startUpstream, type UpstreamFixture } from '../fixtures/upstream-server.js';
import { TEST_SECRET, bearer } from '../helpers/auth.js';
import { api, startGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { createTestDatabase } from '../helpers/postgres-db.js';
import { decodeTraceRequest } from '../helpers/otlp-protobuf.js';
import { REDIS_URL, serviceAvailable } from '../helpers/services.js';
import { waitFor } from '../helpers/wait.js';

/*
 * OpenTelemetry end to end: the built gateway with OTEL_ENABLE_OBSERVABILITY=true exports over
 * OTLP/HTTP to a real receiver here (`gw` in protobuf, the default; `gwAsync` in JSON), on
 * PostgreSQL and Redis. Every request carries a sampled traceparent, so the default sampler
 * (parentbased_traceidratio) keeps them all. One tools/call is followed
 * from the caller's traceparent through the HTTP and JSON-RPC (tool) spans to the REST endpoint
 * (which must receive the trace context), and one federated call to the upstream MCP server
 * (traceparent header and `_meta`). Sensitive arguments must arrive redacted.
 *
 * The MCP request path passes its trace context explicitly, so `gw` runs with the default
 * OTEL_ASYNC_CONTEXT=auto: on Node 20/22 that is without AsyncLocalStorage, and those trees must
 * still be whole. SQL and Redis spans need the active context to follow awaits: `gwAsync`
 * (OTEL_ASYNC_CONTEXT=always, same database and Redis) shows them in the request's tree.
 */

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  status?: { code?: number };
}

const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';

/** OTLP KeyValues as `{ key: value }`; int64 values (strings in the protobuf decoding) as numbers. */
const flatten = (attributes: Array<{ key: string; value: Record<string, unknown> }> = []): Record<string, unknown> =>
  Object.fromEntries(attributes.map(({ key, value }) => [key, 'intValue' in value ? Number(value.intValue) : Object.values(value)[0]]));

/** Node 24+ runs AsyncLocalStorage on AsyncContextFrame, so `auto` turns it on there. */
const autoAsyncContext = Number(process.versions.node.split('.')[0]) >= 24;

const havePostgres = await serviceAvailable('postgres');
const haveRedis = await serviceAvailable('redis');

describe.each(havePostgres && haveRedis ? ['postgres+redis'] : [])('OpenTelemetry traces (%s)', () => {
  const spans: OtlpSpan[] = [];
  const resources: Array<Record<string, unknown>> = [];
  const restHeaders: http.IncomingHttpHeaders[] = [];
  let receiver: http.Server;
  let rest: http.Server;
  let upstream: UpstreamFixture;
  let gw: GatewayProcess;
  let gwAsync: GatewayProcess;
  let db: { url: string; drop: () => Promise<void> };
  const auth = bearer();

  const listen = async (server: http.Server): Promise<number> => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return (server.address() as AddressInfo).port;
  };

  beforeAll(async () => {
    // A real OTLP/HTTP receiver: POST /v1/traces with an ExportTraceServiceRequest, in protobuf
    // (`gw`: the default protocol) or JSON (`gwAsync`).
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const type = req.headers['content-type'];
        if (req.url !== '/v1/traces' || (type !== 'application/json' && type !== 'application/x-protobuf')) {
          res.writeHead(415).end();
          return;
        }
        const body = Buffer.concat(chunks);
        const request = type === 'application/json' ? (JSON.parse(body.toString()) as { resourceSpans: any[] }) : decodeTraceRequest(body);
        for (const rs of request.resourceSpans) {
          resources.push(flatten(rs.resource?.attributes));
          for (const ss of rs.scopeSpans ?? []) for (const s of ss.spans ?? []) spans.push({ ...s, attributes: flatten(s.attributes) });
        }
        res.writeHead(200, { 'content-type': type }).end(type === 'application/json' ? '{}' : '');
      });
    });
    const receiverPort = await listen(receiver);
    rest = http.createServer((req, res) => {
      restHeaders.push(req.headers);
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
    });
    const restPort = await listen(rest);
    upstream = await startUpstream({ name: 'traced-upstream' });
    db = await createTestDatabase('mcpgw_trace');
    const env = {
      DATABASE_URL: db.url,
      CACHE_TYPE: 'redis',
      REDIS_URL,
      JWT_SECRET_KEY: TEST_SECRET,
      OTEL_ENABLE_OBSERVABILITY: 'true',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiverPort}`,
      OTEL_SERVICE_NAME: 'gateway-under-test',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=ci,team=mcp',
    };
    gw = await startGateway(env);
    gwAsync = await startGateway({ ...env, OTEL_ASYNC_CONTEXT: 'always', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
    const tool = await api(gw.url, 'POST', '/tools', {
      auth,
      body: {
        name: 'traced_rest',
        url: `http://127.0.0.1:${restPort}/do`,
        request_type: 'POST',
        input_schema: { type: 'object', properties: { city: { type: 'string' }, api_key: { type: 'string' } } },
      },
    });
    expect(tool.status).toBe(201);
    const gateway = await api(gw.url, 'POST', '/gateways', { auth, body: { name: 'up', url: upstream.url } });
    expect(gateway.status).toBe(201);
  }, 60_000);

  afterAll(async () => {
    await gw?.stop();
    await gwAsync?.stop();
    await upstream?.close();
    receiver?.close();
    rest?.close();
    await db?.drop();
  });

  const rpc = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${gw.url}/rpc`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  it('exports the span tree of one tools/call, continuing the caller trace, with arguments redacted', async () => {
    const res = await rpc(
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'traced_rest', arguments: { city: 'Oslo', api_key: 'sk-very-secret' } } },
      { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` },
    );
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).result.isError).toBeFalsy();

    const inTrace = () => spans.filter((s) => s.traceId === CALLER_TRACE);
    await waitFor(() => inTrace().some((s) => s.name === 'POST /rpc') && inTrace().some((s) => s.name === 'POST'), 15_000);
    expect(inTrace()).toHaveLength(3);
    const byName = (name: string) => inTrace().find((s) => s.name === name)!;

    const server = byName('POST /rpc');
    expect(server.parentSpanId).toBe(CALLER_SPAN);
    expect(server.kind).toBe(2); // SERVER
    expect(server.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/rpc', 'http.response.status_code': 200 });

    // The JSON-RPC span of a tools/call is the tool invocation's, named after the tool.
    const method = byName('tools/call traced_rest');
    expect(method.parentSpanId).toBe(server.spanId);
    expect(method.kind).toBe(2); // SERVER
    expect(method.attributes).toMatchObject({ 'rpc.system': 'jsonrpc', 'rpc.method': 'tools/call', 'mcp.transport': 'rpc', 'mcp.tool.name': 'traced_rest', 'mcp.gateway': 'local' });
    const args = JSON.parse(method.attributes['mcp.tool.arguments'] as string);
    expect(args).toEqual({ city: 'Oslo', api_key: '[REDACTED]' });
    expect(JSON.stringify(spans)).not.toContain('sk-very-secret');

    const client = byName('POST');
    expect(client.parentSpanId).toBe(method.spanId);
    expect(client.kind).toBe(3); // CLIENT
    expect(client.attributes['http.response.status_code']).toBe(200);
    // The REST endpoint continues the same trace, under the client span.
    const traceparent = String(restHeaders.at(-1)?.traceparent);
    expect(traceparent).toBe(`00-${CALLER_TRACE}-${client.spanId}-01`);

    const resource = resources.at(-1)!;
    expect(resource).toMatchObject({ 'service.name': 'gateway-under-test', 'deployment.environment': 'ci', team: 'mcp' });
  });

  /** Creates a REST tool through the admin API inside the caller trace `trace`; returns that trace's spans so far. */
  const createToolTraced = async (gateway: GatewayProcess, trace: string, name: string) => {
    const res = await fetch(`${gateway.url}/tools`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json', traceparent: `00-${trace}-${CALLER_SPAN}-01` },
      body: JSON.stringify({ name, url: 'http://127.0.0.1:9/x' }),
    });
    expect(res.status).toBe(201);
    return () => spans.filter((s) => s.traceId === trace);
  };

  it('traces catalog writes down to the SQL statements and Redis commands (OTEL_ASYNC_CONTEXT=always)', async () => {
    const inTrace = await createToolTraced(gwAsync, 'aaaabbbbccccddddeeeeffff00001111', 'traced_write');
    await waitFor(() => inTrace().some((s) => s.name === 'POST /tools') && inTrace().some((s) => s.attributes['db.system.name'] === 'postgresql'), 15_000);
    const server = inTrace().find((s) => s.name === 'POST /tools')!;
    const sql = inTrace().filter((s) => s.attributes['db.system.name'] === 'postgresql');
    expect(sql.map((s) => s.attributes['db.operation.name'])).toContain('INSERT');
    const ids = new Set(inTrace().map((s) => s.spanId));
    // Every SQL span hangs in this request's tree, below the HTTP server span.
    for (const s of sql) expect(ids.has(s.parentSpanId!) || s.parentSpanId === server.spanId).toBe(true);
    await waitFor(() => inTrace().some((s) => s.attributes['db.system.name'] === 'redis'), 15_000);
    expect(inTrace().find((s) => s.attributes['db.system.name'] === 'redis')!.name).toMatch(/^redis \w+/);
  });

  it(`makes ${autoAsyncContext ? 'SQL spans' : 'no SQL or Redis spans'} by default (OTEL_ASYNC_CONTEXT=auto on Node ${process.versions.node}), and no stray root spans`, async () => {
    const inTrace = await createToolTraced(gw, '9999bbbbccccddddeeeeffff00001111', 'traced_write_auto');
    await waitFor(() => inTrace().some((s) => s.name === 'POST /tools'), 15_000);
    if (autoAsyncContext) {
      await waitFor(() => inTrace().some((s) => s.attributes['db.system.name'] === 'postgresql'), 15_000);
    } else {
      await new Promise((r) => setTimeout(r, 1500)); // any SQL span of this request would be in the same batch
      expect(inTrace().filter((s) => s.name !== 'POST /tools')).toEqual([]);
    }
    // A statement outside any traced operation (health checks, snapshot reloads) makes no trace.
    expect(spans.filter((s) => s.parentSpanId === undefined || s.parentSpanId === '').filter((s) => 'db.system.name' in s.attributes)).toEqual([]);
  });

  it('propagates the trace to a federated upstream in the traceparent header and in _meta', async () => {
    const trace = '0123456789abcdef0123456789abcdef';
    const res = await rpc({
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: {
        name: 'up-echo',
        arguments: { text: 'hi' },
        _meta: {
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientCapabilities': {},
          traceparent: `00-${trace}-${CALLER_SPAN}-01`,
        },
      },
    }, { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'up-echo' });
    const body = (await res.json()) as any;
    expect(body.result.content).toEqual([{ type: 'text', text: 'hi' }]);

    const inTrace = () => spans.filter((s) => s.traceId === trace);
    await waitFor(() => inTrace().some((s) => s.name === 'upstream tools/call'), 15_000);
    // The _meta traceparent of a 2026-07-28 request parents the JSON-RPC span.
    const method = inTrace().find((s) => s.name === 'tools/call up-echo')!;
    expect(method.parentSpanId).toBe(CALLER_SPAN);
    expect(method.attributes['mcp.gateway']).toBe('up');
    const call = inTrace().find((s) => s.name === 'upstream tools/call')!;
    expect(call.parentSpanId).toBe(method.spanId);
    expect(call.attributes).toMatchObject({ 'mcp.gateway': 'up', 'rpc.method': 'tools/call' });
    // The upstream sees our upstream-call span as its parent, on the wire and in _meta.
    expect(upstream.calls.lastHeaders.traceparent).toBe(`00-${trace}-${call.spanId}-01`);
    expect(upstream.calls.lastMeta.traceparent).toBe(`00-${trace}-${call.spanId}-01`);
  });
});
