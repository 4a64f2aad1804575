import { randomFillSync } from 'node:crypto';
import * as api from '@opentelemetry/api';
import type { IdGenerator, Sampler } from '@opentelemetry/sdk-trace';

/**
 * Root spans (a request without a caller's trace context), sampled before the SDK is asked: an
 * unsampled root, nine in ten under the default sampler, is only its ids, as the SDK would make it
 * (a non-recording span) without its allocations and checks. A sampled one is the SDK's, started
 * with the trace id the decision was made on; the SDK's sampler, asked again, decides the same
 * (every sampler here decides on the trace id alone).
 */
export function rootSpans(tracer: api.Tracer, decide: Sampler, ids: PooledIdGenerator): (name: string, kind: api.SpanKind) => api.Span {
  const noAttributes: api.Attributes = {};
  return (name, kind) => {
    const traceId = ids.generateTraceId();
    const { decision } = decide.shouldSample(api.ROOT_CONTEXT, traceId, name, kind, noAttributes, []);
    if (decision === api.SamplingDecision.NOT_RECORD) {
      return api.trace.wrapSpanContext({ traceId, spanId: ids.generateSpanId(), traceFlags: api.TraceFlags.NONE });
    }
    ids.preset = traceId;
    try {
      return tracer.startSpan(name, { kind }, api.ROOT_CONTEXT);
    } finally {
      ids.preset = undefined; // taken by the SDK; never left for another trace
    }
  };
}

/**
 * The SDK's and rootSpans' trace and span ids: random, cut from a pool of hex text that one
 * randomFillSync call refills every 8 KiB of hex (256 trace ids; the SDK's own generator makes a
 * native hex call per id). The next trace id can be set beforehand (see rootSpans).
 */
export class PooledIdGenerator implements IdGenerator {
  preset: string | undefined;
  private readonly pool = Buffer.allocUnsafe(4096);
  private hex = '';
  private pos = 0;

  generateTraceId(): string {
    const id = this.preset;
    if (id === undefined) return this.take(32, api.INVALID_TRACEID);
    this.preset = undefined;
    return id;
  }

  generateSpanId(): string {
    return this.take(16, api.INVALID_SPANID);
  }

  /** `length` hex digits, never all zeros (an invalid id in W3C trace context). */
  private take(length: number, invalid: string): string {
    for (;;) {
      if (this.pos + length > this.hex.length) {
        this.hex = randomFillSync(this.pool).toString('hex');
        this.pos = 0;
      }
      // Cut in pieces of 8: V8 copies a substring that short, where a longer one would be a view
      // that keeps the whole 8 KiB pool alive for as long as the id lives (a stream's span can
      // live for hours).
      let id = '';
      for (let end = this.pos + length; this.pos < end; this.pos += 8) id += this.hex.slice(this.pos, this.pos + 8);
      if (id !== invalid) return id;
    }
  }
}
