import type { AuthType } from '#app/auth/dto/auth-values.dto.js';
import type { McpPrompt, McpResource, McpResourceTemplate, McpTool } from '#app/mcp/mcp-types.js';
import type { PromptEntity } from '#app/prompts/prompt.entity.js';
import type { ResourceEntity } from '#app/resources/resource.entity.js';
import type { ServerAssociations } from '#app/servers/server.repository.js';
import type { ServerEntity } from '#app/servers/server.entity.js';
import type { ToolEntity } from '#app/tools/tool.entity.js';

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
}

/**
 * What one client may see: the whole catalog (`/mcp`, `/rpc`) or one virtual server
 * (`/servers/{id}/mcp`). Lists are sorted by name (resources by URI) and computed once.
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
  ) {
    this.toolsByName = new Map(tools.map((t) => [t.name, t]));
    this.resourcesByUri = new Map(resources.map((r) => [r.uri, r]));
    this.promptsByName = new Map(prompts.map((p) => [p.name, p]));
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
    const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    const tools = rows.tools.map(toToolEntry).sort(byName);
    const concrete = rows.resources.filter((r) => !r.uriTemplate);
    const resources = concrete.map(toResourceEntry).sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
    const templates = rows.resources
      .filter((r) => r.uriTemplate)
      .map(toTemplateEntry)
      .sort((a, b) => byName(a.listing, b.listing));
    const prompts = rows.prompts.map(toPromptEntry).sort(byName);
    const all = new CatalogScope(null, tools, resources, templates, prompts);

    const servers = new Map<string, CatalogScope>();
    for (const server of rows.servers) {
      const pick = <T extends { id: string }>(items: readonly T[], ids: string[] | undefined) => {
        const wanted = new Set(ids ?? []);
        return items.filter((i) => wanted.has(i.id));
      };
      servers.set(
        server.id,
        new CatalogScope(
          server.id,
          pick(tools, rows.associations.tools.get(server.id)),
          pick(resources, rows.associations.resources.get(server.id)),
          pick(templates, rows.associations.resources.get(server.id)),
          pick(prompts, rows.associations.prompts.get(server.id)),
        ),
      );
    }
    return new CatalogSnapshot(version, all, servers);
  }
}

export interface CatalogRows {
  tools: ToolEntity[];
  resources: ResourceEntity[];
  prompts: PromptEntity[];
  servers: ServerEntity[];
  associations: ServerAssociations;
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
  };
}
