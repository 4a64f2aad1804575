import { DataSource, In, type EntityTarget, type FindOptionsRelations, type FindOptionsWhere, type Repository } from 'typeorm';
import type { ListQueryDto, Page } from '#app/common/list-query.dto.js';
import { findPage } from './paginate.js';

/** The columns every catalog table has. */
export interface CatalogRow {
  id: string;
  isActive: boolean;
}

/**
 * Table access shared by the catalog kinds (tools, resources, prompts, servers): page, find,
 * save, delete. Each module's repository extends it for one entity and adds its own queries.
 */
export abstract class CatalogRepository<T extends CatalogRow> {
  protected readonly repo: Repository<T>;

  protected constructor(
    dataSource: DataSource,
    entity: EntityTarget<T>,
    /** Unique column that orders and pages lists (name, uri). */
    private readonly key: keyof T & string,
    private readonly relations: string[] = [],
  ) {
    this.repo = dataSource.getRepository(entity);
  }

  findPage(query: ListQueryDto): Promise<Page<T>> {
    return findPage(this.repo, query, { key: this.key, relations: this.relations });
  }

  /** Every active row, without relations: what the MCP catalog snapshot is built from. */
  findAllActive(): Promise<T[]> {
    return this.repo.find({ where: { isActive: true } as FindOptionsWhere<T> });
  }

  findById(id: string): Promise<T | null> {
    return this.repo.findOne({ where: { id } as FindOptionsWhere<T>, relations: Object.fromEntries(this.relations.map((r) => [r, true])) as FindOptionsRelations<T> });
  }

  /** The value of the row's unique key (its name, or its uri). */
  keyOf(row: T): string {
    return String(row[this.key]);
  }

  /** The row whose unique key (name, uri) equals `value`. */
  findByKey(value: string): Promise<T | null> {
    return this.repo.findOneBy({ [this.key]: value } as FindOptionsWhere<T>);
  }

  findByIds(ids: string[]): Promise<T[]> {
    return ids.length === 0 ? Promise.resolve([]) : this.repo.findBy({ id: In(ids) } as FindOptionsWhere<T>);
  }

  save(row: T): Promise<T> {
    return this.repo.save(row);
  }

  async delete(id: string): Promise<boolean> {
    return ((await this.repo.delete({ id } as FindOptionsWhere<T>)).affected ?? 0) > 0;
  }
}
