import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { ProtocolError } from '@modelcontextprotocol/client';
import type { MessageBus, Unsubscribe } from '#app/cache/message-bus.js';
import { ErrorCode } from './mcp-types.js';

/** Bus channel on which a client's answer reaches the worker that asked. */
const ANSWER_CHANNEL = 'mcp.client-answer';
const ID_PREFIX = 'gw-';

interface Pending {
  sessionKey: string;
  resolve(result: Record<string, unknown>): void;
  reject(error: Error): void;
}

/**
 * The server-to-client requests this worker has sent (sampling, elicitation, roots relayed from
 * an upstream), waiting for the client's answer. The answer is POSTed to whichever worker the
 * load balancer picks: a worker that did not ask publishes it on the bus, and the one that did
 * settles it. Ids are ours (`gw-<worker>-<n>`), unique across the cluster and never confused
 * with the client's own request ids; an answer is only taken from the session it was asked on.
 */
export class ClientRequests {
  private readonly log = new Logger('ClientRequests');
  private readonly worker = randomUUID().slice(0, 8);
  private seq = 0;
  private readonly pending = new Map<string, Pending>();
  private unsubscribe: Unsubscribe | null = null;

  constructor(
    private readonly bus: MessageBus,
    private readonly timeoutMs: number,
  ) {}

  async start(): Promise<void> {
    this.unsubscribe = await this.bus.subscribe(ANSWER_CHANNEL, (m) => {
      const { s, m: message } = m as { s?: string; m?: Record<string, unknown> };
      if (typeof s === 'string' && message) this.settle(s, message);
    });
  }

  async stop(): Promise<void> {
    await this.unsubscribe?.().catch(() => undefined);
    for (const p of this.pending.values()) p.reject(new Error('the gateway worker is shutting down'));
    this.pending.clear();
  }

  /**
   * Sends `method` to the client through `send` (its stream, its socket, its session log) and
   * resolves with the client's result. Rejects on the client's error, on `signal`, or after the
   * timeout; the client is then told to stop with notifications/cancelled.
   */
  request(
    sessionKey: string,
    send: (message: Record<string, unknown>) => void | Promise<void>,
    method: string,
    params: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>> {
    const id = `${ID_PREFIX}${this.worker}-${++this.seq}`;
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.pending.delete(id);
      };
      const giveUp = (reason: string) => {
        cleanup();
        void Promise.resolve(send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason } })).catch(() => undefined);
        reject(new ProtocolError(ErrorCode.InternalError, `${method}: ${reason}`));
      };
      const onAbort = () => giveUp('the request that asked was cancelled');
      const timer = setTimeout(() => giveUp(`the client did not answer within ${this.timeoutMs} ms`), this.timeoutMs);
      timer.unref();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        sessionKey,
        resolve: (r) => (cleanup(), resolve(r)),
        reject: (e) => (cleanup(), reject(e)),
      });
      Promise.resolve(send({ jsonrpc: '2.0', id, method, params })).catch((error: Error) => this.pending.get(id)?.reject(error));
    });
  }

  /** A response the client sent on `sessionKey`: settled here, or passed to the worker that asked. */
  accept(sessionKey: string, message: Record<string, unknown>): void {
    const id = message.id;
    if (typeof id !== 'string' || !id.startsWith(ID_PREFIX)) return; // not an answer to us
    if (this.settle(sessionKey, message)) return;
    this.bus.publish(ANSWER_CHANNEL, { s: sessionKey, m: message }).catch((error: Error) => this.log.warn(`client answer not published: ${error.message}`));
  }

  private settle(sessionKey: string, message: Record<string, unknown>): boolean {
    const pending = this.pending.get(message.id as string);
    if (!pending || pending.sessionKey !== sessionKey) return false;
    const error = message.error as { code?: unknown; message?: unknown; data?: unknown } | undefined;
    if (error && typeof error === 'object') {
      pending.reject(new ProtocolError(typeof error.code === 'number' ? error.code : ErrorCode.InternalError, String(error.message ?? 'client error'), error.data));
    } else {
      const result = message.result;
      pending.resolve(result && typeof result === 'object' && !Array.isArray(result) ? (result as Record<string, unknown>) : {});
    }
    return true;
  }
}
