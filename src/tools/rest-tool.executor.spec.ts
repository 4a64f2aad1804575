import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loadConfig } from '#app/config/app-config.js';
import type { CallToolResult } from '#app/mcp/mcp-types.js';
import { RestToolExecutor, type RestToolTarget } from './rest-tool.executor.js';

// Real HTTP against a local node:http server: no mocks of undici.

const SECRET = 'Bearer s3cr3t-token-value-123';
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 1, 2, 3]);
const BIG = 11 * 1024 * 1024;

let server: Server;
let base: string;
let executor: RestToolExecutor;
/** Hit timestamps per request path. */
const hits = new Map<string, number[]>();
const hangSockets = new Map<string, Socket>();
let connections = 0;
let slowInFlight = 0;
let slowMax = 0;

function route(req: IncomingMessage, res: ServerResponse, url: URL, body: string): void {
  const [, kind, arg] = url.pathname.split('/');
  const count = hits.get(url.pathname)?.length ?? 0;
  const json = (status: number, value: unknown, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(value));
  };
  switch (kind) {
    case 'echo':
      return json(200, { method: req.method, url: req.url, headers: req.headers, body });
    case 'json':
      return json(200, JSON.parse(url.searchParams.get('v') ?? 'null'));
    case 'text':
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('hello\nworld');
      return;
    case 'image':
      res.writeHead(200, { 'content-type': 'image/png' }).end(PNG);
      return;
    case 'empty':
      res.writeHead(204).end();
      return;
    case 'unauthorized':
      res
        .writeHead(401, { 'content-type': 'text/plain' })
        .end(`invalid   token\n\n ${String(req.headers.authorization)} ${'x'.repeat(5000)}`);
      return;
    case 'status':
      return json(Number(arg), { error: 'nope' });
    case 'flaky': // 503 on the first hit, then 200
      return count === 1 ? json(503, { error: 'busy' }) : json(200, { ok: true, hits: count });
    case 'retry-after': {
      if (count > 1) return json(200, { ok: true });
      const when = url.searchParams.get('date') ? new Date(Date.now() + 5000).toUTCString() : '1';
      return json(url.searchParams.get('date') ? 503 : 429, { error: 'slow down' }, { 'retry-after': when });
    }
    case 'slow': {
      slowInFlight++;
      slowMax = Math.max(slowMax, slowInFlight);
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        slowInFlight--;
        clearTimeout(timer);
      };
      const timer = setTimeout(() => {
        finish();
        json(200, { ok: true });
      }, Number(url.searchParams.get('ms') ?? 100));
      res.on('close', finish);
      return;
    }
    case 'hang': // never answers; the socket is recorded so the test can see it closed
      hangSockets.set(arg, req.socket);
      return;
    case 'big': {
      const chunk = Buffer.alloc(1024 * 1024, 0x61);
      res.writeHead(200, url.searchParams.get('cl') ? { 'content-type': 'text/plain', 'content-length': String(BIG) } : { 'content-type': 'text/plain' });
      for (let sent = 0; sent < BIG; sent += chunk.length) res.write(chunk);
      res.end();
      return;
    }
    default:
      res.writeHead(404).end();
  }
}

function target(overrides: Partial<RestToolTarget> & { url: string }): RestToolTarget {
  return {
    id: `tool-${Math.random().toString(36).slice(2)}`,
    name: 'test-tool',
    requestType: 'GET',
    headers: {},
    authHeaders: () => ({}),
    timeoutMs: null,
    outputSchema: null,
    ...overrides,
  };
}

function textOf(result: CallToolResult): string {
  const block = result.content[0];
  if (block.type !== 'text') throw new Error(`expected text content, got ${block.type}`);
  return block.text;
}

function hitCount(path: string): number {
  return hits.get(path)?.length ?? 0;
}

