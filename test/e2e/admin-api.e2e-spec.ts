import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TEST_SECRET, basic, bearer } from '../helpers/auth.js';
import { api, startGateway, type GatewayProcess } from '../helpers/gateway-process.js';

/**
 * The catalog admin API over real HTTP against the built gateway on its embedded default
 * (SQLite file + memory cache): CRUD round trips and every error status.
 */
describe('catalog admin API (embedded default)', () => {
  let gw: GatewayProcess;
  const auth = bearer({ sub: 'admin@example.com' });
  const call = (method: string, path: string, body?: unknown) => api(gw.url, method, path, { body, auth });

  beforeAll(async () => {
    gw = await startGateway({ JWT_SECRET_KEY: TEST_SECRET, MAX_BODY_SIZE: String(64 * 1024) });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  describe('tools', () => {
    it('creates, reads, lists, updates, deactivates and deletes a REST tool', async () => {
      const created = await call('POST', '/tools', {
        name: 'get_weather',
        url: 'http://127.0.0.1:9/weather',
        description: 'Weather by city',
        request_type: 'GET',
        headers: { 'X-Static': 'yes' },
        input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        annotations: { readOnlyHint: true },
        auth: { auth_type: 'bearer', token: 'super-secret-token' },
        tags: ['weather', 'demo'],
        timeout_ms: 5000,
      });
      expect(created.status).toBe(201);
      const tool = created.body;
      expect(tool.id).toMatch(/^[0-9a-f]{32}$/);
      expect(tool).toMatchObject({
        name: 'get_weather',
        integration_type: 'REST',
        request_type: 'GET',
        headers: { 'X-Static': 'yes' },
        auth: { auth_type: 'bearer', token: '*****' },
        tags: ['weather', 'demo'],
        timeout_ms: 5000,
        is_active: true,
      });
      expect(JSON.stringify(tool)).not.toContain('super-secret-token');

      const read = await call('GET', `/tools/${tool.id}`);
      expect(read.status).toBe(200);
      expect(read.body).toEqual(tool);

      const updated = await call('PUT', `/tools/${tool.id}`, { description: 'changed', auth: { auth_type: 'bearer', token: '*****' } });
      expect(updated.status).toBe(200);
      expect(updated.body).toMatchObject({ description: 'changed', name: 'get_weather', request_type: 'GET', auth: { token: '*****' } });

      const off = await call('POST', `/tools/${tool.id}/state?activate=false`);
      expect(off.status).toBe(200);
      expect(off.body).toMatchObject({ status: 'success', tool: { id: tool.id, is_active: false } });
      expect((await call('GET', '/tools')).body.map((t: { id: string }) => t.id)).not.toContain(tool.id);
      expect((await call('GET', '/tools?include_inactive=true')).body.map((t: { id: string }) => t.id)).toContain(tool.id);

      const deleted = await call('DELETE', `/tools/${tool.id}`);
      expect(deleted.status).toBe(200);
      expect((await call('GET', `/tools/${tool.id}`)).status).toBe(404);
      expect((await call('DELETE', `/tools/${tool.id}`)).status).toBe(404);
    });

    it('accepts the seed wrapped form', async () => {
      const res = await call('POST', '/tools', { tool: { name: 'wrapped_tool', url: 'http://127.0.0.1:9/x' } });
      expect(res.status).toBe(201);
      expect(res.body.name).toBe('wrapped_tool');
      const put = await call('PUT', `/tools/${res.body.id}`, { tool: { description: 'via wrapper' } });
      expect(put.body.description).toBe('via wrapper');
    });

    it('answers 409 for a duplicate name, on create and on rename', async () => {
      const a = await call('POST', '/tools', { name: 'dup_a', url: 'http://127.0.0.1:9/a' });
      const b = await call('POST', '/tools', { name: 'dup_b', url: 'http://127.0.0.1:9/b' });
      expect([a.status, b.status]).toEqual([201, 201]);
      const again = await call('POST', '/tools', { name: 'dup_a', url: 'http://127.0.0.1:9/c' });
      expect(again.status).toBe(409);
      expect(again.body.message).toContain('dup_a');
      expect(again.body.correlation_id).toEqual(expect.any(String));
      expect((await call('PUT', `/tools/${b.body.id}`, { name: 'dup_a' })).status).toBe(409);
    });

    it.each([
      [{ url: 'http://x' }, 'name'],
      [{ name: 'no_url' }, 'url'],
      [{ name: 'bad url', url: 'http://x' }, 'name'],
      [{ name: 'bad_url', url: 'ftp://x' }, 'url'],
      [{ name: 'bad_method', url: 'http://x', request_type: 'TRACE' }, 'request_type'],
      [{ name: 'bad_schema', url: 'http://x', input_schema: { type: 'objectish' } }, 'input_schema'],
      [{ name: 'bad_schema2', url: 'http://x', input_schema: 'nope' }, 'input_schema'],
      [{ name: 'bad_auth', url: 'http://x', auth: { auth_type: 'basic', username: 'u' } }, 'auth.password'],
      [{ name: 'bad_auth2', url: 'http://x', auth: { auth_type: 'oauth' } }, 'auth.auth_type'],
      [{ name: 'bad_tags', url: 'http://x', tags: 'a,b' }, 'tags'],
      [{ name: 'bad_timeout', url: 'http://x', timeout_ms: -1 }, 'timeout_ms'],
      [{ name: 'bad_headers', url: 'http://x', headers: { 'bad header': 'x' } }, 'headers.bad header'],
    ])('answers 422 naming the field for %j', async (body, field) => {
      const res = await call('POST', '/tools', body);
      expect(res.status).toBe(422);
      expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
    });

    it('answers 422 for a body that is not an object, 400 for malformed JSON, 413 for an oversized body', async () => {
      expect((await call('POST', '/tools', [1, 2])).status).toBe(422);
      const malformed = await api(gw.url, 'POST', '/tools', { raw: '{"name": ', auth });
      expect(malformed.status).toBe(400);
      expect(malformed.body.message).toMatch(/JSON/);
      const huge = await call('POST', '/tools', { name: 'huge', url: 'http://x', description: 'x'.repeat(70 * 1024) });
      expect(huge.status).toBe(413);
      expect(huge.body).toMatchObject({ statusCode: 413, correlation_id: expect.any(String) });
    });

    it('answers 404 for unknown ids on every verb', async () => {
      for (const [method, path] of [
        ['GET', '/tools/nope'],
        ['PUT', '/tools/nope'],
        ['DELETE', '/tools/nope'],
        ['POST', '/tools/nope/state?activate=true'],
      ] as const) {
        const res = await call(method, path, method === 'PUT' ? { description: 'x' } : undefined);
        expect([method, path, res.status]).toEqual([method, path, 404]);
      }
    });

    it('answers 422 for a bad state flag and bad list parameters', async () => {
      const t = await call('POST', '/tools', { name: 'state_flag', url: 'http://x' });
      expect((await call('POST', `/tools/${t.body.id}/state?activate=maybe`)).status).toBe(422);
      expect((await call('POST', `/tools/${t.body.id}/state`)).status).toBe(422);
      expect((await call('GET', '/tools?limit=0')).status).toBe(422);
      expect((await call('GET', '/tools?limit=abc')).status).toBe(422);
      expect((await call('GET', '/tools?cursor=garbage')).status).toBe(422);
    });

    it('paginates by name with a cursor and filters by tag', async () => {
      for (let i = 0; i < 5; i++) {
        expect((await call('POST', '/tools', { name: `page_${i}`, url: 'http://x', tags: [i % 2 ? 'odd' : 'even', 'paged'] })).status).toBe(201);
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res = await call('GET', `/tools?tags=paged&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        expect(res.status).toBe(200);
        seen.push(...res.body.map((t: { name: string }) => t.name));
        cursor = res.headers.get('x-next-cursor');
      } while (cursor);
      expect(seen).toEqual(['page_0', 'page_1', 'page_2', 'page_3', 'page_4']);
      const odd = await call('GET', '/tools?tags=odd&include_pagination=true');
      expect(odd.body).toMatchObject({ total: 2, next_cursor: null });
      expect(odd.body.items.map((t: { name: string }) => t.name)).toEqual(['page_1', 'page_3']);
      // A tag containing LIKE wildcards matches only itself.
      expect((await call('GET', '/tools?tags=%25')).body).toEqual([]);
    });
  });

  describe('resources', () => {
    it('round-trips text and binary resources and hides content in lists', async () => {
      const text = await call('POST', '/resources', { uri: 'docs://guide', name: 'Guide', mime_type: 'text/markdown', content: '# hi' });
      expect(text.status).toBe(201);
      expect(text.body).toMatchObject({ uri: 'docs://guide', content: '# hi', size: 4 });
      const bin = await call('POST', '/resources', { resource: { uri: 'file:///logo.png', name: 'Logo', mime_type: 'image/png', blob: Buffer.from([1, 2, 3]).toString('base64') } });
      expect(bin.status).toBe(201);
      expect(bin.body).toMatchObject({ blob: 'AQID', size: 3 });
      const list = await call('GET', '/resources');
      expect(list.body.map((r: { uri: string }) => r.uri)).toEqual(['docs://guide', 'file:///logo.png']);
      expect(list.body[0].content).toBeUndefined();
      expect((await call('POST', '/resources', { uri: 'docs://guide', name: 'Again', content: 'x' })).status).toBe(409);
      expect((await call('POST', '/resources', { uri: 'no-scheme', name: 'x', content: 'x' })).status).toBe(422);
      expect((await call('POST', '/resources', { uri: 'docs://empty', name: 'x' })).status).toBe(422);
      expect((await call('POST', '/resources', { uri: 'docs://{id}', name: 'T', uri_template: 'docs://{id}' })).status).toBe(201);
      const updated = await call('PUT', `/resources/${text.body.id}`, { content: 'changed' });
      expect(updated.body).toMatchObject({ content: 'changed', size: 7, name: 'Guide' });
      expect((await call('DELETE', `/resources/${text.body.id}`)).status).toBe(200);
      expect((await call('GET', `/resources/${text.body.id}`)).status).toBe(404);
    });
  });

  describe('prompts', () => {
    it('derives arguments from the template and checks declared ones', async () => {
      const p = await call('POST', '/prompts', { name: 'review', template: 'Review {{ language }} code:\n{{code}}' });
      expect(p.status).toBe(201);
      expect(p.body.arguments).toEqual([
        { name: 'language', required: true },
        { name: 'code', required: true },
      ]);
      const explicit = await call('POST', '/prompts', {
        prompt: { name: 'greet', template: 'Hello {{ who }}', arguments: [{ name: 'who', description: 'Name', required: false }] },
      });
      expect(explicit.status).toBe(201);
      expect(explicit.body.arguments).toEqual([{ name: 'who', description: 'Name', required: false }]);
      const undeclared = await call('POST', '/prompts', { name: 'bad', template: '{{ a }} {{ b }}', arguments: [{ name: 'a' }] });
      expect(undeclared.status).toBe(422);
      expect(undeclared.body.message).toContain('b');
      expect((await call('POST', '/prompts', { name: 'review', template: 'x' })).status).toBe(409);
      expect((await call('POST', '/prompts', { name: 'no_template' })).status).toBe(422);
      const renamed = await call('PUT', `/prompts/${p.body.id}`, { template: 'Only {{ code }}' });
      expect(renamed.body.arguments).toEqual([{ name: 'code', required: true }]);
    });
  });

  describe('servers', () => {
    it('associates catalog items, rejects unknown ids, and drops deleted items', async () => {
      const tool = (await call('POST', '/tools', { name: 'srv_tool', url: 'http://x' })).body;
      const res = (await call('POST', '/resources', { uri: 'docs://srv', name: 'S', content: 'x' })).body;
      const prompt = (await call('POST', '/prompts', { name: 'srv_prompt', template: 'x' })).body;
      const created = await call('POST', '/servers', {
        server: { name: 'research', description: 'd', associated_tools: tool.id, associated_resources: [res.id], associated_prompts: [prompt.id] },
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ associated_tools: [tool.id], associated_resources: [res.id], associated_prompts: [prompt.id] });

      const unknown = await call('POST', '/servers', { name: 'other', associated_tools: ['missing-id'] });
      expect(unknown.status).toBe(422);
      expect(unknown.body.details[0]).toMatchObject({ field: 'associated_tools' });
      expect(unknown.body.message).toContain('missing-id');
      expect((await call('POST', '/servers', { name: 'research' })).status).toBe(409);

      expect((await call('DELETE', `/tools/${tool.id}`)).status).toBe(200);
      const after = await call('GET', `/servers/${created.body.id}`);
      expect(after.body.associated_tools).toEqual([]);
      expect(after.body.associated_prompts).toEqual([prompt.id]);

      const cleared = await call('PUT', `/servers/${created.body.id}`, { associated_prompts: [] });
      expect(cleared.body.associated_prompts).toEqual([]);
      expect(cleared.body.associated_resources).toEqual([res.id]);
    });
  });

  it('accepts Basic credentials for the admin API', async () => {
    const res = await api(gw.url, 'GET', '/servers', { auth: basic() });
    expect(res.status).toBe(200);
  });

  it('serves the OpenAPI document with the catalog paths', async () => {
    const res = await call('GET', '/openapi.json');
    expect(res.status).toBe(200);
    for (const path of ['/tools', '/tools/{id}', '/tools/{id}/state', '/servers', '/resources', '/prompts']) {
      expect(Object.keys(res.body.paths)).toContain(path);
    }
    expect(res.body.components.schemas.CreateToolDto.required).toEqual(expect.arrayContaining(['name', 'url']));
  });
});
