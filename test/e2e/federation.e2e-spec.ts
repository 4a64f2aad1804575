import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport as V1SseTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport as V1StreamableTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { TEST_SECRET, bearer } from '../helpers/auth.js';
import { api, freePort, startGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { nginxAvailable, startNginx, type LoadBalancer } from '../helpers/nginx.js';
import { sampleValue } from '../helpers/pm2-cluster.js';
import { openSse } from '../helpers/sse.js';
import { createTestDatabase } from '../helpers/postgres-db.js';
import { serviceAvailable } from '../helpers/services.js';
import { FIXTURE_URIS, README_TEXT, TINY_PNG_BASE64, startUpstream, type UpstreamFixture } from '../fixtures/upstream-server.js';

const hasPostgres = await serviceAvailable('postgres');
const hasRedis = await serviceAvailable('redis');
const hasNginx = nginxAvailable();

const FIXTURE_TOOLS = ['audio', 'bump', 'echo', 'elicit', 'embedded_resource', 'fail', 'image', 'logging', 'progress', 'roots', 'sample', 'slow', 'structured'];
const ROOTS = [{ uri: 'file:///work/project', name: 'project' }];

type AnyClient = {
  connect(t: unknown): Promise<void>;
  close(): Promise<void>;
  listTools(): Promise<any>;
  callTool(p: any, schema?: any, options?: any): Promise<any>;
  readResource(p: any): Promise<any>;
  getPrompt(p: any): Promise<any>;
  complete(p: any): Promise<any>;
  listResources(): Promise<any>;
  listResourceTemplates(): Promise<any>;
  listPrompts(): Promise<any>;
};

/**
 * Federation end to end: the SDK upstream fixture registered on TWO gateway workers (shared
 * PostgreSQL and Redis) behind nginx round-robin, exercised with the official SDK clients, v1 and
 * v2, in both protocol eras, through /mcp and /servers/{id}/mcp. Consecutive requests of one
 * client land on different workers, so relayed sampling/elicitation answers, MRTR retries and
 * resource updates all cross workers.
 */
// Reason for skipping: needs PostgreSQL, Redis and nginx (all required under CI=true).
(hasPostgres && hasRedis && hasNginx ? describe : describe.skip)('federation across two workers behind nginx', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const workers: GatewayProcess[] = [];
  let lb: LoadBalancer;
  let upstream: UpstreamFixture;
  let upstreamPort: number;
  let rest: http.Server;
  let gatewayId = '';
  let serverId = '';
  const auth = bearer({ sub: 'federation@example.com' });
  const headers = { authorization: auth };
  const prefix = `fed${Date.now()}:`;

  const rpc = async (method: string, params: Record<string, unknown> = {}, base = lb.url) =>
    (await api(base, 'POST', '/rpc', { auth, body: { jsonrpc: '2.0', id: 1, method, params } })).body;
  const toolNames = async (base = lb.url) => ((await rpc('tools/list', {}, base)).result?.tools ?? []).map((t: { name: string }) => t.name) as string[];
  /** Polls every worker until `check` holds on each (snapshots reload within milliseconds, health within seconds). */
  const onEveryWorker = async (check: (base: string) => Promise<boolean>, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    for (const w of workers) {
      while (!(await check(w.url))) {
        if (Date.now() > deadline) throw new Error(`condition not met on ${w.url} within ${timeoutMs} ms`);
        await sleep(50);
      }
    }
  };

  beforeAll(async () => {
    upstreamPort = await freePort();
    upstream = await startUpstream({ port: upstreamPort });
    rest = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"forecast":"sunny"}');
    });
    await new Promise<void>((r) => rest.listen(0, '127.0.0.1', r));
    db = await createTestDatabase();
    const env = {
      DATABASE_URL: db.url,
      CACHE_TYPE: 'redis',
      CACHE_PREFIX: prefix,
      JWT_SECRET_KEY: TEST_SECRET,
      WORKERS: '2',
      HEALTH_CHECK_INTERVAL: '1',
      HEALTH_CHECK_TIMEOUT: '1',
      UNHEALTHY_THRESHOLD: '2',
      GATEWAY_VALIDATION_TIMEOUT: '3',
      TOOL_TIMEOUT: '20',
    };
    workers.push(await startGateway(env));
    workers.push(await startGateway(env));
    lb = await startNginx(workers.map((w) => w.port));
  }, 60_000);

  afterAll(async () => {
    await lb?.stop();
    await Promise.all(workers.map((w) => w.stop()));
    await db?.drop();
    await upstream?.close();
    await new Promise((r) => rest?.close(r));
  }, 60_000);

  describe('registration', () => {
    it('rejects an unreachable upstream and a non-MCP one with 502, storing nothing', async () => {
      const deadPort = await freePort();
      const dead = await api(lb.url, 'POST', '/gateways', { auth, body: { name: 'dead', url: `http://127.0.0.1:${deadPort}/mcp` } });
      expect(dead.status).toBe(502);
      expect(dead.body.message).toMatch(/not reachable or not an MCP server/);
      const restUrl = `http://127.0.0.1:${(rest.address() as AddressInfo).port}/mcp`;
      const notMcp = await api(lb.url, 'POST', '/gateways', { auth, body: { name: 'not-mcp', url: restUrl } });
      expect(notMcp.status).toBe(502);
      const bad = await api(lb.url, 'POST', '/gateways', { auth, body: { name: 'bad', url: 'ftp://x', transport: 'CARRIER_PIGEON' } });
      expect(bad.status).toBe(422);
      expect(bad.body.message).toMatch(/url must be an http\(s\) or ws\(s\) URL/);
      expect(bad.body.message).toMatch(/transport must be one of/);
      expect((await api(lb.url, 'GET', '/gateways', { auth })).body).toEqual([]);
    });

    it('registers the upstream in the 2026-07-28 era and stores its items under the gateway prefix', async () => {
      const res = await api(lb.url, 'POST', '/gateways', {
        auth,
        body: { name: 'fixture', url: upstream.url, description: 'SDK fixture', tags: ['test'], passthrough_headers: ['X-Tenant'], auth_type: 'bearer', auth_token: 'upstream-secret' },
      });
      expect(res.status).toBe(201);
      gatewayId = res.body.id;
      expect(res.body).toMatchObject({
        name: 'fixture',
        transport: 'STREAMABLEHTTP',
        prefix: 'fixture',
        status: 'active',
        reachable: true,
        protocol_version: '2026-07-28',
        passthrough_headers: ['x-tenant'],
        auth_type: 'bearer',
        auth: { auth_type: 'bearer', token: '*****' },
        server_info: { name: 'upstream-fixture' },
      });
      expect(JSON.stringify(res.body)).not.toContain('upstream-secret');
      await onEveryWorker(async (base) => (await toolNames(base)).includes('fixture-echo'));
      const tools = await api(lb.url, 'GET', '/tools', { auth });
      const federated = tools.body.filter((t: { gateway_id: string }) => t.gateway_id === gatewayId);
      expect(federated.map((t: { original_name: string }) => t.original_name).sort()).toEqual(FIXTURE_TOOLS);
      expect(federated.every((t: { name: string; original_name: string }) => t.name === `fixture-${t.original_name}`)).toBe(true);
      const list = await api(lb.url, 'GET', '/gateways', { auth });
      expect(list.body).toHaveLength(1);
      expect(list.body[0].last_seen).toEqual(expect.any(String));
    });

    it('answers 409 naming the clashing items when a second registration would take existing names, and stores nothing', async () => {
      expect((await api(lb.url, 'POST', '/tools', { auth, body: { name: 'echo', url: 'http://127.0.0.1:9/echo' } })).status).toBe(201);
      const clash = await api(lb.url, 'POST', '/gateways', { auth, body: { name: 'fixture-again', url: upstream.url, prefix: '' } });
      expect(clash.status).toBe(409);
      expect(clash.body.conflicts).toEqual(expect.arrayContaining(['tool echo', `resource ${FIXTURE_URIS.readme}`]));
      expect(clash.body.message).toMatch(/names already taken/);
      const dup = await api(lb.url, 'POST', '/gateways', { auth, body: { name: 'fixture', url: upstream.url } });
      expect(dup.status).toBe(409);
      expect((await api(lb.url, 'GET', '/gateways', { auth })).body).toHaveLength(1);
      expect((await api(lb.url, 'GET', '/tools', { auth })).body.filter((t: { gateway_id: string | null }) => t.gateway_id !== null)).toHaveLength(FIXTURE_TOOLS.length);
    });

    it('lets a virtual server mix federated and REST tools', async () => {
      const tools = (await api(lb.url, 'GET', '/tools', { auth })).body as Array<{ id: string; name: string }>;
      const pick = (name: string) => tools.find((t) => t.name === name)?.id;
      const res = await api(lb.url, 'POST', '/servers', {
        auth,
        body: { name: 'mixed', associated_tools: [pick('fixture-echo'), pick('fixture-sample'), pick('echo')], associated_resources: [], associated_prompts: [] },
      });
      expect(res.status).toBe(201);
      serverId = res.body.id;
      await onEveryWorker(async (base) => ((await rpc('tools/list', {}, base)).result?.tools?.length ?? 0) > 0);
    });
  });

  const v2 = (mode: 'legacy' | 'auto') => {
    const client = new Client({ name: `v2-${mode}`, version: '1' }, { capabilities: { sampling: {}, elicitation: { form: {} }, roots: {} }, versionNegotiation: { mode } });
    client.setRequestHandler('sampling/createMessage', async (request) => ({
      role: 'assistant',
      content: { type: 'text', text: `sampled: ${JSON.stringify((request.params.messages[0]?.content as { text?: string }).text)}` },
      model: 'test-model',
    }));
    client.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { name: 'Ada', confirm: true } }));
    client.setRequestHandler('roots/list', async () => ({ roots: ROOTS }));
    return client;
  };
  const v1 = () => {
    const client = new V1Client({ name: 'v1', version: '1' }, { capabilities: { sampling: {}, elicitation: {}, roots: {} } });
    client.setRequestHandler(CreateMessageRequestSchema, async (request) => ({
      role: 'assistant',
      content: { type: 'text', text: `sampled: ${JSON.stringify((request.params.messages[0]?.content as { text?: string }).text)}` },
      model: 'test-model',
    }));
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { name: 'Ada', confirm: true } }));
    client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: ROOTS }));
    return client;
  };
  const transport = (kind: 'v1' | 'v2', path: string) =>
    kind === 'v1' ? new V1StreamableTransport(new URL(`${lb.url}${path}`), { requestInit: { headers } }) : new StreamableHTTPClientTransport(new URL(`${lb.url}${path}`), { requestInit: { headers } });

  /** Every kind of item the fixture offers, through the gateway. */
  const exerciseAll = async (client: AnyClient) => {
    const names = (await client.listTools()).tools.map((t: { name: string }) => t.name);
    expect(names).toEqual(expect.arrayContaining(FIXTURE_TOOLS.map((t) => `fixture-${t}`)));
    expect((await client.callTool({ name: 'fixture-echo', arguments: { text: 'hello' } })).content).toEqual([{ type: 'text', text: 'hello' }]);
    expect((await client.callTool({ name: 'fixture-image', arguments: {} })).content[0]).toMatchObject({ type: 'image', mimeType: 'image/png', data: TINY_PNG_BASE64 });
    expect((await client.callTool({ name: 'fixture-audio', arguments: {} })).content[0]).toMatchObject({ type: 'audio', mimeType: 'audio/wav' });
    expect((await client.callTool({ name: 'fixture-embedded_resource', arguments: {} })).content[0]).toMatchObject({ type: 'resource', resource: { uri: FIXTURE_URIS.readme, text: README_TEXT } });
    const structured = await client.callTool({ name: 'fixture-structured', arguments: { a: 2, b: 3 } });
    expect(structured.structuredContent).toEqual(expect.any(Object));
    const failed = await client.callTool({ name: 'fixture-fail', arguments: {} });
    expect(failed.isError).toBe(true);
    // Arguments are checked against the upstream's schema before the call leaves the gateway.
    await expect(client.callTool({ name: 'fixture-echo', arguments: { text: 42 } })).rejects.toThrow(/text/);

    const sampled = await client.callTool({ name: 'fixture-sample', arguments: { prompt: 'Say hi' } });
    expect(sampled.content[0].text).toBe('sampled: "Say hi"');
    const elicited = await client.callTool({ name: 'fixture-elicit', arguments: {} });
    expect(JSON.parse(elicited.content[0].text)).toEqual({ action: 'accept', content: { name: 'Ada', confirm: true } });
    const roots = await client.callTool({ name: 'fixture-roots', arguments: {} });
    expect(JSON.parse(roots.content[0].text)).toEqual(ROOTS);

    const uris = (await client.listResources()).resources.map((r: { uri: string }) => r.uri);
    expect(uris).toEqual(expect.arrayContaining([FIXTURE_URIS.readme, FIXTURE_URIS.logo, FIXTURE_URIS.counter]));
    expect((await client.listResourceTemplates()).resourceTemplates.map((t: { uriTemplate: string }) => t.uriTemplate)).toContain(FIXTURE_URIS.itemTemplate);
    expect((await client.readResource({ uri: FIXTURE_URIS.readme })).contents[0].text).toBe(README_TEXT);
    expect((await client.readResource({ uri: FIXTURE_URIS.logo })).contents[0].blob).toBe(TINY_PNG_BASE64);
    expect(JSON.parse((await client.readResource({ uri: 'fixture://items/alpha' })).contents[0].text)).toMatchObject({ id: 'alpha' });
    await expect(client.readResource({ uri: 'fixture://nope' })).rejects.toThrow(/not found/i);

    expect((await client.listPrompts()).prompts.map((p: { name: string }) => p.name)).toContain('fixture-greet');
    const greeting = await client.getPrompt({ name: 'fixture-greet', arguments: { name: 'Ada' } });
    expect(greeting.messages[0].content.text).toMatch(/Ada/);
    const completion = await client.complete({ ref: { type: 'ref/prompt', name: 'fixture-greet' }, argument: { name: 'name', value: 'A' } });
    expect(completion.completion.values).toEqual(['Ada', 'Alan']);
    const itemIds = await client.complete({ ref: { type: 'ref/resource', uri: FIXTURE_URIS.itemTemplate }, argument: { name: 'id', value: 'a' } });
    expect(itemIds.completion.values).toEqual(expect.arrayContaining(['alpha', 'apple']));
  };

  describe('relay', () => {
    it('SDK v2, 2026-07-28 client (MRTR rounds may resume on the other worker)', async () => {
      const client = v2('auto');
      await client.connect(transport('v2', '/mcp'));
      try {
        expect(client.getProtocolEra()).toBe('modern');
        await exerciseAll(client as never);
      } finally {
        await client.close();
      }
    }, 30_000);

    it('SDK v2, 2025 session client', async () => {
      const client = v2('legacy');
      await client.connect(transport('v2', '/mcp'));
      try {
        expect(client.getProtocolEra()).toBe('legacy');
        await exerciseAll(client as never);
      } finally {
        await client.close();
      }
    }, 30_000);

    it('SDK v1 client over Streamable HTTP', async () => {
      const client = v1();
      await client.connect(transport('v1', '/mcp'));
      try {
        await exerciseAll(client as never);
      } finally {
        await client.close();
      }
    }, 30_000);

    it('SDK v1 client over legacy HTTP+SSE (answers POSTed to any worker)', async () => {
      const client = v1();
      const withAuth = (u: string | URL | Request, init: RequestInit = {}) => fetch(u, { ...init, headers: { ...(init.headers as Record<string, string>), ...headers } });
      await client.connect(new V1SseTransport(new URL(`${lb.url}/sse`), { requestInit: { headers }, eventSourceInit: { fetch: withAuth } }));
      try {
        const sampled = await client.callTool({ name: 'fixture-sample', arguments: { prompt: 'over SSE' } });
        expect((sampled.content as Array<{ text: string }>)[0]?.text).toBe('sampled: "over SSE"');
        const echoed = await client.callTool({ name: 'fixture-echo', arguments: { text: 'sse' } });
        expect(echoed.content).toEqual([{ type: 'text', text: 'sse' }]);
      } finally {
        await client.close();
      }
    }, 30_000);

    it('serves a virtual server that mixes federated and REST tools, 2026-07-28 and 2025', async () => {
      for (const mode of ['auto', 'legacy'] as const) {
        const client = v2(mode);
        await client.connect(transport('v2', `/servers/${serverId}/mcp`));
        try {
          expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(['echo', 'fixture-echo', 'fixture-sample']);
          expect((await client.callTool({ name: 'fixture-echo', arguments: { text: 'scoped' } })).content).toEqual([{ type: 'text', text: 'scoped' }]);
          expect(JSON.stringify((await client.callTool({ name: 'fixture-sample', arguments: { prompt: 'vs' } })).content)).toContain('sampled: \\"vs\\"');
          await expect(client.callTool({ name: 'fixture-image', arguments: {} })).rejects.toThrow(/unknown tool/);
        } finally {
          await client.close();
        }
      }
    }, 30_000);

    it('delivers progress and log messages in order, honouring the log level (2025 session and 2026-07-28)', async () => {
      // 2025: the session's level (warning) filters what the upstream logs.
      const legacy = v2('legacy');
      const legacyLogs: string[] = [];
      legacy.setNotificationHandler('notifications/message', (n) => void legacyLogs.push(n.params.level));
      await legacy.connect(transport('v2', '/mcp'));
      const progress: number[] = [];
      try {
        await legacy.setLoggingLevel('warning');
        const done = await legacy.callTool({ name: 'fixture-progress', arguments: { steps: 5 } }, { onprogress: (p) => progress.push(p.progress) });
        expect(done.content).toEqual([{ type: 'text', text: 'done 5 steps' }]);
        expect(progress).toEqual([1, 2, 3, 4, 5]);
        await legacy.callTool({ name: 'fixture-logging', arguments: {} });
        expect(legacyLogs).toEqual(['warning', 'error']);
      } finally {
        await legacy.close();
      }

      // 2026-07-28: the level travels with each request; without one, no log messages at all.
      const modern = v2('auto');
      const modernLogs: string[] = [];
      modern.setNotificationHandler('notifications/message', (n) => void modernLogs.push(n.params.level));
      await modern.connect(transport('v2', '/mcp'));
      try {
        const steps: number[] = [];
        await modern.callTool({ name: 'fixture-progress', arguments: { steps: 4 } }, { onprogress: (p) => steps.push(p.progress) });
        expect(steps).toEqual([1, 2, 3, 4]);
        await modern.callTool({ name: 'fixture-logging', arguments: {} });
        expect(modernLogs).toEqual([]);
        await modern.callTool({ name: 'fixture-logging', arguments: {}, _meta: { 'io.modelcontextprotocol/logLevel': 'info' } } as never);
        expect(modernLogs).toEqual(['info', 'warning', 'error']);
      } finally {
        await modern.close();
      }
    }, 30_000);

    it('relays notifications/resources/updated for a subscribed upstream resource', async () => {
      const client = v1();
      const updates: string[] = [];
      client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri));
      client.setNotificationHandler(LoggingMessageNotificationSchema, () => undefined);
      const t = transport('v1', '/mcp');
      await client.connect(t);
      try {
        await client.subscribeResource({ uri: FIXTURE_URIS.counter });
        await sleep(300); // the GET stream is open on one worker; the subscription lives upstream
        await client.callTool({ name: 'fixture-bump', arguments: {} });
        const deadline = Date.now() + 5000;
        while (!updates.includes(FIXTURE_URIS.counter) && Date.now() < deadline) await sleep(50);
        expect(updates).toContain(FIXTURE_URIS.counter);
      } finally {
        await client.close();
      }

      // 2026-07-28: a listen stream that names the URI.
      const modern = v2('auto');
      const heard: string[] = [];
      modern.setNotificationHandler('notifications/resources/updated', (n) => void heard.push(n.params.uri));
      await modern.connect(transport('v2', '/mcp'));
      try {
        const subscription = await modern.listen({ resourceSubscriptions: [FIXTURE_URIS.counter] });
        expect(subscription.honoredFilter.resourceSubscriptions).toEqual([FIXTURE_URIS.counter]);
        await sleep(300);
        await modern.callTool({ name: 'fixture-bump', arguments: {} });
        const deadline = Date.now() + 5000;
        while (!heard.includes(FIXTURE_URIS.counter) && Date.now() < deadline) await sleep(50);
        expect(heard).toContain(FIXTURE_URIS.counter);
        await subscription.close();
      } finally {
        await modern.close();
      }
    }, 30_000);

    it('cancels the upstream call when the client cancels', async () => {
      const client = v2('legacy');
      await client.connect(transport('v2', '/mcp'));
      try {
        const before = upstream.calls.cancelled;
        const controller = new AbortController();
        const call = client.callTool({ name: 'fixture-slow', arguments: { ms: 10_000 } }, { signal: controller.signal });
        await sleep(500);
        controller.abort(new Error('user gave up'));
        await expect(call).rejects.toThrow();
        const deadline = Date.now() + 5000;
        while (upstream.calls.cancelled === before && Date.now() < deadline) await sleep(50);
        expect(upstream.calls.cancelled).toBe(before + 1);
      } finally {
        await client.close();
      }
    }, 30_000);

    it('forwards the passthrough headers of the downstream request, and the gateway credentials', async () => {
      const res = await api(lb.url, 'POST', '/rpc', {
        auth,
        headers: { 'x-tenant': 'acme', 'x-not-listed': 'secret' },
        body: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'fixture-echo', arguments: { text: 'tenant' } } },
      });
      expect(res.body.result.content[0].text).toBe('tenant');
      expect(upstream.calls.lastHeaders).toMatchObject({ 'x-tenant': 'acme', authorization: 'Bearer upstream-secret' });
      expect(upstream.calls.lastHeaders['x-not-listed']).toBeUndefined();
    });

    const modernMeta = (capabilities: Record<string, unknown>) => ({
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': capabilities,
      'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
    });
    const modernCall = (base: string, id: number, params: Record<string, unknown>) =>
      api(base, 'POST', '/mcp', {
        auth,
        headers: { accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28' },
        body: { jsonrpc: '2.0', id, method: 'tools/call', params },
      });

    it('resumes a 2026-07-28 input_required round on the other worker, and refuses forged or foreign state', async () => {
      const [a, b] = workers as [GatewayProcess, GatewayProcess];
      const call = { name: 'fixture-sample', arguments: { prompt: 'cross' } };
      const first = await modernCall(a.url, 1, { ...call, _meta: modernMeta({ sampling: {} }) });
      expect(first.body.result).toMatchObject({ resultType: 'input_required', requestState: expect.any(String) });
      const [key, input] = Object.entries(first.body.result.inputRequests as Record<string, { method: string; params: any }>)[0]!;
      expect(input.method).toBe('sampling/createMessage');
      expect(input.params.messages[0].content.text).toBe('cross');
      const answer = { role: 'assistant', content: { type: 'text', text: 'answered on B' }, model: 'm' };
      const forged = `${first.body.result.requestState.slice(0, -4)}AAAA`;
      const bad = await modernCall(b.url, 2, { ...call, inputResponses: { [key]: answer }, requestState: forged, _meta: modernMeta({ sampling: {} }) });
      expect(bad.body.error).toMatchObject({ code: -32602, message: expect.stringMatching(/invalid requestState/) });
      const other = bearer({ sub: 'intruder@example.com' });
      const foreign = await api(b.url, 'POST', '/mcp', {
        auth: other,
        headers: { accept: 'application/json, text/event-stream' },
        body: { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { ...call, inputResponses: { [key]: answer }, requestState: first.body.result.requestState, _meta: modernMeta({ sampling: {} }) } },
      });
      expect(foreign.body.error.message).toMatch(/another principal/);
      const done = await modernCall(b.url, 4, { ...call, inputResponses: { [key]: answer }, requestState: first.body.result.requestState, _meta: modernMeta({ sampling: {} }) });
      expect(done.body.result).toMatchObject({ resultType: 'complete', content: [{ type: 'text', text: 'answered on B' }] });

      const undeclared = await modernCall(a.url, 5, { ...call, _meta: modernMeta({}) });
      expect(undeclared.body.error).toMatchObject({ code: -32021, data: { requiredCapabilities: { sampling: {} } } });
    }, 30_000);

    it('takes a 2025 client\'s answer to a relayed request on the worker that did not ask', async () => {
      const [a, b] = workers as [GatewayProcess, GatewayProcess];
      const base = { authorization: auth, accept: 'application/json, text/event-stream', 'content-type': 'application/json' };
      const init = await fetch(`${a.url}/mcp`, {
        method: 'POST',
        headers: base,
        body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: { elicitation: {} }, clientInfo: { name: 'raw', version: '1' } } }),
      });
      const sessionId = init.headers.get('mcp-session-id') as string;
      const session = { authorization: auth, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25', accept: 'application/json, text/event-stream' };
      const stream = openSse(`${a.url}/mcp`, session, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'fixture-elicit', arguments: {} } });
      try {
        const ask = JSON.parse((await stream.waitFor((e) => e.data.includes('elicitation/create'), 10_000)).data);
        expect(ask).toMatchObject({ method: 'elicitation/create', id: expect.stringMatching(/^gw-/) });
        const reply = await fetch(`${b.url}/mcp`, {
          method: 'POST',
          headers: { ...session, 'content-type': 'application/json' },
          body: JSON.stringify({ jsonrpc: '2.0', id: ask.id, result: { action: 'accept', content: { name: 'Grace' } } }),
        });
        expect(reply.status).toBe(202);
        const result = JSON.parse((await stream.waitFor((e) => e.data.includes('"id":7'), 10_000)).data);
        expect(JSON.parse(result.result.content[0].text)).toEqual({ action: 'accept', content: { name: 'Grace' } });
      } finally {
        stream.close();
      }
    }, 30_000);

    it('reuses pooled upstream sessions instead of initializing per call', async () => {
      const sessionsBefore = upstream.calls.sessions;
      const client = v2('legacy');
      await client.connect(transport('v2', '/mcp'));
      try {
        for (let i = 0; i < 10; i++) await client.callTool({ name: 'fixture-echo', arguments: { text: String(i) } });
      } finally {
        await client.close();
      }
      // The gateway's pooled sessions are 2026-07-28 (stateless upstream): no new 2025 sessions at all.
      expect(upstream.calls.sessions).toBe(sessionsBefore);
    }, 30_000);
  });

  describe('health', () => {
    it('marks a killed upstream unreachable after the threshold, fails calls fast, and recovers on restart', async () => {
      await upstream.close();
      const deadline = Date.now() + 15_000;
      let gateway: Record<string, unknown> = {};
      while (Date.now() < deadline) {
        gateway = (await api(lb.url, 'GET', `/gateways/${gatewayId}`, { auth })).body;
        if (gateway.status === 'unreachable') break;
        await sleep(200);
      }
      expect(gateway).toMatchObject({ status: 'unreachable', reachable: false });
      expect(gateway.last_error).toEqual(expect.any(String));
      await onEveryWorker(async (base) => !(await toolNames(base)).includes('fixture-echo'));
      const health = async (base: string) => sampleValue((await api(base, 'GET', '/metrics', { auth })).body as string, 'upstream_health{gateway="fixture"}');
      for (const w of workers) expect(await health(w.url)).toBe(0);
      const started = Date.now();
      const call = await rpc('tools/call', { name: 'fixture-echo', arguments: { text: 'x' } });
      expect(Date.now() - started).toBeLessThan(500);
      expect(call.error).toMatchObject({ code: -32010, message: expect.stringMatching(/gateway "fixture" is unreachable/) });
      const read = await rpc('resources/read', { uri: FIXTURE_URIS.readme });
      expect(read.error.code).toBe(-32010);

      upstream = await startUpstream({ port: upstreamPort });
      await onEveryWorker(async (base) => (await toolNames(base)).includes('fixture-echo'), 15_000);
      expect((await api(lb.url, 'GET', `/gateways/${gatewayId}`, { auth })).body).toMatchObject({ status: 'active', reachable: true, last_error: null });
      for (const w of workers) expect(await health(w.url)).toBe(1);
      // Both workers' pooled sessions reconnect on their next call.
      for (const w of workers) {
        let result: any;
        for (let i = 0; i < 20; i++) {
          result = await rpc('tools/call', { name: 'fixture-echo', arguments: { text: 'back' } }, w.url);
          if (result.result && !result.result.isError) break;
          await sleep(250);
        }
        expect(result.result).toEqual({ content: [{ type: 'text', text: 'back' }] });
      }
    }, 60_000);
  });

  describe('lifecycle', () => {
    it('refreshes on demand, deactivates, and deletes the gateway with its items and virtual-server links', async () => {
      const refreshed = await api(lb.url, 'POST', `/gateways/${gatewayId}/tools/refresh`, { auth });
      expect(refreshed.status).toBe(200);
      expect(refreshed.body).toMatchObject({ status: 'success', tools: FIXTURE_TOOLS.length });

      const off = await api(lb.url, 'POST', `/gateways/${gatewayId}/state?activate=false`, { auth });
      expect(off.body.gateway.status).toBe('inactive');
      await onEveryWorker(async (base) => !(await toolNames(base)).includes('fixture-echo'));
      expect((await api(lb.url, 'POST', `/gateways/${gatewayId}/state?activate=true`, { auth })).status).toBe(200);
      await onEveryWorker(async (base) => (await toolNames(base)).includes('fixture-echo'));

      expect((await api(lb.url, 'DELETE', `/gateways/${gatewayId}`, { auth })).status).toBe(200);
      expect((await api(lb.url, 'GET', `/gateways/${gatewayId}`, { auth })).status).toBe(404);
      expect((await api(lb.url, 'GET', '/tools', { auth })).body.map((t: { name: string }) => t.name)).toEqual(['echo']);
      expect((await api(lb.url, 'GET', `/servers/${serverId}`, { auth })).body.associated_tools).toHaveLength(1);
      await onEveryWorker(async (base) => (await toolNames(base)).join() === 'echo');
    }, 30_000);
  });

  describe('a 2025-only upstream', () => {
    let legacyUpstream: UpstreamFixture;
    beforeAll(async () => {
      legacyUpstream = await startUpstream({ legacyOnly: true, name: 'legacy-fixture' });
    });
    afterAll(async () => legacyUpstream?.close());

    it('registers in the 2025 era and relays to 2026-07-28 and 2025 clients alike', async () => {
      const res = await api(lb.url, 'POST', '/gateways', { auth, body: { name: 'fixture', url: legacyUpstream.url } });
      expect(res.status).toBe(201);
      expect(res.body.protocol_version).toBe('2025-11-25');
      await onEveryWorker(async (base) => (await toolNames(base)).includes('fixture-sample'));
      for (const client of [v2('auto'), v2('legacy')]) {
        await client.connect(transport('v2', '/mcp'));
        try {
          await exerciseAll(client as never);
        } finally {
          await client.close();
        }
      }
      // One 2025 session per worker's pool, not one per call.
      expect(legacyUpstream.calls.sessions).toBeLessThanOrEqual(workers.length + 1);
    }, 60_000);
  });
});
