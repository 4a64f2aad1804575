import type * as otel from '@opentelemetry/api';
import type { Attributes, Span, SpanKind } from '@opentelemetry/api';

/**
 * The hot path's door to OpenTelemetry. `tracing` stays null unless OTEL_ENABLE_OBSERVABILITY
 * is on: then `startTracing` (src/metrics/otel-sdk.ts, loaded by main.ts only in that case)
 * starts the SDK and sets it. Code on the request path tests `tracing` and pays one null check
 * when it is off; this module imports only types, so no OpenTelemetry code is loaded either.
 */
export interface Tracing {
  readonly api: typeof otel;
  readonly tracer: otel.Tracer;
  /** Flushes the spans still queued and stops the SDK. */
  readonly shutdown: () => Promise<void>;
}

export let tracing: Tracing | null = null;

export function setTracing(value: Tracing | null): void {
  tracing = value;
}

/**
 * Runs `fn` inside a new span (the active context's child, or `parent`'s), ending it when `fn`
 * settles; a throw or rejection marks the span as an error. Call only when `tracing` is set.
 */
export async function inSpan<T>(
  t: Tracing,
  name: string,
  kind: SpanKind,
  attributes: Attributes,
  fn: (span: Span) => Promise<T> | T,
  parent?: otel.Context,
): Promise<T> {
  const { api, tracer } = t;
  const base = parent ?? api.context.active();
  const span = tracer.startSpan(name, { kind, attributes }, base);
  try {
    return await api.context.with(api.trace.setSpan(base, span), () => fn(span));
  } catch (error) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: api.SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    throw error;
  } finally {
    span.end();
  }
}

/** Adds the active trace context (W3C `traceparent`, `tracestate`) to outgoing HTTP headers. */
export function injectTraceHeaders(headers: Record<string, string>): Record<string, string> {
  if (tracing) tracing.api.propagation.inject(tracing.api.context.active(), headers);
  return headers;
}

/** Argument names whose values never reach a span. */
const SENSITIVE = /pass(word|wd|phrase)?|secret|token|api[-_]?key|^key$|auth|credential|cookie|session|private|signature|bearer/i;
const MAX_ATTRIBUTE = 1024;

/**
 * Tool arguments as a span attribute: values under sensitive-looking names (password, token,
 * api_key, authorization, ...) at any depth become "[REDACTED]", and the JSON is cut at 1 KiB.
 */
export function redactArguments(args: unknown): string {
  const json = JSON.stringify(args ?? {}, (key, value: unknown) => (key !== '' && SENSITIVE.test(key) ? '[REDACTED]' : value)) ?? '{}';
  return json.length > MAX_ATTRIBUTE ? `${json.slice(0, MAX_ATTRIBUTE)}…` : json;
}
