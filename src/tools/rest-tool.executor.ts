// Calls the HTTP endpoint behind a REST tool for MCP `tools/call` (DESIGN.md §2, the hot path):
// one keep-alive undici agent for the worker, a per-attempt timeout, jittered exponential retries
// for idempotent failures, and a FIFO concurrency limit per tool. Arguments, headers and
// credentials are never logged, and credential values are scrubbed from every error text.
import { STATUS_CODES } from 'node:http';
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { Context } from '@opentelemetry/api';
import { Agent, request, type Dispatcher } from 'undici';
import { isObject } from '#app/common/is-object.js';
import type { AppConfig } from '#app/config/app-config.js';
import { APP_CONFIG } from '#app/config/config.module.js';
import type { CallToolResult } from '#app/mcp/mcp-types.js';
import { inSpan, injectTraceHeaders, parentContext, tracing, unsampledScope } from '#app/metrics/tracing.js';

export type RestMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RestToolTarget {
  /** Tool id: the key of the per-tool concurrency limit. */
  id: string;
  name: string;
  url: string;
  requestType: RestMethod;
  /** The tool's static headers. */
  headers: Record<string, string>;
  /** Decrypted credentials, computed per call. May throw when the stored secret can't be opened. */
  authHeaders: () => Record<string, string>;
  /** Per-attempt timeout; null uses `config.tools.timeoutMs`. */
  timeoutMs: number | null;
  outputSchema: Record<string, unknown> | null;
}

export interface RestCallOptions {
  /** The caller's cancellation: aborts the in-flight request and rejects with its reason. */
  signal?: AbortSignal;
  /** Applied last (passthrough headers…). */
  extraHeaders?: Record<string, string>;
  /** Tracing on: the caller's trace context, parent of each attempt's client span. */
  trace?: Context;
}

type ContentBlock = CallToolResult['content'][number];
type ResponseBody = Dispatcher.ResponseData['body'];
type ResponseHeaders = Dispatcher.ResponseData['headers'];

const MAX_RESPONSE_BYTES = 10 * 1024 * 1024;
/** Error bodies only feed a 2,000-character excerpt; past this much the socket is given up. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;
const MAX_EXCERPT_CHARS = 2000;
const DEFAULT_ACCEPT = 'application/json, */*;q=0.5';
const IDEMPOTENT = new Set<RestMethod>(['GET', 'PUT', 'DELETE']);
const QUERY_METHODS = new Set<RestMethod>(['GET', 'DELETE']);
/** Set by undici itself, or hop-by-hop headers that undici rejects outright. */
const DROPPED_HEADERS = new Set([
  'host',
  'content-length',
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);
/** Failures of an idempotent request that are worth another attempt. */
const RETRYABLE_NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);
/** Connect-phase failures: nothing reached the server, so even POST and PATCH may be retried. */
const NOTHING_SENT_CODES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const UNDICI_TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const SENSITIVE_HEADER = /auth|cookie|token|secret|key|password|session/i;

/** The attempt ran out of its time budget. */
class AttemptTimeoutError extends Error {}
/** A 2xx body went past MAX_RESPONSE_BYTES. */
class ResponseTooLargeError extends Error {}

type AttemptOutcome =
  | { kind: 'retry'; retryAfterMs: number | undefined }
  | { kind: 'done'; status: number; headers: ResponseHeaders; body: Buffer; truncated: boolean };

interface PreparedRequest {
  method: RestMethod;
  url: string;
  /** origin + path: what error texts show (no query, no userinfo). */
  displayUrl: string;
  headers: Record<string, string>;
  body: string | undefined;
  timeoutMs: number;
  trace: Context | undefined;
}

@Injectable()
export class RestToolExecutor implements OnModuleDestroy {
  /** One keep-alive pool per origin for the whole worker; never a client per call. */
  private readonly agent = new Agent({ keepAliveTimeout: 30_000, connections: 128, pipelining: 1 });
  private readonly limiter = new ToolConcurrencyLimiter();
  private closing: Promise<void> | undefined;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  /** How many tools have calls in flight or queued (the limiter drops idle tools). */
  activeToolCount(): number {
    return this.limiter.size;
  }

