import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT, freePort } from './gateway-process.js';

export interface Pm2Cluster {
  url: string;
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

/**
 * Runs the gateway under PM2 cluster mode the way containers do (`pm2-runtime start
 * ecosystem.config.js`), with its own PM2_HOME, and waits until `expectWorkers` distinct workers
 * answer. `stop` sends SIGINT to the whole process group and waits for it to exit.
 */
export async function startPm2Cluster(env: Record<string, string>, expectWorkers: number, auth: string): Promise<Pm2Cluster> {
  const port = await freePort();
  let out = '';
  const child = spawn(join(ROOT, 'node_modules/.bin/pm2-runtime'), ['start', 'ecosystem.config.js'], {
    cwd: ROOT,
    detached: true,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PM2_HOME: mkdtempSync(join(tmpdir(), 'pm2-')), LOG_LEVEL: 'warn', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  const cluster: Pm2Cluster = {
    url,
    child,
    output: () => out,
    stop: async () => {
      try {
        process.kill(-(child.pid as number), 'SIGINT');
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-(child.pid as number), 'SIGKILL');
        } catch {
          // already gone
        }
      }, 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`pm2-runtime exited with ${child.exitCode}:\n${out}`);
    const pids = new Set<string>();
    for (let i = 0; i < expectWorkers * 4; i++) {
      const scrape = await scrapeWorker(url, auth).catch(() => null);
      if (scrape) pids.add(scrape.pid);
    }
    if (pids.size >= expectWorkers) return cluster;
    await sleep(250);
  }
  await cluster.stop();
  throw new Error(`the PM2 cluster did not bring up ${expectWorkers} ready workers within 60 s:\n${out}`);
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * One request on a new connection (no keep-alive), so the cluster's round-robin can hand each
 * request to a different worker.
 */
export function request(baseUrl: string, method: string, path: string, options: { body?: unknown; auth?: string } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = http.request(
      baseUrl + path,
      {
        method,
        agent: false,
        headers: {
          connection: 'close',
          ...(options.auth ? { authorization: options.auth } : {}),
          ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
        },
        timeout: 10_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(payload);
  });
}

export interface WorkerScrape {
  pid: string;
  /** The whole exposition text of that worker. */
  text: string;
}

/** Scrapes /metrics/worker once and says which worker answered (from gateway_worker_info). */
export async function scrapeWorker(baseUrl: string, auth: string): Promise<WorkerScrape | null> {
  const res = await request(baseUrl, 'GET', '/metrics/worker', { auth });
  if (res.status !== 200) return null;
  const pid = /^gateway_worker_info\{[^}]*pid="(\d+)"/m.exec(res.body)?.[1];
  return pid ? { pid, text: res.body } : null;
}

/** The value of one sample line, e.g. `http_requests_total{method="GET",route="/tools/:id",status="200"}`. */
export function sampleValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.slice(series.length + 1)) : 0;
}
