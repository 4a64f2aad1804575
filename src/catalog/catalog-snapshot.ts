import type { AuthType } from '#app/auth/dto/auth-values.dto.js';
import type { McpPrompt, McpResource, McpResourceTemplate, McpTool } from '#app/mcp/mcp-types.js';
import type { PromptEntity } from '#app/prompts/prompt.entity.js';
import type { ResourceEntity } from '#app/resources/resource.entity.js';
import type { ServerAssociations } from '#app/servers/server.repository.js';
import type { ServerEntity } from '#app/servers/server.entity.js';
import type { ToolEntity } from '#app/tools/tool.entity.js';
import type { GatewayEntity, GatewayTransport } from '#app/federation/gateway.entity.js';

/** One tool as MCP sees it, plus what invoking it needs. Immutable once in a snapshot. */
export interface ToolEntry {
  readonly id: string;
  readonly name: string;
  /** Changes whenever the row does; keys compiled validators. */
  readonly revision: string;
  readonly listing: McpTool;
  readonly integrationType: ToolEntity['integrationType'];
  readonly requestType: ToolEntity['requestType'];
  readonly url: string | null;
  readonly headers: Record<string, string>;
  readonly timeoutMs: number | null;
  readonly inputSchema: Record<string, unknown>;
  readonly outputSchema: Record<string, unknown> | null;
  readonly auth: { authType: AuthType | null; authValue: string | null };
  readonly gatewayId: string | null;
  readonly originalName: string | null;
}

/** An active federated upstream, as the upstream client pool and the federated calls need it. */
export interface GatewayEntry {
  readonly id: string;
  readonly name: string;
  /** Changes with what the connection depends on (URL, transport, credentials): pooled sessions of an older revision are replaced. */
  readonly revision: string;
  readonly url: string;
  readonly transport: GatewayTransport;
  readonly auth: { authType: AuthType | null; authValue: string | null };
  readonly passthroughHeaders: readonly string[];
  readonly reachable: boolean;
  readonly lastError: string | null;
  /** How the upstream answered discovery (a 2026-07-28 version means a modern upstream). */
  readonly protocolVersion: string | null;
}

export interface ResourceEntry {
  readonly id: string;
  readonly uri: string;
  readonly revision: string;
  readonly listing: McpResource;
  readonly gatewayId: string | null;
}

export interface ResourceTemplateEntry {
  readonly id: string;
  readonly listing: McpResourceTemplate;
  readonly gatewayId: string | null;
}

export interface PromptEntry {
  readonly id: string;
  readonly name: string;
  readonly listing: McpPrompt;
  readonly template: string;
  readonly arguments: PromptEntity['arguments'];
  readonly gatewayId: string | null;
  readonly originalName: string | null;
}

/** Items of an unreachable gateway: out of the lists, but still found, so calls fail clearly. */
export interface OfflineItems {
  readonly tools: readonly ToolEntry[];
  readonly resources: readonly ResourceEntry[];
  readonly prompts: readonly PromptEntry[];
}

const NO_OFFLINE: OfflineItems = { tools: [], resources: [], prompts: [] };

/**
 * What one client may see: the whole catalog (`/mcp`, `/rpc`) or one virtual server
 * (`/servers/{id}/mcp`). Lists are sorted by name (resources by URI) and computed once. The
 * lookups also hold the items of unreachable gateways (see `OfflineItems`).
 */
export class CatalogScope {
  readonly toolsByName: ReadonlyMap<string, ToolEntry>;
  readonly resourcesByUri: ReadonlyMap<string, ResourceEntry>;
  readonly promptsByName: ReadonlyMap<string, PromptEntry>;
  /** Serialized results, memoised per (method, cursor, era) for the life of this snapshot. */
  readonly rendered = new Map<string, string>();

  constructor(
    readonly serverId: string | null,
    readonly tools: readonly ToolEntry[],
    readonly resources: readonly ResourceEntry[],
    readonly templates: readonly ResourceTemplateEntry[],
    readonly prompts: readonly PromptEntry[],
    offline: OfflineItems = NO_OFFLINE,
  ) {
    this.toolsByName = new Map([...tools, ...offline.tools].map((t) => [t.name, t]));
    this.resourcesByUri = new Map([...resources, ...offline.resources].map((r) => [r.uri, r]));
    this.promptsByName = new Map([...prompts, ...offline.prompts].map((p) => [p.name, p]));
  }
}

