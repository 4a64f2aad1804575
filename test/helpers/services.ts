import net from 'node:net';

export const POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = 'redis://127.0.0.1:6379/0';

function reachable(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Whether a service the suite needs is up. In CI (CI=true) a missing service fails the suite:
 * those tests must run there. Elsewhere they skip, with a loud notice, so a laptop without
 * PostgreSQL or Redis can still run the rest.
 */
export async function serviceAvailable(name: 'postgres' | 'redis'): Promise<boolean> {
  const ok = await reachable(name === 'postgres' ? 5432 : 6379);
  if (ok) return true;
  if (process.env.CI === 'true') throw new Error(`${name} is not reachable on 127.0.0.1, and CI=true requires it`);
  process.stderr.write(`\n!!! ${name} is not reachable on 127.0.0.1: SKIPPING the tests that need it (set up ${name} to run them) !!!\n\n`);
  return false;
}
