import { Controller, Get, HttpStatus, Inject, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { HealthCheckService, HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';
import { Public } from '#app/auth/public.decorator.js';
import { RedisHealth } from '#app/cache/redis-health.js';
import { DatabasePool } from '#app/database/database-pool.js';

/** How long a probe waits for the database or Redis before calling it down. */
export const PROBE_TIMEOUT_MS = 2000;

/**
 * Liveness (`/health`: the database answers SELECT 1) and readiness (`/ready`: the database and,
 * when configured, Redis answer). Both are open and cheap; Kubernetes and PM2 poll them.
 */
@ApiExcludeController()
@Public()
@Controller()
export class HealthController {
  constructor(
    @Inject(HealthCheckService) private readonly health: HealthCheckService,
    @Inject(HealthIndicatorService) private readonly indicators: HealthIndicatorService,
    @Inject(DatabasePool) private readonly database: DatabasePool,
    @Inject(RedisHealth) private readonly redis: RedisHealth,
  ) {}

  @Get('health')
  async liveness(@Res() reply: FastifyReply): Promise<void> {
    const failure = await this.run([() => this.check('database', () => this.database.ping(PROBE_TIMEOUT_MS))]);
    if (failure) return void reply.status(HttpStatus.SERVICE_UNAVAILABLE).send({ status: 'unhealthy', error: failure });
    void reply.send({ status: 'healthy' });
  }

  @Get('ready')
  async readiness(@Res() reply: FastifyReply): Promise<void> {
    const checks = [() => this.check('database', () => this.database.ping(PROBE_TIMEOUT_MS))];
    if (this.redis.configured) checks.push(() => this.check('redis', () => this.redis.check(PROBE_TIMEOUT_MS)));
    const failure = await this.run(checks);
    if (failure) return void reply.status(HttpStatus.SERVICE_UNAVAILABLE).send({ status: 'not_ready', error: failure });
    void reply.send({ status: 'ready' });
  }

  /** Runs the checks through Terminus (which also reports "shutting down" during shutdown). */
  private async run(checks: Array<() => Promise<HealthIndicatorResult>>): Promise<string | null> {
    try {
      await this.health.check(checks);
      return null;
    } catch (error) {
      const response = (error as { getResponse?: () => unknown }).getResponse?.() as
        | { status?: string; error?: Record<string, { message?: string }> }
        | undefined;
      if (response?.status === 'shutting_down') return 'shutting down';
      const down = Object.entries(response?.error ?? {}).map(([key, value]) => `${key}: ${value.message ?? 'down'}`);
      return down.length > 0 ? down.join('; ') : 'health check failed';
    }
  }

  private async check(key: string, probe: () => Promise<void>): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check(key);
    try {
      await probe();
      return indicator.up();
    } catch (error) {
      return indicator.down({ message: error instanceof Error ? error.message : String(error) });
    }
  }
}
