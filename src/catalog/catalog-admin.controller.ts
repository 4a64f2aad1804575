import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, Query, Res, type Type } from '@nestjs/common';
import { ApiBasicAuth, ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ListQueryDto, StateQueryDto, type Page } from '#app/common/list-query.dto.js';
import { sendPage } from '#app/common/list-response.js';
import { CatalogBodyPipe, createValidationPipe } from '#app/common/validation.js';

/** What each catalog module's service offers the admin API. */
export interface CatalogAdminService<R> {
  create(dto: object): Promise<R>;
  list(query: ListQueryDto): Promise<Page<R>>;
  get(id: string): Promise<R>;
  update(id: string, dto: object): Promise<R>;
  remove(id: string): Promise<void>;
  setActive(id: string, active: boolean): Promise<R>;
}

export interface CatalogAdminOptions<R> {
  /** URL segment and OpenAPI tag: `tools`, `servers`, `resources`, `prompts`. */
  path: string;
  /** The seed's wrapper key for bodies and state replies: `tool`, `server`, … */
  item: string;
  service: Type<CatalogAdminService<R>>;
  createDto: Type;
  updateDto: Type;
}

/**
 * The admin REST API every catalog kind shares, with seed-compatible paths and replies:
 * POST /{path}, GET /{path}, GET|PUT|DELETE /{path}/{id}, POST /{path}/{id}/state?activate=.
 * Each module declares `class XController extends CatalogAdminController({...}) {}`.
 */
export function CatalogAdminController<R>(options: CatalogAdminOptions<R>): Type {
  const { path, item, createDto, updateDto } = options;
  const label = item.charAt(0).toUpperCase() + item.slice(1);
  const queryPipe = createValidationPipe();

  @ApiTags(path)
  @ApiBearerAuth()
  @ApiBasicAuth()
  @Controller(path)
  class CatalogAdmin {
    constructor(@Inject(options.service) readonly service: CatalogAdminService<R>) {}

    @Post()
    @ApiOperation({ summary: `Create a ${item} (flat body or {"${item}": {...}})` })
    @ApiBody({ type: createDto })
    create(@Body(new CatalogBodyPipe(item, createDto)) dto: object) {
      return this.service.create(dto);
    }

    @Get()
    @ApiOperation({ summary: `List ${path}, paginated; filter by tags; add inactive ones with include_inactive` })
    async list(@Query(queryPipe) query: ListQueryDto, @Res({ passthrough: true }) reply: FastifyReply) {
      return sendPage(reply, query, await this.service.list(query));
    }

    @Get(':id')
    @ApiOperation({ summary: `Read one ${item}` })
    get(@Param('id') id: string) {
      return this.service.get(id);
    }

    @Put(':id')
    @ApiOperation({ summary: `Update a ${item}; omitted fields keep their values` })
    @ApiBody({ type: updateDto })
    update(@Param('id') id: string, @Body(new CatalogBodyPipe(item, updateDto)) dto: object) {
      return this.service.update(id, dto);
    }

    @Delete(':id')
    @ApiOperation({ summary: `Delete a ${item}` })
    async remove(@Param('id') id: string) {
      await this.service.remove(id);
      return { status: 'success', message: `${label} ${id} deleted` };
    }

    @Post(':id/state')
    @HttpCode(200)
    @ApiOperation({ summary: `Activate or deactivate a ${item}` })
    async setState(@Param('id') id: string, @Query(queryPipe) state: StateQueryDto) {
      const updated = await this.service.setActive(id, state.activate);
      return { status: 'success', message: `${label} ${id} ${state.activate ? 'activated' : 'deactivated'}`, [item]: updated };
    }
  }
  return CatalogAdmin;
}
