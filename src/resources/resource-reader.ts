import { Inject, Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import type { ResourceEntry } from '#app/catalog/catalog-snapshot.js';
import type { AppConfig } from '#app/config/app-config.js';
import { APP_CONFIG } from '#app/config/config.module.js';
import type { ReadResourceResult } from '#app/mcp/mcp-types.js';
import { ResourceRepository } from './resource.repository.js';

type Contents = ReadResourceResult['contents'];

/**
 * Reads stored resource content for `resources/read`, through a per-worker LRU cache of
 * RESOURCE_CACHE_SIZE entries that live RESOURCE_CACHE_TTL seconds. Entries are keyed by the
 * resource's revision, so an update is never served stale.
 */
@Injectable()
export class ResourceReader {
  private readonly cache: LRUCache<string, Contents> | null;

  constructor(
    @Inject(ResourceRepository) private readonly resources: ResourceRepository,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    const { cacheSize, cacheTtlSeconds } = config.resources;
    this.cache = cacheSize > 0 ? new LRUCache({ max: cacheSize, ...(cacheTtlSeconds > 0 ? { ttl: cacheTtlSeconds * 1000 } : {}) }) : null;
  }

  /** The contents of a stored resource, or null if it vanished since the snapshot was taken. */
  async read(entry: ResourceEntry): Promise<Contents | null> {
    const hit = this.cache?.get(entry.revision);
    if (hit) return hit;
    const row = await this.resources.findById(entry.id);
    if (!row || !row.isActive) return null;
    const mimeType = row.mimeType ?? undefined;
    const contents: Contents =
      row.contentBlob !== null
        ? [{ uri: row.uri, ...(mimeType ? { mimeType } : {}), blob: row.contentBlob }]
        : [{ uri: row.uri, ...(mimeType ? { mimeType } : {}), text: row.contentText ?? '' }];
    this.cache?.set(entry.revision, contents);
    return contents;
  }
}
