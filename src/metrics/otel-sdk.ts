import * as api from '@opentelemetry/api';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { asyncContextFrameInUse } from '#app/common/async-context.js';
import type { AppConfig } from '#app/config/app-config.js';
import { SERVER_INFO } from '#app/mcp/protocol.js';
import { PooledIdGenerator, rootSpans } from './root-spans.js';
import { StreamingSpanProcessor, otlpProtobufExporter } from './streaming-span-processor.js';
import { setTracing } from './tracing.js';

/**
 * Starts the OpenTelemetry Node SDK for traces. main.ts imports this module only when
 * OTEL_ENABLE_OBSERVABILITY is true, so with observability off none of this code is loaded.
 *
 * The gateway's spans are made by hand on its own seams (HTTP request, JSON-RPC method, tool
 * call, upstream MCP call, SQL statement, Redis command; see `tracing`) rather than by
 * monkey-patching instrumentations, which need a loader hook under ESM and cost on every
 * request. Metrics stay on Prometheus (/metrics), so the SDK gets no metric readers; OTLP
 * exporter headers (OTEL_EXPORTER_OTLP_HEADERS) and OTEL_RESOURCE_ATTRIBUTES are read by the
 * SDK itself, as the OpenTelemetry spec defines.
 */
export function startTracing(config: AppConfig): void {
  const { otel } = config;
  const processors: SpanProcessor[] = [];
  if (otel.tracesExporter === 'console') processors.push(new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() }));
  if (otel.tracesExporter === 'otlp') processors.push(otlpProcessor(otel));
  const asyncContext = otel.asyncContext === 'always' || (otel.asyncContext === 'auto' && asyncContextFrameInUse());
  const traceSampler = sampler(otel);
  const ids = new PooledIdGenerator();
  const sdk = new NodeSDK({
    // undefined: the SDK's default, AsyncLocalStorage.
    contextManager: asyncContext ? undefined : new ExplicitContextOnly(),
    serviceName: otel.serviceName,
    resource: resourceFromAttributes({
      'service.version': SERVER_INFO.version,
      'service.instance.id': `${process.pid}`,
      'mcp_gateway.worker': config.workers.instanceId,
    }),
    spanProcessors: processors,
    sampler: traceSampler,
    idGenerator: ids,
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
  });
  sdk.start();
  const tracer = api.trace.getTracer('mcp-gateway', SERVER_INFO.version);
  setTracing({
    api,
    tracer,
    startRootSpan: rootSpans(tracer, traceSampler, ids),
    asyncContext,
    parentBased: otel.sampler.startsWith('parentbased_'),
    defaultPropagators: sameFields(api.propagation.fields(), ['traceparent', 'tracestate', 'baggage']),
    shutdown: async () => {
      setTracing(null);
      await sdk.shutdown();
    },
  });
}

/**
 * The context manager when AsyncLocalStorage is not used: the active context is always the root
 * one. The request path passes its contexts explicitly (see tracing.ts), so nothing else is needed.
 */
class ExplicitContextOnly implements api.ContextManager {
  active(): api.Context {
    return api.ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(_context: api.Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return fn.call(thisArg, ...args);
  }
  bind<T>(_context: api.Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    return this;
  }
}

function sameFields(a: string[], b: string[]): boolean {
  return a.length === b.length && [...a].sort().join() === [...b].sort().join();
}

/** OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, as the OpenTelemetry spec defines them. */
function sampler(otel: AppConfig['otel']): Sampler {
  const root = otel.sampler.endsWith('always_off')
    ? new AlwaysOffSampler()
    : otel.sampler.endsWith('traceidratio')
      ? new TraceIdRatioBasedSampler(otel.samplerRatio)
      : new AlwaysOnSampler();
  return otel.sampler.startsWith('parentbased_') ? new ParentBasedSampler({ root }) : root;
}

/**
 * The OTLP span processor and exporter for OTEL_EXPORTER_OTLP_PROTOCOL, at
 * OTEL_EXPORTER_OTLP_ENDPOINT (or the spec's default). http/protobuf, the default, encodes each
 * span as it ends (StreamingSpanProcessor); grpc and http/json batch span objects as the SDK does.
 */
function otlpProcessor(otel: AppConfig['otel']): SpanProcessor {
  if (otel.protocol === 'grpc') return new BatchSpanProcessor({ ...otel.batch, exporter: new GrpcExporter(otel.endpoint ? { url: otel.endpoint } : {}) });
  // The endpoint is the collector's base URL; HTTP exporters post traces to its /v1/traces.
  const url = otel.endpoint ? `${otel.endpoint.replace(/\/+$/, '')}/v1/traces` : undefined;
  if (otel.protocol === 'http/json') return new BatchSpanProcessor({ ...otel.batch, exporter: new JsonExporter(url ? { url } : {}) });
  return new StreamingSpanProcessor(otlpProtobufExporter(url), otel.batch);
}
