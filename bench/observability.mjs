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
 * How it compares: "off" and one other side are loaded at the same time, both gateways on the
 * same core (the bench's core 0), each by its own load client, for BENCH_OBS_DURATION s (5); each
 * pair runs once per round, BENCH_OBS_ROUNDS rounds (5). The kernel shares the core between two
 * busy processes evenly, so the ratio of their req/s is the inverse ratio of their CPU cost per
 * request, and whatever the machine does meanwhile (a shared VM's neighbours, frequency changes)
 * hits both alike. Runs one after the other scattered by ±25% per round on a shared VM;
 * simultaneous pairs agree within a few percent. The ratio only means that if the core was
 * busy: the two gateways' CPU time over the run (from /proc) is reported as `saturation`, and a
 * round below 80% does not count. Each ratio is the median over the rounds.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';

/** CPU time (user + system) of a process so far, in seconds (Linux /proc; null elsewhere). */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return null;
  }
}

/**
 * @param {object} ctx
 * @param {(env: object, distMain?: string) => Promise<{url: string, child: any}>} ctx.startGateway starts a seeded gateway (see run.mjs)
 * @param {(name: string, opts: object) => Promise<object>} ctx.load one checked load run (see run.mjs)
 * @param {Record<string,string>} ctx.headers
 * @param {string} ctx.body the tools/call request
 * @param {string} ctx.expect what every answer must contain
 */
export async function benchObservability({ startGateway, load, headers, body, expect, freePort }) {
  const rounds = Number(process.env.BENCH_OBS_ROUNDS ?? 5);
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

    const sides = [['off', off], ['on', on], ['sampled', sampled], ...(before ? [['before', before]] : [])];
    const others = sides.slice(1);
    const pairs = Object.fromEntries(others.map(([name]) => [name, []]));
    const run = (label, gateway, round) => load(`tools/call tracing ${label} (round ${round})`, { url: `${gateway.url}/rpc`, headers, body, expect, duration });
    for (const [name, gateway] of sides) await load(`warm-up tools/call (${name})`, { url: `${gateway.url}/rpc`, headers, body, expect, duration: 3 });
    for (let round = 0; round <= rounds; round++) {
      // Round 0 warms the pairs up (two processes on one core) and is not counted. Each round
      // starts with the next pair, so no pair always runs first.
      const order = others.map((_, i) => others[(i + round) % others.length]);
      for (const [name, gateway] of order) {
        const cpu0 = [cpuSeconds(off.child.pid), cpuSeconds(gateway.child.pid)];
        const t0 = performance.now();
        const [a, b] = await Promise.all([run(`off, beside ${name}`, off, round), run(name, gateway, round)]);
        const seconds = (performance.now() - t0) / 1000;
        const cpu1 = [cpuSeconds(off.child.pid), cpuSeconds(gateway.child.pid)];
        const saturation = cpu0.includes(null) || cpu1.includes(null) ? null : (cpu1[0] - cpu0[0] + cpu1[1] - cpu0[1]) / seconds;
        if (round > 0) pairs[name].push({ off: a, side: b, ratio: b.rps / a.rps, saturation });
      }
    }
    const middle = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
    const median = (rows) => [...rows].sort((a, b) => a.rps - b.rps)[Math.floor(rows.length / 2)];
    /** The median of the side's per-round ratios to off, over the rounds whose core was busy. */
    const ratio = (name) => {
      const counted = pairs[name].filter((p) => p.saturation === null || p.saturation >= 0.8);
      return counted.length > 0 ? middle(counted.map((p) => p.ratio)) : null;
    };
    const saturation = (name) => {
      const values = pairs[name].map((p) => p.saturation).filter((v) => v !== null);
      return values.length > 0 ? Math.min(...values) : null;
    };
    const result = {
      off: median(Object.values(pairs).flatMap((rows) => rows.map((p) => p.off))),
      ...Object.fromEntries(others.map(([name]) => [name, median(pairs[name].map((p) => p.side))])),
    };
    const onRatio = ratio('on');
    const sampledRatio = ratio('sampled');
    const offVsBefore = before && ratio('before') !== null ? 1 / ratio('before') : null;
    return {
      ...result,
      rounds,
      onRatio,
      sampledRatio,
      offVsBefore,
      saturation: Object.fromEntries(others.map(([name]) => [name, saturation(name)])),
      roundRatios: Object.fromEntries(others.map(([name]) => [name, pairs[name].map((p) => Number(p.ratio.toFixed(3)))])),
      exportBatches: batches,
    };
  } finally {
    for (const g of started) g.child.kill('SIGTERM');
    sink.close();
  }
}