function socketClosed(socket: Socket | undefined, withinMs: number): Promise<boolean> {
  if (!socket) return Promise.resolve(false);
  if (socket.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), withinMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

beforeAll(async () => {
  server = createServer((req, res) => {
    res.on('error', () => undefined);
    const url = new URL(req.url ?? '/', 'http://localhost');
    hits.set(url.pathname, [...(hits.get(url.pathname) ?? []), Date.now()]);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => route(req, res, url, Buffer.concat(chunks).toString('utf8')));
  });
  server.on('connection', (socket: Socket) => {
    connections++;
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  executor = new RestToolExecutor(
    loadConfig({
      TOOL_TIMEOUT: '0.5',
      RETRY_BASE_DELAY: '0.01',
      RETRY_MAX_DELAY: '0.05',
      RETRY_MAX_ATTEMPTS: '2',
      TOOL_CONCURRENT_LIMIT: '2',
    }),
  );
});

afterAll(async () => {
  await executor.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('RestToolExecutor: requests', () => {
  it('puts GET and DELETE arguments in the query string, keeping the existing query', async () => {
    const args = {
      tags: ['a', 'b c'],
      filter: { k: 'v' },
      n: 5,
      flag: true,
      skip: null,
      none: undefined,
      list: [1, null, { z: 1 }],
    };
    const result = await executor.execute(target({ url: `${base}/echo?keep=1&x=a%20b#frag` }), args);
    expect(result.isError).toBeUndefined();
    const echo = JSON.parse(textOf(result)) as { method: string; url: string; body: string };
    expect(echo.method).toBe('GET');
    expect(echo.url.startsWith('/echo?keep=1&x=a%20b&')).toBe(true);
    const query = new URL(echo.url, base).searchParams;
    expect(query.get('keep')).toBe('1');
    expect(query.get('x')).toBe('a b');
    expect(query.getAll('tags')).toEqual(['a', 'b c']);
    expect(query.get('filter')).toBe('{"k":"v"}');
    expect(query.get('n')).toBe('5');
    expect(query.get('flag')).toBe('true');
    expect(query.has('skip')).toBe(false);
    expect(query.has('none')).toBe(false);
    expect(query.getAll('list')).toEqual(['1', '{"z":1}']);

    const del = await executor.execute(target({ url: `${base}/echo`, requestType: 'DELETE' }), { id: 7 });
    const delEcho = JSON.parse(textOf(del)) as { method: string; url: string; body: string };
    expect(delEcho).toMatchObject({ method: 'DELETE', url: '/echo?id=7', body: '' });
  });

  it('sends POST arguments as a JSON body and merges headers tool < auth < extra', async () => {
    const args = { a: 1, nested: { b: [1, 2] }, s: 'é' };
    const result = await executor.execute(
      target({
        url: `${base}/echo`,
        requestType: 'POST',
        headers: { 'X-A': 'tool', 'X-B': 'tool', 'x-c': 'tool', Host: 'evil.example', 'Content-Length': '1' },
        authHeaders: () => ({ 'x-b': 'auth', Authorization: SECRET }),
      }),
      args,
      { extraHeaders: { 'X-C': 'extra', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } },
    );
    const echo = JSON.parse(textOf(result)) as { method: string; headers: Record<string, string>; body: string };
    expect(echo.method).toBe('POST');
    expect(JSON.parse(echo.body)).toEqual(args);
    expect(echo.headers).toMatchObject({
      'x-a': 'tool',
      'x-b': 'auth',
      'x-c': 'extra',
      authorization: SECRET,
      'content-type': 'application/json',
      accept: 'application/json, */*;q=0.5',
      host: new URL(base).host,
      'content-length': String(Buffer.byteLength(echo.body)),
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    });
  });

  it('returns an error result without calling out when the credentials cannot be read', async () => {
    const result = await executor.execute(
      target({
        url: `${base}/echo/creds`,
        authHeaders: () => {
          throw new Error('bad auth tag');
        },
      }),
      {},
    );
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/stored credentials can't be read/);
    expect(textOf(result)).not.toContain('bad auth tag');
    expect(hitCount('/echo/creds')).toBe(0);
  });

  it('reuses keep-alive sockets, also after a discarded retry response', async () => {
    await executor.execute(target({ url: `${base}/echo` }), {}); // warm the pool
    const before = connections;
    await executor.execute(target({ url: `${base}/flaky/reuse` }), {});
    for (let i = 0; i < 3; i++) await executor.execute(target({ url: `${base}/echo` }), { i });
    expect(hitCount('/flaky/reuse')).toBe(2);
    expect(connections - before).toBe(0);
  });
});

describe('RestToolExecutor: response mapping', () => {
  it('returns JSON as pretty text, with structuredContent only when there is an outputSchema', async () => {
    const url = `${base}/json?v=${encodeURIComponent('{"a":1,"b":[true]}')}`;
    const plain = await executor.execute(target({ url }), {});
    expect(plain).toEqual({ content: [{ type: 'text', text: '{\n  "a": 1,\n  "b": [\n    true\n  ]\n}' }] });

    const structured = await executor.execute(target({ url, outputSchema: { type: 'object' } }), {});
    expect(structured.structuredContent).toEqual({ a: 1, b: [true] });
    expect(structured.isError).toBeUndefined();
  });

  it('wraps non-object JSON as { result } for structuredContent', async () => {
    const arr = await executor.execute(target({ url: `${base}/json?v=${encodeURIComponent('[1,2]')}`, outputSchema: { type: 'object' } }), {});
    expect(arr.structuredContent).toEqual({ result: [1, 2] });
    expect(textOf(arr)).toBe('[\n  1,\n  2\n]');
    const scalar = await executor.execute(target({ url: `${base}/json?v=42`, outputSchema: { type: 'object' } }), {});
    expect(scalar.structuredContent).toEqual({ result: 42 });
    expect(textOf(scalar)).toBe('42');
  });

  it('returns text/plain as text, images as image content and 204 as "(no content)"', async () => {
    const text = await executor.execute(target({ url: `${base}/text`, outputSchema: { type: 'object' } }), {});
    expect(text).toEqual({ content: [{ type: 'text', text: 'hello\nworld' }] });

    const image = await executor.execute(target({ url: `${base}/image` }), {});
    expect(image).toEqual({ content: [{ type: 'image', data: PNG.toString('base64'), mimeType: 'image/png' }] });

    const empty = await executor.execute(target({ url: `${base}/empty`, requestType: 'DELETE' }), {});
    expect(empty).toEqual({ content: [{ type: 'text', text: '(no content)' }] });
  });

  it('maps a non-2xx to an error with status, url without query and a collapsed excerpt, never the secret', async () => {
    const result = await executor.execute(
      target({ url: `${base}/unauthorized?api_key=abc`, authHeaders: () => ({ Authorization: SECRET }) }),
      { q: 'x' },
    );
    expect(result.isError).toBe(true);
    const text = textOf(result);
    expect(text.startsWith(`HTTP 401 Unauthorized from GET ${base}/unauthorized: invalid token [redacted] xxx`)).toBe(true);
    expect(text).not.toContain('s3cr3t');
    expect(text).not.toContain('api_key');
    expect(text.length).toBeLessThan(2200);
    expect(hitCount('/unauthorized')).toBe(1); // 4xx is not retried
  });

  it('rejects a response body over 10 MiB, streamed or declared', async () => {
    for (const url of [`${base}/big`, `${base}/big?cl=1`]) {
      const result = await executor.execute(target({ url, timeoutMs: 5000 }), {});
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/response larger than 10 MiB/);
    }
  });
});

describe('RestToolExecutor: retries', () => {
  it('retries a GET after a 503 and succeeds', async () => {
    const result = await executor.execute(target({ url: `${base}/flaky/get` }), {});
    expect(result.isError).toBeUndefined();
    expect(JSON.parse(textOf(result))).toEqual({ ok: true, hits: 2 });
    expect(hitCount('/flaky/get')).toBe(2);
  });

  it('gives up on a GET after 1 + RETRY_MAX_ATTEMPTS attempts', async () => {
    const result = await executor.execute(target({ url: `${base}/status/502/get` }), {});
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe(`HTTP 502 Bad Gateway from GET ${base}/status/502/get: {"error":"nope"}`);
    expect(hitCount('/status/502/get')).toBe(3);
  });

  it('does not retry a POST after a 503', async () => {
    const result = await executor.execute(target({ url: `${base}/status/503/post`, requestType: 'POST' }), {});
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^HTTP 503 Service Unavailable from POST /);
    expect(hitCount('/status/503/post')).toBe(1);
  });

  it('returns an error naming ECONNREFUSED after retrying a closed port', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const result = await executor.execute(target({ url: `http://127.0.0.1:${port}/x`, authHeaders: () => ({ authorization: SECRET }) }), {});
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/ECONNREFUSED/);
    expect(textOf(result)).toMatch(/after 3 attempts/);
    expect(textOf(result)).not.toMatch(/\n\s+at /); // no stack
  });

  it('honours Retry-After (seconds on 429, HTTP date on 503), capped at RETRY_MAX_DELAY', async () => {
    for (const query of ['', '?date=1']) {
      const path = `/retry-after/${query ? 'date' : 'seconds'}`;
      const started = Date.now();
      const result = await executor.execute(target({ url: `${base}${path}${query}` }), {});
      expect(result.isError).toBeUndefined();
      const [first, second] = hits.get(path) ?? [];
      // Plain jitter would wait at most RETRY_BASE_DELAY (10 ms); Retry-After asks for more, capped at 50 ms.
      expect(second - first).toBeGreaterThanOrEqual(40);
      expect(Date.now() - started).toBeLessThan(1000);
    }
  });
});