  async execute(target: RestToolTarget, args: Record<string, unknown>, options: RestCallOptions = {}): Promise<CallToolResult> {
    const { signal } = options;
    signal?.throwIfAborted();
    const timeoutMs = target.timeoutMs !== null && target.timeoutMs > 0 ? target.timeoutMs : this.config.tools.timeoutMs;

    let url: URL;
    try {
      url = new URL(target.url);
    } catch {
      return errorResult(`Tool "${target.name}" has an invalid URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return errorResult(`Tool "${target.name}" has an unsupported URL scheme ${url.protocol.replace(/:$/, '')}`);
    }

    let authHeaders: Record<string, string>;
    try {
      authHeaders = target.authHeaders();
    } catch {
      return errorResult(`Tool "${target.name}" cannot be called: its stored credentials can't be read`);
    }

    const method = target.requestType;
    const headers = mergeHeaders([{ accept: DEFAULT_ACCEPT }, target.headers, authHeaders, options.extraHeaders ?? {}]);
    let body: string | undefined;
    if (QUERY_METHODS.has(method)) {
      appendQuery(url, args);
    } else {
      body = JSON.stringify(args);
      if (!headers['content-type']?.toLowerCase().includes('json')) headers['content-type'] = 'application/json';
    }
    url.hash = '';
    const secrets = collectSecrets(authHeaders, [target.headers, options.extraHeaders ?? {}]);
    const prepared: PreparedRequest = {
      method,
      url: url.href,
      displayUrl: `${url.origin}${url.pathname}`,
      headers,
      body,
      timeoutMs,
      trace: options.trace,
    };

    const limit = this.config.tools.concurrentLimit;
    if (!(await this.limiter.acquire(target.id, limit, timeoutMs, signal))) {
      return errorResult(`Tool "${target.name}" is at its concurrency limit (${limit} calls); try again later`);
    }
    try {
      return await this.callWithRetries(target, prepared, secrets, signal);
    } finally {
      this.limiter.release(target.id);
    }
  }

  /** Closes the agent's sockets once in-flight requests are done. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.agent.close();
    return this.closing;
  }

  async onModuleDestroy(): Promise<void> {
    await this.close();
  }

  private async callWithRetries(
    target: RestToolTarget,
    req: PreparedRequest,
    secrets: string[],
    signal: AbortSignal | undefined,
  ): Promise<CallToolResult> {
    const { retryMaxAttempts, retryBaseDelayMs, retryMaxDelayMs } = this.config.tools;
    const idempotent = IDEMPOTENT.has(req.method);
    for (let attempt = 0; ; attempt++) {
      const mayRetry = attempt < retryMaxAttempts;
      let outcome: AttemptOutcome;
      try {
        outcome = await this.attempt(req, idempotent && mayRetry, signal);
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        if (err instanceof AttemptTimeoutError) {
          return errorResult(`Tool "${target.name}" timed out after ${req.timeoutMs} ms`);
        }
        if (err instanceof ResponseTooLargeError) {
          return errorResult(`Tool "${target.name}" failed: response larger than 10 MiB from ${req.method} ${req.displayUrl}`);
        }
        const code = errorCode(err);
        const retryable = idempotent ? RETRYABLE_NETWORK_CODES.has(code ?? '') : NOTHING_SENT_CODES.has(code ?? '');
        if (mayRetry && retryable) {
          await sleep(backoffDelay(attempt, retryBaseDelayMs, retryMaxDelayMs), signal);
          continue;
        }
        const tries = attempt > 0 ? ` (after ${attempt + 1} attempts)` : '';
        const text = `Tool "${target.name}" request to ${req.method} ${req.displayUrl} failed${tries}: ${describeError(err)}`;
        return errorResult(redact(text, secrets));
      }
      if (outcome.kind === 'retry') {
        const delay =
          outcome.retryAfterMs !== undefined
            ? Math.min(retryMaxDelayMs, outcome.retryAfterMs)
            : backoffDelay(attempt, retryBaseDelayMs, retryMaxDelayMs);
        await sleep(delay, signal);
        continue;
      }
      return toResult(target, req, outcome, secrets);
    }
  }

  /**
   * One HTTP exchange, headers and body, under its own timeout. The response body is always
   * consumed or destroyed before this returns, so the socket goes back to the pool or is closed.
   */
  private attempt(req: PreparedRequest, retryStatus: boolean, signal: AbortSignal | undefined): Promise<AttemptOutcome> {
    if (!tracing) return this.exchange(req, retryStatus, signal);
    // Tracing on: each attempt is a client span, and the endpoint gets its W3C traceparent. The
    // headers are this call's own (mergeHeaders), so each attempt writes its trace context into
    // them in place; undici has read them by the time request() returns.
    const parent = parentContext(tracing, req.trace);
    const unsampled = unsampledScope(tracing, parent);
    if (unsampled) {
      injectTraceHeaders(req.headers, unsampled.context);
      return this.exchange(req, retryStatus, signal);
    }
    const attributes = { 'http.request.method': req.method, 'url.full': req.displayUrl };
    return inSpan(tracing, req.method, tracing.api.SpanKind.CLIENT, attributes, parent, async ({ span, context }) => {
      injectTraceHeaders(req.headers, context);
      const outcome = await this.exchange(req, retryStatus, signal);
      if (outcome.kind === 'done') span.setAttribute('http.response.status_code', outcome.status);
      return outcome;
    });
  }

  private async exchange(req: PreparedRequest, retryStatus: boolean, signal: AbortSignal | undefined): Promise<AttemptOutcome> {
    signal?.throwIfAborted();
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new AttemptTimeoutError());
    }, req.timeoutMs);
    const onAbort = (): void => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    let body: ResponseBody | undefined;
    try {
      const res = await request(req.url, {
        dispatcher: this.agent,
        method: req.method,
        headers: req.headers,
        body: req.body,
        signal: controller.signal,
        // Our timer bounds the whole attempt; these only keep undici's 300 s defaults out of the way.
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
      });
      body = res.body;
      const status = res.statusCode;
      if (retryStatus && isRetryableStatus(status)) {
        await res.body.dump();
        const retryAfter = status === 429 || status === 503 ? parseRetryAfter(res.headers['retry-after']) : undefined;
        return { kind: 'retry', retryAfterMs: retryAfter };
      }
      const ok = status >= 200 && status < 300;
      const limit = ok ? MAX_RESPONSE_BYTES : MAX_ERROR_BODY_BYTES;
      const declared = Number(headerValue(res.headers['content-length']));
      if (ok && Number.isFinite(declared) && declared > limit) throw new ResponseTooLargeError();
      const { data, truncated } = await readCapped(res.body, limit);
      if (ok && truncated) throw new ResponseTooLargeError();
      return { kind: 'done', status, headers: res.headers, body: data, truncated };
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (timedOut || UNDICI_TIMEOUT_CODES.has(errorCode(err) ?? '')) throw new AttemptTimeoutError();
      throw err;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      // No-op when the body was read to the end; otherwise frees the connection.
      if (body && !body.readableEnded && !body.destroyed) body.destroy();
    }
  }
}

