import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { open, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/** How long a scrape waits for a sibling worker before it fails (rather than under-report). */
const SIBLING_TIMEOUT_MS = 3000;
/** How often a worker saves its counters, so a worker that dies hard loses at most this much. */
const CHECKPOINT_INTERVAL_MS = 10_000;
const LOCK_STALE_MS = 10_000;

export class SiblingUnavailableError extends Error {}

/** Injection token: this worker's PodMetrics under PM2, or null for a single process. */
export const POD_METRICS = Symbol('PodMetrics');

/**
 * One `/metrics` scrape that reports the whole pod, whichever PM2 worker takes it.
 *
 * PM2's cluster master is not our code, so prom-client's AggregatorRegistry (which needs the
 * master) cannot be used as designed. Instead the workers of one PM2 cluster share a directory
 * (per PM2 daemon and port, under the OS temp dir: one pod). Each worker serves its registry as
 * JSON on a Unix socket there; the worker that takes a scrape reads every sibling's socket and
 * merges them with `AggregatorRegistry.aggregate` (each metric's `aggregator` decides: sum,
 * min, …).
 *
 * Counters must not go backwards when a worker is recycled (MAX_REQUESTS) or crashes. A worker
 * that stops folds its final counters and histograms into `retired.json`; a worker that dies
 * without stopping leaves its last checkpoint (every 10 s), which the next scrape folds in. Every
 * scrape and every fold holds one lock (a file created exclusively), so a worker is counted
 * either live or retired, never both and never neither.
 */
export class PodMetrics {
  private server: net.Server | null = null;
  private checkpointTimer: NodeJS.Timeout | null = null;
  private readonly socketPath: string;
  private readonly checkpointPath: string;

  constructor(
    private readonly registry: Registry,
    readonly dir: string,
  ) {
    this.socketPath = join(dir, `w-${process.pid}.sock`);
    this.checkpointPath = join(dir, `w-${process.pid}.json`);
  }

  /** The directory the workers of this PM2 cluster share (the cluster master is our parent). */
  static clusterDir(port: number): string {
    return join(tmpdir(), `mcp-gateway-pod-${process.ppid}-${port}`);
  }

  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    rmSync(this.socketPath, { force: true });
    this.server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      void this.ownJson().then(
        (json) => socket.end(JSON.stringify(json)),
        () => socket.destroy(),
      );
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.socketPath, () => resolve());
    });
    this.checkpointTimer = setInterval(() => void this.checkpoint().catch(() => undefined), CHECKPOINT_INTERVAL_MS);
    this.checkpointTimer.unref();
    await this.checkpoint();
  }

  /** Folds this worker's counters into the pod's retired totals and leaves the pod. */
  async stop(): Promise<void> {
    if (!this.server) return;
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    await this.locked(async () => {
      const final = countersOnly(await this.ownJson());
      await new Promise<void>((resolve) => this.server!.close(() => resolve()));
      this.server = null;
      await this.addToRetired([final]);
      await rm(this.checkpointPath, { force: true });
      await rm(this.socketPath, { force: true });
    });
  }

  /** The whole pod in the Prometheus text format. Throws SiblingUnavailableError if a live worker does not answer. */
  async scrape(): Promise<string> {
    const all = await this.locked(async () => {
      const names = await readdir(this.dir);
      const parts: MetricsJson[] = [await this.ownJson()];
      const dead: string[] = [];
      await Promise.all(
        names
          .filter((n) => /^w-\d+\.sock$/.test(n) && n !== `w-${process.pid}.sock`)
          .map(async (n) => {
            const pid = n.slice(2, -5);
            const json = await readSocket(join(this.dir, n), pid);
            if (json) parts.push(json);
            else dead.push(pid);
          }),
      );
      if (dead.length > 0) await this.adopt(dead);
      const retired = await readJson(join(this.dir, 'retired.json'));
      if (retired) parts.push(retired);
      return parts;
    });
    return AggregatorRegistry.aggregate(all).metrics();
  }

  private async ownJson(): Promise<MetricsJson> {
    return (await this.registry.getMetricsAsJSON()) as MetricsJson;
  }

  private async checkpoint(): Promise<void> {
    if (!this.server) return;
    const tmp = `${this.checkpointPath}.tmp`;
    await writeFile(tmp, JSON.stringify(countersOnly(await this.ownJson())));
    await rename(tmp, this.checkpointPath);
  }

  /** Workers that died without stopping: their last checkpoints join the retired totals. */
  private async adopt(pids: string[]): Promise<void> {
    const checkpoints: MetricsJson[] = [];
    for (const pid of pids) {
      const json = await readJson(join(this.dir, `w-${pid}.json`));
      if (json) checkpoints.push(json);
    }
    if (checkpoints.length > 0) await this.addToRetired(checkpoints);
    for (const pid of pids) {
      await rm(join(this.dir, `w-${pid}.json`), { force: true });
      await rm(join(this.dir, `w-${pid}.sock`), { force: true });
    }
  }

  private async addToRetired(more: MetricsJson[]): Promise<void> {
    const path = join(this.dir, 'retired.json');
    const current = await readJson(path);
    const merged = await AggregatorRegistry.aggregate(current ? [current, ...more] : more).getMetricsAsJSON();
    await writeFile(`${path}.tmp`, JSON.stringify(merged));
    await rename(`${path}.tmp`, path);
  }

  /**
   * Runs `fn` holding the pod's metrics lock: a file created exclusively, holding the owner's
   * pid. A lock whose owner is gone, or older than 10 s, is broken.
   */
  private async locked<T>(fn: () => Promise<T>): Promise<T> {
    const path = join(this.dir, 'lock');
    const deadline = Date.now() + LOCK_STALE_MS;
    for (;;) {
      try {
        const handle = await open(path, 'wx');
        await handle.writeFile(String(process.pid));
        await handle.close();
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const owner = Number(await readFile(path, 'utf8').catch(() => ''));
        if ((owner > 0 && !alive(owner)) || Date.now() > deadline) await rm(path, { force: true });
        else await sleep(5);
      }
    }
    try {
      return await fn();
    } finally {
      await rm(path, { force: true });
    }
  }
}