export type CatalogListKind = 'tools' | 'resources' | 'prompts';

/**
 * An immutable, in-memory view of the active catalog, built from the database and replaced
 * whole when the catalog changes. `tools/list`, tool lookup, `resources/list` and `prompts/list`
 * are served from it without touching the database or Redis.
 */
export class CatalogSnapshot {
  readonly all: CatalogScope;
  private readonly servers: ReadonlyMap<string, CatalogScope>;
  /** A digest per list, to tell which lists a new snapshot changed. */
  readonly fingerprints: Readonly<Record<CatalogListKind, string>>;

  constructor(
    readonly version: number,
    all: CatalogScope,
    servers: Map<string, CatalogScope>,
    /** Active gateways by id (reachable or not). */
    readonly gateways: ReadonlyMap<string, GatewayEntry> = new Map(),
  ) {
    this.all = all;
    this.servers = servers;
    this.fingerprints = {
      tools: JSON.stringify(all.tools.map((t) => t.listing)),
      resources: JSON.stringify([all.resources.map((r) => r.listing), all.templates.map((t) => t.listing)]),
      prompts: JSON.stringify(all.prompts.map((p) => p.listing)),
    };
  }

  /** The scope of a virtual server, or null when there is no active server with that id. */
  server(id: string): CatalogScope | null {
    return this.servers.get(id) ?? null;
  }

  /** Which lists differ from `previous`. */
  changedSince(previous: CatalogSnapshot): CatalogListKind[] {
    return (['tools', 'resources', 'prompts'] as const).filter((k) => this.fingerprints[k] !== previous.fingerprints[k]);
  }

  /** URIs of resources that exist in both snapshots but were edited (for resources/updated). */
  updatedResourcesSince(previous: CatalogSnapshot): string[] {
    const updated: string[] = [];
    for (const [uri, entry] of this.all.resourcesByUri) {
      const before = previous.all.resourcesByUri.get(uri);
      if (before && before.revision !== entry.revision) updated.push(uri);
    }
    return updated;
  }

  static empty(): CatalogSnapshot {
    return new CatalogSnapshot(0, new CatalogScope(null, [], [], [], []), new Map());
  }

  static build(version: number, rows: CatalogRows): CatalogSnapshot {
    const gateways = new Map((rows.gateways ?? []).filter((g) => g.isActive).map((g) => [g.id, toGatewayEntry(g)]));
    // Items of an inactive (or deleted) gateway are gone; those of an unreachable one go offline.
    const state = (item: { gatewayId: string | null }): 'listed' | 'offline' | 'gone' => {
      if (item.gatewayId === null) return 'listed';
      const gateway = gateways.get(item.gatewayId);
      return !gateway ? 'gone' : gateway.reachable ? 'listed' : 'offline';
    };
    const split = <T extends { gatewayId: string | null }>(items: T[]): [T[], T[]] => {
      const listed: T[] = [];
      const offline: T[] = [];
      for (const item of items) {
        const s = state(item);
        if (s === 'listed') listed.push(item);
        else if (s === 'offline') offline.push(item);
      }
      return [listed, offline];
    };
    const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    const byUri = (a: ResourceEntry, b: ResourceEntry) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0);
    const [tools, offlineTools] = split(rows.tools.map(toToolEntry)).map((l) => l.sort(byName)) as [ToolEntry[], ToolEntry[]];
    const [resources, offlineResources] = split(rows.resources.filter((r) => !r.uriTemplate).map(toResourceEntry)).map((l) => l.sort(byUri)) as [ResourceEntry[], ResourceEntry[]];
    const [templates] = split(rows.resources.filter((r) => r.uriTemplate).map(toTemplateEntry));
    templates.sort((a, b) => byName(a.listing, b.listing));
    const [prompts, offlinePrompts] = split(rows.prompts.map(toPromptEntry)).map((l) => l.sort(byName)) as [PromptEntry[], PromptEntry[]];
    const offline = { tools: offlineTools, resources: offlineResources, prompts: offlinePrompts };
    const all = new CatalogScope(null, tools, resources, templates, prompts, offline);