/**
 * FIFO semaphore per tool id. Entries exist only while a tool has calls in flight or queued, so
 * thousands of tools cost nothing at rest. A released permit is handed straight to the next waiter.
 */
class ToolConcurrencyLimiter {
  private readonly tools = new Map<string, { active: number; queue: Array<() => void> }>();

  get size(): number {
    return this.tools.size;
  }

  /** Resolves true with a permit, false when none came within `waitMs`; rejects on abort. */
  acquire(id: string, limit: number, waitMs: number, signal: AbortSignal | undefined): Promise<boolean> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    let state = this.tools.get(id);
    if (!state) {
      state = { active: 0, queue: [] };
      this.tools.set(id, state);
    }
    if (state.active < limit && state.queue.length === 0) {
      state.active++;
      return Promise.resolve(true);
    }
    const entry = state;
    return new Promise<boolean>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const leave = (): void => {
        const at = entry.queue.indexOf(grant);
        if (at >= 0) entry.queue.splice(at, 1);
        if (entry.active === 0 && entry.queue.length === 0) this.tools.delete(id);
      };
      const grant = (): void => {
        cleanup();
        resolve(true);
      };
      const onAbort = (): void => {
        cleanup();
        leave();
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        cleanup();
        leave();
        resolve(false);
      }, waitMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      entry.queue.push(grant);
    });
  }

  release(id: string): void {
    const state = this.tools.get(id);
    if (!state) return;
    const next = state.queue.shift();
    if (next) {
      next(); // the permit passes on; `active` is unchanged
      return;
    }
    state.active--;
    if (state.active <= 0) this.tools.delete(id);
  }
}

