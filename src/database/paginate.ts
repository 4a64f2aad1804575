import type { ObjectLiteral, Repository } from 'typeorm';
import { DEFAULT_PAGE_SIZE, type ListQueryDto, type Page } from '#app/common/list-query.dto.js';
import { unprocessable } from '#app/common/validation.js';

interface PageOptions {
  /** Entity property of a unique, non-null string column to order and page by (name, uri). */
  key: string;
  relations?: string[];
}

const encodeCursor = (value: string): string => Buffer.from(JSON.stringify([value])).toString('base64url');
function decodeCursor(cursor: string): string {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && typeof parsed[0] === 'string') return parsed[0];
  } catch {
    // fall through
  }
  throw unprocessable([{ field: 'cursor', message: 'cursor is not one this server issued' }]);
}

/** `LIKE` pattern that finds `"tag"` inside a JSON array stored as text, with wildcards escaped. */
const tagPattern = (tag: string): string => `%${JSON.stringify(tag).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * Keyset pagination over a unique column, with the tag and active filters every catalog list
 * shares. Works the same on SQLite and PostgreSQL (tags are JSON text on both).
 */
export async function findPage<T extends ObjectLiteral>(
  repository: Repository<T>,
  query: ListQueryDto,
  options: PageOptions,
): Promise<Page<T>> {
  const limit = query.limit ?? DEFAULT_PAGE_SIZE;
  const qb = repository.createQueryBuilder('e');
  if (!query.include_inactive) qb.andWhere('e.isActive = :active', { active: true });
  const tags = (query.tags ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  if (tags.length > 0) {
    const clauses = tags.map((_, i) => `CAST(e.tags AS TEXT) LIKE :tag${i} ESCAPE '\\'`);
    qb.andWhere(`(${clauses.join(' OR ')})`, Object.fromEntries(tags.map((t, i) => [`tag${i}`, tagPattern(t)])));
  }
  const total = query.include_pagination ? await qb.clone().getCount() : undefined;
  if (query.cursor) qb.andWhere(`e.${options.key} > :after`, { after: decodeCursor(query.cursor) });
  for (const relation of options.relations ?? []) qb.leftJoinAndSelect(`e.${relation}`, relation);
  qb.orderBy(`e.${options.key}`, 'ASC');
  // take (not limit) so joined relations don't shorten the page.
  const rows = await qb.take(limit + 1).getMany();
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  const nextCursor = rows.length > limit && last ? encodeCursor(String(last[options.key])) : null;
  return { items, nextCursor, ...(total !== undefined ? { total } : {}) };
}
