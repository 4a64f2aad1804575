import { AsyncLocalStorage } from 'node:async_hooks';
import { asyncContextFrameInUse } from '#app/common/async-context.js';

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

const storage = new AsyncLocalStorage<RelayTarget>();
/** Where AsyncLocalStorage costs every promise while enabled, it is disabled whenever no relay runs. */
const disableWhenIdle = !asyncContextFrameInUse();
let running = 0;

/**
 * The relay context of the upstream calls in flight. On Node 20/22, AsyncLocalStorage's promise
 * hooks, once on, would tax every request of the process after its first relayed call (measured:
 * a REST tools/call at about 80% of its throughput), so they are turned off again whenever no
 * relay is in flight. What runs after its relay has settled finds no target, and has none to find.
 */
export const relayContext = {
  async run<R>(target: RelayTarget, fn: () => Promise<R>): Promise<R> {
    running++;
    try {
      return await storage.run(target, fn);
    } finally {
      if (--running === 0 && disableWhenIdle) storage.disable();
    }
  },
  getStore(): RelayTarget | undefined {
    return storage.getStore();
  },
};
