import { Inject, Injectable } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import type { AppConfig } from '#app/config/app-config.js';
import { APP_CONFIG } from '#app/config/config.module.js';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { DatabasePool } from '#app/database/database-pool.js';
import { HotPathCounter, HotPathHistogram } from './hot-path-metrics.js';
import { infraErrors } from './infra-errors.js';

/** Outcome of one tool invocation, as `tool_invocations_total` labels it. */
export type ToolOutcome = 'success' | 'tool_error' | 'error' | 'input_required';

/**
 * What the metrics read from other modules at scrape time. The MCP module fills these in, so
 * the metrics module depends on nothing but the database pool, and the gauges cost nothing
 * between scrapes.
 */
export interface MetricsSources {
  /** Sessions with a connection or stream held open by this worker, by transport. */
  sessions(): Record<string, number>;
  /** Server-Sent Events streams open on this worker. */
  sseStreams(): number;
  /** Active federated gateways and whether each is reachable. */
  gateways(): Iterable<{ name: string; reachable: boolean }>;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Tool calls wait on REST endpoints and upstream servers: the buckets reach TOOL_TIMEOUT's range. */
const TOOL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

interface Series {
  count: { inc(): void };
  duration: { observe(v: number): void };
}

/**
 * The worker's Prometheus registry: process defaults (event-loop lag included), HTTP, MCP and
 * tool-call counts and latencies, the database pool, sessions and streams, upstream health and
 * infrastructure errors. Under PM2, `/metrics` merges every worker's registry (see PodMetrics);
 * each metric's `aggregator` says how (counters and histograms add up, health takes the worst).
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  // What every request records: hot-path-metrics.ts says why these are not prom-client's own.
  private readonly httpRequests: HotPathCounter;
  private readonly httpDuration: HotPathHistogram;
  private readonly mcpRequests: HotPathCounter;
  private readonly mcpDuration: HotPathHistogram;
  private readonly toolInvocations: HotPathCounter;
  private readonly toolDuration: HotPathHistogram;
  /** One series per label set, looked up by a string key. */
  private readonly series = new Map<string, Series>();
  private sources: MetricsSources = { sessions: () => ({}), sseStreams: () => 0, gateways: () => [] };

