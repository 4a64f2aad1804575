import { describe, expect, it } from '@jest/globals';
import * as api from '@opentelemetry/api';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  InMemorySpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
} from '@opentelemetry/sdk-trace';
import { PooledIdGenerator, rootSpans } from './root-spans.js';

/** rootSpans against a real SDK provider configured with the same sampler and id generator, as otel-sdk.ts does. */
function roots(sampler: Sampler) {
  const exporter = new InMemorySpanExporter();
  const ids = new PooledIdGenerator();
  const provider = new TracerProvider({ sampler, idGenerator: ids, spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const tracer = provider.getTracer('spec');
  return { start: rootSpans(tracer, sampler, ids), exporter, tracer };
}

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;

describe('rootSpans', () => {
  it('decides as the sampler does on the trace id: unsampled roots are bare ids, sampled ones SDK spans on that trace id', () => {
    const ratio = new TraceIdRatioBasedSampler(0.3);
    const { start, exporter } = roots(new ParentBasedSampler({ root: ratio }));
    const spans = Array.from({ length: 400 }, () => start('GET /x', api.SpanKind.SERVER));
    let sampled = 0;
    for (const span of spans) {
      const ctx = span.spanContext();
      expect(ctx.traceId).toMatch(HEX32);
      expect(ctx.spanId).toMatch(HEX16);
      const expected = ratio.shouldSample(api.ROOT_CONTEXT, ctx.traceId).decision === api.SamplingDecision.RECORD_AND_SAMPLED;
      expect(span.isRecording()).toBe(expected);
      expect(ctx.traceFlags).toBe(expected ? api.TraceFlags.SAMPLED : api.TraceFlags.NONE);
      if (expected) sampled++;
      span.end();
    }
    expect(sampled).toBeGreaterThan(60);
    expect(sampled).toBeLessThan(180);
    const finished = exporter.getFinishedSpans();
    expect(finished).toHaveLength(sampled);
    expect(finished.map((s) => s.spanContext().traceId)).toEqual(spans.filter((s) => s.spanContext().traceFlags === api.TraceFlags.SAMPLED).map((s) => s.spanContext().traceId));
    for (const s of finished) expect(s).toMatchObject({ name: 'GET /x', kind: api.SpanKind.SERVER, parentSpanContext: undefined });
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(spans.length);
  });

  it('always_on records every root, always_off none; the preset trace id is used once only', () => {
    const on = roots(new AlwaysOnSampler());
    const first = on.start('a', api.SpanKind.SERVER);
    expect(first.isRecording()).toBe(true);
    // A span started through the SDK afterwards gets a fresh trace id, not the one rootSpans set.
    const other = on.tracer.startSpan('b', {}, api.ROOT_CONTEXT);
    expect(other.spanContext().traceId).not.toBe(first.spanContext().traceId);
    first.end();
    other.end();
    expect(on.exporter.getFinishedSpans().map((s) => s.name)).toEqual(['a', 'b']);

    const off = roots(new ParentBasedSampler({ root: new AlwaysOffSampler() }));
    const span = off.start('c', api.SpanKind.SERVER);
    expect(span.isRecording()).toBe(false);
    expect(api.trace.isSpanContextValid(span.spanContext())).toBe(true);
    span.end();
    expect(off.exporter.getFinishedSpans()).toHaveLength(0);
  });

  it('makes random hex ids of the right lengths across pool refills, all distinct', () => {
    const ids = new PooledIdGenerator();
    const traces = Array.from({ length: 2000 }, () => ids.generateTraceId());
    const spans = Array.from({ length: 2000 }, () => ids.generateSpanId());
    for (const id of traces) expect(id).toMatch(HEX32);
    for (const id of spans) expect(id).toMatch(HEX16);
    expect(new Set(traces).size).toBe(traces.length);
    expect(new Set(spans).size).toBe(spans.length);
    ids.preset = 'ab'.repeat(16);
    expect(ids.generateTraceId()).toBe('ab'.repeat(16));
    expect(ids.generateTraceId()).not.toBe('ab'.repeat(16));
  });
});
