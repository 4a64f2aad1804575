import { Module } from '@nestjs/common';
import { PromptRepository } from './prompt.repository.js';
import { PromptsController } from './prompts.controller.js';
import { PromptsService } from './prompts.service.js';

/** Owns the prompt catalog: the `prompts` table and the /prompts admin API. */
@Module({
  controllers: [PromptsController],
  providers: [PromptRepository, PromptsService],
  exports: [PromptRepository, PromptsService],
})
export class PromptsModule {}
