/**
 * The client side of MCP over WebSocket, for the official SDK v2 `Client`: the v2 client package
 * ships no WebSocket transport, and SDK v1's uses the browser API, which cannot send headers
 * (an upstream's `Authorization`). Wire format as our own `/ws` endpoint serves it: subprotocol
 * `mcp`, one JSON-RPC message per text frame.
 */
import type { IncomingMessage } from 'node:http';
import { parseJSONRPCMessage, type JSONRPCMessage, type Transport } from '@modelcontextprotocol/client';
import WebSocket, { type RawData } from 'ws';

const SUBPROTOCOL = 'mcp';
const NORMAL_CLOSURE = 1000;
/** What ws reports when the TCP connection ended without a closing handshake. */
const ABNORMAL_CLOSURE = 1006;
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** How long close() waits for the server's closing frame before cutting the TCP connection. */
const CLOSE_GRACE_MS = 2_000;

export interface WebSocketClientTransportOptions {
  /** Sent with the upgrade request, e.g. `authorization`. */
  headers?: Record<string, string>;
  /** Default 10 s: without one, a server that never answers the upgrade hangs start() forever. */
  handshakeTimeoutMs?: number;
  /** Largest frame accepted from the server, in bytes (ws default: 100 MiB). */
  maxPayload?: number;
}

export class WebSocketClientTransport implements Transport {
  onclose?: Transport['onclose'];
  onerror?: Transport['onerror'];
  onmessage?: Transport['onmessage'];

  private socket: WebSocket | null = null;
  private closeRequested = false;
  private closeNotified = false;
  /** Why the connection ended, for the error of a later send(). */
  private endReason: string | null = null;

  constructor(
    private readonly url: URL,
    private readonly options: WebSocketClientTransportOptions = {},
  ) {}

  start(): Promise<void> {
    if (this.socket) return Promise.reject(new Error('WebSocketClientTransport already started'));
    const socket = new WebSocket(this.url, SUBPROTOCOL, {
      headers: this.options.headers,
      handshakeTimeout: this.options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
      ...(this.options.maxPayload !== undefined ? { maxPayload: this.options.maxPayload } : {}),
    });
    this.socket = socket;

    return new Promise<void>((resolve, reject) => {
      let opened = false;
      let refusedWith: string | null = null;
      // With a listener here ws leaves the refused response to us; we keep its status, which its
      // own "Unexpected server response" error would only carry inside a message string.
      socket.on('unexpected-response', (_request, response: IncomingMessage) => {
        refusedWith = [response.statusCode, response.statusMessage].filter(Boolean).join(' ');
        response.resume();
        socket.terminate();
      });
      socket.once('open', () => {
        opened = true;
        resolve();
      });
      socket.on('error', (error) => {
        if (opened) return this.onerror?.(error);
        const message = refusedWith ? `WebSocket upgrade refused: ${refusedWith}` : `WebSocket connection to ${this.url.origin} failed: ${error.message}`;
        this.endReason = message;
        reject(new Error(message, { cause: error }));
      });
      socket.on('message', (data, isBinary) => this.receive(data, isBinary));
      socket.on('close', (code, reason) => {
        // Our own close() ends with 1000 (echoed) or 1006 (cut after the grace period). Any other
        // code is the server's, even when close() raced it: the SDK's Client calls close() when
        // initialize fails, right as a server's 1008 "unauthorized: …" is arriving.
        const ours = this.closeRequested && (code === NORMAL_CLOSURE || code === ABNORMAL_CLOSURE);
        if (opened && !ours) {
          const text = reason.toString();
          this.endReason = `WebSocket closed: ${code}${text ? ` ${text}` : ''}`;
          // The SDK fails pending requests with a bare "Connection closed": the code and reason
          // reach the owner only through onerror.
          if (code !== NORMAL_CLOSURE) this.onerror?.(new Error(this.endReason));
        }
        this.notifyClosed();
      });
    });
  }

  async send(message: JSONRPCMessage): Promise<void> {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      const why = !socket ? ': call start() first' : this.endReason ? ` (${this.endReason})` : socket.readyState === WebSocket.CONNECTING ? ' yet' : ' (closing)';
      throw new Error(`WebSocket is not open${why}`);
    }
    await new Promise<void>((resolve, reject) => socket.send(JSON.stringify(message), (error) => (error ? reject(error) : resolve())));
  }

  async close(): Promise<void> {
    this.closeRequested = true;
    this.endReason ??= 'closed by the client';
    const socket = this.socket;
    if (!socket || socket.readyState === WebSocket.CLOSED) return this.notifyClosed();
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    if (socket.readyState === WebSocket.CONNECTING) {
      socket.terminate(); // start() rejects: closed before the connection was established
    } else {
      socket.close(NORMAL_CLOSURE);
      const cut = setTimeout(() => socket.terminate(), CLOSE_GRACE_MS);
      cut.unref();
      void closed.then(() => clearTimeout(cut));
    }
    await closed;
  }

  private receive(data: RawData, isBinary: boolean): void {
    if (isBinary) return this.onerror?.(new Error('WebSocket: ignored a binary frame (MCP sends one JSON-RPC message per text frame)'));
    // Default binaryType: a text frame arrives as one Buffer, fragments already joined.
    const text = (data as Buffer).toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      return this.onerror?.(new Error(`WebSocket: ignored a frame that is not JSON (${(error as Error).message}): ${text.slice(0, 80)}`));
    }
    let message: JSONRPCMessage;
    try {
      message = parseJSONRPCMessage(json);
    } catch (error) {
      return this.onerror?.(new Error(`WebSocket: ignored a frame that is not a JSON-RPC message: ${text.slice(0, 80)}`, { cause: error }));
    }
    this.onmessage?.(message);
  }

  private notifyClosed(): void {
    if (this.closeNotified) return;
    this.closeNotified = true;
    this.onclose?.();
  }
}
