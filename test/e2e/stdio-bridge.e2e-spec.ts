import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport as V1SseTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { ROOT, api, postOversized } from '../helpers/gateway-process.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The stdio bridge (`translate`) as a real process, built (`npx nest build`) and run the way
 * `npm run translate` runs it, in front of test/fixtures/stdio-server.ts, exercised with the
 * official SDK clients: v2 over Streamable HTTP, v1 over HTTP+SSE.
 */
const FIXTURE_COMMAND = `"${process.execPath}" --import ./test/fixtures/ts-register.mjs test/fixtures/stdio-server.ts`;
const TOOLS = ['add', 'crash', 'progress', 'sample', 'whoami'];

interface Bridge {
  proc: ChildProcess;
  url: string;
  sseUrl: string;
  base: string;
  output: () => string;
  exited: Promise<number | null>;
}

async function startBridge(): Promise<Bridge> {
  const proc = spawn(
    process.execPath,
    ['dist/federation/stdio-bridge/translate.cli.js', '--stdio', FIXTURE_COMMAND, '--port', '0', '--log-level', 'warn'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const url = /STDIO_BRIDGE_URL=(\S+)/.exec(out)?.[1];
    const sseUrl = /STDIO_BRIDGE_SSE_URL=(\S+)/.exec(out)?.[1];
    if (url && sseUrl) return { proc, url, sseUrl, base: url.replace(/\/mcp$/, ''), output: () => out, exited };
    if (proc.exitCode !== null) throw new Error(`bridge exited with ${proc.exitCode}:\n${out}`);
    await sleep(50);
  }
  proc.kill('SIGKILL');
  throw new Error(`bridge did not print its URL within 20 s:\n${out}`);
}

async function health(bridge: Bridge): Promise<{ status: string; child: string; pid: number | null }> {
  return (await api(bridge.base, 'GET', '/healthz')).body;
}


function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Processes of a group that still run. Zombies do not count: orphans are reparented to init, and
 * some container inits (this sandbox's among them) never reap them.
 */
function livingGroupMembers(pgid: number): number[] {
  const living: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z') living.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return living;
}

function text(result: { content?: unknown }): string {
  const content = result.content as Array<{ type: string; text?: string }>;
  return content.filter((c) => c.type === 'text').map((c) => c.text).join('');
}

async function v2Client(bridge: Bridge, name: string): Promise<Client> {
  const client = new Client({ name, version: '1.0.0' }, { capabilities: { sampling: {} } });
  client.setRequestHandler('sampling/createMessage', (request) => {
    const last = request.params.messages.at(-1)?.content;
    const asked = last && !Array.isArray(last) && last.type === 'text' ? last.text : '?';
    return { model: 'fake', role: 'assistant', content: { type: 'text', text: `${name} says: ${asked}` } };
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(bridge.url)));
  return client;
}

describe('stdio bridge (translate)', () => {
  let bridge: Bridge;
  const clients: Array<{ close(): Promise<void> }> = [];

  beforeAll(async () => {
    bridge = await startBridge();
    await waitFor(async () => (await health(bridge)).child === 'running');
  });
  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    if (bridge && bridge.proc.exitCode === null) {
      bridge.proc.kill('SIGTERM');
      await bridge.exited;
    }
  });

  it('serves the stdio server to an SDK v2 client over Streamable HTTP', async () => {
    const client = await v2Client(bridge, 'v2');
    clients.push(client);
    expect(client.getServerVersion()?.name).toBe('stdio-fixture');
    expect(client.getNegotiatedProtocolVersion()).toBe('2025-11-25');
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(TOOLS);
    expect(text(await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } }))).toBe('5');
  });

  it('serves an SDK v1 client over HTTP+SSE, sampling included', async () => {
    const client = new V1Client({ name: 'v1-sse', version: '1.0.0' }, { capabilities: { sampling: {} } });
    client.setRequestHandler(CreateMessageRequestSchema, (request) => {
      const last = request.params.messages.at(-1)?.content;
      const asked = last && !Array.isArray(last) && last.type === 'text' ? last.text : '?';
      return { model: 'fake', role: 'assistant', content: { type: 'text', text: `v1 says: ${asked}` } };
    });
    await client.connect(new V1SseTransport(new URL(bridge.sseUrl)));
    clients.push(client);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(TOOLS);
    expect(text((await client.callTool({ name: 'add', arguments: { a: 40, b: 2 } })) as { content: unknown })).toBe('42');
    expect(text((await client.callTool({ name: 'sample', arguments: { prompt: 'hi' } })) as { content: unknown })).toBe('v1 says: hi');
  });

  it('relays progress to onprogress and sampling to the calling client', async () => {
    const client = await v2Client(bridge, 'progress-client');
    clients.push(client);
    const seen: number[] = [];
    const result = await client.callTool({ name: 'progress' }, { onprogress: (p) => seen.push(p.progress) });
    expect(text(result)).toBe('progressed');
    expect(seen).toEqual([1, 2]);
    expect(text(await client.callTool({ name: 'sample', arguments: { prompt: 'ping?' } }))).toBe('progress-client says: ping?');
  });

  it('keeps concurrent sessions apart although their request ids and progress tokens collide', async () => {
    const [a, b] = await Promise.all([v2Client(bridge, 'a'), v2Client(bridge, 'b')]);
    clients.push(a, b);
    const progressA: number[] = [];
    const progressB: number[] = [];
    const calls = await Promise.all([
      ...[1, 2, 3, 4].map((n) => a.callTool({ name: 'add', arguments: { a: n, b: 100 } }).then(text)),
      ...[1, 2, 3, 4].map((n) => b.callTool({ name: 'add', arguments: { a: n, b: 200 } }).then(text)),
      a.callTool({ name: 'progress' }, { onprogress: (p) => progressA.push(p.progress) }).then(text),
      b.callTool({ name: 'progress' }, { onprogress: (p) => progressB.push(p.progress) }).then(text),
    ]);
    expect(calls).toEqual(['101', '102', '103', '104', '201', '202', '203', '204', 'progressed', 'progressed']);
    expect(progressA).toEqual([1, 2]);
    expect(progressB).toEqual([1, 2]);
  });

  it('answers HTTP and JSON-RPC errors itself, and keeps the JSON type of ids', async () => {
    const json = { 'content-type': 'application/json' };
    const bad = await api(bridge.base, 'POST', '/mcp', { raw: '{"jsonrpc":', headers: json });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe(-32700);
    const ping = { jsonrpc: '2.0', id: 1, method: 'ping' };
    const unknown = await api(bridge.base, 'POST', '/mcp', { body: ping, headers: { 'mcp-session-id': 'no-such-session' } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe(-32001);
    expect((await api(bridge.base, 'POST', '/mcp', { body: ping })).status).toBe(400);
    expect((await api(bridge.base, 'POST', '/mcp', { body: { jsonrpc: '2.0', id: 1 } })).body.error.code).toBe(-32600);
    expect((await api(bridge.base, 'POST', '/message?session_id=nope', { body: ping })).status).toBe(404);

    const init = await api(bridge.base, 'POST', '/mcp', {
      body: { jsonrpc: '2.0', id: 'init', method: 'initialize', params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } },
    });
    expect(init.body).toMatchObject({ id: 'init', result: { protocolVersion: '2024-11-05', serverInfo: { name: 'stdio-fixture' } } });
    const session = { 'mcp-session-id': init.headers.get('mcp-session-id') ?? '' };
    const call = (id: unknown) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 1 } } });
    expect((await api(bridge.base, 'POST', '/mcp', { body: call('7'), headers: session })).body).toEqual({ jsonrpc: '2.0', id: '7', result: { content: [{ type: 'text', text: '2' }] } });
    expect((await api(bridge.base, 'POST', '/mcp', { body: call(7), headers: session })).body.id).toBe(7);
    expect((await api(bridge.base, 'POST', '/mcp', { body: { ...ping, id: 'p' }, headers: session })).body).toEqual({ jsonrpc: '2.0', id: 'p', result: {} });
    expect((await postOversized(`${bridge.base}/mcp`, { ...json, ...session }, 5 * 1024 * 1024)).status).toBe(413);
    expect((await api(bridge.base, 'DELETE', '/mcp', { headers: session })).status).toBe(200);
    expect((await api(bridge.base, 'POST', '/mcp', { body: ping, headers: session })).status).toBe(404);
  });

  it('fails the call that crashed the server, restarts it, and serves the next call', async () => {
    const client = await v2Client(bridge, 'crasher');
    clients.push(client);
    const before = await health(bridge);
    expect(before).toMatchObject({ status: 'ok', child: 'running' });
    await expect(client.callTool({ name: 'crash' })).rejects.toThrow(/stdio server exited/);
    // Sent while the child is still down: it waits for the restart instead of failing.
    expect(text(await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } }))).toBe('3');
    const after = await health(bridge);
    expect(after.child).toBe('running');
    expect(after.pid).not.toBe(before.pid);
    expect(isGone(before.pid as number)).toBe(true);
    expect(livingGroupMembers(before.pid as number)).toEqual([]);
  });

  it('stops on SIGTERM with exit code 0 and leaves no child process behind', async () => {
    const { pid } = await health(bridge);
    expect(typeof pid).toBe('number');
    bridge.proc.kill('SIGTERM');
    expect(await bridge.exited).toBe(0);
    expect(isGone(pid as number)).toBe(true);
    // Nothing of its process group either (the shell's child included).
    expect(livingGroupMembers(pid as number)).toEqual([]);
  });
});
