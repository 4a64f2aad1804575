import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * A Lua script run by EVALSHA, falling back to EVAL (which also caches it on the server) when
 * Redis does not know it yet, e.g. after a restart or SCRIPT FLUSH. Unlike ioredis'
 * `defineCommand`, it does not add methods to the worker's shared client.
 */
export class RedisScript {
  private readonly sha: string;

  constructor(
    private readonly source: string,
    private readonly keyCount: number,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: Redis, keysAndArgs: Array<string | number>): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, this.keyCount, ...keysAndArgs);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return client.eval(this.source, this.keyCount, ...keysAndArgs);
    }
  }
}
