import { Module } from '@nestjs/common';
import { CatalogSnapshotModule } from '#app/catalog/catalog-snapshot.module.js';
import { FederatedCalls } from './federated-calls.js';
import { GatewayHealthService } from './gateway-health.service.js';
import { GatewayStoreModule } from './gateway-store.module.js';
import { GatewaysController } from './gateways.controller.js';
import { GatewaysService } from './gateways.service.js';
import { InputRounds } from './input-rounds.js';
import { UpstreamClientPool } from './upstream-client.pool.js';
import { UpstreamNotifications } from './upstream-notifications.js';

/**
 * Federation: the gateways (upstream MCP servers) and their admin API, discovery, each worker's
 * pool of upstream sessions, the relay of calls to them (FederatedCalls, InputRounds), and the
 * leader-run health checks.
 */
@Module({
  imports: [GatewayStoreModule, CatalogSnapshotModule],
  controllers: [GatewaysController],
  providers: [UpstreamClientPool, GatewaysService, FederatedCalls, InputRounds, UpstreamNotifications, GatewayHealthService],
  exports: [FederatedCalls],
})
export class FederationModule {}
