import { afterAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Ajv, type ErrorObject } from 'ajv';
// js-yaml is not a direct dependency: it is hoisted from @nestjs/swagger (see docker-files spec).
import { load, loadAll } from 'js-yaml';
import { loadConfig } from '#app/config/app-config.js';
import { EnvironmentVariables } from '#app/config/environment.js';
import { CONFIG_VARS, configConstraints } from '../helpers/config-vars.js';
import { TEST_SECRET, bearer } from '../helpers/auth.js';
import { api, freePort, ROOT, startGateway } from '../helpers/gateway-process.js';
import { createTestDatabase } from '../helpers/postgres-db.js';
import { groupAlive, runToExit, startContainerMain, stopContainerMains } from '../helpers/container-process.js';
import { REDIS_URL, serviceAvailable } from '../helpers/services.js';

/*
 * helm/mcp-gateway, checked without a cluster. Always: the values files against
 * values.schema.json (ajv) and bad values against it; the schema's config section against the
 * gateway's own validators; every `.Values` path the templates use; template syntax (balanced
 * actions and blocks, includes that exist). With helm (CI installs it, see .ci/run): `helm lint`,
 * `helm template` with both values files and variants, the render-time refusals, the rendered
 * objects read field by field, yamllint on them, the container environment through the gateway's
 * config loader, and finally the rendered migration Job, start-up probe and container command
 * run for real against the local PostgreSQL and Redis (what the pod would run, minus the pod).
 */

const CHART = join(ROOT, 'helm/mcp-gateway');
const TEMPLATES = join(CHART, 'templates');
type Obj = Record<string, unknown>;
const readYaml = (file: string) => load(readFileSync(join(CHART, file), 'utf8')) as Obj;
const values = readYaml('values.yaml');
const productionValues = readYaml('production-values.yaml');
const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as Obj;
const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; scripts: Record<string, string> };
const templateFiles = readdirSync(TEMPLATES).filter((f) => /\.(yaml|tpl|txt)$/.test(f));
const templateText = (file: string) => readFileSync(join(TEMPLATES, file), 'utf8');

/** Variables the chart sets itself rather than from `config:` (see values.yaml). */
const CHART_WIRED = ['HOST', 'DATABASE_URL', 'REDIS_URL'];
/** Container env entries that are not gateway variables: the parts URLs are built from, and PM2's home. */
const HELPER_ENV = ['DATABASE_PASSWORD', 'REDIS_PASSWORD', 'PM2_HOME'];
/** The gateway's laptop secrets, refused by the chart. */
const TEST_SECRETS = { 'secrets.JWT_SECRET_KEY': 'test-jwt-secret', 'secrets.AUTH_ENCRYPTION_SECRET': 'test-encryption-secret', 'postgresql.auth.password': 'test-db-password' };

// ---------------------------------------------------------------- values helpers

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
/** Helm's coalescing of a values file over the chart's: maps merge, a null deletes the key. */
function mergeValues(base: unknown, over: unknown): unknown {
  if (!isObj(base) || !isObj(over)) return over;
  const out: Obj = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === null) delete out[key];
    else out[key] = mergeValues(base[key], value);
  }
  return out;
}
const clone = <T>(v: T): T => structuredClone(v);
function setPath(target: Obj, path: string, value: unknown): Obj {
  const keys = path.split('.');
  let node: unknown = target;
  for (const key of keys.slice(0, -1)) node = Array.isArray(node) ? node[Number(key)] : (node as Obj)[key];
  const last = keys[keys.length - 1];
  if (value === undefined) delete (node as Obj)[last];
  else if (Array.isArray(node)) node[Number(last)] = value;
  else (node as Obj)[last] = value;
  return target;
}
function hasPath(target: unknown, path: string[]): boolean {
  let node = target;
  for (const key of path) {
    if (!isObj(node) || !(key in node)) return false;
    node = node[key];
  }
  return true;
}

const ajv = new Ajv({ strict: true, allErrors: true });
const validateValues = ajv.compile(schema);
const schemaErrors = (v: unknown): string[] =>
  validateValues(v) ? [] : (validateValues.errors ?? []).map((e: ErrorObject) => `${e.instancePath} ${e.message}`);

// ---------------------------------------------------------------- tools

/** Whether a binary runs; under CI=true it must (.ci/run installs helm and yamllint). */
function toolAvailable(bin: string, versionArgs: string[], install: string): boolean {
  if (spawnSync(bin, versionArgs, { stdio: 'ignore' }).status === 0) return true;
  if (process.env.CI === 'true') throw new Error(`${bin} is not installed, and CI=true requires it (${install})`);
  process.stderr.write(`\n!!! ${bin} is not installed: SKIPPING the checks that need it (${install}) !!!\n\n`);
  return false;
}
const helmAvailable = toolAvailable('helm', ['version', '--short'], '.ci/run installs it from the npm registry');
const yamllintAvailable = toolAvailable('yamllint', ['--version'], 'apt-get install yamllint');

// helm keeps caches and config under these; a temp dir keeps the runs hermetic.
const helmHome = mkdtempSync(join(tmpdir(), 'helm-home-'));
const helmEnv = {
  ...process.env,
  HELM_CACHE_HOME: join(helmHome, 'cache'),
  HELM_CONFIG_HOME: join(helmHome, 'config'),
  HELM_DATA_HOME: join(helmHome, 'data'),
};
afterAll(() => {
  stopContainerMains();
  rmSync(helmHome, { recursive: true, force: true });
});

const setArgs = (set: Record<string, string | number | boolean>) =>
  Object.entries(set).flatMap(([k, v]) => [typeof v === 'string' ? '--set-string' : '--set', `${k}=${v}`]);
