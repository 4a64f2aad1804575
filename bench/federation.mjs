/**
 * The federation scenario of `npm run bench`: `tools/call` relayed by the gateway to a federated
 * upstream MCP server (test/fixtures/upstream-server.ts, official SDK v2), against the same call
 * made straight to that upstream, in the same run, with the same pinning and load.
 *
 * - The upstream runs as a child process pinned to its own core; the gateway keeps the core the
 *   rest of the bench gives it. The load client runs on `loadCore` for both sides.
 * - The gateway relays over its pooled upstream session, which the SDK client negotiates to
 *   2026-07-28 with this fixture; the direct side therefore sends the 2026-07-28 stateless POST
 *   (Mcp-Method/Mcp-Name headers, protocol version and client info in `_meta`).
 * - One verified request per side first (the answer must carry `"text":"hi"`), then a short
 *   warm-up per side, then `rounds` alternating runs per side at `connections` connections, with
 *   every response body checked; the medians of each figure are compared. Last, an unloaded
 *   serial run per side (one connection, sub-millisecond timing).
 */
import { setTimeout as sleep } from 'node:timers/promises';

const PROTOCOL = '2026-07-28';
const EXPECT = '"text":"hi"';

const medianOf = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const round2 = (v) => Math.round(v * 100) / 100;

/**
 * @param {object} ctx
 * @param {string} ctx.gatewayUrl e.g. http://127.0.0.1:PORT
 * @param {Record<string,string>} ctx.headers gateway request headers (auth, content-type)
 * @param {(args: string[], env: object, core: number) => any} ctx.start starts a pinned child (see run.mjs)
 * @param {(name: string, opts: object) => Promise<object>} ctx.load one checked load run (see run.mjs)
 * @param {(args: object, core: number) => Promise<object>} ctx.client runs bench/load-client.mjs pinned
 * @param {any} ctx.gateway the gateway's child process (from start), checked to be alive after each run
 */
