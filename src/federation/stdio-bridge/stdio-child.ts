/**
 * One stdio MCP server run as a child process: spawned through `/bin/sh -c` in its own process
 * group, stdout framed as newline-delimited JSON-RPC, restarted with exponential backoff when it
 * dies. Two guarantees the bridge builds on: a request written to the child always gets an answer
 * (a synthesized -32603 when the child dies first), and no process of the group outlives us.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, type JsonRpcErrorObject, type JsonRpcId } from '#app/mcp/mcp-types.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type Logger = (level: LogLevel, message: string) => void;

/** Any JSON-RPC 2.0 message; which fields are set tells a request, notification or response. */
export interface JsonRpcMessage {
  jsonrpc: '2.0';
  id?: JsonRpcId | null;
  method?: string;
  params?: Record<string, unknown>;
  result?: unknown;
  error?: JsonRpcErrorObject;
}

export type ChildState = 'idle' | 'running' | 'restarting' | 'stopped';

export interface StdioChildOptions {
  /** Shell command line, run as `/bin/sh -c <command>`. */
  command: string;
  cwd?: string;
  /** Defaults to our own environment (spawn's default). */
  env?: NodeJS.ProcessEnv;
  onMessage: (message: JsonRpcMessage) => void;
  /** Each (re)spawn; the child needs a fresh `initialize`. */
  onSpawn?: (pid: number) => void;
  /** An unexpected exit, before in-flight requests are failed. `restartInMs` is null when stopping. */
  onExit?: (exit: { code: number | null; signal: NodeJS.Signals | null; restartInMs: number | null }) => void;
  log?: Logger;
  /** Where the child's stderr goes (default: our stderr). */
  stderr?: Writable;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A child that stayed up this long restarts after `initialBackoffMs` again. */
  resetBackoffAfterMs?: number;
  /** SIGTERM → SIGKILL delay. */
  killGraceMs?: number;
  /** A longer stdout line cannot be framed; the child is restarted rather than left half-read. */
  maxLineBytes?: number;
  /** Refuse writes while this much is already queued on the child's stdin. */
  maxStdinBufferBytes?: number;
}

const DEFAULTS = {
  initialBackoffMs: 250,
  maxBackoffMs: 10_000,
  resetBackoffAfterMs: 30_000,
  killGraceMs: 2_000,
  maxLineBytes: 32 * 1024 * 1024,
  maxStdinBufferBytes: 16 * 1024 * 1024,
};

export const CHILD_EXITED_MESSAGE = 'stdio server exited';

export class StdioChild {
  private readonly opts: StdioChildOptions & typeof DEFAULTS;
  private readonly log: Logger;
  private proc: ChildProcessWithoutNullStreams | null = null;
  private state: ChildState = 'idle';
  private backoffMs: number;
  private startedAt = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  /** Ids of requests written to the current process and not answered yet. */
  private readonly inFlight = new Set<JsonRpcId>();
  private stopRequested = false;
  private stopped: Promise<void> | null = null;
  private resolveStopped: (() => void) | null = null;
  // A synchronous hook: on our own exit there is no time for anything but SIGKILL.
  private readonly killOnExit = (): void => {
    if (this.proc?.pid) killGroup(this.proc.pid, 'SIGKILL');
  };

  constructor(options: StdioChildOptions) {
    const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.opts = { ...DEFAULTS, ...defined } as StdioChildOptions & typeof DEFAULTS;
    this.log = options.log ?? ((level, message) => level !== 'debug' && level !== 'info' && process.stderr.write(`${message}\n`));
    this.backoffMs = this.opts.initialBackoffMs;
  }

  get status(): ChildState {
    return this.state;
  }

  get pid(): number | null {
    return this.proc?.pid ?? null;
  }

  start(): void {
    if (this.state !== 'idle') throw new Error(`StdioChild already ${this.state}`);
    process.on('exit', this.killOnExit);
    this.spawnChild();
  }

