import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CatalogRepository } from '#app/database/catalog.repository.js';
import { ServerEntity } from './server.entity.js';

/** The only code that reads or writes the `servers` table and its join tables. */
@Injectable()
export class ServerRepository extends CatalogRepository<ServerEntity> {
  constructor(@Inject(DataSource) dataSource: DataSource) {
    super(dataSource, ServerEntity, 'name', ['tools', 'resources', 'prompts']);
  }
}
