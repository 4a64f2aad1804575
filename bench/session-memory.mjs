#!/usr/bin/env node
/**
 * What a session and a stream cost (the figures docs/scaling.md sizes Redis and pods with):
 *   npm run build && node bench/session-memory.mjs        (SESSIONS=1000 STREAMS=1000 to change)
 *
 * One built gateway on 127.0.0.1 with CACHE_TYPE=redis (its own key prefix on the local Redis,
 * removed at the end) and a temporary SQLite file.
 * - Per session: SESSIONS 2025-era sessions are opened (initialize, then
 *   notifications/initialized); Redis `used_memory` before and after, divided by SESSIONS.
 * - Per stream: STREAMS open GET /mcp event streams (one per session) are held; the gateway's
 *   RSS before and after (read from /proc, settled for 2 s), divided by STREAMS. RSS moves in
 *   pages and with V8's heap growth, so this is an estimate, good to a few hundred bytes.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import jwt from 'jsonwebtoken';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SESSIONS = Number(process.env.SESSIONS ?? 1000);
const STREAMS = Math.min(SESSIONS, Number(process.env.STREAMS ?? 1000));
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const SECRET = 'memory-bench-secret';
const AUTH = `Bearer ${jwt.sign({ sub: 'bench@example.com' }, SECRET, { expiresIn: 3600 })}`;
const PREFIX = `memb${Date.now()}:`;

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
const rssBytes = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
const usedMemory = async (redis) => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))[1]);

const port = await freePort();
const dir = mkdtempSync(join(tmpdir(), 'mcpgw-mem-'));
const gateway = spawn(process.execPath, ['--max-semi-space-size=8', join(ROOT, 'dist/main.js')], {
  cwd: ROOT,
  env: { PATH: process.env.PATH, PORT: String(port), DATABASE_URL: `sqlite:///${join(dir, 'mem.db')}`, CACHE_TYPE: 'redis', REDIS_URL, CACHE_PREFIX: PREFIX, JWT_SECRET_KEY: SECRET, LOG_LEVEL: 'warn' },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const redis = new Redis(REDIS_URL);
const streams = [];
try {
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${base}/ready`)).ok) break;
    } catch {}
    await sleep(100);
  }
  const post = (body, session) =>
    fetch(`${base}/mcp`, {
      method: 'POST',
      headers: {
        authorization: AUTH,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...(session ? { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' } : {}),
      },
      body: JSON.stringify(body),
    });
  // Warm up (first-use allocations), then measure.
  await post({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'warm', version: '1' } } });
  await sleep(500);
  const redisBefore = await usedMemory(redis);
  const ids = [];
  for (let i = 0; i < SESSIONS; i++) {
    const res = await post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: { sampling: {} }, clientInfo: { name: `client-${i}`, version: '1.0.0' } } });
    const id = res.headers.get('mcp-session-id');
    await res.text();
    await (await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, id)).text();
    ids.push(id);
  }
  const redisAfter = await usedMemory(redis);

  await sleep(2000);
  const rssBefore = rssBytes(gateway.pid);
  for (const id of ids.slice(0, STREAMS)) {
    streams.push(
      await new Promise((resolve, reject) => {
        const req = http.get(`${base}/mcp`, { agent: false, headers: { authorization: AUTH, accept: 'text/event-stream', 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' } }, (res) => {
          if (res.statusCode !== 200) reject(new Error(`GET /mcp: ${res.statusCode}`));
          res.on('data', () => undefined);
          resolve(req);
        });
        req.on('error', reject);
      }),
    );
  }
  await sleep(2000);
  const rssAfter = rssBytes(gateway.pid);
  const metrics = await (await fetch(`${base}/metrics`, { headers: { authorization: AUTH } })).text();
  const open = Number(/^sse_streams_open (\d+)/m.exec(metrics)?.[1]);
  const result = {
    sessions: SESSIONS,
    redisBytesPerSession: Math.round((redisAfter - redisBefore) / SESSIONS),
    streams: STREAMS,
    sseStreamsOpenMetric: open,
    gatewayRssBytesPerStream: Math.round((rssAfter - rssBefore) / STREAMS),
    gatewayRssMbWithStreams: Math.round(rssAfter / 1024 / 1024),
  };
  console.log(JSON.stringify(result, null, 2));
} finally {
  for (const s of streams) s.destroy();
  gateway.kill('SIGTERM');
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
}
