#!/usr/bin/env node
/**
 * Scale-out scenario: N gateway processes behind a real nginx, for N = 1..SCALE_MAX.
 *
 * - Each gateway is the built `dist/main.js`, one worker (WORKERS=1) on its own loopback port.
 *   All of them share one fresh PostgreSQL database (created here, dropped at the end) and one
 *   Redis (CACHE_TYPE=redis, a CACHE_PREFIX of this run, whose keys are deleted at the end).
 * - REST tools are created through the admin API of the first gateway (bench/kit/seed-tools.mjs);
 *   they call a REST endpoint served by this script. Every gateway must list them (catalog
 *   changes reach the others over Redis) before any load.
 * - For each N, nginx round-robins over the first N gateways. Requests through nginx must reach
 *   every one of them, then autocannon (bench/load-client.mjs, every answer body checked) loads
 *   nginx for SCALE_DURATION seconds after SCALE_WARMUP seconds of warm-up. Prints req/s, p50,
 *   p99, errors, each gateway's share of the requests, and the factor over N=1; writes JSON.
 * - Bounded in time (a watchdog), and every child, nginx, the database and the Redis keys are
 *   removed on exit, on error and on SIGINT/SIGTERM.
 *
 *   npm run build && node bench/kit/scale-out.mjs            # N = 1, 2; 10 s per step
 *   SCALE_MAX=4 SCALE_DURATION=30 node bench/kit/scale-out.mjs
 *   node bench/kit/scale-out.mjs --check                      # topology only: start, route, tear down
 *
 * Environment: SCALE_MAX (2), SCALE_DURATION (10 s), SCALE_WARMUP (2 s), SCALE_CONNECTIONS
 * (100), SCALE_TOOLS (20), SCALE_SCENARIOS (tools-list; also tools-call, comma-separated),
 * SCALE_PG_ADMIN_URL (postgresql://postgres@127.0.0.1:5432/postgres), SCALE_REDIS_URL
 * (redis://127.0.0.1:6379/0), SCALE_SERVER_CPUS / SCALE_LOAD_CPUS (taskset CPU lists for the
 * gateways and nginx / for the load generator; unset: not pinned), SCALE_NGINX_WORKERS (1),
 * SCALE_OUT (bench/results/scale-out.json).
 * Exit status: 0 fine, 1 a step had errors, 2 the scenario could not run.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import jwt from 'jsonwebtoken';
import pg from 'pg';
import { nginxConf } from './nginx-conf.mjs';
import { ECHO_TOOL, seedTools } from './seed-tools.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const env = process.env;
const CHECK_ONLY = process.argv.includes('--check');
const MAX = Number(env.SCALE_MAX ?? 2);
const DURATION = Number(env.SCALE_DURATION ?? 10);
const WARMUP = Number(env.SCALE_WARMUP ?? 2);
const CONNECTIONS = Number(env.SCALE_CONNECTIONS ?? 100);
const TOOLS = Number(env.SCALE_TOOLS ?? 20);
const SCENARIOS = (env.SCALE_SCENARIOS ?? 'tools-list').split(',').map((s) => s.trim()).filter(Boolean);
const PG_ADMIN_URL = env.SCALE_PG_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = env.SCALE_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const SERVER_CPUS = env.SCALE_SERVER_CPUS || null;
const LOAD_CPUS = env.SCALE_LOAD_CPUS || null;
const NGINX_WORKERS = Number(env.SCALE_NGINX_WORKERS ?? 1);
const OUT = resolve(ROOT, env.SCALE_OUT ?? 'bench/results/scale-out.json');
const NGINX_BIN = ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx'].find((p) => existsSync(p));
const TASKSET = ['/usr/bin/taskset', '/bin/taskset'].find((p) => existsSync(p));

const SECRET = randomBytes(16).toString('hex');
const AUTH = `Bearer ${jwt.sign({ sub: 'scale-out@example.com' }, SECRET, { algorithm: 'HS256', expiresIn: 3600 })}`;
const JSON_HEADERS = { authorization: AUTH, 'content-type': 'application/json' };
const PREFIX = `scale${randomBytes(4).toString('hex')}:`;
const RPC_COUNTER = 'http_requests_total{method="POST",route="/rpc",status="200"}';

const SCENARIO_BODIES = {
  'tools-list': { body: { jsonrpc: '2.0', id: '[<id>]', method: 'tools/list', params: {} }, expect: `"name":"${ECHO_TOOL}"` },
  'tools-call': { body: { jsonrpc: '2.0', id: '[<id>]', method: 'tools/call', params: { name: ECHO_TOOL, arguments: { city: 'Berlin', units: 'metric' } } }, expect: 'temperature' },
};

// --- processes, and tearing everything down ---
const children = new Set();
const cleanups = [];
let cleaning = null;

/** Runs every registered cleanup once (last registered first): gateways, nginx, database, Redis keys. */
function cleanup() {
  cleaning ??= (async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (error) {
        console.error(`cleanup: ${error.message ?? error}`);
      }
    }
  })();
  return cleaning;
}
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));
for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
  process.once(sig, () => {
    console.error(`\n${sig}: cleaning up`);
    const force = setTimeout(() => process.exit(code), 20_000);
    cleanup().finally(() => {
      clearTimeout(force);
      process.exit(code);
    });
  });
}

