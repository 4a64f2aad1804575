import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { MessageBus, type Unsubscribe } from '#app/cache/message-bus.js';
import type { AppConfig } from '#app/config/app-config.js';
import { APP_CONFIG } from '#app/config/config.module.js';
import { ErrorCode, McpError } from '#app/mcp/mcp-types.js';
import type { InputMethod } from './upstream-relay.js';

/** Bus channels: a retry that landed on another worker, and the owner's answer. */
const RESUME_CHANNEL = 'mcp.mrtr.resume';
const OUTCOME_CHANNEL = 'mcp.mrtr.outcome';
const STATE_PREFIX = 'gw1.';
/** A finished call whose outcome no retry has collected yet is kept this long. */
const FINISHED_GRACE_MS = 60_000;

interface Waiting {
  method: InputMethod;
  params: Record<string, unknown>;
  sent: boolean;
  resolve(answer: Record<string, unknown>): void;
  reject(error: Error): void;
}

/** What the downstream request waiting on a parked call gets next. */
export type RoundOutcome =
  | { kind: 'result'; value: unknown }
  | { kind: 'error'; code: number; message: string; data?: unknown }
  | { kind: 'input'; inputRequests: Record<string, { method: InputMethod; params: Record<string, unknown> }>; requestState: string };

/** The downstream request waiting on a parked call's next outcome. */
export interface RoundListener {
  /** Aborts the upstream call when the waiting downstream request goes away. */
  readonly signal?: AbortSignal;
}

interface StatePayload {
  p: string;
  w: string;
  u: string;
  e: number;
}

/**
 * One upstream call parked for a 2026-07-28 client: the upstream asked for input (sampling,
 * elicitation, roots) and waits, while the client got `input_required` and will retry.
 */
class ParkedCall {
  readonly controller = new AbortController();
  readonly waiting = new Map<string, Waiting>();
  private seq = 0;
  private outcome: RoundOutcome | null = null;
  private taker: ((o: RoundOutcome) => void) | null = null;
  private flushScheduled = false;
  private answerTimer: NodeJS.Timeout | null = null;
  finished = false;

  constructor(
    readonly id: string,
    readonly principal: string,
    private readonly state: () => string,
    private readonly answerTimeoutMs: number,
    private readonly onDone: () => void,
  ) {}

  /** Called (through the relay context) when the upstream asks the client something. */
  ask(method: InputMethod, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      this.waiting.set(`input-${++this.seq}`, { method, params, sent: false, resolve, reject });
      this.scheduleFlush();
    });
  }

  /** The client's retry brought answers: hand them to the upstream's waiting requests. */
  answer(responses: Record<string, unknown>): void {
    if (this.answerTimer) clearTimeout(this.answerTimer);
    this.answerTimer = null;
    for (const [key, w] of this.waiting) {
      const response = responses[key];
      if (response && typeof response === 'object' && !Array.isArray(response)) {
        this.waiting.delete(key);
        w.resolve(response as Record<string, unknown>);
      } else {
        w.sent = false; // not answered: ask again
      }
    }
    if (this.waiting.size > 0) this.scheduleFlush();
  }

  finish(outcome: RoundOutcome): void {
    this.finished = true;
    for (const w of this.waiting.values()) w.reject(new Error('the call ended'));
    this.waiting.clear();
    this.emit(outcome);
    setTimeout(() => this.onDone(), FINISHED_GRACE_MS).unref();
  }

  /** The next thing to tell the downstream request: a result, an error, or input to gather. */
  next(listener: RoundListener): Promise<RoundOutcome> {
    if (this.outcome) return Promise.resolve(this.take());
    return new Promise((resolve) => {
      const onAbort = () => this.controller.abort(listener.signal?.reason);
      listener.signal?.addEventListener('abort', onAbort, { once: true });
      this.taker = (o) => {
        listener.signal?.removeEventListener('abort', onAbort);
        resolve(o);
      };
    });
  }

  private take(): RoundOutcome {
    const o = this.outcome as RoundOutcome;
    this.outcome = null;
    if (o.kind !== 'input') this.onDone();
    return o;
  }

  private emit(outcome: RoundOutcome): void {
    this.outcome = outcome;
    const taker = this.taker;
    this.taker = null;
    if (taker) taker(this.take());
  }

  /** Batches the requests an upstream makes together into one `input_required` round. */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      if (this.finished) return;
      const unsent = [...this.waiting].filter(([, w]) => !w.sent);
      if (unsent.length === 0) return;
      const inputRequests: Record<string, { method: InputMethod; params: Record<string, unknown> }> = {};
      for (const [key, w] of this.waiting) {
        w.sent = true;
        inputRequests[key] = { method: w.method, params: w.params };
      }
      this.answerTimer = setTimeout(() => {
        for (const w of this.waiting.values()) w.reject(new Error('the client did not answer the input request in time'));
        this.waiting.clear();
      }, this.answerTimeoutMs);
      this.answerTimer.unref();
      this.emit({ kind: 'input', inputRequests, requestState: this.state() });
    });
  }
}

/**
 * Multi-round-trip requests (2026-07-28 MRTR) for federated calls: when an upstream asks for
 * client input while serving a 2026-07-28 client, the upstream call is parked on this worker and
 * the client gets `input_required` with a signed `requestState`. The retry (a new request, on
 * any worker) carries the answers: here they go straight to the parked call; on another worker
 * they travel over the bus to this one, and the outcome comes back the same way.
 *
 * `requestState` is hostile input: it is HMAC-signed, bound to the principal, and expires.
 */
