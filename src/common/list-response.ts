import type { FastifyReply } from 'fastify';
import type { ListQueryDto, Page } from './list-query.dto.js';

/**
 * Lists answer a plain JSON array (what the seed's clients expect), with the next page's cursor
 * in `X-Next-Cursor`; `include_pagination=true` answers `{items, next_cursor, total}` instead.
 */
export function sendPage<T>(reply: FastifyReply, query: ListQueryDto, page: Page<T>): T[] | { items: T[]; next_cursor: string | null; total?: number } {
  if (page.nextCursor) void reply.header('x-next-cursor', page.nextCursor);
  if (query.include_pagination) return { items: page.items, next_cursor: page.nextCursor, total: page.total };
  return page.items;
}
