import { Logger } from '@nestjs/common';
import {
  Client,
  ProtocolError,
  SSEClientTransport,
  StreamableHTTPClientTransport,
  type FetchLike,
  type Transport,
} from '@modelcontextprotocol/client';
import type { GatewayEntry } from '#app/catalog/catalog-snapshot.js';
import { SERVER_INFO } from '#app/mcp/protocol.js';
import { upstreamFetch } from './upstream-fetch.js';
import { relayContext, type InputMethod } from './upstream-relay.js';
import { WebSocketClientTransport } from './websocket-client.transport.js';

/** What the gateway tells every upstream it can do; each request is then checked per client. */
const CLIENT_CAPABILITIES = { sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: true } };
const INPUT_METHODS: InputMethod[] = ['sampling/createMessage', 'elicitation/create', 'roots/list'];
const LIST_CHANGED = ['notifications/tools/list_changed', 'notifications/prompts/list_changed', 'notifications/resources/list_changed'] as const;

const BACKOFF_BASE_MS = 250;
const BACKOFF_MAX_MS = 30_000;

export interface UpstreamSessionHooks {
  /** The upstream changed a list: its catalog should be refreshed. */
  listChanged(gatewayId: string): void;
  /** A resource the gateway subscribed to changed upstream. */
  resourceUpdated(gatewayId: string, uri: string): void;
}

export interface UpstreamSessionOptions {
  /** Headers every request carries (the gateway's credentials). */
  headers: Record<string, string>;
  connectTimeoutMs: number;
  hooks: UpstreamSessionHooks;
}

