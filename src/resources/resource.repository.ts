import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type FindOptionsSelect } from 'typeorm';
import { CatalogRepository } from '#app/database/catalog.repository.js';
import { ResourceEntity } from './resource.entity.js';

/** Columns that describe a resource, without its (possibly large) content. */
const DESCRIPTION_COLUMNS: FindOptionsSelect<ResourceEntity> = {
  id: true, uri: true, name: true, description: true, mimeType: true, uriTemplate: true,
  size: true, tags: true, isActive: true, gatewayId: true, createdAt: true, updatedAt: true, version: true,
};

/** The only code that reads or writes the `resources` table. */
@Injectable()
export class ResourceRepository extends CatalogRepository<ResourceEntity> {
  constructor(@Inject(DataSource) dataSource: DataSource) {
    super(dataSource, ResourceEntity, 'uri');
  }

  /** Active resources without their content: the snapshot lists them; reads load content on demand. */
  override findAllActive(): Promise<ResourceEntity[]> {
    return this.repo.find({ where: { isActive: true }, select: DESCRIPTION_COLUMNS });
  }
}