function pinned(cpus, argv) {
  return cpus && TASKSET ? [TASKSET, ['-c', cpus, ...argv]] : [argv[0], argv.slice(1)];
}

/** A child process whose output is kept (the last 64 KB) for error messages; killed on exit. */
function start(cpus, argv, options = {}) {
  const [cmd, args] = pinned(cpus, argv);
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let out = '';
  const keep = (d) => {
    out = (out + d).slice(-65536);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.output = () => out;
  child.exited = new Promise((r) => child.once('exit', r));
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

async function stop(child, graceMs = 10_000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
    server.once('error', reject);
  });
}

async function waitUntil(what, check, ms, child) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`${what}: the process exited (${child.exitCode}):\n${child.output()}`);
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms / 1000} s${child ? `:\n${child.output()}` : ''}`);
    await sleep(100);
  }
}

// --- PostgreSQL and Redis ---
async function createDatabase() {
  const name = `mcpgw_scale_${randomBytes(5).toString('hex')}`;
  const admin = async (fn) => {
    const client = new pg.Client({ connectionString: PG_ADMIN_URL });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  cleanups.push(() =>
    admin(async (c) => {
      await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
      await c.query(`DROP DATABASE IF EXISTS ${name}`);
    }),
  );
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

async function deleteRedisKeys() {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 500);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

// --- the topology ---
async function startGateway(databaseUrl) {
  const port = await freePort();
  const child = start(SERVER_CPUS, [process.execPath, '--max-semi-space-size=8', join(ROOT, 'dist/main.js')], {
    env: {
      PATH: env.PATH ?? '',
      HOME: env.HOME ?? tmpdir(),
      HOST: '127.0.0.1',
      PORT: String(port),
      WORKERS: '1',
      DATABASE_URL: databaseUrl,
      CACHE_TYPE: 'redis',
      REDIS_URL,
      CACHE_PREFIX: PREFIX,
      JWT_SECRET_KEY: SECRET,
      LOG_LEVEL: 'warn',
      TOOL_CONCURRENT_LIMIT: '1000',
    },
  });
  cleanups.push(() => stop(child));
  const url = `http://127.0.0.1:${port}`;
  return { port, url, child, ready: () => waitUntil(`gateway on port ${port} ready`, async () => (await fetch(`${url}/ready`)).status === 200, 60_000, child) };
}

async function startNginx(ports) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'scale-nginx-'));
  mkdirSync(join(dir, 'logs'));
  // The load's connections need a bigger keep-alive pool and higher limits than the tests'.
  writeFileSync(
    join(dir, 'nginx.conf'),
    nginxConf({ dir, port, upstreams: ports, workers: NGINX_WORKERS, workerConnections: 8192, keepalive: 512, underLoad: true }),
  );
  const child = start(SERVER_CPUS, [NGINX_BIN, '-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;']);
  const url = `http://127.0.0.1:${port}`;
  const stopNginx = async () => {
    await stop(child, 5000);
    rmSync(dir, { recursive: true, force: true });
  };
  cleanups.push(stopNginx);
  await waitUntil(`nginx on port ${port}`, async () => (await fetch(`${url}/health`)).status === 200, 10_000, child);
  return { url, child, stop: stopNginx };
}

/** A local REST endpoint for the tools: answers JSON at once. */
async function startRestServer() {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true,"temperature":21}');
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(() => r())));
  return `http://127.0.0.1:${server.address().port}/weather`;
}

