/**
 * WebSocketClientTransport against a real `ws` server on loopback: what goes on the wire (the
 * `mcp` subprotocol, headers, one text frame per message) and how failures surface.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { once } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { JSONRPCMessage } from '@modelcontextprotocol/client';
import { WebSocketServer, type WebSocket, type ServerOptions } from 'ws';
import { WebSocketClientTransport } from './websocket-client.transport.js';
import { waitFor } from '../../test/helpers/wait.js';

interface TestServer {
  url: URL;
  wss: WebSocketServer;
  /** Subprotocols and headers of each upgrade request. */
  upgrades: Array<{ protocols: string[]; headers: IncomingHttpHeaders }>;
  /** Frames received from clients. */
  frames: Array<{ text: string; isBinary: boolean }>;
  /** The server side of the latest connection. */
  peer: () => WebSocket;
}

const servers: WebSocketServer[] = [];
const transports: WebSocketClientTransport[] = [];
const closers: Array<() => void> = [];

/** A `ws` server that answers each JSON-RPC request with `{ echo: method }`. */
async function startServer(options: Omit<ServerOptions, 'port' | 'host'> = {}): Promise<TestServer> {
  const upgrades: TestServer['upgrades'] = [];
  const frames: TestServer['frames'] = [];
  let last: WebSocket | null = null;
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    handleProtocols: (protocols, request) => {
      upgrades.push({ protocols: [...protocols], headers: request.headers });
      return protocols.has('mcp') ? 'mcp' : false;
    },
    ...options,
  });
  servers.push(wss);
  await once(wss, 'listening');
  wss.on('connection', (ws) => {
    last = ws;
    ws.on('message', (data, isBinary) => {
      const text = data.toString();
      frames.push({ text, isBinary });
      const message = JSON.parse(text) as { id?: number; method?: string };
      if (message.id !== undefined && message.method) ws.send(JSON.stringify({ jsonrpc: '2.0', id: message.id, result: { echo: message.method } }));
    });
  });
  const { port } = wss.address() as AddressInfo;
  return {
    url: new URL(`ws://127.0.0.1:${port}/ws`),
    wss,
    upgrades,
    frames,
    peer: () => {
      if (!last) throw new Error('no connection yet');
      return last;
    },
  };
}

interface Observed {
  transport: WebSocketClientTransport;
  messages: JSONRPCMessage[];
  errors: Error[];
  closes: () => number;
}

function observe(transport: WebSocketClientTransport): Observed {
  transports.push(transport);
  const messages: JSONRPCMessage[] = [];
  const errors: Error[] = [];
  let closes = 0;
  transport.onmessage = (message) => messages.push(message);
  transport.onerror = (error) => errors.push(error);
  transport.onclose = () => closes++;
  return { transport, messages, errors, closes: () => closes };
}

async function connected(server: TestServer, headers?: Record<string, string>): Promise<Observed> {
  const observed = observe(new WebSocketClientTransport(server.url, { headers }));
  const accepted = once(server.wss, 'connection');
  await observed.transport.start();
  await accepted;
  return observed;
}


afterEach(async () => {
  for (const transport of transports.splice(0)) await transport.close();
  for (const close of closers.splice(0)) close();
  for (const wss of servers.splice(0)) {
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }
});

