import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CatalogRepository } from '#app/database/catalog.repository.js';
import { PromptEntity } from './prompt.entity.js';

/** The only code that reads or writes the `prompts` table. */
@Injectable()
export class PromptRepository extends CatalogRepository<PromptEntity> {
  constructor(@Inject(DataSource) dataSource: DataSource) {
    super(dataSource, PromptEntity, 'name');
  }
}
