import type { Prompt, Resource, ResourceTemplateType, Tool } from '@modelcontextprotocol/client';
import { newId } from '#app/common/ids.js';
import { PromptEntity } from '#app/prompts/prompt.entity.js';
import { ResourceEntity } from '#app/resources/resource.entity.js';
import { ToolEntity } from '#app/tools/tool.entity.js';
import type { GatewayEntity } from './gateway.entity.js';
import type { GatewayItems } from './gateway.repository.js';
import type { UpstreamSession } from './upstream-session.js';

/** What an upstream offers, as discovery read it over one session. */
export interface UpstreamOffer {
  protocolVersion: string | null;
  serverInfo: Record<string, unknown> | null;
  capabilities: Record<string, unknown>;
  tools: Tool[];
  resources: Resource[];
  templates: ResourceTemplateType[];
  prompts: Prompt[];
}

/** Reads everything an upstream offers (every page of every list its capabilities announce). */
export async function discoverUpstream(session: UpstreamSession, timeoutMs: number): Promise<UpstreamOffer> {
  const client = await session.get();
  const caps = (client.getServerCapabilities() ?? {}) as Record<string, unknown>;
  const options = { timeout: timeoutMs, cacheMode: 'bypass' as const };
  const [tools, resources, templates, prompts] = await Promise.all([
    caps.tools ? client.listTools(undefined, options).then((r) => r.tools) : [],
    caps.resources ? client.listResources(undefined, options).then((r) => r.resources) : [],
    caps.resources ? client.listResourceTemplates(undefined, options).then((r) => r.resourceTemplates) : [],
    caps.prompts ? client.listPrompts(undefined, options).then((r) => r.prompts) : [],
  ]);
  return {
    protocolVersion: client.getNegotiatedProtocolVersion() ?? null,
    serverInfo: (client.getServerVersion() as Record<string, unknown> | undefined) ?? null,
    capabilities: caps,
    tools,
    resources,
    templates,
    prompts,
  };
}

/** The prefix in effect: the one set, or one derived from the gateway's name. */
export function effectivePrefix(gateway: Pick<GatewayEntity, 'name' | 'prefix'>): string {
  if (gateway.prefix !== null) return gateway.prefix;
  const slug = gateway.name
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, '_')
    .replace(/^[._-]+/, '')
    .slice(0, 64);
  return slug || 'gateway';
}

/**
 * Turns an offer into catalog rows of the gateway: tools and prompts named `<prefix><sep><name>`
 * (the upstream's name kept for the call), resources under their own URIs. Rows that already
 * exist for the same upstream item keep their id, so virtual-server associations survive.
 */
export function itemsFromOffer(gateway: GatewayEntity, offer: UpstreamOffer, separator: string, existing: GatewayItems): GatewayItems {
  const prefix = effectivePrefix(gateway);
  const nameOf = (original: string) => (prefix === '' ? original : `${prefix}${separator}${original}`);
  const toolIds = new Map(existing.tools.map((t) => [t.originalName ?? t.name, t]));
  const promptIds = new Map(existing.prompts.map((p) => [p.originalName ?? p.name, p]));
  const resourceIds = new Map(existing.resources.map((r) => [r.uri, r]));

  const tools = dedupe(offer.tools, (t) => t.name).map((t) => {
    const row = toolIds.get(t.name) ?? Object.assign(new ToolEntity(), { id: newId(), tags: [], isActive: true });
    return Object.assign(row, {
      name: nameOf(t.name),
      originalName: t.name,
      url: gateway.url,
      description: t.description ?? t.title ?? null,
      integrationType: 'MCP' as const,
      requestType: 'POST' as const,
      headers: null,
      inputSchema: (t.inputSchema as Record<string, unknown>) ?? { type: 'object' },
      outputSchema: (t.outputSchema as Record<string, unknown> | undefined) ?? null,
      annotations: (t.annotations as Record<string, unknown> | undefined) ?? null,
      authType: null,
      authValue: null,
      timeoutMs: row.timeoutMs ?? null,
      gatewayId: gateway.id,
    });
  });

  const resource = (uri: string, fields: Partial<ResourceEntity>) => {
    const row = resourceIds.get(uri) ?? Object.assign(new ResourceEntity(), { id: newId(), tags: [], isActive: true });
    return Object.assign(row, { uri, contentText: null, contentBlob: null, gatewayId: gateway.id, ...fields });
  };
  const resources = [
    ...dedupe(offer.resources, (r) => r.uri).map((r) =>
      resource(r.uri, { name: r.name, description: r.description ?? null, mimeType: r.mimeType ?? null, uriTemplate: null, size: r.size ?? null }),
    ),
    ...dedupe(offer.templates, (t) => t.uriTemplate).map((t) =>
      resource(t.uriTemplate, { name: t.name, description: t.description ?? null, mimeType: t.mimeType ?? null, uriTemplate: t.uriTemplate, size: null }),
    ),
  ];
  const prompts = dedupe(offer.prompts, (p) => p.name).map((p) => {
    const row = promptIds.get(p.name) ?? Object.assign(new PromptEntity(), { id: newId(), tags: [], isActive: true });
    return Object.assign(row, {
      name: nameOf(p.name),
      originalName: p.name,
      description: p.description ?? p.title ?? null,
      template: '',
      arguments: (p.arguments ?? []).map((a) => ({ name: a.name, ...(a.description ? { description: a.description } : {}), required: a.required ?? false })),
      gatewayId: gateway.id,
    });
  });
  return { tools, resources, prompts };
}

function dedupe<T>(items: T[], key: (item: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((item) => !seen.has(key(item)) && (seen.add(key(item)), true));
}
