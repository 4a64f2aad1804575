import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, context as apiContext, trace, type Context } from '@opentelemetry/api';
import { ExportResultCode, TraceState, setGlobalErrorHandler, type ExportResult } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOffSampler, InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan, type Sampler } from '@opentelemetry/sdk-trace';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeTraceRequest, decodedSpans } from '../../test/helpers/otlp-protobuf.js';
import { StreamingSpanProcessor, otlpProtobufExporter, type EncodedSpanExporter, type EncodedSpans, type StreamingSpanProcessorOptions } from './streaming-span-processor.js';

/**
 * The gateway's OTLP http/protobuf processor. Its encoding is checked against the SDK's own
 * serializer (ProtobufTraceSerializer) on the same spans, decoded field by field; its batching
 * against the BatchSpanProcessor's contract; its transport against a real HTTP receiver.
 */

/** Collects what the processor exports; `answer` decides each export's result (success by default). */
class CapturingExporter implements EncodedSpanExporter {
  batches: EncodedSpans[] = [];
  pending: Array<(result: ExportResult) => void> = [];
  shutdowns = 0;
  constructor(private readonly answer: 'success' | 'failure' | 'hold' = 'success') {}
  export(batch: EncodedSpans, done: (result: ExportResult) => void): void {
    this.batches.push({ bytes: Uint8Array.prototype.slice.call(batch.bytes), spans: batch.spans });
    if (this.answer === 'hold') this.pending.push(done);
    else setImmediate(() => done(this.answer === 'success' ? { code: ExportResultCode.SUCCESS } : { code: ExportResultCode.FAILED, error: new Error('collector down') }));
  }
  async shutdown(): Promise<void> {
    this.shutdowns++;
  }
  spanNames(): string[] {
    return this.batches.flatMap((b) => decodedSpans(b.bytes).map((s) => s.name));
  }
}

function setup(exporter: EncodedSpanExporter, options: StreamingSpanProcessorOptions = {}, sampler?: Sampler) {
  const memory = new InMemorySpanExporter();
  const processor = new StreamingSpanProcessor(exporter, options);
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'spec', 'service.version': '1.2.3', 'host.ports': [80, 443] }),
    spanProcessors: [new SimpleSpanProcessor({ exporter: memory }), processor],
    ...(sampler ? { sampler } : {}),
  });
  return { memory, processor, provider, tracer: provider.getTracer('mcp-gateway', '0.1.0') };
}

const errors: unknown[] = [];
setGlobalErrorHandler((e) => errors.push(e));
afterEach(() => {
  errors.length = 0;
});