  /** Writes one message; false when the child is not running or is not reading its stdin. */
  send(message: JsonRpcMessage): boolean {
    const proc = this.proc;
    if (this.state !== 'running' || !proc || !proc.stdin.writable) return false;
    if (proc.stdin.writableLength > this.opts.maxStdinBufferBytes) return false;
    if (message.method !== undefined && message.id !== undefined && message.id !== null) this.inFlight.add(message.id);
    // A cancelled request may never be answered; forget it so the set stays bounded.
    if (message.method === 'notifications/cancelled') {
      const requestId = message.params?.requestId;
      if (typeof requestId === 'string' || typeof requestId === 'number') this.inFlight.delete(requestId);
    }
    proc.stdin.write(`${JSON.stringify(message)}\n`);
    return true;
  }

  /** Kills the current process; the normal crash path then fails its requests and respawns it. */
  restart(reason: string): void {
    if (!this.proc?.pid || this.stopRequested) return;
    this.log('warn', `restarting stdio server: ${reason}`);
    killGroup(this.proc.pid, 'SIGKILL');
  }

  /**
   * SIGTERM to the whole group, SIGKILL to whatever is left of it after the grace period;
   * resolves once the child is gone.
   */
  stop(): Promise<void> {
    this.stopRequested = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const proc = this.proc;
    if (!proc?.pid) {
      this.state = 'stopped';
      process.off('exit', this.killOnExit);
      return Promise.resolve();
    }
    this.stopped ??= this.terminate(proc, proc.pid);
    return this.stopped;
  }

  private async terminate(proc: ChildProcessWithoutNullStreams, pid: number): Promise<void> {
    const closed = new Promise<void>((resolve) => (this.resolveStopped = resolve));
    const deadline = Date.now() + this.opts.killGraceMs;
    proc.stdin.end();
    killGroup(pid, 'SIGTERM');
    // The leader may exit before the rest of its group: wait for both, up to the deadline.
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise<void>((resolve) => (grace = setTimeout(resolve, this.opts.killGraceMs)))]);
    clearTimeout(grace);
    while (groupAlive(pid) && Date.now() < deadline) await sleep(50);
    killGroup(pid, 'SIGKILL');
    await closed;
    // SIGKILL is delivered at once but takes effect asynchronously: stop() means "gone".
    const killDeadline = Date.now() + 2_000;
    while (groupAlive(pid) && Date.now() < killDeadline) await sleep(10);
  }

  private spawnChild(): void {
    const proc = spawn('/bin/sh', ['-c', this.opts.command], {
      cwd: this.opts.cwd,
      env: this.opts.env,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.proc = proc;
    this.state = 'running';
    this.startedAt = Date.now();
    const lines = new LineSplitter(
      this.opts.maxLineBytes,
      (line) => this.onLine(line),
      () => this.restart(`it wrote a stdout line over ${this.opts.maxLineBytes} bytes`),
    );
    proc.stdout.on('data', (chunk: Buffer) => lines.push(chunk));
    proc.stdout.on('end', () => lines.end());
    proc.stderr.pipe(this.opts.stderr ?? process.stderr, { end: false });
    proc.stdin.on('error', (error) => this.log('debug', `stdio server stdin: ${error.message}`));
    proc.once('error', (error) => this.log('error', `stdio server: ${error.message}`));
    proc.once('exit', () => this.reapGroup(proc));
    proc.once('close', (code, signal) => this.onClose(proc, code, signal));
    if (proc.pid) {
      this.log('info', `stdio server started (pid ${proc.pid}): ${this.opts.command}`);
      this.opts.onSpawn?.(proc.pid);
    }
  }

  /**
   * The shell (group leader) is gone, but what it started may live on and hold our pipes, which
   * would keep `close` from firing. After a crash nothing of the group deserves grace.
   */
  private reapGroup(proc: ChildProcessWithoutNullStreams): void {
    const pid = proc.pid;
    if (!pid) return;
    if (!this.stopRequested) killGroup(pid, 'SIGKILL');
    // A process that left our group (setsid) could still hold the pipes: stop waiting for it.
    const timer = setTimeout(() => {
      proc.stdout.destroy();
      proc.stderr.destroy();
    }, this.opts.killGraceMs);
    timer.unref();
    proc.once('close', () => clearTimeout(timer));
  }

  private onClose(proc: ChildProcessWithoutNullStreams, code: number | null, signal: NodeJS.Signals | null): void {
    if (proc !== this.proc) return;
    this.proc = null;
    const failed = [...this.inFlight];
    this.inFlight.clear();
    let restartInMs: number | null = null;
    if (this.stopRequested) {
      this.state = 'stopped';
      process.off('exit', this.killOnExit);
      this.log('info', `stdio server stopped (${signal ?? `code ${code}`})`);
    } else {
      if (Date.now() - this.startedAt >= this.opts.resetBackoffAfterMs) this.backoffMs = this.opts.initialBackoffMs;
      restartInMs = this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxBackoffMs);
      this.state = 'restarting';
      this.log('warn', `stdio server exited (${signal ?? `code ${code}`}); restarting in ${restartInMs} ms`);
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        if (!this.stopRequested) this.spawnChild();
      }, restartInMs);
    }
    this.opts.onExit?.({ code, signal, restartInMs });
    for (const id of failed) {
      this.deliver({ jsonrpc: '2.0', id, error: { code: ErrorCode.InternalError, message: CHILD_EXITED_MESSAGE } });
    }
    if (this.state === 'stopped') this.resolveStopped?.();
  }

  private onLine(line: Buffer): void {
    const text = line.toString('utf8').trim();
    if (!text) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.log('warn', `skipping non-JSON stdout line from stdio server: ${preview(text)}`);
      return;
    }
    for (const item of Array.isArray(parsed) ? parsed : [parsed]) {
      if (!isJsonRpcMessage(item)) {
        this.log('warn', `skipping non-JSON-RPC stdout line from stdio server: ${preview(text)}`);
        continue;
      }
      if (item.method === undefined && item.id !== undefined && item.id !== null) this.inFlight.delete(item.id);
      this.deliver(item);
    }
  }

  private deliver(message: JsonRpcMessage): void {
    try {
      this.opts.onMessage(message);
    } catch (error) {
      this.log('error', `handling a stdio server message failed: ${error instanceof Error ? error.stack : String(error)}`);
    }
  }
}

