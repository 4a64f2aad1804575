import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { MessageBus, type Unsubscribe } from '#app/cache/message-bus.js';
import { PromptRepository } from '#app/prompts/prompt.repository.js';
import { ResourceRepository } from '#app/resources/resource.repository.js';
import { ServerRepository } from '#app/servers/server.repository.js';
import { ToolRepository } from '#app/tools/tool.repository.js';
import { GatewayRepository } from '#app/federation/gateway.repository.js';
import { CATALOG_CHANGED } from './catalog-events.js';
import { CatalogSnapshot, type CatalogListKind } from './catalog-snapshot.js';

/** Coalesces a burst of change events into one reload. */
const RELOAD_DEBOUNCE_MS = 25;
/** Reloads this often even without events, in case an announcement was lost (e.g. Redis down). */
const RECONCILE_INTERVAL_MS = 30_000;

/** `changed`: lists whose content changed; `updatedUris`: resources edited in place. */
export type CatalogChangeListener = (change: { changed: CatalogListKind[]; updatedUris: string[]; snapshot: CatalogSnapshot }) => void;

/**
 * Holds this worker's catalog snapshot: loads it at start, rebuilds it when any worker
 * announces a catalog change on the bus (and every 30 s as a safety net), and swaps it in whole.
 * Listeners (the MCP sessions) learn which lists changed, to send `list_changed` notifications.
 */
@Injectable()
export class CatalogSnapshotService implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('CatalogSnapshot');
  private snapshot = CatalogSnapshot.empty();
  private readonly listeners = new Set<CatalogChangeListener>();
  private unsubscribe: Unsubscribe | null = null;
  private reconcileTimer: NodeJS.Timeout | null = null;
  private debounceTimer: NodeJS.Timeout | null = null;
  private reloading: Promise<void> | null = null;
  private dirty = false;

  constructor(
    @Inject(ToolRepository) private readonly tools: ToolRepository,
    @Inject(ResourceRepository) private readonly resources: ResourceRepository,
    @Inject(PromptRepository) private readonly prompts: PromptRepository,
    @Inject(ServerRepository) private readonly servers: ServerRepository,
    @Inject(GatewayRepository) private readonly gateways: GatewayRepository,
    @Inject(MessageBus) private readonly bus: MessageBus,
  ) {}

  /** The current snapshot. Hold on to it for the length of one request, not longer. */
  get current(): CatalogSnapshot {
    return this.snapshot;
  }

  onChange(listener: CatalogChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async onModuleInit(): Promise<void> {
    this.snapshot = await this.load(1);
    this.unsubscribe = await this.bus.subscribe(CATALOG_CHANGED, () => this.scheduleReload());
    this.reconcileTimer = setInterval(() => this.scheduleReload(), RECONCILE_INTERVAL_MS);
    this.reconcileTimer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    await this.unsubscribe?.().catch(() => undefined);
    await this.reloading;
  }

  /** Rebuilds now (tests and admin paths that need read-your-writes on this worker). */
  async refresh(): Promise<void> {
    this.dirty = true;
    while (this.dirty) {
      if (this.reloading) {
        await this.reloading;
        continue;
      }
      this.dirty = false;
      this.reloading = this.reload().finally(() => (this.reloading = null));
      await this.reloading;
    }
  }

  private scheduleReload(): void {
    if (this.debounceTimer) return;
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = null;
      void this.refresh();
    }, RELOAD_DEBOUNCE_MS);
    this.debounceTimer.unref();
  }

  private async reload(): Promise<void> {
    let next: CatalogSnapshot;
    try {
      next = await this.load(this.snapshot.version + 1);
    } catch (error) {
      this.log.warn(`could not reload the catalog, keeping version ${this.snapshot.version}: ${(error as Error).message}`);
      return;
    }
    const previous = this.snapshot;
    this.snapshot = next;
    const changed = next.changedSince(previous);
    const updatedUris = next.updatedResourcesSince(previous);
    if (changed.length === 0 && updatedUris.length === 0) return;
    for (const listener of this.listeners) {
      try {
        listener({ changed, updatedUris, snapshot: next });
      } catch (error) {
        this.log.warn(`catalog change listener failed: ${(error as Error).message}`);
      }
    }
  }

  private async load(version: number): Promise<CatalogSnapshot> {
    const [tools, resources, prompts, servers, associations, gateways] = await Promise.all([
      this.tools.findAllActive(),
      this.resources.findAllActive(),
      this.prompts.findAllActive(),
      this.servers.findAllActive(),
      this.servers.findAllAssociations(),
      this.gateways.findAllActive(),
    ]);
    return CatalogSnapshot.build(version, { tools, resources, prompts, servers, associations, gateways });
  }
}