describe('RestToolExecutor: timeouts and cancellation', () => {
  it('turns a timeout into an error result and closes the socket', async () => {
    const started = Date.now();
    const result = await executor.execute(target({ name: 'hang', url: `${base}/hang/timeout` }), {});
    expect(result).toEqual({ content: [{ type: 'text', text: 'Tool "hang" timed out after 500 ms' }], isError: true });
    expect(Date.now() - started).toBeLessThan(1000); // a timeout is not retried
    expect(await socketClosed(hangSockets.get('timeout'), 500)).toBe(true);
  });

  it('rejects promptly with the abort reason when the caller aborts, and closes the socket', async () => {
    const controller = new AbortController();
    const reason = new Error('client went away');
    setTimeout(() => controller.abort(reason), 50);
    const started = Date.now();
    await expect(
      executor.execute(target({ url: `${base}/hang/abort`, timeoutMs: 5000 }), {}, { signal: controller.signal }),
    ).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(300);
    expect(await socketClosed(hangSockets.get('abort'), 500)).toBe(true);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const reason = new Error('already gone');
    await expect(executor.execute(target({ url: `${base}/echo/pre` }), {}, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(hitCount('/echo/pre')).toBe(0);
  });
});

describe('RestToolExecutor: per-tool concurrency', () => {
  it('runs at most TOOL_CONCURRENT_LIMIT calls at once; the others wait their turn', async () => {
    slowMax = 0;
    const tool = target({ id: 'slow-tool', url: `${base}/slow?ms=150` });
    const calls = Array.from({ length: 4 }, () => executor.execute(tool, {}));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(executor.activeToolCount()).toBe(1);
    const results = await Promise.all(calls);
    expect(results.every((r) => r.isError === undefined)).toBe(true);
    expect(slowMax).toBe(2);
    expect(executor.activeToolCount()).toBe(0);
  });

  it('gives a queued call the concurrency-limit error when its timeout passes first', async () => {
    const running = [0, 1].map(() => executor.execute(target({ id: 'busy-tool', url: `${base}/slow?ms=300`, timeoutMs: 1000 }), {}));
    const started = Date.now();
    const queued = await executor.execute(target({ id: 'busy-tool', name: 'busy', url: `${base}/slow?ms=300`, timeoutMs: 50 }), {});
    expect(queued).toEqual({
      content: [{ type: 'text', text: 'Tool "busy" is at its concurrency limit (2 calls); try again later' }],
      isError: true,
    });
    expect(Date.now() - started).toBeLessThan(250);
    expect((await Promise.all(running)).every((r) => r.isError === undefined)).toBe(true);
  });

  it('drops an aborted waiter from the queue and frees every permit after timeouts and aborts', async () => {
    const tool = target({ id: 'mixed-tool', url: `${base}/hang/mixed`, timeoutMs: 200 });
    const running = [0, 1].map(() => executor.execute(tool, {}));
    const reason = new Error('stop waiting');
    const controller = new AbortController();
    const waiting = executor.execute(target({ id: 'mixed-tool', url: `${base}/echo`, timeoutMs: 5000 }), {}, { signal: controller.signal });
    setTimeout(() => controller.abort(reason), 30);
    await expect(waiting).rejects.toBe(reason);
    const timedOut = await Promise.all(running);
    expect(timedOut.every((r) => r.isError === true && /timed out after 200 ms/.test(textOf(r)))).toBe(true);
    // Both permits came back: two new calls run at once.
    const after = await Promise.all([0, 1].map(() => executor.execute(target({ id: 'mixed-tool', url: `${base}/echo` }), {})));
    expect(after.every((r) => r.isError === undefined)).toBe(true);
    expect(executor.activeToolCount()).toBe(0);
  });
});
