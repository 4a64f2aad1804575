import { Module } from '@nestjs/common';
import { ToolRepository } from './tool.repository.js';
import { ToolsController } from './tools.controller.js';
import { ToolsService } from './tools.service.js';

/** Owns the tool catalog: the `tools` table and the /tools admin API. */
@Module({
  controllers: [ToolsController],
  providers: [ToolRepository, ToolsService],
  exports: [ToolRepository, ToolsService],
})
export class ToolsModule {}
