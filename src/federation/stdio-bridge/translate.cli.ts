/**
 * `mcp-gateway-translate`: exposes a stdio MCP server over Streamable HTTP and HTTP+SSE so it can
 * be registered as a gateway.
 *
 *   npm run translate -- --stdio "npx -y @modelcontextprotocol/server-everything" --port 9000
 *
 * Once listening it prints `STDIO_BRIDGE_URL=http://HOST:PORT/mcp` and
 * `STDIO_BRIDGE_SSE_URL=http://HOST:PORT/sse` on stdout (logs go to stderr). SIGINT/SIGTERM stop the
 * bridge and the server's whole process group, then exit 0. Bad arguments exit 2.
 */
import { parseArgs } from 'node:util';
import type { LogLevel } from './stdio-child.js';
import { StdioBridge } from './stdio-bridge.js';

const USAGE = `usage: mcp-gateway-translate --stdio "<command>" [--port <port, 0 = any free port; default 8000>]
                              [--host <address; default 127.0.0.1>] [--log-level error|warn|info|debug]`;
const LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

class UsageError extends Error {}

interface CliOptions {
  command: string;
  port: number;
  host: string;
  logLevel: LogLevel;
}

function parseCli(args: string[]): CliOptions | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        stdio: { type: 'string' },
        port: { type: 'string', default: '8000' },
        host: { type: 'string', default: '127.0.0.1' },
        'log-level': { type: 'string', default: 'info' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) return 'help';
  const command = values.stdio?.trim();
  if (!command) throw new UsageError('--stdio "<command>" is required');
  const port = Number(values.port);
  if (!/^\d+$/.test(values.port) || port > 65535) throw new UsageError(`--port must be an integer from 0 to 65535, got "${values.port}"`);
  const logLevel = values['log-level'] as LogLevel;
  if (!LEVELS.includes(logLevel)) throw new UsageError(`--log-level must be one of ${LEVELS.join(', ')}, got "${logLevel}"`);
  if (!values.host) throw new UsageError('--host must not be empty');
  return { command, port, host: values.host, logLevel };
}

async function main(): Promise<void> {
  let options: CliOptions | 'help';
  try {
    options = parseCli(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`translate: ${error.message}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }

  const threshold = LEVELS.indexOf(options.logLevel);
  const bridge = new StdioBridge({
    command: options.command,
    host: options.host,
    port: options.port,
    log: (level, message) => {
      if (LEVELS.indexOf(level) <= threshold) process.stderr.write(`[translate] ${level}: ${message}\n`);
    },
  });

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // A second signal means "now": the exit hook still SIGKILLs the child's group.
      process.exit(1);
    }
    stopping = true;
    process.stderr.write(`[translate] ${signal}: stopping\n`);
    bridge.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`[translate] error while stopping: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  try {
    const { url, sseUrl } = await bridge.start();
    process.stdout.write(`STDIO_BRIDGE_URL=${url}\nSTDIO_BRIDGE_SSE_URL=${sseUrl}\n`);
  } catch (error) {
    process.stderr.write(`translate: cannot listen on ${options.host}:${options.port}: ${error instanceof Error ? error.message : String(error)}\n`);
    await bridge.close();
    process.exit(1);
  }
}

await main();
