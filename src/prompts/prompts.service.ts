import { Inject, Injectable } from '@nestjs/common';
import { CatalogEvents } from '#app/catalog/catalog-events.js';
import { CatalogItemService } from '#app/catalog/catalog-item.service.js';
import { newId } from '#app/common/ids.js';
import { unprocessable } from '#app/common/validation.js';
import type { CreatePromptDto, PromptFieldsDto, PromptResponse, UpdatePromptDto } from './dto/prompt.dto.js';
import { PromptEntity } from './prompt.entity.js';
import { PromptRepository } from './prompt.repository.js';
import { placeholdersOf } from './prompt-template.js';

/** Admin use cases for prompts: create, list, read, update, delete, (de)activate. */
@Injectable()
export class PromptsService extends CatalogItemService<PromptEntity, PromptResponse> {
  constructor(@Inject(PromptRepository) prompts: PromptRepository, @Inject(CatalogEvents) events: CatalogEvents) {
    super('prompt', prompts, events, (p) => `named ${JSON.stringify(p.name)}`);
  }

  async create(dto: CreatePromptDto): Promise<PromptResponse> {
    const prompt = new PromptEntity();
    Object.assign(prompt, { id: newId(), name: dto.name, template: dto.template, description: null, tags: [], isActive: true, gatewayId: null, originalName: null });
    this.apply(prompt, dto, true);
    return this.commit(prompt, 'created');
  }

  async update(id: string, dto: UpdatePromptDto): Promise<PromptResponse> {
    const prompt = await this.find(id);
    if (dto.name !== undefined) prompt.name = dto.name;
    if (dto.template !== undefined) prompt.template = dto.template;
    this.apply(prompt, dto, dto.template !== undefined && dto.arguments === undefined);
    return this.commit(prompt, 'updated');
  }

  override toResponse(prompt: PromptEntity): PromptResponse {
    return {
      id: prompt.id,
      name: prompt.name,
      original_name: prompt.originalName,
      description: prompt.description,
      template: prompt.template,
      arguments: prompt.arguments.map((a) => ({ ...a, required: a.required ?? false })),
      tags: prompt.tags,
      gateway_id: prompt.gatewayId,
      is_active: prompt.isActive,
      enabled: prompt.isActive,
      created_at: prompt.createdAt.toISOString(),
      updated_at: prompt.updatedAt.toISOString(),
    };
  }

  /**
   * Arguments, when given, must be unique and cover every placeholder; when omitted on create
   * (or when only the template changes), they are derived from the placeholders, all required.
   */
  private apply(prompt: PromptEntity, dto: PromptFieldsDto, deriveArguments: boolean): void {
    if (dto.description !== undefined) prompt.description = dto.description;
    if (dto.tags !== undefined) prompt.tags = [...new Set(dto.tags)];
    if (dto.arguments !== undefined) {
      const names = dto.arguments.map((a) => a.name);
      const duplicate = names.find((n, i) => names.indexOf(n) !== i);
      if (duplicate) throw unprocessable([{ field: 'arguments', message: `argument ${JSON.stringify(duplicate)} is listed twice` }]);
      prompt.arguments = dto.arguments.map((a) => ({
        name: a.name,
        ...(a.description !== undefined ? { description: a.description } : {}),
        required: a.required ?? false,
      }));
    } else if (deriveArguments) {
      prompt.arguments = placeholdersOf(prompt.template).map((name) => ({ name, required: true }));
    }
    const declared = new Set(prompt.arguments.map((a) => a.name));
    const undeclared = placeholdersOf(prompt.template).filter((p) => !declared.has(p));
    if (undeclared.length > 0) {
      throw unprocessable([{ field: 'arguments', message: `the template uses undeclared argument(s): ${undeclared.join(', ')}` }]);
    }
  }

}