describe('WebSocketClientTransport', () => {
  it('offers the `mcp` subprotocol and sends the configured headers with the upgrade', async () => {
    const server = await startServer();
    await connected(server, { authorization: 'Bearer abc', 'x-tenant': 't1' });
    expect(server.upgrades).toEqual([{ protocols: ['mcp'], headers: expect.objectContaining({ authorization: 'Bearer abc', 'x-tenant': 't1' }) }]);
    expect(server.peer().protocol).toBe('mcp');
  });

  it('sends each message as one text frame and delivers the parsed replies', async () => {
    const server = await startServer();
    const c = await connected(server);
    const request: JSONRPCMessage = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} };
    const notification: JSONRPCMessage = { jsonrpc: '2.0', method: 'notifications/initialized' };
    await c.transport.send(request);
    await c.transport.send(notification);
    await c.transport.send({ jsonrpc: '2.0', id: 2, method: 'ping' });

    await waitFor(() => c.messages.length === 2);
    expect(server.frames).toEqual([
      { text: JSON.stringify(request), isBinary: false },
      { text: JSON.stringify(notification), isBinary: false },
      { text: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }), isBinary: false },
    ]);
    expect(c.messages).toEqual([
      { jsonrpc: '2.0', id: 1, result: { echo: 'tools/list' } },
      { jsonrpc: '2.0', id: 2, result: { echo: 'ping' } },
    ]);
    expect(c.errors).toEqual([]);
  });

  it('reports a frame that is not a JSON-RPC message through onerror and keeps the connection', async () => {
    const server = await startServer();
    const c = await connected(server);
    server.peer().send('this is not json');
    server.peer().send('{"hello":"world"}');
    server.peer().send(Buffer.from('{"jsonrpc":"2.0","method":"x"}'), { binary: true });
    server.peer().send('{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}');

    await waitFor(() => c.messages.length === 1);
    expect(c.errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/^WebSocket: ignored a frame that is not JSON \(.+\): this is not json$/),
      'WebSocket: ignored a frame that is not a JSON-RPC message: {"hello":"world"}',
      expect.stringMatching(/binary frame/),
    ]);
    expect(c.messages).toEqual([{ jsonrpc: '2.0', method: 'notifications/tools/list_changed' }]);
    expect(c.closes()).toBe(0);
    await c.transport.send({ jsonrpc: '2.0', id: 7, method: 'ping' });
    await waitFor(() => c.messages.length === 2);
  });

  it('rejects start() with the HTTP status of a refused upgrade', async () => {
    const server = await startServer({ verifyClient: (_info, done) => done(false, 401, 'Unauthorized') });
    const c = observe(new WebSocketClientTransport(server.url));
    await expect(c.transport.start()).rejects.toThrow('WebSocket upgrade refused: 401 Unauthorized');
  });

  it('rejects start() when the server picks no subprotocol', async () => {
    const server = await startServer({ handleProtocols: () => false });
    const c = observe(new WebSocketClientTransport(server.url));
    await expect(c.transport.start()).rejects.toThrow(`WebSocket connection to ${server.url.origin} failed: Server sent no subprotocol`);
  });

  it('rejects start() when nothing listens, and when the handshake times out', async () => {
    const server = await startServer();
    const url = server.url;
    await new Promise<void>((resolve) => server.wss.close(() => resolve()));
    servers.length = 0;
    await expect(observe(new WebSocketClientTransport(url)).transport.start()).rejects.toThrow(/failed: connect ECONNREFUSED/);

    // Accepts TCP, never answers the upgrade.
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    closers.push(() => silent.close());
    const silentUrl = new URL(`ws://127.0.0.1:${(silent.address() as AddressInfo).port}/ws`);
    const started = Date.now();
    await expect(observe(new WebSocketClientTransport(silentUrl, { handshakeTimeoutMs: 200 })).transport.start()).rejects.toThrow(/Opening handshake has timed out/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('rejects send() before start() and after close()', async () => {
    const server = await startServer();
    const c = observe(new WebSocketClientTransport(server.url));
    await expect(c.transport.send({ jsonrpc: '2.0', method: 'x' })).rejects.toThrow('WebSocket is not open: call start() first');
    await c.transport.start();
    await c.transport.close();
    await expect(c.transport.send({ jsonrpc: '2.0', method: 'x' })).rejects.toThrow('WebSocket is not open (closed by the client)');
  });

  it('close() closes the socket normally and calls onclose once', async () => {
    const server = await startServer();
    const c = await connected(server);
    const serverSaw = once(server.peer(), 'close');
    await c.transport.close();
    await c.transport.close();
    const [code] = (await serverSaw) as [number];
    expect(code).toBe(1000);
    expect(c.closes()).toBe(1);
    expect(c.errors).toEqual([]);
  });

  it('calls onclose once and reports the code when the server drops or closes the connection', async () => {
    const server = await startServer();
    const dropped = await connected(server);
    server.peer().terminate();
    await waitFor(() => dropped.closes() === 1);
    expect(dropped.errors.map((e) => e.message)).toEqual(['WebSocket closed: 1006']);
    await expect(dropped.transport.send({ jsonrpc: '2.0', method: 'x' })).rejects.toThrow('WebSocket is not open (WebSocket closed: 1006)');

    const refused = await connected(server);
    server.peer().close(1008, 'unauthorized: missing Authorization header');
    await waitFor(() => refused.closes() === 1);
    expect(refused.errors.map((e) => e.message)).toEqual(['WebSocket closed: 1008 unauthorized: missing Authorization header']);

    // The SDK Client calls close() as soon as initialize fails: the server's reason still counts.
    const raced = await connected(server);
    server.peer().close(1008, 'unauthorized: expired');
    await raced.transport.close();
    expect(raced.closes()).toBe(1);
    expect(raced.errors.map((e) => e.message)).toEqual(['WebSocket closed: 1008 unauthorized: expired']);

    // A normal close by the server ends the transport without an error.
    const normal = await connected(server);
    server.peer().close(1000);
    await waitFor(() => normal.closes() === 1);
    expect(normal.errors).toEqual([]);
    await normal.transport.close();
    expect(normal.closes()).toBe(1);
  });

  it('drops a connection whose server sends a frame over maxPayload', async () => {
    const server = await startServer();
    const c = observe(new WebSocketClientTransport(server.url, { maxPayload: 1024 }));
    const accepted = once(server.wss, 'connection');
    await c.transport.start();
    await accepted;
    server.peer().send(JSON.stringify({ jsonrpc: '2.0', method: 'big', params: { pad: 'x'.repeat(2048) } }));
    await waitFor(() => c.closes() === 1);
    expect(c.messages).toEqual([]);
    expect(c.errors.map((e) => e.message)).toContain('Max payload size exceeded');
  });
});
