import { Transform } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
} from 'class-validator';

/**
 * The raw environment, one property per variable, named exactly as the seed system names it.
 * Defaults live here so that `.env.example`, the README table and the code agree on one source.
 * Every constraint carries a message that says what is allowed; `loadConfig` prefixes it with
 * the variable and the value it got.
 */
const toBool = ({ value }: { value: unknown }): unknown => {
  if (typeof value !== 'string') return value;
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  return value;
};
const toNumber = ({ value }: { value: unknown }): unknown => {
  if (typeof value !== 'string') return value;
  const v = value.trim();
  return v !== '' && /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v) ? Number(v) : value;
};
const toLower = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' ? value.trim().toLowerCase() : value;

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => [
  Transform(toNumber),
  IsInt({ message: `allowed: an integer from ${min} to ${max}` }),
  Min(min, { message: `allowed: an integer from ${min} to ${max}` }),
  Max(max, { message: `allowed: an integer from ${min} to ${max}` }),
];
const num = (min: number, max = Number.MAX_SAFE_INTEGER) => [
  Transform(toNumber),
  IsNumber({ allowNaN: false, allowInfinity: false }, { message: `allowed: a number from ${min} to ${max}` }),
  Min(min, { message: `allowed: a number from ${min} to ${max}` }),
  Max(max, { message: `allowed: a number from ${min} to ${max}` }),
];
const bool = () => [Transform(toBool), IsBoolean({ message: 'allowed: true or false' })];
const oneOf = (values: readonly string[]) => [
  Transform(toLower),
  IsIn(values, { message: `allowed: ${values.join(', ')}` }),
];
const apply =
  (decorators: PropertyDecorator[]): PropertyDecorator =>
  (target, key) => {
    for (const d of decorators) d(target, key);
  };

export const LOG_LEVELS = ['debug', 'info', 'warning', 'warn', 'error', 'critical'] as const;

export class EnvironmentVariables {
  // --- server ---
  @Transform(({ value }) => (typeof value === 'string' ? value.trim() : value))
  @IsString()
  @MinLength(1, { message: 'allowed: a host name or IP address' })
  HOST = '127.0.0.1';
  @apply(int(1, 65535)) PORT = 4444;
  @apply(oneOf(LOG_LEVELS)) LOG_LEVEL = 'info';
  /** Largest accepted request body, in bytes; larger bodies get 413. */
  @apply(int(1024, 1024 * 1024 * 1024)) MAX_BODY_SIZE = 4 * 1024 * 1024;
  /** Allowed browser origins for the MCP transports (comma-separated); empty allows same-host only. */
  @IsOptional() @IsString() ALLOWED_ORIGINS?: string;

  // --- database ---
  @IsOptional()
  @Matches(/^(postgres|postgresql):\/\/.+|^sqlite:\/\/\/.+/, {
    message: 'allowed: postgres://user:pass@host:port/db, postgresql://…, or sqlite:///path/to/file.db (unset: ./data/mcp.db)',
  })
  DATABASE_URL?: string;
  @apply(int(1, 1000)) DB_POOL_SIZE = 10;
  @apply(int(0, 1000)) DB_MAX_OVERFLOW = 10;
  @apply(num(0.1, 3600)) DB_POOL_TIMEOUT = 30;
  @apply(int(0, 86400 * 7)) DB_POOL_RECYCLE = 3600;
  @apply(int(0, 1000)) DB_MAX_RETRIES = 5;
  @apply(int(0, 600000)) DB_RETRY_INTERVAL_MS = 2000;
  @apply(bool()) MIGRATE_ON_START = true;

  // --- cache, sessions, Redis ---
  @apply(oneOf(['memory', 'redis'])) CACHE_TYPE = 'memory';
  @Matches(/^rediss?:\/\/.+/, { message: 'allowed: redis://[user:pass@]host:port/db or rediss://…' })
  REDIS_URL = 'redis://127.0.0.1:6379/0';
  @IsString() @MaxLength(64, { message: 'allowed: a string of at most 64 characters' }) CACHE_PREFIX = 'mcpgw:';
  @apply(int(1, 86400 * 30)) SESSION_TTL = 3600;
  @apply(int(1, 86400 * 30)) MESSAGE_TTL = 600;
  @apply(int(0, 1000)) REDIS_MAX_RETRIES = 3;
  @apply(int(1, 600000)) REDIS_RETRY_INTERVAL_MS = 2000;

  // --- tools, resources, retries ---
  @apply(num(0.001, 86400)) TOOL_TIMEOUT = 60;
  @apply(int(1, 100000)) TOOL_CONCURRENT_LIMIT = 10;
  @apply(int(0, 10000000)) RESOURCE_CACHE_SIZE = 1000;
  @apply(int(0, 86400 * 30)) RESOURCE_CACHE_TTL = 3600;
  @apply(int(0, 100)) RETRY_MAX_ATTEMPTS = 3;
  @apply(num(0, 3600)) RETRY_BASE_DELAY = 1.0;
  @apply(num(0, 86400)) RETRY_MAX_DELAY = 60;