/** A failure to reach or talk to an upstream, with a message fit for the API or a tool result. */
export class UpstreamUnavailableError extends Error {
  constructor(
    readonly gatewayName: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * One pooled, long-lived MCP session to one upstream (one revision of a gateway), made with the
 * official SDK v2 client: it negotiates 2026-07-28 over Streamable HTTP and falls back to the
 * 2025 era. Connected on first use and reused by every call; after the connection drops, the
 * next use reconnects, no sooner than an exponential backoff allows (calls in between fail fast
 * with the last error). Resource subscriptions are renewed after a reconnect.
 */
export class UpstreamSession {
  private readonly log: Logger;
  private client: Client | null = null;
  private connecting: Promise<Client> | null = null;
  private failures = 0;
  private retryAt = 0;
  private lastError: string | null = null;
  private closed = false;
  /**
   * Resource URIs subscribed upstream (2025: resources/subscribe; 2026: the listen filter), with
   * how many downstream subscriptions through this worker want each.
   */
  private readonly subscriptions = new Map<string, number>();
  private listening: { close(): Promise<void> } | null = null;

  constructor(
    readonly gateway: GatewayEntry,
    private readonly options: UpstreamSessionOptions,
  ) {
    this.log = new Logger(`Upstream ${gateway.name}`);
  }

  /** The connected client; connects (or reconnects) first if needed. */
  async get(options: { ignoreBackoff?: boolean } = {}): Promise<Client> {
    if (this.client) return this.client;
    if (this.closed) throw new UpstreamUnavailableError(this.gateway.name, `gateway "${this.gateway.name}" was reconfigured; retry`);
    if (this.connecting) return this.connecting;
    const wait = this.retryAt - Date.now();
    if (wait > 0 && !options.ignoreBackoff) {
      throw new UpstreamUnavailableError(this.gateway.name, `gateway "${this.gateway.name}" is unreachable (${this.lastError ?? 'connection failed'}); next attempt in ${Math.ceil(wait / 100) / 10}s`);
    }
    this.connecting = this.connect().finally(() => (this.connecting = null));
    return this.connecting;
  }

  /** A liveness check over this session (ping, or server/discover on 2026-07-28). */
  async ping(timeoutMs: number): Promise<void> {
    // The health check is the one caller that always really tries: it is how recovery is seen.
    const client = await this.get({ ignoreBackoff: true });
    if (client.getProtocolEra() === 'modern') await client.discover({ timeout: timeoutMs });
    else await client.ping({ timeout: timeoutMs });
  }

  /** Subscribes upstream on the first downstream subscription to `uri` through this worker. */
  async subscribe(uri: string, timeoutMs: number): Promise<void> {
    const count = this.subscriptions.get(uri) ?? 0;
    this.subscriptions.set(uri, count + 1);
    if (count > 0) return;
    try {
      const client = await this.get();
      if (client.getProtocolEra() === 'modern') await this.relisten(client);
      else await client.request({ method: 'resources/subscribe', params: { uri } }, { timeout: timeoutMs });
    } catch (error) {
      this.subscriptions.delete(uri);
      throw error;
    }
  }

  /** Unsubscribes upstream when the last downstream subscription through this worker goes. */
  async unsubscribe(uri: string, timeoutMs: number): Promise<void> {
    const count = this.subscriptions.get(uri) ?? 0;
    if (count > 1) return void this.subscriptions.set(uri, count - 1);
    if (!this.subscriptions.delete(uri)) return;
    const client = this.client;
    if (!client) return;
    if (client.getProtocolEra() === 'modern') await this.relisten(client);
    else await client.request({ method: 'resources/unsubscribe', params: { uri } }, { timeout: timeoutMs });
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = null;
    await this.listening?.close().catch(() => undefined);
    await client?.close().catch(() => undefined);
  }

  private async connect(): Promise<Client> {
    const { gateway } = this;
    const client = new Client(
      { name: SERVER_INFO.name, version: SERVER_INFO.version },
      {
        capabilities: CLIENT_CAPABILITIES,
        ...(gateway.transport === 'STREAMABLEHTTP'
          ? { versionNegotiation: { mode: 'auto' as const, probe: { timeoutMs: this.options.connectTimeoutMs } } }
          : {}),
      },
    );
    for (const method of INPUT_METHODS) {
      client.setRequestHandler(method, async (request) => {
        const target = relayContext.getStore();
        if (!target) throw new ProtocolError(-32603, `${method}: no downstream request of the gateway is waiting on this upstream`);
        const params = { ...((request.params ?? {}) as Record<string, unknown>) };
        // The upstream's own progress token means nothing downstream.
        if (params._meta && typeof params._meta === 'object') {
          const { progressToken: _drop, ...meta } = params._meta as Record<string, unknown>;
          if (Object.keys(meta).length > 0) params._meta = meta;
          else delete params._meta;
        }
        return (await target.requestInput(method, params)) as never;
      });
    }
    client.setNotificationHandler('notifications/message', (notification) => {
      relayContext.getStore()?.log(notification.params as Record<string, unknown>);
    });
    client.setNotificationHandler('notifications/resources/updated', (notification) => {
      const uri = (notification.params as { uri?: unknown }).uri;
      if (typeof uri === 'string') this.options.hooks.resourceUpdated(gateway.id, uri);
    });
    for (const method of LIST_CHANGED) client.setNotificationHandler(method, () => this.options.hooks.listChanged(gateway.id));

    try {
      await client.connect(this.transport(), { timeout: this.options.connectTimeoutMs });
      if (this.closed) {
        await client.close().catch(() => undefined);
        throw new UpstreamUnavailableError(gateway.name, `gateway "${gateway.name}" was reconfigured; retry`);
      }
      if (client.getProtocolEra() !== 'modern' && client.getServerCapabilities()?.logging) {
        // 2025 log levels are per session: take everything and filter per downstream client.
        await client.setLoggingLevel('debug').catch(() => undefined);
      }
      client.onclose = () => {
        if (this.client === client) {
          this.client = null;
          this.listening = null;
          this.log.warn('connection closed; the next call reconnects');
          if (this.subscriptions.size > 0 && !this.closed) this.reconnectSoon();
        }
      };
      this.client = client;
      this.failures = 0;
      this.lastError = null;
      await this.renewSubscriptions(client);
      return client;
    } catch (error) {
      await client.close().catch(() => undefined);
      this.failures++;
      this.lastError = describeConnectError(error);
      const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (this.failures - 1));
      this.retryAt = Date.now() + backoff * (0.5 + Math.random() / 2);
      if (error instanceof UpstreamUnavailableError) throw error;
      throw new UpstreamUnavailableError(gateway.name, `gateway "${gateway.name}" is unreachable: ${this.lastError}`);
    }
  }

  private reconnectSoon(): void {
    const delay = Math.max(BACKOFF_BASE_MS, this.retryAt - Date.now());
    setTimeout(() => {
      if (!this.closed && !this.client) this.get().catch(() => this.reconnectSoon());
    }, delay).unref();
  }

  private async renewSubscriptions(client: Client): Promise<void> {
    if (this.subscriptions.size === 0) return;
    if (client.getProtocolEra() === 'modern') return this.relisten(client);
    for (const uri of this.subscriptions.keys()) {
      await client.request({ method: 'resources/subscribe', params: { uri } }).catch((error: Error) => this.log.warn(`re-subscribe ${uri}: ${error.message}`));
    }
  }

  /** 2026-07-28 has no resources/subscribe: one listen stream carries list changes and the subscribed URIs. */
  private async relisten(client: Client): Promise<void> {
    const previous = this.listening;
    this.listening = await client.listen({
      toolsListChanged: true,
      promptsListChanged: true,
      resourcesListChanged: true,
      ...(this.subscriptions.size > 0 ? { resourceSubscriptions: [...this.subscriptions.keys()] } : {}),
    });
    await previous?.close().catch(() => undefined);
  }

  private transport(): Transport {
    const url = new URL(this.gateway.url);
    const headers = this.options.headers;
    // Credentials on every request (the SSE stream's GET included), plus the passthrough
    // headers of the downstream request the upstream call serves.
    const fetchWithHeaders: FetchLike = (input, init) => {
      const merged = new Headers(init?.headers);
      for (const [k, v] of Object.entries(headers)) if (!merged.has(k)) merged.set(k, v);
      const target = relayContext.getStore();
      if (target?.passthrough) for (const [k, v] of Object.entries(target.passthrough)) merged.set(k, v);
      if (target?.traceHeaders) for (const [k, v] of Object.entries(target.traceHeaders)) merged.set(k, v);
      return upstreamFetch(input, { ...init, headers: merged });
    };
    switch (this.gateway.transport) {
      case 'SSE':
        return new SSEClientTransport(url, { fetch: fetchWithHeaders });
      case 'WEBSOCKET':
        return new WebSocketClientTransport(url, { headers, handshakeTimeoutMs: this.options.connectTimeoutMs });
      default:
        return new StreamableHTTPClientTransport(url, { fetch: fetchWithHeaders });
    }
  }
}

/** One line on why a connection failed: the HTTP status or network error, not a stack. */
export function describeConnectError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  const causeText = cause instanceof Error ? ((cause as { code?: string }).code ?? cause.message) : undefined;
  const status = (error as { status?: number; data?: { status?: number } }).data?.status ?? (error as { status?: number }).status;
  const base = error.message.replace(/\s+/g, ' ').slice(0, 300);
  return [base, status ? `HTTP ${status}` : undefined, causeText && !base.includes(causeText) ? causeText : undefined].filter(Boolean).join('; ');
}
