import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CatalogRepository } from '#app/database/catalog.repository.js';
import { ToolEntity } from './tool.entity.js';

/** The only code that reads or writes the `tools` table. */
@Injectable()
export class ToolRepository extends CatalogRepository<ToolEntity> {
  constructor(@Inject(DataSource) dataSource: DataSource) {
    super(dataSource, ToolEntity, 'name');
  }
}