function helm(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('helm', args, { encoding: 'utf8', env: helmEnv, cwd: ROOT, maxBuffer: 32 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Obj;
  data?: Record<string, string>;
}
interface RenderOptions {
  files?: string[];
  set?: Record<string, string | number | boolean>;
}
/** `helm template` of the chart: the manifests as objects, and the raw text. */
function render({ files = [], set = {} }: RenderOptions = {}): { objects: K8sObject[]; text: string } {
  const r = helm(['template', 'rel', CHART, '--namespace', 'mcp', ...files.flatMap((f) => ['-f', f]), ...setArgs(set)]);
  if (r.status !== 0) throw new Error(`helm template failed:\n${r.stderr}`);
  const objects = (loadAll(r.stdout) as Array<K8sObject | null>).filter((o): o is K8sObject => o !== null);
  return { objects, text: r.stdout };
}
function renderError(options: RenderOptions): string {
  const r = helm(['template', 'rel', CHART, ...(options.files ?? []).flatMap((f) => ['-f', f]), ...setArgs(options.set ?? {})]);
  expect(r.status).not.toBe(0);
  return r.stderr;
}
const find = (objects: K8sObject[], kind: string, name?: string): K8sObject[] =>
  objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
const only = (objects: K8sObject[], kind: string, name?: string): K8sObject => {
  const found = find(objects, kind, name);
  expect(found.map((o) => `${o.kind}/${o.metadata.name}`)).toHaveLength(1);
  return found[0];
};

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: Array<{ name: string; containerPort: number }>;
  env?: EnvVar[];
  envFrom?: Array<{ configMapRef?: { name: string } }>;
  startupProbe?: Obj;
  readinessProbe?: Obj;
  livenessProbe?: Obj;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  securityContext?: Obj;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  securityContext?: Obj;
  terminationGracePeriodSeconds?: number;
  volumes?: Array<{ name: string; emptyDir?: Obj }>;
  serviceAccountName?: string;
}
const podOf = (o: K8sObject) => (o.spec as { template: { spec: PodSpec; metadata: { annotations?: Record<string, string>; labels: Record<string, string> } } }).template;

/**
 * What a container's process sees: envFrom ConfigMaps, then env entries in order, with
 * Kubernetes' $(VAR) expansion against what is defined so far. Secrets are read from the render.
 */
function containerEnv(objects: K8sObject[], container: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    const cm = only(objects, 'ConfigMap', from.configMapRef?.name);
    Object.assign(env, cm.data);
  }
  for (const entry of container.env ?? []) {
    if (entry.value !== undefined) {
      env[entry.name] = entry.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string) => env[name] ?? m);
      continue;
    }
    const ref = entry.valueFrom?.secretKeyRef;
    if (!ref) throw new Error(`unsupported env source for ${entry.name}`);
    const secret = find(objects, 'Secret', ref.name)[0];
    const encoded = secret?.data?.[ref.key];
    if (encoded === undefined) {
      if (ref.optional) continue;
      throw new Error(`${entry.name}: Secret ${ref.name} key ${ref.key} is not in the render`);
    }
    env[entry.name] = Buffer.from(encoded, 'base64').toString('utf8');
  }
  return env;
}

