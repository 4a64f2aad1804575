import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DistributedLock } from '#app/cache/distributed-lock.js';
import type { AppConfig } from '#app/config/app-config.js';
import { HTTP_HOST } from '#app/config/config.module.js';
import type { HttpHost } from './http-host.js';

/**
 * At most one worker per host recycles within this window, so a replacement has time to boot
 * before the next worker leaves: with even load, all workers reach MAX_REQUESTS together.
 */
const RECYCLE_SPACING_MS = 10_000;
/** A worker past its limit that finds another recycling retries this often. */
const RECYCLE_RETRY_MS = 1_000;
/**
 * Under a cluster master, connections reach a worker as IPC hand-offs. One sent just before our
 * server closed must still be answered ("not accepted", so the master re-routes it) before we
 * exit, or the master keeps it open and the client hangs. This much time lets them drain.
 */
const CLUSTER_HANDOFF_DRAIN_MS = 300;

/**
 * Process lifecycle of one worker: tell PM2 when it is ready, shut down gracefully on SIGTERM,
 * SIGINT or PM2's "shutdown" message (stop accepting, let in-flight requests finish within
 * GRACEFUL_TIMEOUT, close the pools), and recycle after MAX_REQUESTS (+ jitter) under PM2.
 */
export class WorkerLifecycle {
  private readonly log = new Logger('Worker');
  private stopping: Promise<void> | null = null;

  constructor(
    private readonly app: NestFastifyApplication,
    private readonly config: AppConfig,
  ) {}

  install(): void {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => void this.shutdown(signal));
    }
    process.on('message', (message) => {
      if (message === 'shutdown') void this.shutdown('pm2 shutdown');
    });
    this.installRecycling();
  }

  /** Signals PM2 (wait_ready) that this worker listens. */
  signalReady(): void {
    process.send?.('ready');
  }

  shutdown(reason: string, exitCode = 0): Promise<void> {
    this.stopping ??= this.stop(reason, exitCode);
    return this.stopping;
  }

  private async stop(reason: string, exitCode: number): Promise<void> {
    const bound = this.config.server.gracefulTimeoutMs;
    this.log.log(`shutting down (${reason}); in-flight requests have ${bound / 1000} s`);
    const force = setTimeout(() => {
      this.log.warn(`graceful shutdown exceeded ${bound / 1000} s; exiting`);
      process.exit(exitCode || 1);
    }, bound);
    force.unref();
    try {
      await this.app.close();
    } catch (error) {
      this.log.error(`error during shutdown: ${(error as Error).message}`);
      exitCode ||= 1;
    }
    if (process.connected) await sleep(CLUSTER_HANDOFF_DRAIN_MS);
    clearTimeout(force);
    process.exit(exitCode);
  }

  private installRecycling(): void {
    const { maxRequests, maxRequestsJitter, underPm2 } = this.config.workers;
    if (maxRequests === 0) return;
    if (!underPm2) {
      this.log.warn('MAX_REQUESTS is set but no process manager would restart this worker; recycling is off (use npm run start:cluster)');
      return;
    }
    if (this.config.workers.count < 2) this.log.warn('MAX_REQUESTS with a single worker: requests fail while it restarts');
    const lock = this.app.get(DistributedLock);
    const limit = maxRequests + Math.floor(Math.random() * (maxRequestsJitter + 1));
    let served = 0;
    let nextAttempt = 0;
    const tryRecycle = async (): Promise<void> => {
      // Take this host's recycle slot; if another worker holds it, keep serving and try later.
      const token = await lock.acquire(`recycle:${hostname()}`, RECYCLE_SPACING_MS).catch(() => null);
      if (token) void this.shutdown(`recycling after ${served} requests (MAX_REQUESTS=${maxRequests})`);
    };
    // Count at the shared server, so admin and MCP requests both count.
    this.app.get<HttpHost>(HTTP_HOST).server.on('request', () => {
      served++;
      if (served >= limit && !this.stopping && Date.now() >= nextAttempt) {
        nextAttempt = Date.now() + RECYCLE_RETRY_MS;
        void tryRecycle();
      }
    });
  }
}