function toResult(target: RestToolTarget, req: PreparedRequest, res: Extract<AttemptOutcome, { kind: 'done' }>, secrets: string[]): CallToolResult {
  const contentType = headerValue(res.headers['content-type'])?.toLowerCase() ?? '';
  const mimeType = contentType.split(';')[0].trim();

  if (res.status < 200 || res.status >= 300) {
    const excerpt = collapse(decode(res.body, contentType));
    const clipped = excerpt.length > MAX_EXCERPT_CHARS ? `${excerpt.slice(0, MAX_EXCERPT_CHARS)}…` : res.truncated ? `${excerpt}…` : excerpt;
    const statusText = STATUS_CODES[res.status] ?? '';
    const head = `HTTP ${res.status}${statusText ? ` ${statusText}` : ''} from ${req.method} ${req.displayUrl}`;
    return errorResult(redact(clipped ? `${head}: ${clipped}` : head, secrets));
  }

  if (res.status === 204 || res.status === 205 || res.body.length === 0) {
    return { content: [{ type: 'text', text: '(no content)' }] };
  }
  if (mimeType.startsWith('image/') || mimeType.startsWith('audio/')) {
    const type = mimeType.startsWith('image/') ? 'image' : 'audio';
    return { content: [{ type, data: res.body.toString('base64'), mimeType }] };
  }

  const text = decode(res.body, contentType);
  const parsed = contentType.includes('json') || /^\s*[{[]/.test(text) ? parseJson(text) : undefined;
  if (!parsed) return { content: [{ type: 'text', text }] };
  const result: CallToolResult = { content: [{ type: 'text', text: JSON.stringify(parsed.value, null, 2) }] };
  if (target.outputSchema) {
    // MCP requires structuredContent to be an object: wrap scalars and arrays.
    result.structuredContent = isObject(parsed.value) ? parsed.value : { result: parsed.value };
  }
  return result;
}

function errorResult(text: string): CallToolResult {
  const block: ContentBlock = { type: 'text', text };
  return { content: [block], isError: true };
}

/** Later layers win; names compare case-insensitively; headers undici must own are dropped. */
function mergeHeaders(layers: Array<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const layer of layers) {
    for (const [name, value] of Object.entries(layer)) {
      const key = name.toLowerCase();
      if (typeof value !== 'string' || DROPPED_HEADERS.has(key)) continue;
      out[key] = value;
    }
  }
  return out;
}

/** Appends arguments after any query already in the URL, which is kept byte for byte. */
function appendQuery(url: URL, args: Record<string, unknown>): void {
  const pairs: string[] = [];
  const add = (key: string, value: unknown): void => {
    if (value === null || value === undefined) return;
    const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
    pairs.push(`${encodeURIComponent(key)}=${encodeURIComponent(text)}`);
  };
  for (const [key, value] of Object.entries(args)) {
    if (Array.isArray(value)) for (const item of value) add(key, item);
    else add(key, value);
  }
  if (pairs.length === 0) return;
  const extra = pairs.join('&');
  url.search = url.search.length > 1 ? `${url.search}&${extra}` : `?${extra}`;
}

/**
 * Values that must never appear in a result: every credential header value (and the token after
 * an auth scheme such as `Bearer`), plus configured or forwarded headers with sensitive names.
 */
function collectSecrets(authHeaders: Record<string, string>, others: Array<Record<string, string>>): string[] {
  const values: string[] = Object.values(authHeaders);
  for (const layer of others) {
    for (const [name, value] of Object.entries(layer)) if (SENSITIVE_HEADER.test(name)) values.push(value);
  }
  const secrets = new Set<string>();
  for (const value of values) {
    if (typeof value !== 'string') continue;
    const trimmed = value.trim();
    if (trimmed.length >= 4) secrets.add(trimmed);
    const token = trimmed.split(/\s+/).pop();
    if (token && token.length >= 8) secrets.add(token);
    if (/^basic\s/i.test(trimmed) && token) {
      const decoded = Buffer.from(token, 'base64').toString('utf8');
      const password = decoded.slice(decoded.indexOf(':') + 1);
      if (decoded.includes(':') && password.length >= 4) secrets.add(password);
    }
  }
  // Longest first, so a value is not half-replaced by a shorter secret inside it.
  return [...secrets].sort((a, b) => b.length - a.length);
}

function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('[redacted]');
  return out;
}

