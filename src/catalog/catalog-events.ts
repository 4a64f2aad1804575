import { Inject, Injectable, Logger } from '@nestjs/common';
import { MessageBus } from '#app/cache/message-bus.js';

export type CatalogKind = 'tool' | 'server' | 'resource' | 'prompt' | 'gateway';
export type CatalogAction = 'created' | 'updated' | 'deleted' | 'activated' | 'deactivated';

export interface CatalogChange {
  kind: CatalogKind;
  id: string;
  action: CatalogAction;
}

/** Bus channel on which every catalog write is announced (the prefix is added by the bus). */
export const CATALOG_CHANGED = 'catalog.changed';

/**
 * Announces catalog writes so every worker can refresh its snapshot. The write is committed
 * before the announcement, and the request does not wait for it: while Redis is away a publish
 * can take REDIS_MAX_RETRIES reconnect attempts to fail, and the change is already safe in the
 * database. A lost announcement is logged (snapshots also reconcile on their own).
 */
@Injectable()
export class CatalogEvents {
  private readonly log = new Logger('CatalogEvents');

  constructor(@Inject(MessageBus) private readonly bus: MessageBus) {}

  emit(change: CatalogChange): void {
    this.bus.publish(CATALOG_CHANGED, change).catch((error: Error) => {
      this.log.warn(`could not announce ${change.kind} ${change.id} ${change.action}: ${error.message}`);
    });
  }
}
