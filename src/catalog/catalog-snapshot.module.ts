import { Module } from '@nestjs/common';
import { PromptsModule } from '#app/prompts/prompts.module.js';
import { ResourcesModule } from '#app/resources/resources.module.js';
import { ServersModule } from '#app/servers/servers.module.js';
import { ToolsModule } from '#app/tools/tools.module.js';
import { GatewayStoreModule } from '#app/federation/gateway-store.module.js';
import { CatalogSnapshotService } from './catalog-snapshot.service.js';

/** Owns each worker's in-memory catalog snapshot (see CatalogSnapshotService). */
@Module({
  imports: [ToolsModule, ResourcesModule, PromptsModule, ServersModule, GatewayStoreModule],
  providers: [CatalogSnapshotService],
  exports: [CatalogSnapshotService],
})
export class CatalogSnapshotModule {}
