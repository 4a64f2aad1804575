/**
 * The federation WebSocket client transport against the real gateway's `/ws` endpoint (built
 * gateway, embedded SQLite + memory cache), driven by the official SDK v2 `Client`: the gateway
 * stands in for an upstream MCP server reached over WebSocket.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/client';
import { WebSocketClientTransport } from '#app/federation/websocket-client.transport.js';
import { TEST_SECRET, bearer } from '../helpers/auth.js';
import { api, startGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { waitFor } from '../helpers/wait.js';


describe('WebSocketClientTransport against the gateway /ws', () => {
  let gw: GatewayProcess;
  let wsUrl: URL;
  const auth = bearer({ sub: 'ws-upstream@example.com' });

  beforeAll(async () => {
    gw = await startGateway({ JWT_SECRET_KEY: TEST_SECRET });
    wsUrl = new URL(`ws://127.0.0.1:${gw.port}/ws`);
    // Only listed, never called: the URL needs no server behind it.
    const created = await api(gw.url, 'POST', '/tools', { auth, body: { name: 'ws_listed', url: 'http://127.0.0.1:9/never-called', description: 'Listed over WebSocket' } });
    expect(created.status).toBe(201);
    // The catalog snapshot reloads just after the write is announced: wait until it lists the tool.
    for (let i = 0; i < 100; i++) {
      const list = await api(gw.url, 'POST', '/rpc', { auth, body: { jsonrpc: '2.0', id: 1, method: 'tools/list' } });
      if (list.body.result?.tools?.length === 1) break;
      await new Promise((r) => setTimeout(r, 20));
    }
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('connects the SDK client with a bearer header; listTools and ping work', async () => {
    const client = new Client({ name: 'ws-upstream-spec', version: '1.0.0' }, {});
    const transport = new WebSocketClientTransport(wsUrl, { headers: { authorization: auth } });
    const errors: Error[] = [];
    transport.onerror = (error) => errors.push(error);
    await client.connect(transport);
    try {
      expect(client.getProtocolEra()).toBe('legacy');
      const { tools } = await client.listTools();
      expect(tools).toEqual([expect.objectContaining({ name: 'ws_listed', description: 'Listed over WebSocket' })]);
      await expect(client.ping()).resolves.toEqual({});
      expect(errors).toEqual([]);
    } finally {
      await client.close();
    }
  });

  it('fails to connect without the header, and says why', async () => {
    const client = new Client({ name: 'ws-upstream-spec-anon', version: '1.0.0' }, {});
    const transport = new WebSocketClientTransport(wsUrl);
    const errors: Error[] = [];
    transport.onerror = (error) => errors.push(error);
    let closed = 0;
    client.onclose = () => closed++;
    // The gateway completes the upgrade and then closes with 1008 and the reason
    // (src/mcp/transports/websocket.transport.ts): no HTTP 401 reaches the client, and the SDK
    // fails the pending initialize with a bare "Connection closed", so the reason is on onerror.
    await expect(client.connect(transport)).rejects.toThrow(/Connection closed|WebSocket is not open/);
    await waitFor(() => closed === 1);
    expect(errors.map((e) => e.message)).toContainEqual(expect.stringMatching(/^WebSocket closed: 1008 unauthorized: missing Authorization header/));
    expect(closed).toBe(1);
    await client.close();
  });
});
