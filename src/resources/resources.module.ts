import { Module } from '@nestjs/common';
import { ResourceRepository } from './resource.repository.js';
import { ResourcesController } from './resources.controller.js';
import { ResourcesService } from './resources.service.js';

/** Owns the resource catalog: the `resources` table and the /resources admin API. */
@Module({
  controllers: [ResourcesController],
  providers: [ResourceRepository, ResourcesService],
  exports: [ResourceRepository, ResourcesService],
})
export class ResourcesModule {}