describe('StreamingSpanProcessor encoding', () => {
  it('encodes every span field as the SDK serializer does', async () => {
    const exporter = new CapturingExporter();
    const { memory, processor, provider, tracer } = setup(exporter);
    const other = provider.getTracer('other-scope');
    const remoteParent: Context = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
      traceState: new TraceState('vendor=abc,other=x-y'),
    });
    const server = tracer.startSpan('POST /rpc', { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'http.response.status_code': 200 } }, remoteParent);
    const serverCtx = trace.setSpan(ROOT_CONTEXT, server);
    const rpc = tracer.startSpan(
      'tools/call weather',
      {
        attributes: {
          'mcp.method.name': 'tools/call',
          'gen_ai.tool.name': 'weather',
          'non.ascii': 'Grüße aus Köln 🌍',
          long: 'x'.repeat(300),
          huge: 'y'.repeat(20_000),
          int: 42,
          negative: -7,
          big: 2 ** 40 + 3,
          double: 1.5,
          flag: true,
          off: false,
          strings: ['a', 'b'],
          numbers: [1, 2.5, -3],
          bools: [true, false],
          empty: [],
        },
        links: [{ context: server.spanContext(), attributes: { why: 'retry' } }],
      },
      serverCtx,
    );
    rpc.addEvent('cache miss', { key: 'tool:weather' });
    rpc.addEvent('plain');
    rpc.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream said no' });
    const client = other.startSpan('GET', { kind: SpanKind.CLIENT }, trace.setSpan(ROOT_CONTEXT, rpc));
    client.setStatus({ code: SpanStatusCode.OK });
    client.end();
    rpc.end();
    const wide = tracer.startSpan('wide', { kind: SpanKind.PRODUCER });
    for (let i = 0; i < 200; i++) wide.setAttribute(`attr.${i}`, i); // past the SDK's limit of 128
    wide.end();
    tracer.startSpan('consumer', { kind: SpanKind.CONSUMER }).end();
    server.end();
    await processor.forceFlush();

    const spans = memory.getFinishedSpans();
    expect(spans).toHaveLength(5);
    expect(exporter.batches).toHaveLength(1);
    expect(exporter.batches[0].spans).toBe(5);
    const ours = decodeTraceRequest(exporter.batches[0].bytes);
    const sdk = decodeTraceRequest(ProtobufTraceSerializer.serializeRequest(spans as ReadableSpan[])!);
    expect(ours).toEqual(sdk);
    // And the comparison compared something: both scopes, every kind of value, the dropped count.
    expect(ours.resourceSpans[0].scopeSpans.map((s) => s.scope.name)).toEqual(['other-scope', 'mcp-gateway']); // in the order their first span ended
    const decoded = decodedSpans(exporter.batches[0].bytes);
    const byName = Object.fromEntries(decoded.map((s) => [s.name, s]));
    expect(byName['tools/call weather'].attributes).toMatchObject({ 'non.ascii': 'Grüße aus Köln 🌍', big: String(2 ** 40 + 3), negative: '-7', double: 1.5, off: false });
    expect(byName['tools/call weather'].attributes.huge).toHaveLength(20_000);
    expect(byName['tools/call weather'].status).toEqual({ message: 'upstream said no', code: 2 });
    expect(byName['POST /rpc'].parentSpanId).toBe('00f067aa0ba902b7');
    expect(byName['POST /rpc'].traceState).toBe('vendor=abc,other=x-y');
    expect(byName['POST /rpc'].flags).toBe(0x301); // sampled, parent known to be remote
    expect(byName.wide.droppedAttributesCount).toBe(72);
    expect(Number(BigInt(byName.GET.endTimeUnixNano) - BigInt(byName.GET.startTimeUnixNano))).toBeGreaterThanOrEqual(0);
    expect(Math.abs(Number(BigInt(byName.GET.startTimeUnixNano) / 1_000_000n) - Date.now())).toBeLessThan(60_000);
    await provider.shutdown();
  });
});

