import { describe, expect, it } from '@jest/globals';
import { GatewayEntity } from './gateway.entity.js';
import { effectivePrefix, itemsFromOffer, type UpstreamOffer } from './gateway-discovery.js';

const gateway = (fields: Partial<GatewayEntity>) => Object.assign(new GatewayEntity(), { id: 'g1', name: 'Weather API', prefix: null, url: 'http://u/mcp', ...fields });
const offer: UpstreamOffer = {
  protocolVersion: '2026-07-28',
  serverInfo: null,
  capabilities: {},
  tools: [{ name: 'forecast', inputSchema: { type: 'object' } }, { name: 'forecast', inputSchema: { type: 'object' } }],
  resources: [{ uri: 'w://today', name: 'today' }],
  templates: [{ uriTemplate: 'w://day/{d}', name: 'day' }],
  prompts: [{ name: 'brief', arguments: [{ name: 'city', required: true }] }],
};

describe('gateway discovery naming', () => {
  it('derives a prefix from the name unless one is set, and "" means the upstream names', () => {
    expect(effectivePrefix(gateway({}))).toBe('weather_api');
    expect(effectivePrefix(gateway({ name: '--x' }))).toBe('x');
    expect(effectivePrefix(gateway({ name: '!!!' }))).toBe('gateway');
    expect(effectivePrefix(gateway({ prefix: 'wx' }))).toBe('wx');
    expect(effectivePrefix(gateway({ prefix: '' }))).toBe('');
  });

  it('names tools and prompts with the prefix, keeps URIs, drops duplicates, and keeps ids of known items', () => {
    const first = itemsFromOffer(gateway({}), offer, '-', { tools: [], resources: [], prompts: [] });
    expect(first.tools.map((t) => [t.name, t.originalName, t.integrationType, t.gatewayId])).toEqual([['weather_api-forecast', 'forecast', 'MCP', 'g1']]);
    expect(first.prompts.map((p) => [p.name, p.originalName])).toEqual([['weather_api-brief', 'brief']]);
    expect(first.resources.map((r) => [r.uri, r.uriTemplate])).toEqual([['w://today', null], ['w://day/{d}', 'w://day/{d}']]);
    const again = itemsFromOffer(gateway({ prefix: '' }), offer, '__', first);
    expect(again.tools[0]!.id).toBe(first.tools[0]!.id);
    expect(again.tools[0]!.name).toBe('forecast');
    expect(again.resources.map((r) => r.id)).toEqual(first.resources.map((r) => r.id));
  });
});
