import { spawn, type ChildProcess } from 'node:child_process';
import { request, type IncomingHttpHeaders } from 'node:http';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const ROOT = resolve(import.meta.dirname, '../..');

/** A free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolvePort(port));
    });
    server.once('error', reject);
  });
}

export interface GatewayProcess {
  url: string;
  port: number;
  child: ChildProcess;
  output: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

/**
 * Starts the built gateway (`dist/main.js`, what `npm start` runs) as a real process on a free
 * port, and waits until `/ready` answers 200. Env defaults: SQLite in a temp dir, memory cache.
 */
export async function startGateway(env: Record<string, string> = {}, options: { waitReady?: boolean } = {}): Promise<GatewayProcess> {
  const port = Number(env.PORT ?? (await freePort()));
  const dir = mkdtempSync(join(tmpdir(), 'mcpgw-'));
  let out = '';
  const child = spawn(process.execPath, [join(ROOT, 'dist/main.js')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: `sqlite:///${join(dir, 'mcp.db')}`,
      LOG_LEVEL: 'warn',
      ...env,
      PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const url = `http://127.0.0.1:${port}`;
  const gateway: GatewayProcess = {
    url,
    port,
    child,
    output: () => out,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  if (options.waitReady === false) return gateway;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}:\n${out}`);
    try {
      const res = await fetch(`${url}/ready`);
      if (res.status === 200) return gateway;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  await gateway.stop('SIGKILL');
  throw new Error(`gateway did not become ready within 30 s:\n${out}`);
}

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** One HTTP call with a JSON (or raw string) body; parses a JSON reply. */
export async function api<T = any>(
  baseUrl: string,
  method: string,
  path: string,
  options: { body?: unknown; raw?: string; auth?: string; headers?: Record<string, string> } = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.auth) headers.authorization = options.auth;
  let body: string | undefined;
  if (options.raw !== undefined) {
    body = options.raw;
    headers['content-type'] ??= 'application/json';
  } else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(baseUrl + path, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: parsed as T };
}

/**
 * POSTs a body that declares `declaredBytes` but sends only its first kilobyte, and reads the
 * reply. A server that refuses an oversized body answers 413 and closes the connection; a client
 * still uploading the whole body may hit EPIPE before it reads that answer (a race that made
 * fetch-based 413 tests flaky), so this one never sends it all.
 */
export function postOversized(url: string, headers: Record<string, string>, declaredBytes: number): Promise<{ status: number; headers: IncomingHttpHeaders; body: any }> {
  return new Promise((resolveReply, reject) => {
    const req = request(url, {
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/json', ...headers, 'content-length': String(declaredBytes) },
    });
    req.on('response', (r) => {
      let text = '';
      r.on('data', (c: Buffer) => (text += c.toString()));
      r.on('end', () => resolveReply({ status: r.statusCode ?? 0, headers: r.headers, body: text ? JSON.parse(text) : null }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? undefined : reject(e)));
    req.write(`{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"${'x'.repeat(1024)}`);
  });
}
