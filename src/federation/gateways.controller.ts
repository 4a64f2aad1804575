import { HttpCode, Inject, Param, Post } from '@nestjs/common';
import { ApiOperation } from '@nestjs/swagger';
import { CatalogAdminController } from '#app/catalog/catalog-admin.controller.js';
import { CreateGatewayDto, UpdateGatewayDto, type GatewayResponse } from './dto/gateway.dto.js';
import { GatewaysService } from './gateways.service.js';

/**
 * `/gateways`: the seed's CRUD and state endpoints (see CatalogAdminController), plus
 * `POST /gateways/{id}/tools/refresh` to discover the upstream's catalog again now.
 */
export class GatewaysController extends CatalogAdminController<GatewayResponse>({
  path: 'gateways',
  item: 'gateway',
  service: GatewaysService,
  createDto: CreateGatewayDto,
  updateDto: UpdateGatewayDto,
}) {
  constructor(@Inject(GatewaysService) private readonly gateways: GatewaysService) {
    super(gateways);
  }

  @Post(':id/tools/refresh')
  @HttpCode(200)
  @ApiOperation({ summary: "Discover the upstream's tools, resources and prompts again" })
  async refresh(@Param('id') id: string) {
    const result = await this.gateways.refresh(id);
    return { status: 'success', message: `Gateway ${id} refreshed`, ...result };
  }
}