@Injectable()
export class InputRounds implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('InputRounds');
  private readonly worker = randomUUID().slice(0, 12);
  private readonly parked = new Map<string, ParkedCall>();
  private readonly awaitingOutcome = new Map<string, (o: RoundOutcome) => void>();
  private readonly key: Buffer;
  private unsubscribe: Unsubscribe[] = [];

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(MessageBus) private readonly bus: MessageBus,
  ) {
    this.key = createHmac('sha256', config.auth.encryptionSecret).update('mcp-gateway/mrtr-request-state').digest();
  }

  async onModuleInit(): Promise<void> {
    this.unsubscribe.push(
      await this.bus.subscribe(RESUME_CHANNEL, (m) => void this.onRemoteResume(m as RemoteResume)),
      await this.bus.subscribe(OUTCOME_CHANNEL, (m) => {
        const { to, rid, outcome } = m as { to?: string; rid?: string; outcome?: RoundOutcome };
        if (to === this.worker && rid) this.awaitingOutcome.get(rid)?.(outcome as RoundOutcome);
      }),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    for (const u of this.unsubscribe) await u().catch(() => undefined);
    for (const call of this.parked.values()) call.controller.abort(new Error('the gateway worker is shutting down'));
  }

  /** Whether these params continue a round this gateway started. */
  isRetry(params: Record<string, unknown>): boolean {
    return typeof params.requestState === 'string' && params.requestState.startsWith(STATE_PREFIX);
  }

  /**
   * Runs `start` (the upstream call) as a parkable call. `ask` is what the relay context calls
   * when the upstream wants client input.
   */
  async begin(
    principal: string,
    listener: RoundListener,
    start: (ask: ParkedCall['ask'], signal: AbortSignal) => Promise<unknown>,
  ): Promise<RoundOutcome> {
    const id = randomUUID();
    const timeoutMs = this.config.tools.timeoutMs;
    const call: ParkedCall = new ParkedCall(id, principal, () => this.seal({ p: id, w: this.worker, u: principal, e: Date.now() + timeoutMs }), timeoutMs, () => this.parked.delete(id));
    this.parked.set(id, call);
    start((method, params) => call.ask(method, params), call.controller.signal).then(
      (value) => call.finish({ kind: 'result', value }),
      (error: unknown) => call.finish(toErrorOutcome(error)),
    );
    return call.next(listener);
  }

  /** Continues a parked call with the client's answers, wherever it is parked. */
  async resume(principal: string, params: Record<string, unknown>, listener: RoundListener): Promise<RoundOutcome> {
    const state = this.open(params.requestState as string, principal);
    const responses = params.inputResponses && typeof params.inputResponses === 'object' ? (params.inputResponses as Record<string, unknown>) : {};
    if (state.w === this.worker) return this.resumeLocal(state.p, principal, responses, listener);
    const rid = randomUUID();
    const outcome = new Promise<RoundOutcome>((resolve) => {
      const timer = setTimeout(() => {
        this.awaitingOutcome.delete(rid);
        resolve({ kind: 'error', code: ErrorCode.UpstreamUnavailable, message: 'the gateway worker holding this call did not answer; retry the call without requestState' });
      }, this.config.tools.timeoutMs);
      this.awaitingOutcome.set(rid, (o) => {
        clearTimeout(timer);
        this.awaitingOutcome.delete(rid);
        resolve(o);
      });
    });
    await this.bus.publish(RESUME_CHANNEL, { to: state.w, from: this.worker, rid, p: state.p, u: principal, r: responses });
    return outcome;
  }

  private resumeLocal(id: string, principal: string, responses: Record<string, unknown>, listener: RoundListener): Promise<RoundOutcome> {
    const call = this.parked.get(id);
    if (!call || call.principal !== principal) {
      return Promise.resolve({ kind: 'error', code: ErrorCode.InvalidParams, message: 'requestState refers to a call that has ended or expired; retry the call without it' });
    }
    call.answer(responses);
    return call.next(listener);
  }

  private async onRemoteResume(m: RemoteResume): Promise<void> {
    if (m.to !== this.worker || typeof m.p !== 'string' || typeof m.u !== 'string') return;
    const outcome = await this.resumeLocal(m.p, m.u, m.r ?? {}, {});
    await this.bus.publish(OUTCOME_CHANNEL, { to: m.from, rid: m.rid, outcome }).catch((error: Error) => this.log.warn(`MRTR outcome not published: ${error.message}`));
  }

  private seal(payload: StatePayload): string {
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${STATE_PREFIX}${body}.${createHmac('sha256', this.key).update(body).digest('base64url')}`;
  }

  private open(state: string, principal: string): StatePayload {
    const invalid = (why: string) => new McpError(ErrorCode.InvalidParams, `invalid requestState: ${why}`);
    const [body, mac] = state.slice(STATE_PREFIX.length).split('.');
    if (!body || !mac) throw invalid('malformed');
    const expected = createHmac('sha256', this.key).update(body).digest();
    const given = Buffer.from(mac, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid('signature mismatch');
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString()) as StatePayload;
    if (payload.u !== principal) throw invalid('issued to another principal');
    if (payload.e < Date.now()) throw invalid('expired; retry the call without it');
    return payload;
  }
}

interface RemoteResume {
  to?: string;
  from?: string;
  rid?: string;
  p?: string;
  u?: string;
  r?: Record<string, unknown>;
}

function toErrorOutcome(error: unknown): RoundOutcome {
  if (error instanceof McpError) return { kind: 'error', code: error.code, message: error.message, data: error.data };
  return { kind: 'error', code: ErrorCode.InternalError, message: error instanceof Error ? error.message : String(error) };
}
