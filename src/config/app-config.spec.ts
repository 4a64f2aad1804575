import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from './app-config.js';

/** Runs loadConfig and returns the ConfigError it throws (fails the test if it does not throw one). */
function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`loadConfig(${JSON.stringify(env)}) did not throw`);
}

describe('loadConfig', () => {
  describe('defaults (empty environment)', () => {
    const config = loadConfig({});

    it('listens on 127.0.0.1:4444 and logs at info', () => {
      expect(config.server.port).toBe(4444);
      expect(config.server.host).toBe('127.0.0.1');
      expect(config.server.logLevel).toBe('info');
      expect(config.server.allowedOrigins).toEqual([]);
    });

    it('uses SQLite at ./data/mcp.db, resolved to an absolute path', () => {
      expect(config.database.type).toBe('sqlite');
      if (config.database.type !== 'sqlite') throw new Error('unreachable');
      expect(isAbsolute(config.database.sqlitePath)).toBe(true);
      expect(config.database.sqlitePath).toBe(resolve(process.cwd(), 'data/mcp.db'));
    });

    it('sizes the pool 10 + 10 overflow', () => {
      expect(config.database.poolSize).toBe(10);
      expect(config.database.maxOverflow).toBe(10);
      expect(config.database.poolTimeoutMs).toBe(30_000);
      expect(config.database.migrateOnStart).toBe(true);
    });

    it('uses the memory cache and one worker for WORKERS=auto', () => {
      expect(config.cache.type).toBe('memory');
      expect(config.cache.prefix).toBe('mcpgw:');
      expect(config.workers.count).toBe(1);
      expect(config.workers.underPm2).toBe(false);
      expect(config.workers.instanceId).toBe(0);
    });

    it('requires auth and flags every laptop secret as insecure', () => {
      expect(config.auth.required).toBe(true);
      expect([...config.auth.insecureDefaults].sort()).toEqual(['AUTH_ENCRYPTION_SECRET', 'BASIC_AUTH_PASSWORD', 'JWT_SECRET_KEY']);
    });

    it('converts seconds to milliseconds', () => {
      expect(config.tools.timeoutMs).toBe(60_000);
      expect(config.server.requestTimeoutMs).toBe(600_000);
      expect(config.federation.healthCheckIntervalMs).toBe(60_000);
    });

    it('reads nothing from process.env when given an explicit env', () => {
      const saved = process.env.PORT;
      process.env.PORT = '5555';
      try {
        expect(loadConfig({}).server.port).toBe(4444);
      } finally {
        if (saved === undefined) delete process.env.PORT;
        else process.env.PORT = saved;
      }
    });
  });

  describe('bad values throw one ConfigError line naming the variable, the value and what is allowed', () => {
    it.each([
      [{ DB_POOL_SIZE: 'abc' }, 'DB_POOL_SIZE', '"abc"', 'allowed: an integer from 1 to 1000'],
      [{ CACHE_TYPE: 'foo' }, 'CACHE_TYPE', '"foo"', 'allowed: memory, redis'],
      [{ PORT: '70000' }, 'PORT', '"70000"', 'allowed: an integer from 1 to 65535'],
      [{ PORT: '0' }, 'PORT', '"0"', 'allowed: an integer from 1 to 65535'],
      [{ PORT: '80.5' }, 'PORT', '"80.5"', 'allowed: an integer from 1 to 65535'],
      [{ AUTH_REQUIRED: 'maybe' }, 'AUTH_REQUIRED', '"maybe"', 'allowed: true or false'],
      [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'udp' }, 'OTEL_EXPORTER_OTLP_PROTOCOL', '"udp"', 'allowed: grpc, http/protobuf, http/json'],
      [{ OTEL_EXPORTER_OTLP_HEADERS: 'no-equals-sign' }, 'OTEL_EXPORTER_OTLP_HEADERS', '"no-equals-sign"', 'allowed: key=value pairs separated by commas'],
      [{ OTEL_RESOURCE_ATTRIBUTES: '=x' }, 'OTEL_RESOURCE_ATTRIBUTES', '"=x"', 'allowed: key=value pairs separated by commas'],
      [{ OTEL_BSP_MAX_QUEUE_SIZE: '0' }, 'OTEL_BSP_MAX_QUEUE_SIZE', '"0"', 'allowed: an integer from 1 to 1000000'],
      [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL', '"mysql://x"', 'allowed: postgres://'],
      [{ REDIS_URL: 'http://x' }, 'REDIS_URL', '"http://x"', 'allowed: redis://'],
      [{ WORKERS: 'many' }, 'WORKERS', '"many"', 'allowed: auto, or an integer from 1 to 999'],
      [{ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL', '"verbose"', 'allowed: debug, info'],
      [{ TOOL_TIMEOUT: '0' }, 'TOOL_TIMEOUT', '"0"', 'allowed: a number from 0.001 to 86400'],
    ])('%j', (env, name, shownValue, allowed) => {
      const error = configError(env as Record<string, string>);
      expect(error.name).toBe('ConfigError');
      expect(error.message).not.toContain('\n');
      expect(error.message).toContain(`${name}=${shownValue}`);
      expect(error.message).toContain(allowed);
    });

    it('WORKERS=2 with CACHE_TYPE=memory names WORKERS and says to use redis', () => {
      const { message } = configError({ WORKERS: '2', CACHE_TYPE: 'memory' });
      expect(message).not.toContain('\n');
      expect(message).toContain('WORKERS="2"');
      expect(message).not.toContain('GUNICORN_WORKERS');
      expect(message).toContain('CACHE_TYPE=memory');
      expect(message).toContain('CACHE_TYPE=redis');
      expect(message).toMatch(/allowed: WORKERS=1/);
    });

    it('WORKERS=2 on the default (memory) cache is refused too', () => {
      expect(configError({ WORKERS: '2' }).message).toContain('WORKERS="2"');
    });

    it('GUNICORN_WORKERS=2 with the memory cache names GUNICORN_WORKERS when WORKERS is unset', () => {
      const { message } = configError({ GUNICORN_WORKERS: '2' });
      expect(message).not.toContain('\n');
      expect(message).toContain('GUNICORN_WORKERS="2"');
      expect(message).toContain('CACHE_TYPE=memory');
    });
  });

  describe('workers', () => {
    it('uses GUNICORN_WORKERS when WORKERS is unset', () => {
      expect(loadConfig({ CACHE_TYPE: 'redis', GUNICORN_WORKERS: '3' }).workers.count).toBe(3);
    });

    it('lets WORKERS win over GUNICORN_WORKERS', () => {
      expect(loadConfig({ CACHE_TYPE: 'redis', WORKERS: '2', GUNICORN_WORKERS: '5' }).workers.count).toBe(2);
      // The alias is ignored entirely, even when it would be invalid on its own.
      expect(loadConfig({ WORKERS: '1', GUNICORN_WORKERS: '4' }).workers.count).toBe(1);
    });

    it('WORKERS=1 is fine on the memory cache; WORKERS=auto on redis is one per core', () => {
      expect(loadConfig({ WORKERS: '1' }).workers.count).toBe(1);
      expect(loadConfig({ WORKERS: 'AUTO', CACHE_TYPE: 'Redis' }).workers.count).toBe(availableParallelism());
    });

    it('reports the PM2 instance', () => {
      const config = loadConfig({ NODE_APP_INSTANCE: '3' });
      expect(config.workers.underPm2).toBe(true);
      expect(config.workers.instanceId).toBe(3);
    });
  });

  describe('database URL', () => {
    it('a postgres:// or postgresql:// URL selects PostgreSQL and keeps the URL', () => {
      for (const url of ['postgres://u:p@db:5432/mcp', 'postgresql://u@db/mcp']) {
        const { database } = loadConfig({ DATABASE_URL: url, DB_POOL_SIZE: '3', DB_MAX_OVERFLOW: '0' });
        expect(database.type).toBe('postgres');
        if (database.type !== 'postgres') throw new Error('unreachable');
        expect(database.url).toBe(url);
        expect(database.poolSize).toBe(3);
        expect(database.maxOverflow).toBe(0);
      }
    });

    it('a sqlite URL gives the path after sqlite:/// (SQLAlchemy convention: four slashes for an absolute path)', () => {
      const absolute = loadConfig({ DATABASE_URL: 'sqlite:////tmp/x.db' }).database;
      expect(absolute).toMatchObject({ type: 'sqlite', sqlitePath: '/tmp/x.db' });
      // Three slashes: the path after them, relative to the working directory, made absolute.
      const relative = loadConfig({ DATABASE_URL: 'sqlite:///tmp/x.db' }).database;
      expect(relative).toMatchObject({ type: 'sqlite', sqlitePath: resolve(process.cwd(), 'tmp/x.db') });
      const dotted = loadConfig({ DATABASE_URL: 'sqlite:///./data/other.db' }).database;
      expect(dotted).toMatchObject({ type: 'sqlite', sqlitePath: resolve(process.cwd(), 'data/other.db') });
    });

    it('trims the URL', () => {
      expect(loadConfig({ DATABASE_URL: '  postgres://u@db/mcp  ' }).database).toMatchObject({ type: 'postgres', url: 'postgres://u@db/mcp' });
    });
  });

  describe('booleans', () => {
    it.each([
      ['true', true],
      ['false', false],
      ['1', true],
      ['0', false],
      ['TRUE', true],
      [' False ', false],
    ])('AUTH_REQUIRED=%j -> %s', (value, expected) => {
      expect(loadConfig({ AUTH_REQUIRED: value }).auth.required).toBe(expected);
      expect(loadConfig({ MIGRATE_ON_START: value }).database.migrateOnStart).toBe(expected);
      expect(loadConfig({ OTEL_ENABLE_OBSERVABILITY: value }).otel.enabled).toBe(expected);
    });
  });

  describe('tracing defaults', () => {
    it("keeps 10% of the traces, following a caller's decision, and batches as the OpenTelemetry spec does", () => {
      const { otel } = loadConfig({});
      expect(otel).toMatchObject({ sampler: 'parentbased_traceidratio', samplerRatio: 0.1, protocol: 'http/protobuf' });
      expect(otel.batch).toEqual({ scheduledDelayMillis: 5000, maxExportBatchSize: 512, maxQueueSize: 2048 });
      expect(loadConfig({ OTEL_BSP_SCHEDULE_DELAY: '250', OTEL_TRACES_SAMPLER: 'parentbased_always_on' }).otel).toMatchObject({
        sampler: 'parentbased_always_on',
        batch: { scheduledDelayMillis: 250 },
      });
    });
  });

  describe('empty values are treated as unset', () => {
    it('falls back to the defaults', () => {
      const config = loadConfig({ PORT: '', HOST: '  ', CACHE_TYPE: '', DATABASE_URL: '', AUTH_REQUIRED: '', JWT_SECRET_KEY: '', WORKERS: '' });
      expect(config.server.port).toBe(4444);
      expect(config.server.host).toBe('127.0.0.1');
      expect(config.cache.type).toBe('memory');
      expect(config.database.type).toBe('sqlite');
      expect(config.auth.required).toBe(true);
      expect(config.auth.jwtSecret).toBe('my-test-key');
      expect(config.workers.count).toBe(1);
    });

    it('an empty WORKERS lets GUNICORN_WORKERS apply', () => {
      expect(loadConfig({ WORKERS: '', GUNICORN_WORKERS: '4', CACHE_TYPE: 'redis' }).workers.count).toBe(4);
    });
  });

  describe('secrets', () => {
    it('turns Basic auth off when BASIC_AUTH_USER or BASIC_AUTH_PASSWORD is explicitly empty', () => {
      for (const env of [{ BASIC_AUTH_PASSWORD: '' }, { BASIC_AUTH_USER: ' ' }]) {
        const config = loadConfig(env);
        expect(config.auth).toMatchObject({ basicUser: '', basicPassword: '' });
        expect(config.auth.insecureDefaults).not.toContain('BASIC_AUTH_PASSWORD');
      }
    });

    it('trims HOST', () => {
      expect(loadConfig({ HOST: ' 0.0.0.0 ' }).server.host).toBe('0.0.0.0');
    });

    it('names GUNICORN_WORKERS when an empty WORKERS lets the alias apply', () => {
      expect(() => loadConfig({ WORKERS: '', GUNICORN_WORKERS: '2' })).toThrow('GUNICORN_WORKERS="2"');
      expect(() => loadConfig({ GUNICORN_WORKERS: 'lots' })).toThrow('GUNICORN_WORKERS="lots"');
    });

    it('lists only the secrets still at their defaults', () => {
      expect(loadConfig({ JWT_SECRET_KEY: 'a-real-secret' }).auth.insecureDefaults.sort()).toEqual(['AUTH_ENCRYPTION_SECRET', 'BASIC_AUTH_PASSWORD']);
    });

    it('is empty once every secret is set', () => {
      const config = loadConfig({ JWT_SECRET_KEY: 'j', BASIC_AUTH_PASSWORD: 'p', AUTH_ENCRYPTION_SECRET: 'e' });
      expect(config.auth.insecureDefaults).toEqual([]);
      expect(config.auth).toMatchObject({ jwtSecret: 'j', basicPassword: 'p', encryptionSecret: 'e' });
    });
  });

  describe('conversions', () => {
    it.each([
      ['WARNING', 'warn'],
      ['warning', 'warn'],
      ['warn', 'warn'],
      ['CRITICAL', 'error'],
      ['Debug', 'debug'],
    ])('LOG_LEVEL=%s -> %s', (value, expected) => {
      expect(loadConfig({ LOG_LEVEL: value }).server.logLevel).toBe(expected);
    });

    it('TOOL_TIMEOUT=1.5 gives 1500 ms', () => {
      expect(loadConfig({ TOOL_TIMEOUT: '1.5' }).tools.timeoutMs).toBe(1500);
    });

    it('DB_POOL_TIMEOUT and retry delays are seconds, possibly fractional', () => {
      const config = loadConfig({ DB_POOL_TIMEOUT: '0.25', RETRY_BASE_DELAY: '0.5', RETRY_MAX_DELAY: '2' });
      expect(config.database.poolTimeoutMs).toBe(250);
      expect(config.tools.retryBaseDelayMs).toBe(500);
      expect(config.tools.retryMaxDelayMs).toBe(2000);
    });

    it('splits ALLOWED_ORIGINS on commas and drops blanks', () => {
      expect(loadConfig({ ALLOWED_ORIGINS: 'https://a.example, https://b.example,,' }).server.allowedOrigins).toEqual([
        'https://a.example',
        'https://b.example',
      ]);
    });
  });
});
