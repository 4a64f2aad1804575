import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `check` (sync or async) every `intervalMs` until it holds; throws after `ms`, naming
 * `what`. For conditions that settle asynchronously (a snapshot reload, a delivered message).
 */
export async function waitFor(check: () => boolean | Promise<boolean>, ms = 5000, what = 'condition', intervalMs = 10): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
