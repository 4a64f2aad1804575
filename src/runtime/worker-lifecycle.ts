import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { AppConfig } from '#app/config/app-config.js';

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
    const limit = maxRequests + Math.floor(Math.random() * (maxRequestsJitter + 1));
    let served = 0;
    this.app
      .getHttpAdapter()
      .getInstance()
      .addHook('onResponse', (_request, _reply, done) => {
        if (++served === limit) void this.shutdown(`recycling after ${limit} requests (MAX_REQUESTS)`);
        done();
      });
  }
}
