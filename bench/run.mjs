#!/usr/bin/env node
/**
 * npm run bench: the measured suite. Everything runs on this machine, on 127.0.0.1, bounded in
 * time: a bare Fastify baseline, then the gateway (built dist/, embedded default, auth on,
 * 20 REST tools) over /rpc and /mcp (with a session), tools/call against a local REST
 * endpoint, and tools/call relayed to a federated upstream MCP server against the same call made
 * straight to that upstream (bench/federation.mjs).
 *   BENCH_DURATION=10 BENCH_CONNECTIONS=200 npm run bench
 * Prints each figure and target, writes bench/results/latest.json, exits 1 if a target is missed
 * (2 if a scenario could not run, e.g. the federated call did not answer as expected).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import jwt from 'jsonwebtoken';
import { benchFederation } from './federation.mjs';
import { benchObservability } from './observability.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 200);
const TOOLS = 20;
const SECRET = 'bench-secret';
const TOKEN = jwt.sign({ sub: 'bench@example.com' }, SECRET, { algorithm: 'HS256', expiresIn: 3600 });
const AUTH = `Bearer ${TOKEN}`;

const children = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));
// Interrupted: stop every child (gateway, upstream, baseline, load clients) before going.
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]]) process.once(signal, () => process.exit(code));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.once('error', reject);
  });
}

// With taskset, servers get core 0 and the load generator core 1, so they never fight for one
// core and runs compare fairly (this machine has 2 cores).
const TASKSET = ['/usr/bin/taskset', '/bin/taskset'].find((p) => existsSync(p));
const pinned = (core, argv) => (TASKSET ? [TASKSET, ['-c', String(core), ...argv]] : [argv[0], argv.slice(1)]);

function start(args, env, core = 0) {
  const [cmd, argv] = pinned(core, [process.execPath, ...args]);
  const child = spawn(cmd, argv, { cwd: ROOT, env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  children.push(child);
  child.output = () => out;
  return child;
}

async function waitFor(url, child, headers = {}) {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`process exited: ${child.output()}`);
    try {
      const res = await fetch(url, { headers });
      if (res.ok) return;
    } catch {}
    await sleep(100);
  }
  throw new Error(`${url} never became ready: ${child.output()}`);
}

function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
}

/** One autocannon run in its own process (pinned to core 1); returns its JSON report. */
function autocannon({ url, method = 'POST', headers = {}, body }) {
  const args = [join(ROOT, 'node_modules/autocannon/autocannon.js'), '-c', String(CONNECTIONS), '-d', String(DURATION), '-m', method, '-j', '-I'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}=${v}`);
  if (body) args.push('-b', body);
  args.push(url);
  const [cmd, argv] = pinned(1, [process.execPath, ...args]);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`autocannon exited ${code}`))));
  });
}

/** One bench/load-client.mjs run (checked answers, or serial timing) pinned to `core`; returns its JSON report. */
function client(opts, core) {
  const [cmd, argv] = pinned(core, [process.execPath, join(ROOT, 'bench/load-client.mjs'), JSON.stringify(opts)]);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load client exited ${code}: ${err}`))));
  });
}

/**
 * One load run. With `expect`, every answer's body must contain it (bench/load-client.mjs;
 * mismatches count as errors), at `connections`/`duration`/`core` if given.
 */
async function load(name, opts) {
  const result = opts.expect
    ? await client({ mode: 'autocannon', connections: CONNECTIONS, duration: DURATION, ...opts, core: undefined }, opts.core ?? 1)
    : await autocannon(opts);
  const errors = result.errors + result.timeouts + result.non2xx + (result.mismatches ?? 0);
  const row = { name, rps: Math.round(result.requests.average), p50: result.latency.p50, p99: result.latency.p99, mean: result.latency.mean, errors, requests: result.requests.total };
  console.log(`${name.padEnd(38)} ${String(row.rps).padStart(7)} req/s  p50 ${String(row.p50).padStart(4)} ms  p99 ${String(row.p99).padStart(4)} ms  errors ${errors}`);
  return row;
}

