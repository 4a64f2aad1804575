import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import {
  FIXTURE_URIS,
  GREET_NAMES,
  README_TEXT,
  TINY_PNG_BASE64,
  TINY_WAV_BASE64,
  startUpstream,
  type UpstreamFixture,
} from '../fixtures/upstream-server.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The upstream fixture (test/fixtures/upstream-server.ts) exercised with the official SDK v2
 * client in both eras, so federation tests can rely on every item it offers.
 */
type Era = 'legacy' | 'modern';
const ROOT = resolve(import.meta.dirname, '../..');
const LOG_LEVEL_META_KEY = 'io.modelcontextprotocol/logLevel';
const ALL_TOOLS = ['audio', 'bump', 'echo', 'elicit', 'embedded_resource', 'fail', 'image', 'logging', 'progress', 'roots', 'sample', 'slow', 'structured'];

interface Connected {
  client: Client;
  logs: Array<{ level: string; data: unknown }>;
  updated: string[];
}

async function connect(url: string, era: Era): Promise<Connected> {
  const client = new Client(
    { name: `fixture-spec-${era}`, version: '1.0.0' },
    {
      capabilities: { sampling: {}, elicitation: { form: {} } },
      ...(era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {}),
    },
  );
  const logs: Connected['logs'] = [];
  const updated: string[] = [];
  client.setRequestHandler('sampling/createMessage', (request) => {
    const last = request.params.messages.at(-1)?.content;
    const asked = last && !Array.isArray(last) && last.type === 'text' ? last.text : '?';
    return { model: 'fake-model', role: 'assistant', content: { type: 'text', text: `model says: ${asked}` } };
  });
  client.setRequestHandler('elicitation/create', () => ({ action: 'accept', content: { name: 'Ada', confirm: true } }));
  client.setNotificationHandler('notifications/message', (n) => {
    logs.push({ level: n.params.level, data: n.params.data });
  });
  client.setNotificationHandler('notifications/resources/updated', (n) => {
    updated.push(n.params.uri);
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return { client, logs, updated };
}

function text(result: { content?: unknown }): string {
  const content = result.content as Array<{ type: string; text?: string }>;
  return content.filter((c) => c.type === 'text').map((c) => c.text).join('');
}


describe('upstream fixture (official SDK v2 server, both eras)', () => {
  let fixture: UpstreamFixture;

  beforeAll(async () => {
    fixture = await startUpstream({ name: 'fixture-under-test' });
  });
  afterAll(async () => {
    await fixture?.close();
  });

  describe.each<Era>(['legacy', 'modern'])('%s era', (era) => {
    let c: Connected;
    beforeAll(async () => {
      c = await connect(fixture.url, era);
    });
    afterAll(async () => {
      await c?.client.close();
    });

    it('negotiates the expected era', () => {
      expect(c.client.getProtocolEra()).toBe(era);
      expect(c.client.getNegotiatedProtocolVersion()).toBe(era === 'modern' ? '2026-07-28' : '2025-11-25');
      expect(c.client.getServerVersion()?.name).toBe('fixture-under-test');
      expect(c.client.getServerCapabilities()).toMatchObject({ tools: {}, prompts: {}, logging: {}, completions: {}, resources: { subscribe: true } });
    });

    it('lists every tool, with the output schema of `structured`', async () => {
      const { tools } = await c.client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(ALL_TOOLS);
      expect(tools.find((t) => t.name === 'structured')?.outputSchema).toMatchObject({ type: 'object', properties: { sum: {} } });
    });

    it('calls the content tools', async () => {
      expect(text(await c.client.callTool({ name: 'echo', arguments: { text: 'hi' } }))).toBe('hi');
      expect((await c.client.callTool({ name: 'image' })).content).toEqual([{ type: 'image', data: TINY_PNG_BASE64, mimeType: 'image/png' }]);
      expect((await c.client.callTool({ name: 'audio' })).content).toEqual([{ type: 'audio', data: TINY_WAV_BASE64, mimeType: 'audio/wav' }]);
      expect((await c.client.callTool({ name: 'embedded_resource' })).content).toEqual([
        { type: 'resource', resource: { uri: FIXTURE_URIS.readme, mimeType: 'text/plain', text: README_TEXT } },
      ]);
      const structured = await c.client.callTool({ name: 'structured', arguments: { a: 2, b: 3 } });
      expect(structured.structuredContent).toEqual({ sum: 5 });
      const failed = await c.client.callTool({ name: 'fail' });
      expect(failed.isError).toBe(true);
      expect(text(failed)).toBe('fixture failure');
    });

    it('delivers progress in order', async () => {
      const seen: number[] = [];
      const result = await c.client.callTool({ name: 'progress', arguments: { steps: 4 } }, { onprogress: (p) => seen.push(p.progress) });
      expect(text(result)).toBe('done 4 steps');
      expect(seen).toEqual([1, 2, 3, 4]);
    });

    it('delivers log messages at the requested level', async () => {
      c.logs.length = 0;
      if (era === 'legacy') {
        await c.client.setLoggingLevel('info');
        await c.client.callTool({ name: 'logging' });
      } else {
        // 2026: no logging/setLevel; the level rides in each request's _meta envelope.
        await c.client.callTool({ name: 'logging', _meta: { [LOG_LEVEL_META_KEY]: 'info' } });
      }
      await waitFor(() => c.logs.length >= 3);
      expect(c.logs.map((l) => l.level)).toEqual(['info', 'warning', 'error']);
      expect(c.logs[0].data).toBe('fixture log at info');
    });

    it('round-trips sampling and elicitation', async () => {
      // Two handler rounds each: the first returns input_required (MRTR in 2026; in 2025 the
      // SDK's legacy shim turns it into a real server→client request and re-enters the handler).
      const sampleRounds = fixture.calls.byTool.sample ?? 0;
      expect(text(await c.client.callTool({ name: 'sample', arguments: { prompt: 'ping?' } }))).toBe('model says: ping?');
      expect(fixture.calls.byTool.sample).toBe(sampleRounds + 2);
      expect(JSON.parse(text(await c.client.callTool({ name: 'elicit' })))).toEqual({ action: 'accept', content: { name: 'Ada', confirm: true } });
    });

    it('cancels `slow` through the abort signal', async () => {
      const before = fixture.calls.cancelled;
      const started = fixture.calls.byTool.slow ?? 0;
      const abort = new AbortController();
      const call = c.client.callTool({ name: 'slow', arguments: { ms: 5000 } }, { signal: abort.signal });
      await waitFor(() => (fixture.calls.byTool.slow ?? 0) > started);
      abort.abort();
      await expect(call).rejects.toThrow();
      await waitFor(() => fixture.calls.cancelled > before);
      expect(text(await c.client.callTool({ name: 'slow', arguments: { ms: 10 } }))).toBe('slept 10ms');
    });

    it('lists and reads resources, including a template instance', async () => {
      const { resources } = await c.client.listResources();
      expect(resources.map((r) => r.uri).sort()).toEqual([FIXTURE_URIS.counter, FIXTURE_URIS.logo, FIXTURE_URIS.readme]);
      const { resourceTemplates } = await c.client.listResourceTemplates();
      expect(resourceTemplates.map((t) => t.uriTemplate)).toEqual([FIXTURE_URIS.itemTemplate]);

      expect((await c.client.readResource({ uri: FIXTURE_URIS.readme })).contents).toEqual([{ uri: FIXTURE_URIS.readme, mimeType: 'text/plain', text: README_TEXT }]);
      expect((await c.client.readResource({ uri: FIXTURE_URIS.logo })).contents).toEqual([{ uri: FIXTURE_URIS.logo, mimeType: 'image/png', blob: TINY_PNG_BASE64 }]);
      const item = await c.client.readResource({ uri: 'fixture://items/beta' });
      expect(JSON.parse((item.contents[0] as { text: string }).text)).toEqual({ id: 'beta' });
    });

    it('completes the template variable and the prompt argument, and gets the prompt', async () => {
      const ids = await c.client.complete({ ref: { type: 'ref/resource', uri: FIXTURE_URIS.itemTemplate }, argument: { name: 'id', value: 'a' } });
      expect(ids.completion.values).toEqual(['alpha', 'apple']);
      const names = await c.client.complete({ ref: { type: 'ref/prompt', name: 'greet' }, argument: { name: 'name', value: 'A' } });
      expect(names.completion.values).toEqual(['Ada', 'Alan']);

      const { prompts } = await c.client.listPrompts();
      expect(prompts).toEqual([expect.objectContaining({ name: 'greet', arguments: [expect.objectContaining({ name: 'name', required: true })] })]);
      const prompt = await c.client.getPrompt({ name: 'greet', arguments: { name: GREET_NAMES[2] } });
      expect(prompt.messages).toEqual([{ role: 'user', content: { type: 'text', text: 'Hello, Grace!' } }]);
    });

    it('notifies counter subscribers after `bump`', async () => {
      c.updated.length = 0;
      const subscription =
        era === 'legacy'
          ? await c.client.subscribeResource({ uri: FIXTURE_URIS.counter }).then(() => undefined)
          : await c.client.listen({ resourceSubscriptions: [FIXTURE_URIS.counter] });
      if (subscription) expect(subscription.honoredFilter.resourceSubscriptions).toEqual([FIXTURE_URIS.counter]);

      const value = Number(text(await c.client.callTool({ name: 'bump' })));
      expect(value).toBe(fixture.counter());
      await waitFor(() => c.updated.includes(FIXTURE_URIS.counter));
      const read = await c.client.readResource({ uri: FIXTURE_URIS.counter });
      expect((read.contents[0] as { text: string }).text).toBe(String(value));

      if (subscription) await subscription.close();
      else await c.client.unsubscribeResource({ uri: FIXTURE_URIS.counter });
    });
  });

  it.each([
    ['legacy', 'legacy'],
    ['auto', 'modern'],
  ] as const)('`roots` gets the client roots back (versionNegotiation %s → %s era)', async (mode, era) => {
    const roots = [{ uri: 'file:///work/project', name: 'project' }];
    const client = new Client({ name: `fixture-roots-${mode}`, version: '1.0.0' }, { capabilities: { roots: {} }, versionNegotiation: { mode } });
    let asked = 0;
    client.setRequestHandler('roots/list', () => {
      asked++;
      return { roots };
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(fixture.url)));
    try {
      expect(client.getProtocolEra()).toBe(era);
      expect(JSON.parse(text(await client.callTool({ name: 'roots' })))).toEqual(roots);
      expect(asked).toBe(1);
    } finally {
      await client.close();
    }
  });

  it('runs as a separate process and exits cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', './test/fixtures/ts-register.mjs', 'test/fixtures/upstream-main.ts', '--port', '0', '--name', 'child-upstream'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await waitFor(() => /UPSTREAM_URL=(\S+)/.test(out), 10000);
    const url = /UPSTREAM_URL=(\S+)/.exec(out)![1];

    const c = await connect(url, 'modern');
    expect(text(await c.client.callTool({ name: 'echo', arguments: { text: 'from child' } }))).toBe('from child');
    await c.client.close();

    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(0);
  }, 20000);
});
