import { describe, expect, it } from '@jest/globals';
import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client';
import { HotPathCounter, HotPathHistogram } from './hot-path-metrics.js';

/**
 * The hot-path metrics must be indistinguishable from prom-client's own on /metrics: the same
 * observations give the same text, and the same pod-wide merge.
 */
const BOUNDS = [0.005, 0.01, 0.1, 1];
const OBSERVATIONS: Array<[Record<string, string>, number]> = [
  [{ method: 'tools/call', status: 'ok' }, 0.004],
  [{ method: 'tools/call', status: 'ok' }, 0.005], // on a bound: counted in it (le)
  [{ method: 'tools/call', status: 'ok' }, 0.2],
  [{ method: 'tools/list', status: 'ok' }, 7], // above every bound: +Inf only
  [{ method: 'tools/call', status: '-32602' }, 0.01],
];

function both(): { ours: Registry; theirs: Registry } {
  const ours = new Registry();
  const counter = new HotPathCounter('x_requests_total', 'Requests', [ours]);
  const histogram = new HotPathHistogram('x_duration_seconds', 'Duration', BOUNDS, [ours]);
  const series = new Map<string, { c: ReturnType<HotPathCounter['series']>; h: ReturnType<HotPathHistogram['series']> }>();
  const theirs = new Registry();
  const pCounter = new Counter({ name: 'x_requests_total', help: 'Requests', labelNames: ['method', 'status'], registers: [theirs] });
  const pHistogram = new Histogram({ name: 'x_duration_seconds', help: 'Duration', labelNames: ['method', 'status'], buckets: BOUNDS, registers: [theirs] });
  for (const [labels, value] of OBSERVATIONS) {
    const key = JSON.stringify(labels);
    if (!series.has(key)) series.set(key, { c: counter.series(labels), h: histogram.series(labels) });
    series.get(key)!.c.inc();
    series.get(key)!.h.observe(value);
    pCounter.inc(labels);
    pHistogram.observe(labels, value);
  }
  return { ours, theirs };
}

describe('HotPathCounter and HotPathHistogram', () => {
  it("print exactly what prom-client's Counter and Histogram print for the same observations", async () => {
    const { ours, theirs } = both();
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toContain('x_duration_seconds_bucket{le="0.005",method="tools/call",status="ok"} 2');
    expect(text).toContain('x_duration_seconds_bucket{le="+Inf",method="tools/list",status="ok"} 1');
    expect(text).toContain('x_requests_total{method="tools/call",status="ok"} 3');
  });

  it('merge across workers as prom-client metrics do (counters and buckets add up)', async () => {
    const a = both();
    const b = both();
    const merged = await AggregatorRegistry.aggregate([await a.ours.getMetricsAsJSON(), await b.ours.getMetricsAsJSON()]).metrics();
    const expected = await AggregatorRegistry.aggregate([await a.theirs.getMetricsAsJSON(), await b.theirs.getMetricsAsJSON()]).metrics();
    expect(merged).toBe(expected);
    expect(merged).toContain('x_requests_total{method="tools/call",status="ok"} 6');
  });

  it('reset zeroes every series; a non-finite observation is ignored', async () => {
    const registry = new Registry();
    const histogram = new HotPathHistogram('y_seconds', 'Y', BOUNDS, [registry]);
    const s = histogram.series({ route: '/rpc' });
    s.observe(Number.NaN);
    s.observe(0.5);
    expect(await registry.metrics()).toContain('y_seconds_count{route="/rpc"} 1');
    registry.resetMetrics();
    expect(await registry.metrics()).toContain('y_seconds_count{route="/rpc"} 0');
    s.observe(0.5);
    expect(await registry.metrics()).toContain('y_seconds_bucket{le="1",route="/rpc"} 1');
  });
});
