import { afterEach, describe, expect, it } from '@jest/globals';
import * as api from '@opentelemetry/api';
import { AlwaysOffSampler, AlwaysOnSampler, InMemorySpanExporter, ParentBasedSampler, SimpleSpanProcessor, TracerProvider, type Sampler } from '@opentelemetry/sdk-trace';
import { CompositePropagator, TraceState, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { inSpan, injectTraceHeaders, redactArguments, setTracing, type Tracing } from './tracing.js';

/** inSpan against a real SDK tracer: which spans it makes, with what, and what `fn` gets. */
function tracingWith(sampler: Sampler, parentBased: boolean) {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ sampler, spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const tracer = provider.getTracer('spec');
  const t: Tracing = {
    api,
    tracer,
    startRootSpan: (name, kind) => tracer.startSpan(name, { kind }, api.ROOT_CONTEXT),
    asyncContext: false,
    parentBased,
    defaultPropagators: true,
    shutdown: () => provider.shutdown(),
  };
  setTracing(t);
  return { t, exporter, tracer };
}

afterEach(() => setTracing(null));

describe('inSpan', () => {
  it('makes a child span with its attributes, ended when fn settles, and marks a rejection as an error', async () => {
    const { t, exporter, tracer } = tracingWith(new ParentBasedSampler({ root: new AlwaysOnSampler() }), true);
    const parent = tracer.startSpan('parent');
    const parentCtx = api.trace.setSpan(api.ROOT_CONTEXT, parent);
    const seen = await inSpan(t, 'child', api.SpanKind.CLIENT, { a: 1 }, parentCtx, ({ span, context }) => {
      expect(api.trace.getSpan(context)).toBe(span);
      return span.spanContext().spanId;
    });
    await expect(inSpan(t, 'failing', api.SpanKind.INTERNAL, {}, parentCtx, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    const [child, failing] = exporter.getFinishedSpans();
    expect(child).toMatchObject({ name: 'child', kind: api.SpanKind.CLIENT, attributes: { a: 1 } });
    expect(child.spanContext().spanId).toBe(seen);
    expect(child.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(failing.status).toEqual({ code: api.SpanStatusCode.ERROR, message: 'boom' });
  });

  it('makes no child of an unsampled span under a parentbased sampler: fn gets the parent scope', async () => {
    const { t, exporter, tracer } = tracingWith(new ParentBasedSampler({ root: new AlwaysOffSampler() }), true);
    const parent = tracer.startSpan('unsampled root');
    const parentCtx = api.trace.setSpan(api.ROOT_CONTEXT, parent);
    const scope = await inSpan(t, 'child', api.SpanKind.CLIENT, { a: 1 }, parentCtx, (s) => s);
    expect(scope.span).toBe(parent);
    expect(scope.context).toBe(parentCtx);
    // A sampled remote parent still gets its child.
    const remote = api.trace.setSpanContext(api.ROOT_CONTEXT, { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: api.TraceFlags.SAMPLED, isRemote: true });
    await inSpan(t, 'child of sampled caller', api.SpanKind.SERVER, {}, remote, () => undefined);
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['child of sampled caller']);
  });

  it('enters the context of a recorded span where the active context follows awaits, and of no unsampled stand-in', async () => {
    const { t, tracer } = tracingWith(new ParentBasedSampler({ root: new AlwaysOnSampler() }), true);
    const entered: api.Context[] = [];
    // A context manager that only records what is entered (the SDK's own would be AsyncLocalStorage).
    const manager: api.ContextManager = {
      active: () => api.ROOT_CONTEXT,
      with: (ctx, fn, thisArg, ...args) => {
        entered.push(ctx);
        return fn.call(thisArg, ...args);
      },
      bind: (_ctx, target) => target,
      enable() {
        return this;
      },
      disable() {
        return this;
      },
    };
    api.context.setGlobalContextManager(manager);
    try {
      const traced = { ...t, asyncContext: true };
      const sampled = await inSpan(traced, 'child', api.SpanKind.INTERNAL, {}, api.trace.setSpan(api.ROOT_CONTEXT, tracer.startSpan('root')), (s) => s);
      expect(entered).toContain(sampled.context);
      const unsampled = api.trace.wrapSpanContext({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: api.TraceFlags.NONE });
      await inSpan(traced, 'skipped', api.SpanKind.INTERNAL, {}, api.trace.setSpan(api.ROOT_CONTEXT, unsampled), () => undefined);
      expect(entered.filter((ctx) => api.trace.getSpan(ctx) === unsampled)).toEqual([]);
    } finally {
      api.context.disable();
    }
  });

  it('still asks the sampler for each child when the sampler is not parentbased', async () => {
    const { t, exporter } = tracingWith(new AlwaysOnSampler(), false);
    const unsampled = api.trace.wrapSpanContext({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: api.TraceFlags.NONE });
    await inSpan(t, 'sampled anyway', api.SpanKind.INTERNAL, {}, api.trace.setSpan(api.ROOT_CONTEXT, unsampled), () => undefined);
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['sampled anyway']);
  });
});

describe('injectTraceHeaders', () => {
  afterEach(() => api.propagation.disable());

  it("writes what OpenTelemetry's default propagators write, directly or through them", () => {
    api.propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
    tracingWith(new AlwaysOnSampler(), true);
    const base = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' };
    const contexts = [
      api.trace.setSpanContext(api.ROOT_CONTEXT, { ...base, traceFlags: api.TraceFlags.SAMPLED }),
      api.trace.setSpanContext(api.ROOT_CONTEXT, { ...base, traceFlags: api.TraceFlags.NONE }),
      api.trace.setSpanContext(api.ROOT_CONTEXT, { ...base, traceFlags: 3 }),
      api.trace.setSpanContext(api.ROOT_CONTEXT, { ...base, traceFlags: 1, traceState: new TraceState('vendor=abc') }),
      api.propagation.setBaggage(api.trace.setSpanContext(api.ROOT_CONTEXT, { ...base, traceFlags: 1 }), api.propagation.createBaggage({ tenant: { value: 'acme' } })),
      api.trace.setSpanContext(api.ROOT_CONTEXT, { traceId: '0'.repeat(32), spanId: base.spanId, traceFlags: 1 }),
      api.ROOT_CONTEXT,
    ];
    const viaPropagators = contexts.map((ctx) => {
      const h: Record<string, string> = { accept: 'application/json' };
      api.propagation.inject(ctx, h);
      return h;
    });
    expect(contexts.map((ctx) => injectTraceHeaders({ accept: 'application/json' }, ctx))).toEqual(viaPropagators);
    expect(viaPropagators.slice(0, 5).map((h) => h.traceparent)).toEqual([
      `00-${base.traceId}-${base.spanId}-01`,
      `00-${base.traceId}-${base.spanId}-00`,
      `00-${base.traceId}-${base.spanId}-03`,
      `00-${base.traceId}-${base.spanId}-01`,
      `00-${base.traceId}-${base.spanId}-01`,
    ]);
    expect(viaPropagators[3].tracestate).toBe('vendor=abc');
    expect(viaPropagators[4].baggage).toBe('tenant=acme');
    expect(viaPropagators[5].traceparent).toBeUndefined();
  });

  it('leaves the headers alone with tracing off', () => {
    setTracing(null);
    expect(injectTraceHeaders({ a: 'b' }, api.ROOT_CONTEXT)).toEqual({ a: 'b' });
  });
});

describe('redactArguments', () => {
  it('redacts sensitive names at any depth, inside arrays too, and leaves other arguments as they are', () => {
    const args = { city: 'Oslo', auth: { user: 'u', password: 'p' }, items: [{ api_key: 'k', n: 1 }, 'token'], Session: 7 };
    expect(JSON.parse(redactArguments(args))).toEqual({ city: 'Oslo', auth: '[REDACTED]', items: [{ api_key: '[REDACTED]', n: 1 }, 'token'], Session: '[REDACTED]' });
    const plain = { city: 'Oslo', units: 'metric', nested: { list: [1, 'two', null], ok: true } };
    expect(redactArguments(plain)).toBe(JSON.stringify(plain));
    expect(redactArguments(undefined)).toBe('{}');
  });

  it('cuts the JSON at 1 KiB', () => {
    const text = redactArguments({ text: 'x'.repeat(5000), secret: 's' });
    expect(text).toHaveLength(1025);
    expect(text.endsWith('…')).toBe(true);
    expect(redactArguments({ text: 'x'.repeat(5000) }).startsWith('{"text":"xxx')).toBe(true);
  });
});
