import { Logger, type LoggerService } from '@nestjs/common';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { CatalogSnapshot, type CatalogRows, type ResourceEntry, type ToolEntry } from '#app/catalog/catalog-snapshot.js';
import { PromptRenderer } from '#app/prompts/prompt-renderer.js';
import type { PromptEntity } from '#app/prompts/prompt.entity.js';
import type { ResourceEntity } from '#app/resources/resource.entity.js';
import type { ServerEntity } from '#app/servers/server.entity.js';
import type { ToolEntity } from '#app/tools/tool.entity.js';
import { LIST_PAGE_SIZE, renderList } from './catalog-lists.js';
import type { McpConnectionContext, McpSessionView } from './mcp-context.js';
import { McpDispatcher } from './mcp-dispatcher.js';
import type { CallToolResult } from './mcp-types.js';
import { META, SERVER_INFO, type McpLogLevel } from './protocol.js';

// McpDispatcher built by hand: a hand-made catalog snapshot, fake invoker and reader, and the
// real PromptRenderer. No Nest, no HTTP.

const UPDATED = new Date('2026-01-01T00:00:00Z');

function tool(id: string, name: string, extra: Partial<ToolEntity> = {}): ToolEntity {
  return {
    id,
    name,
    originalName: null,
    url: `http://127.0.0.1:9/${name}`,
    description: `the ${name} tool`,
    integrationType: 'REST',
    requestType: 'POST',
    headers: null,
    inputSchema: { type: 'object', properties: { q: { type: 'string' } } },
    outputSchema: null,
    annotations: null,
    authType: null,
    authValue: null,
    tags: [],
    timeoutMs: null,
    isActive: true,
    gatewayId: null,
    createdAt: UPDATED,
    updatedAt: UPDATED,
    version: 1,
    ...extra,
  };
}

function resource(id: string, uri: string, extra: Partial<ResourceEntity> = {}): ResourceEntity {
  return {
    id,
    uri,
    name: uri,
    description: null,
    mimeType: 'text/plain',
    uriTemplate: null,
    contentText: 'hello',
    contentBlob: null,
    size: 5,
    tags: [],
    isActive: true,
    gatewayId: null,
    createdAt: UPDATED,
    updatedAt: UPDATED,
    version: 1,
    ...extra,
  };
}

/** No gateways in these catalogs: nothing is federated. */
const noFederation = { gatewayForUri: () => null, gatewayForTemplate: () => null } as never;
/** Records what the dispatcher reports to the metrics. */
const observed: { mcp: unknown[][]; tools: unknown[][] } = { mcp: [], tools: [] };
const metrics = {
  observeMcp: (...args: unknown[]) => void observed.mcp.push(args.slice(0, 3)),
  observeTool: (...args: unknown[]) => void observed.tools.push(args.slice(0, 3)),
};

function prompt(id: string, name: string, template: string, args: PromptEntity['arguments']): PromptEntity {
  return { id, name, description: `the ${name} prompt`, template, arguments: args, tags: [], isActive: true, gatewayId: null, originalName: null, createdAt: UPDATED, updatedAt: UPDATED, version: 1 };
}

function server(id: string, name: string): ServerEntity {
  return { id, name, description: null, icon: null, tags: [], isActive: true, createdAt: UPDATED, updatedAt: UPDATED, version: 1, tools: [], resources: [], prompts: [] };
}

function rows(extraTools: ToolEntity[] = []): CatalogRows {
  return {
    // Deliberately unsorted: the snapshot sorts by name.
    tools: [
      tool('t2', 'zeta', { annotations: { readOnlyHint: true } }),
      tool('t1', 'alpha', { outputSchema: { type: 'object' } }),
      tool('t3', 'mid'),
      ...extraTools,
    ],
    resources: [
      resource('r2', 'docs://b'),
      resource('r1', 'docs://a'),
      resource('r3', 'docs://{id}', { uriTemplate: 'docs://{id}', contentText: null, size: null }),
    ],
    prompts: [prompt('p1', 'greet', 'Hello {{ who }}, welcome to {{place}}!', [{ name: 'who', required: true }, { name: 'place' }])],
    servers: [server('s1', 'research')],
    associations: {
      tools: new Map([['s1', ['t1']]]),
      resources: new Map([['s1', ['r2']]]),
      prompts: new Map(),
    },
  };
}

