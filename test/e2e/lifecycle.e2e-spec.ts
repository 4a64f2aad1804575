import { describe, expect, it } from '@jest/globals';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { basic } from '../helpers/auth.js';
import { startGateway } from '../helpers/gateway-process.js';

/** Starts a POST whose body arrives in two halves; `finish()` sends the rest and resolves with the reply. */
function slowPost(url: string, body: object) {
  const payload = Buffer.from(JSON.stringify(body));
  let resolveReply: (r: { status: number; body: string }) => void;
  let rejectReply: (e: Error) => void;
  const reply = new Promise<{ status: number; body: string }>((res, rej) => {
    resolveReply = res;
    rejectReply = rej;
  });
  const req = http.request(`${url}/tools`, {
    method: 'POST',
    agent: false,
    headers: { authorization: basic(), 'content-type': 'application/json', 'content-length': payload.length },
  });
  req.on('response', (res) => {
    let text = '';
    res.on('data', (c: Buffer) => (text += c.toString()));
    res.on('end', () => resolveReply({ status: res.statusCode ?? 0, body: text }));
  });
  req.on('error', (e) => rejectReply(e));
  req.write(payload.subarray(0, 10));
  return {
    finish: () => {
      req.end(payload.subarray(10));
      return reply;
    },
    abandon: () => req.destroy(),
    reply,
  };
}

describe('graceful shutdown', () => {
  it('finishes an in-flight request after SIGTERM, refuses new work, and exits 0', async () => {
    const gw = await startGateway({ LOG_LEVEL: 'info' });
    const exited = new Promise<number | null>((resolve) => gw.child.once('exit', (c) => resolve(c)));
    const inflight = slowPost(gw.url, { name: 'inflight_tool', url: 'http://127.0.0.1:9/x' });
    await sleep(200);
    gw.child.kill('SIGTERM');
    await sleep(300);
    expect(gw.child.exitCode).toBeNull(); // still draining
    const fresh = await fetch(`${gw.url}/health`).then((r) => r.status).catch(() => 'refused');
    expect([503, 'refused']).toContain(fresh);
    const reply = await inflight.finish();
    expect(reply.status).toBe(201);
    expect(JSON.parse(reply.body).name).toBe('inflight_tool');
    expect(await exited).toBe(0);
    expect(gw.output()).toMatch(/shutting down \(SIGTERM\)/);
  });

  it('gives up on a request that never finishes after GRACEFUL_TIMEOUT and exits non-zero', async () => {
    const gw = await startGateway({ GRACEFUL_TIMEOUT: '2', LOG_LEVEL: 'info' });
    const stuck = slowPost(gw.url, { name: 'stuck_tool', url: 'http://127.0.0.1:9/x' });
    stuck.reply.catch(() => undefined);
    await sleep(200);
    const started = Date.now();
    gw.child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => gw.child.once('exit', (c) => resolve(c)));
    const took = Date.now() - started;
    expect(code).toBe(1);
    expect(took).toBeGreaterThanOrEqual(1900);
    expect(took).toBeLessThan(6000);
    expect(gw.output()).toMatch(/graceful shutdown exceeded 2 s/);
    stuck.abandon();
  });
});