  constructor(@Inject(DatabasePool) pool: DatabasePool, @Inject(APP_CONFIG) config: AppConfig) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'gateway_worker_info',
      help: 'The workers that make up this scrape (PM2 instance and pid); 1 per worker',
      labelNames: ['instance', 'pid'],
      registers,
    }).set({ instance: String(config.workers.instanceId), pid: String(process.pid) }, 1);

    this.httpRequests = new HotPathCounter('http_requests_total', 'HTTP requests answered, by method, route template and status code', registers);
    this.httpDuration = new HotPathHistogram('http_request_duration_seconds', 'HTTP request latency, from arrival to the last byte written', LATENCY_BUCKETS, registers);
    this.mcpRequests = new HotPathCounter('mcp_requests_total', 'MCP JSON-RPC requests handled, by method, transport and status (ok, or the JSON-RPC error code)', registers);
    this.mcpDuration = new HotPathHistogram('mcp_request_duration_seconds', 'MCP JSON-RPC request handling time, from dispatch to the serialized response', LATENCY_BUCKETS, registers);
    this.toolInvocations = new HotPathCounter('tool_invocations_total', 'tools/call invocations, by tool, gateway ("local" for REST tools) and outcome', registers);
    this.toolDuration = new HotPathHistogram('tool_invocation_duration_seconds', 'tools/call latency, by gateway ("local" for REST tools)', TOOL_BUCKETS, registers);

    const sources = () => this.sources;
    new Gauge({
      name: 'sessions_active',
      help: 'MCP sessions with a connection or stream open on this pod, by transport',
      labelNames: ['transport'],
      registers,
      collect() {
        this.reset();
        for (const [transport, count] of Object.entries(sources().sessions())) this.set({ transport }, count);
      },
    });
    new Gauge({
      name: 'sse_streams_open',
      help: 'Server-Sent Events streams open on this pod (session, listen and upgraded POST streams)',
      registers,
      collect() {
        this.set(sources().sseStreams());
      },
    });
    new Gauge({
      name: 'upstream_health',
      help: 'Federated gateways: 1 reachable, 0 unreachable (health checks; inactive gateways are not listed)',
      labelNames: ['gateway'],
      // Every worker sees the same state; a pod-wide scrape reports the worst.
      aggregator: 'min',
      registers,
      collect() {
        this.reset();
        for (const g of sources().gateways()) this.set({ gateway: g.name }, g.reachable ? 1 : 0);
      },
    });
    const errors = (name: string, help: string, read: () => Record<string, number>) =>
      new Counter({
        name,
        help,
        labelNames: ['kind'],
        registers,
        collect() {
          // The tally only grows; reset + inc re-publishes it as a counter.
          this.reset();
          for (const [kind, n] of Object.entries(read())) this.inc({ kind }, n);
        },
      });
    errors('redis_errors_total', 'Redis failures: connection errors and failed commands', () => ({
      connection: infraErrors.redisConnection,
      command: infraErrors.redisCommand,
    }));
    errors('db_errors_total', 'Database failures: failed statements, and connections that failed or broke', () => ({
      query: infraErrors.dbQuery,
      connection: infraErrors.dbConnection,
    }));

    const poolGauge = (name: string, help: string, read: (s: ReturnType<DatabasePool['stats']>) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read(pool.stats()));
        },
      });
    poolGauge('db_pool_size', 'Most connections the pool may hold (DB_POOL_SIZE + DB_MAX_OVERFLOW)', (s) => s.size);
    poolGauge('db_pool_connections_active', 'Connections checked out of the pool', (s) => s.active);
    poolGauge('db_pool_connections_idle', 'Open connections waiting in the pool', (s) => s.idle);
    poolGauge('db_pool_connections_waiting', 'Requests queued for a connection', (s) => s.waiting);
  }

  /** Where the session, stream and gateway gauges read from (set once by the MCP module). */
  setSources(sources: Partial<MetricsSources>): void {
    this.sources = { ...this.sources, ...sources };
  }

  /** Counts every reply of a Fastify instance (the admin API's; the MCP transports call observeHttp). */
  instrument(fastify: FastifyInstance): void {
    fastify.addHook('onResponse', (request, reply, done) => {
      // The route template, not the raw URL, keeps label cardinality bounded.
      this.observeHttp(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
  }

  observeHttp(method: string, route: string, status: number, seconds: number): void {
    const key = `h ${method} ${route} ${status}`;
    let series = this.series.get(key);
    if (!series) {
      const labels = { method, route, status: String(status) };
      series = { count: this.httpRequests.series(labels), duration: this.httpDuration.series(labels) };
      this.series.set(key, series);
    }
    series.count.inc();
    series.duration.observe(seconds);
  }

  /**
   * One JSON-RPC request. `method` must be a known method name (or "unknown"), so label
   * cardinality stays bounded whatever clients send; `status` is "ok" or the error code.
   */
  observeMcp(method: string, transport: string, status: string, seconds: number): void {
    const key = `m ${method} ${transport} ${status}`;
    let series = this.series.get(key);
    if (!series) {
      series = { count: this.mcpRequests.series({ method, transport, status }), duration: this.mcpDuration.series({ method }) };
      this.series.set(key, series);
    }
    series.count.inc();
    series.duration.observe(seconds);
  }

  /** One tools/call of a catalog tool (unknown names never get here: they fail as -32602 first). */
  observeTool(tool: string, gateway: string, outcome: ToolOutcome, seconds: number): void {
    const key = `t ${tool}\u0000${gateway}\u0000${outcome}`;
    let series = this.series.get(key);
    if (!series) {
      series = { count: this.toolInvocations.series({ tool, gateway, outcome }), duration: this.toolDuration.series({ gateway }) };
      this.series.set(key, series);
    }
    series.count.inc();
    series.duration.observe(seconds);
  }
}
