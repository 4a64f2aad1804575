import { afterAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { validate } from 'dockerfile-utils';
// js-yaml is not a direct dependency: it is hoisted from @nestjs/swagger (js-yaml 5 today; 4
// would work too, see resolveMerges).
import { load } from 'js-yaml';
import { DEFAULT_SQLITE_PATH, loadConfig } from '#app/config/app-config.js';
import { EnvironmentVariables } from '#app/config/environment.js';
import { CONFIG_VARS } from '../helpers/config-vars.js';
import { freePort, ROOT } from '../helpers/gateway-process.js';
import { groupAlive, runToExit, startContainerMain, stopContainerMains } from '../helpers/container-process.js';
import { NGINX_BIN, nginxAvailable } from '../helpers/nginx.js';

/*
 * The docker/ deliverables, checked without a Docker engine: the Dockerfile is linted and read
 * instruction by instruction, and its CMD and HEALTHCHECK are run for real against the built
 * gateway (what the container would run, minus the container); docker-compose.yml and nginx.conf
 * are read and checked against the gateway's real configuration, `nginx -t` checks the proxy
 * config, and `docker-compose config` validates the compose file where that binary exists.
 */

const DOCKER = join(ROOT, 'docker');
const dockerfileText = readFileSync(join(DOCKER, 'Dockerfile'), 'utf8');
const composeText = readFileSync(join(DOCKER, 'docker-compose.yml'), 'utf8');
const nginxText = readFileSync(join(DOCKER, 'nginx.conf'), 'utf8');
const envExample = parseEnvFile(readFileSync(join(DOCKER, '.env.example'), 'utf8'));
const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
};

// ---------------------------------------------------------------- Dockerfile

interface Instruction {
  keyword: string;
  args: string;
  line: number;
  stage: number;
}

/** Instructions with continuation lines joined and comments dropped, each tagged with its stage. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  let startLine = 0;
  let stage = -1;
  text.split('\n').forEach((raw, index) => {
    const trimmed = raw.trim();
    if (trimmed.startsWith('#') || (trimmed === '' && pending === '')) return;
    if (pending === '') startLine = index + 1;
    const continued = trimmed.endsWith('\\');
    pending += (continued ? trimmed.slice(0, -1) : trimmed) + ' ';
    if (continued) return;
    const full = pending.trim();
    pending = '';
    const [keyword, ...rest] = full.split(/\s+/);
    if (keyword.toUpperCase() === 'FROM') stage++;
    out.push({ keyword: keyword.toUpperCase(), args: rest.join(' '), line: startLine, stage });
  });
  return out;
}

const instructions = parseDockerfile(dockerfileText);
const finalStageIndex = Math.max(...instructions.map((i) => i.stage));
const finalStage = instructions.filter((i) => i.stage === finalStageIndex);
const all = (keyword: string, list = finalStage) => list.filter((i) => i.keyword === keyword);
const one = (keyword: string, list = finalStage): Instruction => {
  const found = all(keyword, list);
  expect(found.map((i) => `${i.keyword} (line ${i.line})`)).toHaveLength(1);
  return found[0];
};
/** `ENV A=1 B=2` of the final stage, as an object (values here have no spaces or quotes). */
function finalEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of all('ENV')) {
    for (const pair of i.args.split(/\s+/)) {
      const eq = pair.indexOf('=');
      expect(eq).toBeGreaterThan(0);
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}
/** The argv of an exec-form (JSON array) CMD, or of a HEALTHCHECK's CMD after its options. */
function execForm(args: string): string[] {
  const json = args.slice(args.indexOf('['));
  const argv = JSON.parse(json) as unknown;
  expect(Array.isArray(argv) && argv.every((a) => typeof a === 'string')).toBe(true);
  return argv as string[];
}
const healthcheckArgv = () => execForm(one('HEALTHCHECK').args.replace(/^.*?\bCMD\s+/, ''));
const cmdArgv = () => execForm(one('CMD').args);

// ---------------------------------------------------------------- compose

type Yaml = Record<string, unknown>;
interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string | number | boolean>;
  env_file?: string | string[];
  depends_on?: Record<string, { condition?: string }>;
  healthcheck?: { test: string[] | string };
  volumes?: string[];
  ports?: string[];
  command?: string[] | string;
  stop_grace_period?: string;
}