/** Of several runs, the one with the median throughput (the machine is shared and noisy). */
const median = (rows) => [...rows].sort((a, b) => a.rps - b.rps)[Math.floor(rows.length / 2)];
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
// The federation scenario: moderate concurrency; the load client's core (the upstream has core 1).
const FED_CONNECTIONS = Number(process.env.BENCH_FED_CONNECTIONS ?? 10);
const FED_LOAD_CORE = Number(process.env.BENCH_FED_LOAD_CORE ?? 1);

const pct = (v) => (v === null || v === undefined ? 'n/a' : `${Math.round(100 * v)}%`);
const rpcBody = (method, params = {}) => JSON.stringify({ jsonrpc: '2.0', id: '[<id>]', method, params });

async function main() {
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'mcpgw-bench-'));
  const [gwPort, basePort, restPort] = await Promise.all([freePort(), freePort(), freePort()]);

  // A local REST endpoint for tools/call: answers JSON at once.
  const rest = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true,"temperature":21}');
    });
  });
  await new Promise((r) => rest.listen(restPort, '127.0.0.1', r));

  const seedTools = async (gwPort) => {
    for (let i = 0; i < TOOLS; i++) {
      const res = await fetch(`http://127.0.0.1:${gwPort}/tools`, {
        method: 'POST',
        headers: { authorization: AUTH, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: `tool_${String(i).padStart(2, '0')}`,
          url: `http://127.0.0.1:${restPort}/weather`,
          description: `Benchmark tool number ${i}: returns the weather for a city`,
          request_type: 'POST',
          input_schema: { type: 'object', properties: { city: { type: 'string' }, units: { type: 'string', enum: ['metric', 'imperial'] } }, required: ['city'] },
        }),
      });
      if (res.status !== 201) throw new Error(`creating a tool failed: ${res.status} ${await res.text()}`);
    }
    await sleep(300); // the snapshot reload after the last create
  };

  // A gateway with the production node flags (package.json start, ecosystem.config.js), its own
  // SQLite file, and the bench's TOOLS REST tools.
  const nodeArgs = (process.env.GW_NODE_ARGS ?? '--max-semi-space-size=8').split(' ').filter(Boolean);
  let gateways = 0;
  const startSeededGateway = async (env = {}, main = 'dist/main.js', port = undefined) => {
    const gwPort = port ?? (await freePort());
    const child = start([...nodeArgs, main], {
      PORT: String(gwPort),
      DATABASE_URL: `sqlite:///${join(dir, `bench-${gateways++}.db`)}`,
      JWT_SECRET_KEY: SECRET,
      LOG_LEVEL: 'warn',
      TOOL_CONCURRENT_LIMIT: '1000',
      ...env,
    });
    await waitFor(`http://127.0.0.1:${gwPort}/ready`, child);
    await seedTools(gwPort);
    return { url: `http://127.0.0.1:${gwPort}`, child };
  };
  const gateway = (await startSeededGateway({}, 'dist/main.js', gwPort)).child;

  // The baseline: bare Fastify answering the same tools/list result the gateway serves.
  const listPayload = await (
    await fetch(`http://127.0.0.1:${gwPort}/rpc`, { method: 'POST', headers: { authorization: AUTH, 'content-type': 'application/json' }, body: rpcBody('tools/list').replace('"[<id>]"', '1') })
  ).json();
  const baseline = start(['bench/baseline-server.mjs'], { PORT: String(basePort), PAYLOAD: JSON.stringify(listPayload.result) });
  await waitFor(`http://127.0.0.1:${basePort}/health`, baseline);

  const headers = { authorization: AUTH, 'content-type': 'application/json' };
  const rows = {};
  console.log(`\n${CONNECTIONS} connections, ${DURATION} s per run, ${TOOLS} tools, auth on, ${TASKSET ? 'servers on core 0, load on core 1' : 'unpinned (no taskset)'}\n`);
  // A 2025-era Streamable HTTP session for the /mcp runs.
  const init = await fetch(`http://127.0.0.1:${gwPort}/mcp`, {
    method: 'POST',
    headers: { ...headers, accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } }),
  });
  const sessionId = init.headers.get('mcp-session-id');
  if (!sessionId) throw new Error(`initialize gave no session: ${init.status} ${await init.text()}`);
  const mcpHeaders = { ...headers, accept: 'application/json, text/event-stream', 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' };

  // Baseline and gateway alternate, ROUNDS times each; the medians are compared.
  const baseRuns = [];
  const listRuns = [];
  const mcpRuns = [];
  for (let round = 1; round <= ROUNDS; round++) {
    baseRuns.push(await load(`baseline tools/list (round ${round})`, { url: `http://127.0.0.1:${basePort}/rpc`, headers, body: rpcBody('tools/list') }));
    listRuns.push(await load(`gateway /rpc tools/list (round ${round})`, { url: `http://127.0.0.1:${gwPort}/rpc`, headers, body: rpcBody('tools/list') }));
    mcpRuns.push(await load(`gateway /mcp tools/list (round ${round})`, { url: `http://127.0.0.1:${gwPort}/mcp`, headers: mcpHeaders, body: rpcBody('tools/list') }));
  }
  rows.baseline = median(baseRuns);
  rows.rpcList = median(listRuns);
  rows.mcpList = median(mcpRuns);
  baseline.kill('SIGTERM');
  console.log(`gateway RSS after tools/list: ${rssMb(gateway.pid).toFixed(0)} MB`);
  rows.rpcCall = await load('gateway /rpc tools/call (REST)', {
    url: `http://127.0.0.1:${gwPort}/rpc`, headers, body: rpcBody('tools/call', { name: 'tool_07', arguments: { city: 'Berlin', units: 'metric' } }),
  });
  const rssAtEnd = rssMb(gateway.pid);
  // V8 hands memory back once the worker idles; the target is on the settled figure, and both are reported.
  await sleep(5000);
  const rss = rssMb(gateway.pid);
  console.log(`gateway RSS right after the last run: ${rssAtEnd.toFixed(0)} MB, after 5 s idle: ${rss.toFixed(0)} MB`);

  // Federation (after the RSS figures, so they stay comparable with earlier runs): the upstream
  // gets core 1 to itself apart from the load client; the gateway stays on core 0.
  let federation;
  try {
    federation = await benchFederation({
      gatewayUrl: `http://127.0.0.1:${gwPort}`,
      headers,
      start,
      load,
      client,
      gateway,
      rounds: ROUNDS,
      duration: Number(process.env.BENCH_FED_DURATION ?? DURATION),
      connections: FED_CONNECTIONS,
      cores: TASKSET ? { gateway: 0, upstream: 1, load: FED_LOAD_CORE } : { gateway: 'any', upstream: 'any', load: 'any' },
      serialRequests: Number(process.env.BENCH_FED_SERIAL ?? 2000),
    });
  } catch (error) {
    console.error(`\nFEDERATION SCENARIO FAILED: ${error.stack ?? error}\n`);
    federation = { error: String(error.message ?? error) };
  }
  // Observability: the same tools/call on fresh gateways with tracing off, on, and 10% sampled.
  let observability;
  try {
    observability = await benchObservability({
      startGateway: startSeededGateway,
      load,
      headers,
      body: rpcBody('tools/call', { name: 'tool_07', arguments: { city: 'Berlin', units: 'metric' } }),
      expect: 'temperature\\": 21',
      freePort,
    });
  } catch (error) {
    console.error(`\nOBSERVABILITY SCENARIO FAILED: ${error.stack ?? error}\n`);
    observability = { error: String(error.message ?? error) };
  }
  gateway.kill('SIGTERM');
  rest.close();

  const targets = [
    { name: '/rpc tools/list >= 70% of baseline', value: rows.rpcList.rps / rows.baseline.rps, ok: rows.rpcList.rps >= 0.7 * rows.baseline.rps, shown: `${((100 * rows.rpcList.rps) / rows.baseline.rps).toFixed(1)}%` },
    { name: '/rpc tools/list 0 errors', value: rows.rpcList.errors, ok: rows.rpcList.errors === 0, shown: String(rows.rpcList.errors) },
    { name: '/mcp (session) tools/list >= 60% of baseline', value: rows.mcpList.rps / rows.baseline.rps, ok: rows.mcpList.rps >= 0.6 * rows.baseline.rps && rows.mcpList.errors === 0, shown: `${((100 * rows.mcpList.rps) / rows.baseline.rps).toFixed(1)}%, ${rows.mcpList.errors} errors` },
    { name: `p99 < 100 ms at ${CONNECTIONS} connections (/mcp)`, value: rows.mcpList.p99, ok: rows.mcpList.p99 < 100, shown: `${rows.mcpList.p99} ms` },
    { name: `p99 < 100 ms at ${CONNECTIONS} connections (/rpc)`, value: rows.rpcList.p99, ok: rows.rpcList.p99 < 100, shown: `${rows.rpcList.p99} ms` },
    { name: 'worker RSS < 200 MB after the run (settled)', value: rss, ok: rss < 200, shown: `${rss.toFixed(0)} MB (${rssAtEnd.toFixed(0)} MB at the end of load)` },
    ...(federation.error
      ? [{ name: 'federated tools/call scenario ran', value: null, ok: false, shown: federation.error.split('\n')[0].slice(0, 200) }]
      : [
          {
            name: `federated tools/call added p50 <= 1 ms (${FED_CONNECTIONS} conn.)`,
            value: federation.addedP50Ms,
            ok: federation.addedP50Ms <= 1 && federation.gateway.errors === 0 && federation.direct.errors === 0,
            shown: `${federation.addedP50Ms} ms (${federation.gateway.p50} vs ${federation.direct.p50} ms direct; unloaded +${federation.unloaded.addedP50Ms.toFixed(3)} ms), ${federation.gateway.errors + federation.direct.errors} errors`,
          },
          {
            name: 'federated tools/call >= 80% of direct upstream',
            value: federation.rpsRatio,
            ok: federation.rpsRatio >= 0.8,
            shown: `${(100 * federation.rpsRatio).toFixed(1)}% (${federation.gateway.rps} vs ${federation.direct.rps} req/s)`,
          },
        ]),
    ...(observability.error
      ? [{ name: 'observability scenario ran', value: null, ok: false, shown: observability.error.split('\n')[0].slice(0, 200) }]
      : [
          ...[
            ['sampled', 'tracing on, defaults (10% sampled): tools/call >= 85% of off', observability.sampledRatio],
            ['on', 'tracing on, every request sampled: tools/call >= 85% of off', observability.onRatio],
          ].map(([side, name, ratio]) => ({
            name,
            value: ratio,
            ok: ratio !== null && ratio >= 0.85 && observability[side].errors === 0 && observability.off.errors === 0 && (side !== 'on' || observability.exportBatches > 0),
            shown: `${ratio === null ? 'no round with a busy core' : `${(100 * ratio).toFixed(1)}%`} (median of ${observability.rounds} simultaneous pairs on one core: ${observability.roundRatios[side].join(', ')}; core busy >= ${pct(observability.saturation[side])}${side === 'on' ? `; ${observability.exportBatches} OTLP batches exported` : ''})`,
          })),
          ...(observability.offVsBefore === null
            ? []
            : [{
                name: 'tracing off: tools/call within 5% of the pre-tracing build',
                value: observability.offVsBefore,
                ok: observability.offVsBefore >= 0.95,
                shown: `${(100 * observability.offVsBefore).toFixed(1)}% (median of ${observability.rounds} simultaneous pairs: before/off ${observability.roundRatios.before.join(', ')}; core busy >= ${pct(observability.saturation.before)})`,
              }]),
        ]),
  ];
  console.log('\ntargets');
  for (const t of targets) console.log(`  ${t.ok ? 'PASS' : 'FAIL'}  ${t.name.padEnd(50)} ${t.shown}`);
  const report = { at: new Date().toISOString(), node: process.version, durationSeconds: DURATION, connections: CONNECTIONS, tools: TOOLS, rows, workerRssMb: rss, workerRssAtEndMb: rssAtEnd, federation, observability, targets };
  writeFileSync(join(ROOT, 'bench/results/latest.json'), JSON.stringify(report, null, 2) + '\n');
  console.log('\nwritten to bench/results/latest.json');
  process.exitCode = federation.error || observability.error ? 2 : targets.every((t) => t.ok) ? 0 : 1;
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 2;
}).finally(() => children.forEach((c) => c.kill('SIGTERM')));
