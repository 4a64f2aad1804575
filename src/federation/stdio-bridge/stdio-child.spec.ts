import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LineSplitter, StdioChild, groupAlive, type JsonRpcMessage, type StdioChildOptions } from './stdio-child.js';
import { waitFor } from '../../../test/helpers/wait.js';

// A tiny stdio server: answers `echo`, never answers `hang`, exits on `die`.
const ECHO_SERVER = `
process.stdout.write('starting up, not JSON\\n');
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  if (m.method === 'echo') {
    const out = JSON.stringify({ jsonrpc: '2.0', id: m.id, result: m.params });
    process.stdout.write(out.slice(0, 10));
    setTimeout(() => process.stdout.write(out.slice(10) + '\\n'), 5);
  }
  if (m.method === 'die') process.exit(3);
});
`;


describe('LineSplitter', () => {
  it('frames lines across chunks, keeps a last line without newline, and skips an oversized line', () => {
    const lines: string[] = [];
    let overflows = 0;
    const splitter = new LineSplitter(8, (l) => lines.push(l.toString()), () => overflows++);
    splitter.push(Buffer.from('ab'));
    splitter.push(Buffer.from('c\r\nde\n\n'));
    splitter.push(Buffer.from('0123456789'));
    splitter.push(Buffer.from('xyz\nok\nta'));
    splitter.push(Buffer.from('il'));
    splitter.end();
    expect(lines).toEqual(['abc\r', 'de', '', 'ok', 'tail']);
    expect(overflows).toBe(1);
  });
});

describe('StdioChild', () => {
  let dir: string;
  let script: string;
  let child: StdioChild | null = null;
  const warnings: string[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'stdio-child-'));
    script = join(dir, 'echo.cjs');
    writeFileSync(script, ECHO_SERVER);
  });
  afterEach(async () => {
    await child?.stop();
    child = null;
    warnings.length = 0;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function start(options: Partial<StdioChildOptions> & { command?: string }, messages: JsonRpcMessage[]): StdioChild {
    child = new StdioChild({
      command: `"${process.execPath}" "${script}"`,
      onMessage: (m) => messages.push(m),
      log: (level, message) => level === 'warn' && warnings.push(message),
      initialBackoffMs: 20,
      killGraceMs: 300,
      ...options,
    });
    child.start();
    return child;
  }

  it('exchanges newline-delimited JSON-RPC and skips non-JSON lines with a warning', async () => {
    const messages: JsonRpcMessage[] = [];
    const c = start({}, messages);
    expect(c.send({ jsonrpc: '2.0', id: 1, method: 'echo', params: { hello: 'world' } })).toBe(true);
    await waitFor(() => messages.length === 1);
    expect(messages[0]).toEqual({ jsonrpc: '2.0', id: 1, result: { hello: 'world' } });
    expect(warnings.some((w) => w.includes('starting up, not JSON'))).toBe(true);
  });

  it('fails in-flight requests when the child dies, and restarts it with a doubling backoff', async () => {
    const messages: JsonRpcMessage[] = [];
    const spawns: number[] = [];
    const delays: Array<number | null> = [];
    const c = start({ onSpawn: (pid) => spawns.push(pid), onExit: (e) => delays.push(e.restartInMs) }, messages);
    await waitFor(() => spawns.length === 1);
    c.send({ jsonrpc: '2.0', id: 'pending', method: 'hang' });
    c.send({ jsonrpc: '2.0', method: 'die' });
    await waitFor(() => spawns.length === 2);
    expect(messages).toEqual([{ jsonrpc: '2.0', id: 'pending', error: { code: -32603, message: 'stdio server exited' } }]);
    expect(groupAlive(spawns[0])).toBe(false);
    c.send({ jsonrpc: '2.0', method: 'die' });
    await waitFor(() => spawns.length === 3);
    expect(delays).toEqual([20, 40]);
    expect(c.status).toBe('running');
  });

  it('stops the whole process group, SIGKILLing what ignores SIGTERM after the grace period', async () => {
    const messages: JsonRpcMessage[] = [];
    const c = start({ command: `sh -c 'trap "" TERM; sleep 30' & "${process.execPath}" "${script}"` }, messages);
    await sleep(200);
    const pid = c.pid as number;
    expect(groupAlive(pid)).toBe(true);
    const started = Date.now();
    await c.stop();
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(groupAlive(pid)).toBe(false);
    expect(c.status).toBe('stopped');
    expect(c.send({ jsonrpc: '2.0', id: 1, method: 'echo' })).toBe(false);
  });
});