async function rpc(baseUrl, method, params = {}) {
  const res = await fetch(`${baseUrl}/rpc`, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  return { status: res.status, body: await res.json() };
}

/** Per gateway: its pid and how many `POST /rpc` it answered 200, from its own /metrics. */
async function rpcCounts(gateways) {
  return Promise.all(
    gateways.map(async (g) => {
      const text = await (await fetch(`${g.url}/metrics`, { headers: { authorization: AUTH } })).text();
      const line = text.split('\n').find((l) => l.startsWith(`${RPC_COUNTER} `));
      return line ? Number(line.slice(RPC_COUNTER.length + 1)) : 0;
    }),
  );
}

/** One autocannon run through bench/load-client.mjs (every body checked), pinned to SCALE_LOAD_CPUS. */
function loadRun(url, scenario, seconds) {
  const { body, expect } = SCENARIO_BODIES[scenario];
  const opts = { mode: 'autocannon', url: `${url}/rpc`, headers: JSON_HEADERS, body: JSON.stringify(body), connections: CONNECTIONS, duration: seconds, expect };
  const child = start(LOAD_CPUS, [process.execPath, join(ROOT, 'bench/load-client.mjs'), JSON.stringify(opts)]);
  return child.exited.then((code) => {
    if (code !== 0) throw new Error(`load client exited ${code}: ${child.output()}`);
    return JSON.parse(child.output());
  });
}

function assertAlive(gateways) {
  for (const g of gateways) {
    if (g.child.exitCode !== null || g.child.signalCode !== null) {
      throw new Error(`the gateway on port ${g.port} exited (${g.child.exitCode ?? g.child.signalCode}):\n${g.child.output()}`);
    }
  }
}

/** Requests through nginx must reach each of `gateways` (round-robin): 2 tools/list per gateway. */
async function checkRouting(lbUrl, gateways) {
  const before = await rpcCounts(gateways);
  for (let i = 0; i < 2 * gateways.length; i++) {
    const { status, body } = await rpc(lbUrl, 'tools/list');
    const names = (body.result?.tools ?? []).map((t) => t.name);
    if (status !== 200 || !names.includes(ECHO_TOOL)) throw new Error(`tools/list through nginx: ${status} ${JSON.stringify(body).slice(0, 300)}`);
  }
  const after = await rpcCounts(gateways);
  const served = after.map((n, i) => n - before[i]);
  const missed = gateways.filter((_, i) => served[i] < 1);
  if (missed.length) throw new Error(`nginx never reached the gateway(s) on port(s) ${missed.map((g) => g.port).join(', ')} (served: ${served.join(', ')})`);
  return served;
}

const fmt = (v, width) => String(v).padStart(width);

async function main() {
  if (!existsSync(join(ROOT, 'dist/main.js'))) throw new Error('dist/main.js is missing: run `npm run build` first');
  if (!NGINX_BIN) throw new Error('nginx is not installed (apt-get install nginx-light)');
  for (const s of SCENARIOS) if (!SCENARIO_BODIES[s]) throw new Error(`unknown scenario "${s}" in SCALE_SCENARIOS (tools-list, tools-call)`);
  if (!(MAX >= 1)) throw new Error(`SCALE_MAX must be >= 1, got ${env.SCALE_MAX}`);
  const cores = availableParallelism();
  // Watchdog: startup, plus each step's warm-up, load and checks, with room to spare.
  const budgetS = 120 + (CHECK_ONLY ? 0 : MAX * SCENARIOS.length * (DURATION + WARMUP + 20));
  const watchdog = setTimeout(() => {
    console.error(`\nscale-out: still running after ${budgetS} s; giving up`);
    cleanup().finally(() => process.exit(2));
  }, budgetS * 1000);
  watchdog.unref();

  cleanups.push(() => deleteRedisKeys());
  const db = await createDatabase();
  const restUrl = await startRestServer();
  console.log(`database ${db.name}, Redis ${REDIS_URL} (prefix ${PREFIX}), nginx ${NGINX_BIN}`);

  // The first gateway migrates the fresh database; the others start once it is ready.
  const gateways = [await startGateway(db.url)];
  await gateways[0].ready();
  for (let i = 1; i < MAX; i++) gateways.push(await startGateway(db.url));
  await Promise.all(gateways.map((g) => g.ready()));
  console.log(`${MAX} gateway(s) ready on ports ${gateways.map((g) => g.port).join(', ')}`);

  await seedTools({ baseUrl: gateways[0].url, auth: AUTH, restUrl, count: TOOLS });
  // Every gateway must list every tool: the change travels over Redis to the others.
  for (const g of gateways) {
    await waitUntil(`the gateway on port ${g.port} listing ${TOOLS + 1} tools`, async () => (await rpc(g.url, 'tools/list')).body.result?.tools?.length === TOOLS + 1, 10_000, g.child);
  }

  const pinning = SERVER_CPUS || LOAD_CPUS ? `gateways and nginx on CPUs ${SERVER_CPUS ?? 'any'}, load on CPUs ${LOAD_CPUS ?? 'any'}${TASKSET ? '' : ' (taskset missing: NOT pinned)'}` : 'not pinned';
  const report = {
    at: new Date().toISOString(),
    mode: CHECK_ONLY ? 'check' : 'load',
    node: process.version,
    cores,
    pinning,
    database: db.name,
    cachePrefix: PREFIX,
    config: { max: MAX, durationSeconds: DURATION, warmupSeconds: WARMUP, connections: CONNECTIONS, tools: TOOLS + 1, scenarios: SCENARIOS, nginxWorkers: NGINX_WORKERS },
    steps: [],
  };

  if (CHECK_ONLY) {
    const lb = await startNginx(gateways.map((g) => g.port));
    const served = await checkRouting(lb.url, gateways);
    await lb.stop();
    report.gateways = gateways.map((g, i) => ({ port: g.port, pid: g.child.pid, servedThroughNginx: served[i] }));
    console.log(`check: nginx reached all ${MAX} gateway(s) (tools/list answered by each: ${served.join(', ')})`);
  } else {
    console.log(`\n${CONNECTIONS} connections, ${DURATION} s per step (after ${WARMUP} s warm-up), ${TOOLS + 1} tools, auth on, ${cores} cores, ${pinning}`);
    if (MAX + 1 > cores) {
      console.log(`note: ${MAX} gateways + nginx + the load generator (+ PostgreSQL and Redis) share ${cores} cores here; the factor shows contention, not the gateway's ceiling`);
    }
    console.log(`\n${'scenario'.padEnd(11)} ${'N'.padStart(2)} ${'req/s'.padStart(8)} ${'p50'.padStart(5)} ${'p99'.padStart(5)} ${'errors'.padStart(7)}  factor  share per gateway`);
    for (const scenario of SCENARIOS) {
      let single = null;
      for (let n = 1; n <= MAX; n++) {
        const members = gateways.slice(0, n);
        const lb = await startNginx(members.map((g) => g.port));
        await checkRouting(lb.url, members);
        if (WARMUP > 0) await loadRun(lb.url, scenario, WARMUP);
        const before = await rpcCounts(members);
        const result = await loadRun(lb.url, scenario, DURATION);
        const after = await rpcCounts(members);
        await lb.stop();
        assertAlive(gateways);
        const served = after.map((v, i) => v - before[i]);
        const total = served.reduce((a, b) => a + b, 0) || 1;
        const errors = result.errors + result.timeouts + result.non2xx + (result.mismatches ?? 0);
        const rps = Math.round(result.requests.average);
        single ??= rps;
        const step = {
          scenario,
          n,
          rps,
          p50: result.latency.p50,
          p99: result.latency.p99,
          errors,
          requests: result.requests.total,
          factor: Math.round((100 * rps) / single) / 100,
          share: members.map((g, i) => ({ port: g.port, pid: g.child.pid, requests: served[i], percent: Math.round((1000 * served[i]) / total) / 10 })),
        };
        report.steps.push(step);
        console.log(
          `${scenario.padEnd(11)} ${fmt(n, 2)} ${fmt(rps, 8)} ${fmt(step.p50, 5)} ${fmt(step.p99, 5)} ${fmt(errors, 7)}  ${step.factor.toFixed(2).padStart(6)}  ${step.share.map((s) => `${s.percent}%`).join(' / ')}`,
        );
      }
    }
  }

  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(report, null, 2) + '\n');
  console.log(`\nwritten to ${OUT}`);
  clearTimeout(watchdog);
  return report.steps.some((s) => s.errors > 0) ? 1 : 0;
}

let code = 2;
try {
  code = await main();
} catch (error) {
  console.error(`\nscale-out failed: ${error.stack ?? error}`);
} finally {
  await cleanup();
}
process.exitCode = code;
