import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Span } from 'nestjs-otel';
import { DistributedLock } from '#app/cache/distributed-lock.js';
import { CatalogEvents } from '#app/catalog/catalog-events.js';
import type { GatewayEntry } from '#app/catalog/catalog-snapshot.js';
import { CatalogSnapshotService } from '#app/catalog/catalog-snapshot.service.js';
import { withTimeout } from '#app/common/with-timeout.js';
import type { AppConfig } from '#app/config/app-config.js';
import { APP_CONFIG } from '#app/config/config.module.js';
import { GatewayRepository } from './gateway.repository.js';
import { UpstreamClientPool } from './upstream-client.pool.js';
import { describeConnectError } from './upstream-session.js';

const LEADER_LOCK = 'federation.health-leader';
/** How many upstreams are checked at once. */
const CHECK_CONCURRENCY = 8;

/**
 * Upstream health checks, run by one leader per cluster: the worker holding the leader lock (a
 * Redis lock with a TTL, renewed by a heartbeat; on the embedded default the single worker)
 * pings every active gateway over its pooled session each HEALTH_CHECK_INTERVAL, with
 * HEALTH_CHECK_TIMEOUT per check and bounded concurrency. After UNHEALTHY_THRESHOLD failures in
 * a row a gateway is marked unreachable: its items leave the lists and calls fail fast. The
 * first success marks it reachable again. Every worker learns of a change through the catalog.
 */
@Injectable()
export class GatewayHealthService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('GatewayHealth');
  private readonly failures = new Map<string, number>();
  private token: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private checking: Promise<void> | null = null;
  private nextCheckAt = 0;
  private stopped = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(DistributedLock) private readonly lock: DistributedLock,
    @Inject(CatalogSnapshotService) private readonly catalog: CatalogSnapshotService,
    @Inject(UpstreamClientPool) private readonly pool: UpstreamClientPool,
    @Inject(GatewayRepository) private readonly gateways: GatewayRepository,
    @Inject(CatalogEvents) private readonly events: CatalogEvents,
  ) {}

  get isLeader(): boolean {
    return this.token !== null;
  }

  /** The lock outlives a few heartbeats, so a leader that dies hands over within one TTL. */
  private get lockTtlMs(): number {
    return Math.max(3_000, Math.min(30_000, this.config.federation.healthCheckIntervalMs * 3));
  }

  onApplicationBootstrap(): void {
    const tick = () => {
      if (this.stopped) return;
      void this.heartbeat().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, Math.min(1_000, this.lockTtlMs / 3)).unref();
      });
    };
    tick();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.checking;
    if (this.token) await this.lock.release(LEADER_LOCK, this.token).catch(() => undefined);
    this.token = null;
  }

  /** Takes or renews the leadership, and runs a round of checks when one is due. */
  private async heartbeat(): Promise<void> {
    try {
      if (this.token) {
        if (!(await this.lock.extend(LEADER_LOCK, this.token, this.lockTtlMs))) {
          this.log.warn('lost the health-check leadership');
          this.token = null;
        }
      } else {
        this.token = await this.lock.acquire(LEADER_LOCK, this.lockTtlMs);
        if (this.token) {
          this.log.log('leading upstream health checks');
          this.failures.clear();
          this.nextCheckAt = 0;
        }
      }
    } catch (error) {
      this.token = null; // Redis away: nobody can prove leadership, so nobody checks
      this.log.warn(`health-check leadership unavailable: ${(error as Error).message}`);
      return;
    }
    if (this.token && !this.checking && Date.now() >= this.nextCheckAt) {
      this.nextCheckAt = Date.now() + this.config.federation.healthCheckIntervalMs;
      this.checking = this.checkAll().finally(() => (this.checking = null));
    }
  }

  @Span('gateway.health_check_round')
  private async checkAll(): Promise<void> {
    const queue = [...this.catalog.current.gateways.values()];
    const worker = async () => {
      for (let g = queue.shift(); g; g = queue.shift()) await this.check(g);
    };
    await Promise.all(Array.from({ length: Math.min(CHECK_CONCURRENCY, queue.length) }, worker));
  }

  private async check(gateway: GatewayEntry): Promise<void> {
    const timeoutMs = this.config.federation.healthCheckTimeoutMs;
    let error: string | null = null;
    try {
      await withTimeout(this.pool.session(gateway).ping(timeoutMs), timeoutMs, `no answer within ${timeoutMs} ms`);
    } catch (e) {
      error = describeConnectError(e);
    }
    try {
      if (error === null) {
        this.failures.delete(gateway.id);
        await this.gateways.updateHealth(gateway.id, { reachable: true, lastError: null, lastSeen: Date.now() });
        if (!gateway.reachable) {
          this.log.log(`gateway ${gateway.name} is reachable again`);
          this.events.emit({ kind: 'gateway', id: gateway.id, action: 'updated' });
        }
        return;
      }
      const failures = (this.failures.get(gateway.id) ?? 0) + 1;
      this.failures.set(gateway.id, failures);
      const down = failures >= this.config.federation.unhealthyThreshold;
      await this.gateways.updateHealth(gateway.id, { reachable: gateway.reachable && !down, lastError: error });
      if (down && gateway.reachable) {
        this.log.warn(`gateway ${gateway.name} is unreachable after ${failures} failed checks: ${error}`);
        this.events.emit({ kind: 'gateway', id: gateway.id, action: 'updated' });
      }
    } catch (dbError) {
      this.log.warn(`could not record the health of ${gateway.name}: ${(dbError as Error).message}`);
    }
  }
}
