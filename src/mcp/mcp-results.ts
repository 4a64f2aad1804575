import { CACHEABLE_METHODS, META, SERVER_INFO } from './protocol.js';

/** A pre-serialized JSON result: written into the response as is (the list fast path). */
export class RawResult {
  constructor(readonly json: string) {}
}

/** 2026-07-28 results say what they are, may be cached (never across principals), and name the server. */
export function decorateModern(method: string, result: unknown): unknown {
  const r = { ...(result as Record<string, unknown>) };
  r.resultType ??= 'complete';
  if (CACHEABLE_METHODS.has(method)) {
    r.ttlMs ??= 0;
    r.cacheScope ??= 'private';
  }
  r._meta = { ...((r._meta as Record<string, unknown>) ?? {}), [META.serverInfo]: SERVER_INFO };
  return r;
}
