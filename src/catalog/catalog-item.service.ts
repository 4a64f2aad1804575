import { conflict, notFound } from '#app/common/http-errors.js';
import type { ListQueryDto, Page } from '#app/common/list-query.dto.js';
import { isUniqueViolation } from '#app/database/database-errors.js';
import type { CatalogRepository, CatalogRow } from '#app/database/catalog.repository.js';
import type { CatalogAction, CatalogEvents, CatalogKind } from './catalog-events.js';

/**
 * The use cases every catalog kind shares: read, list, delete, (de)activate, and committing a
 * create or update with a clear 409 on a duplicate key. Each write is announced on the bus after
 * it commits. Subclasses build the row for create and update, which differ per kind.
 */
export abstract class CatalogItemService<T extends CatalogRow, R> {
  protected constructor(
    protected readonly kind: CatalogKind,
    protected readonly repository: CatalogRepository<T>,
    protected readonly events: CatalogEvents,
    /** Describes the unique key for the 409 message, e.g. (t) => `named "x"`. */
    private readonly describeKey: (row: T) => string,
  ) {}

  abstract toResponse(row: T): R;

  async list(query: ListQueryDto): Promise<Page<R>> {
    const page = await this.repository.findPage(query);
    return { ...page, items: page.items.map((row) => this.toListItem(row)) };
  }

  async get(id: string): Promise<R> {
    return this.toResponse(await this.find(id));
  }

  async remove(id: string): Promise<void> {
    if (!(await this.repository.delete(id))) throw notFound(this.kind, id);
    this.announce(id, 'deleted');
  }

  async setActive(id: string, active: boolean): Promise<R> {
    const row = await this.find(id);
    row.isActive = active;
    const saved = await this.repository.save(row);
    this.announce(id, active ? 'activated' : 'deactivated');
    return this.toResponse(saved);
  }

  /** How a row appears in lists; the full response unless a kind trims it. */
  protected toListItem(row: T): R {
    return this.toResponse(row);
  }

  protected async find(id: string): Promise<T> {
    const row = await this.repository.findById(id);
    if (!row) throw notFound(this.kind, id);
    return row;
  }

  /** Saves a created or updated row (409 on a duplicate key), announces it, returns the response. */
  protected async commit(row: T, action: 'created' | 'updated'): Promise<R> {
    const saved = await this.persist(row);
    this.announce(saved.id, action);
    return this.toResponse(saved);
  }

  private async persist(row: T): Promise<T> {
    const existing = await this.repository.findByKey(this.repository.keyOf(row));
    const duplicate = () => conflict(`a ${this.kind} ${this.describeKey(row)} already exists`);
    if (existing && existing.id !== row.id) throw duplicate();
    try {
      return await this.repository.save(row);
    } catch (error) {
      if (isUniqueViolation(error)) throw duplicate();
      throw error;
    }
  }

  private announce(id: string, action: CatalogAction): void {
    this.events.emit({ kind: this.kind, id, action });
  }
}
