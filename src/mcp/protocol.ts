/**
 * Protocol versions and the `_meta` keys of the 2026-07-28 revision (MCP-PROTOCOL.md §1–§2).
 */
export const MODERN_VERSIONS = ['2026-07-28'] as const;
/** Newest first: `initialize` answers with the client's version when we know it, else the first. */
export const LEGACY_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'] as const;
export const LATEST_LEGACY_VERSION = LEGACY_VERSIONS[0];
/** The only version that allows JSON-RPC batches. */
export const BATCH_VERSION = '2025-03-26';

export const META = {
  protocolVersion: 'io.modelcontextprotocol/protocolVersion',
  clientCapabilities: 'io.modelcontextprotocol/clientCapabilities',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  logLevel: 'io.modelcontextprotocol/logLevel',
  serverInfo: 'io.modelcontextprotocol/serverInfo',
  subscriptionId: 'io.modelcontextprotocol/subscriptionId',
} as const;

export type Era = 'legacy' | 'modern';

export const isModernVersion = (v: unknown): boolean => typeof v === 'string' && (MODERN_VERSIONS as readonly string[]).includes(v);
export const isLegacyVersion = (v: unknown): boolean => typeof v === 'string' && (LEGACY_VERSIONS as readonly string[]).includes(v);

/** The version `initialize` answers: the client's if we speak it, else our newest legacy one. */
export function negotiateLegacyVersion(requested: unknown): string {
  return isLegacyVersion(requested) ? (requested as string) : LATEST_LEGACY_VERSION;
}

export const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'] as const;
export type McpLogLevel = (typeof LOG_LEVELS)[number];

export const SERVER_INFO = { name: 'mcp-gateway', version: '0.1.0' } as const;

/** What this gateway offers every client, in both eras. */
export const SERVER_CAPABILITIES = {
  tools: { listChanged: true },
  resources: { subscribe: true, listChanged: true },
  prompts: { listChanged: true },
  logging: {},
  completions: {},
} as const;

/** Methods whose modern results carry `ttlMs` and `cacheScope`. */
export const CACHEABLE_METHODS = new Set(['server/discover', 'tools/list', 'prompts/list', 'resources/list', 'resources/templates/list', 'resources/read']);
