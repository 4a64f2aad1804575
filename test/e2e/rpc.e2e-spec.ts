import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TEST_SECRET, bearer } from '../helpers/auth.js';
import { api, postOversized, startGateway, type ApiResponse, type GatewayProcess } from '../helpers/gateway-process.js';
import { sampleValue } from '../helpers/pm2-cluster.js';

/**
 * Plain JSON-RPC at `POST /rpc` and `POST /` over real HTTP against the built gateway (embedded
 * SQLite + memory cache). The catalog is created through the admin API; the REST tools call a
 * local node:http server that records what reached it.
 */

const REST_TOKEN = 'rest-upstream-token-1234';
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]).toString('base64');
const MODERN = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
};
const SERVER_INFO_KEY = 'io.modelcontextprotocol/serverInfo';

interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** The upstream REST API: `/echo` reflects the request, `/fail` answers 500. */
async function startRestServer(): Promise<{ server: Server; url: string; requests: Recorded[] }> {
  const requests: Recorded[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/fail') {
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"upstream exploded"}');
        return;
      }
      const reflected = {
        method: req.method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        body: body ? (JSON.parse(body) as unknown) : null,
      };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reflected));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

/** Calls `read` until `done` holds or `timeoutMs` passes; returns the last value either way. */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() >= deadline) return value;
    await sleep(20);
  }
}