/** Applies YAML merge keys (`<<: *gateway`) that the parser left as a `<<` key (js-yaml 5). */
function resolveMerges(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(resolveMerges);
  if (node === null || typeof node !== 'object') return node;
  const { '<<': merge, ...own } = node as Yaml;
  const bases = merge === undefined ? [] : ([merge].flat() as unknown[]).map(resolveMerges).reverse();
  const out: Yaml = Object.assign({}, ...bases);
  for (const [key, value] of Object.entries(own)) out[key] = resolveMerges(value);
  return out;
}

const compose = resolveMerges(load(composeText)) as { services: Record<string, ComposeService>; volumes?: Yaml };
const services = compose.services;
/** The services built from docker/Dockerfile. */
const gatewayNames = Object.entries(services)
  .filter(([, s]) => s.build?.dockerfile === 'docker/Dockerfile')
  .map(([name]) => name);
const nginxName = Object.entries(services).find(([, s]) => s.image?.startsWith('nginx'))?.[0];

/** Compose's `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `$$`. */
function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (match, name: string | undefined, op: string | undefined, arg: string | undefined, bare: string | undefined) => {
      if (match === '$$') return '$';
      if (bare) return vars[bare] ?? '';
      const value = vars[name as string];
      const missing = value === undefined || (op?.startsWith(':') === true && value === '');
      if (!op) return value ?? '';
      if (op.endsWith('-')) return missing ? (arg ?? '') : value;
      if (missing) throw new Error(`compose would refuse: ${name}: ${arg}`);
      return value;
    },
  );
}

/** Names used as `${NAME...}` anywhere in the compose file's values (comments excluded). */
function interpolatedNames(node: unknown, into = new Set<string>()): Set<string> {
  if (typeof node === 'string') {
    for (const m of node.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) into.add(m[1]);
  } else if (node !== null && typeof node === 'object') {
    for (const value of Object.values(node)) interpolatedNames(value, into);
  }
  return into;
}

function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const eq = trimmed.indexOf('=');
    if (eq <= 0) throw new Error(`not NAME=value: ${line}`);
    env[trimmed.slice(0, eq)] = trimmed.slice(eq + 1);
  }
  return env;
}

/** What a gateway container gets: image ENV, then env_file (docker/.env), then `environment:`. */
function gatewayContainerEnv(name: string): Record<string, string> {
  const env: Record<string, string> = { ...finalEnv(), ...envExample };
  for (const [key, value] of Object.entries(services[name].environment ?? {})) env[key] = interpolate(String(value), envExample);
  return env;
}

const healthcheckTest = (s: ComposeService): string => [s.healthcheck?.test ?? []].flat().join(' ');

// ---------------------------------------------------------------- processes

afterAll(stopContainerMains);

/** The image's HEALTHCHECK (or compose's) against a gateway on `port`: its exit code. */
const runHealthcheck = async (argv: string[], port: number): Promise<number | null> => (await runToExit(argv, { PORT: String(port) }, 10_000)).code;

/** Runs the image's CMD in the repo (the image's /app), with the image's ENV plus `env`. */
const runImageCmd = (env: Record<string, string>) => startContainerMain(cmdArgv(), { ...finalEnv(), ...env });

// ================================================================= tests