    const servers = new Map<string, CatalogScope>();
    for (const server of rows.servers) {
      const pick = <T extends { id: string }>(items: readonly T[], ids: string[] | undefined) => {
        const wanted = new Set(ids ?? []);
        return items.filter((i) => wanted.has(i.id));
      };
      const toolIds = rows.associations.tools.get(server.id);
      const resourceIds = rows.associations.resources.get(server.id);
      const promptIds = rows.associations.prompts.get(server.id);
      servers.set(
        server.id,
        new CatalogScope(
          server.id,
          pick(tools, toolIds),
          pick(resources, resourceIds),
          pick(templates, resourceIds),
          pick(prompts, promptIds),
          { tools: pick(offlineTools, toolIds), resources: pick(offlineResources, resourceIds), prompts: pick(offlinePrompts, promptIds) },
        ),
      );
    }
    return new CatalogSnapshot(version, all, servers, gateways);
  }
}

export interface CatalogRows {
  tools: ToolEntity[];
  resources: ResourceEntity[];
  prompts: PromptEntity[];
  servers: ServerEntity[];
  associations: ServerAssociations;
  gateways?: GatewayEntity[];
}

const revisionOf = (row: { id: string; version: number }): string => `${row.id}@${row.version}`;

function toToolEntry(tool: ToolEntity): ToolEntry {
  const listing: McpTool = {
    name: tool.name,
    ...(tool.description ? { description: tool.description } : {}),
    inputSchema: tool.inputSchema as McpTool['inputSchema'],
    ...(tool.outputSchema ? { outputSchema: tool.outputSchema as McpTool['outputSchema'] } : {}),
    ...(tool.annotations && Object.keys(tool.annotations).length > 0 ? { annotations: tool.annotations as McpTool['annotations'] } : {}),
  };
  return {
    id: tool.id,
    name: tool.name,
    revision: revisionOf(tool),
    listing,
    integrationType: tool.integrationType,
    requestType: tool.requestType,
    url: tool.url,
    headers: tool.headers ?? {},
    timeoutMs: tool.timeoutMs,
    inputSchema: tool.inputSchema,
    outputSchema: tool.outputSchema,
    auth: { authType: tool.authType, authValue: tool.authValue },
    gatewayId: tool.gatewayId,
    originalName: tool.originalName,
  };
}

export function toGatewayEntry(gateway: GatewayEntity): GatewayEntry {
  return {
    id: gateway.id,
    name: gateway.name,
    // Not the row version: health checks write the row constantly, and must not reset sessions.
    revision: `${gateway.id}|${gateway.transport}|${gateway.url}|${gateway.authType ?? ''}|${gateway.authValue ?? ''}`,
    url: gateway.url,
    transport: gateway.transport,
    auth: { authType: gateway.authType, authValue: gateway.authValue },
    passthroughHeaders: gateway.passthroughHeaders,
    reachable: gateway.reachable,
    lastError: gateway.lastError,
    protocolVersion: gateway.protocolVersion,
  };
}

function toResourceEntry(resource: ResourceEntity): ResourceEntry {
  return {
    id: resource.id,
    uri: resource.uri,
    revision: revisionOf(resource),
    listing: {
      uri: resource.uri,
      name: resource.name,
      ...(resource.description ? { description: resource.description } : {}),
      ...(resource.mimeType ? { mimeType: resource.mimeType } : {}),
      ...(resource.size !== null ? { size: resource.size } : {}),
    },
    gatewayId: resource.gatewayId,
  };
}

function toTemplateEntry(resource: ResourceEntity): ResourceTemplateEntry {
  return {
    id: resource.id,
    listing: {
      uriTemplate: resource.uriTemplate as string,
      name: resource.name,
      ...(resource.description ? { description: resource.description } : {}),
      ...(resource.mimeType ? { mimeType: resource.mimeType } : {}),
    },
    gatewayId: resource.gatewayId,
  };
}

function toPromptEntry(prompt: PromptEntity): PromptEntry {
  return {
    id: prompt.id,
    name: prompt.name,
    listing: {
      name: prompt.name,
      ...(prompt.description ? { description: prompt.description } : {}),
      arguments: prompt.arguments.map((a) => ({
        name: a.name,
        ...(a.description ? { description: a.description } : {}),
        required: a.required ?? false,
      })),
    },
    template: prompt.template,
    arguments: prompt.arguments,
    gatewayId: prompt.gatewayId,
    originalName: prompt.originalName,
  };
}
