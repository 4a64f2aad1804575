import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { DistributedLock } from '#app/cache/distributed-lock.js';
import { MessageBus } from '#app/cache/message-bus.js';
import { GatewaysService } from './gateways.service.js';
import { UpstreamClientPool } from './upstream-client.pool.js';

/** Bus channel on which an upstream's `notifications/resources/updated` reaches every worker. */
export const FEDERATED_RESOURCE_UPDATED = 'federation.resource-updated';
/** A burst of list_changed notifications (one per worker's session) becomes one refresh. */
const REFRESH_DEBOUNCE_MS = 300;
const REFRESH_LOCK_TTL_MS = 30_000;

/**
 * Reacts to what upstreams announce: a `list_changed` refreshes the gateway's catalog (once per
 * cluster, under a lock; every worker then reloads its snapshot and tells its clients), and a
 * `resources/updated` is published for the workers holding subscribed client streams.
 */
@Injectable()
export class UpstreamNotifications implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger('UpstreamNotifications');
  private readonly pending = new Map<string, NodeJS.Timeout>();

  constructor(
    @Inject(UpstreamClientPool) private readonly pool: UpstreamClientPool,
    @Inject(GatewaysService) private readonly gateways: GatewaysService,
    @Inject(DistributedLock) private readonly lock: DistributedLock,
    @Inject(MessageBus) private readonly bus: MessageBus,
  ) {}

  onModuleInit(): void {
    this.pool.setHooks({
      listChanged: (id) => this.scheduleRefresh(id),
      resourceUpdated: (_id, uri) => {
        this.bus.publish(FEDERATED_RESOURCE_UPDATED, { uri }).catch((error: Error) => this.log.warn(`resources/updated not published: ${error.message}`));
      },
    });
  }

  onModuleDestroy(): void {
    for (const timer of this.pending.values()) clearTimeout(timer);
  }

  private scheduleRefresh(gatewayId: string): void {
    if (this.pending.has(gatewayId)) return;
    const timer = setTimeout(() => {
      this.pending.delete(gatewayId);
      void this.refresh(gatewayId);
    }, REFRESH_DEBOUNCE_MS);
    timer.unref();
    this.pending.set(gatewayId, timer);
  }

  private async refresh(gatewayId: string): Promise<void> {
    const lockName = `federation.refresh.${gatewayId}`;
    const token = await this.lock.acquire(lockName, REFRESH_LOCK_TTL_MS).catch(() => null);
    if (!token) return; // another worker is refreshing this gateway
    try {
      await this.gateways.refresh(gatewayId);
    } catch (error) {
      this.log.warn(`refresh of gateway ${gatewayId} after list_changed failed: ${(error as Error).message}`);
    } finally {
      // Held a little longer than the refresh, so the other workers' notices of the same change fold into it.
      setTimeout(() => void this.lock.release(lockName, token).catch(() => undefined), REFRESH_DEBOUNCE_MS * 2).unref();
    }
  }
}