function isRetryableStatus(status: number): boolean {
  // 501 and 505 say the server will never do this; other 5xx may be transient.
  return status === 429 || (status >= 500 && status <= 599 && status !== 501 && status !== 505);
}

/** Full jitter: uniform in [0, min(max, base * 2^attempt)]. */
function backoffDelay(attempt: number, baseMs: number, maxMs: number): number {
  return Math.random() * Math.min(maxMs, baseMs * 2 ** attempt);
}

/** `Retry-After` as delay-seconds or an HTTP date, in ms; undefined when absent or unreadable. */
function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const raw = headerValue(value)?.trim();
  if (!raw) return undefined;
  if (/^\d+(\.\d+)?$/.test(raw)) return Number(raw) * 1000;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Reads at most `limit` bytes; past that, destroys the body (and its socket) and says so. */
async function readCapped(body: ResponseBody, limit: number): Promise<{ data: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (size + chunk.length > limit) {
      chunks.push(chunk.subarray(0, limit - size));
      body.destroy();
      return { data: Buffer.concat(chunks), truncated: true };
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  return { data: Buffer.concat(chunks, size), truncated: false };
}

/** UTF-8 unless the response names another charset this runtime knows. */
function decode(data: Buffer, contentType: string): string {
  const charset = /charset\s*=\s*"?([\w.:-]+)"?/i.exec(contentType)?.[1];
  if (charset && !/^utf-?8$/i.test(charset)) {
    try {
      return new TextDecoder(charset).decode(data);
    } catch {
      // unknown label: fall through to UTF-8
    }
  }
  return new TextDecoder('utf-8').decode(data);
}

function parseJson(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return undefined;
  }
}


function collapse(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

interface ErrorLike {
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** The error's code, looking through `cause` and Node's happy-eyeballs AggregateError. */
function errorCode(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth++) {
    const e = current as ErrorLike;
    if (typeof e.code === 'string') return e.code;
    current = e.cause ?? (Array.isArray(e.errors) ? e.errors[0] : undefined);
  }
  return undefined;
}

/** Code and message only: never a stack. */
function describeError(err: unknown): string {
  const code = errorCode(err);
  let message = '';
  let current: unknown = err;
  for (let depth = 0; depth < 4 && !message && current && typeof current === 'object'; depth++) {
    const e = current as ErrorLike;
    if (typeof e.message === 'string') message = e.message.split('\n')[0].trim();
    current = e.cause ?? (Array.isArray(e.errors) ? e.errors[0] : undefined);
  }
  if (!message && typeof err !== 'object') message = String(err);
  if (!code) return message || 'unknown error';
  return message && !message.includes(code) ? `${code}: ${message}` : message || code;
}
