#!/usr/bin/env node
/**
 * A load client the bench runs as its own (pinned) process, for runs whose answers must be
 * checked: a JSON-RPC error comes back as HTTP 200, which autocannon's CLI would count as a
 * success. Takes one JSON argument and prints one JSON report on stdout.
 *
 *   { mode: 'autocannon', url, headers, body, connections, duration, expect }
 *     autocannon through its API (idReplacement on, so "[<id>]" in the body becomes a unique id),
 *     with every response body checked to contain `expect`; mismatches are reported.
 *   { mode: 'serial', url, headers, body, requests, warmup, expect }
 *     one keep-alive connection, one request at a time, each timed with hrtime: the unloaded
 *     latency at sub-millisecond resolution (autocannon's percentiles are whole milliseconds).
 */
import http from 'node:http';
import autocannon from 'autocannon';

const opts = JSON.parse(process.argv[2]);

if (opts.mode === 'autocannon') {
  const result = await autocannon({
    url: opts.url,
    method: 'POST',
    headers: opts.headers,
    body: opts.body,
    connections: opts.connections,
    duration: opts.duration,
    idReplacement: true,
    verifyBody: (body) => typeof body === 'string' && body.includes(opts.expect),
  });
  process.stdout.write(JSON.stringify(result));
} else if (opts.mode === 'serial') {
  const url = new URL(opts.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const call = (id) =>
    new Promise((resolve, reject) => {
      const body = opts.body.replace('"[<id>]"', String(id));
      const req = http.request(
        { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers: { ...opts.headers, 'content-length': Buffer.byteLength(body) } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode, text }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const times = [];
  let errors = 0;
  for (let i = 0; i < opts.warmup + opts.requests; i++) {
    const t0 = process.hrtime.bigint();
    const { status, text } = await call(i + 1);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (status !== 200 || !text.includes(opts.expect)) errors++;
    if (i >= opts.warmup) times.push(ms);
  }
  agent.destroy();
  times.sort((a, b) => a - b);
  const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  const round = (v) => Math.round(v * 1000) / 1000;
  process.stdout.write(
    JSON.stringify({ requests: times.length, errors, p50: round(at(0.5)), p90: round(at(0.9)), p99: round(at(0.99)), mean: round(times.reduce((a, b) => a + b, 0) / times.length) }),
  );
} else {
  throw new Error(`unknown mode ${opts.mode}`);
}
