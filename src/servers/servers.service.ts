import { Inject, Injectable } from '@nestjs/common';
import { CatalogEvents } from '#app/catalog/catalog-events.js';
import { CatalogItemService } from '#app/catalog/catalog-item.service.js';
import { newId } from '#app/common/ids.js';
import { unprocessable } from '#app/common/validation.js';
import { PromptRepository } from '#app/prompts/prompt.repository.js';
import { ResourceRepository } from '#app/resources/resource.repository.js';
import { ToolRepository } from '#app/tools/tool.repository.js';
import type { CreateServerDto, ServerFieldsDto, ServerResponse, UpdateServerDto } from './dto/server.dto.js';
import { ServerEntity } from './server.entity.js';
import { ServerRepository } from './server.repository.js';

/** Admin use cases for virtual servers, including which tools, resources and prompts they serve. */
@Injectable()
export class ServersService extends CatalogItemService<ServerEntity, ServerResponse> {
  constructor(
    @Inject(ServerRepository) servers: ServerRepository,
    @Inject(CatalogEvents) events: CatalogEvents,
    @Inject(ToolRepository) private readonly tools: ToolRepository,
    @Inject(ResourceRepository) private readonly resources: ResourceRepository,
    @Inject(PromptRepository) private readonly prompts: PromptRepository,
  ) {
    super('server', servers, events, (s) => `named ${JSON.stringify(s.name)}`);
  }

  async create(dto: CreateServerDto): Promise<ServerResponse> {
    const server = new ServerEntity();
    Object.assign(server, { id: newId(), name: dto.name, description: null, icon: null, tags: [], isActive: true, tools: [], resources: [], prompts: [] });
    await this.apply(server, dto);
    return this.commit(server, 'created');
  }

  async update(id: string, dto: UpdateServerDto): Promise<ServerResponse> {
    const server = await this.find(id);
    if (dto.name !== undefined) server.name = dto.name;
    await this.apply(server, dto);
    return this.commit(server, 'updated');
  }

  override toResponse(server: ServerEntity): ServerResponse {
    return {
      id: server.id,
      name: server.name,
      description: server.description,
      icon: server.icon,
      tags: server.tags,
      associated_tools: (server.tools ?? []).map((t) => t.id).sort(),
      associated_resources: (server.resources ?? []).map((r) => r.id).sort(),
      associated_prompts: (server.prompts ?? []).map((p) => p.id).sort(),
      is_active: server.isActive,
      enabled: server.isActive,
      created_at: server.createdAt.toISOString(),
      updated_at: server.updatedAt.toISOString(),
    };
  }

  private async apply(server: ServerEntity, dto: ServerFieldsDto): Promise<void> {
    if (dto.description !== undefined) server.description = dto.description;
    if (dto.icon !== undefined) server.icon = dto.icon;
    if (dto.tags !== undefined) server.tags = [...new Set(dto.tags)];
    if (dto.associated_tools !== undefined) server.tools = await this.resolve('associated_tools', 'tool', dto.associated_tools, this.tools);
    if (dto.associated_resources !== undefined) {
      server.resources = await this.resolve('associated_resources', 'resource', dto.associated_resources, this.resources);
    }
    if (dto.associated_prompts !== undefined) {
      server.prompts = await this.resolve('associated_prompts', 'prompt', dto.associated_prompts, this.prompts);
    }
  }

  /** Loads the referenced rows; a 422 names the ids that don't exist. */
  private async resolve<T extends { id: string }>(
    field: string,
    kind: string,
    ids: string[],
    repository: { findByIds(ids: string[]): Promise<T[]> },
  ): Promise<T[]> {
    const unique = [...new Set(ids)];
    const rows = await repository.findByIds(unique);
    const found = new Set(rows.map((r) => r.id));
    const missing = unique.filter((id) => !found.has(id));
    if (missing.length > 0) throw unprocessable([{ field, message: `unknown ${kind} id(s): ${missing.join(', ')}` }]);
    return rows;
  }
}
