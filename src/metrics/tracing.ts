import type * as otel from '@opentelemetry/api';
import type { Attributes, Context, Span, SpanKind } from '@opentelemetry/api';

/**
 * The hot path's door to OpenTelemetry. `tracing` stays null unless OTEL_ENABLE_OBSERVABILITY
 * is on: then `startTracing` (src/metrics/otel-sdk.ts, loaded by main.ts only in that case)
 * starts the SDK and sets it. Code on the request path tests `tracing` and pays one null check
 * when it is off; this module imports only types, so no OpenTelemetry code is loaded either.
 *
 * Trace context travels two ways. The MCP request path passes it explicitly (HTTP span →
 * JSON-RPC span → REST or upstream client span): correct on any runtime and cheap. Spans deep
 * in shared code (SQL statements, Redis commands, the admin API's handlers) read the active
 * context, which only AsyncLocalStorage carries across awaits (`asyncContext`, see
 * OTEL_ASYNC_CONTEXT); without it they are not made, rather than made as orphan traces.
 */
export interface Tracing {
  readonly api: typeof otel;
  readonly tracer: otel.Tracer;
  /** A new root span (no parent), sampled by the configured sampler; see otel-sdk.ts. */
  readonly startRootSpan: (name: string, kind: SpanKind) => Span;
  /** Whether the active context follows awaits (AsyncLocalStorage is the context manager). */
  readonly asyncContext: boolean;
  /**
   * Whether the sampler is one of the parentbased_ ones: then a child of an unsampled span is
   * never sampled either, and `inSpan` makes none (see there).
   */
  readonly parentBased: boolean;
  /** Whether the propagators are OpenTelemetry's default, W3C trace context and baggage (see injectTraceHeaders). */
  readonly defaultPropagators: boolean;
  /** Flushes the spans still queued and stops the SDK. */
  readonly shutdown: () => Promise<void>;
}

/** A span and the context that has it active: what a child span needs as its parent. */
export interface TraceScope {
  readonly span: Span;
  readonly context: Context;
}

export let tracing: Tracing | null = null;

export function setTracing(value: Tracing | null): void {
  tracing = value;
}

/**
 * Runs `fn` inside a new span, the child of `parent`, ending it when `fn` settles; a throw or
 * rejection marks the span as an error. `fn` gets the span's own context to pass on; it is also
 * the active one when the active context follows awaits. Call only when `tracing` is set.
 */
export function inSpan<T>(
  t: Tracing,
  name: string,
  kind: SpanKind,
  attributes: Attributes,
  parent: Context,
  fn: (scope: TraceScope) => Promise<T> | T,
): Promise<T> {
  const { api, tracer } = t;
  // Nothing under an unsampled span is recorded, so its context need not become the active one
  // either (AsyncLocalStorage's run is not free, even on AsyncContextFrame).
  const skipped = unsampledScope(t, parent);
  if (skipped) return settle(t, fn, skipped, false);
  const span = tracer.startSpan(name, { kind }, parent);
  const scope: TraceScope = { span, context: api.trace.setSpan(parent, span) };
  // An unsampled span records nothing: its context still propagates (children and downstream
  // services learn the trace is not sampled), but there is nothing to end or mark. Attributes are
  // set only on a recording span: given to startSpan, the SDK would check them for every span.
  if (!span.isRecording()) return settle(t, fn, scope);
  span.setAttributes(attributes);
  const run = (): Promise<T> | T => (t.asyncContext ? api.context.with(scope.context, fn, undefined, scope) : fn(scope));
  return recorded(api, span, run);
}

/**
 * Under a parentbased_ sampler, the children of an unsampled span are not sampled either, so
 * making them would only cost ids and contexts: this returns the parent's scope to stand in for
 * the child (downstream services still learn from it that the trace is not sampled), else null.
 * With the default sampler this is nine requests in ten; hot callers test it before building a
 * span's attributes.
 */