function yamllint(args: string[]): { status: number | null; output: string } {
  const r = spawnSync('yamllint', ['-f', 'parsable', ...args], { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}
/** The chart's yamllint rules, loosened for rendered output: toYaml writes unindented sequences, and values can be long. */
const RENDERED_YAMLLINT =
  '{extends: default, rules: {document-start: disable, line-length: disable, comments: {min-spaces-from-content: 1}, indentation: {spaces: 2, indent-sequences: whatever}}}';

// ---------------------------------------------------------------- template text helpers

/** The `{{ ... }}` actions of a template, comments dropped. */
function actions(text: string): string[] {
  return [...text.matchAll(/\{\{-?\s*([\s\S]*?)\s*-?\}\}/g)].map((m) => m[1]).filter((a) => !a.startsWith('/*'));
}

/**
 * Every values path a template reads: `.Values.a.b`, `$.Values.a.b`, `.root.Values.a.b`, and
 * through variables bound to a values path (`$pg := .Values.postgresql` ... `$pg.auth.password`),
 * in the order they appear (a variable may be bound again).
 */
function valuesPaths(text: string): string[][] {
  const paths: string[][] = [];
  const aliases = new Map<string, string[]>();
  const token = /(\{\{-?\s*define\b)|\$([A-Za-z_]\w*)\s*:?=\s*([^}]*?)\s*-?\}\}|(?:\$([A-Za-z_]\w*)|(?:\$|\.root|\$root)?(\.Values))((?:\.[A-Za-z0-9_]+)*)/g;
  for (const m of text.matchAll(token)) {
    if (m[1]) {
      aliases.clear();
      continue;
    }
    if (m[2]) {
      // $name := expression: an alias when the expression is a bare values path.
      const bare = /^(?:\$|\.root|\$root)?\.Values((?:\.[A-Za-z0-9_]+)*)$/.exec(m[3]);
      const viaAlias = /^\$([A-Za-z_]\w*)((?:\.[A-Za-z0-9_]+)*)$/.exec(m[3]);
      if (bare) aliases.set(m[2], bare[1].split('.').filter(Boolean));
      else if (viaAlias && aliases.has(viaAlias[1])) aliases.set(m[2], [...(aliases.get(viaAlias[1]) as string[]), ...viaAlias[2].split('.').filter(Boolean)]);
      else aliases.delete(m[2]);
      // The expression itself may read values.
      paths.push(...valuesPaths(`{{ ${m[3]} }}`));
      continue;
    }
    const rest = m[6].split('.').filter(Boolean);
    if (m[5]) {
      if (rest.length > 0) paths.push(rest);
    } else if (m[4] && aliases.has(m[4]) && rest.length > 0) {
      paths.push([...(aliases.get(m[4]) as string[]), ...rest]);
    }
  }
  return paths;
}

// ================================================================= tests

describe('helm/mcp-gateway: chart files', () => {
  it('Chart.yaml: apiVersion v2, appVersion is the gateway version, a semver chart version', () => {
    const chart = readYaml('Chart.yaml');
    expect(chart).toMatchObject({ apiVersion: 'v2', name: 'mcp-gateway', type: 'application', appVersion: packageJson.version });
    expect(String(chart.version)).toMatch(/^\d+\.\d+\.\d+$/);
    const ignored = readFileSync(join(CHART, '.helmignore'), 'utf8').split('\n');
    expect(ignored).toContain('.yamllint');
  });

  (yamllintAvailable ? it : it.skip)('Chart.yaml and the values files pass yamllint with the chart\'s rules (templates/ excluded)', () => {
    const config = readFileSync(join(CHART, '.yamllint'), 'utf8');
    expect(config).toMatch(/ignore: \|\n\s+templates\//);
    const r = yamllint(['-s', '-c', join(CHART, '.yamllint'), join(CHART, 'Chart.yaml'), join(CHART, 'values.yaml'), join(CHART, 'production-values.yaml')]);
    expect(r).toEqual({ status: 0, output: '' });
  });
});

describe('helm/mcp-gateway: values.schema.json', () => {
  it('accepts values.yaml, and production-values.yaml merged over it (what helm checks)', () => {
    expect(schemaErrors(values)).toEqual([]);
    expect(schemaErrors(mergeValues(values, productionValues))).toEqual([]);
  });

  const bad: Array<[string, (v: Obj) => Obj, RegExp]> = [
    ['a negative replicaCount', (v) => setPath(v, 'replicaCount', -1), /\/replicaCount/],
    ['replicaCount as a string', (v) => setPath(v, 'replicaCount', '3'), /\/replicaCount/],
    ['hpa.maxReplicas "ten"', (v) => setPath(v, 'hpa.maxReplicas', 'ten'), /\/hpa\/maxReplicas/],
    ['a CPU target above 100 %', (v) => setPath(v, 'hpa.targetCPUUtilizationPercentage', 150), /targetCPUUtilizationPercentage/],
    ['an unknown top-level key', (v) => setPath(v, 'replicas', 3), /additional properties/],
    ['an unknown config key', (v) => setPath(v, 'config.NOT_A_GATEWAY_VAR', '1'), /additional properties/],
    ['a secret under config', (v) => setPath(v, 'config.JWT_SECRET_KEY', 'x'), /additional properties/],
    ['a chart-wired variable under config', (v) => setPath(v, 'config.DATABASE_URL', 'postgres://x@y/z'), /additional properties/],
    ['config.CACHE_TYPE memcached', (v) => setPath(v, 'config.CACHE_TYPE', 'memcached'), /\/config\/CACHE_TYPE/],
    ['config.LOG_LEVEL verbose', (v) => setPath(v, 'config.LOG_LEVEL', 'verbose'), /\/config\/LOG_LEVEL/],
    ['config.DB_POOL_SIZE 0', (v) => setPath(v, 'config.DB_POOL_SIZE', 0), /\/config\/DB_POOL_SIZE/],
    ['config.PORT 70000', (v) => setPath(v, 'config.PORT', 70000), /\/config\/PORT/],
    ['config.WORKERS "many"', (v) => setPath(v, 'config.WORKERS', 'many'), /\/config\/WORKERS/],
    ['config.WORKERS 0', (v) => setPath(v, 'config.WORKERS', 0), /\/config\/WORKERS/],
    ['config.AUTH_REQUIRED "yes"', (v) => setPath(v, 'config.AUTH_REQUIRED', 'yes'), /\/config\/AUTH_REQUIRED/],
    ['config.OTEL_EXPORTER_OTLP_ENDPOINT ftp://', (v) => setPath(v, 'config.OTEL_EXPORTER_OTLP_ENDPOINT', 'ftp://x'), /OTEL_EXPORTER_OTLP_ENDPOINT/],
    ['a config variable left out', (v) => setPath(v, 'config.SESSION_TTL', undefined), /SESSION_TTL/],
    ['secrets.JWT_SECRET_KEY left out', (v) => setPath(v, 'secrets.JWT_SECRET_KEY', undefined), /JWT_SECRET_KEY/],
    ['secrets.AUTH_ENCRYPTION_SECRET as a number', (v) => setPath(v, 'secrets.AUTH_ENCRYPTION_SECRET', 123), /AUTH_ENCRYPTION_SECRET/],
    ['image.pullPolicy Sometimes', (v) => setPath(v, 'image.pullPolicy', 'Sometimes'), /pullPolicy/],
    ['an empty image.repository', (v) => setPath(v, 'image.repository', ''), /repository/],
    ['service.port 0', (v) => setPath(v, 'service.port', 0), /\/service\/port/],
    ['rollingUpdate.maxSurge "lots"', (v) => setPath(v, 'rollingUpdate.maxSurge', 'lots'), /maxSurge/],
    ['pdb.minAvailable -1', (v) => setPath(v, 'pdb.minAvailable', -1), /minAvailable/],
    ['a mysql:// externalDatabase.url', (v) => setPath(v, 'externalDatabase.url', 'mysql://u:p@h/db'), /externalDatabase\/url/],
    ['an http:// externalRedis.url', (v) => setPath(v, 'externalRedis.url', 'http://redis:6379'), /externalRedis\/url/],
    ['ingress pathType Everything', (v) => setPath(v, 'ingress.hosts.0.paths.0.pathType', 'Everything'), /pathType/],
    ['postgresql.persistence.size "big"', (v) => setPath(v, 'postgresql.persistence.size', 'big'), /size/],
    ['serviceMonitor.interval "often"', (v) => setPath(v, 'serviceMonitor.interval', 'often'), /interval/],
    ['networkPolicy.egress.allowAll "no"', (v) => setPath(v, 'networkPolicy.egress.allowAll', 'no'), /allowAll/],
    ['probes.startup.failureThreshold 0', (v) => setPath(v, 'probes.startup.failureThreshold', 0), /failureThreshold/],
  ];
  it.each(bad)('rejects %s', (_name, mutate, where) => {
    const errors = schemaErrors(mutate(clone(values)));
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.join('\n')).toMatch(where);
  });

  it('config mirrors the gateway\'s own validators: type, range, enum and pattern of every variable', () => {
    const configSchema = (schema.properties as Record<string, Obj>).config as { properties: Record<string, Obj>; required: string[] };
    const constraints = configConstraints();
    for (const [name, prop] of Object.entries(configSchema.properties)) {
      const c = constraints.get(name);
      expect([name, c !== undefined]).toEqual([name, true]);
      if (!c) continue;
      const variants = [prop, ...((prop.oneOf ?? prop.anyOf ?? []) as Obj[])];
      const typed = (t: string) => variants.find((v) => v.type === t);
      if (name === 'WORKERS') {
        // A number or the gateway's string form ("auto", "4").
        expect(typed('integer')).toMatchObject({ minimum: 1, maximum: 999 });
        expect(typed('string')?.pattern).toBe(c.pattern?.source);
        continue;
      }
      if (c.kind === 'integer' || c.kind === 'number') {
        expect([name, prop]).toEqual([name, expect.objectContaining({ type: c.kind, minimum: c.min, maximum: c.max })]);
      } else if (c.kind === 'boolean') {
        expect([name, prop.type]).toEqual([name, 'boolean']);
      } else {
        expect([name, prop.type]).toEqual([name, 'string']);
        // CACHE_TYPE also takes "" (the chart decides from the Redis values).
        if (c.enum) expect([name, (prop.enum as string[]).filter((e) => e !== '')]).toEqual([name, c.enum]);
        const pattern = variants.map((v) => v.pattern).find(Boolean);
        if (c.pattern) expect([name, pattern]).toEqual([name, c.pattern.source]);
        // An optional pattern variable may be empty (the gateway reads "" as unset).
        if (c.pattern && c.optional) expect([name, variants.some((v) => v.maxLength === 0)]).toEqual([name, true]);
        if (c.maxLength !== undefined) expect([name, prop.maxLength]).toEqual([name, c.maxLength]);
        if (c.minLength !== undefined) expect([name, prop.minLength]).toEqual([name, c.minLength]);
      }
    }
    expect([...configSchema.required].sort()).toEqual(Object.keys(configSchema.properties).sort());
  });
});

describe('helm/mcp-gateway: values.yaml config', () => {
  const config = values.config as Obj;
  const secrets = Object.keys(values.secrets as Obj).filter((k) => k !== 'existingSecret');

  it('covers every gateway variable exactly once: config, secrets, or set by the chart', () => {
    const covered = [...Object.keys(config), ...secrets, ...CHART_WIRED];
    expect(covered.filter((k) => !CONFIG_VARS.has(k))).toEqual([]);
    expect([...CONFIG_VARS].filter((k) => !covered.includes(k)).sort()).toEqual([]);
    expect(new Set(covered).size).toBe(covered.length);
  });

  it('has the gateway\'s defaults, except WORKERS (a number in a pod) and CACHE_TYPE (decided by the chart)', () => {
    const defaults = new EnvironmentVariables() as unknown as Obj;
    const differing = Object.keys(config).filter((k) => {
      const d = defaults[k];
      return d === undefined ? config[k] !== '' : String(config[k]) !== String(d);
    });
    expect(differing.sort()).toEqual(['CACHE_TYPE', 'WORKERS']);
    expect(config).toMatchObject({ CACHE_TYPE: '', WORKERS: 2 });
  });
});

describe('helm/mcp-gateway: templates (read without helm)', () => {
  it('every .Values path a template reads exists in values.yaml', () => {
    const missing: string[] = [];
    let checked = 0;
    for (const file of templateFiles) {
      for (const path of valuesPaths(templateText(file))) {
        checked++;
        if (!hasPath(values, path)) missing.push(`${file}: .Values.${path.join('.')}`);
      }
    }
    expect(checked).toBeGreaterThan(100);
    expect(missing).toEqual([]);
  });

  it('the path reader follows aliases and root forms (guards the check above)', () => {
    const sample = '{{ $.Values.a.b }}{{ .root.Values.c }}{{- $pg := .Values.postgresql }}{{ $pg.auth.password }}{{- $x := $pg.auth }}{{ $x.username }}{{- $pg := include "x" . }}{{ $pg.nope }}';
    expect(valuesPaths(sample)).toEqual([['a', 'b'], ['c'], ['postgresql'], ['postgresql', 'auth', 'password'], ['postgresql', 'auth', 'username']]);
  });

  it.each(templateFiles)('%s: balanced {{ }}, and every if/range/with/define closed by its end', (file) => {
    const text = templateText(file);
    expect(text.split('{{').length).toBe(text.split('}}').length);
    let depth = 0;
    for (const action of actions(text)) {
      const word = /^(\w+)/.exec(action)?.[1];
      if (word && ['if', 'range', 'with', 'define', 'block'].includes(word)) depth++;
      if (word === 'end') depth--;
      expect(depth).toBeGreaterThanOrEqual(0);
    }
    expect(depth).toBe(0);
  });

  it('every include and template names a template defined in _helpers.tpl', () => {
    const helpers = templateText('_helpers.tpl');
    const defined = new Set([...helpers.matchAll(/\{\{-?\s*define\s+"([^"]+)"/g)].map((m) => m[1]));
    expect(defined.size).toBeGreaterThan(10);
    const used = templateFiles.flatMap((f) => [...templateText(f).matchAll(/\b(?:include|template)\s+"([^"]+)"/g)].map((m) => m[1]));
    expect([...new Set(used)].filter((name) => !defined.has(name))).toEqual([]);
    // No template defines helpers outside _helpers.tpl (they would be global all the same).
    for (const file of templateFiles.filter((f) => f !== '_helpers.tpl')) expect([file, /\bdefine\s+"/.test(templateText(file))]).toEqual([file, false]);
  });

  it('probes, port and commands are the gateway\'s: /health and /ready routes, db-isready and migrate scripts, built files', () => {
    const deployment = templateText('deployment.yaml');
    const job = templateText('migration-job.yaml');
    const controller = readFileSync(join(ROOT, 'src/health/health.controller.ts'), 'utf8');
    expect(controller).toMatch(/@Get\('health'\)/);
    expect(controller).toMatch(/@Get\('ready'\)/);
    expect(deployment).toMatch(/readinessProbe:\s+httpGet:\s+path: \/ready\s+port: http/);
    expect(deployment).toMatch(/livenessProbe:\s+httpGet:\s+path: \/health\s+port: http/);
    expect(deployment).toMatch(/containerPort: \{\{ include "mcp-gateway.envValue" \.Values\.config\.PORT \}\}/);
    expect((values.config as Obj).PORT).toBe(new EnvironmentVariables().PORT);

    const isready = packageJson.scripts['db:isready'];
    const migrate = packageJson.scripts.migrate.replace(/^npm run build --silent && /, '');
    expect(isready).toBe('node dist/health/db-isready.cli.js');
    expect(migrate).toBe('node dist/database/migrate.cli.js');
    const argv = (s: string) => JSON.stringify(s.split(' ')).slice(1, -1).replace(/,/g, ', ');
    expect(deployment).toContain(`command: [${argv(isready)}, "--max-tries=1"`);
    expect(job).toContain(`command: [${argv(isready)}, "--max-tries=`);
    expect(job).toContain(`command: [${argv(migrate)}]`);
    // What the image runs (dist/ is built before the e2e tests, as in the image).
    for (const script of [isready, migrate]) expect(existsSync(join(ROOT, script.split(' ')[1]))).toBe(true);
  });
});

(helmAvailable ? describe : describe.skip)('helm/mcp-gateway: helm lint and helm template', () => {
  const production = join(CHART, 'production-values.yaml');
  const defaults = () => render({ set: TEST_SECRETS });

  it('passes helm lint --strict, with the required secrets and with production-values.yaml', () => {
    for (const args of [setArgs(TEST_SECRETS), ['-f', production]]) {
      const r = helm(['lint', '--strict', CHART, ...args]);
      expect({ status: r.status, out: r.stdout + r.stderr }).toEqual({ status: 0, out: expect.stringContaining('0 chart(s) failed') });
    }
  });

  it('helm itself rejects bad values through values.schema.json', () => {
    expect(renderError({ set: { ...TEST_SECRETS, replicaCount: -1 } })).toMatch(/replicaCount/);
    expect(renderError({ set: { ...TEST_SECRETS, 'hpa.maxReplicas': 'ten' } })).toMatch(/maxReplicas/);
    expect(renderError({ set: { ...TEST_SECRETS, 'config.CACHE_TYPE': 'memcached' } })).toMatch(/CACHE_TYPE/);
  });

  const refusals: Array<[string, Record<string, string | number | boolean>, RegExp]> = [
    ['no secrets', { 'postgresql.auth.password': 'x' }, /secrets\.JWT_SECRET_KEY is required/],
    ['the laptop JWT secret', { ...TEST_SECRETS, 'secrets.JWT_SECRET_KEY': 'my-test-key' }, /laptop default/],
    ['the laptop Basic password', { ...TEST_SECRETS, 'secrets.BASIC_AUTH_PASSWORD': 'changeme' }, /BASIC_AUTH_PASSWORD is the gateway's laptop default/],
    ['no in-chart database password', { 'secrets.JWT_SECRET_KEY': 'a', 'secrets.AUTH_ENCRYPTION_SECRET': 'b' }, /postgresql\.auth\.password is required/],
    ['the memory cache on two pods', { ...TEST_SECRETS, 'redis.enabled': false }, /CACHE_TYPE=memory keeps sessions in one process/],
    ['the memory cache with two workers', { ...TEST_SECRETS, 'redis.enabled': false, replicaCount: 1 }, /WORKERS=2 with CACHE_TYPE=memory/],
    ['CACHE_TYPE=redis without Redis', { ...TEST_SECRETS, 'redis.enabled': false, 'config.CACHE_TYPE': 'redis' }, /needs Redis/],
    ['SQLite on two pods', { ...TEST_SECRETS, 'postgresql.enabled': false }, /SQLite lives in one pod/],
    ['both in-chart and external database', { ...TEST_SECRETS, 'externalDatabase.host': 'db' }, /postgresql\.enabled is true/],
    ['an external host without credentials', { ...TEST_SECRETS, 'postgresql.enabled': false, 'externalDatabase.host': 'db' }, /needs externalDatabase\.password/],
    ['minReplicas above maxReplicas', { ...TEST_SECRETS, 'hpa.enabled': true, 'hpa.minReplicas': 5, 'hpa.maxReplicas': 3 }, /minReplicas \(5\) is above/],
    ['a PDB that blocks drains', { ...TEST_SECRETS, 'pdb.minAvailable': 2 }, /must stay below the smallest replica count/],
    ['a blown connection budget', { ...TEST_SECRETS, 'hpa.enabled': true, 'hpa.maxReplicas': 10 }, /connection budget: 13 pods .* = 520 connections > max_connections 200/],
    ['WORKERS=auto with the budget check', { ...TEST_SECRETS, 'config.WORKERS': 'auto' }, /WORKERS=auto counts the node's cores/],
    ['a ServiceMonitor without credentials', { ...TEST_SECRETS, 'serviceMonitor.enabled': true }, /requires credentials/],
    ['MIGRATE_ON_START=false with the in-chart database', { ...TEST_SECRETS, 'config.MIGRATE_ON_START': false }, /post-install/],
  ];
  it.each(refusals)('refuses to render %s, naming the value to change', (_name, set, message) => {
    expect(renderError({ set })).toMatch(message);
  });

  it('renders clean YAML (yamllint) and only valid-looking objects, with both values files', () => {
    for (const options of [{ set: TEST_SECRETS }, { files: [production] }]) {
      const { objects, text } = render(options);
      for (const o of objects) {
        expect(o.apiVersion).toMatch(/^(v1|[a-z0-9.]+\/v\d+)$/);
        expect(o.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
        expect(o.metadata.name.length).toBeLessThanOrEqual(63);
        expect(o.metadata.labels?.['app.kubernetes.io/instance']).toBe('rel');
      }
      if (yamllintAvailable) {
        const dir = mkdtempSync(join(tmpdir(), 'helm-render-'));
        try {
          const file = join(dir, 'rendered.yaml');
          spawnSync('sh', ['-c', 'cat > "$1"', 'sh', file], { input: text });
          expect(yamllint(['-d', RENDERED_YAMLLINT, file])).toEqual({ status: 0, output: '' });
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    }
  });

  it('default render: the objects, with the in-chart PostgreSQL and Redis', () => {
    const { objects } = defaults();
    const kinds = objects.map((o) => `${o.apiVersion} ${o.kind}`).sort();
    expect(new Set(kinds)).toEqual(
      new Set([
        'apps/v1 Deployment', 'apps/v1 StatefulSet', 'batch/v1 Job', 'networking.k8s.io/v1 NetworkPolicy',
        'policy/v1 PodDisruptionBudget', 'v1 ConfigMap', 'v1 Secret', 'v1 Service', 'v1 ServiceAccount',
      ]),
    );
    expect(find(objects, 'StatefulSet').map((o) => o.metadata.name).sort()).toEqual(['rel-mcp-gateway-postgresql', 'rel-mcp-gateway-redis']);
    for (const sts of find(objects, 'StatefulSet')) {
      const claims = (sts.spec as { volumeClaimTemplates: Array<{ metadata: { name: string } }> }).volumeClaimTemplates;
      expect(claims.map((c) => c.metadata.name)).toEqual(['data']);
    }
    expect(find(objects, 'Service').map((o) => o.metadata.name).sort()).toEqual(['rel-mcp-gateway', 'rel-mcp-gateway-postgresql', 'rel-mcp-gateway-redis']);
    const postgres = podOf(only(objects, 'StatefulSet', 'rel-mcp-gateway-postgresql')).spec.containers[0];
    expect(postgres.args).toEqual(['postgres', '-c', 'max_connections=200']);
  });

  it('the Deployment: probes, port, stop sequence, rolling update, checksums, non-root read-only pod', () => {
    const { objects } = defaults();
    const deployment = only(objects, 'Deployment');
    const spec = deployment.spec as { replicas: number; strategy: { rollingUpdate: { maxUnavailable: number } }; selector: { matchLabels: Obj } };
    expect(spec.replicas).toBe(values.replicaCount);
    expect(spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    const template = podOf(deployment);
    expect(template.metadata.annotations?.['checksum/config']).toMatch(/^[0-9a-f]{64}$/);
    expect(template.metadata.annotations?.['checksum/secret']).toMatch(/^[0-9a-f]{64}$/);
    const pod = template.spec;
    const [gateway] = pod.containers;
    expect(gateway.ports).toEqual([{ name: 'http', containerPort: new EnvironmentVariables().PORT, protocol: 'TCP' }]);
    expect(gateway.command).toBeUndefined(); // the image's CMD: config check, then pm2-runtime
    expect(gateway.startupProbe).toMatchObject({ exec: { command: ['node', 'dist/health/db-isready.cli.js', '--max-tries=1', '--timeout=3'] } });
    expect(gateway.readinessProbe).toMatchObject({ httpGet: { path: '/ready', port: 'http' } });
    expect(gateway.livenessProbe).toMatchObject({ httpGet: { path: '/health', port: 'http' } });
    // The exec probe must be allowed longer than db-isready's own timeout.
    expect(Number((gateway.startupProbe as Obj).timeoutSeconds)).toBeGreaterThan(3);

    const preStop = gateway.lifecycle?.preStop?.exec?.command ?? [];
    expect(preStop).toEqual(['sleep', String((values.lifecycle as Obj).preStopSleepSeconds)]);
    const graceful = Number((values.config as Obj).GRACEFUL_TIMEOUT);
    // PM2 kills workers GRACEFUL_TIMEOUT + 5 s after SIGTERM (ecosystem.config.js); the pod must outlast that.
    expect(pod.terminationGracePeriodSeconds).toBe(Number(preStop[1]) + graceful + 10);
    expect(readFileSync(join(ROOT, 'ecosystem.config.js'), 'utf8')).toMatch(/kill_timeout: \(graceful \+ 5\) \* 1000/);

    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000 });
    expect(readFileSync(join(ROOT, 'docker/Dockerfile'), 'utf8')).toMatch(/^USER node$/m); // uid 1000 in node images
    expect(gateway.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    const mounts = Object.fromEntries((gateway.volumeMounts ?? []).map((m) => [m.mountPath, m.name]));
    expect(mounts).toMatchObject({ '/tmp': 'tmp', '/app/data': 'data' });
    for (const name of ['tmp', 'data']) expect(pod.volumes?.find((v) => v.name === name)?.emptyDir).toBeDefined();
    const env = containerEnv(objects, gateway);
    expect(env.PM2_HOME.startsWith('/tmp/')).toBe(true);
    expect(env.HOST).toBe('0.0.0.0');
    expect(pod.serviceAccountName).toBe(only(objects, 'ServiceAccount').metadata.name);

    const service = only(objects, 'Service', deployment.metadata.name);
    expect(service.spec).toMatchObject({ sessionAffinity: 'None', ports: [{ name: 'http', targetPort: 'http' }], selector: spec.selector.matchLabels });
    expect(only(objects, 'PodDisruptionBudget').spec).toMatchObject({ minAvailable: 1, selector: { matchLabels: spec.selector.matchLabels } });
  });

  it('ConfigMap, Secret and env: only gateway variables, and together a valid multi-worker config', () => {
    const { objects } = defaults();
    const gateway = podOf(only(objects, 'Deployment')).spec.containers[0];
    const configMap = only(objects, 'ConfigMap', 'rel-mcp-gateway');
    expect(Object.keys(configMap.data ?? {}).filter((k) => !CONFIG_VARS.has(k))).toEqual([]);
    expect(Object.keys(configMap.data ?? {}).sort()).toEqual([...Object.keys(values.config as Obj), 'HOST'].sort());
    const secret = only(objects, 'Secret', 'rel-mcp-gateway');
    expect(Object.keys(secret.data ?? {}).filter((k) => !CONFIG_VARS.has(k) && !HELPER_ENV.includes(k))).toEqual([]);
    expect((gateway.env ?? []).map((e) => e.name).filter((k) => !CONFIG_VARS.has(k) && !HELPER_ENV.includes(k))).toEqual([]);

    const env = containerEnv(objects, gateway);
    expect(env.DATABASE_URL).toBe('postgresql://mcp:test-db-password@rel-mcp-gateway-postgresql:5432/mcp');
    expect(env.REDIS_URL).toBe('redis://rel-mcp-gateway-redis:6379/0');
    const config = loadConfig(env);
    expect(config.database.type).toBe('postgres');
    expect(config.cache).toMatchObject({ type: 'redis', redisUrl: env.REDIS_URL });
    expect(config.server).toMatchObject({ host: '0.0.0.0', port: 4444 });
    expect(config.workers.count).toBe(2);
    expect(config.auth).toMatchObject({ jwtSecret: 'test-jwt-secret', encryptionSecret: 'test-encryption-secret', basicPassword: '', insecureDefaults: [] });
  });

  it('the migration Job: a hook with its own config, the migrate command, after the database answers', () => {
    for (const [set, hook] of [
      [TEST_SECRETS, 'post-install,pre-upgrade'],
      [{ ...TEST_SECRETS, 'postgresql.enabled': false, 'externalDatabase.host': 'db.example', 'externalDatabase.password': 'pw' }, 'pre-install,pre-upgrade'],
    ] as const) {
      const { objects } = render({ set });
      const job = only(objects, 'Job');
      const hookObjects = objects.filter((o) => o.metadata.annotations?.['helm.sh/hook']);
      expect(hookObjects.map((o) => o.kind).sort()).toEqual(['ConfigMap', 'Job', 'Secret']);
      for (const o of hookObjects) {
        expect(o.metadata.annotations).toMatchObject({ 'helm.sh/hook': hook, 'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded' });
        if (o !== job) expect(Number(o.metadata.annotations?.['helm.sh/hook-weight'])).toBeLessThan(Number(job.metadata.annotations?.['helm.sh/hook-weight']));
      }
      const pod = podOf(job).spec;
      expect(pod.containers.map((c) => c.command)).toEqual([['node', 'dist/database/migrate.cli.js']]);
      expect(pod.initContainers?.map((c) => c.command?.slice(0, 2))).toEqual([['node', 'dist/health/db-isready.cli.js']]);
      // Before the install, the release's own ConfigMap, Secret and ServiceAccount do not exist yet.
      const release = new Set(objects.filter((o) => !o.metadata.annotations?.['helm.sh/hook']).map((o) => `${o.kind}/${o.metadata.name}`));
      expect(pod.serviceAccountName).toBeUndefined();
      for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
        const refs = [
          ...(c.envFrom ?? []).map((f) => `ConfigMap/${f.configMapRef?.name}`),
          ...(c.env ?? []).flatMap((e) => (e.valueFrom?.secretKeyRef ? [`Secret/${e.valueFrom.secretKeyRef.name}`] : [])),
        ];
        expect(refs.length).toBeGreaterThan(0);
        expect(refs.filter((r) => release.has(r))).toEqual([]);
        const config = loadConfig(containerEnv(objects, c));
        expect(config.database.type).toBe('postgres');
      }
    }
  });

  it('HPA, Ingress and ServiceMonitor when enabled', () => {
    const { objects } = render({
      set: {
        ...TEST_SECRETS, 'hpa.enabled': true, 'hpa.minReplicas': 2, 'hpa.maxReplicas': 3, 'ingress.enabled': true,
        'serviceMonitor.enabled': true, 'serviceMonitor.basicAuth.username.name': 'm', 'serviceMonitor.basicAuth.username.key': 'u',
        'serviceMonitor.basicAuth.password.name': 'm', 'serviceMonitor.basicAuth.password.key': 'p',
      },
    });
    const hpa = only(objects, 'HorizontalPodAutoscaler');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec).toMatchObject({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'rel-mcp-gateway' }, minReplicas: 2, maxReplicas: 3,
      metrics: [
        { resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
        { resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 80 } } },
      ],
    });
    expect((only(objects, 'Deployment').spec as Obj).replicas).toBeUndefined(); // the HPA owns it

    const ingress = only(objects, 'Ingress');
    expect(ingress.apiVersion).toBe('networking.k8s.io/v1');
    expect(ingress.metadata.annotations).toMatchObject({
      'nginx.ingress.kubernetes.io/proxy-read-timeout': '3600',
      'nginx.ingress.kubernetes.io/proxy-send-timeout': '3600',
      'nginx.ingress.kubernetes.io/proxy-buffering': 'off',
    });
    const bodyLimit = Number(/^(\d+)m$/.exec(ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-body-size'] ?? '')?.[1]);
    expect(bodyLimit * 1024 * 1024).toBeGreaterThan(Number((values.config as Obj).MAX_BODY_SIZE));
    expect(JSON.stringify(ingress.spec)).toContain('{"service":{"name":"rel-mcp-gateway","port":{"name":"http"}}}');

    const monitor = only(objects, 'ServiceMonitor');
    expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(monitor.spec).toMatchObject({ endpoints: [{ port: 'http', path: '/metrics', basicAuth: { username: { name: 'm', key: 'u' } } }] });
    const service = only(objects, 'Service', 'rel-mcp-gateway');
    const selector = (monitor.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
    expect(service.metadata.labels).toMatchObject(selector);
    expect(readFileSync(join(ROOT, 'src/metrics/metrics.controller.ts'), 'utf8')).toMatch(/@Controller\('metrics'\)|@Get\('metrics'\)/);
  });

  it('PrometheusRule and Grafana dashboard when enabled: the shipped files, using only metrics the gateway exposes', async () => {
    const { objects } = render({ set: { ...TEST_SECRETS, 'prometheusRule.enabled': true, 'grafanaDashboard.enabled': true } });
    const rulesFile = load(readFileSync(join(CHART, 'files/prometheus-rules.yaml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
    const rule = only(objects, 'PrometheusRule');
    expect(rule.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(rule.spec).toEqual(rulesFile);
    const alerts = rulesFile.groups.flatMap((g) => g.rules);
    // The four: error rate, p99 over 1 s, pool over 90%, an unhealthy upstream.
    for (const name of ['McpGatewayHighErrorRate', 'McpGatewayHighLatencyP99', 'McpGatewayDbPoolNearlyExhausted', 'McpGatewayUpstreamUnhealthy']) {
      expect(alerts.map((r) => r.alert)).toContain(name);
    }
    const dashboardText = readFileSync(join(CHART, 'files/grafana-dashboard.json'), 'utf8');
    const dashboard = JSON.parse(dashboardText) as { uid: string; panels: Array<{ targets?: Array<{ expr: string }> }> };
    const configMap = only(objects, 'ConfigMap', 'rel-mcp-gateway-dashboard');
    expect(configMap.metadata.labels).toMatchObject({ grafana_dashboard: '1' });
    expect(JSON.parse((configMap.data as Record<string, string>)['mcp-gateway.json'] as string)).toEqual(dashboard);

    // Every metric family the rules and panels query is one a real gateway's /metrics exposes.
    const exprs = [...alerts.map((r) => r.expr), ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr))];
    const families = new Set<string>();
    for (const expr of exprs) {
      for (const m of expr.matchAll(/\b([a-z][a-z0-9_]*_(?:total|seconds|bytes|info|health|active|open|size|idle|waiting)(?:_bucket)?)\b/g)) {
        families.add((m[1] as string).replace(/_bucket$/, ''));
      }
    }
    expect(families.size).toBeGreaterThan(10);
    const gw = await startGateway({ JWT_SECRET_KEY: TEST_SECRET });
    try {
      const text = (await api(gw.url, 'GET', '/metrics', { auth: bearer() })).body as string;
      const exposed = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
      expect([...families].filter((f) => !exposed.has(f))).toEqual([]);
    } finally {
      await gw.stop();
    }
  }, 60_000);

  it('NetworkPolicy: ingress from the controller and Prometheus; egress to DNS, the stores and the upstreams only', () => {
    const { objects } = defaults();
    const policy = only(objects, 'NetworkPolicy', 'rel-mcp-gateway');
    const spec = policy.spec as { policyTypes: string[]; ingress: Array<{ from: Obj[]; ports: Obj[] }>; egress: Array<{ to?: Obj[]; ports: Obj[] }> };
    expect(spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(spec.ingress).toEqual([
      { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }], ports: [{ port: 'http', protocol: 'TCP' }] },
      {
        from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } }],
        ports: [{ port: 'http', protocol: 'TCP' }],
      },
    ]);
    const ports = spec.egress.map((rule) => rule.ports.map((p) => `${p.port}/${p.protocol}`).join(' '));
    expect(ports).toEqual(['53/UDP 53/TCP', '5432/TCP', '6379/TCP', '443/TCP 80/TCP']);
    const componentOf = (rule: { to?: Obj[] }) => (rule.to?.[0] as { podSelector?: { matchLabels: Record<string, string> } } | undefined)?.podSelector?.matchLabels['app.kubernetes.io/component'];
    expect(spec.egress.map(componentOf)).toEqual([undefined, 'postgresql', 'redis', undefined]);
    // The stores admit this release's gateway (and the migration Job for PostgreSQL) only.
    expect(JSON.stringify(only(objects, 'NetworkPolicy', 'rel-mcp-gateway-redis').spec)).toContain('"app.kubernetes.io/component":"gateway"');
    expect(only(objects, 'NetworkPolicy', 'rel-mcp-gateway-migrate').spec).toMatchObject({ policyTypes: ['Ingress', 'Egress'] });

    const open = render({ set: { ...TEST_SECRETS, 'networkPolicy.egress.allowAll': true } }).objects;
    const openSpec = only(open, 'NetworkPolicy', 'rel-mcp-gateway').spec as Obj;
    expect(openSpec.policyTypes).toEqual(['Ingress']);
    expect(openSpec.egress).toBeUndefined();
  });

  it('NOTES.txt renders (helm install --dry-run=client, no cluster) with commands that exist', () => {
    const r = spawnSync('helm', ['install', 'rel', CHART, '--namespace', 'mcp', '--dry-run=client', ...setArgs(TEST_SECRETS)], {
      encoding: 'utf8',
      env: { ...helmEnv, KUBECONFIG: '/dev/null' },
    });
    expect(r.status).toBe(0);
    const notes = r.stdout.slice(r.stdout.indexOf('NOTES:'));
    expect(notes).toMatch(/2 pod\(s\) x 2 worker\(s\), database: in-chart, cache: redis/);
    expect(notes).toContain('kubectl -n mcp port-forward svc/rel-mcp-gateway 4444:80');
    const token = /exec deploy\/rel-mcp-gateway -- node (\S+)/.exec(notes)?.[1] as string;
    expect(existsSync(join(ROOT, token))).toBe(true);
  });

  it('production-values.yaml: HPA 5 to 50, managed stores from existing Secrets, and a budget that fits', () => {
    const { objects } = render({ files: [production] });
    expect(find(objects, 'StatefulSet')).toEqual([]);
    expect(only(objects, 'HorizontalPodAutoscaler').spec).toMatchObject({ minReplicas: 5, maxReplicas: 50 });
    expect(only(objects, 'PodDisruptionBudget').spec).toMatchObject({ minAvailable: '80%' });
    const job = only(objects, 'Job');
    expect(job.metadata.annotations?.['helm.sh/hook']).toBe('pre-install,pre-upgrade');
    const gateway = podOf(only(objects, 'Deployment')).spec.containers[0];
    const byName = Object.fromEntries((gateway.env ?? []).map((e) => [e.name, e]));
    expect(byName.JWT_SECRET_KEY.valueFrom?.secretKeyRef?.name).toBe('mcp-gateway-secrets');
    expect(byName.DATABASE_PASSWORD.valueFrom?.secretKeyRef).toEqual({ name: 'mcp-gateway-db', key: 'password' });
    expect(byName.REDIS_URL.valueFrom?.secretKeyRef).toEqual({ name: 'mcp-gateway-redis', key: 'redis-url' });
    expect(byName.DATABASE_URL.value).toMatch(/^postgresql:\/\/mcp_gateway:\$\(DATABASE_PASSWORD\)@postgres\.example\.internal:5432\/mcp_gateway\?sslmode=verify-full/);
    expect(find(objects, 'Secret')).toEqual([]); // everything comes from existing Secrets

    const egress = (only(objects, 'NetworkPolicy', 'rel-mcp-gateway').spec as { egress: Array<{ ports: Array<{ port: number }> }> }).egress;
    expect(egress.map((r) => r.ports.map((p) => p.port))).toEqual([[53, 53], [5432], [6380], [443]]);

    // The README's worked example is these values, and it fits.
    const v = mergeValues(values, productionValues) as {
      hpa: { maxReplicas: number }; rollingUpdate: { maxSurge: number };
      config: { WORKERS: number; DB_POOL_SIZE: number; DB_MAX_OVERFLOW: number };
      connectionBudget: { maxConnections: number; headroom: number };
    };
    const pods = v.hpa.maxReplicas + v.rollingUpdate.maxSurge;
    const need = pods * v.config.WORKERS * (v.config.DB_POOL_SIZE + v.config.DB_MAX_OVERFLOW);
    const budget = v.connectionBudget.maxConnections - v.connectionBudget.headroom;
    expect(need).toBeLessThanOrEqual(budget);
    const example = `(${v.hpa.maxReplicas} + ${v.rollingUpdate.maxSurge}) × ${v.config.WORKERS} × (${v.config.DB_POOL_SIZE} + ${v.config.DB_MAX_OVERFLOW}) = ${need} ≤ ${v.connectionBudget.maxConnections} − ${v.connectionBudget.headroom} = ${budget}`;
    expect(readFileSync(join(CHART, 'README.md'), 'utf8')).toContain(example);
  });
});

/** The image's CMD (exec form), as docker/Dockerfile has it. */
function imageCmd(): string[] {
  const cmd = /^CMD\s+(\[.*\])\s*$/m.exec(readFileSync(join(ROOT, 'docker/Dockerfile'), 'utf8'))?.[1];
  return JSON.parse(cmd as string) as string[];
}
(helmAvailable ? describe : describe.skip)('helm/mcp-gateway: the rendered pods, run for real (local PostgreSQL and Redis)', () => {
  it('migration Job, start-up probe, then the container serves /ready and /health and stops within its grace period', async () => {
    if (!(await serviceAvailable('postgres')) || !(await serviceAvailable('redis'))) return;
    const db = await createTestDatabase('mcpgw_helm');
    try {
      const url = new URL(db.url);
      const { objects } = render({
        set: {
          'secrets.JWT_SECRET_KEY': 'test-jwt-secret',
          'secrets.AUTH_ENCRYPTION_SECRET': 'test-encryption-secret',
          'postgresql.enabled': false,
          'externalDatabase.host': url.hostname,
          'externalDatabase.port': Number(url.port),
          'externalDatabase.user': decodeURIComponent(url.username),
          'externalDatabase.database': url.pathname.slice(1),
          'externalDatabase.password': 'unused-with-trust-auth',
          'redis.enabled': false,
          'externalRedis.url': REDIS_URL,
          'config.CACHE_PREFIX': `helm-e2e-${randomBytes(4).toString('hex')}:`,
          // The pods must find the schema the Job made.
          'config.MIGRATE_ON_START': false,
          'config.LOG_LEVEL': 'warn',
        },
      });

      // The Job: its init container (db-isready), then the migration.
      const job = podOf(only(objects, 'Job')).spec;
      for (const c of [...(job.initContainers ?? []), ...job.containers]) {
        const result = await runToExit(c.command as string[], containerEnv(objects, c));
        expect({ container: c.name, code: result.code }).toEqual({ container: c.name, code: 0 });
        if (c.name === 'migrate') expect(result.output).toMatch(/migrate: ran /);
      }

      const pod = podOf(only(objects, 'Deployment')).spec;
      const gateway = pod.containers[0];
      const env = containerEnv(objects, gateway);
      const startup = (gateway.startupProbe as { exec: { command: string[] } }).exec.command;
      expect((await runToExit(startup, env)).code).toBe(0);

      // The image's CMD with the pod's env; loopback instead of 0.0.0.0 on a shared machine.
      const port = await freePort();
      const { child, output, exited } = startContainerMain(imageCmd(), { NODE_ENV: 'production', ...env, HOST: '127.0.0.1', PORT: String(port) });

      const probe = async (path: string) => {
        try {
          return (await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(3000) })).status;
        } catch {
          return 0;
        }
      };
      const readiness = (gateway.readinessProbe as { httpGet: { path: string } }).httpGet.path;
      const liveness = (gateway.livenessProbe as { httpGet: { path: string } }).httpGet.path;
      let status = 0;
      for (let i = 0; i < 120 && status !== 200; i++) {
        if (child.exitCode !== null) throw new Error(`the container command exited with ${child.exitCode}:\n${output()}`);
        await sleep(500);
        status = await probe(readiness);
      }
      expect(status).toBe(200);
      expect(await probe(liveness)).toBe(200);
      expect(output()).toMatch(/config ok: 2 worker\(s\), postgres database, redis cache/);

      // SIGTERM after the preStop sleep: everything is gone well within the grace period left.
      const left = (pod.terminationGracePeriodSeconds as number) - Number((values.lifecycle as Obj).preStopSleepSeconds);
      const stoppedAt = Date.now();
      process.kill(child.pid as number, 'SIGTERM');
      await exited;
      for (let i = 0; i < 50 && groupAlive(child.pid as number); i++) await sleep(100);
      expect(groupAlive(child.pid as number)).toBe(false);
      expect(Date.now() - stoppedAt).toBeLessThan(left * 1000);
    } finally {
      await db.drop();
    }
  }, 120_000);
});
