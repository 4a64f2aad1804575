import { Readable } from 'node:stream';
import type { FetchLike } from '@modelcontextprotocol/client';
import { Agent, request } from 'undici';
import { injectTraceHeaders } from '#app/metrics/tracing.js';

/** Keep-alive connections to upstreams, shared by every pooled session of this worker. */
const agent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000, connections: 256 });

/**
 * The `fetch` the SDK client transports use to reach upstreams: undici's `request` on a
 * keep-alive agent, answered as a WHATWG `Response`. Node's global fetch spends most of a relayed
 * call's CPU on its stream and body machinery (profiled: ~40% of the gateway's time per
 * federated `tools/call`); a JSON reply is read whole here and handed over as a string, and only
 * event streams stay streams.
 */
export const upstreamFetch: FetchLike = async (input, init) => {
  const url = String(input);
  const headers: Record<string, string> = {};
  new Headers(init?.headers).forEach((value, key) => {
    headers[key] = value;
  });
  // Tracing on: a relayed call brings its span's traceparent (upstream-session); other requests
  // (discovery, health checks) carry the active context's, where it follows awaits.
  if (headers.traceparent === undefined) injectTraceHeaders(headers);
  const res = await request(url, {
    method: (init?.method ?? 'GET') as 'GET',
    headers,
    body: typeof init?.body === 'string' || init?.body instanceof Uint8Array ? init.body : init?.body ? String(init.body) : undefined,
    signal: init?.signal ?? undefined,
    dispatcher: agent,
  });
  const responseHeaders = new Headers();
  for (const [key, value] of Object.entries(res.headers)) {
    if (Array.isArray(value)) for (const v of value) responseHeaders.append(key, v);
    else if (value !== undefined) responseHeaders.set(key, value);
  }
  const type = responseHeaders.get('content-type') ?? '';
  // 204/304 and HEAD-like replies carry no body: a Response refuses one.
  if (res.statusCode === 204 || res.statusCode === 304) {
    await res.body.dump();
    return new Response(null, { status: res.statusCode, headers: responseHeaders });
  }
  if (type.includes('text/event-stream')) {
    return new Response(Readable.toWeb(res.body) as ReadableStream, { status: res.statusCode, headers: responseHeaders });
  }
  return new Response(await res.body.text(), { status: res.statusCode, headers: responseHeaders });
};
