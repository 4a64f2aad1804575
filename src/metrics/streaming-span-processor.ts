import { TraceFlags, diag } from '@opentelemetry/api';
import { ExportResultCode, globalErrorHandler, type ExportResult, type InstrumentationScope } from '@opentelemetry/core';
import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from '@opentelemetry/otlp-exporter-base/node-http';
import { ProtobufTraceSerializer, type ISerializer } from '@opentelemetry/otlp-transformer';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace';
import { OtlpSpanEncoder } from './otlp-span-encoder.js';

/** One export request, already encoded, and how many spans it carries. */
export interface EncodedSpans {
  bytes: Uint8Array;
  spans: number;
}

/** Where encoded batches go: the OTLP/HTTP exporter of `otlpProtobufExporter`, or a test's. */
export interface EncodedSpanExporter {
  export(batch: EncodedSpans, done: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
}

export interface StreamingSpanProcessorOptions {
  /** Spans per export request (OTEL_BSP_MAX_EXPORT_BATCH_SIZE; 512). */
  maxExportBatchSize?: number;
  /** Spans waiting or in flight beyond which new ones are dropped (OTEL_BSP_MAX_QUEUE_SIZE; 2048). */
  maxQueueSize?: number;
  /** The longest a finished span waits for its batch, in ms (OTEL_BSP_SCHEDULE_DELAY; 5000). */
  scheduledDelayMillis?: number;
}

/**
 * The gateway's span processor for OTLP http/protobuf: the SDK's BatchSpanProcessor semantics
 * (sampled spans only, batches by size or delay, a bounded queue that drops rather than grows,
 * flush on shutdown) with one difference: each span is encoded to protobuf when it ends.
 *
 * Why: the BatchSpanProcessor holds span objects until their batch is exported, up to 512 spans
 * at a time. Under load they outlive the young generation's scavenges, and copying and promoting
 * them was the biggest single cost of tracing a `tools/call` (docs/scaling.md, "What tracing
 * costs"). Encoded at their end, spans die with their request; a batch is a byte buffer.
 *
 * The HTTP side is the OTLP exporter's own (retries, timeouts, OTEL_EXPORTER_OTLP_HEADERS and
 * _COMPRESSION, concurrency): only the serialization moved.
 */
export class StreamingSpanProcessor implements SpanProcessor {
  private readonly maxBatch: number;
  private readonly maxQueue: number;
  private readonly delay: number;
  /** Encoded spans of the batch being filled, per instrumentation scope (one in practice); reused from batch to batch. */
  private readonly scopes = new Map<InstrumentationScope, OtlpSpanEncoder>();
  private resource: Resource | undefined;
  private pending = 0;
  private inFlight = 0;
  private dropped = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly exports = new Set<Promise<void>>();
  private shutdownPromise: Promise<void> | undefined;

  constructor(
    private readonly exporter: EncodedSpanExporter,
    options: StreamingSpanProcessorOptions = {},
  ) {
    this.maxQueue = options.maxQueueSize ?? 2048;
    this.maxBatch = Math.min(options.maxExportBatchSize ?? 512, this.maxQueue);
    this.delay = options.scheduledDelayMillis ?? 5000;
  }

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    if (this.shutdownPromise || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.pending + this.inFlight >= this.maxQueue) {
      if (this.dropped++ === 0) diag.warn('StreamingSpanProcessor: maxQueueSize reached, dropping spans');
      return;
    }
    // One provider has one resource; should another ever appear, its spans start a new batch.
    if (this.resource !== span.resource) {
      if (this.pending > 0) this.flush();
      this.resource = span.resource;
    }
    let encoder = this.scopes.get(span.instrumentationScope);
    if (!encoder) this.scopes.set(span.instrumentationScope, (encoder = new OtlpSpanEncoder()));
    const mark = encoder.pos;
    try {
      encoder.span(span);
    } catch (error) {
      encoder.pos = mark; // no half-written span in the batch
      globalErrorHandler(error as Error);
      return;
    }
    this.pending++;
    if (this.pending >= this.maxBatch) this.flush();
    else if (!this.timer) this.timer = setTimeout(() => this.flush(), this.delay).unref();
  }

