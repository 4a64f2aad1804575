import { Inject, Injectable } from '@nestjs/common';
import { DataSource, In, type Repository } from 'typeorm';
import type { ListQueryDto, Page } from '#app/common/list-query.dto.js';
import { findPage } from '#app/database/paginate.js';
import { ToolEntity } from './tool.entity.js';

/** The only code that reads or writes the `tools` table. */
@Injectable()
export class ToolRepository {
  private readonly repo: Repository<ToolEntity>;

  constructor(@Inject(DataSource) dataSource: DataSource) {
    this.repo = dataSource.getRepository(ToolEntity);
  }

  findPage(query: ListQueryDto): Promise<Page<ToolEntity>> {
    return findPage(this.repo, query, { key: 'name' });
  }

  findById(id: string): Promise<ToolEntity | null> {
    return this.repo.findOneBy({ id });
  }

  findByName(name: string): Promise<ToolEntity | null> {
    return this.repo.findOneBy({ name });
  }

  findByIds(ids: string[]): Promise<ToolEntity[]> {
    return ids.length === 0 ? Promise.resolve([]) : this.repo.findBy({ id: In(ids) });
  }

  save(tool: ToolEntity): Promise<ToolEntity> {
    return this.repo.save(tool);
  }

  async delete(id: string): Promise<boolean> {
    return ((await this.repo.delete({ id })).affected ?? 0) > 0;
  }
}
