#!/usr/bin/env node
/**
 * Prints a signed JWT, like the seed's `create_jwt_token`:
 *   npm run token -- --username admin@example.com --exp 10080 --secret my-test-key
 * `--exp` is in minutes; 0 means no expiry. `--secret` defaults to JWT_SECRET_KEY.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '#app/config/app-config.js';
import { TokenService } from './token.service.js';

function main(): number {
  const { values } = parseArgs({
    options: {
      username: { type: 'string', short: 'u' },
      exp: { type: 'string', short: 'e', default: '10080' },
      secret: { type: 'string', short: 's' },
      data: { type: 'string', short: 'd' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write('usage: npm run token -- --username <name> [--exp <minutes, 0 = never>] [--secret <key>] [--data <json claims>]\n');
    return 0;
  }
  const exp = Number(values.exp);
  if (!Number.isFinite(exp) || exp < 0) throw new Error(`--exp must be a number of minutes >= 0, got "${values.exp}"`);
  const extra = values.data ? (JSON.parse(values.data) as Record<string, unknown>) : {};
  const username = values.username ?? (typeof extra.username === 'string' ? extra.username : undefined);
  if (!username) throw new Error('--username is required');
  const secret = values.secret ?? loadConfig().auth.jwtSecret;
  process.stdout.write(`${new TokenService(secret).sign({ ...extra, sub: username, username }, exp)}\n`);
  return 0;
}

try {
  process.exitCode = main();
} catch (error) {
  process.stderr.write(`token: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 2;
}
