import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { StoredCredentials } from '#app/auth/stored-credentials.js';
import type { GatewayEntry } from '#app/catalog/catalog-snapshot.js';
import { CatalogSnapshotService } from '#app/catalog/catalog-snapshot.service.js';
import type { AppConfig } from '#app/config/app-config.js';
import { APP_CONFIG } from '#app/config/config.module.js';
import { UpstreamSession, type UpstreamSessionHooks } from './upstream-session.js';

/** How often sessions of deleted, deactivated or edited gateways are closed. */
const PRUNE_INTERVAL_MS = 10_000;

/**
 * This worker's sessions to the upstream MCP servers, one per gateway, reused by every call
 * (never an `initialize` per tool call). A gateway edit (new revision: URL, transport,
 * credentials) replaces its session; a deleted or deactivated gateway's session is closed.
 */
@Injectable()
export class UpstreamClientPool implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('UpstreamClientPool');
  private readonly sessions = new Map<string, UpstreamSession>();
  private hooks: UpstreamSessionHooks = { listChanged: () => undefined, resourceUpdated: () => undefined };
  private pruneTimer: NodeJS.Timeout | null = null;
  private stopListening: (() => void) | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(StoredCredentials) private readonly credentials: StoredCredentials,
    @Inject(CatalogSnapshotService) private readonly catalog: CatalogSnapshotService,
  ) {}

  onModuleInit(): void {
    this.stopListening = this.catalog.onChange(() => this.prune());
    this.pruneTimer = setInterval(() => this.prune(), PRUNE_INTERVAL_MS);
    this.pruneTimer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopListening?.();
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    await Promise.allSettled([...this.sessions.values()].map((s) => s.close()));
    this.sessions.clear();
  }

  /** Where upstream notifications go (set once by UpstreamNotifications). */
  setHooks(hooks: UpstreamSessionHooks): void {
    this.hooks = hooks;
  }

  /** The pooled session of this gateway revision. */
  session(gateway: GatewayEntry): UpstreamSession {
    const existing = this.sessions.get(gateway.id);
    if (existing && existing.gateway.revision === gateway.revision) return existing;
    if (existing) void existing.close();
    const session = this.create(gateway);
    this.sessions.set(gateway.id, session);
    return session;
  }

  /** A session outside the pool (registration, refresh of an edited gateway); the caller closes it. */
  detached(gateway: GatewayEntry): UpstreamSession {
    return this.create(gateway);
  }

  private create(gateway: GatewayEntry): UpstreamSession {
    return new UpstreamSession(gateway, {
      headers: this.credentials.headers(gateway.auth),
      connectTimeoutMs: this.config.federation.connectTimeoutMs,
      hooks: {
        listChanged: (id) => this.hooks.listChanged(id),
        resourceUpdated: (id, uri) => this.hooks.resourceUpdated(id, uri),
      },
    });
  }

  private prune(): void {
    const gateways = this.catalog.current.gateways;
    for (const [id, session] of this.sessions) {
      const gateway = gateways.get(id);
      if (!gateway || gateway.revision !== session.gateway.revision) {
        this.sessions.delete(id);
        void session.close().catch((error: Error) => this.log.warn(`closing ${session.gateway.name}: ${error.message}`));
      }
    }
  }
}