export function unsampledScope(t: Tracing, parent: Context): TraceScope | null {
  if (!t.parentBased) return null;
  const span = t.api.trace.getSpan(parent);
  return span !== undefined && (span.spanContext().traceFlags & t.api.TraceFlags.SAMPLED) === 0 ? { span, context: parent } : null;
}

/** `fn(scope)` as a promise; with `enter`, the scope's context is the active one inside. */
function settle<T>(t: Tracing, fn: (scope: TraceScope) => Promise<T> | T, scope: TraceScope, enter = t.asyncContext): Promise<T> {
  try {
    return Promise.resolve(enter ? t.api.context.with(scope.context, fn, undefined, scope) : fn(scope));
  } catch (error) {
    return Promise.reject(error as Error);
  }
}

async function recorded<T>(api: typeof otel, span: Span, run: () => Promise<T> | T): Promise<T> {
  try {
    return await run();
  } catch (error) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: api.SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    throw error;
  } finally {
    span.end();
  }
}

/** `explicit`, else the active context (the root one where it does not follow awaits). */
export function parentContext(t: Tracing, explicit: Context | undefined): Context {
  return explicit ?? t.api.context.active();
}

/**
 * The parent of a span made deep in shared code (SQL, Redis): the active context when it holds a
 * span of a traced operation, else null (no span: a statement outside any traced operation, or a
 * runtime where the active context does not follow awaits, would only make a stray root trace).
 */
export function activeParent(t: Tracing): Context | null {
  const active = t.api.context.active();
  return t.api.trace.getSpan(active) ? active : null;
}

/**
 * Adds the trace context of `context` (default: the active one) to outgoing HTTP headers, through
 * the configured propagators (OTEL_PROPAGATORS; W3C `traceparent`, `tracestate` and `baggage` by
 * default). Every traced REST call and upstream request pays this, sampled or not, so the common
 * case, the default propagators and a context with only a span (no tracestate, no baggage), writes
 * `traceparent` directly: the same header, without the propagators' validation passes.
 */
export function injectTraceHeaders(headers: Record<string, string>, context?: Context): Record<string, string> {
  const t = tracing;
  if (!t) return headers;
  const ctx = context ?? t.api.context.active();
  if (t.defaultPropagators) {
    const span = t.api.trace.getSpanContext(ctx);
    if (span && !span.traceState && t.api.propagation.getBaggage(ctx) === undefined) {
      if (span.traceId !== t.api.INVALID_TRACEID && span.spanId !== t.api.INVALID_SPANID) {
        headers.traceparent = `00-${span.traceId}-${span.spanId}-${flagsHex(span.traceFlags)}`;
      }
      return headers;
    }
  }
  t.api.propagation.inject(ctx, headers);
  return headers;
}

const flagsHex = (flags: number): string => (flags === 1 ? '01' : flags === 0 ? '00' : (flags & 0xff).toString(16).padStart(2, '0'));

/** Argument names whose values never reach a span. */
const SENSITIVE = /pass(word|wd|phrase)?|secret|token|api[-_]?key|^key$|auth|credential|cookie|session|private|signature|bearer/i;
const MAX_ATTRIBUTE = 1024;

/**
 * Tool arguments as a span attribute: values under sensitive-looking names (password, token,
 * api_key, authorization, ...) at any depth become "[REDACTED]", and the JSON is cut at 1 KiB.
 */
export function redactArguments(args: unknown): string {
  // A replacer makes JSON.stringify call back for every value; most arguments need none.
  const json =
    (hasSensitiveKey(args)
      ? JSON.stringify(args, (key, value: unknown) => (key !== '' && SENSITIVE.test(key) ? '[REDACTED]' : value))
      : JSON.stringify(args ?? {})) ?? '{}';
  return json.length > MAX_ATTRIBUTE ? `${json.slice(0, MAX_ATTRIBUTE)}…` : json;
}

/** Whether any key at any depth of parsed JSON looks sensitive (see SENSITIVE). */
function hasSensitiveKey(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some(hasSensitiveKey);
  for (const key in value) {
    if (SENSITIVE.test(key) || hasSensitiveKey((value as Record<string, unknown>)[key])) return true;
  }
  return false;
}
