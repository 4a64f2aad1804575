import { CatalogAdminController } from '#app/catalog/catalog-admin.controller.js';
import { CreateServerDto, UpdateServerDto } from './dto/server.dto.js';
import { ServersService } from './servers.service.js';

/** /servers: virtual servers, each a named selection of tools, resources and prompts. */
export class ServersController extends CatalogAdminController({
  path: 'servers',
  item: 'server',
  service: ServersService,
  createDto: CreateServerDto,
  updateDto: UpdateServerDto,
}) {}
