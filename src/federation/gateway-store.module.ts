import { Module } from '@nestjs/common';
import { GatewayRepository } from './gateway.repository.js';

/**
 * The gateways table on its own, so the catalog snapshot can read gateway state without
 * depending on the rest of federation (which itself depends on the snapshot).
 */
@Module({ providers: [GatewayRepository], exports: [GatewayRepository] })
export class GatewayStoreModule {}