  forceFlush(): Promise<void> {
    this.flush();
    return Promise.all([...this.exports]).then(() => undefined);
  }

  shutdown(): Promise<void> {
    this.shutdownPromise ??= this.forceFlush().then(() => this.exporter.shutdown());
    return this.shutdownPromise;
  }

  /** Sends the batch being filled, if any, and starts a new one. */
  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending === 0) return;
    if (this.dropped > 0) {
      diag.warn(`StreamingSpanProcessor: dropped ${this.dropped} spans because maxQueueSize was reached`);
      this.dropped = 0;
    }
    const resource = this.resource!;
    const scopeSpans = encodeScopeSpans(this.scopes);
    const spans = this.pending;
    this.pending = 0;
    this.inFlight += spans;
    const sent = this.send(resource, scopeSpans, spans)
      .catch((error: unknown) => globalErrorHandler(error as Error))
      .finally(() => {
        this.inFlight -= spans;
        this.exports.delete(sent);
      });
    this.exports.add(sent);
  }

  private async send(resource: Resource, scopeSpans: Uint8Array, spans: number): Promise<void> {
    // Resource detectors may still be running (the SDK's BatchSpanProcessor waits the same way).
    if (resource.asyncAttributesPending) await resource.waitForAsyncAttributes?.();
    const out = new OtlpSpanEncoder(scopeSpans.length + 1024);
    out.tag(1, 2);
    const resourceSpans = out.begin();
    out.resource(resource);
    out.raw(scopeSpans);
    out.end(resourceSpans);
    // out is not reused, so its view can go to the exporter, which may keep it for a retry.
    const bytes = out.bytes();
    const result = await new Promise<ExportResult>((resolve) => this.exporter.export({ bytes, spans }, resolve));
    if (result.code !== ExportResultCode.SUCCESS) throw result.error ?? new Error('StreamingSpanProcessor: span export failed');
  }
}

/**
 * The ScopeSpans entries (fields 2 of a ResourceSpans) of one batch, copied out of the per-scope
 * encoders, which are then reset for the next batch. The whole request is
 * ExportTraceServiceRequest { ResourceSpans { resource, ScopeSpans { scope, spans… }… } }.
 */
function encodeScopeSpans(scopes: Map<InstrumentationScope, OtlpSpanEncoder>): Uint8Array {
  let size = 0;
  for (const spans of scopes.values()) size += spans.pos + 256;
  const out = new OtlpSpanEncoder(size);
  for (const [scope, spans] of scopes) {
    if (spans.pos === 0) continue;
    out.tag(2, 2);
    const entry = out.begin();
    out.scope(scope);
    out.raw(spans.bytes());
    out.end(entry);
    spans.reset();
  }
  return out.bytes();
}

/** The request body is already encoded; only the collector's answer needs decoding. */
const encodedSerializer: ISerializer<EncodedSpans, unknown> = {
  serializeRequest: (batch) => batch.bytes,
  deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
};

/**
 * The OTLP http/protobuf trace exporter's transport (the one @opentelemetry/exporter-trace-otlp-proto
 * builds, with the same options and environment variables) for already encoded batches.
 */
export function otlpProtobufExporter(url: string | undefined): EncodedSpanExporter {
  const delegate = createOtlpHttpExportDelegate(
    convertLegacyHttpOptions(url ? { url } : {}, 'TRACES', 'v1/traces', { 'Content-Type': 'application/x-protobuf' }),
    encodedSerializer,
    'otlp_http_span_exporter',
    { name: 'span', countItems: (batch: EncodedSpans) => batch.spans },
    undefined,
  );
  return new OTLPExporterBase(delegate);
}
