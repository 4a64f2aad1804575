import { Module } from '@nestjs/common';
import { PromptsModule } from '#app/prompts/prompts.module.js';
import { ResourcesModule } from '#app/resources/resources.module.js';
import { ToolsModule } from '#app/tools/tools.module.js';
import { ServerRepository } from './server.repository.js';
import { ServersController } from './servers.controller.js';
import { ServersService } from './servers.service.js';

/** Owns virtual servers: the `servers` table, its join tables and the /servers admin API. */
@Module({
  imports: [ToolsModule, ResourcesModule, PromptsModule],
  controllers: [ServersController],
  providers: [ServerRepository, ServersService],
  exports: [ServerRepository, ServersService],
})
export class ServersModule {}
