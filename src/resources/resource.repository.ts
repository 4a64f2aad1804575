import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CatalogRepository } from '#app/database/catalog.repository.js';
import { ResourceEntity } from './resource.entity.js';

/** The only code that reads or writes the `resources` table. */
@Injectable()
export class ResourceRepository extends CatalogRepository<ResourceEntity> {
  constructor(@Inject(DataSource) dataSource: DataSource) {
    super(dataSource, ResourceEntity, 'uri');
  }
}
