import { CatalogAdminController } from '#app/catalog/catalog-admin.controller.js';
import { CreateResourceDto, UpdateResourceDto } from './dto/resource.dto.js';
import { ResourcesService } from './resources.service.js';

/** /resources: stored resources and resource templates. */
export class ResourcesController extends CatalogAdminController({
  path: 'resources',
  item: 'resource',
  service: ResourcesService,
  createDto: CreateResourceDto,
  updateDto: UpdateResourceDto,
}) {}
