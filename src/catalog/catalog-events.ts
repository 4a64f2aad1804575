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
 * before the announcement; if the bus is down, the change is logged and the request still
 * succeeds (snapshots also reconcile on their own).
 */
@Injectable()
export class CatalogEvents {
  private readonly log = new Logger('CatalogEvents');

  constructor(@Inject(MessageBus) private readonly bus: MessageBus) {}

  async emit(change: CatalogChange): Promise<void> {
    try {
      await this.bus.publish(CATALOG_CHANGED, change);
    } catch (error) {
      this.log.warn(`could not announce ${change.kind} ${change.id} ${change.action}: ${(error as Error).message}`);
    }
  }
}
