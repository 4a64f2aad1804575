import { Inject, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import type { AppConfig } from '#app/config/app-config.js';
import { APP_CONFIG } from '#app/config/config.module.js';
import { traceHttp } from './http-tracing.js';
import { MetricsController } from './metrics.controller.js';
import { MetricsService } from './metrics.service.js';
import { POD_METRICS, PodMetrics, removeStalePodDirs } from './pod-metrics.js';
import { tracing } from './tracing.js';

/**
 * Owns `/metrics` and tracing. HTTP metrics come from a Fastify onResponse hook rather than a
 * Nest interceptor: it sees every reply (404s, 413s, auth failures) and costs no per-request DI.
 * Under PM2 the workers of a pod pool their metrics (PodMetrics). Admin-side operations carry
 * nestjs-otel's `@Span()` decorator (no module needed: it uses the global tracer, whose spans
 * are no-ops while tracing is off); the hot path uses `tracing` directly.
 */
@Module({
  controllers: [MetricsController],
  providers: [
    MetricsService,
    {
      provide: POD_METRICS,
      inject: [MetricsService, APP_CONFIG],
      useFactory: async (metrics: MetricsService, config: AppConfig): Promise<PodMetrics | null> => {
        if (!config.workers.underPm2) return null;
        removeStalePodDirs();
        const pod = new PodMetrics(metrics.registry, PodMetrics.clusterDir(config.server.port));
        await pod.start();
        return pod;
      },
    },
  ],
  exports: [MetricsService],
})
export class MetricsModule implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(MetricsService) private readonly metrics: MetricsService,
    @Inject(POD_METRICS) private readonly pod: PodMetrics | null,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (!fastify) return;
    this.metrics.instrument(fastify);
    if (tracing) traceHttp(fastify, tracing);
  }

  /** Runs after the HTTP server has closed: the last requests are counted, then the spans flushed. */
  async onApplicationShutdown(): Promise<void> {
    await this.pod?.stop().catch(() => undefined);
    await tracing?.shutdown().catch(() => undefined);
  }
}