describe('StreamingSpanProcessor batching', () => {
  it('exports full batches at once and the rest after the delay', async () => {
    const exporter = new CapturingExporter();
    const { processor, provider, tracer } = setup(exporter, { maxExportBatchSize: 10, scheduledDelayMillis: 50 });
    for (let i = 0; i < 25; i++) tracer.startSpan(`s${i}`).end();
    expect(exporter.batches.map((b) => b.spans)).toEqual([10, 10]);
    await new Promise((r) => setTimeout(r, 200));
    expect(exporter.batches.map((b) => b.spans)).toEqual([10, 10, 5]);
    expect(exporter.spanNames()).toEqual(Array.from({ length: 25 }, (_, i) => `s${i}`));
    await processor.forceFlush();
    expect(exporter.batches).toHaveLength(3);
    await provider.shutdown();
  });

  it('exports only sampled spans', async () => {
    const exporter = new CapturingExporter();
    const { processor, provider, tracer } = setup(exporter, {}, new AlwaysOffSampler());
    tracer.startSpan('not sampled').end();
    await processor.forceFlush();
    expect(exporter.batches).toEqual([]);
    await provider.shutdown();
  });

  it('drops spans beyond maxQueueSize while exports are outstanding, and takes them again once answered', async () => {
    const exporter = new CapturingExporter('hold');
    const { provider, tracer } = setup(exporter, { maxExportBatchSize: 10, maxQueueSize: 20, scheduledDelayMillis: 10_000 });
    const warn = jest.fn();
    const { diag, DiagLogLevel } = await import('@opentelemetry/api');
    diag.setLogger({ warn, error: () => {}, info: () => {}, debug: () => {}, verbose: () => {} }, DiagLogLevel.WARN);
    try {
      for (let i = 0; i < 30; i++) tracer.startSpan(`s${i}`).end();
      expect(exporter.batches.map((b) => b.spans)).toEqual([10, 10]);
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('maxQueueSize'));
      for (const done of exporter.pending.splice(0)) done({ code: ExportResultCode.SUCCESS });
      await new Promise((r) => setImmediate(r));
      for (let i = 30; i < 40; i++) tracer.startSpan(`s${i}`).end();
      expect(exporter.batches.map((b) => b.spans)).toEqual([10, 10, 10]);
      expect(exporter.spanNames().slice(20)).toEqual(Array.from({ length: 10 }, (_, i) => `s${30 + i}`));
      for (const done of exporter.pending.splice(0)) done({ code: ExportResultCode.SUCCESS });
    } finally {
      diag.disable();
    }
    await provider.shutdown();
  });

  it('reports a failed export to the error handler and goes on', async () => {
    const exporter = new CapturingExporter('failure');
    const { processor, provider, tracer } = setup(exporter);
    tracer.startSpan('lost').end();
    await processor.forceFlush();
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toContain('collector down');
    tracer.startSpan('next').end();
    await processor.forceFlush();
    expect(exporter.spanNames()).toEqual(['lost', 'next']);
    await provider.shutdown();
  });

  it('drops a span that cannot be encoded, whole, and keeps the batch valid', async () => {
    const exporter = new CapturingExporter();
    const { processor, provider, tracer } = setup(exporter);
    tracer.startSpan('before').end();
    const bad = tracer.startSpan('bad');
    // An attribute value the SDK would not accept, forced in after its checks: encoding it throws.
    (bad as unknown as { attributes: Record<string, unknown> }).attributes.poison = { toJSON: 1, get x(): never { throw new Error('poison'); } };
    bad.end();
    tracer.startSpan('after').end();
    await processor.forceFlush();
    expect(exporter.spanNames()).toEqual(['before', 'after']);
    expect(String(errors[0])).toContain('poison');
    await provider.shutdown();
  });

  it('flushes on shutdown, shuts the exporter down once, and takes no spans after', async () => {
    const exporter = new CapturingExporter();
    const { processor, tracer } = setup(exporter, { scheduledDelayMillis: 60_000 });
    tracer.startSpan('last').end();
    await Promise.all([processor.shutdown(), processor.shutdown()]);
    expect(exporter.spanNames()).toEqual(['last']);
    expect(exporter.shutdowns).toBe(1);
    tracer.startSpan('too late').end();
    await processor.forceFlush();
    expect(exporter.spanNames()).toEqual(['last']);
  });
});

describe('otlpProtobufExporter', () => {
  let receiver: http.Server | undefined;
  afterEach(async () => {
    await new Promise((r) => receiver?.close(r));
    receiver = undefined;
  });

  it('posts the encoded batch to /v1/traces as application/x-protobuf', async () => {
    const requests: Array<{ url?: string; type?: string; body: Buffer }> = [];
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        requests.push({ url: req.url, type: req.headers['content-type'], body: Buffer.concat(chunks) });
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((r) => receiver!.listen(0, '127.0.0.1', () => r()));
    const { port } = receiver.address() as AddressInfo;
    const { processor, provider, tracer } = setup(otlpProtobufExporter(`http://127.0.0.1:${port}/v1/traces`));
    const parent = tracer.startSpan('POST /rpc', { kind: SpanKind.SERVER });
    apiContext.with(trace.setSpan(ROOT_CONTEXT, parent), () => tracer.startSpan('tools/call t').end());
    parent.end();
    await processor.forceFlush();
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ url: '/v1/traces', type: 'application/x-protobuf' });
    const decoded = decodeTraceRequest(requests[0].body);
    expect(decoded.resourceSpans[0].resource.attributes).toContainEqual({ key: 'service.name', value: { stringValue: 'spec' } });
    expect(decodedSpans(requests[0].body).map((s) => s.name)).toEqual(['tools/call t', 'POST /rpc']);
    expect(errors).toEqual([]);
    await provider.shutdown();
  });

  it('reports a collector that answers 400 as a failed export', async () => {
    receiver = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(400).end());
    });
    await new Promise<void>((r) => receiver!.listen(0, '127.0.0.1', () => r()));
    const { port } = receiver.address() as AddressInfo;
    const { processor, provider, tracer } = setup(otlpProtobufExporter(`http://127.0.0.1:${port}/v1/traces`));
    tracer.startSpan('rejected').end();
    await processor.forceFlush();
    expect(errors).toHaveLength(1);
    await provider.shutdown();
  });
});