export function isJsonRpcMessage(value: unknown): value is JsonRpcMessage {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const m = value as Record<string, unknown>;
  if (m.jsonrpc !== '2.0') return false;
  const idOk = m.id === undefined || m.id === null || typeof m.id === 'string' || typeof m.id === 'number';
  const paramsOk = m.params === undefined || (typeof m.params === 'object' && m.params !== null);
  if (typeof m.method === 'string') return idOk && m.id !== null && paramsOk;
  return m.method === undefined && idOk && m.id !== undefined && ('result' in m || (typeof m.error === 'object' && m.error !== null));
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/** Whether any process of the group still runs (zombies do not count). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  if (process.platform !== 'linux') return true;
  // An orphaned zombie passes kill(0) until init reaps it, and some inits (containers) never do.
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue;
      }
      // "pid (comm) state ppid pgrp …": comm may contain spaces and parentheses.
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z') return true;
    }
    return false;
  } catch {
    return true;
  }
}

function preview(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** Splits a byte stream into lines, never holding more than `maxBytes` of one line. */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private skipping = false;

  constructor(
    private readonly maxBytes: number,
    private readonly onLine: (line: Buffer) => void,
    private readonly onOverflow: () => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    let nl: number;
    while ((nl = chunk.indexOf(0x0a, start)) !== -1) {
      this.append(chunk.subarray(start, nl));
      if (!this.skipping) this.onLine(this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts));
      this.reset();
      start = nl + 1;
    }
    if (start < chunk.length) this.append(chunk.subarray(start));
  }

  /** The stream ended: a last line without a newline still counts. */
  end(): void {
    if (this.size > 0 && !this.skipping) this.onLine(Buffer.concat(this.parts));
    this.reset();
  }

  private append(piece: Buffer): void {
    if (this.skipping || piece.length === 0) return;
    this.size += piece.length;
    if (this.size > this.maxBytes) {
      this.skipping = true;
      this.parts = [];
      this.onOverflow();
      return;
    }
    this.parts.push(piece);
  }

  private reset(): void {
    this.parts = [];
    this.size = 0;
    this.skipping = false;
  }
}