export async function benchFederation({ gatewayUrl, headers, start, load, client, gateway, rounds, duration, connections, cores, serialRequests }) {
  const upstream = start(['--import', './test/fixtures/ts-register.mjs', 'test/fixtures/upstream-main.ts', '--port', '0'], {}, cores.upstream);
  // A process that died mid-scenario makes every later run fail: stop at once and say which, with its output.
  const alive = () => {
    for (const [name, child] of [['gateway', gateway], ['upstream fixture', upstream]]) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`the ${name} exited (code ${child.exitCode}, signal ${child.signalCode}); its output ends with:\n${child.output().slice(-4000)}`);
      }
    }
  };
  try {
    let upstreamUrl;
    for (let i = 0; i < 300 && !upstreamUrl; i++) {
      if (upstream.exitCode !== null) throw new Error(`the upstream fixture exited: ${upstream.output()}`);
      upstreamUrl = /UPSTREAM_URL=(\S+)/.exec(upstream.output())?.[1];
      if (!upstreamUrl) await sleep(100);
    }
    if (!upstreamUrl) throw new Error(`the upstream fixture never printed UPSTREAM_URL: ${upstream.output()}`);

    // Register it, then wait for the catalog snapshot to list its echo tool.
    const created = await fetch(`${gatewayUrl}/gateways`, { method: 'POST', headers, body: JSON.stringify({ name: 'bench', url: upstreamUrl }) });
    if (created.status !== 201) throw new Error(`POST /gateways failed: ${created.status} ${await created.text()}`);
    const toolName = 'bench-echo';
    const listBody = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
    let listed = false;
    for (let i = 0; i < 100 && !listed; i++) {
      const res = await fetch(`${gatewayUrl}/rpc`, { method: 'POST', headers, body: listBody });
      const names = ((await res.json()).result?.tools ?? []).map((t) => t.name);
      listed = names.includes(toolName);
      if (!listed) await sleep(100);
    }
    if (!listed) throw new Error(`the gateway never listed ${toolName} after POST /gateways`);

    const viaGateway = {
      url: `${gatewayUrl}/rpc`,
      headers,
      body: JSON.stringify({ jsonrpc: '2.0', id: '[<id>]', method: 'tools/call', params: { name: toolName, arguments: { text: 'hi' } } }),
    };
    const direct = {
      url: upstreamUrl,
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': PROTOCOL,
        'mcp-method': 'tools/call',
        'mcp-name': 'echo',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: '[<id>]',
        method: 'tools/call',
        params: {
          name: 'echo',
          arguments: { text: 'hi' },
          _meta: {
            'io.modelcontextprotocol/protocolVersion': PROTOCOL,
            'io.modelcontextprotocol/clientCapabilities': {},
            'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '1' },
          },
        },
      }),
    };

    // One checked request per side before any load.
    const answers = {};
    for (const [side, target] of [['direct', direct], ['gateway', viaGateway]]) {
      const res = await fetch(target.url, { method: 'POST', headers: target.headers, body: target.body.replace('"[<id>]"', '1') });
      const text = await res.text();
      const contentType = res.headers.get('content-type') ?? '';
      if (res.status !== 200 || !text.includes(EXPECT) || /"isError":\s*true/.test(text)) {
        throw new Error(`FEDERATION CHECK FAILED: ${side} tools/call answered ${res.status} (${contentType}): ${text.slice(0, 500)}`);
      }
      answers[side] = { contentType, bytes: Buffer.byteLength(text) };
      if (contentType.includes('text/event-stream')) console.log(`note: the ${side} side answers tools/call with SSE (${contentType}), not JSON; measured as is`);
    }

    const setup = `gateway on core ${cores.gateway}, upstream on core ${cores.upstream}, load on core ${cores.load}`;
    console.log(`\nfederation: tools/call echo, ${connections} connections, ${duration} s per run, ${rounds} rounds, protocol ${PROTOCOL}, ${setup}`);
    console.log(`  direct answers ${answers.direct.contentType} (${answers.direct.bytes} B), gateway answers ${answers.gateway.contentType} (${answers.gateway.bytes} B)\n`);

    const run = async (name, target, seconds = duration) => {
      const row = await load(name, { ...target, connections, duration: seconds, core: cores.load, expect: EXPECT });
      alive();
      return row;
    };
    // Warm both processes (JIT, the gateway's pooled upstream connections) off the record.
    await run('warm-up upstream direct', direct, 2);
    await run('warm-up via gateway', viaGateway, 2);

    const directRuns = [];
    const gatewayRuns = [];
    for (let r = 1; r <= rounds; r++) {
      directRuns.push(await run(`upstream direct tools/call (round ${r})`, direct));
      gatewayRuns.push(await run(`via gateway tools/call (round ${r})`, viaGateway));
    }
    // Each figure's own median over the rounds (latency is in whole ms from autocannon).
    const summarize = (runs) => ({
      rps: medianOf(runs.map((x) => x.rps)),
      p50: medianOf(runs.map((x) => x.p50)),
      p99: medianOf(runs.map((x) => x.p99)),
      mean: round2(medianOf(runs.map((x) => x.mean))),
      errors: runs.reduce((a, x) => a + x.errors, 0),
      runs,
    });
    const d = summarize(directRuns);
    const g = summarize(gatewayRuns);

    // Unloaded: one connection, one request at a time, sub-millisecond timing.
    const serial = async (target) => {
      try {
        return await client({ mode: 'serial', ...target, requests: serialRequests, warmup: Math.min(200, serialRequests), expect: EXPECT }, cores.load);
      } finally {
        alive();
      }
    };
    const serialDirect = await serial(direct);
    const serialGateway = await serial(viaGateway);

    const result = {
      setup,
      protocol: PROTOCOL,
      connections,
      durationSeconds: duration,
      rounds,
      upstreamUrl,
      answers,
      direct: d,
      gateway: g,
      addedP50Ms: g.p50 - d.p50,
      addedP99Ms: g.p99 - d.p99,
      addedMeanMs: round2(g.mean - d.mean),
      rpsRatio: g.rps / d.rps,
      unloaded: { requests: serialRequests, direct: serialDirect, gateway: serialGateway, addedP50Ms: round2(serialGateway.p50 - serialDirect.p50), addedP99Ms: round2(serialGateway.p99 - serialDirect.p99) },
    };

    const row = (name, x) => `  ${name.padEnd(22)} ${String(x.rps).padStart(7)} req/s  p50 ${String(x.p50).padStart(4)} ms  p99 ${String(x.p99).padStart(4)} ms  mean ${x.mean.toFixed(2)} ms  errors ${x.errors}`;
    console.log(`\nfederation medians (${connections} connections)`);
    console.log(row('upstream direct', d));
    console.log(row('via gateway', g));
    console.log(
      `  added p50 ${result.addedP50Ms} ms, added p99 ${result.addedP99Ms} ms, added mean ${result.addedMeanMs} ms, throughput ${(100 * result.rpsRatio).toFixed(1)}% of direct`,
    );
    const srow = (name, x) => `  ${name.padEnd(22)} p50 ${x.p50.toFixed(3)} ms  p90 ${x.p90.toFixed(3)} ms  p99 ${x.p99.toFixed(3)} ms  mean ${x.mean.toFixed(3)} ms  errors ${x.errors}`;
    console.log(`federation unloaded (1 connection, ${serialRequests} serial requests per side)`);
    console.log(srow('upstream direct', serialDirect));
    console.log(srow('via gateway', serialGateway));
    console.log(`  added p50 ${result.unloaded.addedP50Ms.toFixed(3)} ms, added p99 ${result.unloaded.addedP99Ms.toFixed(3)} ms`);
    return result;
  } finally {
    upstream.kill('SIGTERM');
  }
}
