import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { nginxConf } from '../../bench/kit/nginx-conf.mjs';
import { freePort } from './gateway-process.js';

export const NGINX_BIN = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p)) ?? null;

/** Whether nginx is installed; under CI=true it must be (.ci/run installs it). */
export function nginxAvailable(): boolean {
  if (NGINX_BIN) return true;
  if (process.env.CI === 'true') throw new Error('nginx is not installed, and CI=true requires it (.ci/run installs nginx-light)');
  process.stderr.write('\n!!! nginx is not installed: SKIPPING the multi-worker load-balancer tests (apt-get install nginx-light) !!!\n\n');
  return false;
}

export interface LoadBalancer {
  url: string;
  stop: () => Promise<void>;
}

/**
 * A real nginx on a free loopback port, round-robin over `ports`, configured the way a
 * deployment would be for MCP (bench/kit/nginx-conf.mjs).
 */
export async function startNginx(ports: number[]): Promise<LoadBalancer> {
  if (!NGINX_BIN) throw new Error('nginx is not installed');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'nginx-'));
  mkdirSync(join(dir, 'logs'));
  writeFileSync(join(dir, 'nginx.conf'), nginxConf({ dir, port, upstreams: ports }));
  const child: ChildProcess = spawn(NGINX_BIN, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  for (let i = 0; i < 50; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${out}`);
    try {
      await fetch(`http://127.0.0.1:${port}/health`);
      break;
    } catch {
      await sleep(100);
    }
  }
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
