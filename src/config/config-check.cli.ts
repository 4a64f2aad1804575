#!/usr/bin/env node
/**
 * Validates the environment the way the gateway will at boot, without starting it. Run before
 * PM2 (npm run start:cluster) so a bad value stops once with one line instead of every worker
 * failing in turn. Exit 0 when valid, 1 otherwise.
 */
import { ConfigError, loadConfig } from './app-config.js';

try {
  const config = loadConfig();
  process.stdout.write(
    `config ok: ${config.workers.count} worker(s), ${config.database.type} database, ${config.cache.type} cache, port ${config.server.port}\n`,
  );
} catch (error) {
  process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
