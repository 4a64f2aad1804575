import { AsyncLocalStorage } from 'node:async_hooks';

/** The server-to-client requests an upstream may send while it serves a call. */
export type InputMethod = 'sampling/createMessage' | 'elicitation/create' | 'roots/list';

/**
 * The downstream request an upstream call is serving. The upstream's requests and notifications
 * that belong to the call (sampling, elicitation, roots, log messages) reach the SDK client's
 * handlers inside the call's async context, so they find their way back to the right client
 * through `relayContext` without any id bookkeeping of ours.
 */
export interface RelayTarget {
  /** Downstream headers to forward (the gateway's `passthrough_headers`), or null. */
  readonly passthrough: Record<string, string> | null;
  /** Tracing on: W3C trace context of the upstream-call span, for the HTTP headers and `_meta`; else null. */
  readonly traceHeaders: Record<string, string> | null;
  /** Asks the downstream client (a real request, or an `input_required` round) and returns its answer. */
  requestInput(method: InputMethod, params: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Forwards a `notifications/message` if the downstream's log level lets it through. */
  log(params: Record<string, unknown>): void;
}

export const relayContext = new AsyncLocalStorage<RelayTarget>();
