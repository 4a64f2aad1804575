/**
 * The observability scenario of `npm run bench`: what tracing costs. `tools/call` of a REST
 * tool over /rpc (the request with the most spans: HTTP server, JSON-RPC and tool, HTTP client)
 * against a gateway with OTEL_ENABLE_OBSERVABILITY off, and against a second gateway, same build
 * and data, with it on for every request (parentbased_always_on), exporting over OTLP http/protobuf to a sink here
 * (a real HTTP endpoint that reads and discards the batches), and a third with tracing on at its
 * defaults: http/protobuf, 10% of the traces sampled (parentbased_traceidratio 0.1).
 *
 * With BENCH_OBS_BASELINE_DIST=/path/to/dist (a build from before the instrumentation, e.g. a
 * worktree of an older commit), a third gateway runs that build with the same data: "off"
 * against it is the cost of the instrumentation when it is off.
 *
 * Every side is a fresh process with the same history (seeded, then only this scenario's load):
 * the bench's own gateway has run the federation scenario, and on Node 20 its first relayed call
 * turned on AsyncLocalStorage's promise hooks for good (upstream-relay.ts), which would handicap
 * "off".
 *
 * Only one gateway is under load at a time, on the same core; the runs alternate, `rounds`
 * times each in rotating order (BENCH_OBS_ROUNDS, default 7, of BENCH_OBS_DURATION s, default 5). Each ratio is the
 * median of the per-round ratios: every round compares runs made seconds apart, so a machine
 * whose speed drifts over minutes (a shared VM) does not decide the comparison.
 */
import http from 'node:http';
import { join } from 'node:path';

/**
 * @param {object} ctx
 * @param {(env: object, distMain?: string) => Promise<{url: string, child: any}>} ctx.startGateway starts a seeded gateway (see run.mjs)
 * @param {(name: string, opts: object) => Promise<object>} ctx.load one checked load run (see run.mjs)
 * @param {Record<string,string>} ctx.headers
 * @param {string} ctx.body the tools/call request
 * @param {string} ctx.expect what every answer must contain
 */
export async function benchObservability({ startGateway, load, headers, body, expect, freePort }) {
  const rounds = Number(process.env.BENCH_OBS_ROUNDS ?? 7);
  const duration = Number(process.env.BENCH_OBS_DURATION ?? 5);
  let batches = 0;
  const sink = http.createServer((req, res) => {
    let bytes = 0;
    req.on('data', (c) => (bytes += c.length));
    req.on('end', () => {
      if (req.url === '/v1/traces' && bytes > 0) batches++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  const sinkPort = await freePort();
  await new Promise((r) => sink.listen(sinkPort, '127.0.0.1', r));
  const started = [];
  try {
    const off = await startGateway({});
    started.push(off);
    const on = await startGateway({
      OTEL_ENABLE_OBSERVABILITY: 'true',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sinkPort}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_TRACES_SAMPLER: 'parentbased_always_on',
    });
    started.push(on);
    // Tracing on with its defaults: 10% of the traces kept (parentbased_traceidratio 0.1, as in the seed).
    const sampled = await startGateway({
      OTEL_ENABLE_OBSERVABILITY: 'true',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sinkPort}`,
    });
    started.push(sampled);
    const baselineDist = process.env.BENCH_OBS_BASELINE_DIST;
    const before = baselineDist ? await startGateway({}, join(baselineDist, 'main.js')) : null;
    if (before) started.push(before);

    const sides = [['off', off.url], ['on', on.url], ['sampled', sampled.url], ...(before ? [['before', before.url]] : [])];
    const runs = Object.fromEntries(sides.map(([name]) => [name, []]));
    for (const [name, url] of sides) await load(`warm-up tools/call (${name})`, { url: `${url}/rpc`, headers, body, expect, duration: 3 });
    for (let round = 1; round <= rounds; round++) {
      // Each round starts with the next side, so no side always runs first or last.
      const order = sides.map((_, i) => sides[(i + round - 1) % sides.length]);
      for (const [name, url] of order) runs[name].push(await load(`tools/call tracing ${name} (round ${round})`, { url: `${url}/rpc`, headers, body, expect, duration }));
    }
    const middle = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
    const median = (rows) => [...rows].sort((a, b) => a.rps - b.rps)[Math.floor(rows.length / 2)];
    /** The median over rounds of side a's req/s over side b's in the same round. */
    const ratio = (a, b) => middle(runs[a].map((row, i) => row.rps / runs[b][i].rps));
    const result = Object.fromEntries(sides.map(([name]) => [name, median(runs[name])]));
    return {
      ...result,
      rounds,
      onRatio: ratio('on', 'off'),
      sampledRatio: ratio('sampled', 'off'),
      offVsBefore: before ? ratio('off', 'before') : null,
      exportBatches: batches,
    };
  } finally {
    for (const g of started) g.child.kill('SIGTERM');
    sink.close();
  }
}
