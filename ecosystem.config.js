/**
 * PM2 cluster: WORKERS copies of dist/main.js sharing one port (npm run start:cluster, or
 * `pm2-runtime start ecosystem.config.js` in containers). Each worker reports ready after it
 * listens (wait_ready), and PM2 restarts a worker that exits, e.g. after MAX_REQUESTS.
 * The gateway validates the full config itself; this file only needs the worker count.
 */
import { availableParallelism } from 'node:os';

const raw = (process.env.WORKERS || process.env.GUNICORN_WORKERS || 'auto').trim().toLowerCase();
const memoryCache = (process.env.CACHE_TYPE || 'memory').trim().toLowerCase() === 'memory';
// Same rule as src/config: `auto` is one per core, or one on the in-process memory cache.
const instances = raw === 'auto' ? (memoryCache ? 1 : availableParallelism()) : Number(raw);
const graceful = Number(process.env.GRACEFUL_TIMEOUT || 30);

// PM2 loads this file with require(); on Node >= 20.19 that yields the ESM namespace, so the
// apps are a named export (`default` is for tools that import it).
export const apps = [
  {
    name: 'mcp-gateway',
      script: './dist/main.js',
    // Smaller V8 young generation: keeps a worker under 200 MB RSS after sustained load (measured
    // by npm run bench; the same flag is in package.json's start script).
    node_args: '--max-semi-space-size=8',
      exec_mode: 'cluster',
      instances: Number.isInteger(instances) && instances > 0 ? instances : 1,
      wait_ready: true,
      listen_timeout: 60_000,
      // Graceful shutdown gets GRACEFUL_TIMEOUT, plus a margin, before PM2 kills the worker.
      kill_timeout: (graceful + 5) * 1000,
      shutdown_with_message: false,
      autorestart: true,
      // A worker that keeps dying within 10 s of starting is not restarted forever.
      min_uptime: 10_000,
      max_restarts: 10,
      exp_backoff_restart_delay: 200,
      merge_logs: true,
      time: true,
    },
];

export default { apps };
