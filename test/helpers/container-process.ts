import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './gateway-process.js';

/*
 * A container's commands (the image CMD, a HEALTHCHECK or probe, a Job container) run here the
 * way the container would run them, minus the container: from the repo root (the image's /app),
 * with only PATH and the given env. The Docker and Helm specs both use these.
 */

/** Runs `argv` to its end (killed after `timeoutMs`); its exit code and output. */
export function runToExit(argv: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn(argv[0], argv.slice(1), { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, output });
    });
  });
}

export interface ContainerMain {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

const started: ChildProcess[] = [];
const pm2Homes: string[] = [];

/**
 * Starts `argv` as a container's main process: in its own process group (PM2 and its workers
 * stop or die together), with a private PM2_HOME. `stopContainerMains` (afterAll) kills what is
 * left and removes the PM2 homes.
 */
export function startContainerMain(argv: string[], env: Record<string, string>): ContainerMain {
  const pm2Home = mkdtempSync(join(tmpdir(), 'pm2-'));
  pm2Homes.push(pm2Home);
  const child = spawn(argv[0], argv.slice(1), {
    cwd: ROOT,
    detached: true,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PM2_HOME: pm2Home, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, output: () => output, exited };
}

export function stopContainerMains(): void {
  for (const child of started.splice(0)) {
    try {
      process.kill(-(child.pid as number), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of pm2Homes.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Whether any process of the group `pid` leads is still alive. */
export function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}