describe('JSON-RPC over POST /rpc and POST / (embedded default)', () => {
  let gw: GatewayProcess;
  let rest: Awaited<ReturnType<typeof startRestServer>>;
  const auth = bearer({ sub: 'admin@example.com' });
  /** Every MCP response seen, to check the correlation id on all of them at the end. */
  const responses: Array<{ what: string; headers: Headers }> = [];
  const ids: Record<string, string> = {};
  let nextId = 1;

  const admin = (method: string, path: string, body?: unknown) => api(gw.url, method, path, { body, auth });

  /** POSTs one JSON-RPC message (or any body) and records the reply. */
  async function post(body: unknown, options: { path?: string; headers?: Record<string, string>; raw?: string; auth?: string | null } = {}): Promise<ApiResponse> {
    const res = await api(gw.url, 'POST', options.path ?? '/rpc', {
      ...(options.raw !== undefined ? { raw: options.raw } : { body }),
      auth: options.auth === null ? undefined : (options.auth ?? auth),
      headers: options.headers,
    });
    responses.push({ what: `${options.path ?? '/rpc'} ${options.raw ?? JSON.stringify(body)}`.slice(0, 200), headers: res.headers });
    return res;
  }
  const rpc = (method: string, params?: Record<string, unknown>, options: { path?: string; headers?: Record<string, string> } = {}) =>
    post({ jsonrpc: '2.0', id: nextId++, method, ...(params ? { params } : {}) }, options);
  /** The result of a call that must succeed. */
  async function result(method: string, params?: Record<string, unknown>, options: { path?: string; headers?: Record<string, string> } = {}): Promise<any> {
    const res = await rpc(method, params, options);
    expect([method, res.status, res.body.error]).toEqual([method, 200, undefined]);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    return res.body.result;
  }
  /** The JSON-RPC error of a call that must fail (HTTP 200, in-band). */
  async function rpcError(method: string, params?: Record<string, unknown>, options: { path?: string; headers?: Record<string, string> } = {}): Promise<any> {
    const res = await rpc(method, params, options);
    expect([method, res.status, res.body.result]).toEqual([method, 200, undefined]);
    return res.body.error;
  }
  const toolNames = async (): Promise<string[]> => (await result('tools/list')).tools.map((t: { name: string }) => t.name);

  beforeAll(async () => {
    rest = await startRestServer();
    gw = await startGateway({ JWT_SECRET_KEY: TEST_SECRET });

    const tools = [
      {
        name: 'weather_post',
        url: `${rest.url}/echo`,
        description: 'Forecast for a city',
        request_type: 'POST',
        input_schema: {
          type: 'object',
          properties: { city: { type: 'string' }, days: { type: 'integer', minimum: 1 }, options: { type: 'object', properties: { units: { enum: ['C', 'F'] } } } },
          required: ['city'],
        },
        output_schema: { type: 'object', properties: { method: { type: 'string' } } },
        annotations: { readOnlyHint: true, title: 'Weather' },
        auth: { auth_type: 'bearer', token: REST_TOKEN },
      },
      {
        name: 'search_get',
        url: `${rest.url}/echo?fixed=1`,
        description: 'Search by query string',
        request_type: 'GET',
        input_schema: { type: 'object', properties: { q: { type: 'string' }, n: { type: 'integer' } }, required: ['q'] },
      },
      { name: 'always_fails', url: `${rest.url}/fail`, request_type: 'POST' },
    ];
    for (const tool of tools) {
      const res = await admin('POST', '/tools', tool);
      expect([tool.name, res.status]).toEqual([tool.name, 201]);
      ids[tool.name] = res.body.id;
    }
    const resources = [
      { uri: 'docs://readme', name: 'Readme', description: 'The readme', mime_type: 'text/markdown', content: '# Hello\nworld' },
      { uri: 'file:///logo.png', name: 'Logo', mime_type: 'image/png', blob: PNG },
      { uri: 'docs://{id}', name: 'Doc by id', uri_template: 'docs://{id}' },
    ];
    for (const resource of resources) {
      const res = await admin('POST', '/resources', resource);
      expect([resource.uri, res.status]).toEqual([resource.uri, 201]);
      ids[resource.uri] = res.body.id;
    }
    const prompt = await admin('POST', '/prompts', { name: 'greet', description: 'Greets someone', template: 'Hello {{ who }}, welcome to {{place}}!' });
    expect(prompt.status).toBe(201);
    const server = await admin('POST', '/servers', { name: 'weather_only', associated_tools: [ids.weather_post], associated_prompts: [prompt.body.id] });
    expect(server.status).toBe(201);

    // The snapshot reloads on the bus event: wait until the new items are served.
    const names = await eventually(toolNames, (n) => n.length === 3, 2000);
    expect(names).toHaveLength(3);
  });

  afterAll(async () => {
    await gw?.stop();
    await new Promise((resolve) => rest?.server.close(resolve));
  });

  describe('tools/list', () => {
    it('returns the tools sorted by name with their schemas, annotations and description', async () => {
      const { tools, nextCursor } = await result('tools/list');
      expect(tools.map((t: { name: string }) => t.name)).toEqual(['always_fails', 'search_get', 'weather_post']);
      expect(nextCursor).toBeUndefined();
      const weather = tools.find((t: { name: string }) => t.name === 'weather_post');
      expect(weather).toEqual({
        name: 'weather_post',
        description: 'Forecast for a city',
        inputSchema: expect.objectContaining({ type: 'object', required: ['city'] }),
        outputSchema: { type: 'object', properties: { method: { type: 'string' } } },
        annotations: { readOnlyHint: true, title: 'Weather' },
      });
      // Nothing of the REST plumbing leaks into the listing.
      expect(JSON.stringify(tools)).not.toContain(rest.url);
      expect(JSON.stringify(tools)).not.toContain(REST_TOKEN);
      // A tool created without a schema still lists an object schema.
      expect(tools.find((t: { name: string }) => t.name === 'always_fails').inputSchema).toMatchObject({ type: 'object' });
    });

    it('serves the same list on POST / as on POST /rpc', async () => {
      expect(await result('tools/list', undefined, { path: '/' })).toEqual(await result('tools/list'));
    });

    it('shows an update, a deactivation and a deletion within 1 s', async () => {
      const created = await admin('POST', '/tools', { name: 'temp_tool', url: `${rest.url}/echo`, description: 'before' });
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      const find = async () => (await result('tools/list')).tools.find((t: { name: string }) => t.name === 'temp_tool');
      expect(await eventually(find, (t) => t !== undefined, 2000)).toMatchObject({ description: 'before' });

      expect((await admin('PUT', `/tools/${id}`, { description: 'after' })).status).toBe(200);
      expect(await eventually(find, (t) => t?.description === 'after', 1000)).toMatchObject({ description: 'after' });

      expect((await admin('POST', `/tools/${id}/state?activate=false`)).status).toBe(200);
      expect(await eventually(find, (t) => t === undefined, 1000)).toBeUndefined();
      expect((await rpcError('tools/call', { name: 'temp_tool', arguments: {} })).code).toBe(-32602);

      expect((await admin('POST', `/tools/${id}/state?activate=true`)).status).toBe(200);
      expect(await eventually(find, (t) => t !== undefined, 1000)).toMatchObject({ name: 'temp_tool' });

      expect((await admin('DELETE', `/tools/${id}`)).status).toBe(200);
      expect(await eventually(find, (t) => t === undefined, 1000)).toBeUndefined();
      expect(await toolNames()).toEqual(['always_fails', 'search_get', 'weather_post']);
    });

    it('answers -32602 for an invalid cursor', async () => {
      for (const cursor of ['garbage', 'bzo5OTk5OTk5', 17]) {
        const error = await rpcError('tools/list', { cursor });
        expect([cursor, error.code]).toEqual([cursor, -32602]);
      }
      expect((await rpcError('prompts/list', { cursor: 'nope' })).code).toBe(-32602);
    });
  });

  describe('tools/call', () => {
    it('POSTs the arguments as JSON with the stored bearer token, and returns text plus structuredContent', async () => {
      const before = rest.requests.length;
      const args = { city: 'Paris', days: 3, options: { units: 'C' } };
      const res = await result('tools/call', { name: 'weather_post', arguments: args });
      const reflected = { method: 'POST', path: '/echo', query: {}, body: args };
      expect(res.isError).toBeUndefined();
      expect(res.structuredContent).toEqual(reflected);
      expect(res.content).toEqual([{ type: 'text', text: expect.any(String) }]);
      expect(JSON.parse(res.content[0].text)).toEqual(reflected);

      expect(rest.requests.length).toBe(before + 1);
      const seen = rest.requests[before];
      expect(seen.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(seen.body)).toEqual(args);
      expect(seen.headers.authorization).toBe(`Bearer ${REST_TOKEN}`);
      // The caller's own credentials are not passed on to the REST API.
      expect(seen.headers.authorization).not.toBe(auth);
    });

    it('sends GET arguments as a query string after the URL own query, and no structuredContent without output_schema', async () => {
      const before = rest.requests.length;
      const res = await result('tools/call', { name: 'search_get', arguments: { q: 'hello world & more', n: 2 } });
      expect(res.structuredContent).toBeUndefined();
      expect(JSON.parse(res.content[0].text)).toEqual({ method: 'GET', path: '/echo', query: { fixed: '1', q: 'hello world & more', n: '2' }, body: null });
      const seen = rest.requests[before];
      expect(seen.method).toBe('GET');
      expect(seen.url).toBe('/echo?fixed=1&q=hello%20world%20%26%20more&n=2');
      expect(seen.body).toBe('');
      expect(seen.headers.authorization).toBeUndefined();
    });

    it('turns an upstream 500 into an isError result naming the status', async () => {
      const res = await result('tools/call', { name: 'always_fails', arguments: { any: 'thing' } });
      expect(res.isError).toBe(true);
      expect(res.content).toHaveLength(1);
      expect(res.content[0].type).toBe('text');
      expect(res.content[0].text).toContain('500');
      expect(res.content[0].text).toContain('upstream exploded');
    });

    it('answers -32602 naming the failing path for invalid arguments, without calling the REST API', async () => {
      const before = rest.requests.length;
      const missing = await rpcError('tools/call', { name: 'weather_post', arguments: { days: 2 } });
      expect(missing.code).toBe(-32602);
      expect(missing.message).toContain('/city');
      expect(missing.data.errors).toEqual(expect.arrayContaining([expect.objectContaining({ missing: 'city' })]));

      const wrongType = await rpcError('tools/call', { name: 'weather_post', arguments: { city: 'Paris', days: 'three' } });
      expect(wrongType.code).toBe(-32602);
      expect(wrongType.message).toContain('/days');
      expect(wrongType.data.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: '/days' })]));

      const nested = await rpcError('tools/call', { name: 'weather_post', arguments: { city: 'Paris', options: { units: 'K' } } });
      expect(nested.message).toContain('/options/units');
      expect(nested.data.errors[0].path).toBe('/options/units');

      // No arguments at all: validated as {}, so the required field is missing.
      expect((await rpcError('tools/call', { name: 'weather_post' })).message).toContain('/city');
      expect(rest.requests.length).toBe(before);
    });

    it('answers -32602 for an unknown tool, a missing name and arguments that are not an object', async () => {
      expect(await rpcError('tools/call', { name: 'no_such_tool', arguments: {} })).toMatchObject({ code: -32602, message: expect.stringContaining('no_such_tool') });
      expect((await rpcError('tools/call', { arguments: {} })).code).toBe(-32602);
      for (const args of [[1, 2], 'city=Paris', 42, null]) {
        const error = await rpcError('tools/call', { name: 'weather_post', arguments: args });
        expect([args, error.code]).toEqual([args, -32602]);
      }
    });

    it('works the same on POST /', async () => {
      const res = await result('tools/call', { name: 'weather_post', arguments: { city: 'Oslo' } }, { path: '/' });
      expect(res.structuredContent).toMatchObject({ body: { city: 'Oslo' } });
    });
  });

  describe('resources', () => {
    it('lists concrete resources by URI and templates apart', async () => {
      const { resources } = await result('resources/list');
      expect(resources).toEqual([
        { uri: 'docs://readme', name: 'Readme', description: 'The readme', mimeType: 'text/markdown', size: 13 },
        { uri: 'file:///logo.png', name: 'Logo', mimeType: 'image/png', size: 7 },
      ]);
      const { resourceTemplates } = await result('resources/templates/list');
      expect(resourceTemplates).toEqual([{ uriTemplate: 'docs://{id}', name: 'Doc by id' }]);
    });

    it('reads text and blob contents', async () => {
      expect(await result('resources/read', { uri: 'docs://readme' })).toEqual({
        contents: [{ uri: 'docs://readme', mimeType: 'text/markdown', text: '# Hello\nworld' }],
      });
      expect(await result('resources/read', { uri: 'file:///logo.png' })).toEqual({
        contents: [{ uri: 'file:///logo.png', mimeType: 'image/png', blob: PNG }],
      });
    });

    it('answers -32002 for an unknown URI (2025 era) and -32602 with the 2026-07-28 envelope', async () => {
      expect(await rpcError('resources/read', { uri: 'docs://missing' })).toEqual({
        code: -32002,
        message: 'resource not found: docs://missing',
        data: { uri: 'docs://missing' },
      });
      expect(await rpcError('resources/read', { uri: 'docs://missing', _meta: MODERN })).toMatchObject({ code: -32602, data: { uri: 'docs://missing' } });
      // A template is not a readable resource.
      expect((await rpcError('resources/read', { uri: 'docs://{id}' })).code).toBe(-32002);
      expect((await rpcError('resources/read', {})).code).toBe(-32602);
    });
  });

  describe('prompts and completion', () => {
    it('lists prompts with their arguments', async () => {
      const { prompts } = await result('prompts/list');
      expect(prompts).toEqual([
        {
          name: 'greet',
          description: 'Greets someone',
          arguments: [
            { name: 'who', required: true },
            { name: 'place', required: true },
          ],
        },
      ]);
    });

    it('renders {{ x }} placeholders', async () => {
      expect(await result('prompts/get', { name: 'greet', arguments: { who: 'Ada', place: 'Paris' } })).toEqual({
        description: 'Greets someone',
        messages: [{ role: 'user', content: { type: 'text', text: 'Hello Ada, welcome to Paris!' } }],
      });
    });

    it('answers -32602 for a missing required argument and an unknown prompt', async () => {
      const missing = await rpcError('prompts/get', { name: 'greet', arguments: { who: 'Ada' } });
      expect(missing).toMatchObject({ code: -32602, message: expect.stringContaining('place'), data: { missing: ['place'] } });
      expect((await rpcError('prompts/get', { name: 'greet' })).data.missing).toEqual(['who', 'place']);
      expect((await rpcError('prompts/get', { name: 'nope', arguments: {} })).code).toBe(-32602);
    });

    it('completion/complete answers an empty completion for a prompt argument, -32602 for an unknown prompt', async () => {
      const ok = await result('completion/complete', { ref: { type: 'ref/prompt', name: 'greet' }, argument: { name: 'who', value: 'A' } });
      expect(ok).toEqual({ completion: { values: [], total: 0, hasMore: false } });
      const unknown = await rpcError('completion/complete', { ref: { type: 'ref/prompt', name: 'nope' }, argument: { name: 'who', value: 'A' } });
      expect(unknown.code).toBe(-32602);
    });
  });

  describe('lifecycle (2025 era)', () => {
    const initialize = (protocolVersion: string, path = '/rpc') =>
      result('initialize', { protocolVersion, capabilities: {}, clientInfo: { name: 'e2e', version: '1.0.0' } }, { path });

    it('initialize negotiates the version and returns capabilities and serverInfo', async () => {
      const ok = await initialize('2025-06-18');
      expect(ok).toMatchObject({
        protocolVersion: '2025-06-18',
        capabilities: { tools: { listChanged: true }, resources: expect.any(Object), prompts: expect.any(Object), completions: {}, logging: {} },
        serverInfo: { name: 'mcp-gateway', version: expect.any(String) },
      });
      expect(ok.resultType).toBeUndefined();
      expect((await initialize('1999-01-01')).protocolVersion).toBe('2025-11-25');
      expect((await initialize('2024-11-05', '/')).protocolVersion).toBe('2024-11-05');
    });

    it('ping answers {}', async () => {
      expect(await result('ping')).toEqual({});
      expect(await result('ping', undefined, { path: '/' })).toEqual({});
    });

    it('logging/setLevel accepts a known level and answers -32602 for a bad one', async () => {
      expect(await result('logging/setLevel', { level: 'warning' })).toEqual({});
      expect((await rpcError('logging/setLevel', { level: 'verbose' })).code).toBe(-32602);
    });

    it('answers a notification with HTTP 202 and an empty body', async () => {
      for (const path of ['/rpc', '/']) {
        const res = await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, { path });
        expect([path, res.status, res.body]).toEqual([path, 202, '']);
      }
      const cancelled = await post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1, reason: 'test' } });
      expect([cancelled.status, cancelled.body]).toEqual([202, '']);
      // A client's JSON-RPC response is accepted the same way.
      const response = await post({ jsonrpc: '2.0', id: 5, result: {} });
      expect([response.status, response.body]).toEqual([202, '']);
    });
  });

  describe('2026-07-28 (the _meta envelope)', () => {
    it('decorates list results with resultType, ttlMs, cacheScope and serverInfo', async () => {
      for (const method of ['tools/list', 'resources/list', 'resources/templates/list', 'prompts/list']) {
        const res = await result(method, { _meta: MODERN });
        expect([method, res]).toEqual([
          method,
          expect.objectContaining({
            resultType: 'complete',
            ttlMs: expect.any(Number),
            cacheScope: expect.stringMatching(/^(public|private)$/),
            _meta: { [SERVER_INFO_KEY]: { name: 'mcp-gateway', version: expect.any(String) } },
          }),
        ]);
      }
      const tools = await result('tools/list', { _meta: MODERN });
      expect(tools.tools.map((t: { name: string }) => t.name)).toEqual(['always_fails', 'search_get', 'weather_post']);
    });

    it('decorates other results with resultType and serverInfo', async () => {
      const call = await result('tools/call', { name: 'weather_post', arguments: { city: 'Rome' }, _meta: MODERN });
      expect(call).toMatchObject({ resultType: 'complete', structuredContent: { body: { city: 'Rome' } }, _meta: { [SERVER_INFO_KEY]: expect.any(Object) } });
      const read = await result('resources/read', { uri: 'docs://readme', _meta: MODERN });
      expect(read).toMatchObject({ resultType: 'complete', ttlMs: expect.any(Number), cacheScope: expect.any(String), contents: [{ text: '# Hello\nworld' }] });
      const prompt = await result('prompts/get', { name: 'greet', arguments: { who: 'a', place: 'b' }, _meta: MODERN });
      expect(prompt).toMatchObject({ resultType: 'complete', messages: [{ content: { text: 'Hello a, welcome to b!' } }] });
    });

    it('server/discover works with the envelope and is -32601 without it', async () => {
      const discover = await result('server/discover', { _meta: MODERN }, { headers: { 'mcp-protocol-version': '2026-07-28' } });
      expect(discover).toMatchObject({
        resultType: 'complete',
        supportedVersions: ['2026-07-28'],
        capabilities: { tools: { listChanged: true } },
        ttlMs: expect.any(Number),
        cacheScope: expect.any(String),
        _meta: { [SERVER_INFO_KEY]: { name: 'mcp-gateway' } },
      });
      expect((await rpcError('server/discover')).code).toBe(-32601);
    });

    it('answers -32602 when clientCapabilities is missing', async () => {
      const error = await rpcError('tools/list', { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } });
      expect(error.code).toBe(-32602);
      expect(error.message).toContain('clientCapabilities');
    });

    it('answers -32022 with data.supported for an unknown version', async () => {
      const error = await rpcError('tools/list', { _meta: { ...MODERN, 'io.modelcontextprotocol/protocolVersion': '2099-12-31' } });
      expect(error).toMatchObject({ code: -32022, data: { supported: expect.arrayContaining(['2026-07-28']), requested: '2099-12-31' } });
    });

    it('has no initialize and no ping', async () => {
      const init = await rpcError('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' }, _meta: MODERN });
      expect(init.code).toBe(-32601);
      expect((await rpcError('ping', { _meta: MODERN })).code).toBe(-32601);
      expect((await rpcError('logging/setLevel', { level: 'info', _meta: MODERN })).code).toBe(-32601);
    });

    it('answers -32602 for a 2026-07-28 MCP-Protocol-Version header without the envelope', async () => {
      const error = await rpcError('tools/list', undefined, { headers: { 'mcp-protocol-version': '2026-07-28' } });
      expect(error.code).toBe(-32602);
    });
  });

  describe('errors', () => {
    it('answers -32020 when MCP-Protocol-Version and the _meta version disagree', async () => {
      expect(await rpcError('tools/list', { _meta: MODERN }, { headers: { 'mcp-protocol-version': '2025-06-18' } })).toMatchObject({ code: -32020 });
    });

    it('answers a wrong method on an MCP path with 405 and Allow, and an unknown path with 404, both with a correlation id', async () => {
      const get = await api(gw.url, 'GET', '/rpc', { auth });
      expect(get.status).toBe(405);
      expect(get.headers.get('allow')).toBe('POST');
      expect(get.body.correlation_id).toEqual(get.headers.get('x-correlation-id'));
      const unknown = await api(gw.url, 'PUT', '/servers/x/rpc', { auth });
      expect(unknown.status).toBe(405);
    });

    it('answers malformed JSON with HTTP 400 and -32700', async () => {
      for (const path of ['/rpc', '/']) {
        const res = await post(undefined, { path, raw: '{"jsonrpc":"2.0","id":1,' });
        expect([path, res.status]).toEqual([path, 400]);
        expect(res.body).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });
      }
      const empty = await post(undefined, { raw: '' });
      expect([empty.status, empty.body.error?.code]).toEqual([400, -32700]);
    });

    it('answers -32600 for a wrong jsonrpc version or a method that is not a string', async () => {
      const v1 = await post({ jsonrpc: '1.0', id: 1, method: 'ping' });
      expect([v1.status, v1.body]).toEqual([200, { jsonrpc: '2.0', id: 1, error: { code: -32600, message: expect.any(String) } }]);
      const noVersion = await post({ id: 2, method: 'ping' });
      expect(noVersion.body.error.code).toBe(-32600);
      const badMethod = await post({ jsonrpc: '2.0', id: 3, method: 42 });
      expect(badMethod.body).toMatchObject({ id: 3, error: { code: -32600 } });
      const nullId = await post({ jsonrpc: '2.0', id: null, method: 'ping' });
      expect(nullId.body).toMatchObject({ id: null, error: { code: -32600 } });
      const scalar = await post(7);
      expect(scalar.body).toMatchObject({ id: null, error: { code: -32600 } });
    });

    it('answers -32601 for an unknown method and -32602 for params that are an array', async () => {
      expect(await rpcError('tools/explode')).toMatchObject({ code: -32601, message: expect.stringContaining('tools/explode') });
      const res = await post({ jsonrpc: '2.0', id: 'arr', method: 'tools/list', params: [1, 2] });
      expect(res.body).toMatchObject({ id: 'arr', error: { code: -32602 } });
    });

    it('refuses a batch without MCP-Protocol-Version: 2025-03-26, and answers it with that header', async () => {
      const batch = [
        { jsonrpc: '2.0', id: 'a', method: 'ping' },
        { jsonrpc: '2.0', method: 'notifications/initialized' },
        { jsonrpc: '2.0', id: 'b', method: 'tools/call', params: { name: 'weather_post', arguments: { city: 'Lima' } } },
        { jsonrpc: '2.0', id: 'c', method: 'no/such' },
      ];
      const refused = await post(batch);
      expect(refused.body).toMatchObject({ id: null, error: { code: -32600 } });
      const newer = await post(batch, { headers: { 'mcp-protocol-version': '2025-06-18' } });
      expect(newer.body).toMatchObject({ id: null, error: { code: -32600 } });

      const answered = await post(batch, { headers: { 'mcp-protocol-version': '2025-03-26' } });
      expect(answered.status).toBe(200);
      expect(answered.body).toEqual([
        { jsonrpc: '2.0', id: 'a', result: {} },
        { jsonrpc: '2.0', id: 'b', result: expect.objectContaining({ structuredContent: expect.objectContaining({ body: { city: 'Lima' } }) }) },
        { jsonrpc: '2.0', id: 'c', error: expect.objectContaining({ code: -32601 }) },
      ]);
      const onlyNotifications = await post([{ jsonrpc: '2.0', method: 'notifications/initialized' }], { headers: { 'mcp-protocol-version': '2025-03-26' } });
      expect([onlyNotifications.status, onlyNotifications.body]).toEqual([202, '']);
      const empty = await post([], { headers: { 'mcp-protocol-version': '2025-03-26' } });
      expect(empty.body).toMatchObject({ error: { code: -32600 } });
    });

    it('answers 400 for an unknown MCP-Protocol-Version header', async () => {
      const res = await rpc('ping', undefined, { headers: { 'mcp-protocol-version': '1999-01-01' } });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ jsonrpc: '2.0', error: { code: expect.any(Number) } });
    });

    it('answers 401 JSON with www-authenticate without valid credentials', async () => {
      for (const credentials of [null, 'Bearer not-a-jwt', bearer({ sub: 'x' }, 'wrong-secret')]) {
        const res = await post({ jsonrpc: '2.0', id: 1, method: 'ping' }, { auth: credentials });
        expect([credentials, res.status]).toEqual([credentials, 401]);
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
        expect(res.body).toMatchObject({ statusCode: 401, message: expect.any(String), correlation_id: res.headers.get('x-correlation-id') });
      }
      const root = await post({ jsonrpc: '2.0', id: 1, method: 'ping' }, { auth: null, path: '/' });
      expect(root.status).toBe(401);
    });

    it('answers 413 JSON with a correlation id for a 5 MiB body (MAX_BODY_SIZE defaults to 4 MiB)', async () => {
      // Declared, not sent: see postOversized.
      const res = await postOversized(`${gw.url}/rpc`, { authorization: auth }, 5 * 1024 * 1024);
      expect(res.status).toBe(413);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toMatchObject({ statusCode: 413, message: expect.any(String) });
      // DESIGN.md §5: REST-level errors carry a correlation id, in the body and the header.
      const correlationId = res.headers['x-correlation-id'];
      expect(correlationId).toEqual(expect.any(String));
      expect(res.body.correlation_id).toBe(correlationId);
    });

    it('echoes a sane caller correlation id and replaces an insane one', async () => {
      const mine = await rpc('ping', undefined, { headers: { 'x-correlation-id': 'e2e-trace-42' } });
      expect(mine.headers.get('x-correlation-id')).toBe('e2e-trace-42');
      const insane = await rpc('ping', undefined, { headers: { 'x-correlation-id': 'bad id with spaces' } });
      expect(insane.headers.get('x-correlation-id')).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('put x-correlation-id on every response of this suite', () => {
      expect(responses.length).toBeGreaterThan(50);
      const missing = responses.filter((r) => !r.headers.get('x-correlation-id')).map((r) => r.what);
      expect(missing).toEqual([]);
    });
  });

  describe('metrics', () => {
    it('counts the /rpc requests by route and status', async () => {
      await result('ping');
      const res = await api(gw.url, 'GET', '/metrics', { auth });
      expect(res.status).toBe(200);
      const text = res.body as string;
      expect(sampleValue(text, 'http_requests_total{method="POST",route="/rpc",status="200"}')).toBeGreaterThan(10);
      expect(sampleValue(text, 'http_requests_total{method="POST",route="/rpc",status="202"}')).toBeGreaterThan(0);
      expect(sampleValue(text, 'http_requests_total{method="POST",route="/rpc",status="401"}')).toBeGreaterThan(0);
      expect(sampleValue(text, 'http_requests_total{method="POST",route="/",status="200"}')).toBeGreaterThan(0);
    });

    it('counts JSON-RPC requests and tool calls, and exposes the session, stream, health, error and event-loop families', async () => {
      const before = (await api(gw.url, 'GET', '/metrics', { auth })).body as string;
      const pings = sampleValue(before, 'mcp_requests_total{method="ping",transport="rpc",status="ok"}');
      const unknowns = sampleValue(before, 'mcp_requests_total{method="unknown",transport="rpc",status="-32601"}');
      const fails = sampleValue(before, 'tool_invocations_total{tool="always_fails",gateway="local",outcome="tool_error"}');
      for (let i = 0; i < 3; i++) await result('ping');
      await rpcError('no/such/method');
      await result('tools/call', { name: 'always_fails', arguments: { any: 'thing' } });
      const text = (await api(gw.url, 'GET', '/metrics', { auth })).body as string;
      expect(sampleValue(text, 'mcp_requests_total{method="ping",transport="rpc",status="ok"}')).toBe(pings + 3);
      // Unknown method names share one label value: clients cannot blow up the series count.
      expect(sampleValue(text, 'mcp_requests_total{method="unknown",transport="rpc",status="-32601"}')).toBe(unknowns + 1);
      expect(text).not.toContain('no/such/method');
      expect(sampleValue(text, 'tool_invocations_total{tool="always_fails",gateway="local",outcome="tool_error"}')).toBe(fails + 1);
      expect(sampleValue(text, 'tool_invocations_total{tool="weather_post",gateway="local",outcome="success"}')).toBeGreaterThan(0);
      expect(sampleValue(text, 'mcp_request_duration_seconds_count{method="ping"}')).toBeGreaterThanOrEqual(pings + 3);
      expect(text).toMatch(/^tool_invocation_duration_seconds_bucket\{le="0\.005",gateway="local"\} \d+/m);
      for (const family of ['sessions_active', 'sse_streams_open', 'upstream_health', 'redis_errors_total', 'db_errors_total', 'nodejs_eventloop_lag_p99_seconds']) {
        expect(text).toContain(`# TYPE ${family} `);
      }
      expect(text).toMatch(/^sessions_active\{transport="streamable-http"\} 0$/m);
      expect(text).toMatch(/^sse_streams_open 0$/m);
      expect(text).toMatch(/^db_errors_total\{kind="query"\} 0$/m);
    });
  });
});
