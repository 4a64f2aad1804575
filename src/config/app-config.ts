import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { EnvironmentVariables, INSECURE_DEFAULTS } from './environment.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** The typed, validated configuration. Built once at boot by `loadConfig`; never mutated. */
export interface AppConfig {
  server: {
    host: string;
    port: number;
    logLevel: LogLevel;
    maxBodyBytes: number;
    requestTimeoutMs: number;
    gracefulTimeoutMs: number;
    allowedOrigins: string[];
  };
  database:
    | (DatabasePoolConfig & { type: 'sqlite'; sqlitePath: string })
    | (DatabasePoolConfig & { type: 'postgres'; url: string });
  cache: {
    type: 'memory' | 'redis';
    redisUrl: string;
    prefix: string;
    sessionTtlSeconds: number;
    messageTtlSeconds: number;
    redisMaxRetries: number;
    redisRetryIntervalMs: number;
  };
  tools: {
    timeoutMs: number;
    concurrentLimit: number;
    retryMaxAttempts: number;
    retryBaseDelayMs: number;
    retryMaxDelayMs: number;
  };
  resources: { cacheSize: number; cacheTtlSeconds: number };
  federation: {
    healthCheckIntervalMs: number;
    healthCheckTimeoutMs: number;
    unhealthyThreshold: number;
    connectTimeoutMs: number;
    nameSeparator: string;
  };
  sse: { keepaliveIntervalMs: number };
  workers: {
    /** How many workers the cluster runs (WORKERS resolved; `auto` is one per core, or 1 on the memory cache). */
    count: number;
    maxRequests: number;
    maxRequestsJitter: number;
    /** PM2 instance number of this process, or 0 outside PM2. */
    instanceId: number;
    underPm2: boolean;
  };
  auth: {
    required: boolean;
    jwtSecret: string;
    basicUser: string;
    basicPassword: string;
    encryptionSecret: string;
    /** Names of secrets still at their laptop defaults. */
    insecureDefaults: string[];
  };
  otel: {
    enabled: boolean;
    tracesExporter: 'otlp' | 'console' | 'none';
    endpoint?: string;
    protocol: 'grpc' | 'http/protobuf' | 'http/json';
    sampler: 'always_on' | 'always_off' | 'traceidratio' | 'parentbased_always_on' | 'parentbased_always_off' | 'parentbased_traceidratio';
    samplerRatio: number;
    /** OTEL_BSP_*: span batching, for every OTLP protocol. */
    batch: { scheduledDelayMillis: number; maxExportBatchSize: number; maxQueueSize: number };
    asyncContext: 'auto' | 'always' | 'never';
    serviceName: string;
    // OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES are validated here but read by the
    // OpenTelemetry exporter and resource detector themselves, as their spec defines.
  };
}

export interface DatabasePoolConfig {
  poolSize: number;
  maxOverflow: number;
  poolTimeoutMs: number;
  poolRecycleSeconds: number;
  maxRetries: number;
  retryIntervalMs: number;
  migrateOnStart: boolean;
}

