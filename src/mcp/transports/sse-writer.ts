import type { ServerResponse } from 'node:http';

/**
 * Writes a Server-Sent Events stream on a raw response: the headers proxies need to not buffer
 * it, events with optional ids, and comment keep-alives. `closed` resolves when the client goes.
 */
export class SseWriter {
  /** Streams open in this process (for `sse_streams_open`). */
  static open = 0;
  readonly closed: Promise<void>;
  private ended = false;
  private keepalive: NodeJS.Timeout | null = null;

  constructor(
    private readonly res: ServerResponse,
    extraHeaders: Record<string, string> = {},
  ) {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      ...extraHeaders,
    });
    res.flushHeaders();
    SseWriter.open++;
    this.closed = new Promise((resolve) => res.once('close', () => {
      SseWriter.open--;
      this.ended = true;
      this.stopKeepalive();
      resolve();
    }));
  }

  get isOpen(): boolean {
    return !this.ended;
  }

  /** One event; `data` is already JSON (one line). */
  event(data: string, options: { id?: string; event?: string } = {}): boolean {
    if (this.ended) return false;
    let frame = '';
    if (options.event) frame += `event: ${options.event}\n`;
    if (options.id) frame += `id: ${options.id}\n`;
    frame += `data: ${data}\n\n`;
    return this.res.write(frame);
  }

  /** Sends a comment every `intervalMs` so idle proxies keep the connection; `tick` runs too. */
  startKeepalive(intervalMs: number, tick?: () => void): void {
    this.keepalive = setInterval(() => {
      if (!this.ended) this.res.write(': keepalive\n\n');
      tick?.();
    }, intervalMs);
    this.keepalive.unref();
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.stopKeepalive();
    this.res.end();
  }

  private stopKeepalive(): void {
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = null;
  }
}
