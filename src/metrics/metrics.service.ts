import { Inject, Injectable } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import type { AppConfig } from '#app/config/app-config.js';
import { APP_CONFIG } from '#app/config/config.module.js';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DatabasePool } from '#app/database/database-pool.js';

/**
 * The worker's Prometheus registry: process defaults, HTTP request counts and latencies, and
 * the database pool gauges (read at scrape time, so they cost nothing between scrapes).
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  private readonly series = new Map<string, { count: { inc(): void }; duration: { observe(v: number): void } }>();

  constructor(@Inject(DatabasePool) pool: DatabasePool, @Inject(APP_CONFIG) config: AppConfig) {
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'gateway_worker_info',
      help: 'Identifies the worker that answered this scrape (PM2 instance and pid)',
      labelNames: ['instance', 'pid'],
      registers: [this.registry],
    }).set({ instance: String(config.workers.instanceId), pid: String(process.pid) }, 1);
    this.httpRequests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route template and status code',
      labelNames: ['method', 'route', 'status'],
      registers: [this.registry],
    });
    this.httpDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency, from arrival to the last byte written',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    const poolGauge = (name: string, help: string, read: (s: ReturnType<DatabasePool['stats']>) => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(read(pool.stats()));
        },
      });
    poolGauge('db_pool_size', 'Most connections the pool may hold (DB_POOL_SIZE + DB_MAX_OVERFLOW)', (s) => s.size);
    poolGauge('db_pool_connections_active', 'Connections checked out of the pool', (s) => s.active);
    poolGauge('db_pool_connections_idle', 'Open connections waiting in the pool', (s) => s.idle);
    poolGauge('db_pool_connections_waiting', 'Requests queued for a connection', (s) => s.waiting);
  }

  /** Counts every reply of a Fastify instance (the admin API's, and the MCP transports'). */
  instrument(fastify: FastifyInstance): void {
    fastify.addHook('onResponse', (request, reply, done) => {
      // The route template, not the raw URL, keeps label cardinality bounded.
      this.observeHttp(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
  }

  observeHttp(method: string, route: string, status: number, seconds: number): void {
    // Label children are cached: hashing the label set on every request is measurable.
    const key = `${method} ${route} ${status}`;
    let series = this.series.get(key);
    if (!series) {
      const labels = { method, route, status: String(status) };
      series = { count: this.httpRequests.labels(labels), duration: this.httpDuration.labels(labels) };
      this.series.set(key, series);
    }
    series.count.inc();
    series.duration.observe(seconds);
  }
}