  // --- federation health checks and streams ---
  @apply(int(1, 86400)) HEALTH_CHECK_INTERVAL = 60;
  @apply(num(0.1, 3600)) HEALTH_CHECK_TIMEOUT = 10;
  @apply(int(1, 1000)) UNHEALTHY_THRESHOLD = 3;
  /** Seconds to connect to an upstream MCP server (registration, reconnects). */
  @apply(num(0.1, 600)) GATEWAY_VALIDATION_TIMEOUT = 10;
  /** Between a gateway's prefix and an upstream item name, e.g. `weather-get_forecast`. */
  @Matches(/^[A-Za-z0-9_.-]{0,4}$/, { message: 'allowed: up to 4 of the characters letters, digits, "_", "-", "."' })
  GATEWAY_TOOL_NAME_SEPARATOR = '-';
  @apply(int(1, 3600)) SSE_KEEPALIVE_INTERVAL = 30;

  // --- workers ---
  @Transform(toLower)
  @Matches(/^(auto|[1-9]\d{0,2})$/, { message: 'allowed: auto, or an integer from 1 to 999' })
  WORKERS = 'auto';
  @apply(int(0, Number.MAX_SAFE_INTEGER)) MAX_REQUESTS = 0;
  @apply(int(0, Number.MAX_SAFE_INTEGER)) MAX_REQUESTS_JITTER = 0;
  @apply(int(1, 86400)) TIMEOUT = 600;
  /** Bound on graceful shutdown: in-flight requests get this long to finish. */
  @apply(int(1, 3600)) GRACEFUL_TIMEOUT = 30;

  // --- auth ---
  @IsString() @MinLength(1, { message: 'allowed: a non-empty secret' }) JWT_SECRET_KEY = 'my-test-key';
  @apply(bool()) AUTH_REQUIRED = true;
  @IsString() BASIC_AUTH_USER = 'admin';
  @IsString() BASIC_AUTH_PASSWORD = 'changeme';
  @IsString() @MinLength(1, { message: 'allowed: a non-empty secret' }) AUTH_ENCRYPTION_SECRET = 'my-test-salt';

  // --- observability ---
  @apply(bool()) OTEL_ENABLE_OBSERVABILITY = false;
  @apply(oneOf(['otlp', 'console', 'none'])) OTEL_TRACES_EXPORTER = 'otlp';
  @IsOptional()
  @Matches(/^https?:\/\/.+/, { message: 'allowed: an http:// or https:// URL' })
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;
  @apply(oneOf(['grpc', 'http/protobuf', 'http/json'])) OTEL_EXPORTER_OTLP_PROTOCOL = 'http/protobuf';
  @apply(oneOf(['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio']))
  OTEL_TRACES_SAMPLER = 'parentbased_traceidratio';
  /** The ratio of the traceidratio samplers. The default keeps 10% of the traces, as the seed system does. */
  @apply(num(0, 1)) OTEL_TRACES_SAMPLER_ARG = 0.1;
  /** Span batching (the OpenTelemetry batch span processor's variables): the longest a span waits, in ms. */
  @apply(int(1, 3_600_000)) OTEL_BSP_SCHEDULE_DELAY = 5000;
  /** Spans per export request. */
  @apply(int(1, 1_000_000)) OTEL_BSP_MAX_EXPORT_BATCH_SIZE = 512;
  /** Spans waiting for export beyond which new ones are dropped (with a warning), so a slow collector cannot grow the heap. */
  @apply(int(1, 1_000_000)) OTEL_BSP_MAX_QUEUE_SIZE = 2048;
  /**
   * How spans deep in shared code (SQL, Redis, the admin API's handlers) find their request:
   * AsyncLocalStorage. `auto` uses it where the runtime makes it cheap (Node 24+, whose
   * AsyncLocalStorage runs on AsyncContextFrame); `always` forces it (Node 20/22 pay promise hooks
   * on every request); `never` never uses it. The MCP request path passes its trace context explicitly.
   */
  @apply(oneOf(['auto', 'always', 'never'])) OTEL_ASYNC_CONTEXT = 'auto';
  /** `key=value` pairs, comma-separated (the OpenTelemetry format), e.g. auth headers of a vendor's collector. */
  @IsOptional()
  @Matches(/^\s*[^=,\s]+\s*=[^,]*(,\s*[^=,\s]+\s*=[^,]*)*$/, { message: 'allowed: key=value pairs separated by commas' })
  OTEL_EXPORTER_OTLP_HEADERS?: string;
  @IsString() @MinLength(1, { message: 'allowed: a non-empty name' }) OTEL_SERVICE_NAME = 'mcp-gateway';
  @IsOptional()
  @Matches(/^\s*[^=,\s]+\s*=[^,]*(,\s*[^=,\s]+\s*=[^,]*)*$/, { message: 'allowed: key=value pairs separated by commas' })
  OTEL_RESOURCE_ATTRIBUTES?: string;
}

/** Defaults that are only fit for a laptop; the gateway warns when it runs with them. */
export const INSECURE_DEFAULTS = {
  JWT_SECRET_KEY: 'my-test-key',
  BASIC_AUTH_PASSWORD: 'changeme',
  AUTH_ENCRYPTION_SECRET: 'my-test-salt',
} as const;
