import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { TEST_SECRET, bearer } from '../helpers/auth.js';
import { api, startGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { openSse } from '../helpers/sse.js';

const MODERN_META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };

/**
 * Streamable HTTP with the official SDK clients (v1, and v2 in legacy, auto and pinned-2026 modes)
 * against the built gateway, plus the transport's edge cases over raw HTTP.
 */
describe('Streamable HTTP (/mcp and /servers/{id}/mcp)', () => {
  let gw: GatewayProcess;
  let rest: http.Server;
  let serverId: string;
  const auth = bearer({ sub: 'admin@example.com' });
  const headers = { authorization: auth };
  const call = (method: string, path: string, body?: unknown) => api(gw.url, method, path, { body, auth });

  beforeAll(async () => {
    rest = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ echoed: body ? JSON.parse(body) : null, path: req.url }));
      });
    });
    await new Promise<void>((r) => rest.listen(0, '127.0.0.1', r));
    const restUrl = `http://127.0.0.1:${(rest.address() as AddressInfo).port}`;
    gw = await startGateway({ JWT_SECRET_KEY: TEST_SECRET });
    const echo = await call('POST', '/tools', {
      name: 'echo',
      url: `${restUrl}/echo`,
      input_schema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
      output_schema: { type: 'object' },
    });
    const other = await call('POST', '/tools', { name: 'other', url: `${restUrl}/other` });
    const resource = await call('POST', '/resources', { uri: 'docs://guide', name: 'Guide', mime_type: 'text/plain', content: 'hello' });
    const prompt = await call('POST', '/prompts', { name: 'greet', template: 'Hello {{ who }}' });
    const server = await call('POST', '/servers', {
      name: 'scoped',
      associated_tools: [echo.body.id],
      associated_resources: [resource.body.id],
      associated_prompts: [prompt.body.id],
    });
    expect([echo.status, other.status, resource.status, prompt.status, server.status]).toEqual([201, 201, 201, 201, 201]);
    serverId = server.body.id;
    await sleep(200); // snapshot reload
  });
  afterAll(async () => {
    await gw?.stop();
    await new Promise((r) => rest?.close(r));
  });

  const clients: Array<[string, () => { client: { connect(t: unknown): Promise<void>; close(): Promise<void> } & Record<string, any>; transport: any }]> = [
    ['SDK v1', () => ({ client: new V1Client({ name: 'v1', version: '1.0.0' }), transport: new V1Transport(new URL(`${gw.url}/mcp`), { requestInit: { headers } }) })],
    ['SDK v2, legacy', () => ({ client: new Client({ name: 'v2', version: '1.0.0' }), transport: new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), { requestInit: { headers } }) })],
    ['SDK v2, auto (negotiates 2026-07-28)', () => ({
      client: new Client({ name: 'v2', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } }),
      transport: new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), { requestInit: { headers } }),
    })],
    ['SDK v2, pinned 2026-07-28', () => ({
      client: new Client({ name: 'v2', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } }),
      transport: new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), { requestInit: { headers } }),
    })],
  ];

  it.each(clients)('%s lists tools, calls a REST tool, reads a resource and gets a prompt', async (_label, make) => {
    const { client, transport } = make();
    await client.connect(transport);
    try {
      const tools = await client.listTools();
      expect(tools.tools.map((t: { name: string }) => t.name)).toEqual(['echo', 'other']);
      const result = await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toMatchObject({ echoed: { text: 'hi' }, path: '/echo' });
      const read = await client.readResource({ uri: 'docs://guide' });
      expect(read.contents[0]).toMatchObject({ uri: 'docs://guide', text: 'hello', mimeType: 'text/plain' });
      const prompt = await client.getPrompt({ name: 'greet', arguments: { who: 'Ada' } });
      expect(prompt.messages[0].content).toEqual({ type: 'text', text: 'Hello Ada' });
      await expect(client.callTool({ name: 'echo', arguments: { text: 5 } })).rejects.toThrow(/text/);
    } finally {
      await transport.terminateSession?.().catch(() => undefined);
      await client.close();
    }
  });

  it('scopes /servers/{id}/mcp to that virtual server', async () => {
    const client = new Client({ name: 'v2', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`${gw.url}/servers/${serverId}/mcp`), { requestInit: { headers } });
    await client.connect(transport);
    try {
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['echo']);
      await expect(client.callTool({ name: 'other', arguments: {} })).rejects.toThrow(/unknown tool/);
    } finally {
      await client.close();
    }
    expect((await api(gw.url, 'POST', '/servers/nope/mcp', { auth, body: { jsonrpc: '2.0', id: 1, method: 'ping' } })).status).toBe(404);
  });

  describe('edge cases', () => {
    const post = (body: unknown, extra: Record<string, string> = {}) =>
      api(gw.url, 'POST', '/mcp', { auth, body, headers: { accept: 'application/json, text/event-stream', ...extra } });
    const initialize = async () => {
      const res = await post({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
      expect(res.status).toBe(200);
      return res.headers.get('mcp-session-id') as string;
    };

    it('answers 400 without a session id, 404 for an unknown one, and 404 after DELETE', async () => {
      const noSession = await post({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
      expect(noSession.status).toBe(400);
      expect(noSession.body.error.message).toMatch(/Mcp-Session-Id/);
      expect((await post({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'mcp-session-id': 'f'.repeat(32) })).status).toBe(404);
      const session = await initialize();
      expect(session).toMatch(/^[0-9a-f]{32}$/);
      expect((await post({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'mcp-session-id': session })).status).toBe(200);
      expect((await api(gw.url, 'DELETE', '/mcp', { auth, headers: { 'mcp-session-id': session } })).status).toBe(200);
      const after = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' }, { 'mcp-session-id': session });
      expect(after.status).toBe(404);
      expect(after.body.error.code).toBe(-32001);
    });

    it('checks MCP-Protocol-Version, Origin, notifications, JSON, methods and arguments', async () => {
      const session = await initialize();
      const s = { 'mcp-session-id': session };
      expect((await post({ jsonrpc: '2.0', id: 1, method: 'ping' }, { ...s, 'mcp-protocol-version': '1999-01-01' })).status).toBe(400);
      expect((await post({ jsonrpc: '2.0', id: 1, method: 'ping' }, { ...s, origin: 'http://evil.example' })).status).toBe(403);
      expect((await post({ jsonrpc: '2.0', id: 1, method: 'ping' }, { ...s, origin: gw.url })).status).toBe(200);
      const note = await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, s);
      expect(note.status).toBe(202);
      expect(note.body).toBe('');
      const bad = await api(gw.url, 'POST', '/mcp', { auth, raw: '{"jsonrpc":', headers: { ...s, accept: 'application/json' } });
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe(-32700);
      expect((await post({ jsonrpc: '2.0', id: 3, method: 'no/such' }, s)).body.error.code).toBe(-32601);
      const invalid = await post({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'echo', arguments: {} } }, s);
      expect(invalid.body.error).toMatchObject({ code: -32602, message: expect.stringContaining('text') });
      expect((await post([{ jsonrpc: '2.0', id: 5, method: 'ping' }], s)).body.error.code).toBe(-32600);
      expect((await api(gw.url, 'POST', '/mcp', { auth, raw: '{}', headers: { ...s, accept: 'text/html' } })).status).toBe(406);
      expect((await api(gw.url, 'POST', '/mcp', { auth, raw: '{}', headers: { ...s, accept: 'application/json', 'content-type': 'text/plain' } })).status).toBe(415);
      expect((await api(gw.url, 'POST', '/mcp', { body: { jsonrpc: '2.0', id: 1, method: 'ping' } })).status).toBe(401);
    });

    it('serves 2026-07-28 requests without a session and maps their errors to HTTP statuses', async () => {
      const discover = await post({ jsonrpc: '2.0', id: 'd', method: 'server/discover', params: { _meta: MODERN_META } });
      expect(discover.status).toBe(200);
      expect(discover.body.result).toMatchObject({ supportedVersions: ['2026-07-28'], resultType: 'complete', cacheScope: 'private' });
      expect((await post({ jsonrpc: '2.0', id: 1, method: 'no/such', params: { _meta: MODERN_META } })).status).toBe(404);
      const wrong = await post({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { ...MODERN_META, 'io.modelcontextprotocol/protocolVersion': '2030-01-01' } } });
      expect(wrong.status).toBe(400);
      expect(wrong.body.error).toMatchObject({ code: -32022, data: { supported: ['2026-07-28'] } });
      const mismatch = await post({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: MODERN_META } }, { 'mcp-protocol-version': '2025-11-25' });
      expect(mismatch.body.error.code).toBe(-32020);
      expect((await post({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'mcp-protocol-version': '2026-07-28' })).status).toBe(400);
      const get = await api(gw.url, 'GET', '/mcp', { auth, headers: { accept: 'text/event-stream' } });
      expect(get.status).toBe(405);
      expect(get.headers.get('allow')).toBe('POST');
    });

    it('serves subscriptions/listen (2026-07-28): acknowledges, then streams only the opted-in changes', async () => {
      const listen = openSse(`${gw.url}/mcp`, { ...headers, accept: 'application/json, text/event-stream' }, {
        jsonrpc: '2.0',
        id: 'listen-1',
        method: 'subscriptions/listen',
        params: { notifications: { toolsListChanged: true, resourceSubscriptions: ['docs://guide', 'docs://missing'] }, _meta: MODERN_META },
      });
      expect((await listen.response).statusCode).toBe(200);
      const ack = JSON.parse((await listen.waitFor((e) => e.data.includes('acknowledged'))).data);
      expect(ack.params).toEqual({
        notifications: { toolsListChanged: true, resourceSubscriptions: ['docs://guide'] },
        _meta: { 'io.modelcontextprotocol/subscriptionId': 'listen-1' },
      });
      expect((await call('POST', '/prompts', { name: 'unheard', template: 'x' })).status).toBe(201);
      expect((await call('POST', '/tools', { name: 'heard', url: 'http://127.0.0.1:9/x' })).status).toBe(201);
      const change = JSON.parse((await listen.waitFor((e) => e.data.includes('tools/list_changed'))).data);
      expect(change.params._meta['io.modelcontextprotocol/subscriptionId']).toBe('listen-1');
      expect(listen.events.some((e) => e.data.includes('prompts/list_changed'))).toBe(false);
      const resources = (await call('GET', '/resources')).body as Array<{ id: string; uri: string }>;
      const guide = resources.find((r) => r.uri === 'docs://guide') as { id: string };
      expect((await call('PUT', `/resources/${guide.id}`, { content: 'hello again' })).status).toBe(200);
      const updated = JSON.parse((await listen.waitFor((e) => e.data.includes('resources/updated'))).data);
      expect(updated.params).toMatchObject({ uri: 'docs://guide', _meta: { 'io.modelcontextprotocol/subscriptionId': 'listen-1' } });
      listen.close();
    });

    it('sends notifications/resources/updated to a 2025-era session that subscribed', async () => {
      const session = await initialize();
      const s = { 'mcp-session-id': session };
      expect((await post({ jsonrpc: '2.0', id: 1, method: 'resources/subscribe', params: { uri: 'docs://guide' } }, s)).body.result).toEqual({});
      expect((await post({ jsonrpc: '2.0', id: 2, method: 'resources/subscribe', params: { uri: 'docs://nope' } }, s)).body.error.code).toBe(-32002);
      const stream = openSse(`${gw.url}/mcp`, { ...headers, ...s });
      await stream.response;
      await sleep(100);
      const resources = (await call('GET', '/resources')).body as Array<{ id: string; uri: string }>;
      const guide = resources.find((r) => r.uri === 'docs://guide') as { id: string };
      expect((await call('PUT', `/resources/${guide.id}`, { content: 'hello once more' })).status).toBe(200);
      const updated = JSON.parse((await stream.waitFor((e) => e.data.includes('resources/updated'))).data);
      expect(updated).toEqual({ jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri: 'docs://guide' } });
      // The subscribed resource still reads back its new content.
      const read = await post({ jsonrpc: '2.0', id: 3, method: 'resources/read', params: { uri: 'docs://guide' } }, s);
      expect(read.body.result.contents[0].text).toBe('hello once more');
      stream.close();
    });

    it('streams list_changed on the GET stream and replays missed events from Last-Event-ID', async () => {
      const session = await initialize();
      const first = openSse(`${gw.url}/mcp`, { ...headers, 'mcp-session-id': session });
      expect((await first.response).statusCode).toBe(200);
      await sleep(100);
      expect((await call('POST', '/tools', { name: 'added_1', url: 'http://127.0.0.1:9/x' })).status).toBe(201);
      const event = await first.waitFor((e) => e.data.includes('notifications/tools/list_changed'));
      expect(event.id).toBeTruthy();
      first.close();
      await sleep(200);
      // Only a worker holding a stream logs catalog notifications for it, so: reconnect, let a
      // change be logged and delivered, drop, and resume from the earlier id to see it replayed.
      const second = openSse(`${gw.url}/mcp`, { ...headers, 'mcp-session-id': session, 'last-event-id': event.id as string });
      await second.response;
      await sleep(100);
      expect((await call('POST', '/tools', { name: 'added_2', url: 'http://127.0.0.1:9/x' })).status).toBe(201);
      const next = await second.waitFor((e) => e.id !== event.id && e.data.includes('list_changed'));
      second.close();
      await sleep(100);
      const resumed = openSse(`${gw.url}/mcp`, { ...headers, 'mcp-session-id': session, 'last-event-id': event.id as string });
      const replayed = await resumed.waitFor((e) => e.id === next.id);
      expect(JSON.parse(replayed.data)).toEqual({ jsonrpc: '2.0', method: 'notifications/tools/list_changed', params: {} });
      resumed.close();
      const badId = openSse(`${gw.url}/mcp`, { ...headers, 'mcp-session-id': session, 'last-event-id': 'garbage' });
      expect((await badId.response).statusCode).toBe(400);
      badId.close();
    });
  });
});
