import { Module, type DynamicModule } from '@nestjs/common';
import { AuthModule } from './auth/auth.module.js';
import { CacheModule } from './cache/cache.module.js';
import { CatalogModule } from './catalog/catalog.module.js';
import type { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import type { HttpHost } from './runtime/http-host.js';
import { DatabaseModule } from './database/database.module.js';
import { FederationModule } from './federation/federation.module.js';
import { HealthModule } from './health/health.module.js';
import { McpModule } from './mcp/mcp.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { PromptsModule } from './prompts/prompts.module.js';
import { ResourcesModule } from './resources/resources.module.js';
import { ServersModule } from './servers/servers.module.js';
import { ToolsModule } from './tools/tools.module.js';

/** The whole gateway. `main.ts` builds it from the validated config; tests build it the same way. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig, httpHost: HttpHost): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config, httpHost),
        DatabaseModule,
        CacheModule,
        AuthModule,
        CatalogModule,
        HealthModule,
        MetricsModule,
        ToolsModule,
        ResourcesModule,
        PromptsModule,
        ServersModule,
        FederationModule,
        McpModule,
      ],
    };
  }
}
