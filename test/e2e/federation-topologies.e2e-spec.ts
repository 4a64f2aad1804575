import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { TEST_SECRET, bearer } from '../helpers/auth.js';
import { ROOT, api, startGateway, type GatewayProcess } from '../helpers/gateway-process.js';

/**
 * What can be registered as a gateway besides an HTTP MCP server: a stdio server behind the
 * `translate` bridge (over Streamable HTTP and over HTTP+SSE), and another MCP Gateway instance
 * (gateway of gateways, over Streamable HTTP and over WebSocket), each called through the
 * front gateway with the official SDK v2 client.
 */
const STDIO_COMMAND = `"${process.execPath}" --import ./test/fixtures/ts-register.mjs test/fixtures/stdio-server.ts`;
const INNER_SECRET = 'inner-gateway-secret';

describe('federating a stdio server and another gateway', () => {
  let front: GatewayProcess;
  let inner: GatewayProcess;
  let bridge: ChildProcess;
  let bridgeUrl = '';
  let bridgeSseUrl = '';
  let rest: http.Server;
  const auth = bearer({ sub: 'topologies@example.com' });
  const innerAuth = bearer({ sub: 'front-gateway' }, INNER_SECRET);

  const waitForTool = async (name: string) => {
    for (let i = 0; i < 100; i++) {
      const list = await api(front.url, 'POST', '/rpc', { auth, body: { jsonrpc: '2.0', id: 1, method: 'tools/list' } });
      if (list.body.result?.tools?.some((t: { name: string }) => t.name === name)) return;
      await sleep(50);
    }
    throw new Error(`${name} never appeared in tools/list`);
  };
  const call = async (name: string, args: Record<string, unknown>) => {
    const client = new Client({ name: 'topologies', version: '1' }, { versionNegotiation: { mode: 'auto' } });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${front.url}/mcp`), { requestInit: { headers: { authorization: auth } } }));
    try {
      return await client.callTool({ name, arguments: args });
    } finally {
      await client.close();
    }
  };

  beforeAll(async () => {
    rest = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"forecast":"sunny"}');
    });
    await new Promise<void>((r) => rest.listen(0, '127.0.0.1', r));
    [front, inner] = await Promise.all([startGateway({ JWT_SECRET_KEY: TEST_SECRET }), startGateway({ JWT_SECRET_KEY: INNER_SECRET })]);
    const restUrl = `http://127.0.0.1:${(rest.address() as AddressInfo).port}/weather`;
    expect((await api(inner.url, 'POST', '/tools', { auth: innerAuth, body: { name: 'weather', url: restUrl } })).status).toBe(201);
    expect((await api(inner.url, 'POST', '/prompts', { auth: innerAuth, body: { name: 'brief', template: 'Brief {{ topic }}' } })).status).toBe(201);

    bridge = spawn(process.execPath, ['dist/federation/stdio-bridge/translate.cli.js', '--stdio', STDIO_COMMAND, '--port', '0', '--log-level', 'warn'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    bridge.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    bridge.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const deadline = Date.now() + 20_000;
    while (!/STDIO_BRIDGE_SSE_URL=/.test(out)) {
      if (Date.now() > deadline || bridge.exitCode !== null) throw new Error(`bridge did not start:\n${out}`);
      await sleep(50);
    }
    bridgeUrl = /STDIO_BRIDGE_URL=(\S+)/.exec(out)?.[1] as string;
    bridgeSseUrl = /STDIO_BRIDGE_SSE_URL=(\S+)/.exec(out)?.[1] as string;
  }, 60_000);

  afterAll(async () => {
    if (bridge && bridge.exitCode === null) {
      const exited = new Promise((r) => bridge.once('exit', r));
      bridge.kill('SIGTERM');
      await exited;
    }
    await Promise.all([front?.stop(), inner?.stop()]);
    await new Promise((r) => rest?.close(r));
  }, 30_000);

  it('registers a stdio server behind the bridge (Streamable HTTP) and calls it', async () => {
    const res = await api(front.url, 'POST', '/gateways', { auth, body: { name: 'stdio', url: bridgeUrl } });
    expect(res.status).toBe(201);
    expect(res.body.protocol_version).toMatch(/^2025-/);
    await waitForTool('stdio-add');
    expect((await call('stdio-add', { a: 2, b: 40 })).content).toEqual([{ type: 'text', text: '42' }]);
  }, 30_000);

  it('registers the same bridge over HTTP+SSE and calls it', async () => {
    const res = await api(front.url, 'POST', '/gateways', { auth, body: { name: 'stdio over sse', url: bridgeSseUrl, transport: 'sse', prefix: 'stdio_sse' } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ transport: 'SSE', prefix: 'stdio_sse' });
    await waitForTool('stdio_sse-add');
    expect((await call('stdio_sse-add', { a: 1, b: 1 })).content).toEqual([{ type: 'text', text: '2' }]);
  }, 30_000);

  it('federates another gateway instance, namespaced, with its own credentials', async () => {
    const denied = await api(front.url, 'POST', '/gateways', { auth, body: { name: 'inner', url: `${inner.url}/mcp` } });
    expect(denied.status).toBe(502);
    expect(denied.body.message).toMatch(/401|Unauthorized/i);
    const res = await api(front.url, 'POST', '/gateways', { auth, body: { name: 'inner', url: `${inner.url}/mcp`, auth_type: 'bearer', auth_token: innerAuth.slice('Bearer '.length) } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ protocol_version: '2026-07-28', server_info: { name: 'mcp-gateway' } });
    await waitForTool('inner-weather');
    const weather = await call('inner-weather', {});
    expect(JSON.parse((weather.content as Array<{ text: string }>)[0]!.text)).toEqual({ forecast: 'sunny' });
    const prompt = await api(front.url, 'POST', '/rpc', { auth, body: { jsonrpc: '2.0', id: 1, method: 'prompts/get', params: { name: 'inner-brief', arguments: { topic: 'MCP' } } } });
    expect(prompt.body.result.messages[0].content.text).toBe('Brief MCP');
  }, 30_000);

  it('federates another gateway over WebSocket', async () => {
    const res = await api(front.url, 'POST', '/gateways', {
      auth,
      body: { name: 'inner-ws', url: `${inner.url.replace('http', 'ws')}/ws`, transport: 'WEBSOCKET', prefix: 'innerws', auth_type: 'bearer', auth_token: innerAuth.slice('Bearer '.length) },
    });
    expect(res.status).toBe(201);
    await waitForTool('innerws-weather');
    const weather = await call('innerws-weather', {});
    expect(JSON.parse((weather.content as Array<{ text: string }>)[0]!.text)).toEqual({ forecast: 'sunny' });
    const gateways = (await api(front.url, 'GET', '/gateways', { auth })).body as Array<{ name: string; status: string }>;
    expect(gateways.map((g) => g.name).sort()).toEqual(['inner', 'inner-ws', 'stdio', 'stdio over sse']);
    expect(gateways.every((g) => g.status === 'active')).toBe(true);
  }, 30_000);
});
