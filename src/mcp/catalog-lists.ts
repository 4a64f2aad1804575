import type { CatalogScope } from '#app/catalog/catalog-snapshot.js';
import { RawResult, decorateModern } from './mcp-results.js';
import { ErrorCode, McpError } from './mcp-types.js';
import type { Era } from './protocol.js';

export type ListMethod = 'tools/list' | 'resources/list' | 'resources/templates/list' | 'prompts/list';

/** Items per page of an MCP list. */
export const LIST_PAGE_SIZE = 200;

/**
 * Renders one page of a catalog list from the snapshot scope, serialized once and memoised on
 * the scope (which lives as long as its snapshot). Cursors are page offsets, opaque to clients.
 */
export function renderList(scope: CatalogScope, method: ListMethod, cursor: unknown, era: Era): RawResult {
  if (cursor !== undefined && typeof cursor !== 'string') throw new McpError(ErrorCode.InvalidParams, 'cursor must be a string');
  const offset = cursor === undefined ? 0 : decodeCursor(cursor);
  // Keyed by offset, never by the cursor's text: only canonical cursors decode, so a client
  // cannot grow this memo with spellings of the same page.
  const key = `${method}|${era}|${offset}`;
  const cached = scope.rendered.get(key);
  if (cached !== undefined) return new RawResult(cached);

  const [field, items] = itemsOf(scope, method);
  if (offset > items.length) throw new McpError(ErrorCode.InvalidParams, 'invalid cursor');
  const page = items.slice(offset, offset + LIST_PAGE_SIZE);
  const next = offset + LIST_PAGE_SIZE < items.length ? encodeCursor(offset + LIST_PAGE_SIZE) : undefined;
  const result: Record<string, unknown> = { [field]: page, ...(next ? { nextCursor: next } : {}) };
  const json = JSON.stringify(era === 'modern' ? decorateModern(method, result) : result);
  scope.rendered.set(key, json);
  return new RawResult(json);
}

function itemsOf(scope: CatalogScope, method: ListMethod): [string, unknown[]] {
  switch (method) {
    case 'tools/list':
      return ['tools', scope.tools.map((t) => t.listing)];
    case 'resources/list':
      return ['resources', scope.resources.map((r) => r.listing)];
    case 'resources/templates/list':
      return ['resourceTemplates', scope.templates.map((t) => t.listing)];
    case 'prompts/list':
      return ['prompts', scope.prompts.map((p) => p.listing)];
  }
}

const encodeCursor = (offset: number): string => Buffer.from(`o:${offset}`).toString('base64url');

function decodeCursor(cursor: string): number {
  const match = /^o:(\d{1,9})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  const offset = match ? Number(match[1]) : NaN;
  if (!Number.isInteger(offset) || offset < 0 || encodeCursor(offset) !== cursor) throw new McpError(ErrorCode.InvalidParams, 'invalid cursor');
  return offset;
}
