import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, Query, Res } from '@nestjs/common';
import { ApiBasicAuth, ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ListQueryDto, StateQueryDto } from '#app/common/list-query.dto.js';
import { sendPage } from '#app/common/list-response.js';
import { CatalogBodyPipe, createValidationPipe } from '#app/common/validation.js';
import { CreateToolDto, UpdateToolDto } from './dto/tool.dto.js';
import { ToolsService } from './tools.service.js';

@ApiTags('tools')
@ApiBearerAuth()
@ApiBasicAuth()
@Controller('tools')
export class ToolsController {
  constructor(@Inject(ToolsService) private readonly tools: ToolsService) {}

  @Post()
  @ApiOperation({ summary: 'Register a REST tool (flat body or {"tool": {...}})' })
  create(@Body(new CatalogBodyPipe('tool')) dto: CreateToolDto) {
    return this.tools.create(dto);
  }

  @Get()
  @ApiOperation({ summary: 'List tools, by name, paginated; filter by tags' })
  async list(@Query(createValidationPipe()) query: ListQueryDto, @Res({ passthrough: true }) reply: FastifyReply) {
    return sendPage(reply, query, await this.tools.list(query));
  }

  @Get(':id')
  get(@Param('id') id: string) {
    return this.tools.get(id);
  }

  @Put(':id')
  @ApiOperation({ summary: 'Update a tool; omitted fields keep their values' })
  update(@Param('id') id: string, @Body(new CatalogBodyPipe('tool')) dto: UpdateToolDto) {
    return this.tools.update(id, dto);
  }

  @Delete(':id')
  async remove(@Param('id') id: string) {
    await this.tools.remove(id);
    return { status: 'success', message: `Tool ${id} deleted` };
  }

  @Post(':id/state')
  @HttpCode(200)
  @ApiOperation({ summary: 'Activate or deactivate a tool' })
  async setState(@Param('id') id: string, @Query(createValidationPipe()) state: StateQueryDto) {
    const tool = await this.tools.setActive(id, state.activate);
    return { status: 'success', message: `Tool ${id} ${state.activate ? 'activated' : 'deactivated'}`, tool };
  }
}
