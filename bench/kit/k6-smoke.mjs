#!/usr/bin/env node
/**
 * Runs a k6 script in Node, without k6: its `setup()` once, then its default function
 * ITERATIONS times (default 1) as one virtual user, with a small stand-in for the parts of the
 * k6 API the kit uses (k6, k6/http, k6/crypto, k6/encoding). It checks that the script still
 * talks correctly to a running gateway, not how fast: k6 itself is for load.
 *
 *   BASE_URL=http://127.0.0.1:4444 node bench/kit/k6-smoke.mjs [bench/kit/k6-staged.js]
 *
 * Every variable is passed to the script as `__ENV`. Prints one JSON report (the script's
 * `options`, each check's passes and fails, every request made) and exits 1 if a check failed
 * or setup threw. k6's HTTP calls are synchronous; here each one runs on a worker thread
 * while the main thread waits (Atomics.wait).
 */
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';

const script = resolve(process.argv[2] ?? new URL('./k6-staged.js', import.meta.url).pathname);
const iterations = Number(process.env.ITERATIONS ?? 1);

// --- synchronous HTTP: fetch on a worker thread, the caller blocks until it answers ---
const FETCHER = `
const { workerData } = require('node:worker_threads');
const { port, signal } = workerData;
port.on('message', async ({ method, url, body, headers }) => {
  const started = performance.now();
  let reply;
  try {
    const res = await fetch(url, { method, headers, body: body ?? undefined });
    const text = await res.text();
    reply = { status: res.status, headers: Object.fromEntries(res.headers), body: text, duration: performance.now() - started };
  } catch (error) {
    reply = { status: 0, headers: {}, body: '', error: String(error.cause ?? error), duration: performance.now() - started };
  }
  port.postMessage(reply);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
});
`;
const signal = new Int32Array(new SharedArrayBuffer(4));
const { port1, port2 } = new MessageChannel();
const worker = new Worker(FETCHER, { eval: true, workerData: { port: port2, signal }, transferList: [port2] });
worker.unref();

const requests = [];
/** Go's canonical header form, as k6 gives `res.headers`: mcp-session-id -> Mcp-Session-Id. */
const canonical = (name) => name.replace(/(^|-)([a-z])/g, (_, dash, c) => dash + c.toUpperCase());

function httpRequest(method, url, body, params = {}) {
  Atomics.store(signal, 0, 0);
  port1.postMessage({ method, url, body: body ?? null, headers: params.headers ?? {} });
  // Bounded: a request that takes over 30 s counts as failed.
  if (Atomics.wait(signal, 0, 0, 30_000) === 'timed-out') throw new Error(`${method} ${url} timed out after 30 s`);
  const reply = receiveMessageOnPort(port1).message;
  const headers = Object.fromEntries(Object.entries(reply.headers).map(([k, v]) => [canonical(k), v]));
  requests.push({ method, url, status: reply.status, tags: params.tags ?? {}, ms: Math.round(reply.duration * 10) / 10, ...(reply.error ? { error: reply.error } : {}) });
  return {
    status: reply.status,
    body: reply.body,
    headers,
    error: reply.error ?? '',
    timings: { duration: reply.duration },
    json: () => JSON.parse(reply.body),
  };
}

// --- the k6 API subset ---
const checks = {};
const groupPath = [];
const k6 = {
  check(value, sets) {
    let all = true;
    for (const [name, fn] of Object.entries(sets)) {
      const ok = Boolean(typeof fn === 'function' ? fn(value) : fn);
      const key = [...groupPath, name].join(' :: ');
      checks[key] ??= { passes: 0, fails: 0 };
      checks[key][ok ? 'passes' : 'fails']++;
      all &&= ok;
    }
    return all;
  },
  group(name, fn) {
    groupPath.push(name);
    try {
      return fn();
    } finally {
      groupPath.pop();
    }
  },
  sleep(seconds) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.max(0, seconds * 1000));
  },
  fail(message) {
    throw new Error(message);
  },
};
const http = {
  get: (url, params) => httpRequest('GET', url, null, params),
  post: (url, body, params) => httpRequest('POST', url, body, params),
  put: (url, body, params) => httpRequest('PUT', url, body, params),
  patch: (url, body, params) => httpRequest('PATCH', url, body, params),
  del: (url, body, params) => httpRequest('DELETE', url, body, params),
  request: (method, url, body, params) => httpRequest(method, url, body, params),
};
const DIGESTS = { hex: 'hex', base64: 'base64', base64url: 'base64url', base64rawurl: 'base64url' };
const crypto = {
  hmac(algorithm, secret, data, encoding) {
    const digest = createHmac(algorithm, secret).update(data).digest(DIGESTS[encoding] ?? 'hex');
    return encoding === 'base64url' ? digest.padEnd(Math.ceil(digest.length / 4) * 4, '=') : digest;
  },
};
const encoding = {
  b64encode(input, kind = 'std') {
    const b64 = Buffer.from(input).toString(kind === 'url' || kind === 'rawurl' ? 'base64url' : 'base64');
    return kind === 'rawstd' ? b64.replace(/=+$/, '') : kind === 'url' ? b64.padEnd(Math.ceil(b64.length / 4) * 4, '=') : b64;
  },
  b64decode(input, kind = 'std', format) {
    const buf = Buffer.from(input, kind === 'url' || kind === 'rawurl' ? 'base64url' : 'base64');
    return format === 's' ? buf.toString('utf8') : buf;
  },
};
globalThis.__k6shim = { k6, http, crypto, encoding };
globalThis.__ENV = { ...process.env };
globalThis.__VU = 1;
globalThis.__ITER = 0;

// The script, with its k6 imports pointed at small modules re-exporting the stand-ins.
const dir = mkdtempSync(join(tmpdir(), 'k6-smoke-'));
const shims = {
  k6: 'const m = globalThis.__k6shim.k6; export const { check, group, sleep, fail } = m; export default m;',
  'k6/http': 'export default globalThis.__k6shim.http;',
  'k6/crypto': 'const m = globalThis.__k6shim.crypto; export const { hmac } = m; export default m;',
  'k6/encoding': 'const m = globalThis.__k6shim.encoding; export const { b64encode, b64decode } = m; export default m;',
};
let source = readFileSync(script, 'utf8');
for (const [name, text] of Object.entries(shims)) {
  const file = join(dir, `${name.replace('/', '-')}.mjs`);
  writeFileSync(file, text);
  source = source.replaceAll(`from '${name}'`, `from '${pathToFileURL(file).href}'`);
}
const unknown = [...source.matchAll(/from '(k6[^']*)'/g)].map((m) => m[1]);
if (unknown.length) throw new Error(`k6-smoke has no stand-in for ${unknown.join(', ')}`);
const copy = join(dir, 'script.mjs');
writeFileSync(copy, source);

let setupError = null;
let options;
try {
  const mod = await import(pathToFileURL(copy).href);
  options = mod.options;
  let data;
  try {
    data = mod.setup ? mod.setup() : undefined;
  } catch (error) {
    setupError = String(error.message ?? error);
  }
  if (!setupError) {
    for (let i = 0; i < iterations; i++) {
      globalThis.__ITER = i;
      mod.default(data);
    }
    if (mod.teardown) mod.teardown(data);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const failed = Object.values(checks).some((c) => c.fails > 0);
process.stdout.write(JSON.stringify({ script, options, setupError, checks, requests }, null, 2) + '\n');
process.exitCode = setupError || failed ? 1 : 0;
