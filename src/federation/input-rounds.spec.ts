import { describe, expect, it } from '@jest/globals';
import { MemoryMessageBus } from '#app/cache/message-bus.js';
import type { AppConfig } from '#app/config/app-config.js';
import { InputRounds, type RoundOutcome } from './input-rounds.js';

const config = { auth: { encryptionSecret: 'test-secret' }, tools: { timeoutMs: 2_000 } } as AppConfig;

/** Two "workers" sharing one bus, like two processes sharing Redis. */
async function twoWorkers() {
  const bus = new MemoryMessageBus();
  const a = new InputRounds(config, bus);
  const b = new InputRounds(config, bus);
  await a.onModuleInit();
  await b.onModuleInit();
  return { a, b };
}

const sample = { method: 'sampling/createMessage' as const, params: { messages: [], maxTokens: 5 } };

describe('InputRounds', () => {
  it('parks a call that asks for input, and finishes it with the answers of the retry', async () => {
    const { a } = await twoWorkers();
    const first = await a.begin('alice', {}, async (ask) => {
      const answer = await ask(sample.method, sample.params);
      return { content: [{ type: 'text', text: `got ${String(answer.model)}` }] };
    });
    expect(first.kind).toBe('input');
    const input = first as Extract<RoundOutcome, { kind: 'input' }>;
    const [key] = Object.keys(input.inputRequests);
    expect(input.inputRequests[key!]).toEqual(sample);
    const done = await a.resume('alice', { requestState: input.requestState, inputResponses: { [key!]: { model: 'm1' } } }, {});
    expect(done).toEqual({ kind: 'result', value: { content: [{ type: 'text', text: 'got m1' }] } });
  });

  it('resumes on another worker through the bus, and batches concurrent asks into one round', async () => {
    const { a, b } = await twoWorkers();
    const first = (await a.begin('alice', {}, async (ask) => {
      const [x, y] = await Promise.all([ask(sample.method, sample.params), ask('roots/list', {})]);
      return { x, y };
    })) as Extract<RoundOutcome, { kind: 'input' }>;
    expect(Object.keys(first.inputRequests)).toHaveLength(2);
    const [k1, k2] = Object.keys(first.inputRequests) as [string, string];
    // Only one answered: the other is asked again.
    const partial = (await b.resume('alice', { requestState: first.requestState, inputResponses: { [k1]: { model: 'm' } } }, {})) as Extract<RoundOutcome, { kind: 'input' }>;
    expect(partial.kind).toBe('input');
    expect(Object.keys(partial.inputRequests)).toEqual([k2]);
    const done = await b.resume('alice', { requestState: partial.requestState, inputResponses: { [k2]: { roots: [] } } }, {});
    expect(done).toEqual({ kind: 'result', value: { x: { model: 'm' }, y: { roots: [] } } });
  });

  it('refuses tampered, foreign and unknown state', async () => {
    const { a } = await twoWorkers();
    const first = (await a.begin('alice', {}, (ask) => ask(sample.method, sample.params))) as Extract<RoundOutcome, { kind: 'input' }>;
    await expect(a.resume('alice', { requestState: `${first.requestState}x` }, {})).rejects.toThrow(/signature mismatch/);
    await expect(a.resume('mallory', { requestState: first.requestState }, {})).rejects.toThrow(/another principal/);
    await expect(a.resume('alice', { requestState: 'gw1.garbage' }, {})).rejects.toThrow(/malformed/);
    const other = new InputRounds({ ...config, auth: { encryptionSecret: 'other' } } as AppConfig, new MemoryMessageBus());
    await expect(other.resume('alice', { requestState: first.requestState }, {})).rejects.toThrow(/signature mismatch/);
  });

  it('reports an upstream failure as an error outcome', async () => {
    const { a } = await twoWorkers();
    const outcome = await a.begin('alice', {}, async () => {
      throw new Error('upstream exploded');
    });
    expect(outcome).toMatchObject({ kind: 'error', code: -32603, message: 'upstream exploded' });
  });
});