describe('docker/Dockerfile', () => {
  it('lints clean with dockerfile-utils (no errors, no warnings)', () => {
    const diagnostics = validate(dockerfileText);
    expect(diagnostics.map((d) => `line ${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
  });

  it('is multi-stage on one Node 24 LTS slim image, so better-sqlite3 is built for the ABI it runs on', () => {
    const froms = all('FROM', instructions).map((i) => i.args.split(/\s+/)[0]);
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(new Set(froms)).toEqual(new Set(['node:24-bookworm-slim']));
    // The native addon is built in the build stage, and loaded once more in the final one.
    const buildRuns = all('RUN', instructions.filter((i) => i.stage === 0)).map((i) => i.args).join('\n');
    expect(buildRuns).toMatch(/python3/);
    expect(buildRuns).toMatch(/npm ci\b/);
    expect(buildRuns).toMatch(/npm rebuild better-sqlite3/);
    expect(buildRuns).toMatch(/npm run build/);
    expect(buildRuns).toMatch(/npm prune --omit=dev/);
    expect(all('RUN').map((i) => i.args).join('\n')).toMatch(/require\('better-sqlite3'\)/);
  });

  it('copies what the runtime needs, from files that exist and that .dockerignore does not drop', () => {
    const copies = all('COPY', instructions);
    const fromBuild = all('COPY').filter((c) => c.args.startsWith('--from=')).map((c) => c.args.split(/\s+/)[1]);
    expect(fromBuild).toEqual(expect.arrayContaining(['/app/package.json', '/app/node_modules', '/app/dist']));
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('!'))
      .map((l) => l.replace(/^\*\*\//, ''));
    const fromContext = copies.filter((c) => !c.args.startsWith('--')).flatMap((c) => c.args.split(/\s+/).slice(0, -1));
    expect(fromContext).toEqual(expect.arrayContaining(['ecosystem.config.js', 'bin', 'src', 'package-lock.json']));
    for (const source of fromContext) {
      expect([source, existsSync(join(ROOT, source))]).toEqual([source, true]);
      expect(ignored).not.toContain(source.split('/')[0]);
    }
  });

  it('EXPOSEs the port the gateway listens on by default, and sets HOST for a container', () => {
    const defaults = loadConfig({});
    const exposed = Number(one('EXPOSE').args);
    expect(exposed).toBe(defaults.server.port);
    expect(exposed).toBe(new EnvironmentVariables().PORT);
    const env = finalEnv();
    expect(env).toMatchObject({ NODE_ENV: 'production', HOST: '0.0.0.0', PORT: String(exposed) });
    // Every ENV the image sets for the gateway is one of its variables, and valid.
    for (const key of Object.keys(env).filter((k) => k !== 'NODE_ENV')) expect([key, CONFIG_VARS.has(key)]).toEqual([key, true]);
    const config = loadConfig(env);
    expect(config.server).toMatchObject({ host: '0.0.0.0', port: exposed });
  });

  it('runs as the non-root node user, with a writable data volume where the SQLite default lands', () => {
    const user = one('USER').args;
    expect(user).toBe('node');
    expect(['root', '0']).not.toContain(user.split(':')[0]);
    const userLine = one('USER').line;
    expect(one('CMD').line).toBeGreaterThan(userLine);

    const workdir = one('WORKDIR').args;
    const volume = execForm(one('VOLUME').args);
    const dataDir = posix.dirname(posix.join(workdir, DEFAULT_SQLITE_PATH));
    expect(volume).toEqual([dataDir]);
    expect(all('RUN').some((r) => r.args.includes(`chown node:node ${dataDir}`) && r.line < userLine)).toBe(true);
  });

  it('HEALTHCHECK probes /health, a route of the health controller, with node (no curl in slim images)', () => {
    const argv = healthcheckArgv();
    expect(argv[0]).toBe('node');
    expect(argv.join(' ')).toMatch(/\/health'/);
    const controller = readFileSync(join(ROOT, 'src/health/health.controller.ts'), 'utf8');
    expect(controller).toMatch(/@Get\('health'\)/);
  });

  it('CMD is start:cluster without the build: config check, then pm2-runtime with ecosystem.config.js', () => {
    const argv = cmdArgv();
    expect(argv.slice(0, 2)).toEqual(['sh', '-c']);
    const line = argv[2];
    expect(line).toContain('node_modules/.bin/pm2-runtime start ecosystem.config.js');
    expect(existsSync(join(ROOT, 'ecosystem.config.js'))).toBe(true);
    expect(existsSync(join(ROOT, 'src/config/config-check.cli.ts'))).toBe(true);
    expect(packageJson.dependencies.pm2).toBeDefined(); // survives npm prune --omit=dev
    const cluster = packageJson.scripts['start:cluster'].replace(/^npm run build --silent && /, '');
    expect(line.replace('exec node_modules/.bin/', '')).toBe(cluster);
  });

  it('the CMD stops at a bad config with the one-line error, before PM2 starts', async () => {
    const run = runImageCmd({ CACHE_TYPE: 'memory', WORKERS: '2' });
    expect(await run.exited).toBe(1);
    expect(run.output()).toMatch(/Invalid configuration: WORKERS="2" with CACHE_TYPE=memory/);
    expect(run.output()).not.toMatch(/pm2/i);
  });

  it('the CMD serves: the image HEALTHCHECK and the compose one pass against it, and SIGTERM stops it cleanly', async () => {
    const port = await freePort();
    const data = mkdtempSync(join(tmpdir(), 'docker-cmd-'));
    // The image's ENV, except loopback instead of 0.0.0.0 on a shared machine, and SQLite in a temp dir.
    const run = runImageCmd({ HOST: '127.0.0.1', PORT: String(port), DATABASE_URL: `sqlite:///${data}/mcp.db`, LOG_LEVEL: 'warn' });
    try {
      expect(await runHealthcheck(healthcheckArgv(), port)).toBe(1); // not up yet
      let code: number | null = 1;
      for (let i = 0; i < 120 && code !== 0; i++) {
        if (run.child.exitCode !== null) throw new Error(`the CMD exited with ${run.child.exitCode}:\n${run.output()}`);
        await sleep(500);
        code = await runHealthcheck(healthcheckArgv(), port);
      }
      expect(code).toBe(0);
      expect(run.output()).toMatch(/config ok: 1 worker\(s\), sqlite database, memory cache, port \d+/);
      const composeProbe = [services[gatewayNames[0]].healthcheck?.test ?? []].flat();
      expect(composeProbe[0]).toBe('CMD');
      expect(await runHealthcheck(composeProbe.slice(1), port)).toBe(0);

      // `docker stop` sends SIGTERM to the container's main process only.
      const stoppedAt = Date.now();
      process.kill(run.child.pid as number, 'SIGTERM');
      await run.exited;
      expect(Date.now() - stoppedAt).toBeLessThan(30_000);
      for (let i = 0; i < 50 && groupAlive(run.child.pid as number); i++) await sleep(100);
      expect(groupAlive(run.child.pid as number)).toBe(false);
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  }, 90_000);
});

describe('docker/docker-compose.yml', () => {
  it('runs two or more gateways from docker/Dockerfile (context: the repo root) behind nginx', () => {
    expect(gatewayNames.length).toBeGreaterThanOrEqual(2);
    for (const name of gatewayNames) {
      const build = services[name].build as { context: string; dockerfile: string };
      expect(resolve(DOCKER, build.context)).toBe(ROOT);
      expect(existsSync(join(resolve(DOCKER, build.context), build.dockerfile))).toBe(true);
      expect(services[name].ports).toBeUndefined(); // reached through nginx only
    }
    expect(nginxName).toBeDefined();
    const nginx = services[nginxName as string];
    expect(nginx.volumes).toContain('./nginx.conf:/etc/nginx/conf.d/default.conf:ro');
    expect(nginx.ports?.length).toBe(1);
  });

  it('starts in health order: gateways after healthy PostgreSQL and Redis, nginx after healthy gateways', () => {
    const postgres = services.postgres;
    const redis = services.redis;
    expect(postgres.image).toBe('postgres:17');
    expect(redis.image).toBe('redis:7');
    expect(healthcheckTest(postgres)).toMatch(/pg_isready/);
    expect(healthcheckTest(redis)).toMatch(/redis-cli ping/);
    for (const name of gatewayNames) {
      expect(services[name].depends_on).toEqual({ postgres: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } });
      expect(healthcheckTest(services[name])).toBe(`CMD node -e ${healthcheckArgv()[2]}`);
    }
    const nginxDeps = services[nginxName as string].depends_on ?? {};
    expect(Object.keys(nginxDeps).sort()).toEqual([...gatewayNames].sort());
    for (const dep of Object.values(nginxDeps)) expect(dep.condition).toBe('service_healthy');
  });

  it('keeps PostgreSQL and Redis data in named volumes', () => {
    const named = Object.keys(compose.volumes ?? {});
    const mountOf = (service: ComposeService, target: string) =>
      (service.volumes ?? []).map((v) => v.split(':')).find(([, t]) => t === target)?.[0];
    const pg = mountOf(services.postgres, '/var/lib/postgresql/data');
    const redis = mountOf(services.redis, '/data');
    expect(named).toEqual(expect.arrayContaining([pg, redis]));
    expect(pg).not.toBe(redis);
  });

  it('sets only real gateway variables, and the result is a valid PostgreSQL + Redis multi-worker config', () => {
    for (const name of gatewayNames) {
      expect(services[name].env_file).toBe('.env');
      const keys = Object.keys(services[name].environment ?? {});
      expect(keys.filter((k) => !CONFIG_VARS.has(k))).toEqual([]);

      const env = gatewayContainerEnv(name);
      const config = loadConfig(env);
      expect(config.database.type).toBe('postgres');
      expect(config.cache).toMatchObject({ type: 'redis', redisUrl: 'redis://redis:6379/0' });
      expect(config.server).toMatchObject({ host: '0.0.0.0', port: Number(one('EXPOSE').args) });
      expect(config.workers.count).toBeGreaterThanOrEqual(2);
      expect(config.auth.insecureDefaults).toEqual([]);
      expect(env.DATABASE_URL).toMatch(/^postgresql:\/\/[^:]+:[^@]+@postgres:5432\/\w+$/);
    }
  });

  it('docker/.env.example holds gateway variables and the compose file\'s own ${...} values, all of them', () => {
    const referenced = interpolatedNames(compose);
    const unknown = Object.keys(envExample).filter((k) => !CONFIG_VARS.has(k) && !referenced.has(k));
    expect(unknown).toEqual([]);
    expect([...referenced].filter((k) => !(k in envExample))).toEqual([]);
    for (const secret of ['JWT_SECRET_KEY', 'AUTH_ENCRYPTION_SECRET', 'BASIC_AUTH_PASSWORD', 'POSTGRES_PASSWORD']) {
      expect(envExample[secret]).toMatch(/change-me/);
    }
    // Without docker/.env compose refuses to start, rather than run on the laptop secrets.
    const environment = services[gatewayNames[0]].environment ?? {};
    for (const secret of ['JWT_SECRET_KEY', 'AUTH_ENCRYPTION_SECRET', 'BASIC_AUTH_PASSWORD']) {
      expect(() => interpolate(String(environment[secret]), {})).toThrow(new RegExp(secret));
    }
    expect(() => interpolate(String(environment.DATABASE_URL), {})).toThrow(/POSTGRES_PASSWORD/);
  });

  it('fits the connection budget: gateways x WORKERS x (pool + overflow) under max_connections', () => {
    const maxConnections = Number(/max_connections=(\d+)/.exec([services.postgres.command ?? []].flat().join(' '))?.[1]);
    expect(maxConnections).toBeGreaterThan(0);
    const config = loadConfig(gatewayContainerEnv(gatewayNames[0]));
    const perWorker = config.database.poolSize + config.database.maxOverflow;
    // Headroom for migrations, admin sessions and PostgreSQL's reserved superuser slots.
    expect(gatewayNames.length * config.workers.count * perWorker).toBeLessThanOrEqual(maxConnections - 10);
  });

  it('gives a gateway longer to stop than PM2 gives its workers (GRACEFUL_TIMEOUT + 5 s)', () => {
    const graceful = loadConfig(gatewayContainerEnv(gatewayNames[0])).server.gracefulTimeoutMs / 1000;
    for (const name of gatewayNames) {
      const grace = /^(\d+)s$/.exec(services[name].stop_grace_period ?? '')?.[1];
      expect(Number(grace)).toBeGreaterThan(graceful + 5);
    }
  });

  it('passes `docker-compose config` (docker/.env made from the template, in a temp copy)', () => {
    // CI does not install docker-compose (Debian's package drags in the Docker engine), so this
    // one check runs only where the binary exists, and says loudly when it does not.
    const binary = ['docker-compose', 'docker compose'].find((cmd) => {
      const [bin, ...args] = cmd.split(' ');
      return spawnSync(bin, [...args, 'version'], { stdio: 'ignore' }).status === 0;
    });
    if (!binary) {
      console.warn('\n!!! neither docker-compose nor `docker compose` is installed: SKIPPING the `docker-compose config` check (apt-get install docker-compose) !!!\n');
      return;
    }
    // The compose file reads docker/.env (env_file), which only exists once a user made it: copy
    // the files, with the template as .env, to a temp tree shaped like the repo.
    const tree = mkdtempSync(join(tmpdir(), 'compose-'));
    try {
      mkdirSync(join(tree, 'docker'));
      for (const file of ['docker-compose.yml', 'nginx.conf', 'Dockerfile']) copyFileSync(join(DOCKER, file), join(tree, 'docker', file));
      copyFileSync(join(DOCKER, '.env.example'), join(tree, 'docker', '.env'));
      const [bin, ...args] = binary.split(' ');
      const file = join(tree, 'docker', 'docker-compose.yml');
      const result = spawnSync(bin, [...args, '-f', file, '--env-file', join(tree, 'docker', '.env'), 'config', '-q'], { encoding: 'utf8' });
      expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
    } finally {
      rmSync(tree, { recursive: true, force: true });
    }
  });
});

describe('docker/nginx.conf', () => {
  const upstream = /upstream\s+(\w+)\s*\{([^}]*)\}/.exec(nginxText);

  it('round-robins over exactly the compose gateways, on the port they listen on', () => {
    expect(upstream).not.toBeNull();
    const body = upstream?.[2] ?? '';
    expect(body).not.toMatch(/\b(ip_hash|hash|least_conn|sticky)\b/);
    const servers = [...body.matchAll(/^\s*server\s+([\w.-]+):(\d+)/gm)].map((m) => [m[1], Number(m[2])]);
    expect(servers.map(([host]) => host).sort()).toEqual([...gatewayNames].sort());
    for (const name of gatewayNames) {
      for (const [, port] of servers) expect(port).toBe(Number(services[name].environment?.PORT));
    }
    expect(nginxText).toMatch(new RegExp(`proxy_pass http://${upstream?.[1]};`));
  });

  it('is stream friendly: HTTP/1.1, no buffering, WebSocket upgrade, read timeout far above the SSE keep-alive', () => {
    expect(nginxText).toMatch(/proxy_http_version 1\.1;/);
    expect(nginxText).toMatch(/proxy_buffering off;/);
    expect(nginxText).toMatch(/proxy_set_header Upgrade \$http_upgrade;/);
    expect(nginxText).toMatch(/proxy_set_header Connection \$connection_upgrade;/);
    const readTimeout = Number(/proxy_read_timeout (\d+)s;/.exec(nginxText)?.[1]);
    expect(readTimeout).toBeGreaterThanOrEqual(10 * new EnvironmentVariables().SSE_KEEPALIVE_INTERVAL);
    // The body limit stays above the gateway's own, which answers 413 itself.
    const bodyMiB = Number(/client_max_body_size (\d+)m;/.exec(nginxText)?.[1]);
    expect(bodyMiB * 1024 * 1024).toBeGreaterThan(Number(envExample.MAX_BODY_SIZE ?? new EnvironmentVariables().MAX_BODY_SIZE));
  });

  // `nginx -t` on the file as the image includes it (inside http {}), with the gateway host names
  // pointed at loopback: nginx resolves upstream names when it loads the config.
  (nginxAvailable() ? it : it.skip)('passes `nginx -t`', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nginx-t-'));
    try {
      let conf = nginxText;
      for (const name of gatewayNames) conf = conf.replaceAll(`server ${name}:`, 'server 127.0.0.1:');
      writeFileSync(join(dir, 'default.conf'), conf);
      writeFileSync(
        join(dir, 'nginx.conf'),
        `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;\n` +
          `  fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;\n  access_log off;\n  include ${dir}/default.conf;\n}\n`,
      );
      const result = spawnSync(NGINX_BIN as string, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')], { encoding: 'utf8' });
      expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: expect.stringMatching(/test is successful/) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