/** Counters and histograms only: gauges of a worker that is gone mean nothing. */
function countersOnly(json: MetricsJson): MetricsJson {
  // At runtime `type` is the exposition name ("counter"), whatever prom-client's typings say.
  const kept = new Set<unknown>(['counter', 'histogram']);
  return json.filter((m) => kept.has(m.type as unknown));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readJson(path: string): Promise<MetricsJson | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as MetricsJson;
  } catch {
    return null;
  }
}

/**
 * A sibling's metrics, or null when that worker is gone (no socket, refused, or its process is
 * dead). A live worker that does not answer in time fails the scrape.
 */
function readSocket(path: string, pid: string): Promise<MetricsJson | null> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(path);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      if (alive(Number(pid))) reject(new SiblingUnavailableError(`worker ${pid} did not report its metrics within ${SIBLING_TIMEOUT_MS} ms`));
      else resolve(null);
    }, SIBLING_TIMEOUT_MS);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as MetricsJson);
      } catch {
        // Cut off mid-answer: a worker that died while answering is gone; a live one failed.
        if (alive(Number(pid))) reject(new SiblingUnavailableError(`worker ${pid} sent unreadable metrics`));
        else resolve(null);
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      // Refused or missing: the worker is gone. If its process lives on, its counts are not
      // lost but unreachable: fail the scrape rather than report a drop.
      if (alive(Number(pid))) reject(new SiblingUnavailableError(`worker ${pid} is running but its metrics socket failed: ${error.message}`));
      else resolve(null);
    });
  });
}

/** Removes the directories of PM2 daemons that are gone (left behind by a machine's earlier runs). */
export function removeStalePodDirs(): void {
  for (const name of readdirSync(tmpdir())) {
    const match = /^mcp-gateway-pod-(\d+)-\d+$/.exec(name);
    if (match && !alive(Number(match[1]))) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}
