import { CatalogAdminController } from '#app/catalog/catalog-admin.controller.js';
import { CreatePromptDto, UpdatePromptDto } from './dto/prompt.dto.js';
import { PromptsService } from './prompts.service.js';

/** /prompts: prompt templates. */
export class PromptsController extends CatalogAdminController({
  path: 'prompts',
  item: 'prompt',
  service: PromptsService,
  createDto: CreatePromptDto,
  updateDto: UpdatePromptDto,
}) {}