const user = { username: 'tester', method: 'jwt' } as const;

function context(extra: Partial<McpConnectionContext> = {}): McpConnectionContext {
  return { transport: 'rpc', user, serverId: null, allowBatch: false, ...extra };
}

const ENVELOPE = { [META.protocolVersion]: '2026-07-28', [META.clientCapabilities]: {} };

interface Invocation {
  tool: ToolEntry;
  args: unknown;
  ctx: McpConnectionContext;
}

describe('McpDispatcher', () => {
  let snapshot: CatalogSnapshot;
  let dispatcher: McpDispatcher;
  let invocations: Invocation[];
  let invoke: (tool: ToolEntry, args: unknown, ctx: McpConnectionContext) => Promise<CallToolResult>;
  let read: (entry: ResourceEntry) => Promise<unknown>;
  const logged: string[] = [];

  beforeAll(() => {
    const quiet: LoggerService = { log: () => undefined, warn: () => undefined, error: (m: unknown) => void logged.push(String(m)) };
    Logger.overrideLogger(quiet);
  });
  afterAll(() => {
    Logger.overrideLogger(true);
  });

  beforeEach(() => {
    snapshot = CatalogSnapshot.build(1, rows());
    invocations = [];
    invoke = async (t, args, ctx) => {
      invocations.push({ tool: t, args, ctx });
      return { content: [{ type: 'text', text: `called ${t.name}` }] };
    };
    read = async (entry) => [{ uri: entry.uri, mimeType: 'text/plain', text: 'hello' }];
    const catalog = { current: snapshot };
    const tools = { invoke: (t: ToolEntry, args: unknown, ctx: McpConnectionContext) => invoke(t, args, ctx) };
    const resources = { read: (entry: ResourceEntry) => read(entry) };
    dispatcher = new McpDispatcher(catalog as never, tools as never, resources as never, new PromptRenderer(), noFederation, metrics as never);
  });

  /** Dispatches one message and parses the reply. */
  async function send(message: unknown, ctx: McpConnectionContext = context()): Promise<any> {
    const reply = await dispatcher.dispatch(message, ctx);
    return reply === null ? null : JSON.parse(reply);
  }
  const request = (method: string, params?: Record<string, unknown>, id: unknown = 1) => ({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) });
  const call = (method: string, params?: Record<string, unknown>, ctx?: McpConnectionContext) => send(request(method, params), ctx);

  describe('catalog scope', () => {
    it('lists the whole catalog, sorted by name, with the listing fields', async () => {
      const reply = await call('tools/list');
      expect(reply).toEqual({
        jsonrpc: '2.0',
        id: 1,
        result: {
          tools: [
            { name: 'alpha', description: 'the alpha tool', inputSchema: { type: 'object', properties: { q: { type: 'string' } } }, outputSchema: { type: 'object' } },
            { name: 'mid', description: 'the mid tool', inputSchema: { type: 'object', properties: { q: { type: 'string' } } } },
            { name: 'zeta', description: 'the zeta tool', inputSchema: { type: 'object', properties: { q: { type: 'string' } } }, annotations: { readOnlyHint: true } },
          ],
        },
      });
    });

    it("shows a virtual server only its own tools, resources and prompts", async () => {
      const ctx = context({ serverId: 's1' });
      expect((await call('tools/list', undefined, ctx)).result.tools.map((t: { name: string }) => t.name)).toEqual(['alpha']);
      expect((await call('resources/list', undefined, ctx)).result.resources.map((r: { uri: string }) => r.uri)).toEqual(['docs://b']);
      expect((await call('prompts/list', undefined, ctx)).result.prompts).toEqual([]);
      expect((await call('resources/templates/list', undefined, ctx)).result.resourceTemplates).toEqual([]);
    });

    it('refuses to call, read or render what the virtual server does not include', async () => {
      const ctx = context({ serverId: 's1' });
      expect((await call('tools/call', { name: 'zeta' }, ctx)).error).toMatchObject({ code: -32602, message: 'unknown tool: zeta' });
      expect(invocations).toHaveLength(0);
      expect((await call('resources/read', { uri: 'docs://a' }, ctx)).error).toMatchObject({ code: -32002 });
      expect((await call('prompts/get', { name: 'greet', arguments: { who: 'x' } }, ctx)).error).toMatchObject({ code: -32602 });
      expect((await call('tools/call', { name: 'alpha' }, ctx)).result).toEqual({ content: [{ type: 'text', text: 'called alpha' }] });
    });

    it('answers -32602 for an unknown virtual server, on every method', async () => {
      const ctx = context({ serverId: 'nope' });
      for (const method of ['tools/list', 'tools/call', 'ping', 'initialize']) {
        const reply = await call(method, { name: 'alpha' }, ctx);
        expect([method, reply.error.code]).toEqual([method, -32602]);
        expect(reply.error.message).toContain('nope');
      }
    });
  });

  describe('tools/call', () => {
    it('hands the snapshot entry, the raw arguments and the context to the invoker', async () => {
      const ctx = context();
      const reply = await call('tools/call', { name: 'mid', arguments: { q: 'x' } }, ctx);
      expect(reply).toEqual({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'called mid' }] } });
      expect(invocations).toHaveLength(1);
      expect(invocations[0].tool).toBe(snapshot.all.toolsByName.get('mid'));
      expect(invocations[0].args).toEqual({ q: 'x' });
      expect(invocations[0].ctx).toBe(ctx);
    });

    it('answers -32602 for a missing or unknown tool name', async () => {
      expect((await call('tools/call', {})).error).toMatchObject({ code: -32602, message: expect.stringMatching(/^tools\/call: name: /) });
      expect((await call('tools/call', { name: 42 })).error.code).toBe(-32602);
      expect((await call('tools/call', { name: 'ghost' })).error).toEqual({ code: -32602, message: 'unknown tool: ghost' });
    });

    it('reports each request and tool call to the metrics, with bounded method labels', async () => {
      observed.mcp.length = 0;
      observed.tools.length = 0;
      await call('tools/call', { name: 'mid', arguments: {} });
      await call('tools/call', { name: 'ghost' });
      await call('no/such/method', {});
      expect(observed.mcp).toEqual([
        ['tools/call', 'rpc', 'ok'],
        ['tools/call', 'rpc', '-32602'],
        ['unknown', 'rpc', '-32601'],
      ]);
      // Only the call that reached a tool is a tool invocation.
      expect(observed.tools).toEqual([['mid', 'local', 'success']]);
    });
  });

  describe('notifications and client responses', () => {
    it('returns null for notifications and tells the session it is initialized', async () => {
      let initialized = 0;
      const session = { markInitialized: async () => void initialized++ } as unknown as McpSessionView;
      expect(await dispatcher.dispatch({ jsonrpc: '2.0', method: 'notifications/initialized' }, context({ session }))).toBeNull();
      expect(initialized).toBe(1);
      // Without a session (plain /rpc) it is still accepted silently.
      expect(await dispatcher.dispatch({ jsonrpc: '2.0', method: 'notifications/initialized' }, context())).toBeNull();
    });

    it('survives a session whose markInitialized fails', async () => {
      const session = { markInitialized: async () => Promise.reject(new Error('redis down')) } as unknown as McpSessionView;
      expect(await dispatcher.dispatch({ jsonrpc: '2.0', method: 'notifications/initialized' }, context({ session }))).toBeNull();
    });

    it('passes notifications/cancelled on to ctx.cancel, with string or number ids', async () => {
      const cancelled: Array<[string | number, string | undefined]> = [];
      const ctx = context({ cancel: (id, reason) => void cancelled.push([id, reason]) });
      expect(await send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 7, reason: 'user abort' } }, ctx)).toBeNull();
      expect(await send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'abc' } }, ctx)).toBeNull();
      // Not a valid id: ignored.
      expect(await send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: { x: 1 } } }, ctx)).toBeNull();
      expect(await send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: {} }, ctx)).toBeNull();
      expect(cancelled).toEqual([
        [7, 'user abort'],
        ['abc', undefined],
      ]);
    });

    it('ignores unknown notifications, and ones with params that are not an object', async () => {
      expect(await send({ jsonrpc: '2.0', method: 'notifications/whatever', params: { a: 1 } })).toBeNull();
      expect(await send({ jsonrpc: '2.0', method: 'notifications/whatever', params: [1] })).toBeNull();
      expect(await send({ jsonrpc: '2.0', method: 'tools/list' })).toBeNull(); // a request without id is a notification
    });

    it("returns null for a client's JSON-RPC response (result or error without a method)", async () => {
      expect(await dispatcher.dispatch({ jsonrpc: '2.0', id: 3, result: { action: 'accept' } }, context())).toBeNull();
      expect(await dispatcher.dispatch({ jsonrpc: '2.0', id: 4, error: { code: -1, message: 'no' } }, context())).toBeNull();
    });
  });

  describe('envelope and ids', () => {
    it.each([
      ['a string id', 'req-1'],
      ['a number id', 42],
      ['id 0', 0],
      ['a negative fractional id', -1.5],
      ['an empty string id', ''],
    ])('echoes %s with its JSON type', async (_label, id) => {
      const raw = await dispatcher.dispatch(request('ping', undefined, id), context());
      expect(JSON.parse(raw as string)).toEqual({ jsonrpc: '2.0', id, result: {} });
    });

    it.each([
      ['null', null],
      ['an object', { a: 1 }],
      ['a boolean', true],
    ])('answers -32600 with id null for an id that is %s', async (_label, id) => {
      expect(await send(request('ping', undefined, id))).toEqual({
        jsonrpc: '2.0',
        id: null,
        error: { code: -32600, message: 'id must be a string or a number' },
      });
    });

    it('answers -32600 for a message that is not JSON-RPC 2.0, keeping a valid id', async () => {
      expect(await send({ jsonrpc: '1.0', id: 9, method: 'ping' })).toMatchObject({ id: 9, error: { code: -32600 } });
      expect(await send({ id: 9, method: 'ping' })).toMatchObject({ id: 9, error: { code: -32600 } });
      expect(await send('ping')).toMatchObject({ id: null, error: { code: -32600 } });
      expect(await send(null)).toMatchObject({ id: null, error: { code: -32600 } });
      expect(await send(42)).toMatchObject({ id: null, error: { code: -32600 } });
    });

    it('answers -32600 when the method is not a string, -32602 when params is not an object', async () => {
      expect(await send({ jsonrpc: '2.0', id: 1, method: 5 })).toMatchObject({ id: 1, error: { code: -32600, message: 'method must be a string' } });
      expect(await send({ jsonrpc: '2.0', id: 1 })).toMatchObject({ id: 1, error: { code: -32600 } });
      expect(await send({ jsonrpc: '2.0', id: 1, method: 'ping', params: [1] })).toMatchObject({ id: 1, error: { code: -32602 } });
      expect(await send({ jsonrpc: '2.0', id: 1, method: 'ping', params: 'x' })).toMatchObject({ id: 1, error: { code: -32602 } });
    });

    it('answers -32601 for an unknown method', async () => {
      expect(await call('tools/destroy')).toEqual({ jsonrpc: '2.0', id: 1, error: { code: -32601, message: 'method not found: tools/destroy' } });
    });
  });

  describe('internal errors', () => {
    it('become -32603 with a correlation id, never the stack or the message', async () => {
      invoke = async () => {
        throw new Error('database password is hunter2');
      };
      logged.length = 0;
      const raw = (await dispatcher.dispatch(request('tools/call', { name: 'alpha' }, 'x1'), context())) as string;
      const reply = JSON.parse(raw);
      expect(reply).toEqual({
        jsonrpc: '2.0',
        id: 'x1',
        error: { code: -32603, message: 'internal error', data: { correlationId: expect.stringMatching(/^[0-9a-f-]{36}$/) } },
      });
      expect(raw).not.toContain('hunter2');
      expect(raw).not.toMatch(/\bat .*\.ts:\d+/);
      // The log has the details, under the same correlation id.
      expect(logged.some((l) => l.includes(reply.error.data.correlationId) && l.includes('hunter2'))).toBe(true);
    });

    it('gives each failure its own correlation id, also for non-Error throws', async () => {
      invoke = async () => {
        throw 'a string';
      };
      const a = await call('tools/call', { name: 'alpha' });
      const b = await call('tools/call', { name: 'alpha' });
      expect(a.error.code).toBe(-32603);
      expect(a.error.data.correlationId).not.toBe(b.error.data.correlationId);
    });

    it('come from any collaborator, e.g. a failing resource reader', async () => {
      read = async () => {
        throw new Error('disk gone');
      };
      expect((await call('resources/read', { uri: 'docs://a' })).error).toMatchObject({ code: -32603, message: 'internal error' });
    });
  });

  describe('batches', () => {
    const batch = [request('ping', undefined, 1), { jsonrpc: '2.0', method: 'notifications/initialized' }, request('tools/list', undefined, 'two')];

    it('are refused with -32600 when the transport does not allow them', async () => {
      expect(await send(batch, context({ allowBatch: false }))).toEqual({
        jsonrpc: '2.0',
        id: null,
        error: { code: -32600, message: 'JSON-RPC batches are only allowed with protocol version 2025-03-26' },
      });
    });

    it('answer with an array of responses, in order, without the notifications', async () => {
      const reply = await send(batch, context({ allowBatch: true }));
      expect(reply).toEqual([
        { jsonrpc: '2.0', id: 1, result: {} },
        { jsonrpc: '2.0', id: 'two', result: { tools: expect.any(Array) } },
      ]);
      expect(reply[1].result.tools).toHaveLength(3);
    });

    it('answer each bad element on its own', async () => {
      const reply = await send([request('ping', undefined, 1), 5, { jsonrpc: '2.0', id: 3, method: 'nope' }], context({ allowBatch: true }));
      expect(reply).toEqual([
        { jsonrpc: '2.0', id: 1, result: {} },
        { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'not a JSON-RPC 2.0 message' } },
        { jsonrpc: '2.0', id: 3, error: { code: -32601, message: 'method not found: nope' } },
      ]);
    });

    it('of only notifications and responses return null', async () => {
      const reply = await dispatcher.dispatch(
        [{ jsonrpc: '2.0', method: 'notifications/initialized' }, { jsonrpc: '2.0', id: 1, result: {} }],
        context({ allowBatch: true }),
      );
      expect(reply).toBeNull();
    });

    it('that are empty are -32600', async () => {
      expect(await send([], context({ allowBatch: true }))).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'empty batch' } });
    });

    it('may not contain initialize or 2026-07-28 requests', async () => {
      const init = request('initialize', { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'c', version: '1' } }, 9);
      expect(await send([request('ping'), init], context({ allowBatch: true }))).toMatchObject({ id: null, error: { code: -32600 } });
      const modern = request('tools/list', { _meta: ENVELOPE }, 10);
      expect(await send([request('ping'), modern], context({ allowBatch: true }))).toMatchObject({ id: null, error: { code: -32600 } });
    });
  });

  describe('list rendering', () => {
    it('is memoised per snapshot scope: repeated calls serve the same serialized text', async () => {
      const first = await dispatcher.dispatch(request('tools/list'), context());
      const key = 'tools/list|legacy|0';
      const cached = snapshot.all.rendered.get(key);
      expect(cached).toBeDefined();
      expect(first).toBe(`{"jsonrpc":"2.0","id":1,"result":${cached}}`);
      // The second call reads the memo: a planted value proves the list is not rendered again.
      snapshot.all.rendered.set(key, '{"tools":[{"name":"planted"}]}');
      expect(await send(request('tools/list', undefined, 2))).toEqual({ jsonrpc: '2.0', id: 2, result: { tools: [{ name: 'planted' }] } });
    });

    it('returns the very same string from renderList on repeated calls', () => {
      const a = renderList(snapshot.all, 'prompts/list', undefined, 'legacy');
      const b = renderList(snapshot.all, 'prompts/list', undefined, 'legacy');
      expect(b.json).toBe(a.json);
      expect(snapshot.all.rendered.size).toBe(1);
      // Each era has its own rendering.
      const modern = renderList(snapshot.all, 'prompts/list', undefined, 'modern');
      expect(modern.json).not.toBe(a.json);
      expect(snapshot.all.rendered.size).toBe(2);
    });

    it('memoises a virtual server apart from the whole catalog', async () => {
      await call('tools/list');
      await call('tools/list', undefined, context({ serverId: 's1' }));
      expect(JSON.parse(snapshot.all.rendered.get('tools/list|legacy|0') as string).tools).toHaveLength(3);
      expect(JSON.parse(snapshot.server('s1')?.rendered.get('tools/list|legacy|0') as string).tools).toHaveLength(1);
    });

    it('pages by LIST_PAGE_SIZE with an opaque nextCursor, and rejects bad cursors', async () => {
      const many = Array.from({ length: LIST_PAGE_SIZE + 50 }, (_, i) => tool(`bulk${i}`, `bulk_${String(i).padStart(4, '0')}`));
      const big = CatalogSnapshot.build(2, rows(many));
      const bigDispatcher = new McpDispatcher({ current: big } as never, { invoke } as never, {} as never, new PromptRenderer(), noFederation, metrics as never);
      const page = async (cursor?: unknown) => JSON.parse((await bigDispatcher.dispatch(request('tools/list', cursor === undefined ? {} : { cursor }), context())) as string);

      const first = await page();
      expect(first.result.tools).toHaveLength(LIST_PAGE_SIZE);
      expect(first.result.nextCursor).toEqual(expect.any(String));
      const second = await page(first.result.nextCursor);
      expect(second.result.tools).toHaveLength(53);
      expect(second.result.nextCursor).toBeUndefined();
      const names = [...first.result.tools, ...second.result.tools].map((t: { name: string }) => t.name);
      expect(names).toEqual([...names].sort());
      expect(new Set(names).size).toBe(LIST_PAGE_SIZE + 53);

      for (const bad of ['garbage', 42, Buffer.from('o:999999').toString('base64url'), Buffer.from('o:-1').toString('base64url')]) {
        expect([bad, (await page(bad)).error?.code]).toEqual([bad, -32602]);
      }
      // Other spellings of a valid cursor (base64url decoding skips stray characters) are refused,
      // so clients cannot grow the per-scope memo with them.
      const cursor = first.result.nextCursor as string;
      for (const spelling of [`!${cursor}`, `${cursor.slice(0, 1)}!${cursor.slice(1)}`]) {
        expect((await page(spelling)).error?.code).toBe(-32602);
      }
      expect([...big.all.rendered.keys()].filter((k) => k.startsWith('tools/list|legacy|'))).toHaveLength(2);
      // Small lists have no cursor at all.
      expect((await call('tools/list')).result.nextCursor).toBeUndefined();
    });
  });

  describe('2026-07-28 requests', () => {
    const modern = (method: string, params: Record<string, unknown> = {}) => call(method, { ...params, _meta: ENVELOPE });

    it('decorate cacheable list results with resultType, ttlMs, cacheScope and serverInfo', async () => {
      for (const method of ['tools/list', 'resources/list', 'resources/templates/list', 'prompts/list']) {
        const { result } = await modern(method);
        expect([method, result]).toEqual([
          method,
          expect.objectContaining({ resultType: 'complete', ttlMs: 0, cacheScope: 'private', _meta: { [META.serverInfo]: SERVER_INFO } }),
        ]);
      }
      // The legacy rendering of the same list has none of it.
      const legacy = (await call('tools/list')).result;
      expect(Object.keys(legacy)).toEqual(['tools']);
    });

    it('decorate other results with resultType and serverInfo only', async () => {
      const { result } = await modern('tools/call', { name: 'alpha', arguments: { q: 'x' } });
      expect(result).toEqual({
        content: [{ type: 'text', text: 'called alpha' }],
        resultType: 'complete',
        _meta: { [META.serverInfo]: SERVER_INFO },
      });
      const prompt = (await modern('prompts/get', { name: 'greet', arguments: { who: 'Ada' } })).result;
      expect(prompt).toMatchObject({ resultType: 'complete', messages: [{ role: 'user', content: { type: 'text', text: 'Hello Ada, welcome to !' } }] });
      expect(prompt.ttlMs).toBeUndefined();
    });

    it("merge serverInfo into the handler's own result _meta", async () => {
      invoke = async () => ({ content: [], _meta: { 'x/trace': 'abc' } }) as CallToolResult;
      const { result } = await modern('tools/call', { name: 'alpha' });
      expect(result._meta).toEqual({ 'x/trace': 'abc', [META.serverInfo]: SERVER_INFO });
    });

    it('serve server/discover (cacheable) only with the envelope', async () => {
      const { result } = await modern('server/discover');
      expect(result).toMatchObject({
        supportedVersions: ['2026-07-28'],
        capabilities: { tools: { listChanged: true }, prompts: { listChanged: true } },
        resultType: 'complete',
        ttlMs: 0,
        cacheScope: 'private',
        _meta: { [META.serverInfo]: SERVER_INFO },
      });
      expect((await call('server/discover')).error.code).toBe(-32601);
    });

    it('have no initialize, ping, logging/setLevel or resources/subscribe', async () => {
      for (const method of ['initialize', 'ping', 'logging/setLevel', 'resources/subscribe', 'resources/unsubscribe']) {
        expect([method, (await modern(method, { level: 'info', uri: 'docs://a' })).error?.code]).toEqual([method, -32601]);
      }
    });

    it('answer -32022 with the supported versions for an unknown version', async () => {
      const reply = await call('tools/list', { _meta: { ...ENVELOPE, [META.protocolVersion]: '2099-01-01' } });
      expect(reply.error).toEqual({
        code: -32022,
        message: 'unsupported protocol version "2099-01-01"',
        data: { supported: ['2026-07-28'], requested: '2099-01-01' },
      });
      // Even a legacy version name inside the envelope is not a 2026 version.
      expect((await call('tools/list', { _meta: { ...ENVELOPE, [META.protocolVersion]: '2025-06-18' } })).error.code).toBe(-32022);
    });

    it('answer -32602 when clientCapabilities is missing or not an object', async () => {
      for (const caps of [undefined, null, 'all', []]) {
        const meta: Record<string, unknown> = { [META.protocolVersion]: '2026-07-28' };
        if (caps !== undefined) meta[META.clientCapabilities] = caps;
        const reply = await call('tools/list', { _meta: meta });
        expect([caps, reply.error?.code]).toEqual([caps, -32602]);
      }
    });

    it('answer -32602 when the transport knows a 2026 version but the request has no envelope', async () => {
      const reply = await call('tools/list', undefined, context({ protocolVersion: '2026-07-28' }));
      expect(reply.error.code).toBe(-32602);
      expect(reply.error.message).toContain(META.protocolVersion);
    });

    it('make a missing resource -32602 (it is -32002 in the 2025 era)', async () => {
      read = async () => null;
      expect((await modern('resources/read', { uri: 'docs://a' })).error).toEqual({ code: -32602, message: 'resource not found: docs://a', data: { uri: 'docs://a' } });
      expect((await call('resources/read', { uri: 'docs://a' })).error).toEqual({ code: -32002, message: 'resource not found: docs://a', data: { uri: 'docs://a' } });
      expect((await call('resources/read', { uri: 'docs://missing' })).error.code).toBe(-32002);
    });
  });

  describe('2025-era methods', () => {
    it('initialize checks its params against the SDK schema', async () => {
      const { error } = await call('initialize', { capabilities: {}, clientInfo: { name: 'c', version: '1' } });
      expect(error).toMatchObject({ code: -32602, message: expect.stringContaining('protocolVersion'), data: { issues: [expect.objectContaining({ path: 'protocolVersion' })] } });
    });

    it('initialize negotiates among legacy versions only', async () => {
      for (const [asked, answered] of [
        ['2025-06-18', '2025-06-18'],
        ['2024-11-05', '2024-11-05'],
        ['2026-07-28', '2025-11-25'],
        ['1999-01-01', '2025-11-25'],
      ]) {
        const { result } = await call('initialize', { protocolVersion: asked, capabilities: {}, clientInfo: { name: 'c', version: '1' } });
        expect([asked, result.protocolVersion]).toEqual([asked, answered]);
        expect(result).toMatchObject({ serverInfo: SERVER_INFO, capabilities: { tools: { listChanged: true } } });
        expect(result.resultType).toBeUndefined();
      }
    });

    it('logging/setLevel checks the level and stores it on the session', async () => {
      const levels: McpLogLevel[] = [];
      const session = { setLogLevel: async (l: McpLogLevel) => void levels.push(l) } as unknown as McpSessionView;
      expect((await call('logging/setLevel', { level: 'warning' }, context({ session }))).result).toEqual({});
      expect((await call('logging/setLevel', { level: 'loud' }, context({ session }))).error.code).toBe(-32602);
      expect((await call('logging/setLevel', {}, context({ session }))).error.code).toBe(-32602);
      expect(levels).toEqual(['warning']);
      expect((await call('logging/setLevel', { level: 'debug' })).result).toEqual({}); // no session: accepted
    });

    it('resources/subscribe needs a known uri and records it on the session', async () => {
      const subscribed: string[] = [];
      const session = { subscribe: async (uri: string) => void subscribed.push(uri), unsubscribe: async () => undefined } as unknown as McpSessionView;
      expect((await call('resources/subscribe', { uri: 'docs://a' }, context({ session }))).result).toEqual({});
      expect((await call('resources/subscribe', { uri: 'docs://zzz' }, context({ session }))).error.code).toBe(-32002);
      expect((await call('resources/unsubscribe', { uri: 'docs://a' }, context({ session }))).result).toEqual({});
      expect(subscribed).toEqual(['docs://a']);
    });

    it('resources/read returns the reader contents', async () => {
      expect((await call('resources/read', { uri: 'docs://a' })).result).toEqual({ contents: [{ uri: 'docs://a', mimeType: 'text/plain', text: 'hello' }] });
      expect((await call('resources/read', {})).error.code).toBe(-32602);
    });

    it('prompts/get renders with the real PromptRenderer', async () => {
      expect((await call('prompts/get', { name: 'greet', arguments: { who: 'Ada', place: 'Paris' } })).result).toEqual({
        description: 'the greet prompt',
        messages: [{ role: 'user', content: { type: 'text', text: 'Hello Ada, welcome to Paris!' } }],
      });
      expect((await call('prompts/get', { name: 'greet', arguments: {} })).error).toMatchObject({ code: -32602, data: { missing: ['who'] } });
      expect((await call('prompts/get', { name: 'greet', arguments: { who: 1 } })).error.code).toBe(-32602);
      expect((await call('prompts/get', { name: 'nope' })).error).toEqual({ code: -32602, message: 'unknown prompt: nope' });
    });

    it('completion/complete knows prompt arguments and suggests nothing', async () => {
      const ok = await call('completion/complete', { ref: { type: 'ref/prompt', name: 'greet' }, argument: { name: 'who', value: 'A' } });
      expect(ok.result).toEqual({ completion: { values: [], total: 0, hasMore: false } });
      const res = await call('completion/complete', { ref: { type: 'ref/resource', uri: 'docs://{id}' }, argument: { name: 'id', value: '' } });
      expect(res.result.completion.values).toEqual([]);
      for (const params of [
        { ref: { type: 'ref/prompt', name: 'nope' }, argument: { name: 'who', value: 'A' } },
        { ref: { type: 'ref/prompt', name: 'greet' }, argument: { name: 'nobody', value: 'A' } },
        { ref: { type: 'ref/other' }, argument: { name: 'who', value: 'A' } },
        { ref: { type: 'ref/prompt', name: 'greet' } },
        { argument: { name: 'who', value: 'A' } },
      ]) {
        expect([params, (await call('completion/complete', params)).error?.code]).toEqual([params, -32602]);
      }
    });
  });
});

describe('responseErrorCode', () => {
  it('reads the code of an error response, and nothing from results that merely mention errors', async () => {
    const { errorResponse, responseErrorCode } = await import('./mcp-dispatcher.js');
    expect(responseErrorCode(errorResponse(7, -32601, 'method not found: x'))).toBe(-32601);
    expect(responseErrorCode(errorResponse('a"b', -32602, 'bad'))).toBe(-32602);
    expect(responseErrorCode(errorResponse(null, -32700, 'parse error'))).toBe(-32700);
    expect(responseErrorCode('{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"{\\"error\\":{\\"code\\":-32601}}"}]}}')).toBeUndefined();
    expect(responseErrorCode('[{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"x"}}]')).toBeUndefined();
  });
});
