import { CatalogAdminController } from '#app/catalog/catalog-admin.controller.js';
import { CreateToolDto, UpdateToolDto } from './dto/tool.dto.js';
import { ToolsService } from './tools.service.js';

/** /tools: the REST tool catalog. */
export class ToolsController extends CatalogAdminController({
  path: 'tools',
  item: 'tool',
  service: ToolsService,
  createDto: CreateToolDto,
  updateDto: UpdateToolDto,
}) {}