/** A bad environment. `message` is the single line printed before the process exits non-zero. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const DEFAULT_SQLITE_PATH = './data/mcp.db';

/**
 * Reads and validates the environment. Throws `ConfigError` naming the first bad variable, its
 * value and what is allowed. This is the only place in `src/` that reads `process.env`.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const raw: Record<string, string> = {};
  for (const key of Object.keys(new EnvironmentVariables())) {
    const value = env[key];
    if (value !== undefined && value.trim() !== '') raw[key] = value;
  }
  for (const key of ['DATABASE_URL', 'ALLOWED_ORIGINS', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_RESOURCE_ATTRIBUTES']) {
    const value = env[key];
    if (value !== undefined && value.trim() !== '') raw[key] = value.trim();
  }
  // The seed sizes its gunicorn pool with GUNICORN_WORKERS; accept it when WORKERS is unset.
  let workersVar = 'WORKERS';
  if (raw.WORKERS === undefined && env.GUNICORN_WORKERS?.trim()) {
    raw.WORKERS = env.GUNICORN_WORKERS.trim();
    workersVar = 'GUNICORN_WORKERS';
  }
  // An explicitly empty Basic user or password turns Basic auth off (rather than falling back
  // to the laptop default `admin:changeme`).
  const basicDisabled = ['BASIC_AUTH_USER', 'BASIC_AUTH_PASSWORD'].some((k) => env[k] !== undefined && env[k]?.trim() === '');

  const vars = plainToInstance(EnvironmentVariables, raw);
  const errors = validateSync(vars, { skipMissingProperties: false });
  if (errors.length > 0) throw new ConfigError(describe(errors[0], raw, workersVar));

  const underPm2 = env.pm_id !== undefined || env.NODE_APP_INSTANCE !== undefined;
  const workersExplicit = vars.WORKERS !== 'auto';
  const workers = workersExplicit
    ? Number(vars.WORKERS)
    : vars.CACHE_TYPE === 'memory'
      ? 1
      : availableParallelism();
  if (workers > 1 && vars.CACHE_TYPE === 'memory') {
    throw new ConfigError(
      `Invalid configuration: ${workersVar}=${JSON.stringify(raw.WORKERS)} with CACHE_TYPE=memory; allowed: WORKERS=1 (or auto), ` +
        'or CACHE_TYPE=redis for more than one worker, because sessions and the catalog must be shared',
    );
  }

  const pool: DatabasePoolConfig = {
    poolSize: vars.DB_POOL_SIZE,
    maxOverflow: vars.DB_MAX_OVERFLOW,
    poolTimeoutMs: Math.round(vars.DB_POOL_TIMEOUT * 1000),
    poolRecycleSeconds: vars.DB_POOL_RECYCLE,
    maxRetries: vars.DB_MAX_RETRIES,
    retryIntervalMs: vars.DB_RETRY_INTERVAL_MS,
    migrateOnStart: vars.MIGRATE_ON_START,
  };
  const url = vars.DATABASE_URL;
  const database: AppConfig['database'] =
    url === undefined || url.startsWith('sqlite:')
      ? { ...pool, type: 'sqlite', sqlitePath: resolve(url ? url.slice('sqlite:///'.length) : DEFAULT_SQLITE_PATH) }
      : { ...pool, type: 'postgres', url };

  const level = vars.LOG_LEVEL === 'warning' ? 'warn' : vars.LOG_LEVEL === 'critical' ? 'error' : vars.LOG_LEVEL;
  const instance = Number(env.NODE_APP_INSTANCE ?? env.pm_id ?? 0);

  return {
    server: {
      host: vars.HOST,
      port: vars.PORT,
      logLevel: level as LogLevel,
      maxBodyBytes: vars.MAX_BODY_SIZE,
      requestTimeoutMs: vars.TIMEOUT * 1000,
      gracefulTimeoutMs: vars.GRACEFUL_TIMEOUT * 1000,
      allowedOrigins: (vars.ALLOWED_ORIGINS ?? '')
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    },
    database,
    cache: {
      type: vars.CACHE_TYPE as 'memory' | 'redis',
      redisUrl: vars.REDIS_URL,
      prefix: vars.CACHE_PREFIX,
      sessionTtlSeconds: vars.SESSION_TTL,
      messageTtlSeconds: vars.MESSAGE_TTL,
      redisMaxRetries: vars.REDIS_MAX_RETRIES,
      redisRetryIntervalMs: vars.REDIS_RETRY_INTERVAL_MS,
    },
    tools: {
      timeoutMs: Math.round(vars.TOOL_TIMEOUT * 1000),
      concurrentLimit: vars.TOOL_CONCURRENT_LIMIT,
      retryMaxAttempts: vars.RETRY_MAX_ATTEMPTS,
      retryBaseDelayMs: Math.round(vars.RETRY_BASE_DELAY * 1000),
      retryMaxDelayMs: Math.round(vars.RETRY_MAX_DELAY * 1000),
    },
    resources: { cacheSize: vars.RESOURCE_CACHE_SIZE, cacheTtlSeconds: vars.RESOURCE_CACHE_TTL },
    federation: {
      healthCheckIntervalMs: vars.HEALTH_CHECK_INTERVAL * 1000,
      healthCheckTimeoutMs: Math.round(vars.HEALTH_CHECK_TIMEOUT * 1000),
      unhealthyThreshold: vars.UNHEALTHY_THRESHOLD,
      connectTimeoutMs: Math.round(vars.GATEWAY_VALIDATION_TIMEOUT * 1000),
      nameSeparator: vars.GATEWAY_TOOL_NAME_SEPARATOR,
    },
    sse: { keepaliveIntervalMs: vars.SSE_KEEPALIVE_INTERVAL * 1000 },
    workers: {
      count: workers,
      maxRequests: vars.MAX_REQUESTS,
      maxRequestsJitter: vars.MAX_REQUESTS_JITTER,
      instanceId: Number.isFinite(instance) ? instance : 0,
      underPm2,
    },
    auth: {
      required: vars.AUTH_REQUIRED,
      jwtSecret: vars.JWT_SECRET_KEY,
      basicUser: basicDisabled ? '' : vars.BASIC_AUTH_USER,
      basicPassword: basicDisabled ? '' : vars.BASIC_AUTH_PASSWORD,
      encryptionSecret: vars.AUTH_ENCRYPTION_SECRET,
      insecureDefaults: Object.entries(INSECURE_DEFAULTS)
        .filter(([k, v]) => (vars as unknown as Record<string, unknown>)[k] === v && !(basicDisabled && k === 'BASIC_AUTH_PASSWORD'))
        .map(([k]) => k),
    },
    otel: {
      enabled: vars.OTEL_ENABLE_OBSERVABILITY,
      tracesExporter: vars.OTEL_TRACES_EXPORTER as AppConfig['otel']['tracesExporter'],
      endpoint: vars.OTEL_EXPORTER_OTLP_ENDPOINT,
      protocol: vars.OTEL_EXPORTER_OTLP_PROTOCOL as AppConfig['otel']['protocol'],
      sampler: vars.OTEL_TRACES_SAMPLER as AppConfig['otel']['sampler'],
      samplerRatio: vars.OTEL_TRACES_SAMPLER_ARG,
      batch: {
        scheduledDelayMillis: vars.OTEL_BSP_SCHEDULE_DELAY,
        maxExportBatchSize: vars.OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
        maxQueueSize: vars.OTEL_BSP_MAX_QUEUE_SIZE,
      },
      asyncContext: vars.OTEL_ASYNC_CONTEXT as AppConfig['otel']['asyncContext'],
      serviceName: vars.OTEL_SERVICE_NAME,
    },
  };
}

function describe(error: ValidationError, raw: Record<string, string>, workersVar: string): string {
  const value = raw[error.property];
  const name = error.property === 'WORKERS' ? workersVar : error.property;
  const allowed = Object.values(error.constraints ?? {})[0] ?? 'invalid value';
  const shown = value === undefined ? '(unset)' : JSON.stringify(value);
  return `Invalid configuration: ${name}=${shown}; ${allowed}`;
}
